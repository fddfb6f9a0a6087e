/* place.h - put the entries of a restore plan in place beneath the target directory.
 *
 * Entries come in plan order (pre-order), so the directories that hold them are kept open
 * on a stack and every name is created with an *at call in its directory's fd: never a
 * path, never through a symlink.  A file is written under a temporary name in its own
 * directory (BK_PLACE_TMP_PREFIX, O_CREAT | O_EXCL), its metadata set on the fd, and only
 * then renamed over its final name; if anything fails the temporary file is removed and
 * the final name keeps what it had.  Symlinks, fifos, sockets and device nodes are made
 * under a temporary name too.  In a target that was empty (or made by this run) the
 * temporary name is a directory's instead: the topmost directories that hold little (64 Ki
 * entries and 1 GiB, place.c) get one, everything below them is made under its final name
 * (no rename each), and each is renamed to its own name when it is left, complete: nothing
 * is at its real path before it is whole, as with temporary files, and a killed restore
 * loses no more than one of them (the next run keeps what is in place).  A directory gets its owner, ACLs, mode, times and
 * flags when it is left, after everything below it; immutable and append-only flags come
 * last.
 * Leftovers of a killed restore (temporary files, and temporary directories with what they
 * hold) are removed from each existing directory before the first entry is written into
 * it. */
#ifndef BK_PLACE_H
#define BK_PLACE_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "meta.h"
#include "repo.h"
#include "restore.h"

#define BK_PLACE_TMP_PREFIX ".arca-restore-"

/* ---- pure helpers (no I/O; unit-tested) -------------------------------------------------- */

/* The next run of p[0..len) worth writing to a fresh file, at or after from: the buffer
 * starts at file offset off and is cut at multiples of bs (a power of two); pieces that are
 * all zero bytes are skipped (a new file reads as zeros there anyway), so a block that
 * holds only zeros is never allocated.  Returns the run's start (len if nothing is left)
 * and sets *ret_len. */
size_t bk_place_next_run(const uint8_t *p, size_t len, uint64_t off, size_t bs, size_t from,
                         size_t *ret_len);

/* ---- placing ------------------------------------------------------------------------------- */

typedef struct bk_place bk_place;

/* A problem with an entry (path inside the snapshot), reported once; errors count them. */
typedef void (*bk_place_report_fn)(void *ud, const char *path, int code, const char *msg);

typedef struct bk_place_opts {
    const char *target;          /* the target's name, for messages */
    const bk_id *root_tree;      /* the tree the target stands for (the snapshot's root) */
    bk_owners *owners;           /* borrowed */
    bool owner;                  /* restore owners (root, unless --no-owner) */
    bool readable;               /* temporary files opened read-write (for --verify) */
    bool fresh;                  /* this run made the target: nothing can be in the way */
    bool empty;                  /* the target held nothing when this run began (fresh, or
                                  * an empty directory): directories made in it are hidden */
} bk_place_opts;

/* tfd: the target directory (borrowed).  The plan must outlive the handle. */
int bk_place_new(bk_repo *repo, int tfd, const bk_plan *plan, const bk_place_opts *o,
                 bk_place_report_fn report, void *ud, bk_place **ret) BK_MUST_CHECK;
/* Leaves every directory still open (setting its metadata), sets the flags kept for last. */
int bk_place_finish(bk_place *p) BK_MUST_CHECK;
void bk_place_free(bk_place *p);

/* The local owner of a node (bk_owners_map with the handle's owners). */
void bk_place_owner(bk_place *p, const bk_node *n, uid_t *ret_uid, gid_t *ret_gid);

/* Make the directory that holds plan entry i current (leaving the ones that do not hold
 * it).  0: ready; 1: it cannot be placed (a directory above it is not in place: reported
 * once, for that directory); < 0: fatal (the handle's error is set: a read-only file
 * system). */
int bk_place_enter(bk_place *p, size_t i) BK_MUST_CHECK;

/* Entry i is a directory: create it (or open the one there) and make it current.  An entry
 * marked skip is not in place (something of another type is in the way): reported.  0 if
 * it is in place, 1 if not (reported), < 0 fatal. */
int bk_place_dir(bk_place *p, size_t i) BK_MUST_CHECK;

/* Entry i is a symlink, fifo, socket or device node: 0 placed, 1 failed (reported), < 0. */
int bk_place_node(bk_place *p, size_t i) BK_MUST_CHECK;

/* Entry i is a further name of the file of entry first: 0, 1 (reported), < 0. */
int bk_place_link(bk_place *p, size_t i, size_t first) BK_MUST_CHECK;

/* The old version of entry i (a file), opened read-only to take reusable chunks from,
 * after bk_place_enter; -1 if there is none. */
int bk_place_open_old(bk_place *p, size_t i);

/* A regular file being written. */
typedef struct bk_place_file {
    bk_place *p;
    size_t idx;
    int fd;                      /* the temporary file */
    int dirfd;                   /* its directory (borrowed) */
    char tmp[32];
    bool final;                  /* made under its final name (in a hidden directory), not tmp */
    uint64_t end;                /* highest offset written */
} bk_place_file;

/* Create the temporary file for entry i.  0, 1 (reported), < 0. */
int bk_place_file_begin(bk_place *p, size_t i, bk_place_file *ret) BK_MUST_CHECK;
/* Write len bytes of content at off (zero blocks skipped).  0 or -errno (not reported). */
int bk_place_file_write(bk_place_file *f, uint64_t off, const uint8_t *data, size_t len) BK_MUST_CHECK;
/* Give the file its full size (a hole at the end is not written).  0 or -errno (not
 * reported). */
int bk_place_file_size(bk_place_file *f) BK_MUST_CHECK;
/* Size, metadata, rename over the final name, flags.  0, 1 (reported; the temporary file is
 * gone), < 0. */
int bk_place_file_commit(bk_place_file *f) BK_MUST_CHECK;
/* Give up: the temporary file is removed, the final name keeps what it had. */
void bk_place_file_abort(bk_place_file *f);

#endif
