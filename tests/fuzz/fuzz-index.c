/* fuzz-index.c - index object parsing: bk_index_obj_decode and bk_index_merge_plain on
 * arbitrary bytes; what decodes must round-trip through the encoder. */
#include "index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_index idx;
    bk_index_init(&idx);
    int merged = bk_index_merge_plain(&idx, data, size);
    bk_index_obj o, o2;
    int r = bk_index_obj_decode(data, size, &o);
    if ((r == 0) != (merged == 0))
        __builtin_trap();   /* both parse the same objects */
    if (r == 0) {
        size_t blobs = 0;
        for (size_t i = 0; i < o.npacks; i++)
            for (size_t j = 0; j < o.packs[i].n; j++, blobs++)
                if (!bk_index_lookup(&idx, &o.packs[i].blobs[j].id, &(bk_index_entry){ 0 }))
                    __builtin_trap();
        if (idx.blobs.count > blobs)
            __builtin_trap();
        bk_buf b = BK_BUF_INIT;
        if (bk_index_obj_encode(&o, &b) < 0 || bk_index_obj_decode(b.data, b.len, &o2) < 0)
            __builtin_trap();
        if (o2.npacks != o.npacks || o2.nsupersedes != o.nsupersedes)
            __builtin_trap();
        bk_index_obj_free(&o2);
        bk_buf_free(&b);
    }
    bk_index_obj_free(&o);
    bk_index_free(&idx);
    return 0;
}
