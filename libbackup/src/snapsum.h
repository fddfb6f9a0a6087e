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

/* A backup-only key cannot read the repository's snapshots and trees: what it knows of
 * its own backups is kept on the host (the local record, in the cache directory, files of
 * mode 0600): the last snapshot of each host and set of paths ("own-parents", its id and
 * document), and the plaintext of the trees and content lists it wrote ("own-trees"), which
 * bk_repo_load_blob reads for it.  Deleting them costs the next backup its speed only
 * (every file is read).  bk_parent_hint_get gives the recorded snapshot of a backup-only
 * key, if it is still in the repository. */
void bk_own_parent_set(bk_repo *repo, const bk_snapshot *s);
void bk_own_tree_put(bk_repo *repo, const bk_id *id, const void *p, size_t n);
/* The plaintext of own tree id (checked against its id): 0, -ENOENT, -ENOMEM. */
int bk_own_tree_get(bk_repo *repo, const bk_id *id, uint8_t **ret, size_t *ret_len) BK_MUST_CHECK;
/* Keep of the own trees those that the recorded snapshots reach (best effort). */
void bk_own_trees_retain(bk_repo *repo);

#endif
