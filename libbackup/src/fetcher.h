/* fetcher.h - supplies decoded blobs to a consumer that reads them in a planned order
 * (restore, dump): every pack is fetched once, by parallel workers, a bounded distance
 * ahead of the consumer; each blob is kept until its last planned use. */
#ifndef BK_FETCHER_H
#define BK_FETCHER_H

#include "repo.h"

typedef struct bk_fetcher bk_fetcher;

typedef struct bk_fetch_stats {
    uint64_t packs, bytes_fetched, requests;
} bk_fetch_stats;

int bk_fetcher_new(bk_repo *repo, bk_fetcher **ret) BK_MUST_CHECK;
/* Plan the uses of one file's content, in the order the consumer will get them (holes are
 * skipped).  -ENOENT (with a message) if a blob is not in the index. */
int bk_fetcher_plan(bk_fetcher *f, const bk_content *c, size_t n) BK_MUST_CHECK;
/* Plan a single blob use. */
int bk_fetcher_plan_blob(bk_fetcher *f, const bk_id *id) BK_MUST_CHECK;
/* Start the workers (after planning). */
int bk_fetcher_start(bk_fetcher *f) BK_MUST_CHECK;
/* The next planned use: blocks until the blob is there.  The data stays valid until
 * bk_fetcher_release.  -EBADMSG/-EIO... if the blob could not be fetched (message on the
 * repository handle); the consumer must still call release. */
int bk_fetcher_get(bk_fetcher *f, const bk_id *id, const uint8_t **ret, size_t *ret_len) BK_MUST_CHECK;
void bk_fetcher_release(bk_fetcher *f, const bk_id *id);
/* Skip the uses of content the consumer will not get after all (a file that failed). */
void bk_fetcher_skip(bk_fetcher *f, const bk_content *c, size_t n, size_t from);
void bk_fetcher_stats_get(bk_fetcher *f, bk_fetch_stats *ret);
void bk_fetcher_free(bk_fetcher *f);

#endif
