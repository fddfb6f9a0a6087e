/* compress.h - zstd with reusable contexts (one per thread). */
#ifndef BK_COMPRESS_H
#define BK_COMPRESS_H

#include "macro.h"

typedef struct bk_zctx bk_zctx;

bk_zctx *bk_zctx_new(int level);
void bk_zctx_free(bk_zctx *z);
/* Compress into dst (capacity cap).  Returns the compressed size, or 0 when the data does
 * not shrink (store it raw then). */
size_t bk_compress(bk_zctx *z, void *dst, size_t cap, const void *src, size_t n);
/* Decompress exactly raw_len bytes; -EBADMSG on corrupt or wrong-size data. */
int bk_decompress(bk_zctx *z, void *dst, size_t raw_len, const void *src, size_t n) BK_MUST_CHECK;
/* Decompress a frame of unknown size (bounded by max); allocates *ret. */
int bk_decompress_alloc(bk_zctx *z, const void *src, size_t n, size_t max, uint8_t **ret,
                        size_t *ret_len) BK_MUST_CHECK;
size_t bk_compress_bound(size_t n);

#endif
