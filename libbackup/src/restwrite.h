/* restwrite.h - the restore's writers: the content of files written by several threads.
 *
 * The restorer's thread walks the plan and creates each file's temporary file; the file's
 * content goes to the writers in pieces, and the file is committed (metadata, rename into
 * place) back on the restorer's thread, in plan order, while its directory is current. */
#ifndef BK_RESTWRITE_H
#define BK_RESTWRITE_H

#include "fetcher.h"
#include "place.h"
#include "restore.h"

typedef struct bk_rwriters bk_rwriters;

/* A file's fate, told on the restorer's thread when it is committed: k is 0 (in place), 1
 * (not: reported through report_fn before) or < 0 (fatal). */
typedef void (*bk_rw_done_fn)(void *ud, const bk_plan_entry *pe, int k);
typedef void (*bk_rw_report_fn)(void *ud, const char *path, int code, const char *msg);

typedef struct bk_rw_opts {
    bk_repo *repo;
    bk_fetcher *fetcher;
    bool verify;                 /* read every file back before it is renamed into place */
    int threads;
    uint64_t *done_bytes;        /* progress, added to atomically */
    bk_restore_stats *st;        /* bytes_written, bytes_reused: at commit */
    bk_rw_done_fn done;
    bk_rw_report_fn report;
    void *ud;
} bk_rw_opts;

int bk_rw_new(const bk_rw_opts *o, bk_rwriters **ret) BK_MUST_CHECK;

/* Before entry pe is placed: does it need the queued files committed first?  (It is not a
 * plain file in their directory: a directory, a hard link, anything in another one.) */
bool bk_rw_must_drain(const bk_rwriters *w, const bk_plan_entry *pe);

/* Queue the content of plan entry pe, whose temporary file pf was just begun; oldfd (its
 * old version, or -1) is taken over.  Commits earlier files as room is needed.  0, or < 0
 * fatal (the run stops). */
int bk_rw_add(bk_rwriters *w, bk_plan_entry *pe, const bk_place_file *pf, int oldfd) BK_MUST_CHECK;

/* Commit every queued file, in order.  0 or < 0 fatal. */
int bk_rw_drain(bk_rwriters *w) BK_MUST_CHECK;

/* Stops the writers; files still queued are given up (their temporary files removed).
 * Before the place handle's directories are closed. */
void bk_rw_free(bk_rwriters *w);

#endif
