/* fuzz-unseal.c - sealed data under a fixed key (the golden master 00..1f, so the golden
 * pack in the corpus authenticates): bk_unseal of the input as every kind, and the input
 * as a whole pack (bk_pack_parse_header, bk_pack_verify), including short tails. */
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static bk_keys *keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t m[BK_KEY_LEN];
    for (size_t i = 0; i < BK_KEY_LEN; i++)
        m[i] = (uint8_t)i;
    if (bk_crypto_init() < 0 || bk_keys_from_master(m, &keys) < 0)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bk_kind kinds[] = { BK_KIND_DATA, BK_KIND_TREE, BK_KIND_CONFIG, BK_KIND_INDEX,
                                     BK_KIND_SNAPSHOT, BK_KIND_PACK_HEADER };
    uint8_t *dst = malloc(size ? size : 1);
    if (!dst)
        return 0;
    bk_id id;
    memset(&id, 0, sizeof(id));
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        uint8_t enc;
        size_t len;
        if (bk_unseal(keys, kinds[i], NULL, data, size, dst, &enc, &len) == 0 &&
            len + BK_SEAL_OVERHEAD != size)
            __builtin_trap();
        if (bk_kind_is_blob(kinds[i]) && bk_unseal(keys, kinds[i], &id, data, size, dst, &enc, &len) == 0 &&
            len + BK_SEAL_OVERHEAD != size)
            __builtin_trap();
    }
    free(dst);

    bk_pack_entry *e;
    size_t n, need;
    int r = bk_pack_parse_header(keys, data, size, size, &e, &n, &need);
    if (r == 0)
        free(e);
    else if (r == -EAGAIN)
        __builtin_trap();   /* the whole pack is there: never "need more" */
    (void)bk_pack_verify(keys, data, size);
    /* the same bytes as the tail of a larger pack */
    r = bk_pack_parse_header(keys, data, size, (uint64_t)size + 1000, &e, &n, &need);
    if (r == 0)
        free(e);
    else if (r == -EAGAIN && (need <= size || need > (uint64_t)size + 1000))
        __builtin_trap();
    return 0;
}
