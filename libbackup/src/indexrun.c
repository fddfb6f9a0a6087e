/* indexrun.c - a backup's additions to the index, out of RAM (docs/scale.md).
 *
 * Once the RAM part of the index holds spill_at entries, they are written, sorted, into a
 * run: an index file (imap.h) of no objects and no pack table, whose entries name the
 * index's own pack numbers.  The RAM part then starts again empty.  The newest two runs
 * are merged whenever they are of about the same size (a binary counter), so a backup that
 * adds n blobs keeps at most spill_at of them in RAM, looks up at most
 * log2(n / spill_at) + 1 runs, and writes each entry about that many times.  A run is
 * built in a directory of its own, and its file unlinked and the directory removed as
 * soon as it is open: only a build that is killed halfway leaves anything behind.
 *
 * A run only ever answers "stored, here" for blobs this process wrote.  A damaged run
 * answers "not stored" (a blob stored twice), never a wrong "stored". */
#include <stdio.h>
#include <unistd.h>

#include "imap.h"
#include "index.h"

#define SCAN_TRIM 0x3ffff   /* entries between trims of a merge's scan */

int bk_index_spill_setup(bk_index *idx, const char *tmpdir, size_t spill_at)
{
    char *dir = strdup(tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!dir)
        return -ENOMEM;
    free(idx->run_dir);
    idx->run_dir = dir;
    idx->spill_at = spill_at;
    return 0;
}

static void run_free(bk_imap *m)
{
    if (m) {
        bk_imap_close(m);
        free(m);
    }
}

void bk_index_runs_free(bk_index *idx)
{
    for (size_t i = 0; i < idx->nruns; i++)
        run_free(idx->runs[i]);
    free(idx->runs);
    idx->runs = NULL;
    idx->nruns = 0;
    free(idx->run_dir);
    idx->run_dir = NULL;
    idx->spill_at = 0;
}

bool bk_index_run_lookup(bk_index *idx, const bk_id *id, size_t newer_than, bk_index_entry *ret)
{
    for (size_t k = idx->nruns; k-- > newer_than;) {
        uint64_t pos;
        bk_imap_entry e;
        if (bk_imap_find(idx->runs[k], id, &pos, &e) == 0) {
            if (ret)
                *ret = e.e;
            return true;
        }
    }
    return false;
}

typedef struct run_builder {
    bk_imap_builder *b;
    char *dir, *path;
} run_builder;

static int rb_new(bk_index *idx, run_builder *rb)
{
    memset(rb, 0, sizeof(*rb));
    if (asprintf(&rb->dir, "%s/arca-run-XXXXXX", idx->run_dir) < 0) {
        rb->dir = NULL;
        return -ENOMEM;
    }
    bool made = mkdtemp(rb->dir) != NULL;
    int r = made ? 0 : -errno;
    if (r == 0 && asprintf(&rb->path, "%s/run", rb->dir) < 0) {
        rb->path = NULL;
        r = -ENOMEM;
    }
    if (r == 0)
        r = bk_imap_builder_new(rb->path, &rb->b);
    if (r < 0) {
        if (made)
            rmdir(rb->dir);
        free(rb->dir);
        free(rb->path);
        memset(rb, 0, sizeof(*rb));
    }
    return r;
}

/* Finish (r == 0) or drop (r < 0) the run being built. */
static int rb_end(run_builder *rb, int r, bk_imap **ret)
{
    bk_imap *m = NULL;
    if (r == 0 && !(m = calloc(1, sizeof(*m))))
        r = -ENOMEM;
    if (r == 0)
        r = bk_imap_builder_finish(rb->b, m);
    unlink(rb->path);   /* open (or failed): nothing stays on disk */
    bk_imap_builder_free(rb->b);   /* and its temporary files */
    rmdir(rb->dir);
    free(rb->path);
    free(rb->dir);
    if (r < 0) {
        free(m);
        return r;
    }
    *ret = m;
    return 0;
}

/* The RAM part's entries, sorted, in a new run. */
static int run_from_ram(bk_index *idx, bk_imap **ret)
{
    run_builder rb;
    int r = rb_new(idx, &rb);
    if (r < 0)
        return r;
    size_t pos = 0;
    const bk_id *id;
    void *v;
    while (r == 0 && bk_idmap_next(&idx->blobs, &pos, &id, &v)) {
        bk_imap_entry x;
        memset(&x, 0, sizeof(x));
        x.id = *id;
        x.e = *(const bk_index_entry *)v;
        r = bk_imap_builder_entry(rb.b, &x);
    }
    return rb_end(&rb, r, ret);
}

/* Runs [from, nruns) in one. */
static int merge_runs(bk_index *idx, size_t from, bk_imap **ret)
{
    run_builder rb;
    int r = rb_new(idx, &rb);
    for (size_t k = from; r == 0 && k < idx->nruns; k++) {
        bk_imap *m = idx->runs[k];
        for (uint64_t i = 0; r == 0 && i < m->n; i++) {
            if ((i & SCAN_TRIM) == 0 && i)
                bk_imap_trim(m);
            r = bk_imap_check_range(m, i, i + 1);
            if (r == 0)
                r = bk_imap_builder_entry(rb.b, &m->entries[i]);
        }
        bk_imap_trim(m);
    }
    return r < 0 && !rb.b ? r : rb_end(&rb, r, ret);
}

int bk_index_maybe_spill(bk_index *idx)
{
    if (!idx->spill_at || idx->blobs.count < idx->spill_at)
        return 0;
    bk_imap **v = realloc(idx->runs, (idx->nruns + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    idx->runs = v;
    bk_imap *m;
    int r = run_from_ram(idx, &m);
    if (r < 0)
        return r;
    idx->runs[idx->nruns++] = m;
    bk_idmap_free(&idx->blobs);
    bk_idmap_init(&idx->blobs, sizeof(bk_index_entry));
    /* a binary counter: the newest two merged while they are of about one size */
    while (idx->nruns >= 2) {
        bk_imap *older = idx->runs[idx->nruns - 2], *newer = idx->runs[idx->nruns - 1];
        if (older->n > newer->n + newer->n / 2)
            break;
        if ((r = merge_runs(idx, idx->nruns - 2, &m)) < 0)
            return r;   /* the runs as they were: still right, only more of them */
        run_free(older);
        run_free(newer);
        idx->runs[idx->nruns - 2] = m;
        idx->nruns--;
    }
    return 0;
}
