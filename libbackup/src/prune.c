/* prune.c - forget (remove snapshots) and prune (remove what no snapshot needs).
 *
 * Prune works in two phases so that backups are held up as briefly as possible:
 *
 * 1. Plan, under no repository lock (only the prune lock, so prunes do not overlap):
 *    mark every blob the snapshots reference (walking their trees), count what each
 *    indexed pack holds that is used, and decide per pack: keep it, delete it (nothing in
 *    it is used), or repack it (more of it unused than --max-unused: its used blobs are
 *    copied, still sealed, into new packs, which are indexed as any backup's are).
 * 2. Commit, under the exclusive lock, which waits for running backups to finish: look
 *    at the snapshots written since the plan and mark what they use; keep any planned
 *    pack that holds a blob now used and found nowhere else; check that every used blob
 *    is in a pack that stays; write the new index (every pack that stays) superseding
 *    all current index objects; delete those; then delete the packs.  A crash at any
 *    point leaves a valid repository: until the old index objects are gone no pack is
 *    deleted, and the new index is complete before any old one goes.
 * Packs that no index lists (left by killed backups or prunes) are deleted in the
 * commit, when no backup can be writing them. */
#include <stdio.h>

#include "repo.h"
#include "util.h"
#include "writer.h"

/* ---- forget ------------------------------------------------------------------------------- */

/* -ENOENT (no message) when it is gone already */
static int remove_snapshot(bk_repo *repo, const bk_id *id)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    int r = bk_be_remove(repo->be, BK_OBJ_SNAPSHOT, hex);
    if (r < 0 && r != -ENOENT)
        return bk_repo_error(repo, r, "cannot remove snapshots/%s: %s", hex, strerror(-r));
    return r;
}

int bk_snapshot_remove(bk_repo *repo, const bk_id *id)
{
    int r = remove_snapshot(repo, id);
    if (r == -ENOENT) {
        char hex[BK_ID_HEX];
        bk_id_hex(id, hex);
        return bk_repo_error(repo, r, "no snapshot %s (removed already?)", hex);
    }
    return r;
}

int bk_forget_apply(bk_repo *repo, const bk_forget_group *g, size_t n, size_t *ret_removed)
{
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < g[i].n; j++) {
            if (g[i].items[j].keep)
                continue;
            int r = remove_snapshot(repo, &g[i].items[j].snap->id);
            if (r < 0 && r != -ENOENT) {   /* gone already: as good as removed */
                *ret_removed = removed;
                return r;
            }
            removed++;
        }
    }
    *ret_removed = removed;
    return 0;
}

/* ---- what the snapshots use -------------------------------------------------------------- */

typedef struct marker {
    bk_repo *repo;
    bk_idmap used;               /* blob ids (trees and data) */
    bk_idmap snaps;              /* snapshots already walked */
} marker;

static int mark_tree(marker *m, const bk_id *id)
{
    int r = bk_idmap_put(&m->used, id, NULL);
    if (r <= 0)
        return r;   /* seen: its subtrees are marked already */
    bk_tree t;
    r = bk_repo_load_tree(m->repo, id, &t);
    if (r < 0)
        return r;
    for (size_t i = 0; r >= 0 && i < t.n; i++) {
        const bk_node *n = &t.nodes[i];
        if (n->type == BK_NODE_DIR)
            r = mark_tree(m, &n->subtree);
        for (size_t j = 0; r >= 0 && j < n->ncontent; j++)
            if (!n->content[j].hole)
                r = bk_idmap_put(&m->used, &n->content[j].id, NULL);
    }
    bk_tree_free(&t);
    return r < 0 ? r : 0;
}

/* Mark what every current snapshot not seen before uses; *ret_new counts them. */
static int mark_snapshots(marker *m, size_t *ret_new)
{
    bk_snapshot **v;
    size_t n, fresh = 0;
    v = NULL;
    n = 0;
    /* snapshots first, then the index: a backup writes its index objects before its
     * snapshot, so every snapshot listed has its trees in the index read after */
    int r = bk_snapshots_list(m->repo, NULL, &v, &n);
    /* what a damaged snapshot uses is unknown: freeing anything could lose its data */
    const char *const *bad;
    if (r == 0 && bk_snapshots_damaged(m->repo, &bad) > 0)
        r = bk_repo_error(m->repo, -EBADMSG, "snapshot %.8s is damaged: prune cannot tell what "
                          "it uses (arca forget %.8s, or arca repair snapshots, first)", bad[0], bad[0]);
    if (r == 0)
        r = bk_repo_load_index(m->repo);
    for (size_t i = 0; r == 0 && i < n; i++) {
        int k = bk_idmap_put(&m->snaps, &v[i]->id, NULL);
        if (k < 0)
            r = k;
        else if (k == 1) {
            fresh++;
            r = mark_tree(m, &v[i]->tree);
        }
    }
    if (v)
        bk_snapshots_free(v, n);
    if (ret_new)
        *ret_new = fresh;
    return r;
}

/* ---- the current index, object by object ---------------------------------------------------- */

typedef struct index_set {
    bk_id *objects;              /* index objects read */
    size_t nobjects;
    bk_index_pack *packs;        /* every pack they list (first listing wins) */
    size_t npacks;
    bk_idmap packmap;            /* pack id -> size_t position */
} index_set;

static void index_set_free(index_set *s)
{
    for (size_t i = 0; i < s->npacks; i++)
        free(s->packs[i].blobs);
    free(s->packs);
    free(s->objects);
    bk_idmap_free(&s->packmap);
    memset(s, 0, sizeof(*s));
}

struct read_ctx {
    bk_repo *repo;
    index_set *s;
};

static int read_one(const char *name, uint64_t size, void *ctx)
{
    struct read_ctx *rc = ctx;
    index_set *s = rc->s;
    bk_id id;
    if (bk_id_parse(name, &id) < 0)
        return 0;
    uint8_t *plain;
    size_t len;
    int r = bk_repo_load_object(rc->repo, BK_OBJ_INDEX, BK_KIND_INDEX, name, &plain, &len);
    if (r < 0)
        return r;   /* prune stops on anything unreadable: run check */
    bk_index_obj o;
    r = bk_index_obj_decode(plain, len, &o);
    free(plain);
    if (r < 0)
        return bk_repo_error(rc->repo, r, "index/%s is malformed", name);
    bk_id *objs = realloc(s->objects, (s->nobjects + 1) * sizeof(*objs));
    if (!objs) {
        bk_index_obj_free(&o);
        return -ENOMEM;
    }
    s->objects = objs;
    s->objects[s->nobjects++] = id;
    for (size_t i = 0; r == 0 && i < o.npacks; i++) {
        size_t *pos;
        r = bk_idmap_put(&s->packmap, &o.packs[i].id, (void **)&pos);
        if (r <= 0)
            continue;
        r = 0;
        bk_index_pack *v = realloc(s->packs, (s->npacks + 1) * sizeof(*v));
        if (!v) {
            r = -ENOMEM;
            break;
        }
        s->packs = v;
        *pos = s->npacks;
        s->packs[s->npacks++] = o.packs[i];
        o.packs[i].blobs = NULL;
        o.packs[i].n = 0;
    }
    bk_index_obj_free(&o);
    return r;
}

static int index_set_read(bk_repo *repo, index_set *s)
{
    memset(s, 0, sizeof(*s));
    bk_idmap_init(&s->packmap, sizeof(size_t));
    struct read_ctx rc = { repo, s };
    int r = bk_be_list(repo->be, BK_OBJ_INDEX, read_one, &rc);
    if (r < 0) {
        index_set_free(s);
        if (bk_repo_errcode(repo) == 0)
            bk_repo_error(repo, r, "cannot read the index: %s", strerror(-r));
    }
    return r;
}

/* ---- plan ---------------------------------------------------------------------------------- */

enum { P_KEEP = 0, P_DELETE, P_REPACK };

typedef struct pack_plan {
    uint8_t action;
    uint64_t bytes, used_bytes;
    size_t blobs, used_blobs;
} pack_plan;

/* A blob counts as used in the first pack (in index order) that holds it; later copies are
 * duplicates, unused. */
static void plan_packs(const index_set *s, const bk_idmap *used, bk_idmap *claimed, double max_unused,
                       pack_plan *plans)
{
    for (size_t i = 0; i < s->npacks; i++) {
        const bk_index_pack *p = &s->packs[i];
        pack_plan *pl = &plans[i];
        memset(pl, 0, sizeof(*pl));
        for (size_t j = 0; j < p->n; j++) {
            const bk_pack_entry *e = &p->blobs[j];
            pl->bytes += e->stored_len;
            pl->blobs++;
            if (bk_idmap_get(used, &e->id) && bk_idmap_put(claimed, &e->id, NULL) == 1) {
                pl->used_bytes += e->stored_len;
                pl->used_blobs++;
            }
        }
        if (pl->used_blobs == 0)
            pl->action = P_DELETE;
        else if ((double)(pl->bytes - pl->used_bytes) > max_unused * (double)pl->bytes)
            pl->action = P_REPACK;
        else
            pl->action = P_KEEP;
    }
}

/* Copy the used blobs of a pack into the writer, still sealed. */
static int repack_one(bk_repo *repo, bk_writer *w, const bk_index_pack *p, const bk_idmap *used)
{
    char hex[BK_ID_HEX];
    bk_id_hex(&p->id, hex);
    uint64_t end = 0;
    for (size_t j = 0; j < p->n; j++)
        end = BK_MAX(end, (uint64_t)p->blobs[j].offset + p->blobs[j].stored_len);
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(repo->be, BK_OBJ_DATA, hex, 0, (size_t)end, &b);
    if (r < 0) {
        bk_buf_free(&b);
        return bk_repo_error(repo, r, "cannot read data/%s to repack it: %s", hex, strerror(-r));
    }
    for (size_t j = 0; r >= 0 && j < p->n; j++) {
        const bk_pack_entry *e = &p->blobs[j];
        if (!bk_idmap_get(used, &e->id))
            continue;
        r = bk_writer_add_sealed(w, e->kind, &e->id, b.data + e->offset, e->stored_len, e->raw_len);
    }
    bk_buf_free(&b);
    return r < 0 ? r : 0;
}

/* ---- commit -------------------------------------------------------------------------------- */

struct unindexed {
    const index_set *s;
    char **names;
    size_t n;
    uint64_t bytes;
};

static int collect_unindexed(const char *name, uint64_t size, void *ctx)
{
    struct unindexed *u = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0 || bk_idmap_get(&u->s->packmap, &id))
        return 0;
    u->bytes += size;
    return bk_strv_push(&u->names, &u->n, name);
}

/* Temporary objects of writes that were killed: no writer is running while prune holds the
 * exclusive lock, but a margin (BK_TEMP_MIN_AGE) keeps a store whose locks are not
 * trusted (NFS) safe. */
static int temp_files(bk_repo *repo, bool remove, bk_prune_stats *st)
{
    if (!repo->be->ops->temp_files)
        return 0;
    int r = repo->be->ops->temp_files(repo->be, BK_TEMP_MIN_AGE, remove, &st->temp_files,
                                      &st->temp_bytes);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot %s temporary files: %s", remove ? "remove" : "list",
                             strerror(-r));
    st->bytes_freed += st->temp_bytes;
    return 0;
}

static int write_index(bk_repo *repo, const index_set *s, const bool *stays)
{
    /* every pack that stays, in objects of at most ~64k blobs, superseding all current ones */
    size_t i = 0;
    bool first = true;
    int r = 0;
    while (r == 0 && (i < s->npacks || first)) {
        bk_index_obj o = { 0 };
        if (first) {
            o.supersedes = s->objects;
            o.nsupersedes = s->nobjects;
        }
        size_t start = i, blobs = 0;
        while (i < s->npacks && blobs < 65536) {
            if (stays[i])
                blobs += s->packs[i].n;
            i++;
        }
        o.packs = calloc(i - start + 1, sizeof(bk_index_pack));
        if (!o.packs)
            return -ENOMEM;
        for (size_t k = start; k < i; k++)
            if (stays[k])
                o.packs[o.npacks++] = s->packs[k];
        bk_buf b = BK_BUF_INIT;
        if (o.npacks || o.nsupersedes)
            r = bk_index_obj_encode(&o, &b);
        if (r == 0 && b.len)
            r = bk_repo_save_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, b.data, b.len, NULL);
        bk_buf_free(&b);
        free(o.packs);
        first = false;
    }
    return r;
}

int bk_prune(bk_repo *repo, const bk_prune_opts *opts, bk_prune_stats *ret)
{
    bk_prune_stats st = { 0 };
    double t0 = bk_monotonic();
    double max_unused = opts && opts->max_unused >= 0 ? opts->max_unused : 0.05;
    bool dry = opts && opts->dry_run;
    marker m = { .repo = repo };
    bk_idmap_init(&m.used, 0);
    bk_idmap_init(&m.snaps, 0);
    bk_idmap claimed;
    bk_idmap_init(&claimed, 0);
    index_set s = { 0 }, now = { 0 };
    pack_plan *plans = NULL;
    bool *stays = NULL;
    bk_writer *w = NULL;
    struct unindexed un = { 0 };
    bool locked = false;

    /* phase 1: plan */
    int r = bk_repo_lock_prune(repo, true);
    bool prune_locked = r == 0;
    if (r == 0)
        r = mark_snapshots(&m, NULL);
    if (r == 0)
        r = index_set_read(repo, &s);
    if (r == 0 && !(plans = calloc(s.npacks + 1, sizeof(*plans))))
        r = -ENOMEM;
    if (r == 0) {
        plan_packs(&s, &m.used, &claimed, max_unused, plans);
        for (size_t i = 0; i < s.npacks; i++) {
            st.packs++;
            st.blobs += plans[i].blobs;
            st.bytes += plans[i].bytes;
            st.blobs_used += plans[i].used_blobs;
            st.bytes_used += plans[i].used_bytes;
            if (plans[i].action == P_DELETE) {
                st.packs_deleted++;
                st.bytes_freed += plans[i].bytes;
            } else if (plans[i].action == P_REPACK) {
                st.packs_repacked++;
                st.bytes_repacked += plans[i].used_bytes;
                st.bytes_freed += plans[i].bytes - plans[i].used_bytes;
            }
        }
    }
    if (r == 0 && !dry && st.packs_repacked) {
        r = bk_writer_new(repo, false, &w);
        for (size_t i = 0; r == 0 && i < s.npacks; i++)
            if (plans[i].action == P_REPACK)
                r = repack_one(repo, w, &s.packs[i], &m.used);
        if (w) {
            int rf = bk_writer_finish(w);   /* the copies are stored and indexed */
            r = r ? r : rf;
        }
    }
    if (r == 0 && dry) {
        /* what the commit would find too: packs that no index lists, temporary files */
        un.s = &s;
        r = bk_be_list(repo->be, BK_OBJ_DATA, collect_unindexed, &un);
        st.packs_unindexed = un.n;
        st.bytes_freed += un.bytes;
        if (r == 0)
            r = temp_files(repo, false, &st);
    }
    if (r < 0 || dry)
        goto out;

    /* phase 2: commit, under the exclusive lock */
    bool was_locked = repo->locked;
    if (was_locked)
        bk_repo_unlock(repo);
    r = bk_repo_lock(repo, true);
    locked = r == 0;
    size_t fresh = 0;
    if (r == 0) {
        /* backups may have written index objects since: read them all again */
        bk_repo_index_reset(repo);
        r = bk_repo_load_index(repo);
    }
    if (r == 0)
        r = mark_snapshots(&m, &fresh);   /* written since the plan */
    st.snapshots_during = fresh;
    if (r == 0)
        r = index_set_read(repo, &now);
    if (r == 0 && !(stays = calloc(now.npacks + 1, sizeof(bool))))
        r = -ENOMEM;
    if (r == 0) {
        /* a pack stays unless the plan deletes or repacked it; a planned pack stays too
         * if it holds a used blob that no staying pack holds */
        bk_idmap avail;
        bk_idmap_init(&avail, 0);
        for (size_t i = 0; r == 0 && i < now.npacks; i++) {
            size_t *pos = bk_idmap_get(&s.packmap, &now.packs[i].id);
            stays[i] = !pos || plans[*pos].action == P_KEEP;
            for (size_t j = 0; stays[i] && r == 0 && j < now.packs[i].n; j++)
                r = bk_idmap_put(&avail, &now.packs[i].blobs[j].id, NULL) < 0 ? -ENOMEM : 0;
        }
        for (size_t i = 0; r == 0 && i < now.npacks; i++) {
            if (stays[i])
                continue;
            for (size_t j = 0; j < now.packs[i].n; j++) {
                const bk_id *id = &now.packs[i].blobs[j].id;
                if (bk_idmap_get(&m.used, id) && !bk_idmap_get(&avail, id)) {
                    stays[i] = true;   /* used by a snapshot written meanwhile */
                    st.packs_kept_late++;
                    for (size_t k = 0; k < now.packs[i].n; k++)
                        bk_idmap_put(&avail, &now.packs[i].blobs[k].id, NULL);
                    break;
                }
            }
        }
        /* every used blob must be in a pack that stays, or nothing is deleted */
        size_t pos = 0;
        const bk_id *id;
        while (r == 0 && bk_idmap_next(&m.used, &pos, &id, NULL)) {
            if (!bk_idmap_get(&avail, id)) {
                char hex[BK_ID_HEX];
                bk_id_hex(id, hex);
                r = bk_repo_error(repo, -EIO, "blob %s is used but would be in no pack: "
                                  "nothing deleted (run arca check)", hex);
            }
        }
        bk_idmap_free(&avail);
    }
    un.s = &now;
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_DATA, collect_unindexed, &un);
    if (r == 0)
        r = write_index(repo, &now, stays);
    for (size_t i = 0; r == 0 && i < now.nobjects; i++) {
        char hex[BK_ID_HEX];
        bk_id_hex(&now.objects[i], hex);
        int e = bk_be_remove(repo->be, BK_OBJ_INDEX, hex);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(repo, e, "cannot remove index/%s: %s", hex, strerror(-e));
    }
    for (size_t i = 0; r == 0 && i < now.npacks; i++) {
        if (stays[i])
            continue;
        char hex[BK_ID_HEX];
        bk_id_hex(&now.packs[i].id, hex);
        int e = bk_be_remove(repo->be, BK_OBJ_DATA, hex);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(repo, e, "cannot remove data/%s: %s", hex, strerror(-e));
    }
    if (r == 0 && repo->be->ops->remove_strays) {
        size_t strays = 0;
        r = repo->be->ops->remove_strays(repo->be, &strays);
        if (r < 0)
            r = bk_repo_error(repo, r, "cannot remove uncatalogued objects: %s", strerror(-r));
        else if (strays)
            bk_repo_log(repo, BK_LOG_INFO, "removed %zu index and snapshot %s of failed "
                        "runs (stored, never catalogued)", strays,
                        bk_plural(strays, "object", "objects"));
    }
    for (size_t i = 0; r == 0 && i < un.n; i++) {
        int e = bk_be_remove(repo->be, BK_OBJ_DATA, un.names[i]);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(repo, e, "cannot remove data/%s: %s", un.names[i], strerror(-e));
    }
    st.packs_unindexed = un.n;
    st.bytes_freed += un.bytes;
    if (r == 0)
        r = temp_files(repo, true, &st);
    if (locked) {
        bk_repo_unlock(repo);
        if (was_locked && bk_repo_lock(repo, false) < 0)
            bk_repo_clear_error(repo);
    }
    if (r == 0) {
        /* the handle's index is stale now */
        bk_repo_index_reset(repo);
    }
out:
    if (prune_locked && bk_repo_lock_prune(repo, false) < 0)
        bk_repo_clear_error(repo);
    st.duration = bk_monotonic() - t0;
    if (ret)
        *ret = st;
    bk_writer_free(w);
    bk_strv_free(un.names, un.n);
    free(stays);
    free(plans);
    index_set_free(&s);
    index_set_free(&now);
    bk_idmap_free(&claimed);
    bk_idmap_free(&m.used);
    bk_idmap_free(&m.snaps);
    return r;
}
