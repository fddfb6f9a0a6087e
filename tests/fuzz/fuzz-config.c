/* fuzz-config.c - bk_config_decode on arbitrary bytes; what it accepts must be valid. */
#include "chunker.h"
#include "repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_config c;
    if (bk_config_decode(data, size, &c) < 0)
        return 0;
    if (bk_chunker_check_params(c.chunk_min, c.chunk_avg, c.chunk_max) < 0 ||
        c.pack_size < BK_PACK_SIZE_MIN || c.pack_size > BK_PACK_SIZE_MAX || c.compression < 0 ||
        strlen(c.id) != 64 || (c.cipher != BK_CIPHER_XCHACHA && c.cipher != BK_CIPHER_AES) ||
        (c.id_hash != BK_ID_HASH_BLAKE2B && c.id_hash != BK_ID_HASH_HMAC_SHA256))
        __builtin_trap();
    return 0;
}
