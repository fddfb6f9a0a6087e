/* chunker.c - FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking level 2:
 * the mask before the average size has two more bits than log2(avg), the one after two
 * fewer, which pulls chunk sizes towards the average.  The gear hash shifts left, so bit k
 * depends on the last k+1 bytes only: the masks use the top bits of the hash, which see a
 * window of 40+ bytes. */
#include <sodium.h>

#include "chunker.h"

int bk_chunker_check_params(size_t min, size_t avg, size_t max)
{
    if (avg < 256 || (avg & (avg - 1)) != 0 || min < 64 || min >= avg || max <= avg ||
        max > BK_CHUNK_SIZE_LIMIT)
        return -EINVAL;
    return 0;
}

static uint64_t top_mask(unsigned bits)
{
    return ~(uint64_t)0 << (64 - bits);
}

int bk_chunker_init(bk_chunker *c, const uint8_t seed[32], size_t min, size_t avg, size_t max)
{
    int r = bk_chunker_check_params(min, avg, max);
    if (r < 0)
        return r;
    unsigned bits = 0;
    while (((size_t)1 << bits) < avg)
        bits++;
    static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 'g', 'e', 'a', 'r' };
    uint8_t stream[256 * 8];
    crypto_stream_chacha20_ietf(stream, sizeof(stream), nonce, seed);
    for (size_t i = 0; i < 256; i++)
        c->gear[i] = bk_get_le64(stream + 8 * i);
    sodium_memzero(stream, sizeof(stream));
    c->mask_s = top_mask(bits + 2);
    c->mask_l = top_mask(bits - 2);
    c->min = min;
    c->avg = avg;
    c->max = max;
    return 0;
}

size_t bk_chunker_cut(const bk_chunker *c, const uint8_t *p, size_t n)
{
    if (n <= c->min)
        return n;
    if (n > c->max)
        n = c->max;
    size_t normal = n < c->avg ? n : c->avg;
    uint64_t fp = 0;
    size_t i = c->min;
    for (; i < normal; i++) {
        fp = (fp << 1) + c->gear[p[i]];
        if (!(fp & c->mask_s))
            return i + 1;
    }
    for (; i < n; i++) {
        fp = (fp << 1) + c->gear[p[i]];
        if (!(fp & c->mask_l))
            return i + 1;
    }
    return n;
}
