/* fetcher.h - supplies decoded blobs to a consumer that reads them in a planned order
 * (dump), or to several consumers that read them close to that order (the restore's
 * writers, restwrite.c): every pack is read once, in segments of a few MiB, by parallel
 * workers, a bounded distance ahead of what has been consumed; each blob is kept until its
 * last planned use. */
#ifndef BK_FETCHER_H
#define BK_FETCHER_H

#include "repo.h"

typedef struct bk_fetcher bk_fetcher;

typedef struct bk_fetch_stats {
    uint64_t packs, bytes_fetched, requests;
    uint64_t bytes_planned;      /* stored bytes of the distinct blobs planned */
    uint64_t held, held_max;     /* decoded bytes held (read or being read, not freed): now,
                                  * and the most at once */
} bk_fetch_stats;

/* In a local[] array: this chunk is not available locally (fetch it). */
#define BK_LOCAL_NONE UINT64_MAX

int bk_fetcher_new(bk_repo *repo, bk_fetcher **ret) BK_MUST_CHECK;
/* The window (decoded bytes beyond the consumer's frontier) and the most bytes one read
 * fetches and decodes (fetcher.c's header); before bk_fetcher_start.  For tests. */
void bk_fetcher_set_limits(bk_fetcher *f, uint64_t window, uint64_t seg_stored, uint64_t seg_raw);
/* Plan the uses of one file's content, in the order the consumer will get them (holes are
 * skipped, and so are chunks with local[i] != BK_LOCAL_NONE when local is not NULL: the
 * consumer takes those from elsewhere).  -ENOENT (with a message) if a blob is not in the
 * index. */
int bk_fetcher_plan(bk_fetcher *f, const bk_content *c, size_t n, const uint64_t *local) BK_MUST_CHECK;
/* Plan a single blob use. */
int bk_fetcher_plan_blob(bk_fetcher *f, const bk_id *id) BK_MUST_CHECK;
/* Start the workers (after planning). */
int bk_fetcher_start(bk_fetcher *f) BK_MUST_CHECK;
/* The next planned use: blocks until the blob is there.  The data stays valid until
 * bk_fetcher_release.  -EBADMSG/-EIO... if the blob could not be fetched (message on the
 * repository handle); the consumer must still call release. */
int bk_fetcher_get(bk_fetcher *f, const bk_id *id, const uint8_t **ret, size_t *ret_len) BK_MUST_CHECK;
void bk_fetcher_release(bk_fetcher *f, const bk_id *id);
/* Skip the uses of content from index from on that the consumer will not get after all (a
 * file that failed); local as given to bk_fetcher_plan. */
void bk_fetcher_skip(bk_fetcher *f, const bk_content *c, size_t n, size_t from,
                     const uint64_t *local);
void bk_fetcher_stats_get(bk_fetcher *f, bk_fetch_stats *ret);
void bk_fetcher_free(bk_fetcher *f);

#endif
