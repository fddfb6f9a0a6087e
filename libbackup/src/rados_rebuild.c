/* rados_rebuild.c - what the RADOS backend does from a scan of the pool, and only there:
 * rebuilding lost catalogs, finding orphans (check --scan-orphans), moving a repository of
 * catalog layout 1 to layout 2; and the catalogs of a new repository. */
#include "rados_internal.h"

/* ---- rebuilding from a scan -------------------------------------------------------------- */

static int collect(const char *oid, uint64_t size, void *ctx)
{
    struct bk_rados_scan_all_s *s = ctx;
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++) {
        if (!has_catalog((bk_obj_type)t) || (t == BK_OBJ_DATA && s->data_elsewhere))
            continue;
        const char *tn = bk_obj_type_name((bk_obj_type)t);
        size_t tl = strlen(tn);
        if (strncmp(oid, tn, tl) == 0 && oid[tl] == '/' && oid[tl + 1])
            return bk_rados_entries_push(&s->found[t], oid + tl + 1, size, 0);
    }
    return 0;
}

static int collect_data(const char *oid, uint64_t size, void *ctx)
{
    struct bk_rados_scan_all_s *s = ctx;
    return bk_rados_entries_push(&s->found[BK_OBJ_DATA], oid + 5, size, 0);
}

/* Every catalogued object of the repository (only < 0), or of type only, sorted per type: a
 * scan of the main pool, and one of the data pool when packs have a pool of their own. */
int bk_rados_scan_all(rados_be *b, int only, struct bk_rados_scan_all_s *s)
{
    memset(s, 0, sizeof(*s));
    s->data_elsewhere = b->data_io != b->io;
    char prefix[32] = "";
    if (only >= 0)
        snprintf(prefix, sizeof(prefix), "%s/", bk_obj_type_name((bk_obj_type)only));
    int r = 0;
    if (only != BK_OBJ_DATA || !s->data_elsewhere)
        r = bk_rados_scan(b, b->io, prefix[0] ? prefix : NULL, collect, s);
    if (r == 0 && s->data_elsewhere && (only < 0 || only == BK_OBJ_DATA))
        r = bk_rados_scan(b, b->data_io, "data/", collect_data, s);
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++)
        bk_rados_entries_sort(&s->found[t]);
    return r;
}

void bk_rados_scan_all_free(struct bk_rados_scan_all_s *s)
{
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++)
        bk_rados_entries_free(&s->found[t]);
}

/* The shards of catalog t exist, up to its generation (recreated where lost; when the
 * generation-0 shard was lost with the generation, the shards left tell it).  *ret_gen: the
 * generation. */
static int shards_ensure(rados_be *b, bk_obj_type t, int *ret_gen)
{
    int G;
    bool missing;
    int r = bk_rados_gen_read(b, t, &G, &missing);
    if (r < 0)
        return r;
    if (missing) {
        G = 0;
        for (int g = 1; g <= GEN_MAX; g++) {
            char oid[64];
            uint64_t size;
            bk_rados_shard_nth(t, g, 0, oid, sizeof(oid));
            if (rados_stat(b->io, oid, &size, NULL) != 0)
                break;
            G = g;
        }
    }
    if ((r = bk_rados_shards_do(b, t, 0, G, true, NULL)) < 0)
        return r;
    if (missing && G > 0) {
        char oid[64], v[16];
        bk_rados_shard_name(t, 0, "", oid, sizeof(oid));
        int vl = snprintf(v, sizeof(v), "%d", G);
        if ((r = rados_setxattr(b->io, oid, GEN_XATTR, v, (size_t)vl)) < 0)
            return r;
    }
    bk_rados_gen_forget(b, t);
    *ret_gen = G;
    return 0;
}

/* Apply a sorted list of entries to their shards: set (rm false) or remove them, one write op
 * per shard and OMAP_WRITE_BATCH entries.  gen < 0: each entry's own generation. */
static int shards_apply(rados_be *b, bk_obj_type t, struct entries *e, int gen, bool rm)
{
    char **names = calloc(OMAP_WRITE_BATCH, sizeof(*names));
    int r = names ? 0 : -ENOMEM;
    size_t i = 0;
    while (r == 0 && i < e->n) {
        char oid[64], next[64];
        bk_rados_shard_for(t, gen < 0 ? e->v[i].gen : gen, e->v[i].name, oid, sizeof(oid));
        size_t j = i + 1;
        while (j < e->n && j - i < OMAP_WRITE_BATCH) {
            bk_rados_shard_for(t, gen < 0 ? e->v[j].gen : gen, e->v[j].name, next, sizeof(next));
            if (strcmp(next, oid) != 0)
                break;
            j++;
        }
        if (rm) {
            for (size_t k = i; k < j; k++)
                names[k - i] = e->v[k].name;
            r = bk_rados_shard_write(b, oid, true, NULL, 0, names, j - i, false);
        } else {
            r = bk_rados_shard_write(b, oid, true, e->v + i, j - i, NULL, 0, false);
        }
        i = j;
    }
    free(names);
    return r;
}

/* Make catalog t hold exactly the objects in found (sorted): add what is missing, drop
 * entries whose object is gone.  Never clears a shard, so a put that completes meanwhile
 * keeps its entry.  Starts later generations first if the adds would overfill a shard. */
int bk_rados_catalog_sync(rados_be *b, bk_obj_type t, struct entries *found)
{
    int G;
    int r = shards_ensure(b, t, &G);
    struct entries cur = { 0 }, add = { 0 }, fix = { 0 }, gone = { 0 };
    bool missing = false;
    if (r == 0)
        r = bk_rados_catalog_read(b, t, &cur, &missing);
    if (r == 0 && missing)
        r = -EIO;   /* made just now: lost again */
    size_t i = 0, j = 0;
    while (r == 0 && (i < found->n || j < cur.n)) {
        int c = i == found->n ? 1 : j == cur.n ? -1 : strcmp(found->v[i].name, cur.v[j].name);
        if (c < 0) {
            r = bk_rados_entries_push(&add, found->v[i].name, found->v[i].size, -1);
            i++;
        } else if (c > 0) {
            /* listed, not found: confirm it is gone (it may have been written meanwhile) */
            char oid[OID_MAX];
            uint64_t size;
            if (oid_of(t, cur.v[j].name, oid, sizeof(oid)) < 0 ||
                rados_stat(io_for(b, t), oid, &size, NULL) == -ENOENT)
                r = bk_rados_entries_push(&gone, cur.v[j].name, 0, cur.v[j].gen);
            j++;
        } else {
            /* a wrong size is put right in the shard that holds the entry */
            if (found->v[i].size != cur.v[j].size)
                r = bk_rados_entries_push(&fix, cur.v[j].name, found->v[i].size, cur.v[j].gen);
            i++;
            j++;
        }
    }
    /* room for the adds: no shard of the current generation past half the split */
    for (int k = 0; r == 0 && k < GEN_MAX && G < GEN_MAX &&
                    (cur.n + add.n) / bk_rados_shards_in(G) > b->shard_split / 2; k++) {
        if ((r = bk_rados_catalog_grow(b, t, G)) == 0)
            r = shards_ensure(b, t, &G);
    }
    if (r == 0)
        r = shards_apply(b, t, &add, G, false);
    if (r == 0)
        r = shards_apply(b, t, &fix, -1, false);
    if (r == 0)
        r = shards_apply(b, t, &gone, -1, true);
    bk_rados_entries_free(&fix);
    bk_rados_entries_free(&gone);
    bk_rados_entries_free(&add);
    bk_rados_entries_free(&cur);
    return r;
}

/* Rebuild catalog only (or every catalog, only < 0) from a scan. */
int bk_rados_rebuild(rados_be *b, int only)
{
    struct bk_rados_scan_all_s s;
    int r = bk_rados_scan_all(b, only, &s);
    for (int t = 0; r == 0 && t < BK_OBJ_TYPE_COUNT; t++)
        if (has_catalog((bk_obj_type)t) && (only < 0 || only == t))
            r = bk_rados_catalog_sync(b, (bk_obj_type)t, &s.found[t]);
    bk_rados_scan_all_free(&s);
    return r;
}

int bk_rados_rebuild_catalogs(bk_backend *be)
{
    rados_be *b = downcast(be);
    int r = bk_rados_gate(b);
    return r < 0 ? r : bk_rados_note(b, bk_rados_rebuild(b, -1));
}

int bk_rados_layout2(rados_be *b, bool *ret)
{
    char oid[64];
    uint64_t size;
    bk_rados_shard_name(BK_OBJ_DATA, 0, "", oid, sizeof(oid));
    int r = rados_stat(b->io, oid, &size, NULL);
    *ret = r == 0;
    return r == -ENOENT ? 0 : r;
}

/* ---- orphans ------------------------------------------------------------------------------------ */

/* Objects of catalogued types that no catalog lists and no intent names: left by something
 * that wrote or removed behind arca's back (a lost or damaged shard, an older arca, a tool),
 * invisible to every command.  The only command that scans the pool (check --scan-orphans);
 * fn("type/id", size) for each.  Order: scan, intents, catalogs, then a stat of each
 * candidate, so that a write or removal running meanwhile is never taken for an orphan (an
 * object the scan saw is catalogued by the time the catalogs are read unless its intent was
 * still there when the intents were read; a removal's intent outlives the object). */
int bk_rados_scan_orphans(bk_backend *be, bk_list_fn fn, void *ctx)
{
    rados_be *b = downcast(be);
    int r = bk_rados_gate(b);
    if (r < 0)
        return r;
    struct bk_rados_scan_all_s s;
    struct pending p = { 0 };
    r = bk_rados_note(b, bk_rados_scan_all(b, -1, &s));
    if (r == 0)
        r = bk_rados_note(b, bk_rados_pending_read(b, &p));
    struct entries in_flight = { 0 };
    for (size_t i = 0; r == 0 && i < p.n; i++) {
        bk_obj_type t;
        char name[OID_MAX], tn[OID_MAX + 16];
        if (bk_rados_intent_parse(p.keys[i], &t, name)) {
            snprintf(tn, sizeof(tn), "%s/%s", bk_obj_type_name(t), name);
            r = bk_rados_entries_push(&in_flight, tn, 0, 0);
        }
    }
    bk_rados_entries_sort(&in_flight);
    for (int t = 0; r == 0 && t < BK_OBJ_TYPE_COUNT; t++) {
        if (!has_catalog((bk_obj_type)t))
            continue;
        struct entries cur = { 0 };
        bool missing;
        r = bk_rados_note(b, bk_rados_catalog_read(b, (bk_obj_type)t, &cur, &missing));
        for (size_t i = 0; r == 0 && i < s.found[t].n; i++) {
            const struct entry *e = &s.found[t].v[i];
            char tn[OID_MAX + 16], oid[OID_MAX];
            uint64_t size;
            snprintf(tn, sizeof(tn), "%s/%s", bk_obj_type_name((bk_obj_type)t), e->name);
            if (bk_rados_entries_find(&cur, e->name) || bk_rados_entries_find(&in_flight, tn) ||
                oid_of((bk_obj_type)t, e->name, oid, sizeof(oid)) < 0)
                continue;
            int k = bk_rados_note(b, rados_stat(io_for(b, (bk_obj_type)t), oid, &size, NULL));
            if (k == -ENOENT)
                continue;   /* removed meanwhile */
            r = k < 0 ? k : fn(tn, size, ctx);
        }
        bk_rados_entries_free(&cur);
    }
    bk_rados_entries_free(&in_flight);
    bk_rados_pending_free(&p);
    bk_rados_scan_all_free(&s);
    return r;
}

/* ---- a new repository, and the move from layout 1 ------------------------------------------------ */

/* Does catalog t list an object that exists? */
static int catalog_live(rados_be *b, bk_obj_type t, bool *ret)
{
    struct entries cur = { 0 };
    bool missing;
    int r = bk_rados_catalog_read(b, t, &cur, &missing);
    *ret = false;
    for (size_t i = 0; r == 0 && !*ret && i < cur.n; i++) {
        char oid[OID_MAX];
        uint64_t size;
        if (oid_of(t, cur.v[i].name, oid, sizeof(oid)) == 0)
            *ret = rados_stat(io_for(b, t), oid, &size, NULL) == 0;
    }
    bk_rados_entries_free(&cur);
    return r == -ENOENT || r == -EIO ? 0 : r;
}

/* Catalog t empty, in generation 0: the shards of later generations (an earlier repository's)
 * removed. */
static int catalog_clear(rados_be *b, bk_obj_type t)
{
    int r = 0;
    for (int g = 1; r == 0 && g <= GEN_MAX; g++) {
        char oid[64];
        uint64_t size;
        bk_rados_shard_nth(t, g, 0, oid, sizeof(oid));
        if (rados_stat(b->io, oid, &size, NULL) != 0)
            break;
        for (unsigned k = 0; r == 0 && k < bk_rados_shards_in(g); k++) {
            bk_rados_shard_nth(t, g, k, oid, sizeof(oid));
            r = bk_rados_remove_object(b->io, oid);
            r = r == -ENOENT ? 0 : r;
        }
    }
    char oid[64];
    bk_rados_shard_name(t, 0, "", oid, sizeof(oid));
    rados_write_op_t op = r == 0 ? rados_create_write_op() : NULL;
    if (r == 0 && !op)
        r = -ENOMEM;
    if (op) {
        rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
        rados_write_op_omap_clear(op);
        r = rados_write_op_operate(op, b->io, oid, NULL, PUT_FLAGS);
        rados_release_write_op(op);
    }
    if (r == 0 && (r = rados_rmxattr(b->io, oid, GEN_XATTR)) == -ENODATA)
        r = 0;
    bk_rados_gen_forget(b, t);
    return r;
}

/* A new repository starts with empty catalogs (the pack catalog too: layout 2) and the fence;
 * an existing one keeps its own, and so does one whose config is lost (its catalogs still name
 * live objects: init refuses to go on); stale entries of objects that are gone are dropped. */
int bk_rados_catalogs_init(rados_be *b)
{
    uint64_t size;
    int r = rados_stat(b->io, "config", &size, NULL);
    if (r != -ENOENT)
        return r;
    r = 0;
    bool any_live = false;
    for (int t = 0; r == 0 && t < BK_OBJ_TYPE_COUNT; t++) {
        bool live = false;
        if (has_catalog((bk_obj_type)t) && (r = catalog_live(b, (bk_obj_type)t, &live)) == 0 && !live)
            r = catalog_clear(b, (bk_obj_type)t);
        any_live = any_live || live;
    }
    if (r == 0 && !any_live && (r = bk_rados_remove_object(b->io, PENDING_OID)) == -ENOENT)
        r = 0;
    if (r == 0 && bk_rados_fence(b) == 0)
        b->layout_ok = true;   /* else the first lock puts it up */
    return r;
}

/* Layout 1 to 2, under the exclusive lock and the fence: one scan; the pack catalog made from
 * it; index objects and snapshots that their catalogs do not list (left by runs of an older
 * arca that died between storing and cataloguing them, which its prune removed by a scan) get
 * an intent, so that the next prune removes them; a lost catalog is rebuilt instead. */
int bk_rados_migrate(rados_be *b)
{
    struct bk_rados_scan_all_s s;
    int r = bk_rados_scan_all(b, -1, &s);
    if (r == 0)
        r = bk_rados_catalog_sync(b, BK_OBJ_DATA, &s.found[BK_OBJ_DATA]);
    static const bk_obj_type others[] = { BK_OBJ_KEY, BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    for (size_t k = 0; r == 0 && k < BK_ELEMENTSOF(others); k++) {
        bk_obj_type t = others[k];
        struct entries cur = { 0 };
        bool missing;
        r = bk_rados_catalog_read(b, t, &cur, &missing);
        if (r == 0 && (missing || t == BK_OBJ_KEY)) {
            if (missing)
                r = bk_rados_catalog_sync(b, t, &s.found[t]);
            bk_rados_entries_free(&cur);
            continue;
        }
        for (size_t i = 0; r == 0 && i < s.found[t].n; i++) {
            char key[OID_MAX];
            if (!bk_rados_entries_find(&cur, s.found[t].v[i].name))
                r = bk_rados_intent_add(b, t, s.found[t].v[i].name, false, bk_rados_deadline(b), key);
        }
        bk_rados_entries_free(&cur);
    }
    bk_rados_scan_all_free(&s);
    return r;
}
