/* target.h - the existing tree a restore writes over: lookups strictly beneath the target
 * directory that never follow a symlink (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * comparison of what is there with a snapshot entry, and removal that never leaves the
 * target. */
#ifndef BK_TARGET_H
#define BK_TARGET_H

#include <stdbool.h>
#include <sys/stat.h>

#include "tree.h"

/* Open rel (relative, no "..") beneath the directory tfd; flags as for openat (O_PATH |
 * O_NOFOLLOW gives the final symlink itself).  A fd, or -errno (-ELOOP/-EXDEV: the path
 * goes through a symlink). */
int bk_target_open(int tfd, const char *rel, int flags);

typedef enum bk_target_state {
    BK_TARGET_ABSENT = 0,        /* nothing there (or not reachable without a symlink) */
    BK_TARGET_SAME,              /* the entry is there as the snapshot has it: leave it */
    BK_TARGET_CHANGED,           /* the same type, other content or metadata: rewrite */
    BK_TARGET_OTHER_TYPE,        /* something of another type is in the way */
} bk_target_state;

/* Compare what is at name in the directory dirfd with n.  Files are the same when size,
 * mtime, mode (and, when owner is set, the owner uid:gid) match, as for a backup's parent
 * check; symlinks when their target does; directories whenever one is there (their
 * metadata is always restored).  *ret_st: what is there (when not absent). */
bk_target_state bk_target_compare_at(int dirfd, const char *name, const bk_node *n, bool owner,
                                     uid_t uid, gid_t gid, struct stat *ret_st);

/* Remove name in the directory dirfd, and everything below it if it is a directory; never
 * follows a symlink.  Immutable and append-only flags are cleared first (as root).  dry:
 * only count.  *count grows by the entries removed. */
int bk_target_remove(int dirfd, const char *name, bool dry, uint64_t *count);

/* Clear the immutable and append-only flags of name in dirfd (never following a symlink) so
 * that it can be replaced or removed: 0 if they were cleared, -ENODATA if it has none,
 * -EPERM if they cannot be cleared, another -errno if it cannot be looked at. */
int bk_target_unlock(int dirfd, const char *name);

#endif
