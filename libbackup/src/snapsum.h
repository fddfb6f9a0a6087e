/* snapsum.h - summaries of the repository's snapshots (time, host, paths, tags), from a
 * sealed file of the local cache and the snapshots that are new since it was written. */
#ifndef BK_SNAPSUM_H
#define BK_SNAPSUM_H

#include "repo.h"

typedef struct bk_snapsum {
    bk_id id;
    int64_t time;
    int32_t nsec, tz;
    char *host;
    char **paths, **tags;
    size_t npaths, ntags;
} bk_snapsum;

/* Every snapshot of the repository, oldest first.  A damaged snapshot object is left out
 * with a warning and recorded (bk_snapshots_damaged). */
int bk_snapsums_get(bk_repo *repo, bk_snapsum **ret, size_t *ret_n) BK_MUST_CHECK;
void bk_snapsums_free(bk_snapsum *v, size_t n);
bool bk_snapsum_match(const bk_snapsum *s, const bk_filter *f);

/* The parent hint: the snapshot that the last backup of host and paths made with this
 * cache, so that the next one finds its parent without listing the repository's snapshots
 * (a backup's fixed cost does not grow with their number).  *ret is NULL when there is
 * none, or it is gone from the repository, or it is not of host and paths; then the
 * caller picks from the summaries.  Only a hint: another machine that backs up under the
 * same host name is not seen, and the parent is then this machine's last snapshot. */
int bk_parent_hint_get(bk_repo *repo, const char *host, char *const *paths, size_t npaths,
                       bk_snapshot **ret) BK_MUST_CHECK;
void bk_parent_hint_set(bk_repo *repo, const char *host, char *const *paths, size_t npaths,
                        const bk_id *snap);

#endif
