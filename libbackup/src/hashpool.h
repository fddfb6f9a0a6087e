/* hashpool.h - the keyed ids of many chunks at once, on several cores: the chunker's
 * thread cuts a buffer's worth of chunks, then it and the pool's threads hash them. */
#ifndef BK_HASHPOOL_H
#define BK_HASHPOOL_H

#include "crypto.h"

typedef struct bk_hashpool bk_hashpool;

typedef struct bk_hash_item {
    const uint8_t *p;
    size_t n;
    bk_id *id;                   /* where its id goes; NULL: not hashed */
} bk_hash_item;

/* threads: helpers besides the caller (0: everything on the caller's thread). */
int bk_hashpool_new(const bk_keys *keys, int threads, bk_hashpool **ret) BK_MUST_CHECK;
/* The ids of v[0..n), with the caller's thread taking part; returns when all are there:
 * 0, or the first error of bk_blob_id.  A NULL pool hashes on the caller's thread. */
int bk_hashpool_run(bk_hashpool *p, const bk_keys *keys, bk_hash_item *v, size_t n) BK_MUST_CHECK;
void bk_hashpool_free(bk_hashpool *p);

#endif
