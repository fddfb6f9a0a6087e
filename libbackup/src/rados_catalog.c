/* rados_catalog.c - the catalogs of the RADOS backend.
 *
 * Listing a RADOS namespace costs a scan of every object in it (packs included), so keys,
 * index and snapshots are also listed in catalogs: objects catalog.keys, catalog.index and
 * catalog.snapshots in the main pool whose omap keys are the object ids and values their sizes
 * (decimal).  An entry is added after its object is written and removed before its object is
 * removed, so a crash can only leave an object out of its catalog (rebuild_catalogs puts it
 * back) or a stale entry whose object is gone (callers treat -ENOENT as "gone"). */
#include "rados_internal.h"

struct entries {
    struct entry *v;
    size_t n, cap;
};

static int entries_push(struct entries *e, const char *name, uint64_t size)
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
    e->n++;
    return 0;
}

static void entries_free(struct entries *e)
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


struct list_ctx {
    size_t plen;
    bk_list_fn fn;
    void *ctx;
};

static int scan_to_list(const char *oid, uint64_t size, void *ctx)
{
    struct list_ctx *l = ctx;
    return l->fn(oid + l->plen, size, l->ctx);
}

/* ---- catalogs ------------------------------------------------------------------------------- */

/* Read a whole catalog (sorted by name).  *ret_missing: the catalog object does not exist. */
static int catalog_read(rados_be *b, bk_obj_type t, struct entries *ret, bool *ret_missing)
{
    char cat[64], after[OID_MAX] = "";
    catalog_oid(t, cat, sizeof(cat));
    *ret_missing = false;
    for (;;) {
        rados_read_op_t op = rados_create_read_op();
        if (!op)
            return -ENOMEM;
        rados_omap_iter_t it = NULL;
        unsigned char more = 0;
        int prval = 0;
        rados_read_op_omap_get_vals2(op, after, "", OMAP_PAGE, &it, &more, &prval);
        int r = rados_read_op_operate(op, b->io, cat, 0);
        if (r == 0)
            r = prval;
        size_t first = ret->n;
        while (r == 0) {
            char *key, *val;
            size_t klen, vlen;
            if (rados_omap_get_next2(it, &key, &val, &klen, &vlen) < 0 || !key)
                break;
            char num[24];
            size_t vn = BK_MIN(vlen, sizeof(num) - 1);
            memcpy(num, val ? val : "", val ? vn : 0);
            num[val ? vn : 0] = 0;
            char name[OID_MAX];
            snprintf(name, sizeof(name), "%.*s", (int)BK_MIN(klen, sizeof(name) - 1), key);
            r = entries_push(ret, name, strtoull(num, NULL, 10));
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
        if (r == -ENOENT && after[0] == 0) {
            *ret_missing = true;
            return 0;
        }
        if (r < 0)
            return r;
        if (!more || ret->n == first)
            return 0;
        snprintf(after, sizeof(after), "%s", ret->v[ret->n - 1].name);
    }
}

/* One write op on a catalog: set and/or remove keys; create: make the object if missing,
 * else the op fails with -ENOENT when the catalog is gone (so that a lone entry never
 * recreates a catalog that lost all the others). */
int bk_rados_catalog_write(rados_be *b, bk_obj_type t, bool create, struct entry *set, size_t nset,
                         char **rm, size_t nrm, bool clear)
{
    char cat[64];
    catalog_oid(t, cat, sizeof(cat));
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
    r = rados_write_op_operate(op, b->io, cat, NULL, nset ? PUT_FLAGS : REMOVE_FLAGS);
out:
    if (op)
        rados_release_write_op(op);
    free(keys);
    free(vals);
    free(lens);
    free(nums);
    return r;
}

struct scan_all {
    struct entries found[BK_OBJ_TYPE_COUNT];
};

static int collect(const char *oid, uint64_t size, void *ctx)
{
    struct scan_all *s = ctx;
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++) {
        if (!has_catalog((bk_obj_type)t))
            continue;
        const char *tn = bk_obj_type_name((bk_obj_type)t);
        size_t tl = strlen(tn);
        if (strncmp(oid, tn, tl) == 0 && oid[tl] == '/' && oid[tl + 1])
            return entries_push(&s->found[t], oid + tl + 1, size);
    }
    return 0;
}

/* Make catalog t hold exactly the objects in found (sorted): add what is missing, drop
 * entries whose object is gone.  Never clears the catalog, so a put that completes
 * meanwhile keeps its entry. */
static int catalog_sync(rados_be *b, bk_obj_type t, struct entries *found)
{
    struct entries cur = { 0 };
    bool missing;
    int r = catalog_read(b, t, &cur, &missing);
    if (r < 0)
        return r;
    struct entries add = { 0 };
    char **rm = calloc(cur.n + 1, sizeof(*rm));
    size_t nrm = 0;
    if (!rm)
        r = -ENOMEM;
    size_t i = 0, j = 0;
    while (r == 0 && (i < found->n || j < cur.n)) {
        int c = i == found->n ? 1 : j == cur.n ? -1 : strcmp(found->v[i].name, cur.v[j].name);
        if (c < 0) {
            r = entries_push(&add, found->v[i].name, found->v[i].size);
            i++;
        } else if (c > 0) {
            /* listed, not found: confirm it is gone (it may have been written meanwhile) */
            char oid[OID_MAX];
            uint64_t size;
            if (oid_of(t, cur.v[j].name, oid, sizeof(oid)) < 0 ||
                rados_stat(b->io, oid, &size, NULL) == -ENOENT)
                rm[nrm++] = cur.v[j].name;
            j++;
        } else {
            if (found->v[i].size != cur.v[j].size)
                r = entries_push(&add, found->v[i].name, found->v[i].size);
            i++;
            j++;
        }
    }
    bool first = true;
    for (size_t k = 0; r == 0 && (first || k < add.n); k += OMAP_WRITE_BATCH) {
        size_t n = BK_MIN(add.n - k, (size_t)OMAP_WRITE_BATCH);
        if (n || missing)
            r = bk_rados_catalog_write(b, t, true, add.v + k, n, NULL, 0, false);
        first = false;
    }
    for (size_t k = 0; r == 0 && k < nrm; k += OMAP_WRITE_BATCH)
        r = bk_rados_catalog_write(b, t, true, NULL, 0, rm + k, BK_MIN(nrm - k, (size_t)OMAP_WRITE_BATCH), false);
    free(rm);
    entries_free(&add);
    entries_free(&cur);
    return r;
}

static int rebuild(rados_be *b, int only)
{
    struct scan_all s;
    memset(&s, 0, sizeof(s));
    int r = bk_rados_scan(b->io, NULL, collect, &s);
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++) {
        if (r == 0 && has_catalog((bk_obj_type)t) && (only < 0 || only == t)) {
            if (s.found[t].n > 1)   /* v is NULL when none was found */
                qsort(s.found[t].v, s.found[t].n, sizeof(struct entry), entry_cmp);
            r = catalog_sync(b, (bk_obj_type)t, &s.found[t]);
        }
        entries_free(&s.found[t]);
    }
    return r;
}

int bk_rados_rebuild_catalogs(bk_backend *be)
{
    rados_be *b = downcast(be);
    int r = bk_rados_gate(b);
    return r < 0 ? r : bk_rados_note(b, rebuild(b, -1));
}

int bk_rados_catalog_add(rados_be *b, bk_obj_type t, const char *name, uint64_t size, double deadline)
{
    struct entry e = { (char *)name, size };
    int attempt = 0, r;
    do {
        r = bk_rados_catalog_write(b, t, false, &e, 1, NULL, 0, false);
    } while (r < 0 && r != -ENOENT && bk_rados_may_retry(r, deadline, &attempt));
    if (r == -ENOENT)   /* the catalog is gone: rebuild it (the object is written already) */
        r = rebuild(b, t);
    return r;
}

int bk_rados_catalog_remove(rados_be *b, bk_obj_type t, const char *name, double deadline)
{
    char *key = (char *)name;
    int attempt = 0, r;
    do {
        r = bk_rados_catalog_write(b, t, false, NULL, 0, &key, 1, false);
    } while (r < 0 && r != -ENOENT && bk_rados_may_retry(r, deadline, &attempt));
    return r == -ENOENT ? 0 : r;
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
    int r = bk_rados_gate(b);
    if (r < 0)
        return r;
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%s/", bk_obj_type_name(t));
    struct list_ctx l = { strlen(prefix), fn, ctx };
    if (t == BK_OBJ_DATA)
        return bk_rados_note(b, bk_rados_scan(b->data_io, prefix, scan_to_list, &l));
    if (!has_catalog(t))
        return 0;

    struct entries cur = { 0 };
    bool missing;
    r = bk_rados_note(b, catalog_read(b, t, &cur, &missing));
    if (r == 0 && missing) {
        /* the catalog object was lost: answer from a scan, and recreate it if we may */
        entries_free(&cur);
        rebuild(b, t);
        return bk_rados_scan(b->io, prefix, scan_to_list, &l);
    }
    for (size_t i = 0; r == 0 && i < cur.n; i++)
        r = fn(cur.v[i].name, cur.v[i].size, ctx);
    entries_free(&cur);
    return r;
}

/* Index objects and snapshots that their catalog does not list: left by a writer that died
 * or timed out between storing one and cataloguing it.  Nothing sees them, so prune does
 * not count what they name, and deletes it: remove them too, so that no object is left
 * naming packs that are gone.  Only under the exclusive lock, when no writer can be
 * between the two steps. */
int bk_rados_remove_strays(bk_backend *be, size_t *ret_removed)
{
    rados_be *b = downcast(be);
    *ret_removed = 0;
    if (!b->repo_lock.held || !b->repo_lock.exclusive)
        return -ENOLCK;
    int r = bk_rados_gate(b);
    if (r < 0)
        return r;
    struct scan_all s;
    memset(&s, 0, sizeof(s));
    r = bk_rados_note(b, bk_rados_scan(b->io, NULL, collect, &s));
    const bk_obj_type types[] = { BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    for (size_t k = 0; r == 0 && k < 2; k++) {
        bk_obj_type t = types[k];
        struct entries cur = { 0 };
        bool missing;
        r = bk_rados_note(b, catalog_read(b, t, &cur, &missing));
        if (r == 0 && missing)
            r = -ENOENT;   /* a lost catalog is no reason to delete everything */
        struct entries *found = &s.found[t];
        if (found->n > 1)   /* none found: v is NULL, which qsort may not be given */
            qsort(found->v, found->n, sizeof(struct entry), entry_cmp);
        for (size_t i = 0, j = 0; r == 0 && i < found->n; i++) {
            while (j < cur.n && strcmp(cur.v[j].name, found->v[i].name) < 0)
                j++;
            if (j < cur.n && strcmp(cur.v[j].name, found->v[i].name) == 0)
                continue;
            char oid[OID_MAX];
            if ((r = oid_of(t, found->v[i].name, oid, sizeof(oid))) == 0 &&
                (r = bk_rados_lock_check(b, &b->repo_lock)) == 0) {
                r = bk_rados_note(b, bk_rados_remove_object(b->io, oid));
                if (r == 0)
                    (*ret_removed)++;
                r = r == -ENOENT ? 0 : r;
            }
        }
        entries_free(&cur);
    }
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++)
        entries_free(&s.found[t]);
    return r;
}

/* Does catalog t list an object that exists? */
int bk_rados_catalog_live(rados_be *b, bk_obj_type t, bool *ret)
{
    struct entries cur = { 0 };
    bool missing;
    int r = catalog_read(b, t, &cur, &missing);
    *ret = false;
    for (size_t i = 0; r == 0 && !*ret && i < cur.n; i++) {
        char oid[OID_MAX];
        uint64_t size;
        if (oid_of(t, cur.v[i].name, oid, sizeof(oid)) == 0)
            *ret = rados_stat(b->io, oid, &size, NULL) == 0;
    }
    entries_free(&cur);
    return r == -ENOENT ? 0 : r;
}
