/* backend_rados.c - a repository in a Ceph RADOS pool (and namespace), on the librados C API.
 *
 * Objects: config, keys/<id>, data/<id>, index/<id>, snapshots/<id> and lock, all in the
 * pool + namespace of the location; with a data pool, data/ objects live there instead (same
 * namespace; it may be erasure coded, so nothing there uses omap).  The data pool is recorded
 * at init in the xattr arca.data_pool of config, so later runs find it by themselves.
 *
 * Listing a RADOS namespace costs a scan of every object in it (packs included), so keys,
 * index and snapshots are also listed in catalogs: objects catalog.keys, catalog.index and
 * catalog.snapshots in the main pool whose omap keys are the object ids and values their sizes
 * (decimal).  An entry is added after its object is written and removed before its object is
 * removed, so a crash can only leave an object out of its catalog (rebuild_catalogs puts it
 * back) or a stale entry whose object is gone (callers treat -ENOENT as "gone").
 *
 * librados waits forever for a dead cluster by default: every call here is bounded by the
 * osd/mon op timeouts set from conf->ceph_timeout, and an -ETIMEDOUT write has an unknown
 * outcome (the OSD may still apply it).  Once an operation timed out, the handle fails fast:
 * new operations get -ETIMEDOUT at once, so a stalled cluster ends a run after about one
 * timeout, not one per operation. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include <rados/librados.h>
#include <sodium.h>

#include "backend.h"
#include "util.h"

#define DEFAULT_TIMEOUT 30          /* seconds */
#define DEFAULT_INFLIGHT 8
#define DEFAULT_LOCK_DURATION 30    /* seconds; ARCA_RADOS_LOCK_DURATION overrides */
#define LOCK_OBJ "lock"
#define LOCK_NAME "arca"
#define PRUNE_LOCK_NAME "arca-prune"
#define LOCK_TAG "arca"
#define DATA_POOL_XATTR "arca.data_pool"
#define CATALOG_PREFIX "catalog."
#define OID_MAX 320
#define READ_CHUNK ((size_t)32 << 20)
#define MAX_ATTEMPTS 3
#define STAT_BATCH 256              /* aio stats in flight while scanning */
#define OMAP_PAGE 1000
#define OMAP_WRITE_BATCH 1000
/* A full pool makes librados hold writes until the timeout: fail them with -ENOSPC instead;
 * removals go through (they are what frees space: prune). */
#define PUT_FLAGS LIBRADOS_OPERATION_FULL_TRY
#define REMOVE_FLAGS LIBRADOS_OPERATION_FULL_FORCE

/* A cls_lock lock on the lock object that this handle may hold. */
typedef struct held_lock {
    const char *name;               /* LOCK_NAME or PRUNE_LOCK_NAME */
    bool held, exclusive, lost;     /* (under lock_mu) */
    double renewed;                 /* monotonic time the last successful (re)lock was sent */
    char *cookie;                   /* "<random hex> <info>": list_lockers shows cookies */
    char *desc;
} held_lock;

typedef struct rados_be {
    bk_backend base;
    rados_t cluster;
    rados_ioctx_t io;               /* main pool + namespace */
    rados_ioctx_t data_io;          /* data pool + namespace, or io */
    char *data_pool;                /* NULL: data in the main pool */
    int timeout;                    /* seconds */
    double stalled_since;           /* monotonic time of the last timeout, 0 = healthy (mu) */
    uint64_t max_object;            /* osd_max_object_size */
    uint64_t max_write;             /* osd_max_write_size, bytes */
    uint64_t data_align;            /* append alignment of the data pool (EC), 0 = none */

    /* asynchronous puts */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int window, inflight;

    /* the repository lock and the prune lock, renewed by one thread while either is held */
    pthread_mutex_t lock_mu;
    pthread_cond_t lock_cond;       /* CLOCK_MONOTONIC */
    pthread_t renew_thread;
    bool renewing, renew_stop;
    int lock_duration;              /* seconds */
    held_lock repo_lock, prune_lock;
} rados_be;

static rados_be *downcast(bk_backend *be)
{
    return (rados_be *)be;
}

/* ---- names and small helpers ------------------------------------------------------------- */

static bool has_catalog(bk_obj_type t)
{
    return t == BK_OBJ_KEY || t == BK_OBJ_INDEX || t == BK_OBJ_SNAPSHOT;
}

static int oid_of(bk_obj_type t, const char *name, char *out, size_t n)
{
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return -EINVAL;
    int k;
    if (t == BK_OBJ_CONFIG)
        k = snprintf(out, n, "config");
    else if (t == BK_OBJ_DATA || has_catalog(t))
        k = snprintf(out, n, "%s/%s", bk_obj_type_name(t), name);
    else
        return -EINVAL;
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static void catalog_oid(bk_obj_type t, char *out, size_t n)
{
    snprintf(out, n, CATALOG_PREFIX "%s", bk_obj_type_name(t));
}

static rados_ioctx_t io_for(rados_be *b, bk_obj_type t)
{
    return t == BK_OBJ_DATA ? b->data_io : b->io;
}

/* Errors that another attempt may not see (librados resends ops across map changes by
 * itself; these are what is left). */
static bool transient(int r)
{
    return r == -ETIMEDOUT || r == -EAGAIN || r == -EINTR || r == -ECONNRESET ||
           r == -ENOTCONN || r == -ECONNREFUSED;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* After a failed attempt: pause and return true if another attempt fits before deadline
 * (an -ETIMEDOUT attempt used the whole timeout, so it is never retried). */
static bool may_retry(int r, double deadline, int *attempt)
{
    if (!transient(r) || ++*attempt >= MAX_ATTEMPTS || bk_interrupted())
        return false;
    double pause = 0.1 * (double)(1 << *attempt);
    if (bk_monotonic() + pause + 1.0 > deadline)
        return false;
    sleep_s(pause);
    return true;
}

static double deadline_of(rados_be *b)
{
    return bk_monotonic() + (double)b->timeout;
}

/* The fail-fast gate: -ETIMEDOUT once an operation of this handle timed out.  It stays shut:
 * the command is failing anyway, and every operation let through would wait one more
 * timeout, so that a run ends within about one timeout of the cluster's going silent. */
static int gate(rados_be *b)
{
    pthread_mutex_lock(&b->mu);
    bool stalled = b->stalled_since > 0;
    pthread_mutex_unlock(&b->mu);
    return stalled ? -ETIMEDOUT : 0;
}

/* Record what the cluster's answer says about it; returns r. */
static int note(rados_be *b, int r)
{
    if (r == -ETIMEDOUT) {
        pthread_mutex_lock(&b->mu);
        if (b->stalled_since == 0)
            b->stalled_since = bk_monotonic();
        pthread_mutex_unlock(&b->mu);
    }
    return r;
}

struct entry {
    char *name;
    uint64_t size;
};

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

/* ---- reading ----------------------------------------------------------------------------- */

static int read_range(rados_ioctx_t io, const char *oid, uint64_t off, size_t len, uint8_t *dst)
{
    size_t got = 0;
    while (got < len) {
        size_t want = BK_MIN(len - got, READ_CHUNK);
        int k = rados_read(io, oid, (char *)dst + got, want, off + got);
        if (k < 0)
            return k;
        if (k == 0)
            return -ENODATA;
        got += (size_t)k;
    }
    return 0;
}

static int rados_get(bk_backend *be, bk_obj_type t, const char *name, uint64_t off, size_t len,
                     bk_buf *out)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if ((r = gate(b)) < 0)
        return r;
    rados_ioctx_t io = io_for(b, t);
    double deadline = deadline_of(b);
    int attempt = 0;
    for (;;) {
        uint64_t size = 0;
        if (len == 0) {
            r = rados_stat(io, oid, &size, NULL);
            if (r == 0 && off > size)
                r = -ENODATA;
        }
        size_t want = len ? len : (size_t)(size - off);
        if (r == 0)
            r = bk_buf_reserve(out, want);
        if (r == 0)
            r = read_range(io, oid, off, want, out->data + out->len);
        if (r == 0) {
            out->len += want;
            return note(b, 0);
        }
        if (!may_retry(r, deadline, &attempt))
            return note(b, r);
    }
}

static int rados_stat_op(bk_backend *be, bk_obj_type t, const char *name, uint64_t *ret)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if ((r = gate(b)) < 0)
        return r;
    double deadline = deadline_of(b);
    int attempt = 0;
    do {
        r = rados_stat(io_for(b, t), oid, ret, NULL);
    } while (r < 0 && may_retry(r, deadline, &attempt));
    return note(b, r);
}

/* 0 if oid holds exactly p[0..n), -EEXIST if it holds something else. */
static int same_content(rados_ioctx_t io, const char *oid, const void *p, size_t n)
{
    uint64_t size;
    int r = rados_stat(io, oid, &size, NULL);
    if (r < 0)
        return r;
    if (size != n)
        return -EEXIST;
    size_t chunk = BK_MIN(n, READ_CHUNK);
    uint8_t *tmp = malloc(chunk ? chunk : 1);
    if (!tmp)
        return -ENOMEM;
    for (size_t off = 0; r == 0 && off < n; off += chunk) {
        size_t k = BK_MIN(chunk, n - off);
        r = read_range(io, oid, off, k, tmp);
        if (r == 0 && memcmp(tmp, (const uint8_t *)p + off, k) != 0)
            r = -EEXIST;
    }
    free(tmp);
    return r == -ENODATA ? -EEXIST : r;
}

/* ---- listing by scanning the namespace ----------------------------------------------------- */

typedef int (*scan_fn)(const char *oid, uint64_t size, void *ctx);

/* Stat a batch of objects in parallel and pass those that still exist to fn. */
static int stat_batch(rados_ioctx_t io, char **oids, size_t n, scan_fn fn, void *ctx)
{
    rados_completion_t comp[STAT_BATCH];
    uint64_t size[STAT_BATCH];
    int res[STAT_BATCH];
    for (size_t i = 0; i < n; i++) {
        comp[i] = NULL;
        res[i] = rados_aio_create_completion2(NULL, NULL, &comp[i]);
        if (res[i] == 0) {
            res[i] = rados_aio_stat(io, oids[i], comp[i], &size[i], NULL);
            if (res[i] < 0) {
                rados_aio_release(comp[i]);
                comp[i] = NULL;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!comp[i])
            continue;
        rados_aio_wait_for_complete(comp[i]);
        res[i] = rados_aio_get_return_value(comp[i]);
        rados_aio_release(comp[i]);
    }
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (res[i] == -ENOENT)
            continue;   /* removed meanwhile */
        r = res[i] < 0 ? res[i] : fn(oids[i], size[i], ctx);
    }
    return r;
}

/* Every object of the namespace whose name starts with prefix (NULL: every object). */
static int scan(rados_ioctx_t io, const char *prefix, scan_fn fn, void *ctx)
{
    rados_list_ctx_t lc;
    int r = rados_nobjects_list_open(io, &lc);
    if (r < 0)
        return r;
    size_t plen = prefix ? strlen(prefix) : 0;
    char *oids[STAT_BATCH];
    size_t n = 0;
    bool end = false;
    while (r == 0 && !end) {
        const char *entry;
        int k = rados_nobjects_list_next(lc, &entry, NULL, NULL);
        if (k == -ENOENT)
            end = true;
        else if (k < 0)
            r = k;
        else if (!prefix || strncmp(entry, prefix, plen) == 0) {
            if (!(oids[n] = strdup(entry)))
                r = -ENOMEM;
            else
                n++;
        }
        if (r == 0 && (n == STAT_BATCH || (end && n > 0))) {
            r = stat_batch(io, oids, n, fn, ctx);
            for (size_t i = 0; i < n; i++)
                free(oids[i]);
            n = 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(oids[i]);
    rados_nobjects_list_close(lc);
    return r;
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
static int catalog_write(rados_be *b, bk_obj_type t, bool create, struct entry *set, size_t nset,
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
            r = catalog_write(b, t, true, add.v + k, n, NULL, 0, false);
        first = false;
    }
    for (size_t k = 0; r == 0 && k < nrm; k += OMAP_WRITE_BATCH)
        r = catalog_write(b, t, true, NULL, 0, rm + k, BK_MIN(nrm - k, (size_t)OMAP_WRITE_BATCH), false);
    free(rm);
    entries_free(&add);
    entries_free(&cur);
    return r;
}

static int rebuild(rados_be *b, int only)
{
    struct scan_all s;
    memset(&s, 0, sizeof(s));
    int r = scan(b->io, NULL, collect, &s);
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

static int rados_rebuild_catalogs(bk_backend *be)
{
    rados_be *b = downcast(be);
    int r = gate(b);
    return r < 0 ? r : note(b, rebuild(b, -1));
}

static int catalog_add(rados_be *b, bk_obj_type t, const char *name, uint64_t size, double deadline)
{
    struct entry e = { (char *)name, size };
    int attempt = 0, r;
    do {
        r = catalog_write(b, t, false, &e, 1, NULL, 0, false);
    } while (r < 0 && r != -ENOENT && may_retry(r, deadline, &attempt));
    if (r == -ENOENT)   /* the catalog is gone: rebuild it (the object is written already) */
        r = rebuild(b, t);
    return r;
}

static int catalog_remove(rados_be *b, bk_obj_type t, const char *name, double deadline)
{
    char *key = (char *)name;
    int attempt = 0, r;
    do {
        r = catalog_write(b, t, false, NULL, 0, &key, 1, false);
    } while (r < 0 && r != -ENOENT && may_retry(r, deadline, &attempt));
    return r == -ENOENT ? 0 : r;
}

static int rados_list(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx)
{
    rados_be *b = downcast(be);
    if (t == BK_OBJ_CONFIG) {
        uint64_t size;
        int r = rados_stat_op(be, t, "config", &size);
        if (r == -ENOENT)
            return 0;
        return r < 0 ? r : fn("config", size, ctx);
    }
    int r = gate(b);
    if (r < 0)
        return r;
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%s/", bk_obj_type_name(t));
    struct list_ctx l = { strlen(prefix), fn, ctx };
    if (t == BK_OBJ_DATA)
        return note(b, scan(b->data_io, prefix, scan_to_list, &l));
    if (!has_catalog(t))
        return 0;

    struct entries cur = { 0 };
    bool missing;
    r = note(b, catalog_read(b, t, &cur, &missing));
    if (r == 0 && missing) {
        /* the catalog object was lost: answer from a scan, and recreate it if we may */
        entries_free(&cur);
        rebuild(b, t);
        return scan(b->io, prefix, scan_to_list, &l);
    }
    for (size_t i = 0; r == 0 && i < cur.n; i++)
        r = fn(cur.v[i].name, cur.v[i].size, ctx);
    entries_free(&cur);
    return r;
}

/* ---- locks ------------------------------------------------------------------------------------ */

/* The lock calls are the "lock" object class's own methods, as rados_lock_* and
 * rados_unlock send them, but in a write op so that they take op flags: rados_lock_* have
 * none, and a full pool would hold them until the timeout.  The inputs are Ceph-encoded
 * cls_lock_lock_op / cls_lock_unlock_op (cls/lock/cls_lock_ops.h, struct version 1):
 * u8 version, u8 compat, u32 length, then strings as u32 length + bytes, little-endian. */
#define CLS_LOCK_EXCLUSIVE 1
#define CLS_LOCK_SHARED 2

static void enc_u32(bk_buf *e, uint32_t v, int *r)
{
    uint8_t b[4];
    bk_put_le32(b, v);
    if (*r == 0)
        *r = bk_buf_append(e, b, 4);
}

static void enc_u8(bk_buf *e, uint8_t v, int *r)
{
    if (*r == 0)
        *r = bk_buf_append(e, &v, 1);
}

static void enc_str(bk_buf *e, const char *s, int *r)
{
    enc_u32(e, (uint32_t)strlen(s), r);
    if (*r == 0)
        *r = bk_buf_append(e, s, strlen(s));
}

/* A cls call in flight.  Its waiter may give up on it (the handle is closing while the
 * cluster does not answer): then the completion callback frees it. */
typedef struct cls_call {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done, abandoned;
    int prval, result;
} cls_call;

static void cls_done(rados_completion_t c, void *arg)
{
    cls_call *cc = arg;
    pthread_mutex_lock(&cc->mu);
    cc->done = true;
    cc->result = rados_aio_get_return_value(c);
    bool abandoned = cc->abandoned;
    pthread_cond_broadcast(&cc->cond);
    pthread_mutex_unlock(&cc->mu);
    if (abandoned) {
        pthread_mutex_destroy(&cc->mu);
        pthread_cond_destroy(&cc->cond);
        free(cc);
    }
}

/* Run method of the lock class on the lock object.  give_up (may be NULL): checked now and
 * then while waiting, under lock_mu; when it turns true the call is left to finish without
 * us and -ECANCELED is returned (the renewal thread, when the handle closes). */
static int cls_lock_exec(rados_be *b, const char *method, const bk_buf *payload, int op_flags,
                         const bool *give_up)
{
    bk_buf in = BK_BUF_INIT;
    int r = 0;
    enc_u8(&in, 1, &r);             /* struct version */
    enc_u8(&in, 1, &r);             /* compatible with version */
    enc_u32(&in, (uint32_t)payload->len, &r);
    if (r == 0)
        r = bk_buf_append(&in, payload->data, payload->len);
    cls_call *cc = r == 0 ? calloc(1, sizeof(*cc)) : NULL;
    rados_write_op_t op = cc ? rados_create_write_op() : NULL;
    rados_completion_t comp = NULL;
    if (r == 0 && (!op || rados_aio_create_completion2(cc, cls_done, &comp) < 0))
        r = -ENOMEM;
    if (cc) {
        pthread_mutex_init(&cc->mu, NULL);
        pthread_cond_init(&cc->cond, NULL);
    }
    if (r == 0) {
        rados_write_op_exec(op, "lock", method, (const char *)in.data, in.len, &cc->prval);
        r = rados_aio_write_op_operate(op, b->io, comp, LOCK_OBJ, NULL, op_flags);
    }
    bool abandoned = false;
    if (r == 0) {
        pthread_mutex_lock(&cc->mu);
        while (!cc->done) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&cc->cond, &cc->mu, &ts);
            bool stop = false;
            if (!cc->done && give_up) {
                pthread_mutex_lock(&b->lock_mu);
                stop = *give_up;
                pthread_mutex_unlock(&b->lock_mu);
            }
            if (stop) {
                cc->abandoned = abandoned = true;
                break;
            }
        }
        r = abandoned ? -ECANCELED : cc->result == 0 ? cc->prval : cc->result;
        pthread_mutex_unlock(&cc->mu);
    }
    if (comp)
        rados_aio_release(comp);   /* librados keeps it until the op is done */
    if (op)
        rados_release_write_op(op);
    if (cc && !abandoned) {
        pthread_mutex_destroy(&cc->mu);
        pthread_cond_destroy(&cc->cond);
        free(cc);
    }
    bk_buf_free(&in);
    return r;
}

/* Take or renew (LIBRADOS_LOCK_FLAG_MUST_RENEW) lock l.  A backup's shared lock fails at
 * once on a full pool (-ENOSPC); exclusive locks (prune, key removal: what frees space) and
 * renewals of a lock already held go through. */
static int lock_call(rados_be *b, const held_lock *l, uint8_t flags, const bool *give_up)
{
    bk_buf p = BK_BUF_INIT;
    int r = 0;
    enc_str(&p, l->name, &r);
    enc_u8(&p, l->exclusive ? CLS_LOCK_EXCLUSIVE : CLS_LOCK_SHARED, &r);
    enc_str(&p, l->cookie, &r);
    enc_str(&p, l->exclusive ? "" : LOCK_TAG, &r);
    enc_str(&p, l->desc, &r);
    enc_u32(&p, (uint32_t)b->lock_duration, &r);   /* utime_t: seconds, nanoseconds */
    enc_u32(&p, 0, &r);
    enc_u8(&p, flags, &r);
    bool force = l->exclusive || (flags & LIBRADOS_LOCK_FLAG_MUST_RENEW);
    if (r == 0)
        r = cls_lock_exec(b, "lock", &p, force ? LIBRADOS_OPERATION_FULL_FORCE
                                               : LIBRADOS_OPERATION_FULL_TRY, give_up);
    bk_buf_free(&p);
    return r;
}

static int unlock_call(rados_be *b, const held_lock *l)
{
    bk_buf p = BK_BUF_INIT;
    int r = 0;
    enc_str(&p, l->name, &r);
    enc_str(&p, l->cookie, &r);
    if (r == 0)
        r = cls_lock_exec(b, "unlock", &p, LIBRADOS_OPERATION_FULL_FORCE, NULL);
    bk_buf_free(&p);
    return r;
}

/* Renew l now (the caller holds lock_mu, which this drops while it waits for the cluster).
 * A lock that lapsed (we were stalled too long) or was broken is lost for good.  give_up:
 * as for cls_lock_exec (the renewal thread gives up when the handle closes). */
static int renew(rados_be *b, held_lock *l, const bool *give_up)
{
    pthread_mutex_unlock(&b->lock_mu);
    double sent = bk_monotonic();
    int r = note(b, lock_call(b, l, LIBRADOS_LOCK_FLAG_MUST_RENEW, give_up));
    pthread_mutex_lock(&b->lock_mu);
    if (r == 0 && sent > l->renewed)
        l->renewed = sent;
    if ((r == -ENOENT || r == -EBUSY) && l->held)
        l->lost = true;
    return r;
}

static void *renew_main(void *arg)
{
    rados_be *b = arg;
    double interval = (double)b->lock_duration / 3.0;
    pthread_mutex_lock(&b->lock_mu);
    while (!b->renew_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double until = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + interval;
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        while (!b->renew_stop && pthread_cond_timedwait(&b->lock_cond, &b->lock_mu, &ts) == 0)
            ;
        /* other errors than a lost lock (timeouts): try again at the next interval; not
         * while the cluster is known to be silent (the run is failing, the lock lapses) */
        held_lock *locks[] = { &b->repo_lock, &b->prune_lock };
        for (size_t i = 0; i < 2 && !b->renew_stop; i++)
            if (locks[i]->held && !locks[i]->lost && gate(b) == 0)
                renew(b, locks[i], &b->renew_stop);
    }
    pthread_mutex_unlock(&b->lock_mu);
    return NULL;
}

/* The lock l must still be ours before something a concurrent prune (or, for the prune
 * lock, a second prune) could rely on is written or removed.  When renewals are late (a
 * stalled process, a slow cluster), check synchronously.  0 when l is not held. */
static int lock_check(rados_be *b, held_lock *l)
{
    pthread_mutex_lock(&b->lock_mu);
    int r = 0;
    if (l->held && l->lost)
        r = -ENOLCK;
    else if (l->held && bk_monotonic() - l->renewed >= (double)b->lock_duration * 2.0 / 3.0) {
        r = gate(b);
        if (r == 0)
            r = renew(b, l, NULL);
        if (l->lost)
            r = -ENOLCK;
    }
    pthread_mutex_unlock(&b->lock_mu);
    return r;
}

/* Before a write or removal: packs are harmless to add, anything else needs the repository
 * lock still held; removing a pack (prune) needs the prune lock still held too. */
static int lock_guard(rados_be *b, bk_obj_type t, bool removal)
{
    int r = t == BK_OBJ_DATA && !removal ? 0 : lock_check(b, &b->repo_lock);
    return r == 0 && removal ? lock_check(b, &b->prune_lock) : r;
}

static int lock_duration_setting(void)
{
    const char *e = getenv("ARCA_RADOS_LOCK_DURATION");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == 0 && v >= 1 && v <= 86400)
            return (int)v;
    }
    return DEFAULT_LOCK_DURATION;
}

static void lock_forget(held_lock *l)
{
    free(l->cookie);
    free(l->desc);
    l->cookie = l->desc = NULL;
}

/* Take l (-EBUSY if a conflicting holder has it) and see that it is renewed. */
static int lock_take(rados_be *b, held_lock *l, bool exclusive, const char *info)
{
    if (l->held)
        return -EALREADY;
    uint8_t rnd[8];
    char rh[17];
    randombytes_buf(rnd, sizeof(rnd));
    bk_hex(rnd, sizeof(rnd), rh);
    if (!info)
        info = "";
    if (asprintf(&l->cookie, "%s %s", rh, info) < 0)
        l->cookie = NULL;
    l->desc = strdup(info);
    if (!l->cookie || !l->desc) {
        lock_forget(l);
        return -ENOMEM;
    }
    l->exclusive = exclusive;
    b->lock_duration = lock_duration_setting();
    double sent = bk_monotonic();
    int r = gate(b);
    if (r == 0)
        r = note(b, lock_call(b, l, 0, NULL));
    if (r == -EEXIST)
        r = -EBUSY;   /* same client and cookie: cannot happen with a random cookie */
    if (r < 0) {
        lock_forget(l);
        return r;
    }
    pthread_mutex_lock(&b->lock_mu);
    l->renewed = sent;
    l->lost = false;
    l->held = true;
    if (!b->renewing) {
        b->renew_stop = false;
        b->renewing = pthread_create(&b->renew_thread, NULL, renew_main, b) == 0;
    }
    bool renewing = b->renewing;
    pthread_mutex_unlock(&b->lock_mu);
    if (!renewing) {
        unlock_call(b, l);
        l->held = false;
        lock_forget(l);
        return -EAGAIN;
    }
    return 0;
}

static int lock_release(rados_be *b, held_lock *l)
{
    if (!l->held)
        return 0;
    pthread_mutex_lock(&b->lock_mu);
    l->held = false;
    bool idle = b->renewing && !b->repo_lock.held && !b->prune_lock.held;
    if (idle) {
        b->renew_stop = true;
        pthread_cond_broadcast(&b->lock_cond);
    }
    pthread_mutex_unlock(&b->lock_mu);
    if (idle) {
        pthread_join(b->renew_thread, NULL);
        b->renewing = false;
    }
    /* a stalled cluster would only make us wait: the lock lapses by itself */
    int r = gate(b);
    if (r == 0)
        r = note(b, unlock_call(b, l));
    if (r == -ENOENT)
        r = 0;   /* lapsed already */
    lock_forget(l);
    return r;
}

static int rados_lock(bk_backend *be, bool exclusive, const char *info)
{
    rados_be *b = downcast(be);
    return lock_take(b, &b->repo_lock, exclusive, info);
}

static int rados_unlock_op(bk_backend *be)
{
    rados_be *b = downcast(be);
    return lock_release(b, &b->repo_lock);
}

/* One prune at a time: an exclusive lock of its own, held from planning to the last
 * removal, so that a second prune never deletes packs the first has just written. */
static int rados_lock_prune(bk_backend *be, bool acquire)
{
    rados_be *b = downcast(be);
    if (!acquire)
        return lock_release(b, &b->prune_lock);
    char who[512], info[540];
    bk_process_id(who, sizeof(who));
    snprintf(info, sizeof(info), "prune by %s", who);
    return lock_take(b, &b->prune_lock, true, info);
}

/* fn(lock, client, cookie, addr) for each holder of the lock named lock other than this
 * handle. */
typedef int (*holder_fn)(rados_be *b, const char *lock, const char *client, const char *cookie,
                         const char *addr, void *ctx);

static int for_each_holder(rados_be *b, const char *lock, holder_fn fn, void *ctx)
{
    size_t tag_len = 256, cl_len = 4096, ck_len = 16384, ad_len = 4096;
    char *tag = NULL, *cl = NULL, *ck = NULL, *ad = NULL;
    ssize_t n = -ERANGE;
    int exclusive = 0;
    for (int tries = 0; n == -ERANGE && tries < 4; tries++) {
        free(tag);
        free(cl);
        free(ck);
        free(ad);
        tag = calloc(1, tag_len + 1);
        cl = calloc(1, cl_len + 1);
        ck = calloc(1, ck_len + 1);
        ad = calloc(1, ad_len + 1);
        if (!tag || !cl || !ck || !ad) {
            n = -ENOMEM;
            break;
        }
        n = rados_list_lockers(b->io, LOCK_OBJ, lock, &exclusive, tag, &tag_len, cl, &cl_len,
                               ck, &ck_len, ad, &ad_len);
    }
    int r = n == -ENOENT ? 0 : n < 0 ? (int)n : 0;
    const char *pc = cl, *pk = ck, *pa = ad;
    for (ssize_t i = 0; r == 0 && i < n; i++) {
        const held_lock *mine = strcmp(lock, LOCK_NAME) == 0 ? &b->repo_lock : &b->prune_lock;
        if (!(mine->cookie && strcmp(pk, mine->cookie) == 0))
            r = fn(b, lock, pc, pk, pa, ctx);
        pc += strlen(pc) + 1;
        pk += strlen(pk) + 1;
        pa += strlen(pa) + 1;
    }
    free(tag);
    free(cl);
    free(ck);
    free(ad);
    return r;
}

static int describe_holder(rados_be *b, const char *lock, const char *client, const char *cookie,
                           const char *addr, void *ctx)
{
    bk_buf *out = ctx;
    const char *sp = strchr(cookie, ' ');
    const char *info = sp && sp[1] ? sp + 1 : "a lock";
    char line[1024];
    int k = snprintf(line, sizeof(line), "%s%s (%s at %s)", out->len ? "; " : "", info, client,
                     addr);
    return bk_buf_append(out, line, (size_t)BK_MIN(k, (int)sizeof(line) - 1));
}

static int rados_lock_holders(bk_backend *be, bk_buf *out)
{
    return for_each_holder(downcast(be), LOCK_NAME, describe_holder, out);
}

/* A holder is known dead when its cookie names this host and pid namespace ("... by
 * USER@HOST pid N (pid:[INODE]) ...", bk_process_id) and no process N runs here: its lock
 * would only lapse at the end of its duration, so break it now (what fcntl does for local
 * repositories). */
static bool holder_is_dead(const char *cookie)
{
    const char *at = strchr(cookie, '@');
    const char *pid = at ? strstr(at, " pid ") : NULL;
    if (!pid)
        return false;
    char host[256];
    bk_hostname(host, sizeof(host));
    size_t hl = (size_t)(pid - at - 1);
    if (hl != strlen(host) || memcmp(at + 1, host, hl) != 0)
        return false;
    char *end;
    long v = strtol(pid + 5, &end, 10);
    if (end == pid + 5 || v <= 0 || v > INT32_MAX)
        return false;
    char ns[80];
    bk_pid_namespace(ns, sizeof(ns));
    if (!ns[0] || strncmp(end, " ", 1) != 0 || strncmp(end + 1, ns, strlen(ns)) != 0)
        return false;   /* another pid namespace (a container), or unknown: cannot tell */
    return kill((pid_t)v, 0) < 0 && errno == ESRCH;
}

static int break_dead_holder(rados_be *b, const char *lock, const char *client,
                             const char *cookie, const char *addr, void *ctx)
{
    size_t *removed = ctx;
    if (!holder_is_dead(cookie))
        return 0;
    int r = note(b, rados_break_lock(b->io, LOCK_OBJ, lock, client, cookie));
    if (r == -ENOENT)
        return 0;   /* gone meanwhile */
    if (r == 0)
        (*removed)++;
    return r;
}

static int rados_clean_locks(bk_backend *be, size_t *ret_removed)
{
    rados_be *b = downcast(be);
    *ret_removed = 0;
    int r = gate(b);
    if (r == 0)
        r = for_each_holder(b, LOCK_NAME, break_dead_holder, ret_removed);
    return r < 0 ? r : for_each_holder(b, PRUNE_LOCK_NAME, break_dead_holder, ret_removed);
}

/* ---- writing ------------------------------------------------------------------------------------ */

static int remove_object(rados_ioctx_t io, const char *oid)
{
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return -ENOMEM;
    rados_write_op_remove(op);
    int r = rados_write_op_operate(op, io, oid, NULL, REMOVE_FLAGS);
    rados_release_write_op(op);
    return r;
}

/* Bytes per write when an object is larger than one write may be (a multiple of the pool's
 * append alignment: erasure-coded pools take only aligned appends). */
static size_t piece_size(rados_be *b, bk_obj_type t)
{
    uint64_t piece = b->max_write;
    uint64_t align = t == BK_OBJ_DATA ? b->data_align : 0;
    if (align && piece > align)
        piece -= piece % align;
    return (size_t)piece;
}

/* Create oid exclusively with content p[0..n): one op, or for large objects a first piece
 * then appends (packs only matter once an index names them). */
static int write_new(rados_be *b, bk_obj_type t, const char *oid, const void *p, size_t n)
{
    rados_ioctx_t io = io_for(b, t);
    size_t piece = n <= b->max_write ? n : piece_size(b, t);
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return -ENOMEM;
    rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    rados_write_op_write_full(op, p, piece);
    if (t == BK_OBJ_CONFIG && b->data_pool)
        rados_write_op_setxattr(op, DATA_POOL_XATTR, b->data_pool, strlen(b->data_pool));
    int r = rados_write_op_operate(op, io, oid, NULL, PUT_FLAGS);
    rados_release_write_op(op);
    for (size_t off = piece; r == 0 && off < n; off += piece) {
        if (!(op = rados_create_write_op()))
            r = -ENOMEM;
        else {
            rados_write_op_append(op, (const char *)p + off, BK_MIN(piece, n - off));
            r = rados_write_op_operate(op, io, oid, NULL, PUT_FLAGS);
            rados_release_write_op(op);
        }
    }
    if (r < 0 && r != -EEXIST && piece < n)
        remove_object(io, oid);   /* best effort: ours, and incomplete */
    return r;
}

static int rados_put(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if (b->max_object && n > b->max_object)
        return -EFBIG;
    if ((r = gate(b)) < 0 || (r = lock_guard(b, t, false)) < 0)
        return r;
    double deadline = deadline_of(b);
    int attempt = 0;
    bool unknown = false;   /* an earlier attempt may have been applied */
    for (;;) {
        r = write_new(b, t, oid, p, n);
        if (r == -EEXIST && unknown)
            r = same_content(io_for(b, t), oid, p, n);
        if (r == 0 || !may_retry(r, deadline, &attempt))
            break;
        unknown = true;
    }
    note(b, r);
    if (r == 0 && has_catalog(t))
        r = note(b, catalog_add(b, t, name, n, deadline));
    return r;
}

typedef struct aput {
    rados_be *b;
    rados_write_op_t op;
    bk_put_done_fn done;
    void *ctx;
} aput;

static void aput_finish(aput *a, int r)
{
    rados_be *b = a->b;
    if (a->op)
        rados_release_write_op(a->op);
    a->done(r, a->ctx);
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    free(a);
}

/* librados' finisher thread */
static void aput_complete(rados_completion_t c, void *arg)
{
    int r = rados_aio_get_return_value(c);
    rados_aio_release(c);
    aput_finish(arg, note(((aput *)arg)->b, r));
}

static int rados_put_async(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n,
                           bk_put_done_fn done, void *ctx)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r == 0 && b->max_object && n > b->max_object)
        r = -EFBIG;
    if (r == 0)
        r = gate(b);
    aput *a = r == 0 ? calloc(1, sizeof(*a)) : NULL;
    if (r == 0 && !a)
        r = -ENOMEM;
    if (r < 0) {
        done(r, ctx);
        return r;
    }
    a->b = b;
    a->done = done;
    a->ctx = ctx;
    pthread_mutex_lock(&b->mu);
    while (b->inflight >= b->window)
        pthread_cond_wait(&b->cond, &b->mu);
    b->inflight++;
    pthread_mutex_unlock(&b->mu);
    if ((r = gate(b)) < 0) {   /* it stalled while we waited for the window */
        aput_finish(a, r);
        return r;
    }

    if (t != BK_OBJ_DATA || n > b->max_write) {
        /* catalogued types and objects written in pieces: synchronously, in this slot */
        r = rados_put(be, t, name, p, n);
        aput_finish(a, r);
        return r;
    }
    rados_completion_t c = NULL;
    a->op = rados_create_write_op();
    r = a->op ? rados_aio_create_completion2(a, aput_complete, &c) : -ENOMEM;
    if (r == 0) {
        rados_write_op_create(a->op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
        rados_write_op_write_full(a->op, p, n);
        r = rados_aio_write_op_operate(a->op, b->data_io, c, oid, NULL, PUT_FLAGS);
        if (r < 0)
            rados_aio_release(c);
    }
    if (r < 0) {
        aput_finish(a, r);
        return r;
    }
    return 0;
}

static int rados_flush(bk_backend *be)
{
    rados_be *b = downcast(be);
    pthread_mutex_lock(&b->mu);
    while (b->inflight > 0)
        pthread_cond_wait(&b->cond, &b->mu);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

static int rados_remove_op(bk_backend *be, bk_obj_type t, const char *name)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if ((r = gate(b)) < 0 || (r = lock_guard(b, t, true)) < 0)
        return r;
    double deadline = deadline_of(b);
    if (has_catalog(t)) {
        r = note(b, catalog_remove(b, t, name, deadline));
        if (r < 0)
            return r;
    }
    int attempt = 0;
    bool unknown = false;
    for (;;) {
        r = remove_object(io_for(b, t), oid);
        if (r == 0 || !may_retry(r, deadline, &attempt))
            break;
        unknown = true;
    }
    note(b, r);
    return r == -ENOENT && unknown ? 0 : r;
}

static uint64_t rados_max_object_size(bk_backend *be)
{
    return downcast(be)->max_object;
}

static void rados_close(bk_backend *be)
{
    rados_be *b = downcast(be);
    lock_release(b, &b->repo_lock);
    lock_release(b, &b->prune_lock);
    rados_flush(be);
    if (b->data_io != b->io)
        rados_ioctx_destroy(b->data_io);
    rados_ioctx_destroy(b->io);
    rados_shutdown(b->cluster);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock_mu);
    pthread_cond_destroy(&b->lock_cond);
    free(b->data_pool);
    free(be->location);
    free(b);
}

/* Index objects and snapshots that their catalog does not list: left by a writer that died
 * or timed out between storing one and cataloguing it.  Nothing sees them, so prune does
 * not count what they name, and deletes it: remove them too, so that no object is left
 * naming packs that are gone.  Only under the exclusive lock, when no writer can be
 * between the two steps. */
static int rados_remove_strays(bk_backend *be, size_t *ret_removed)
{
    rados_be *b = downcast(be);
    *ret_removed = 0;
    if (!b->repo_lock.held || !b->repo_lock.exclusive)
        return -ENOLCK;
    int r = gate(b);
    if (r < 0)
        return r;
    struct scan_all s;
    memset(&s, 0, sizeof(s));
    r = note(b, scan(b->io, NULL, collect, &s));
    const bk_obj_type types[] = { BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    for (size_t k = 0; r == 0 && k < 2; k++) {
        bk_obj_type t = types[k];
        struct entries cur = { 0 };
        bool missing;
        r = note(b, catalog_read(b, t, &cur, &missing));
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
                (r = lock_check(b, &b->repo_lock)) == 0) {
                r = note(b, remove_object(b->io, oid));
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

static const bk_backend_ops rados_ops = {
    .scheme = "rados",
    .put = rados_put,
    .put_async = rados_put_async,
    .flush = rados_flush,
    .get = rados_get,
    .stat = rados_stat_op,
    .remove = rados_remove_op,
    .list = rados_list,
    .lock = rados_lock,
    .unlock = rados_unlock_op,
    .lock_prune = rados_lock_prune,
    .clean_locks = rados_clean_locks,
    .lock_holders = rados_lock_holders,
    .max_object_size = rados_max_object_size,
    .rebuild_catalogs = rados_rebuild_catalogs,
    .remove_strays = rados_remove_strays,
    .close = rados_close,
};

/* ---- connecting ------------------------------------------------------------------------------------ */

/* The cephx entity: --ceph-name, --ceph-id, else what CEPH_ARGS names (--name/-n,
 * --id/--user/-i, as Ceph's tools read it), else client.admin. */
static void entity_name(const bk_backend_conf *conf, char *out, size_t n)
{
    if (conf->ceph_name && *conf->ceph_name) {
        snprintf(out, n, "%s", conf->ceph_name);
        return;
    }
    if (conf->ceph_id && *conf->ceph_id) {
        bool full = strncmp(conf->ceph_id, "client.", 7) == 0;
        snprintf(out, n, "%s%s", full ? "" : "client.", conf->ceph_id);
        return;
    }
    snprintf(out, n, "client.admin");
    const char *env = getenv("CEPH_ARGS");
    if (!env)
        return;
    char *copy = strdup(env), *save = NULL;
    if (!copy)
        return;
    bool want_name = false, want_id = false;
    for (char *tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        if (want_name || want_id) {
            snprintf(out, n, "%s%s", want_id ? "client." : "", tok);
            want_name = want_id = false;
        } else if (strcmp(tok, "--name") == 0 || strcmp(tok, "-n") == 0)
            want_name = true;
        else if (strcmp(tok, "--id") == 0 || strcmp(tok, "--user") == 0 || strcmp(tok, "-i") == 0)
            want_id = true;
        else if (strncmp(tok, "--name=", 7) == 0)
            snprintf(out, n, "%s", tok + 7);
        else if (strncmp(tok, "--id=", 5) == 0 || strncmp(tok, "--user=", 7) == 0)
            snprintf(out, n, "client.%s", strchr(tok, '=') + 1);
    }
    free(copy);
}

static uint64_t conf_u64(rados_t c, const char *opt)
{
    char buf[64];
    if (rados_conf_get(c, opt, buf, sizeof(buf)) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

/* What the monitors' configuration database says the OSDs use (0 if we may not ask). */
static uint64_t mon_osd_u64(rados_t c, const char *opt)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "{\"prefix\": \"config get\", \"who\": \"osd\", \"key\": \"%s\"}", opt);
    const char *cmds[] = { cmd };
    char *out = NULL, *st = NULL;
    size_t outl = 0, stl = 0;
    int r = rados_mon_command(c, cmds, 1, "", 0, &out, &outl, &st, &stl);
    uint64_t v = 0;
    if (r == 0 && out && outl > 0 && outl < 64) {
        char buf[64];
        memcpy(buf, out, outl);
        buf[outl] = 0;
        v = strtoull(buf, NULL, 10);
    }
    rados_buffer_free(out);
    rados_buffer_free(st);
    return v;
}

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : BK_MIN(a, b);
}

static int connect_error(rados_t c, int r, const char *name, int timeout, bk_error *err)
{
    char mon[512] = "", keyring[1024] = "";
    rados_conf_get(c, "mon_host", mon, sizeof(mon));
    rados_conf_get(c, "keyring", keyring, sizeof(keyring));
    if (r == -ETIMEDOUT)
        return bk_error_set(err, r, "cannot connect to the Ceph cluster: no monitor answered "
                            "within %d s (mon host %s)", timeout, mon[0] ? mon : "unknown");
    if (r == -EACCES || r == -EPERM)
        return bk_error_set(err, r, "Ceph authentication as %s failed (mon host %s): unknown "
                            "user, or its key in %s is wrong", name, mon, keyring);
    /* -ENOENT would read as "no repository there" to callers: these are setup errors */
    if (r == -ENOENT && !mon[0])
        return bk_error_set(err, -EINVAL, "no Ceph monitor address: no ceph.conf was found "
                            "(give --ceph-conf or set CEPH_CONF) and mon_host is not set");
    if (r == -ENOENT)
        return bk_error_set(err, -EACCES, "cannot authenticate as %s: no keyring with its key "
                            "(looked in %s; give --keyring)", name, keyring);
    return bk_error_set(err, r, "cannot connect to the Ceph cluster (mon host %s) as %s: %s",
                        mon, name, strerror(-r));
}

static int open_pool(rados_t c, const char *pool, const char *ns, rados_ioctx_t *ret, bk_error *err)
{
    int r = rados_ioctx_create(c, pool, ret);
    if (r == -ENOENT)
        return bk_error_set(err, r, "no Ceph pool '%s' (create it first: see docs/ceph.md)", pool);
    if (r < 0)
        return bk_error_set(err, r, "cannot open Ceph pool '%s': %s", pool, strerror(-r));
    rados_ioctx_set_namespace(*ret, ns);
    return 0;
}

/* Does catalog t list an object that exists? */
static int catalog_live(rados_be *b, bk_obj_type t, bool *ret)
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

/* The data pool: recorded in config's xattr at init; --data-pool must agree with it. */
static int resolve_data_pool(rados_be *b, const char *want, const char *pool, const char *name,
                             bk_error *err)
{
    char rec[256];
    int r = rados_getxattr(b->io, "config", DATA_POOL_XATTR, rec, sizeof(rec) - 1);
    if (r == -ENOENT) {   /* no repository yet: init records want */
        if (want && *want && strcmp(want, pool) != 0 && !(b->data_pool = strdup(want)))
            return -ENOMEM;
        return 0;
    }
    if (r == -ENODATA)
        r = 0;
    if (r == -EPERM || r == -EACCES)
        return bk_error_set(err, r, "%s may not use %s: %s (its osd caps do not cover this pool "
                            "and namespace)", name, b->base.location, strerror(-r));
    if (r < 0)
        return bk_error_set(err, r, "cannot read %s/config: %s", b->base.location, strerror(-r));
    rec[r] = 0;
    if (want && *want && strcmp(want, r ? rec : pool) != 0)
        return bk_error_set(err, -EINVAL, "this repository keeps its packs in pool '%s', not "
                            "'%s' (--data-pool is only needed at init)", r ? rec : pool, want);
    if (r && !(b->data_pool = strdup(rec)))
        return -ENOMEM;
    return 0;
}

int bk_backend_rados_open(const char *spec, const bk_backend_conf *conf, bool create,
                          bk_error *err, bk_backend **ret)
{
    static const bk_backend_conf defaults;
    if (!conf)
        conf = &defaults;
    char pool[256], ns[256] = "";
    const char *slash = strchr(spec, '/');
    size_t plen = slash ? (size_t)(slash - spec) : strlen(spec);
    if (plen == 0 || plen >= sizeof(pool) || (slash && strlen(slash + 1) >= sizeof(ns)))
        return bk_error_set(err, -EINVAL, "rados:%s: expected rados:POOL or rados:POOL/NAMESPACE",
                            spec);
    memcpy(pool, spec, plen);
    pool[plen] = 0;
    if (slash)
        snprintf(ns, sizeof(ns), "%s", slash + 1);
    int timeout = conf->ceph_timeout > 0 ? conf->ceph_timeout : DEFAULT_TIMEOUT;

    char name[256];
    entity_name(conf, name, sizeof(name));
    rados_t c;
    int r = rados_create2(&c, "ceph", name, 0);
    if (r < 0)
        return bk_error_set(err, r, "cannot create a Ceph client as %s: %s", name, strerror(-r));
    r = rados_conf_read_file(c, conf->ceph_conf);
    if (r < 0 && (conf->ceph_conf || r != -ENOENT)) {
        const char *path = conf->ceph_conf ? conf->ceph_conf : getenv("CEPH_CONF");
        rados_shutdown(c);
        return bk_error_set(err, r == -ENOENT ? -EINVAL : r, "cannot read the Ceph configuration "
                            "%s: %s", path ? path : "(default search path)", strerror(-r));
    }
    /* arca explains failures itself; CEPH_ARGS="--err-to-stderr=true" brings Ceph's back */
    rados_conf_set(c, "log_to_stderr", "false");
    rados_conf_set(c, "err_to_stderr", "false");
    r = rados_conf_parse_env(c, NULL);
    if (r < 0) {
        rados_shutdown(c);
        return bk_error_set(err, r, "cannot parse CEPH_ARGS: %s", strerror(-r));
    }
    if (conf->keyring && (r = rados_conf_set(c, "keyring", conf->keyring)) < 0) {
        rados_shutdown(c);
        return bk_error_set(err, r, "cannot use keyring %s: %s", conf->keyring, strerror(-r));
    }
    char ts[16];
    snprintf(ts, sizeof(ts), "%d", timeout);
    rados_conf_set(c, "rados_osd_op_timeout", ts);
    rados_conf_set(c, "rados_mon_op_timeout", ts);
    rados_conf_set(c, "client_mount_timeout", ts);
    r = rados_connect(c);
    if (r < 0) {
        r = connect_error(c, r, name, timeout, err);
        rados_shutdown(c);
        return r;
    }

    rados_be *b = calloc(1, sizeof(*b));
    if (!b) {
        rados_shutdown(c);
        return -ENOMEM;
    }
    b->base.ops = &rados_ops;
    b->cluster = c;
    b->timeout = timeout;
    b->window = conf->ceph_inflight > 0 ? conf->ceph_inflight : DEFAULT_INFLIGHT;
    b->repo_lock.name = LOCK_NAME;
    b->prune_lock.name = PRUNE_LOCK_NAME;
    b->lock_duration = lock_duration_setting();
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cond, NULL);
    pthread_mutex_init(&b->lock_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->lock_cond, &ca);
    pthread_condattr_destroy(&ca);
    size_t loclen = strlen(spec) + 7;
    b->base.location = malloc(loclen);
    if (b->base.location)
        snprintf(b->base.location, loclen, "rados:%s", spec);

    r = b->base.location ? open_pool(c, pool, ns, &b->io, err) : -ENOMEM;
    if (r < 0) {
        b->io = NULL;
        goto fail;
    }
    b->data_io = b->io;
    r = resolve_data_pool(b, conf->data_pool, pool, name, err);
    if (r < 0)
        goto fail;
    if (b->data_pool) {
        r = open_pool(c, b->data_pool, ns, &b->data_io, err);
        if (r < 0) {
            b->data_io = b->io;
            goto fail;
        }
        int req = 0;
        uint64_t align = 0;
        if (rados_ioctx_pool_requires_alignment2(b->data_io, &req) == 0 && req &&
            rados_ioctx_pool_required_alignment2(b->data_io, &align) == 0)
            b->data_align = align;
    }

    /* limits: the client's view (ceph.conf, CEPH_ARGS, the mon's config for clients) and,
     * when we may ask, what the monitors hold for the OSDs; the smaller wins */
    b->max_object = min_nonzero(conf_u64(c, "osd_max_object_size"), mon_osd_u64(c, "osd_max_object_size"));
    uint64_t mw = min_nonzero(conf_u64(c, "osd_max_write_size"), mon_osd_u64(c, "osd_max_write_size"));
    b->max_write = (mw ? mw : 90) << 20;
    if (b->max_object && b->max_write > b->max_object)
        b->max_write = b->max_object;

    if (create) {
        /* a new repository starts with empty catalogs; an existing one keeps its own, and
         * so does one whose config is lost (its catalogs still name live objects: init
         * refuses to go on); stale entries of objects that are gone are dropped */
        uint64_t size;
        r = rados_stat(b->io, "config", &size, NULL);
        if (r == -ENOENT) {
            r = 0;
            for (int t = 0; r == 0 && t < BK_OBJ_TYPE_COUNT; t++) {
                bool live = false;
                if (has_catalog((bk_obj_type)t) && (r = catalog_live(b, (bk_obj_type)t, &live)) == 0 && !live)
                    r = catalog_write(b, (bk_obj_type)t, true, NULL, 0, NULL, 0, true);
            }
        }
        if (r == -EOPNOTSUPP) {
            bk_error_set(err, r, "pool '%s' cannot hold arca's catalogs (no omap: erasure "
                         "coded?): use a replicated pool, and --data-pool for an erasure-coded "
                         "one", pool);
            goto fail;
        }
        if (r < 0) {
            bk_error_set(err, r, "cannot create the catalogs of rados:%s: %s", spec, strerror(-r));
            goto fail;
        }
    }
    *ret = &b->base;
    return 0;
fail:
    if (b->data_io && b->data_io != b->io)
        rados_ioctx_destroy(b->data_io);
    if (b->io)
        rados_ioctx_destroy(b->io);
    b->io = b->data_io = NULL;
    rados_shutdown(c);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock_mu);
    pthread_cond_destroy(&b->lock_cond);
    free(b->data_pool);
    free(b->base.location);
    free(b);
    return r;
}
