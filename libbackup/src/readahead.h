/* readahead.h - read the next files of a directory into the page cache while the backup
 * chunks the current one.
 *
 * The walk reads one file at a time; on a disk (not on tmpfs) each small file waits for
 * its open and first read, and the disk does one thing at a time.  A thread walks a window
 * of entries ahead of the walk: those that are regular files and not unchanged since the
 * parent snapshot (size, times and inode, as the walk decides) are opened and read ahead
 * (readahead(2), the first BK_READAHEAD_FILE_MAX bytes), then closed.  It only reads: what
 * the walk saves is what the walk reads itself. */
#ifndef BK_READAHEAD_H
#define BK_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "macro.h"
#include "tree.h"

#define BK_READAHEAD_WINDOW 64               /* entries ahead of the walk */
#define BK_READAHEAD_FILE_MAX (4u << 20)     /* bytes read ahead of one file */

typedef struct bk_readahead bk_readahead;

/* A file whose size, times and inode are those of its node in the parent snapshot is not
 * read again (if the repository has its content: archiver.c). */
static inline bool bk_node_same_stat(const bk_node *old, const struct stat *st)
{
    return old && old->type == BK_NODE_FILE && old->size == (uint64_t)st->st_size &&
           old->mtime == st->st_mtim.tv_sec && old->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
           old->ctime == st->st_ctim.tv_sec && old->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec &&
           old->inode == (uint64_t)st->st_ino;
}

/* NULL (and 0) when the thread cannot start: the walk goes on without it. */
int bk_readahead_new(bk_readahead **ret) BK_MUST_CHECK;
void bk_readahead_free(bk_readahead *ra);
/* The walk is about to save names[0..n) of dirfd (whose parent snapshot's tree is old,
 * may be NULL); they, dirfd and old stay valid until bk_readahead_stop.  Replaces what the
 * thread was given before. */
void bk_readahead_set(bk_readahead *ra, int dirfd, char *const *names, size_t n,
                      const bk_tree *old);
/* The walk is at names[i] of the last set. */
void bk_readahead_at(bk_readahead *ra, size_t i);
/* Forget the last set; on return the thread uses none of it. */
void bk_readahead_stop(bk_readahead *ra);
/* How many files it opened to read ahead. */
uint64_t bk_readahead_opened(bk_readahead *ra);

#endif
