/* compress.c - zstd wrapper; contexts are reused because creating them costs more than
 * compressing a small blob. */
#include <zstd.h>

#include "compress.h"

struct bk_zctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
    int level;
};

bk_zctx *bk_zctx_new(int level)
{
    bk_zctx *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->level = level;
    z->c = ZSTD_createCCtx();
    z->d = ZSTD_createDCtx();
    if (!z->c || !z->d) {
        bk_zctx_free(z);
        return NULL;
    }
    /* no checksum: the AEAD already authenticates the data */
    ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(z->c, ZSTD_c_contentSizeFlag, 1);
    return z;
}

void bk_zctx_free(bk_zctx *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

size_t bk_compress_bound(size_t n)
{
    return ZSTD_compressBound(n);
}

size_t bk_compress(bk_zctx *z, void *dst, size_t cap, const void *src, size_t n)
{
    if (z->level <= 0 || n < 64)
        return 0;
    size_t r = ZSTD_compress2(z->c, dst, cap, src, n);
    if (ZSTD_isError(r) || r >= n)
        return 0;
    return r;
}

int bk_decompress(bk_zctx *z, void *dst, size_t raw_len, const void *src, size_t n)
{
    size_t r = ZSTD_decompressDCtx(z->d, dst, raw_len, src, n);
    if (ZSTD_isError(r) || r != raw_len)
        return -EBADMSG;
    return 0;
}

int bk_decompress_alloc(bk_zctx *z, const void *src, size_t n, size_t max, uint8_t **ret,
                        size_t *ret_len)
{
    unsigned long long size = ZSTD_getFrameContentSize(src, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max)
        return -EBADMSG;
    uint8_t *p = malloc(size ? (size_t)size : 1);
    if (!p)
        return -ENOMEM;
    int r = bk_decompress(z, p, (size_t)size, src, n);
    if (r < 0) {
        free(p);
        return r;
    }
    *ret = p;
    *ret_len = (size_t)size;
    return 0;
}
