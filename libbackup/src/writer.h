/* writer.h - saves blobs: dedup against the index, then compression, encryption and
 * packing on a pool of worker threads, uploads, and index objects for what was uploaded.
 * One thread calls add/finish; the workers are internal. */
#ifndef BK_WRITER_H
#define BK_WRITER_H

#include "repo.h"

typedef struct bk_writer bk_writer;

typedef struct bk_writer_stats {
    uint64_t blobs_added;
    uint64_t bytes_added;        /* stored bytes: packs and index objects */
    uint64_t bytes_added_raw;    /* plaintext of new blobs */
    uint64_t packs;
    uint64_t index_objects;
} bk_writer_stats;

/* dry_run: compress and encrypt (so the figures are right) but store nothing. */
int bk_writer_new(bk_repo *repo, bool dry_run, bk_writer **ret) BK_MUST_CHECK;
/* Save a blob unless the repository (or this writer) has it.  Copies p.  Returns 1 if it
 * is new, 0 if known, or the first error any worker hit (details on the repo handle). */
int bk_writer_add(bk_writer *w, uint8_t kind, const bk_id *id, const void *p, size_t n) BK_MUST_CHECK;
bool bk_writer_has(bk_writer *w, const bk_id *id);
/* Copy an already sealed blob (prune's repacking) into a new pack, whether or not the
 * index knows it; 0, or 1 if this writer has it already. */
int bk_writer_add_sealed(bk_writer *w, uint8_t kind, const bk_id *id, const void *sealed,
                         size_t len, uint32_t raw_len) BK_MUST_CHECK;
/* Write what is pending: the open packs, then the index for every uploaded pack.  After
 * it returns 0, everything added is in the repository and in repo->index. */
int bk_writer_finish(bk_writer *w) BK_MUST_CHECK;
/* w may be NULL (all zero then). */
void bk_writer_stats_get(bk_writer *w, bk_writer_stats *ret);
/* Stops the workers; unfinished work is dropped (its packs may be written but no index
 * points at them: garbage for prune). */
void bk_writer_free(bk_writer *w);

#endif
