/* chunker.h - FastCDC content-defined chunking (normalized chunking, level 2).
 * Pure: no I/O, no allocation; the caller owns the buffer. */
#ifndef BK_CHUNKER_H
#define BK_CHUNKER_H

#include "macro.h"

#define BK_CHUNK_MIN_DEFAULT (512u << 10)
#define BK_CHUNK_AVG_DEFAULT (1u << 20)
#define BK_CHUNK_MAX_DEFAULT (8u << 20)
#define BK_CHUNK_SIZE_LIMIT (64u << 20)   /* largest max a repository may use */

typedef struct bk_chunker {
    uint64_t gear[256];
    uint64_t mask_s, mask_l;   /* stricter before avg, looser after */
    size_t min, avg, max;
} bk_chunker;

/* avg must be a power of two, 64 <= min < avg < max <= BK_CHUNK_SIZE_LIMIT.
 * The gear table is derived from seed (the repository's chunker secret), so cut points do
 * not reveal content to someone who sees only chunk sizes. */
int bk_chunker_init(bk_chunker *c, const uint8_t seed[32], size_t min, size_t avg, size_t max) BK_MUST_CHECK;
/* Validate parameters without building a chunker. */
int bk_chunker_check_params(size_t min, size_t avg, size_t max);
/* Length of the next chunk at p.  n must be >= c->max, or all that is left of the stream.
 * Returns a value in [1, n] (n itself when n <= min). */
size_t bk_chunker_cut(const bk_chunker *c, const uint8_t *p, size_t n);

#endif
