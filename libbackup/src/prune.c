/* prune.c - forget (remove snapshots) and prune (remove what no snapshot needs).
 *
 * Prune works with positions in the mapped index (every blob of the repository has one
 * once the index is made whole, imap.h) so that its memory is a bit per blob and a few
 * counters per pack, whatever the size of the repository (docs/scale.md):
 *
 * 1. Plan, under no repository lock (only the prune lock, so prunes do not overlap): mark
 *    the position of every blob the snapshots reference (walking their trees), add up per
 *    pack what it holds and what of it is used, and decide per pack: keep it, delete it
 *    (nothing in it is used), or repack it (more of it unused than --max-unused, or one of
 *    several small packs: its used blobs are copied, still sealed, into new packs, which
 *    are indexed as any backup's are).  The packs in no index are listed here too.
 * 2. Commit, under the exclusive lock, which waits for running backups to finish and is
 *    as short as what changed: read the index objects and mark the snapshots written since
 *    the plan, and keep any planned pack that one of them uses; rewrite only the index
 *    objects that list a pack that goes (new objects first, then the old ones removed);
 *    remove the packs in no index that still are.  Then, without the exclusive lock (a
 *    backup starting now cannot see them: no index lists them), delete the packs.
 *
 * A crash at any point leaves a valid repository: no pack goes while an index object
 * lists it, and what a killed prune leaves (packs in no index) the next one removes. */
#include <stdio.h>

#include "imap.h"
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
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "forget");
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
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "forget");
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


/* ---- the plan -------------------------------------------------------------------------- */

enum { P_KEEP = 0, P_DELETE, P_REPACK };

#define SMALL_PACKS 16           /* of a kind (data, trees), below a quarter of the pack size */

typedef struct pack_acct {
    uint64_t bytes, used_bytes;
    uint32_t blobs, used_blobs;
    uint8_t action;
    uint8_t kind;                /* of its blobs: a pack holds one kind */
} pack_acct;

typedef struct pruner {
    bk_repo *repo;
    bk_index *idx;
    bk_imap *m;
    uint8_t *used;               /* a bit per map position */
    bk_idmap used_new;           /* blobs of the RAM part marked (snapshots during the prune) */
    bk_idmap snaps;              /* snapshots already walked */
    pack_acct *packs;            /* per map pack */
    uint64_t kept_late;
    bool commit;                 /* marking for the commit: rescue planned packs */
} pruner;

static bool bit(const uint8_t *v, uint64_t i)
{
    return v[i / 8] >> (i % 8) & 1;
}

static void set_bit(uint8_t *v, uint64_t i)
{
    v[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Mark blob id used; 1 if it was marked before (a tree: walked already).  In the commit, a
 * blob in a pack that is to go keeps that pack. */
static int mark(pruner *p, const bk_id *id, uint8_t kind)
{
    uint64_t pos;
    bk_index_entry e;
    int r = bk_index_map_find(p->idx, id, &pos, &e);
    p->m = p->idx->map;   /* made again if it was damaged */
    if (r == 0) {
        if (bit(p->used, pos))
            return 1;
        set_bit(p->used, pos);
        uint32_t no = e.pack;
        if (p->commit && p->packs[no].action != P_KEEP) {
            /* a snapshot written meanwhile uses it: it stays, under all its numbers */
            for (uint32_t k = 0; k < p->m->npacks; k++)
                if (p->packs[k].action != P_KEEP && bk_id_cmp(&p->m->packs[k], &p->m->packs[no]) == 0)
                    p->packs[k].action = P_KEEP;
            p->kept_late++;
        }
        return 0;
    }
    if (r != -ENOENT)
        return bk_repo_error(p->repo, r, "the local index file is damaged");
    if (!bk_index_lookup(p->idx, id, &e) || e.kind != kind) {
        char hex[BK_ID_HEX];
        bk_id_hex(id, hex);
        return bk_repo_error(p->repo, -EIO, "%s blob %s is used but not in the index: nothing "
                             "deleted (run arca check)", kind == BK_KIND_TREE ? "tree" : "data", hex);
    }
    r = bk_idmap_put(&p->used_new, id, NULL);
    return r < 0 ? r : r == 0;
}

/* A list blob of a file's content and, the first time it is seen, what it lists. */
static int mark_list(pruner *p, const bk_clist *l)
{
    int r = mark(p, &l->id, BK_KIND_TREE);
    if (r != 0)
        return r < 0 ? r : 0;   /* seen already */
    bk_content *v = NULL;
    size_t n = 0;
    r = bk_repo_load_clist(p->repo, l, &v, &n);
    for (size_t j = 0; r >= 0 && j < n; j++)
        if (!v[j].hole)
            r = mark(p, &v[j].id, BK_KIND_DATA);
    free(v);
    return r < 0 ? r : 0;
}

static int mark_tree(pruner *p, const bk_id *id)
{
    int r = mark(p, id, BK_KIND_TREE);
    if (r != 0)
        return r < 0 ? r : 0;   /* walked already */
    bk_tree t;
    if ((r = bk_repo_load_tree(p->repo, id, &t)) < 0)
        return r;
    for (size_t i = 0; r >= 0 && i < t.n; i++) {
        const bk_node *n = &t.nodes[i];
        if (n->type == BK_NODE_DIR)
            r = mark_tree(p, &n->subtree);
        for (size_t j = 0; r >= 0 && j < n->ncontent; j++)
            if (!n->content[j].hole)
                r = mark(p, &n->content[j].id, BK_KIND_DATA);
        for (size_t j = 0; r >= 0 && j < n->nlists; j++)
            r = mark_list(p, &n->lists[j]);
    }
    bk_tree_free(&t);
    return r < 0 ? r : 0;
}

/* The snapshots as they are now (none damaged: what a damaged one uses is unknown, and
 * freeing anything could lose its data).  List them before the index objects: a backup
 * writes its index objects before its snapshot, so every snapshot listed has its blobs in
 * the index objects listed after. */
static int list_snapshots(bk_repo *repo, bk_snapshot ***ret, size_t *ret_n)
{
    int r = bk_snapshots_list(repo, NULL, ret, ret_n);
    const char *const *bad;
    if (r == 0 && bk_snapshots_damaged(repo, &bad) > 0) {
        bk_snapshots_free(*ret, *ret_n);
        r = bk_repo_error(repo, -EBADMSG, "snapshot %.8s is damaged: prune cannot tell what it "
                          "uses (arca forget %.8s, or arca repair snapshots, first)", bad[0], bad[0]);
    }
    return r;
}

/* Mark what every snapshot of v not walked before uses (and free v); *ret_new counts them. */
static int mark_snapshots(pruner *p, bk_snapshot **v, size_t n, size_t *ret_new)
{
    size_t fresh = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        int k = bk_idmap_put(&p->snaps, &v[i]->id, NULL);
        if (k < 0)
            r = k;
        else if (k == 1) {
            fresh++;
            r = mark_tree(p, &v[i]->tree);
        }
    }
    if (v)
        bk_snapshots_free(v, n);
    if (ret_new)
        *ret_new = fresh;
    return r;
}

/* Per pack of the map: what it holds and what of it is used.  A blob stored twice counts as
 * used only where a lookup finds it (its first live entry); the other copy is unused. */
static int account(pruner *p)
{
    bk_imap *m = p->m;
    const uint64_t window = 1u << 18;
    for (uint64_t i = 0; i < m->n; i++) {
        if (i % window == 0) {
            if (bk_index_map_check(p->idx, i, i + window, false) < 0)
                return bk_repo_error(p->repo, -EBADMSG, "the local index file is damaged");
            m = p->m = p->idx->map;
            if (i)
                bk_imap_trim(m);   /* a scan need not keep what it has passed */
        }
        const bk_index_entry *e = &m->entries[i].e;
        pack_acct *a = &p->packs[e->pack];
        a->bytes += e->stored_len;
        a->blobs++;
        a->kind = e->kind;
        if (bit(p->used, i)) {
            a->used_bytes += e->stored_len;
            a->used_blobs++;
        }
    }
    bk_imap_trim(m);
    return 0;
}

static int by_pack_id(const void *a, const void *b, void *ctx)
{
    const bk_id *packs = ctx;
    return bk_id_cmp(&packs[*(const uint32_t *)a], &packs[*(const uint32_t *)b]);
}

/* A pack that several index objects list (what a killed prune leaves) has several numbers
 * in the map, and its used blobs are counted under whichever a lookup finds first: give
 * every number of a pack the counts of the pack, so that they all get the same fate. */
static int unify(pruner *p)
{
    bk_imap *m = p->m;
    uint32_t *order = malloc(((size_t)m->npacks + 1) * sizeof(*order));
    if (!order)
        return -ENOMEM;
    for (uint32_t i = 0; i < m->npacks; i++)
        order[i] = i;
    qsort_r(order, m->npacks, sizeof(*order), by_pack_id, (void *)m->packs);
    for (uint32_t i = 0; i < m->npacks;) {
        uint32_t j = i + 1;
        while (j < m->npacks && bk_id_cmp(&m->packs[order[i]], &m->packs[order[j]]) == 0)
            j++;
        if (j - i > 1) {
            pack_acct all = p->packs[order[i]];
            all.used_blobs = 0;
            all.used_bytes = 0;
            for (uint32_t k = i; k < j; k++) {
                const pack_acct *a = &p->packs[order[k]];
                all.used_blobs += a->used_blobs;
                all.used_bytes += a->used_bytes;
                all.blobs = BK_MAX(all.blobs, a->blobs);
                all.bytes = BK_MAX(all.bytes, a->bytes);
            }
            for (uint32_t k = i; k < j; k++)
                p->packs[order[k]] = all;
        }
        i = j;
    }
    free(order);
    return 0;
}

static void decide(pruner *p, double max_unused, uint64_t pack_target)
{
    bk_imap *m = p->m;
    /* small packs (the ends of runs: many tiny snapshots make many) are merged once there
     * are SMALL_PACKS of a kind: not sooner, since merging rewrites the index objects that
     * list them, and with them every host's cache of them */
    uint64_t small[3] = { 0 };
    for (uint32_t i = 0; i < m->npacks; i++) {
        pack_acct *a = &p->packs[i];
        if (a->used_blobs == 0)
            a->action = P_DELETE;
        else if ((double)(a->bytes - a->used_bytes) > max_unused * (double)a->bytes)
            a->action = P_REPACK;
        else if (a->bytes < pack_target / 4)
            small[a->kind == BK_KIND_TREE]++;
    }
    for (uint32_t i = 0; i < m->npacks; i++) {
        pack_acct *a = &p->packs[i];
        if (a->action == P_KEEP && a->bytes < pack_target / 4 && small[a->kind == BK_KIND_TREE] >= SMALL_PACKS)
            a->action = P_REPACK;
    }
}

/* Copy the used blobs of a map pack into the writer, still sealed: those whose used entry
 * is in this pack (a blob found in another pack is copied from there, or stays there). */
static int repack_one(pruner *p, bk_writer *w, uint32_t no)
{
    bk_repo *repo = p->repo;
    char hex[BK_ID_HEX];
    bk_id_hex(&p->m->packs[no], hex);
    uint64_t size;
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_stat(repo->be, BK_OBJ_DATA, hex, &size);
    if (r == 0)
        r = bk_be_get(repo->be, BK_OBJ_DATA, hex, 0, 0, &b);
    bk_pack_entry *e = NULL;
    size_t n = 0, need = 0;
    if (r == 0)
        r = bk_pack_parse_header(repo->keys, b.data, b.len, b.len, &e, &n, &need);
    if (r < 0) {
        bk_buf_free(&b);
        return bk_repo_error(repo, r, "cannot read data/%s to repack it: %s", hex,
                             r == -EBADMSG ? "it is damaged (arca repair)" : strerror(-r));
    }
    for (size_t j = 0; r >= 0 && j < n; j++) {
        uint64_t pos;
        bk_index_entry found;
        int k = bk_index_map_find(p->idx, &e[j].id, &pos, &found);
        p->m = p->idx->map;
        if (k == -EBADMSG)
            r = bk_repo_error(repo, k, "the local index file is damaged");
        if (k < 0 || !bit(p->used, pos) || found.pack != no)
            continue;
        r = bk_writer_add_sealed(w, e[j].kind, &e[j].id, b.data + e[j].offset, e[j].stored_len,
                                 e[j].raw_len);
    }
    free(e);
    bk_buf_free(&b);
    return r < 0 ? r : 0;
}

/* ---- packs in no index ------------------------------------------------------------------- */

typedef struct strays {
    bk_id *known;                /* the map's packs, sorted */
    size_t nknown;
    bk_index *idx;
    char **names;
    uint64_t *sizes;
    size_t n, cap;
    uint64_t bytes;
} strays;

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, BK_ID_LEN);
}

static int collect_stray(const char *name, uint64_t size, void *ctx)
{
    strays *s = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0 || bsearch(&id, s->known, s->nknown, sizeof(bk_id), id_cmp) ||
        bk_idmap_get(&s->idx->packmap, &id))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *v = realloc(s->sizes, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->sizes = v;
        s->cap = cap;
    }
    s->sizes[s->n] = size;
    s->bytes += size;
    size_t n = s->n;
    int r = bk_strv_push(&s->names, &n, name);
    s->n = n;
    return r;
}

/* Packs no index object lists now (the RAM part included: index objects that came since). */
static void strays_filter(strays *s)
{
    size_t k = 0;
    s->bytes = 0;
    for (size_t i = 0; i < s->n; i++) {
        bk_id id;
        if (bk_id_parse(s->names[i], &id) == 0 && bk_idmap_get(&s->idx->packmap, &id)) {
            free(s->names[i]);   /* a backup that ran meanwhile indexed it */
            continue;
        }
        s->bytes += s->sizes[i];
        s->sizes[k] = s->sizes[i];
        s->names[k++] = s->names[i];
    }
    s->n = k;
}

/* ---- the commit: index objects that lose packs -------------------------------------------- */

typedef struct rewriter {
    bk_repo *repo;
    const pruner *p;
    bk_index_pack *packs;        /* what stays of the objects read so far */
    size_t npacks, cap, blobs;
    bk_id *sup;                  /* the objects they replace */
    size_t nsup, supcap;
    bk_id *gone;                 /* every object replaced, to remove once all are written */
    size_t ngone, gonecap;
} rewriter;

static int flush_rewrite(rewriter *rw)
{
    if (rw->nsup == 0)
        return 0;
    bk_index_obj o = { rw->sup, rw->nsup, rw->packs, rw->npacks };
    bk_buf b = BK_BUF_INIT;
    int r = bk_index_obj_encode(&o, &b);
    if (r == 0)
        r = bk_repo_save_object(rw->repo, BK_OBJ_INDEX, BK_KIND_INDEX, b.data, b.len, NULL);
    bk_buf_free(&b);
    for (size_t i = 0; i < rw->npacks; i++)
        free(rw->packs[i].blobs);
    rw->npacks = rw->nsup = rw->blobs = 0;
    return r;
}

static int push_id(bk_id **v, size_t *n, size_t *cap, const bk_id *id)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        bk_id *nv = realloc(*v, c * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = *id;
    return 0;
}

/* Object o of the map lists a pack that goes: what else it lists goes to a new object. */
static int rewrite_object(rewriter *rw, const bk_imap_object *o)
{
    const pruner *p = rw->p;
    char hex[BK_ID_HEX];
    bk_id_hex(&o->id, hex);
    uint8_t *plain;
    size_t len;
    int r = bk_repo_load_object(rw->repo, BK_OBJ_INDEX, BK_KIND_INDEX, hex, &plain, &len);
    if (r == -ENOENT) {
        bk_repo_clear_error(rw->repo);   /* removed meanwhile: nothing to rewrite */
        return 0;
    }
    if (r < 0)
        return r;
    bk_index_obj obj;
    r = bk_index_obj_decode(plain, len, &obj);
    free(plain);
    if (r < 0)
        return bk_repo_error(rw->repo, r, "index/%s is malformed", hex);
    for (size_t i = 0; r == 0 && i < obj.npacks; i++) {
        /* its packs are the map's o->first_pack ... in the object's order */
        uint32_t no = o->first_pack + (uint32_t)i;
        if (i >= o->npacks || bk_id_cmp(&p->m->packs[no], &obj.packs[i].id) != 0) {
            r = bk_repo_error(rw->repo, -EBADMSG, "index/%s does not list what the local index "
                              "file says it does", hex);
            break;
        }
        if (p->packs[no].action != P_KEEP)
            continue;
        if (rw->npacks == rw->cap) {
            size_t c = rw->cap ? rw->cap * 2 : 64;
            bk_index_pack *v = realloc(rw->packs, c * sizeof(*v));
            if (!v) {
                r = -ENOMEM;
                break;
            }
            rw->packs = v;
            rw->cap = c;
        }
        rw->packs[rw->npacks++] = obj.packs[i];
        rw->blobs += obj.packs[i].n;
        obj.packs[i].blobs = NULL;
    }
    bk_index_obj_free(&obj);
    if (r == 0)
        r = push_id(&rw->sup, &rw->nsup, &rw->supcap, &o->id);
    if (r == 0)
        r = push_id(&rw->gone, &rw->ngone, &rw->gonecap, &o->id);
    if (r == 0 && rw->blobs >= 65536)
        r = flush_rewrite(rw);
    return r;
}

static int rewrite_index(pruner *p, uint64_t *ret_objects)
{
    rewriter rw = { .repo = p->repo, .p = p };
    int r = 0;
    for (uint32_t i = 0; r == 0 && i < p->m->nobjects; i++) {
        const bk_imap_object *o = &p->m->objects[i];
        bool loses = false;
        for (uint32_t k = 0; !loses && k < o->npacks; k++)
            loses = p->packs[o->first_pack + k].action != P_KEEP;
        if (loses)
            r = rewrite_object(&rw, o);
    }
    if (r == 0)
        r = flush_rewrite(&rw);
    bk_kill_point("prune-rewritten");
    /* every new object is written: now the old ones go */
    for (size_t i = 0; r == 0 && i < rw.ngone; i++) {
        char hex[BK_ID_HEX];
        bk_id_hex(&rw.gone[i], hex);
        int e = bk_be_remove(p->repo->be, BK_OBJ_INDEX, hex);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(p->repo, e, "cannot remove index/%s: %s", hex, strerror(-e));
    }
    *ret_objects = rw.ngone;
    for (size_t i = 0; i < rw.npacks; i++)
        free(rw.packs[i].blobs);
    free(rw.packs);
    free(rw.sup);
    free(rw.gone);
    return r;
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


int bk_prune(bk_repo *repo, const bk_prune_opts *opts, bk_prune_stats *ret)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "prune");
    bk_prune_stats st = { 0 };
    double t0 = bk_monotonic();
    double max_unused = opts && opts->max_unused >= 0 ? opts->max_unused : 0.05;
    bool dry = opts && opts->dry_run;
    pruner p = { .repo = repo, .idx = &repo->index };
    bk_idmap_init(&p.used_new, 0);
    bk_idmap_init(&p.snaps, 0);
    strays sy = { .idx = &repo->index };
    bk_writer *w = NULL;
    bool locked = false, was_locked = repo->locked;

    /* phase 1: plan.  Snapshots first, then the index: a backup writes its index objects
     * before its snapshot, so every snapshot listed has its blobs in the index read after. */
    int r = bk_repo_lock_prune(repo, true);
    bool prune_locked = r == 0;
    bk_snapshot **snaps = NULL;
    size_t nsnaps = 0;
    if (r == 0 && (r = list_snapshots(repo, &snaps, &nsnaps)) < 0)
        snaps = NULL;
    if (r == 0)
        r = bk_repo_load_index_full(repo);
    if (r == 0 && !repo->index.map)
        r = bk_repo_error(repo, -EIO, "prune needs the index file");
    /* prune reads the whole pack table: checked once, here */
    if (r == 0 && bk_index_map_check(&repo->index, 0, 0, true) < 0)
        r = bk_repo_error(repo, -EBADMSG, "the local index file is damaged");
    if (r == 0)
        p.m = repo->index.map;
    if (r == 0 && (!(p.used = calloc(p.m->n / 8 + 1, 1)) ||
                   !(p.packs = calloc((size_t)p.m->npacks + 1, sizeof(*p.packs)))))
        r = -ENOMEM;
    if (r == 0)
        r = mark_snapshots(&p, snaps, nsnaps, NULL);
    else if (snaps)
        bk_snapshots_free(snaps, nsnaps);
    if (r == 0)
        r = account(&p);
    if (r == 0)
        r = unify(&p);
    if (r == 0)
        decide(&p, max_unused, repo->config.pack_size);
    for (uint32_t i = 0; r == 0 && i < p.m->npacks; i++) {
        const pack_acct *a = &p.packs[i];
        st.packs++;
        st.blobs += a->blobs;
        st.bytes += a->bytes;
        st.blobs_used += a->used_blobs;
        st.bytes_used += a->used_bytes;
        st.packs_deleted += a->action == P_DELETE;
        st.packs_repacked += a->action == P_REPACK;
        if (a->action == P_REPACK)
            st.bytes_repacked += a->used_bytes;
    }
    /* the packs in no index, listed now: those still in none at the commit go */
    if (r == 0 && (sy.known = malloc(((size_t)p.m->npacks + 1) * sizeof(bk_id)))) {
        memcpy(sy.known, p.m->packs, (size_t)p.m->npacks * sizeof(bk_id));
        sy.nknown = p.m->npacks;
        qsort(sy.known, sy.nknown, sizeof(bk_id), id_cmp);
    } else if (r == 0) {
        r = -ENOMEM;
    }
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_DATA, collect_stray, &sy);
    if (r == 0 && dry) {
        for (uint32_t i = 0; i < p.m->npacks; i++)
            if (p.packs[i].action != P_KEEP)
                st.bytes_freed += p.packs[i].bytes - (p.packs[i].action == P_REPACK ? p.packs[i].used_bytes : 0);
        st.packs_unindexed = sy.n;
        st.bytes_freed += sy.bytes;
        r = temp_files(repo, false, &st);
    }
    if (r == 0 && !dry && st.packs_repacked) {
        r = bk_writer_new(repo, false, &w);
        for (uint32_t i = 0; r == 0 && i < p.m->npacks; i++)
            if (p.packs[i].action == P_REPACK)
                r = repack_one(&p, w, i);
        if (w) {
            int rf = bk_writer_finish(w);   /* the copies are stored and indexed */
            r = r ? r : rf;
        }
        bk_kill_point("prune-repacked");
    }
    if (r < 0 || dry)
        goto out;

    /* phase 2: commit, under the exclusive lock, as short as what changed meanwhile */
    if (was_locked)
        bk_repo_unlock(repo);
    r = bk_repo_lock(repo, true);
    locked = r == 0;
    double t_locked = bk_monotonic();
    size_t fresh = 0;
    if (r == 0 && (r = list_snapshots(repo, &snaps, &nsnaps)) == 0) {
        r = bk_repo_index_refresh(repo, NULL);   /* what backups indexed since the plan */
        p.commit = true;
        if (r == 0)
            r = mark_snapshots(&p, snaps, nsnaps, &fresh);
        else
            bk_snapshots_free(snaps, nsnaps);
    }
    st.snapshots_during = fresh;
    st.packs_kept_late = p.kept_late;
    uint64_t rewritten = 0;
    if (r == 0)
        r = rewrite_index(&p, &rewritten);
    if (r == 0) {
        strays_filter(&sy);
        for (size_t i = 0; r == 0 && i < sy.n; i++) {
            int e = bk_be_remove(repo->be, BK_OBJ_DATA, sy.names[i]);
            if (e < 0 && e != -ENOENT)
                r = bk_repo_error(repo, e, "cannot remove data/%s: %s", sy.names[i], strerror(-e));
            if (e == 0) {
                st.packs_unindexed++;
                st.bytes_freed += sy.sizes[i];
            }
        }
    }
    if (r == 0 && repo->be->ops->remove_strays) {
        size_t uncatalogued = 0;
        r = repo->be->ops->remove_strays(repo->be, &uncatalogued);
        if (r < 0)
            r = bk_repo_error(repo, r, "cannot remove uncatalogued objects: %s", strerror(-r));
        else if (uncatalogued)
            bk_repo_log(repo, BK_LOG_INFO, "removed %zu index and snapshot objects of failed "
                        "runs (stored, never catalogued)", uncatalogued);
    }
    if (r == 0)
        r = temp_files(repo, true, &st);
    if (locked) {
        bk_repo_unlock(repo);
        locked = false;
        st.locked_duration = bk_monotonic() - t_locked;
        if (was_locked && bk_repo_lock(repo, false) < 0)
            bk_repo_clear_error(repo);
    }
    bk_kill_point("prune-committed");
    /* no index object lists them now: a backup from here on cannot see them */
    st.packs_deleted = st.packs_repacked = 0;
    for (uint32_t i = 0; r == 0 && i < p.m->npacks; i++) {
        const pack_acct *a = &p.packs[i];
        if (a->action == P_KEEP)
            continue;
        char hex[BK_ID_HEX];
        bk_id_hex(&p.m->packs[i], hex);
        int e = bk_be_remove(repo->be, BK_OBJ_DATA, hex);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(repo, e, "cannot remove data/%s: %s", hex, strerror(-e));
        if (e == 0) {
            st.packs_deleted += a->action == P_DELETE;
            st.packs_repacked += a->action == P_REPACK;
            st.bytes_freed += a->bytes - (a->action == P_REPACK ? a->used_bytes : 0);
            bk_kill_point("prune-deleting");
        }
    }
out:
    if (locked)
        bk_repo_unlock(repo);
    if (prune_locked && bk_repo_lock_prune(repo, false) < 0)
        bk_repo_clear_error(repo);
    /* the handle's index is stale now */
    bk_repo_index_reset(repo);
    st.duration = bk_monotonic() - t0;
    if (ret)
        *ret = st;
    bk_writer_free(w);
    bk_strv_free(sy.names, sy.n);
    free(sy.sizes);
    free(sy.known);
    free(p.used);
    free(p.packs);
    bk_idmap_free(&p.used_new);
    bk_idmap_free(&p.snaps);
    return r;
}
