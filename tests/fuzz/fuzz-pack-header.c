/* fuzz-pack-header.c - the plaintext of a pack header (what the sealed box holds), which a
 * fuzzer could not reach through the MAC.  Input: le64 body size, then the plaintext. */
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t body = bk_get_le64(data);
    bk_pack_entry *e;
    size_t n;
    if (bk_pack_header_decode(data + 8, size - 8, body, &e, &n) < 0)
        return 0;
    /* accepted: the blobs tile [0, body) in order, each at least a box long */
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].offset != off || e[i].stored_len < BK_SEAL_OVERHEAD || !bk_kind_is_blob(e[i].kind))
            __builtin_trap();
        off += e[i].stored_len;
    }
    if (off != body)
        __builtin_trap();
    free(e);
    return 0;
}
