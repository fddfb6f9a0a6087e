/* repair.c - arca repair: rebuild what can be rebuilt from what is left.
 *
 * config     A lost or damaged config is made again: the chunker profile the snapshots
 *            recorded (so that new backups deduplicate against the old ones), the default
 *            pack size and compression, a new id (which only names the cache).
 * index      Every pack's header is read (with read_data every blob is decrypted and
 *            re-hashed too).  Blobs of packs whose header is damaged, or that hold corrupt
 *            blobs, are copied as they are into new packs (found through the old index,
 *            or in the local cache for trees); then one new index that lists exactly what
 *            the packs hold replaces every index object, and the damaged packs go.  A
 *            blob that is gone is no longer indexed, so the next backup stores it again
 *            (which also heals the old snapshots that name it: ids are content).
 * snapshots  A damaged snapshot object is put back from a valid cached copy, or (forget)
 *            removed.  A snapshot whose trees name blobs that are gone is saved again
 *            without the lost files and directories (each is named), tagged "repaired",
 *            with the old id as its "original"; forget removes the old one.
 *
 * Everything runs under the exclusive lock and the prune lock.  Write order keeps a killed
 * repair harmless: new packs and their index first, then the new index, then the removal
 * of the old index objects and of the damaged packs; new trees before new snapshots. */
#include <stdarg.h>
#include <stdio.h>

#include "cache.h"
#include "snapshot.h"
#include "util.h"
#include "writer.h"

typedef struct pack_info {
    bk_id id;
    uint64_t size;
    bk_pack_entry *blobs;        /* what it holds, good blobs only once checked */
    size_t n;
    bool damaged;                /* header or some blob: its good blobs move to new packs */
    bool gone;                   /* listed, but not there (a RADOS catalog's stale entry) */
} pack_info;

typedef struct repairer {
    bk_repo *repo;
    const bk_repair_opts *o;
    bk_repair_stats *st;
    bk_zctx *z;
    pack_info *packs;
    size_t npacks, cap;
    bk_idmap packmap;            /* pack id -> position */
    bk_index old;                /* what the index objects said */
    char **index_names;          /* index objects there were */
    size_t nindex;
    bk_writer *w;
} repairer;

static void lost(repairer *rp, const char *fmt, ...) BK_PRINTF(2, 3);
static void lost(repairer *rp, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bk_repo_log(rp->repo, BK_LOG_WARNING, "%s", msg);
}

static bool dry(const repairer *rp)
{
    return rp->o->dry_run;
}

/* ---- config ------------------------------------------------------------------------------- */

struct sizes {
    uint64_t *v;
    size_t n, cap;
};

static int pack_size_of(const char *name, uint64_t size, void *ctx)
{
    struct sizes *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = size;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int repair_config(repairer *rp)
{
    bk_repo *repo = rp->repo;
    if (!repo->config_lost)
        return 0;
    /* the file profile: what the newest snapshot of files (not only streams) recorded */
    bk_snapshot **v;
    size_t n;
    int r = bk_snapshots_list(repo, NULL, &v, &n);
    if (r < 0)
        return r;
    bk_config *c = &repo->config;
    const bk_snapshot *best = NULL;
    for (size_t i = n; i-- > 0 && !best;) {
        /* streams have no directories; the database dumps their own small profile */
        const bk_snapshot *s = v[i];
        if (s->has_summary && s->summary.total_dirs > 0 &&
            bk_chunker_check_params(s->chunk_min, s->chunk_avg, s->chunk_max) == 0)
            best = s;
    }
    if (best) {
        c->chunk_min = best->chunk_min;
        c->chunk_avg = best->chunk_avg;
        c->chunk_max = best->chunk_max;
    }
    /* the pack size: a pack is closed once it reaches it, with less than a chunk more, so
     * the power of two below the median pack is it (for the usual powers of two) */
    struct sizes sz = { 0 };
    r = bk_be_list(repo->be, BK_OBJ_DATA, pack_size_of, &sz);
    if (r < 0) {
        free(sz.v);
        bk_snapshots_free(v, n);
        return bk_repo_error(repo, r, "cannot list the packs: %s", strerror(-r));
    }
    if (sz.n) {
        qsort(sz.v, sz.n, sizeof(*sz.v), cmp_u64);
        uint64_t median = sz.v[sz.n / 2], p = BK_PACK_SIZE_MIN;
        while (p * 2 <= median && p * 2 <= BK_PACK_SIZE_MAX)
            p *= 2;
        if (median >= BK_PACK_SIZE_MIN)
            c->pack_size = (uint32_t)p;
    }
    free(sz.v);
    bk_snapshots_free(v, n);
    bk_repo_log(repo, BK_LOG_WARNING, "config is lost or damaged: %s a new one (chunker "
                "%u/%u/%u, pack size %u, compression %d, ids %s)", dry(rp) ? "would write" :
                "writing", c->chunk_min, c->chunk_avg, c->chunk_max, c->pack_size, c->compression,
                c->id_hash == BK_ID_HASH_HMAC_SHA256 ? "HMAC-SHA-256" : "BLAKE2b");
    rp->st->config_rewritten = true;
    if (dry(rp))
        return 0;
    r = bk_be_remove(repo->be, BK_OBJ_CONFIG, "config");
    if (r < 0 && r != -ENOENT)
        return bk_repo_error(repo, r, "cannot remove the damaged config: %s", strerror(-r));
    r = bk_repo_save_config(repo);
    if (r < 0)
        return r;
    repo->config_lost = false;
    return bk_chunker_init(&repo->chunker, repo->keys->gear, c->chunk_min, c->chunk_avg,
                           c->chunk_max);
}

/* ---- the old index, object by object ---------------------------------------------------- */

static int read_old_index(const char *name, uint64_t size, void *ctx)
{
    repairer *rp = ctx;
    bk_repo *repo = rp->repo;
    bk_id id;
    if (bk_id_parse(name, &id) < 0)
        return 0;
    int r = bk_strv_push(&rp->index_names, &rp->nindex, name);
    if (r < 0)
        return r;
    uint8_t *plain;
    size_t len;
    r = bk_repo_load_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, name, &plain, &len);
    if (r == 0) {
        r = bk_index_merge_plain(&rp->old, plain, len);
        free(plain);
        if (r == 0)
            return 0;
        if (r == -ENOMEM)
            return r;
        bk_repo_error(repo, r, "index/%s is malformed", name);
    }
    if (r == -ENOMEM || r == -EINTR)
        return r;
    rp->st->index_damaged++;
    /* damaged: what it said may still be in the local cache */
    bk_buf b = BK_BUF_INIT;
    bool from_cache = bk_cache_get_copy(repo, "index", name, &b) == 0 &&
                      bk_repo_open_object(repo, BK_KIND_INDEX, b.data, b.len, rp->z, &plain, &len) == 0;
    bk_buf_free(&b);
    if (from_cache) {
        r = bk_index_merge_plain(&rp->old, plain, len);
        free(plain);
        if (r == -ENOMEM)
            return r;
    }
    bk_repo_log(repo, BK_LOG_WARNING, "%s%s", bk_repo_errmsg(repo),
                from_cache ? " (its valid copy in the local cache is used)" : "");
    bk_repo_clear_error(repo);
    return 0;
}

/* ---- packs ------------------------------------------------------------------------------------ */

static int add_pack(repairer *rp, const bk_id *id, uint64_t size, pack_info **ret)
{
    size_t *pos;
    int r = bk_idmap_put(&rp->packmap, id, (void **)&pos);
    if (r < 0)
        return r;
    if (r == 0) {
        *ret = &rp->packs[*pos];
        return 0;
    }
    if (rp->npacks == rp->cap) {
        size_t cap = rp->cap ? rp->cap * 2 : 256;
        pack_info *v = realloc(rp->packs, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        rp->packs = v;
        rp->cap = cap;
    }
    *pos = rp->npacks;
    pack_info *p = &rp->packs[rp->npacks++];
    memset(p, 0, sizeof(*p));
    p->id = *id;
    p->size = size;
    *ret = p;
    return 0;
}

static int list_pack(const char *name, uint64_t size, void *ctx)
{
    repairer *rp = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0)
        return 0;
    pack_info *p;
    return add_pack(rp, &id, size, &p);
}

/* The entries the old index has for pack p, sorted by offset. */
static int entries_from_index(repairer *rp, const pack_info *p, bk_pack_entry **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    uint32_t *no = bk_idmap_get(&rp->old.packmap, &p->id);
    if (!no)
        return 0;
    size_t pos = 0, n = 0, cap = 0;
    const bk_id *id;
    void *v;
    bk_pack_entry *out = NULL;
    while (bk_idmap_next(&rp->old.blobs, &pos, &id, &v)) {
        const bk_index_entry *e = v;
        if (e->pack != *no)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            bk_pack_entry *nv = realloc(out, cap * sizeof(*nv));
            if (!nv) {
                free(out);
                return -ENOMEM;
            }
            out = nv;
        }
        out[n++] = (bk_pack_entry){ *id, e->kind, e->offset, e->stored_len, e->raw_len };
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

/* Keep the blobs of e[0..n) that decode from the pack's bytes (data, len); the others are
 * corrupt (or beyond a truncation).  Returns how many were dropped. */
static size_t keep_good(repairer *rp, const pack_info *p, const uint8_t *data, uint64_t len,
                        bk_pack_entry *e, size_t *n)
{
    size_t k = 0, dropped = 0;
    char hex[BK_ID_HEX], bhex[BK_ID_HEX];
    bk_id_hex(&p->id, hex);
    for (size_t i = 0; i < *n; i++) {
        bool ok = (uint64_t)e[i].offset + e[i].stored_len <= len;
        if (ok) {
            uint8_t *out = malloc(e[i].raw_len ? e[i].raw_len : 1);
            ok = out && bk_blob_decode(rp->repo->keys, rp->z, e[i].kind, &e[i].id,
                                       data + e[i].offset, e[i].stored_len, out, e[i].raw_len) == 0;
            free(out);
        }
        if (ok) {
            e[k++] = e[i];
        } else {
            dropped++;
            bk_id_hex(&e[i].id, bhex);
            bk_repo_log(rp->repo, BK_LOG_WARNING, "pack %s: %s blob %s is corrupt", hex,
                        e[i].kind == BK_KIND_TREE ? "tree" : "data", bhex);
        }
    }
    *n = k;
    return dropped;
}

/* Read pack p's header (read_data: all of it, and check every blob). */
static int examine_pack(repairer *rp, pack_info *p)
{
    bk_repo *repo = rp->repo;
    char hex[BK_ID_HEX];
    bk_id_hex(&p->id, hex);
    bool full = rp->o->read_data;
    bk_buf b = BK_BUF_INIT;
    uint64_t tail = full ? p->size : BK_MIN(p->size, (uint64_t)BK_PACK_TAIL_GUESS);
    int r = bk_be_get(repo->be, BK_OBJ_DATA, hex, p->size - tail, (size_t)tail, &b);
    size_t need = 0;
    if (r == 0) {
        r = bk_pack_parse_header(repo->keys, b.data, b.len, p->size, &p->blobs, &p->n, &need);
        if (r == -EAGAIN) {
            b.len = 0;
            r = bk_be_get(repo->be, BK_OBJ_DATA, hex, p->size - need, need, &b);
            if (r == 0)
                r = bk_pack_parse_header(repo->keys, b.data, b.len, p->size, &p->blobs, &p->n, &need);
        }
    }
    if (r == -ENOENT) {
        p->gone = true;
        bk_buf_free(&b);
        return 0;
    }
    if (r < 0 && r != -EBADMSG && r != -ENODATA) {
        bk_buf_free(&b);
        return bk_repo_error(repo, r, "cannot read data/%s: %s", hex, strerror(-r));
    }
    rp->st->packs++;
    if (r < 0) {
        /* the header is damaged: the old index says where its blobs are */
        p->damaged = true;
        r = entries_from_index(rp, p, &p->blobs, &p->n);
        bk_repo_log(repo, BK_LOG_WARNING, "pack %s: its header is damaged; %s", hex,
                    p->n ? "its blobs are taken from where the index says they are"
                         : "no index describes it, its blobs are lost");
        if (r < 0 || p->n == 0) {
            bk_buf_free(&b);
            return r;
        }
        full = true;
        /* the listed size may be a catalog's (RADOS) from before the damage: ask the pack */
        uint64_t real;
        bool resized = bk_be_stat(repo->be, BK_OBJ_DATA, hex, &real) == 0 && real != p->size;
        if (resized)
            p->size = real;
        if (resized || b.len != p->size) {
            b.len = 0;
            r = bk_be_get(repo->be, BK_OBJ_DATA, hex, 0, (size_t)p->size, &b);
            if (r < 0) {
                bk_buf_free(&b);
                return bk_repo_error(repo, r, "cannot read data/%s: %s", hex, strerror(-r));
            }
        }
    }
    if (full) {
        rp->st->packs_read++;
        size_t bad = keep_good(rp, p, b.data, b.len, p->blobs, &p->n);
        rp->st->blobs_corrupt += bad;
        p->damaged |= bad > 0;
    }
    bk_buf_free(&b);
    rp->st->packs_damaged += p->damaged;
    return 0;
}

/* Copy the good blobs of a damaged pack, as they are, into new packs. */
static int salvage(repairer *rp, const pack_info *p)
{
    char hex[BK_ID_HEX];
    bk_id_hex(&p->id, hex);
    bk_buf b = BK_BUF_INIT;
    int r = 0;
    for (size_t i = 0; r == 0 && i < p->n; i++) {
        b.len = 0;
        r = bk_be_get(rp->repo->be, BK_OBJ_DATA, hex, p->blobs[i].offset, p->blobs[i].stored_len, &b);
        if (r == 0)
            r = bk_writer_add_sealed(rp->w, p->blobs[i].kind, &p->blobs[i].id, b.data, b.len,
                                     p->blobs[i].raw_len);
        r = r < 0 ? r : 0;
        rp->st->blobs_salvaged++;
    }
    bk_buf_free(&b);
    return r;
}

/* A tree blob that no pack holds intact: a valid copy in the cache goes to a new pack. */
static int tree_from_cache(repairer *rp, const bk_id *id, const bk_index_entry *e)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    bk_buf b = BK_BUF_INIT;
    bool off = rp->repo->no_cache;
    rp->repo->no_cache = false;
    int r = bk_cache_get(rp->repo, "trees", hex, &b);
    rp->repo->no_cache = off;
    if (r == 0) {
        uint8_t *out = malloc(e->raw_len ? e->raw_len : 1);
        r = out ? bk_blob_decode(rp->repo->keys, rp->z, BK_KIND_TREE, id, b.data, b.len, out,
                                 e->raw_len) : -ENOMEM;
        free(out);
    }
    if (r == 0 && !dry(rp)) {
        r = bk_writer_add_sealed(rp->w, BK_KIND_TREE, id, b.data, b.len, e->raw_len);
        r = r < 0 ? r : 0;
    }
    bk_buf_free(&b);
    return r;
}

/* A new index listing exactly what the good packs hold, superseding every old object. */
static int write_index(repairer *rp, const bk_id *sup, size_t nsup)
{
    bk_index_obj o = { 0 };
    o.supersedes = (bk_id *)sup;
    o.nsupersedes = nsup;
    o.packs = calloc(rp->npacks + 1, sizeof(*o.packs));
    if (!o.packs)
        return -ENOMEM;
    int r = 0;
    size_t blobs = 0;
    bool first = true;
    for (size_t i = 0; r == 0 && i <= rp->npacks; i++) {
        bool last = i == rp->npacks;
        if (!last) {
            const pack_info *p = &rp->packs[i];
            if (p->damaged || p->n == 0)
                continue;
            o.packs[o.npacks++] = (bk_index_pack){ p->id, p->blobs, p->n };
            blobs += p->n;
            rp->st->blobs_indexed += p->n;
        }
        if ((last && (o.npacks || first)) || blobs >= 65536) {
            bk_buf b = BK_BUF_INIT;
            r = bk_index_obj_encode(&o, &b);
            if (r == 0)
                r = bk_repo_save_object(rp->repo, BK_OBJ_INDEX, BK_KIND_INDEX, b.data, b.len, NULL);
            bk_buf_free(&b);
            o.npacks = 0;
            o.nsupersedes = 0;
            blobs = 0;
            first = false;
        }
    }
    free(o.packs);
    return r;
}

static int collect_names(const char *name, uint64_t size, void *ctx)
{
    struct { char **v; size_t n; } *l = ctx;
    return bk_strv_push(&l->v, &l->n, name);
}

/* The dry run's view of the index repair would write: every good blob where it is now. */
static int view_index(repairer *rp)
{
    bk_repo *repo = rp->repo;
    bk_repo_index_reset(repo);
    int r = 0;
    for (size_t i = 0; r == 0 && i < rp->npacks; i++) {
        const pack_info *p = &rp->packs[i];
        uint32_t no;
        if ((r = bk_index_add_pack(&repo->index, &p->id, &no)) < 0)
            continue;
        for (size_t j = 0; r == 0 && j < p->n; j++)
            r = bk_index_add(&repo->index, no, &p->blobs[j]);
    }
    repo->index_loaded = r == 0;
    return r;
}

/* Packs that were listed but are not there are no packs (and their stale catalog entries
 * go). */
static int drop_gone(repairer *rp)
{
    size_t k = 0;
    for (size_t i = 0; i < rp->npacks; i++) {
        if (rp->packs[i].gone) {
            free(rp->packs[i].blobs);
            if (!dry(rp)) {
                char hex[BK_ID_HEX];
                bk_id_hex(&rp->packs[i].id, hex);
                bk_be_remove(rp->repo->be, BK_OBJ_DATA, hex);   /* -ENOENT: only the entry */
            }
        } else
            rp->packs[k++] = rp->packs[i];
    }
    if (k == rp->npacks)
        return 0;
    rp->npacks = k;
    bk_idmap_free(&rp->packmap);
    bk_idmap_init(&rp->packmap, sizeof(size_t));
    for (size_t i = 0; i < k; i++) {
        size_t *pos;
        if (bk_idmap_put(&rp->packmap, &rp->packs[i].id, (void **)&pos) < 0)
            return -ENOMEM;
        *pos = i;
    }
    return 0;
}

static int repair_packs_and_index(repairer *rp)
{
    bk_repo *repo = rp->repo;
    bk_repair_stats *st = rp->st;
    int r = bk_be_list(repo->be, BK_OBJ_INDEX, read_old_index, rp);
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_DATA, list_pack, rp);
    for (size_t i = 0; r == 0 && i < rp->npacks; i++)
        if ((r = bk_repo_check_interrupt(repo)) == 0)
            r = examine_pack(rp, &rp->packs[i]);
    if (r == 0)
        r = drop_gone(rp);
    /* from here on the handle's index is what the packs hold (the stored one may not even
     * load), and the writer that salvages blobs works against it */
    if (r == 0)
        r = view_index(rp);
    if (r == 0 && !dry(rp))
        r = bk_writer_new(repo, false, &rp->w);
    if (r < 0)
        return r;

    /* what the old index named and no pack holds intact */
    size_t pos = 0;
    const bk_id *id;
    void *v;
    uint64_t gone = 0, trees_restored = 0;
    while (r == 0 && bk_idmap_next(&rp->old.blobs, &pos, &id, &v)) {
        bk_index_entry now;
        if (bk_index_lookup(&repo->index, id, &now))
            continue;
        const bk_index_entry *e = v;
        if (e->kind == BK_KIND_TREE && tree_from_cache(rp, id, e) == 0) {
            trees_restored++;
            continue;
        }
        gone++;
        char hex[BK_ID_HEX], phex[BK_ID_HEX];
        bk_id_hex(id, hex);
        bk_id pack;
        if (bk_index_pack_id(&rp->old, e->pack, &pack) < 0)
            memset(&pack, 0, sizeof(pack));
        bk_id_hex(&pack, phex);
        size_t *known = bk_idmap_get(&rp->packmap, &pack);
        if (gone <= 20)
            lost(rp, "%s blob %s is lost (%s data/%s): no longer indexed, the next backup "
                 "stores it again if its source is still there",
                 e->kind == BK_KIND_TREE ? "tree" : "data", hex,
                 known ? "corrupt in" : "in the missing pack", phex);
    }
    if (gone > 20)
        lost(rp, "%llu more blobs are lost", (unsigned long long)(gone - 20));
    st->blobs_lost = gone;
    st->trees_from_cache = trees_restored;
    for (size_t i = 0; i < rp->npacks; i++)
        st->packs_unindexed += !rp->packs[i].damaged && !bk_idmap_get(&rp->old.packmap, &rp->packs[i].id);
    for (size_t i = 0; i < rp->old.npacks; i++)
        st->packs_missing += !bk_idmap_get(&rp->packmap, &rp->old.packs[i]);

    bool needed = st->packs_damaged || gone || st->packs_unindexed || st->index_damaged ||
                  trees_restored || st->packs_missing;
    st->index_rewritten = needed;
    if (!needed || dry(rp)) {
        bk_writer_free(rp->w);
        rp->w = NULL;
        return 0;
    }

    /* salvage, then the new index, then removals */
    for (size_t i = 0; r == 0 && i < rp->npacks; i++)
        if (rp->packs[i].damaged)
            r = salvage(rp, &rp->packs[i]);
    if (r == 0)
        r = bk_writer_finish(rp->w);
    bk_writer_free(rp->w);
    rp->w = NULL;
    /* the packs the writer made: their headers, as for every other pack */
    size_t before = rp->npacks;
    uint64_t counted = st->packs, read = st->packs_read;
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_DATA, list_pack, rp);
    for (size_t i = before; r == 0 && i < rp->npacks; i++)
        r = examine_pack(rp, &rp->packs[i]);
    if (r == 0)
        r = drop_gone(rp);   /* (only among the new: the others went already) */
    st->packs = counted;
    st->packs_read = read;
    struct { char **v; size_t n; } now = { 0 };
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_INDEX, collect_names, &now);
    bk_id *sup = calloc(now.n + 1, sizeof(*sup));
    size_t nsup = 0;
    if (r == 0 && !sup)
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < now.n; i++)
        if (bk_id_parse(now.v[i], &sup[nsup]) == 0)
            nsup++;
    if (r == 0)
        r = write_index(rp, sup, nsup);
    for (size_t i = 0; r == 0 && i < nsup; i++) {
        char hex[BK_ID_HEX];
        bk_id_hex(&sup[i], hex);
        int e = bk_be_remove(repo->be, BK_OBJ_INDEX, hex);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(repo, e, "cannot remove index/%s: %s", hex, strerror(-e));
    }
    for (size_t i = 0; r == 0 && i < before; i++) {
        if (!rp->packs[i].damaged)
            continue;
        char hex[BK_ID_HEX];
        bk_id_hex(&rp->packs[i].id, hex);
        int e = bk_be_remove(repo->be, BK_OBJ_DATA, hex);
        if (e < 0 && e != -ENOENT)
            r = bk_repo_error(repo, e, "cannot remove data/%s: %s", hex, strerror(-e));
        else
            st->packs_rewritten++;
    }
    free(sup);
    bk_strv_free(now.v, now.n);
    /* the handle's index follows what was stored */
    bk_repo_index_reset(repo);
    return r;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

typedef struct tree_memo {
    bk_idmap done;               /* old tree id -> new tree id (the same if unchanged) */
} tree_memo;

/* Is every blob of file n stored: its pieces, its list blobs and theirs? */
static bool file_whole(bk_repo *repo, const bk_node *n)
{
    if (bk_repo_missing_piece(repo, n->content, n->nlists ? 0 : n->ncontent))
        return false;
    for (size_t i = 0; i < n->nlists; i++) {
        bk_index_entry e;
        bk_content *v = NULL;
        size_t nv = 0;
        bool ok = bk_index_lookup(&repo->index, &n->lists[i].id, &e) && e.kind == BK_KIND_TREE && bk_repo_load_clist(repo, &n->lists[i], &v, &nv) == 0 &&
                  !bk_repo_missing_piece(repo, v, nv);
        free(v);
        if (!ok) {
            bk_repo_clear_error(repo);
            return false;
        }
    }
    return true;
}

/* The tree id, with what is lost dropped: files with blobs that are not in the index,
 * directories whose tree cannot be read (kept, empty).  *changed when anything was. */
static int fix_tree(repairer *rp, tree_memo *m, const bk_id *id, const char *path,
                    const char *snap, bk_id *ret, bool *changed)
{
    bk_id *known = bk_idmap_get(&m->done, id);
    if (known) {
        *ret = *known;
        *changed |= bk_id_cmp(known, id) != 0;
        return 0;
    }
    bk_repo *repo = rp->repo;
    bk_tree t;
    int r = bk_repo_load_tree(repo, id, &t);
    if (r == -ENOMEM || r == -EINTR)
        return r;
    bk_tree out = { 0 };
    bool mine = false;
    if (r < 0) {
        lost(rp, "lost: %s/ (snapshot %.8s): its directory listing is gone (%s)",
             *path ? path : "", snap, bk_repo_errmsg(repo));
        bk_repo_clear_error(repo);
        rp->st->dirs_lost++;
        mine = true;
        r = 0;
        memset(&t, 0, sizeof(t));
    }
    for (size_t i = 0; r == 0 && i < t.n; i++) {
        bk_node *n = &t.nodes[i];
        char *sub;
        if (asprintf(&sub, "%s/%s", path, n->name) < 0) {
            r = -ENOMEM;
            break;
        }
        bool keep = true;
        if (n->type == BK_NODE_DIR) {
            bool c = false;
            bk_id nid;
            r = fix_tree(rp, m, &n->subtree, sub, snap, &nid, &c);
            if (r == 0 && c) {
                n->subtree = nid;
                mine = true;
            }
        } else if (n->type == BK_NODE_FILE) {
            keep = file_whole(repo, n);
            if (!keep) {
                lost(rp, "lost: %s (snapshot %.8s): some of its data is gone", sub, snap);
                rp->st->files_lost++;
                mine = true;
            }
        }
        free(sub);
        if (r == 0 && keep) {
            bk_node copy;
            r = bk_node_copy(n, &copy);
            if (r == 0)
                r = bk_tree_push(&out, &copy);
        }
    }
    bk_id nid = *id;
    if (r == 0 && mine) {
        bk_buf b = BK_BUF_INIT;
        r = bk_tree_encode(out.nodes, out.n, &b);
        if (r == 0) {
            r = bk_blob_id(repo->keys, b.data, b.len, &nid);
            if (r == 0 && !dry(rp)) {
                r = bk_writer_add(rp->w, BK_KIND_TREE, &nid, b.data, b.len);
                r = r < 0 ? r : 0;
            }
        }
        bk_buf_free(&b);
    }
    bk_tree_free(&out);
    bk_tree_free(&t);
    if (r < 0)
        return r;
    bk_id *slot;
    r = bk_idmap_put(&m->done, id, (void **)&slot);
    if (r < 0)
        return r;
    *slot = nid;
    *ret = nid;
    *changed |= mine;
    return 0;
}

/* A snapshot object that does not decrypt, match its name or parse: a valid cached copy
 * goes back in its place; else, with forget, it is removed. */
static int damaged_snapshot(repairer *rp, const char *name)
{
    bk_repo *repo = rp->repo;
    rp->st->snapshots_damaged++;
    bk_buf b = BK_BUF_INIT;
    bool copy = bk_cache_get_copy(repo, "snapshots", name, &b) == 0;
    bool forget = !copy && rp->o->forget;
    bk_repo_log(repo, BK_LOG_WARNING, "%s: %s", bk_repo_errmsg(repo),
                copy ? "its valid copy in the local cache goes back in its place"
                     : forget ? "it is removed" : "it cannot be repaired (--forget removes it)");
    bk_repo_clear_error(repo);
    int r = 0;
    if (!dry(rp) && (copy || forget)) {
        r = bk_be_remove(repo->be, BK_OBJ_SNAPSHOT, name);
        if (r == -ENOENT)
            r = 0;
        if (r == 0 && copy)
            r = bk_be_put(repo->be, BK_OBJ_SNAPSHOT, name, b.data, b.len);
        if (r < 0)
            r = bk_repo_error(repo, r, "cannot %s snapshots/%s: %s", copy ? "put back" : "remove",
                              name, strerror(-r));
    }
    rp->st->snapshots_restored += copy;
    rp->st->snapshots_forgotten += forget;
    bk_buf_free(&b);
    return r;
}

static int repair_snapshots(repairer *rp)
{
    bk_repo *repo = rp->repo;
    bk_repair_stats *st = rp->st;
    struct { char **v; size_t n; } names = { 0 };
    int r = bk_be_list_names(repo->be, BK_OBJ_SNAPSHOT, collect_names, &names);
    if (r == 0)
        r = bk_repo_load_index(repo);
    if (r == 0 && !dry(rp))
        r = bk_writer_new(repo, false, &rp->w);
    /* repaired snapshots (fixed[i] made from orig[i]), saved once their trees are stored */
    bk_snapshot **fixed = calloc(names.n + 1, sizeof(*fixed)), **orig = calloc(names.n + 1, sizeof(*orig));
    size_t nfixed = 0;
    if (r == 0 && (!fixed || !orig))
        r = -ENOMEM;
    tree_memo m;
    bk_idmap_init(&m.done, sizeof(bk_id));
    for (size_t i = 0; r == 0 && i < names.n; i++) {
        const char *name = names.v[i];
        bk_snapshot *s = NULL;
        r = bk_repo_load_snapshot(repo, name, &s);
        if (r == -ENOENT) {
            bk_repo_clear_error(repo);
            r = 0;
            continue;
        }
        if (r == -EBADMSG) {
            r = damaged_snapshot(rp, name);
            continue;
        }
        if (r < 0)
            break;
        st->snapshots++;
        bk_id root;
        bool changed = false;
        r = fix_tree(rp, &m, &s->tree, "", name, &root, &changed);
        bk_snapshot *n = NULL;
        if (r == 0 && changed && (r = bk_snapshot_dup(s, &n)) == 0) {
            n->tree = root;
            n->has_original = true;
            n->original = s->id;
            n->has_key_slot = bk_id_parse(repo->key_id, &n->key_slot) == 0;
            bool tagged = false;
            for (size_t t = 0; t < n->ntags; t++)
                tagged |= strcmp(n->tags[t], "repaired") == 0;
            if (!tagged)
                r = bk_strv_push(&n->tags, &n->ntags, "repaired");
            fixed[nfixed] = n;
            orig[nfixed++] = s;
            continue;
        }
        bk_snapshot_free(s);
    }
    /* the new trees are stored and indexed before any snapshot names them */
    if (r == 0 && rp->w)
        r = bk_writer_finish(rp->w);
    for (size_t i = 0; r == 0 && i < nfixed; i++) {
        st->snapshots_repaired++;
        char old[BK_ID_HEX], hex[BK_ID_HEX] = "";
        bk_id_hex(&orig[i]->id, old);
        if (!dry(rp)) {
            r = bk_repo_save_snapshot(repo, fixed[i]);
            bk_id_hex(&fixed[i]->id, hex);
        }
        if (r == 0 && rp->o->forget) {
            int e = dry(rp) ? 0 : bk_be_remove(repo->be, BK_OBJ_SNAPSHOT, old);
            if (e < 0 && e != -ENOENT)
                r = bk_repo_error(repo, e, "cannot remove snapshots/%s: %s", old, strerror(-e));
            st->snapshots_forgotten++;
        }
        if (r == 0 && dry(rp))
            bk_repo_log(repo, BK_LOG_WARNING, "snapshot %.8s names lost data", old);
        else if (r == 0)
            bk_repo_log(repo, BK_LOG_WARNING, "snapshot %.8s saved again as %.8s without what is "
                        "lost%s", old, hex, rp->o->forget ? "; the original is removed" : "");
    }
    for (size_t i = 0; i < nfixed; i++) {
        bk_snapshot_free(fixed[i]);
        bk_snapshot_free(orig[i]);
    }
    free(fixed);
    free(orig);
    bk_idmap_free(&m.done);
    bk_strv_free(names.v, names.n);
    bk_writer_free(rp->w);
    rp->w = NULL;
    return r;
}

/* ---- the run ------------------------------------------------------------------------------------ */

int bk_repair(bk_repo *repo, const bk_repair_opts *o, bk_repair_stats *ret)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "repair");
    static const bk_repair_opts defaults = { .what = BK_REPAIR_ALL };
    if (!o)
        o = &defaults;
    bk_repair_stats st = { 0 };
    double t0 = bk_monotonic();
    repairer rp = { .repo = repo, .o = o, .st = &st };
    bk_idmap_init(&rp.packmap, sizeof(size_t));
    bk_index_init(&rp.old);
    rp.z = bk_zctx_new(0);
    /* originals only: a cached copy must never hide the damage it is here to repair */
    bool no_cache = repo->no_cache;
    repo->no_cache = true;
    int r = rp.z ? 0 : -ENOMEM;
    bool prune_locked = false;
    if (r == 0 && !o->dry_run) {
        r = bk_repo_lock_prune(repo, true);
        prune_locked = r == 0;
    }
    if (r == 0 && (o->what & BK_REPAIR_CONFIG))
        r = repair_config(&rp);
    if (r == 0 && repo->config_lost && !o->dry_run)
        r = bk_repo_error(repo, -EBADMSG, "the config is lost or damaged: arca repair config "
                          "first");
    if (r == 0 && (o->what & BK_REPAIR_INDEX))
        r = repair_packs_and_index(&rp);
    if (r == 0 && (o->what & BK_REPAIR_SNAPSHOTS))
        r = repair_snapshots(&rp);
    repo->no_cache = no_cache;
    if (r == 0) {
        /* the handle's index follows the repository again (and the cache drops the copies
         * of index objects that are gone) */
        bk_repo_index_reset(repo);
        r = bk_repo_load_index(repo);
    }
    if (prune_locked && bk_repo_lock_prune(repo, false) < 0)
        bk_repo_clear_error(repo);
    bk_writer_free(rp.w);
    for (size_t i = 0; i < rp.npacks; i++)
        free(rp.packs[i].blobs);
    free(rp.packs);
    bk_idmap_free(&rp.packmap);
    bk_index_free(&rp.old);
    bk_strv_free(rp.index_names, rp.nindex);
    bk_zctx_free(rp.z);
    st.duration = bk_monotonic() - t0;
    if (ret)
        *ret = st;
    return r;
}
