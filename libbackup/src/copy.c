/* copy.c - copy snapshots from one repository into another (arca copy).
 *
 * Each source snapshot is copied once: its key is the id of the snapshot it was first
 * made as (its "original", if it has one, else its own id), a copy records that key as its
 * original, and a snapshot whose key a destination snapshot has is there already.  Chains
 * (A to B, B to C) and repeated runs therefore copy nothing twice.
 *
 * The trees are walked depth first, next to a hint: the source tree and the destination
 * tree of the same path in an earlier snapshot that the destination has a complete copy
 * of (the parent, else the newest of the same host and paths).  A subtree whose id equals
 * the hint's source subtree is the hint's destination subtree, complete: it is not walked.
 * Nothing else is skipped because the destination has a tree: a killed run may have left
 * a tree indexed whose children are not (the writer indexes packs as they complete).
 *
 * When both repositories have the same keys and id function (init --copy-chunker-params),
 * blobs travel as stored: read from the source's packs in spans, authenticated (so that a
 * damaged source blob stops the copy with its name), and appended sealed to the
 * destination's packs.  Otherwise each blob is decoded, given its id under the
 * destination's keys and stored anew, and the trees are written again with the new ids;
 * the chunk boundaries stay those of the source.
 *
 * Crash safety is the writer's and the snapshots': a snapshot object is written only
 * after every blob it needs is stored and indexed, so a kill anywhere leaves blobs that no
 * snapshot names yet (the next run finds them in the index and does not copy them again)
 * and never a snapshot that names missing data. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"
#include "idmap.h"
#include "repo.h"
#include "snapshot.h"
#include "util.h"
#include "writer.h"

/* sealed blobs collected before their packs are read: this many stored bytes */
#define RAW_BATCH (64u << 20)
/* spans of a pack read at once: gaps up to this are read through, spans up to SPAN_MAX */
#define SPAN_GAP (1u << 20)
#define SPAN_MAX (32u << 20)
/* how far back in the source's snapshots to look for a hint of the same host and paths */
#define HINT_LOOKBACK 4096
/* the walked trees and the new ids of re-keyed blobs are caches: past this many entries
 * they are dropped at the next commit (then the hint of the next snapshot, or a walk that
 * finds every blob in the index, stands in), so that a run's memory stays bounded */
#define CACHE_MAX (1u << 22)

typedef struct raw_item {
    bk_id id;
    uint32_t pack, offset, stored_len, raw_len;
    uint8_t kind;
} raw_item;

typedef struct dst_snap {        /* what the destination has of a snapshot key */
    bk_id id, tree;
} dst_snap;

typedef struct pending {         /* walked, waiting for its blobs to be stored */
    const bk_snapshot *src;
    bk_id tree;
} pending;

typedef struct copier {
    bk_repo *dst, *src;
    const bk_copy_opts *o;
    bk_copy_stats *st;
    bool match;
    bool dry;
    bk_writer *w;
    bk_idmap queued;             /* blobs this run added since the last finish */
    bk_idmap trees;              /* source tree -> destination tree, complete this run */
    bk_idmap remap;              /* keys differ: source data blob -> destination id */
    bk_idmap have;               /* snapshot key -> dst_snap */
    bk_idmap src_pos;            /* source snapshot id -> its position in all (size_t) */
    bk_snapshot **all;           /* the source's snapshots, oldest first */
    size_t nall;
    raw_item *raw;
    size_t nraw, rawcap;
    uint64_t rawbytes;
    uint8_t *tmp;                /* authentication scratch */
    size_t tmpcap;
    pending *pend;
    size_t npend;
    uint64_t raw_since_finish;   /* plaintext bytes added since the last finish */
    uint64_t snaps_done, snaps_total;
    double t0, last_progress;
    char current[64];
} copier;

/* The error of the source handle, on the destination's (which the caller reports). */
static int src_fail(copier *c, int r)
{
    const char *m = bk_repo_errmsg(c->src);
    return bk_repo_error(c->dst, r, "source repository: %s", m[0] ? m : strerror(-r));
}

/* The source's index entry of blob id, which must be of kind; else an error that says so. */
static int src_entry(copier *c, uint8_t kind, const bk_id *id, bk_index_entry *e)
{
    if (bk_index_lookup(&c->src->index, id, e) && e->kind == kind)
        return 0;
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    return bk_repo_error(c->dst, -ENOENT, "source repository: %s blob %s is not in its "
                         "index (run check there)", kind == BK_KIND_TREE ? "tree" : "data", hex);
}

static const bk_id *snap_key(const bk_snapshot *s)
{
    return s->has_original ? &s->original : &s->id;
}

static void progress(copier *c, bool force)
{
    if (!c->o || !c->o->progress)
        return;
    double now = bk_monotonic();
    if (!force && now - c->last_progress < 0.2)
        return;
    c->last_progress = now;
    bk_writer_stats ws;
    bk_writer_stats_get(c->w, &ws);
    bk_progress p = {
        .files_done = c->snaps_done, .files_total = c->snaps_total,
        .bytes_done = c->st->bytes_read, .bytes_added = c->dry ? c->st->bytes_copied : ws.bytes_added,
        .current = c->current, .elapsed = now - c->t0,
    };
    c->o->progress(&p, c->o->progress_ud);
}

/* ---- blobs as stored (same keys) ----------------------------------------------------------- */

static bool dst_has(copier *c, const bk_id *id)
{
    bk_index_entry e;
    return bk_idmap_get(&c->queued, id) || bk_index_lookup(&c->dst->index, id, &e);
}

static int raw_cmp(const void *a, const void *b)
{
    const raw_item *x = a, *y = b;
    if (x->pack != y->pack)
        return x->pack < y->pack ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int add_span(copier *c, const bk_id *pack, const raw_item *v, size_t n)
{
    char hex[BK_ID_HEX], bhex[BK_ID_HEX];
    bk_id_hex(pack, hex);
    uint64_t start = v[0].offset, end = (uint64_t)v[n - 1].offset + v[n - 1].stored_len;
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(c->src->be, BK_OBJ_DATA, hex, start, (size_t)(end - start), &b);
    if (r < 0) {
        bk_buf_free(&b);
        return bk_repo_error(c->dst, r, "source repository: cannot read data/%s: %s", hex,
                             strerror(-r));
    }
    c->st->bytes_read += b.len;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const uint8_t *p = b.data + (v[i].offset - start);
        if (c->tmpcap < v[i].stored_len) {
            uint8_t *t = realloc(c->tmp, v[i].stored_len);
            if (!t) {
                r = -ENOMEM;
                break;
            }
            c->tmp = t;
            c->tmpcap = v[i].stored_len;
        }
        uint8_t enc;
        size_t plen;
        if (bk_unseal(c->src->keys, v[i].kind, &v[i].id, p, v[i].stored_len, c->tmp, &enc, &plen) < 0 ||
            (enc == BK_ENC_RAW && plen != v[i].raw_len)) {
            bk_id_hex(&v[i].id, bhex);
            r = bk_repo_error(c->dst, -EBADMSG, "source repository: %s blob %s in data/%s is "
                              "damaged (it does not authenticate); run check --read-data and "
                              "repair there", v[i].kind == BK_KIND_TREE ? "tree" : "data", bhex, hex);
            break;
        }
        r = bk_writer_add_sealed(c->w, v[i].kind, &v[i].id, p, v[i].stored_len, v[i].raw_len);
        if (r >= 0) {
            c->raw_since_finish += v[i].raw_len;
            r = 0;
        }
    }
    bk_buf_free(&b);
    return r;
}

/* Read the collected blobs from the source's packs, in spans, and add them sealed. */
static int flush_raw(copier *c)
{
    if (c->nraw == 0)
        return 0;
    qsort(c->raw, c->nraw, sizeof(raw_item), raw_cmp);
    int r = 0;
    for (size_t i = 0; r == 0 && i < c->nraw;) {
        size_t j = i + 1;
        uint64_t start = c->raw[i].offset;
        while (j < c->nraw && c->raw[j].pack == c->raw[i].pack &&
               c->raw[j].offset <= (uint64_t)c->raw[j - 1].offset + c->raw[j - 1].stored_len + SPAN_GAP &&
               (uint64_t)c->raw[j].offset + c->raw[j].stored_len - start <= SPAN_MAX)
            j++;
        bk_id pack;
        if ((r = bk_index_pack_id(&c->src->index, c->raw[i].pack, &pack)) < 0)
            return bk_repo_error(c->dst, r, "source repository: the local index file is damaged");
        r = add_span(c, &pack, c->raw + i, j - i);
        if (r == 0)
            r = bk_repo_check_interrupt(c->dst);
        progress(c, false);
        i = j;
    }
    c->nraw = 0;
    c->rawbytes = 0;
    return r;
}

/* A blob the destination needs as stored: collected unless it has it. */
static int want_raw(copier *c, uint8_t kind, const bk_id *id)
{
    if (dst_has(c, id))
        return 0;
    bk_index_entry e;
    int r = src_entry(c, kind, id, &e);
    if (r < 0)
        return r;
    if (bk_idmap_put(&c->queued, id, NULL) < 0)
        return -ENOMEM;
    if (c->dry) {
        c->st->blobs_copied++;
        c->st->bytes_copied += e.stored_len;
        return 0;
    }
    if (c->nraw == c->rawcap) {
        size_t nc = c->rawcap ? c->rawcap * 2 : 1024;
        raw_item *v = realloc(c->raw, nc * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->raw = v;
        c->rawcap = nc;
    }
    c->raw[c->nraw++] = (raw_item){ .id = *id, .pack = e.pack, .offset = e.offset,
                                    .stored_len = e.stored_len, .raw_len = e.raw_len, .kind = kind };
    c->rawbytes += e.stored_len;
    return c->rawbytes >= RAW_BATCH ? flush_raw(c) : 0;
}

static int content_raw(copier *c, const bk_node *n)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < n->ncontent; i++)
        if (!n->content[i].hole)
            r = want_raw(c, BK_KIND_DATA, &n->content[i].id);
    /* a list's pieces are checked even when the destination has the list: a killed run may
     * have stored the list and not all of them */
    for (size_t l = 0; r == 0 && l < n->nlists; l++) {
        bk_content *v = NULL;
        size_t nv = 0;
        r = bk_repo_load_clist(c->src, &n->lists[l], &v, &nv);
        if (r < 0)
            r = src_fail(c, r);
        for (size_t i = 0; r == 0 && i < nv; i++)
            if (!v[i].hole)
                r = want_raw(c, BK_KIND_DATA, &v[i].id);
        free(v);
        if (r == 0)
            r = want_raw(c, BK_KIND_TREE, &n->lists[l].id);
    }
    return r;
}

/* ---- blobs decoded and stored again (keys differ) -------------------------------------------- */

static int map_data(copier *c, bk_id *id)
{
    bk_id *known = bk_idmap_get(&c->remap, id);
    if (known) {
        *id = *known;
        return 0;
    }
    bk_index_entry e;
    int r = src_entry(c, BK_KIND_DATA, id, &e);
    if (r < 0)
        return r;
    bk_id src = *id, nid = src;
    if (c->dry) {
        /* what would be read; whether the destination has it is known only by reading */
        c->st->blobs_copied++;
        c->st->bytes_copied += e.stored_len;
    } else {
        uint8_t *p;
        size_t n;
        if ((r = bk_repo_load_blob(c->src, BK_KIND_DATA, &src, &p, &n)) < 0)
            return src_fail(c, r);
        c->st->bytes_read += e.stored_len;
        r = bk_blob_id(c->dst->keys, p, n, &nid);
        if (r == 0)
            r = bk_writer_add(c->w, BK_KIND_DATA, &nid, p, n);
        free(p);
        if (r < 0)
            return r;
        c->raw_since_finish += r == 1 ? n : 0;
        progress(c, false);
    }
    void *slot;
    if ((r = bk_idmap_put(&c->remap, &src, &slot)) < 0)
        return -ENOMEM;
    memcpy(slot, &nid, sizeof(nid));
    *id = nid;
    return 0;
}

static int content_rewrite(copier *c, bk_node *n)
{
    int r = bk_repo_node_load_content(c->src, n);
    if (r < 0)
        return src_fail(c, r);
    for (size_t i = 0; r == 0 && i < n->ncontent; i++)
        if (!n->content[i].hole)
            r = map_data(c, &n->content[i].id);
    if (r < 0)
        return r;
    free(n->lists);
    n->lists = NULL;
    n->nlists = 0;
    return bk_cdc_to_lists(c->dst->keys, c->w, n);
}

/* Keys differ: n is unchanged since the hint (a in the source, b its copy): b's content. */
static int content_from_hint(bk_node *n, const bk_node *b)
{
    bk_node t;
    int r = bk_node_copy(b, &t);
    if (r < 0)
        return r;
    free(n->content);
    free(n->lists);
    n->content = t.content;
    n->ncontent = t.ncontent;
    n->lists = t.lists;
    n->nlists = t.nlists;
    t.content = NULL;
    t.lists = NULL;
    t.ncontent = t.nlists = 0;
    bk_node_clear(&t);
    return 0;
}

/* ---- trees ---------------------------------------------------------------------------------- */

static int load_hint(copier *c, const bk_id *hs, const bk_id *hd, bk_tree *ts, bk_tree *td)
{
    if (bk_repo_load_tree(c->src, hs, ts) < 0) {
        bk_repo_clear_error(c->src);
        return -1;
    }
    if (c->match && bk_id_cmp(hs, hd) == 0)
        return 0;
    if (bk_repo_load_tree(c->dst, hd, td) < 0) {
        bk_repo_clear_error(c->dst);
        bk_tree_free(ts);
        return -1;
    }
    return 1;
}

/* Copy the tree sid (and what it needs) into the destination; *ret its id there.  hs, hd:
 * the hint's trees at this path (source, destination), or NULL. */
static int copy_tree(copier *c, const bk_id *sid, const bk_id *hs, const bk_id *hd, bk_id *ret)
{
    if (hs && bk_id_cmp(sid, hs) == 0) {
        *ret = *hd;
        c->st->trees_reused++;
        return 0;
    }
    bk_id *done = bk_idmap_get(&c->trees, sid);
    if (done) {
        *ret = *done;
        return 0;
    }
    int r = bk_repo_check_interrupt(c->dst);
    if (r < 0)
        return r;
    bk_tree t, ts = { 0 }, td = { 0 };
    if ((r = bk_repo_load_tree(c->src, sid, &t)) < 0)
        return src_fail(c, r);
    int h = hs ? load_hint(c, hs, hd, &ts, &td) : -1;
    const bk_tree *hsrc = h >= 0 ? &ts : NULL, *hdst = h > 0 ? &td : hsrc;
    for (size_t i = 0; r == 0 && i < t.n; i++) {
        bk_node *n = &t.nodes[i];
        const bk_node *a = hsrc ? bk_tree_find(hsrc, n->name, n->name_len) : NULL;
        const bk_node *b = hdst ? bk_tree_find(hdst, n->name, n->name_len) : NULL;
        bool hinted = a && b && a->type == n->type && b->type == n->type;
        if (n->type == BK_NODE_DIR) {
            r = copy_tree(c, &n->subtree, hinted ? &a->subtree : NULL, hinted ? &b->subtree : NULL,
                          &n->subtree);
        } else if (n->type == BK_NODE_FILE) {
            if (hinted && bk_node_content_equal(n, a))   /* the hint's copy has it all */
                r = c->match ? 0 : content_from_hint(n, b);
            else
                r = c->match ? content_raw(c, n) : content_rewrite(c, n);
        }
    }
    if (r == 0 && c->match) {
        r = want_raw(c, BK_KIND_TREE, sid);
        *ret = *sid;
    } else if (r == 0) {
        bk_buf b = BK_BUF_INIT;
        r = bk_tree_encode(t.nodes, t.n, &b);
        if (r == 0)
            r = bk_blob_id(c->dst->keys, b.data, b.len, ret);
        if (r == 0)
            r = bk_writer_add(c->w, BK_KIND_TREE, ret, b.data, b.len);
        bk_buf_free(&b);
        r = r < 0 ? r : 0;
    }
    bk_tree_free(&t);
    bk_tree_free(&ts);
    bk_tree_free(&td);
    void *slot;
    if (r == 0 && (r = bk_idmap_put(&c->trees, sid, &slot)) >= 0) {
        memcpy(slot, ret, sizeof(*ret));
        r = 0;
    }
    progress(c, false);
    return r;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/* The hint of s: its parent's copy, else the copy of the newest earlier snapshot of the
 * same host and paths that the destination has. */
static const dst_snap *find_hint(copier *c, const bk_snapshot *s, const bk_snapshot **ret_src)
{
    size_t *pos;
    if (s->has_parent && (pos = bk_idmap_get(&c->src_pos, &s->parent))) {
        const dst_snap *d = bk_idmap_get(&c->have, snap_key(c->all[*pos]));
        if (d) {
            *ret_src = c->all[*pos];
            return d;
        }
    }
    pos = bk_idmap_get(&c->src_pos, &s->id);
    size_t at = pos ? *pos : c->nall;
    for (size_t k = 0; at > 0 && k < HINT_LOOKBACK; k++) {
        const bk_snapshot *q = c->all[--at];
        if (strcmp(q->host, s->host) != 0 || !bk_strv_eq(q->paths, q->npaths, s->paths, s->npaths))
            continue;
        const dst_snap *d = bk_idmap_get(&c->have, snap_key(q));
        if (d) {
            *ret_src = q;
            return d;
        }
    }
    return NULL;
}

static int remember(copier *c, const bk_id *key, const bk_id *id, const bk_id *tree)
{
    void *slot;
    int r = bk_idmap_put(&c->have, key, &slot);
    if (r < 0)
        return -ENOMEM;
    dst_snap d = { *id, *tree };
    memcpy(slot, &d, sizeof(d));
    return 0;
}

static void report(copier *c, const bk_snapshot *s, const bk_id *dst_id, int status)
{
    if (c->o && c->o->on_snapshot)
        c->o->on_snapshot(s, dst_id, status, c->o->ud);
}

/* A cache of source ids -> destination ids (trees, remap), dropped past CACHE_MAX. */
static void trim_cache(bk_idmap *m)
{
    if (m->count > CACHE_MAX) {
        bk_idmap_free(m);
        bk_idmap_init(m, sizeof(bk_id));
    }
}

/* Store what is pending, then the snapshot objects of the walked snapshots, in order. */
static int commit(copier *c)
{
    int r = flush_raw(c);
    if (r == 0 && !c->dry) {
        bk_kill_point("copy-blobs");   /* full packs are stored, none indexed yet */
        r = bk_writer_finish(c->w);
    }
    if (r < 0)
        return r;
    if (!c->dry) {   /* indexed now: the index answers for them */
        bk_idmap_free(&c->queued);
        bk_idmap_init(&c->queued, 0);
        trim_cache(&c->trees);
        trim_cache(&c->remap);
    }
    c->raw_since_finish = 0;
    if (c->npend && !c->dry)
        bk_kill_point("copy-indexed");
    for (size_t i = 0; r == 0 && i < c->npend; i++) {
        const bk_snapshot *s = c->pend[i].src;
        if (c->dry) {
            report(c, s, NULL, BK_COPY_WOULD_COPY);
            continue;
        }
        bk_snapshot *d;
        if ((r = bk_snapshot_dup(s, &d)) < 0)
            break;
        d->tree = c->pend[i].tree;
        d->has_original = true;
        d->original = *snap_key(s);
        d->has_key_slot = bk_id_parse(c->dst->key_id, &d->key_slot) == 0;   /* the copier's */
        /* the parent, if the destination has its copy (else none: it would name nothing) */
        size_t *pos = s->has_parent ? bk_idmap_get(&c->src_pos, &s->parent) : NULL;
        const dst_snap *pd = pos ? bk_idmap_get(&c->have, snap_key(c->all[*pos])) : NULL;
        d->has_parent = pd != NULL;
        if (pd)
            d->parent = pd->id;
        r = bk_repo_save_snapshot(c->dst, d);
        if (r == 0)
            r = remember(c, snap_key(s), &d->id, &d->tree);
        if (r == 0) {
            c->st->snapshots_copied++;
            report(c, s, &d->id, BK_COPY_COPIED);
            bk_kill_point("copy-snapshot");
        }
        bk_snapshot_free(d);
    }
    c->npend = 0;
    return r;
}

static int copy_one(copier *c, const bk_snapshot *s)
{
    char hex[BK_ID_HEX];
    bk_id_hex(&s->id, hex);
    snprintf(c->current, sizeof(c->current), "snapshot %.8s", hex);
    const bk_snapshot *hsnap = NULL;
    const dst_snap *hint = find_hint(c, s, &hsnap);
    bk_id root;
    int r = copy_tree(c, &s->tree, hint ? &hsnap->tree : NULL, hint ? &hint->tree : NULL, &root);
    if (r < 0)
        return r;
    c->pend[c->npend++] = (pending){ s, root };
    c->snaps_done++;
    /* snapshots are written in batches of about a pack's worth of new data, so that a copy
     * of many small snapshots does not end a pack for each */
    if (c->raw_since_finish + c->rawbytes >= c->dst->config.pack_size || c->dry)
        return commit(c);
    return 0;
}

bool bk_repo_keys_match(const bk_repo *a, const bk_repo *b)
{
    return a->keys && b->keys && !a->keys->backup_only && !b->keys->backup_only &&
           a->config.id_hash == b->config.id_hash &&
           sodium_memcmp(a->keys->master, b->keys->master, BK_KEY_LEN) == 0;
}

static int prepare(copier *c)
{
    bk_repo *dst = c->dst, *src = c->src;
    int r = bk_repo_load_index(dst);
    if (r < 0)
        return r;
    if ((r = bk_repo_load_index(src)) < 0)
        return src_fail(c, r);
    if ((r = bk_snapshots_list(src, NULL, &c->all, &c->nall)) < 0)
        return src_fail(c, r);
    for (size_t i = 0; i < c->nall; i++) {
        void *slot;
        if (bk_idmap_put(&c->src_pos, &c->all[i]->id, &slot) < 0)
            return -ENOMEM;
        memcpy(slot, &i, sizeof(i));
    }
    bk_snapshot **have;
    size_t nhave;
    if ((r = bk_snapshots_list(dst, NULL, &have, &nhave)) < 0)
        return r;
    for (size_t i = 0; r == 0 && i < nhave; i++)
        r = remember(c, snap_key(have[i]), &have[i]->id, &have[i]->tree);
    bk_snapshots_free(have, nhave);
    return r;
}

int bk_copy(bk_repo *dst, bk_repo *src, bk_snapshot *const *snaps, size_t n, const bk_copy_opts *o,
            bk_copy_stats *ret)
{
    if (bk_repo_backup_only(dst) || bk_repo_backup_only(src))
        return bk_repo_need_full_key(dst, "copy (on either side)");
    bk_copy_stats st = { 0 };
    copier c = { .dst = dst, .src = src, .o = o, .st = &st, .dry = o && o->dry_run };
    c.t0 = bk_monotonic();
    c.match = st.keys_match = bk_repo_keys_match(dst, src);
    bk_idmap_init(&c.queued, 0);
    bk_idmap_init(&c.trees, sizeof(bk_id));
    bk_idmap_init(&c.remap, sizeof(bk_id));
    bk_idmap_init(&c.have, sizeof(dst_snap));
    bk_idmap_init(&c.src_pos, sizeof(size_t));
    const bk_snapshot **todo = calloc(n ? n : 1, sizeof(*todo));
    c.pend = calloc(n ? n : 1, sizeof(*c.pend));
    int r = todo && c.pend ? prepare(&c) : -ENOMEM;
    if (r == 0)
        r = bk_writer_new(dst, c.dry, &c.w);
    /* oldest first, each once (sorted by time, then id: the same one twice is adjacent),
     * so that a parent's copy exists before its child's */
    size_t ntodo = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        todo[i] = snaps[i];
    if (r == 0 && n) {
        bk_snapshots_sort((bk_snapshot **)todo, n);
        ntodo = 1;
        for (size_t i = 1; i < n; i++)
            if (bk_id_cmp(&todo[i]->id, &todo[ntodo - 1]->id) != 0)
                todo[ntodo++] = todo[i];
    }
    for (size_t i = 0; r == 0 && i < ntodo; i++) {
        const dst_snap *d = bk_idmap_get(&c.have, snap_key(todo[i]));
        if (d) {
            st.snapshots_present++;
            report(&c, todo[i], &d->id, BK_COPY_PRESENT);
        } else {
            c.snaps_total++;
        }
    }
    for (size_t i = 0; r == 0 && i < ntodo; i++)
        if (!bk_idmap_get(&c.have, snap_key(todo[i])))
            r = copy_one(&c, todo[i]);
    if (r == 0)
        r = commit(&c);
    progress(&c, true);
    if (!c.dry && c.w) {
        bk_writer_stats ws;
        bk_writer_stats_get(c.w, &ws);
        st.blobs_copied = ws.blobs_added;
        st.bytes_copied = ws.bytes_added;
    }
    bk_writer_free(c.w);
    bk_snapshots_free(c.all, c.nall);
    bk_idmap_free(&c.queued);
    bk_idmap_free(&c.trees);
    bk_idmap_free(&c.remap);
    bk_idmap_free(&c.have);
    bk_idmap_free(&c.src_pos);
    free(c.raw);
    free(c.tmp);
    free(c.pend);
    free(todo);
    st.duration = bk_monotonic() - c.t0;
    if (ret)
        *ret = st;
    return r;
}
