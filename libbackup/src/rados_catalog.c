/* rados_catalog.c - the catalogs of the RADOS backend: every object type (keys, packs, index
 * objects, snapshots) is listed from omap, never by walking the pool.
 *
 * Catalog layout 2 (docs/ceph.md, docs/FORMAT.md).  The catalog of a type is a set of shards
 * in the main pool whose omap keys are object ids and values their sizes (decimal).  It grows
 * in generations: generation 0 is one shard, catalog.<type> (the single catalog object of
 * layout 1); generation g >= 1 has 16^g shards catalog.<type>.<g hex digits>, all created
 * when it starts.  An entry is added to the shard of the current generation that its id's
 * first g digits name, and stays where it was added; a listing reads every shard of every
 * generation, a removal removes the id from its shard in each generation.  The current
 * generation is the xattr arca.generation of the generation-0 shard (none: 0).  When an add
 * finds the shard it went to holding DEFAULT_SHARD_SPLIT entries or more (estimated from the
 * keys after <prefix>ff: ids are uniform), the next generation starts: its shards are made,
 * then the xattr moves on (compared first, so that two writers doing it at once agree).  A
 * writer that missed it adds to the generation before, which is still listed.  No shard ever
 * grows much past the split; at 10^8 packs the catalog has 4369 shards of at most 100,000
 * keys, under Ceph's large-omap warning (200,000).
 *
 * Invariants (as in layout 1): an entry is added after its object is written and removed
 * before its object is removed, so a crash can only leave an object out of its catalog
 * (rebuild_catalogs puts it back from a scan) or a stale entry whose object is gone (callers
 * treat -ENOENT as "gone").  So that no scan is needed to find what a crash left out, each
 * write and removal is bracketed by an intent (a key in catalog.pending, see
 * rados_internal.h): remove_strays resolves the intents left behind.  A missing shard is a
 * lost catalog: the listing answers from a scan and rebuilds the catalog. */
#include "rados_internal.h"

int bk_rados_entries_push(struct entries *e, const char *name, uint64_t size, int gen)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? 2 * e->cap : 64;
        struct entry *nv = realloc(e->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        e->v = nv;
        e->cap = nc;
    }
    char *d = strdup(name);
    if (!d)
        return -ENOMEM;
    e->v[e->n].name = d;
    e->v[e->n].size = size;
    e->v[e->n].gen = gen;
    e->n++;
    return 0;
}

void bk_rados_entries_free(struct entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].name);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

void bk_rados_entries_sort(struct entries *e)
{
    if (e->n > 1)   /* v is NULL when empty, which qsort may not be given */
        qsort(e->v, e->n, sizeof(struct entry), entry_cmp);
}

/* Is name in e (sorted)? */
struct entry *bk_rados_entries_find(const struct entries *e, const char *name)
{
    if (e->n == 0)
        return NULL;
    struct entry key = { (char *)name, 0, 0 };
    return bsearch(&key, e->v, e->n, sizeof(struct entry), entry_cmp);
}

/* ---- shards ------------------------------------------------------------------------------ */

static bool hexdigit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The generation whose shard naming rule applies to name in generation g: names that do not
 * start with g hex digits (not ids) stay in generation 0. */
static int shard_gen(const char *name, int g)
{
    for (int i = 0; i < g; i++)
        if (!hexdigit(name[i]))
            return 0;
    return g;
}

void bk_rados_shard_name(bk_obj_type t, int g, const char *prefix, char *out, size_t n)
{
    if (g == 0)
        snprintf(out, n, CATALOG_PREFIX "%s", bk_obj_type_name(t));
    else
        snprintf(out, n, CATALOG_PREFIX "%s.%.*s", bk_obj_type_name(t), g, prefix);
}

/* The shard of generation g that holds (or would hold) name. */
void bk_rados_shard_for(bk_obj_type t, int g, const char *name, char *out, size_t n)
{
    g = shard_gen(name, g);
    bk_rados_shard_name(t, g, name, out, n);
}

/* The k-th shard (0 <= k < 16^g) of generation g. */
void bk_rados_shard_nth(bk_obj_type t, int g, unsigned k, char *out, size_t n)
{
    char p[GEN_MAX + 1];
    for (int i = g - 1; i >= 0; i--, k >>= 4)
        p[i] = "0123456789abcdef"[k & 15];
    bk_rados_shard_name(t, g, p, out, n);
}

unsigned bk_rados_shards_in(int g)
{
    return 1u << (4 * g);
}

/* The generation of catalog t, read now (and remembered); *ret_missing: its generation-0
 * shard does not exist (a lost catalog, or layout 1's missing pack catalog). */
int bk_rados_gen_read(rados_be *b, bk_obj_type t, int *ret, bool *ret_missing)
{
    char oid[64], v[16];
    bk_rados_shard_name(t, 0, "", oid, sizeof(oid));
    int k = rados_getxattr(b->io, oid, GEN_XATTR, v, sizeof(v) - 1);
    *ret = 0;
    *ret_missing = k == -ENOENT;
    if (k == -ENOENT)
        return 0;
    if (k < 0 && k != -ENODATA)
        return k;
    if (k > 0) {
        v[k] = 0;
        long g = strtol(v, NULL, 10);
        *ret = g < 0 ? 0 : g > GEN_MAX ? GEN_MAX : (int)g;
    }
    pthread_mutex_lock(&b->mu);
    b->gen[t] = *ret;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* The generation as last read (reading it if never). */
static int gen_cached(rados_be *b, bk_obj_type t, int *ret, bool *ret_missing)
{
    pthread_mutex_lock(&b->mu);
    int g = b->gen[t];
    pthread_mutex_unlock(&b->mu);
    if (g >= 0) {
        *ret = g;
        *ret_missing = false;
        return 0;
    }
    return bk_rados_gen_read(b, t, ret, ret_missing);
}

void bk_rados_gen_forget(rados_be *b, bk_obj_type t)
{
    pthread_mutex_lock(&b->mu);
    b->gen[t] = -1;
    pthread_mutex_unlock(&b->mu);
}

/* Stat (create false) or create idempotently (create true) every shard of generations
 * g0..g1 of catalog t, STAT_BATCH at a time; *ret_all (may be NULL): all of them exist. */
int bk_rados_shards_do(rados_be *b, bk_obj_type t, int g0, int g1, bool create, bool *ret_all)
{
    if (ret_all)
        *ret_all = true;
    int r = 0;
    for (int g = g0; r == 0 && g <= g1; g++) {
        unsigned total = bk_rados_shards_in(g);
        for (unsigned base = 0; r == 0 && base < total; base += STAT_BATCH) {
            unsigned n = BK_MIN(total - base, (unsigned)STAT_BATCH);
            rados_completion_t comp[STAT_BATCH];
            rados_write_op_t wop[STAT_BATCH];
            uint64_t size;
            int res[STAT_BATCH];
            for (unsigned i = 0; i < n; i++) {
                char oid[64];
                bk_rados_shard_nth(t, g, base + i, oid, sizeof(oid));
                comp[i] = NULL;
                wop[i] = NULL;
                res[i] = rados_aio_create_completion2(NULL, NULL, &comp[i]);
                if (res[i] == 0 && create) {
                    if (!(wop[i] = rados_create_write_op()))
                        res[i] = -ENOMEM;
                    else {
                        rados_write_op_create(wop[i], LIBRADOS_CREATE_IDEMPOTENT, NULL);
                        res[i] = rados_aio_write_op_operate(wop[i], b->io, comp[i], oid, NULL,
                                                            PUT_FLAGS);
                    }
                } else if (res[i] == 0) {
                    res[i] = rados_aio_stat(b->io, oid, comp[i], &size, NULL);
                }
                if (res[i] < 0 && comp[i]) {
                    rados_aio_release(comp[i]);
                    comp[i] = NULL;
                }
            }
            for (unsigned i = 0; i < n; i++) {
                if (comp[i]) {
                    rados_aio_wait_for_complete(comp[i]);
                    res[i] = rados_aio_get_return_value(comp[i]);
                    rados_aio_release(comp[i]);
                }
                if (wop[i])
                    rados_release_write_op(wop[i]);
            }
            for (unsigned i = 0; i < n; i++) {
                if (res[i] == -ENOENT && !create && ret_all)
                    *ret_all = false;
                else if (res[i] < 0 && r == 0)
                    r = res[i];
            }
        }
    }
    return r;
}

/* One write op on one shard: set and/or remove keys (rm may be NULL); create: make the shard
 * if missing, else the op fails with -ENOENT when it is gone (so that a lone entry never
 * recreates a catalog that lost all the others); clear: drop every key first. */
int bk_rados_shard_write(rados_be *b, const char *oid, bool create, struct entry *set, size_t nset,
                       char **rm, size_t nrm, bool clear)
{
    rados_write_op_t op = rados_create_write_op();
    const char **keys = calloc(nset + 1, sizeof(*keys));
    const char **vals = calloc(nset + 1, sizeof(*vals));
    size_t *lens = calloc(nset + 1, sizeof(*lens));
    char (*nums)[24] = calloc(nset + 1, sizeof(*nums));
    int r = -ENOMEM;
    if (!op || !keys || !vals || !lens || !nums)
        goto out;
    if (create)
        rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    else
        rados_write_op_assert_exists(op);
    for (size_t i = 0; i < nset; i++) {
        keys[i] = set[i].name;
        snprintf(nums[i], sizeof(nums[i]), "%llu", (unsigned long long)set[i].size);
        vals[i] = nums[i];
        lens[i] = strlen(nums[i]);
    }
    if (clear)
        rados_write_op_omap_clear(op);
    if (nset)
        rados_write_op_omap_set(op, keys, vals, lens, nset);
    if (nrm)
        rados_write_op_omap_rm_keys(op, (char const *const *)rm, nrm);
    r = rados_write_op_operate(op, b->io, oid, NULL, nset ? PUT_FLAGS : REMOVE_FLAGS);
out:
    if (op)
        rados_release_write_op(op);
    free(keys);
    free(vals);
    free(lens);
    free(nums);
    return r;
}

typedef int (*entry_fn)(const char *name, uint64_t size, int gen, void *ctx);

/* fn for every entry of shard oid (of generation gen), a page at a time; *ret_missing: the
 * shard does not exist.  A non-zero return of fn stops the reading and is returned. */
int bk_rados_shard_read(rados_be *b, const char *oid, int gen, entry_fn fn, void *ctx,
                      bool *ret_missing)
{
    char after[OID_MAX] = "";
    *ret_missing = false;
    for (bool first = true;; first = false) {
        rados_read_op_t op = rados_create_read_op();
        if (!op)
            return -ENOMEM;
        rados_omap_iter_t it = NULL;
        unsigned char more = 0;
        int prval = 0;
        rados_read_op_omap_get_vals2(op, after, "", OMAP_PAGE, &it, &more, &prval);
        int r = rados_read_op_operate(op, b->io, oid, 0);
        if (r == 0)
            r = prval;
        size_t got = 0;
        while (r == 0) {
            char *key, *val;
            size_t klen, vlen;
            if (rados_omap_get_next2(it, &key, &val, &klen, &vlen) < 0 || !key)
                break;
            char num[24], name[OID_MAX];
            size_t vn = val ? BK_MIN(vlen, sizeof(num) - 1) : 0;
            memcpy(num, val ? val : "", vn);
            num[vn] = 0;
            snprintf(name, sizeof(name), "%.*s", (int)BK_MIN(klen, sizeof(name) - 1), key);
            r = fn(name, strtoull(num, NULL, 10), gen, ctx);
            snprintf(after, sizeof(after), "%s", name);
            got++;
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
        if (r == -ENOENT && first) {
            *ret_missing = true;
            return 0;
        }
        if (r != 0)
            return r;
        if (!more || got == 0)
            return 0;
    }
}

/* fn for every entry of catalog t, shard by shard.  *ret_missing: the catalog (a shard of it)
 * is missing, found before any entry was passed on. */
static int catalog_each(rados_be *b, bk_obj_type t, entry_fn fn, void *ctx, bool *ret_missing)
{
    int G;
    int r = bk_rados_gen_read(b, t, &G, ret_missing);
    if (r < 0 || *ret_missing)
        return r;
    if (G > 0) {
        bool all;
        if ((r = bk_rados_shards_do(b, t, 1, G, false, &all)) < 0)
            return r;
        if (!all) {
            *ret_missing = true;
            return 0;
        }
    }
    for (int g = 0; g <= G; g++)
        for (unsigned k = 0; k < bk_rados_shards_in(g); k++) {
            char oid[64];
            bool missing;
            bk_rados_shard_nth(t, g, k, oid, sizeof(oid));
            r = bk_rados_shard_read(b, oid, g, fn, ctx, &missing);
            if (r == 0 && missing)
                r = -EIO;   /* gone since we looked: the catalog is being damaged */
            if (r != 0)
                return r;
        }
    return 0;
}

static int collect_entry(const char *name, uint64_t size, int gen, void *ctx)
{
    return bk_rados_entries_push(ctx, name, size, gen);
}

/* The whole catalog t, sorted by name. */
int bk_rados_catalog_read(rados_be *b, bk_obj_type t, struct entries *ret, bool *ret_missing)
{
    int r = catalog_each(b, t, collect_entry, ret, ret_missing);
    if (r == 0)
        bk_rados_entries_sort(ret);
    return r;
}

/* Start generation from + 1 of catalog t (nothing if another writer did already). */
int bk_rados_catalog_grow(rados_be *b, bk_obj_type t, int from)
{
    int G;
    bool missing;
    int r = bk_rados_gen_read(b, t, &G, &missing);
    if (r < 0 || missing || G != from || G >= GEN_MAX)
        return r;
    if ((r = bk_rados_shards_do(b, t, G + 1, G + 1, true, NULL)) < 0)
        return r;
    char oid[64], cur[16], next[16];
    bk_rados_shard_name(t, 0, "", oid, sizeof(oid));
    int cl = G ? snprintf(cur, sizeof(cur), "%d", G) : 0;   /* generation 0: no xattr */
    cur[cl] = 0;
    int nl = snprintf(next, sizeof(next), "%d", G + 1);
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return -ENOMEM;
    rados_write_op_assert_exists(op);
    rados_write_op_cmpxattr(op, GEN_XATTR, LIBRADOS_CMPXATTR_OP_EQ, cur, (size_t)cl);
    rados_write_op_setxattr(op, GEN_XATTR, next, (size_t)nl);
    r = rados_write_op_operate(op, b->io, oid, NULL, PUT_FLAGS);
    rados_release_write_op(op);
    if (r == -ECANCELED)
        r = 0;   /* another writer moved it on */
    bk_rados_gen_forget(b, t);
    return r;
}

/* After adding name to generation G: is its shard full?  Probed on one add in 16 (ids are
 * uniform; with a small split, on every add): the keys after <prefix>f..f (w digits f) are
 * 1/16^w of the shard. */
static void grow_maybe(rados_be *b, bk_obj_type t, int G, const char *name)
{
    uint64_t split = b->shard_split;
    size_t nl = strlen(name);
    if (G >= GEN_MAX || shard_gen(name, G) != G || (split >= 4096 && nl && name[nl - 1] != '0'))
        return;
    int w = 0;
    uint64_t limit = split;
    while (w < 8 && limit / 16 >= 32) {
        limit = (limit + 15) / 16;
        w++;
    }
    char oid[64], after[32];
    bk_rados_shard_for(t, G, name, oid, sizeof(oid));
    snprintf(after, sizeof(after), "%.*s%.*s", G, name, w, "ffffffff");
    rados_read_op_t op = rados_create_read_op();
    if (!op)
        return;
    rados_omap_iter_t it = NULL;
    unsigned char more = 0;
    int prval = 0;
    rados_read_op_omap_get_keys2(op, after, limit, &it, &more, &prval);
    int r = rados_read_op_operate(op, b->io, oid, 0);
    uint64_t n = 0;
    while (r == 0 && prval == 0) {
        char *key;
        size_t klen;
        if (rados_omap_get_next2(it, &key, NULL, &klen, NULL) < 0 || !key)
            break;
        n++;
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    if (r == 0 && prval == 0 && n >= limit)
        bk_rados_catalog_grow(b, t, G);   /* best effort: a failed attempt leaves the generation as it is */
}

/* ---- adding and removing entries ----------------------------------------------------------- */

int bk_rados_catalog_add(rados_be *b, bk_obj_type t, const char *name, uint64_t size,
                         double deadline)
{
    int G;
    bool missing;
    int r = gen_cached(b, t, &G, &missing);
    if (r == 0 && missing) {
        /* the catalog is lost (the object is written already): rebuild it; a repository of
         * layout 1 has no pack catalog, and gets none without the fence */
        bool fenced = true;
        if (t == BK_OBJ_DATA && (r = bk_rados_fence_present(b, &fenced)) < 0)
            return r;
        return fenced ? bk_rados_rebuild(b, t) : 0;
    }
    char oid[64];
    bk_rados_shard_for(t, G, name, oid, sizeof(oid));
    struct entry e = { (char *)name, size, G };
    int attempt = 0;
    while (r == 0) {
        r = bk_rados_shard_write(b, oid, false, &e, 1, NULL, 0, false);
        if (r == 0 || r == -ENOENT || !bk_rados_may_retry(r, deadline, &attempt))
            break;
        r = 0;
    }
    if (r == -ENOENT) {   /* a shard is gone: rebuild the catalog */
        bk_rados_gen_forget(b, t);
        return bk_rados_rebuild(b, t);
    }
    if (r == 0)
        grow_maybe(b, t, G, name);
    return r;
}

int bk_rados_catalog_prepare(rados_be *b, bk_obj_type t, const char *name)
{
    int G;
    bool missing;
    int r = gen_cached(b, t, &G, &missing);
    if (r == 0 && !missing)
        grow_maybe(b, t, G, name);
    return r;
}

rados_write_op_t bk_rados_catalog_add_op(rados_be *b, bk_obj_type t, const char *name,
                                         uint64_t size, char oid[OID_MAX])
{
    pthread_mutex_lock(&b->mu);
    int G = b->gen[t];
    pthread_mutex_unlock(&b->mu);
    if (G < 0)
        return NULL;
    bk_rados_shard_for(t, G, name, oid, OID_MAX);
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return NULL;
    char num[24];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
    const char *keys[1] = { name }, *vals[1] = { num };
    size_t lens[1] = { strlen(num) };
    rados_write_op_assert_exists(op);
    rados_write_op_omap_set(op, keys, vals, lens, 1);
    return op;
}

int bk_rados_catalog_remove(rados_be *b, bk_obj_type t, const char *name, double deadline)
{
    int G;
    bool missing;
    int r = gen_cached(b, t, &G, &missing);
    if (r < 0 || missing)
        return r;
    char prev[64] = "";
    for (int g = 0; r == 0 && g <= G; g++) {
        char oid[64], *key = (char *)name;
        bk_rados_shard_for(t, g, name, oid, sizeof(oid));
        if (strcmp(oid, prev) == 0)
            continue;
        snprintf(prev, sizeof(prev), "%s", oid);
        int attempt = 0;
        do {
            r = bk_rados_shard_write(b, oid, false, NULL, 0, &key, 1, false);
        } while (r < 0 && r != -ENOENT && bk_rados_may_retry(r, deadline, &attempt));
        if (r == -ENOENT)
            r = 0;
    }
    return r;
}

/* Is name in catalog t?  *ret_lost: the catalog is missing (nobody can tell). */
int bk_rados_catalog_has(rados_be *b, bk_obj_type t, const char *name, bool *ret, bool *ret_lost)
{
    int G;
    int r = bk_rados_gen_read(b, t, &G, ret_lost);
    *ret = false;
    char prev[64] = "";
    for (int g = 0; r == 0 && !*ret_lost && !*ret && g <= G; g++) {
        char oid[64];
        bk_rados_shard_for(t, g, name, oid, sizeof(oid));
        if (strcmp(oid, prev) == 0)
            continue;
        snprintf(prev, sizeof(prev), "%s", oid);
        rados_read_op_t op = rados_create_read_op();
        if (!op)
            return -ENOMEM;
        const char *keys[1] = { name };
        rados_omap_iter_t it = NULL;
        int prval = 0;
        rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
        r = rados_read_op_operate(op, b->io, oid, 0);
        if (r == 0)
            r = prval;
        char *key = NULL, *val;
        size_t klen, vlen;
        if (r == 0 && rados_omap_get_next2(it, &key, &val, &klen, &vlen) == 0 && key)
            *ret = true;
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
        if (r == -ENOENT)
            *ret_lost = true;
    }
    return r == -ENOENT ? 0 : r;
}

/* ---- listing ------------------------------------------------------------------------------------ */

struct list_ctx {
    size_t plen;
    bk_list_fn fn;
    void *ctx;
};

static int entry_to_list(const char *name, uint64_t size, int gen, void *ctx)
{
    struct list_ctx *l = ctx;
    return l->fn(name, size, l->ctx);
}

int bk_rados_list(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx)
{
    rados_be *b = downcast(be);
    if (t == BK_OBJ_CONFIG) {
        uint64_t size;
        int r = bk_rados_stat(be, t, "config", &size);
        if (r == -ENOENT)
            return 0;
        return r < 0 ? r : fn("config", size, ctx);
    }
    if (!has_catalog(t))
        return 0;
    int r = bk_rados_gate(b);
    if (r < 0)
        return r;
    struct list_ctx l = { 0, fn, ctx };
    bool missing;
    r = bk_rados_note(b, catalog_each(b, t, entry_to_list, &l, &missing));
    if (r != 0 || !missing)
        return r;

    /* the catalog was lost (or, for packs, this is a repository of layout 1 not yet moved
     * on): answer from a scan, and rebuild the catalog from it if we may */
    bool fenced = true;
    if (t == BK_OBJ_DATA && (r = bk_rados_note(b, bk_rados_fence_present(b, &fenced))) < 0)
        return r;
    struct bk_rados_scan_all_s s;
    r = bk_rados_note(b, bk_rados_scan_all(b, (int)t, &s));
    if (r == 0 && fenced)
        bk_rados_catalog_sync(b, t, &s.found[t]);   /* best effort: a reader may not write */
    for (size_t i = 0; r == 0 && i < s.found[t].n; i++)
        r = fn(s.found[t].v[i].name, s.found[t].v[i].size, ctx);
    bk_rados_scan_all_free(&s);
    return r;
}
