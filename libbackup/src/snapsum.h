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

#endif
