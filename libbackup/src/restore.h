/* restore.h - restore plans (the selected entries of a snapshot, in tree order), shared by
 * restore and dump. */
#ifndef BK_RESTORE_H
#define BK_RESTORE_H

#include "repo.h"

struct archive_entry;

typedef struct bk_plan_entry {
    char *path;                 /* absolute inside the snapshot: "/etc/hosts" */
    size_t path_len;
    bk_node node;
    size_t link_to;             /* restore: 1 + plan index of the first hard link, or 0 */
    bool full;                  /* a directory selected with everything below it */
    bool skip;                  /* restore: the target has it already */
    bool existed;               /* restore: something of this type was there */
    uint64_t *local;            /* restore: per content chunk, its offset in the old local
                                 * file, or BK_LOCAL_NONE; NULL if nothing is reused */
    uint64_t disk_dev, disk_ino; /* restore: the file found at its name (existed) */
    char *error;                /* a file whose content lists could not be read: why */
} bk_plan_entry;

typedef struct bk_plan {
    bk_plan_entry *v;
    size_t n, cap;
} bk_plan;

/* Entries below root (a tree id) that the includes select and the excludes do not, with
 * the directories leading to them, in pre-order. */
int bk_plan_build(bk_repo *repo, const bk_id *root, char *const *inc, size_t ninc,
                  char *const *exc, size_t nexc, bk_plan *ret) BK_MUST_CHECK;
void bk_plan_free(bk_plan *p);
/* The pieces of a file entry whose content is in list blobs, read when the entry is to be
 * written (restore and dump call it for those only: the plan holds the content of what is
 * written, and nothing of what is not).  Lists that cannot be read fail that entry only:
 * e->error says why, it has no pieces, and 0 is returned; < 0 only for -ENOMEM, -EINTR. */
int bk_plan_load_content(bk_repo *repo, bk_plan_entry *e) BK_MUST_CHECK;

/* Fill a libarchive entry from a node (metadata, xattrs, ACLs; no hardlink). */
void bk_node_to_entry(const bk_node *n, const char *path, struct archive_entry *e);
/* "/etc/ssh/" -> "/etc/ssh", "etc" -> "/etc"; allocates. */
char *bk_snapshot_path_normalize(const char *p);

#endif
