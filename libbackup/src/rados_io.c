/* rados_io.c - object I/O of the RADOS backend: get, stat, create-exclusive puts (synchronous,
 * in pieces for objects larger than one write, or asynchronous with a window of writes in
 * flight), removal, and the scan of a namespace (which walks the whole pool). */
#include "rados_internal.h"

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

int bk_rados_get(bk_backend *be, bk_obj_type t, const char *name, uint64_t off, size_t len,
                     bk_buf *out)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if ((r = bk_rados_gate(b)) < 0)
        return r;
    rados_ioctx_t io = io_for(b, t);
    double deadline = bk_rados_deadline(b);
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
            return bk_rados_note(b, 0);
        }
        if (!bk_rados_may_retry(r, deadline, &attempt))
            return bk_rados_note(b, r);
    }
}

int bk_rados_stat(bk_backend *be, bk_obj_type t, const char *name, uint64_t *ret)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if ((r = bk_rados_gate(b)) < 0)
        return r;
    double deadline = bk_rados_deadline(b);
    int attempt = 0;
    do {
        r = rados_stat(io_for(b, t), oid, ret, NULL);
    } while (r < 0 && bk_rados_may_retry(r, deadline, &attempt));
    return bk_rados_note(b, r);
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

int bk_rados_scan(rados_be *b, rados_ioctx_t io, const char *prefix, scan_fn fn, void *ctx)
{
    pthread_mutex_lock(&b->mu);
    b->scans++;
    pthread_mutex_unlock(&b->mu);
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

/* ---- writing ------------------------------------------------------------------------------------ */

int bk_rados_remove_object(rados_ioctx_t io, const char *oid)
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
        bk_rados_remove_object(io, oid);   /* best effort: ours, and incomplete */
    return r;
}

int bk_rados_put(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX], key[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if (b->max_object && n > b->max_object)
        return -EFBIG;
    if ((r = bk_rados_gate(b)) < 0 || (r = bk_rados_lock_guard(b, t, false)) < 0)
        return r;
    double deadline = bk_rados_deadline(b);
    bool catalogued = has_catalog(t);
    if (catalogued && (r = bk_rados_note(b, bk_rados_intent_add(b, t, name, false, deadline, key))) < 0)
        return r;
    int attempt = 0;
    bool unknown = false;   /* an earlier attempt may have been applied */
    for (;;) {
        r = write_new(b, t, oid, p, n);
        if (r == -EEXIST && unknown)
            r = same_content(io_for(b, t), oid, p, n);
        if (r == 0 || !bk_rados_may_retry(r, deadline, &attempt))
            break;
        unknown = true;
    }
    bk_rados_note(b, r);
    if (!catalogued)
        return r;
    bool written = r == 0 || r == -ETIMEDOUT;   /* ours, or maybe */
    if (r == 0)
        r = bk_rados_note(b, bk_rados_catalog_add(b, t, name, n, deadline));
    /* the intent stays when our object may be there without its entry */
    if (!written || r == 0)
        bk_rados_intent_done(b, key);
    bk_rados_intents_flush_some(b);
    return r;
}

/* An asynchronous put of a pack: three operations one after the other, each started from the
 * completion of the one before (librados' finisher thread): the intent, the write, the entry
 * in the pack catalog.  The write op is made (and the data copied) at once. */
enum { ST_INTENT, ST_WRITE, ST_ENTRY };

typedef struct aput {
    rados_be *b;
    int stage;
    rados_write_op_t op, write;
    char name[BK_ID_HEX + 16], oid[OID_MAX], key[OID_MAX], shard[OID_MAX];
    size_t n;
    bk_put_done_fn done;
    void *ctx;
    struct aput *next;              /* on b->deferred */
} aput;

static void aput_finish(aput *a, int r)
{
    rados_be *b = a->b;
    if (a->op)
        rados_release_write_op(a->op);
    if (a->write)
        rados_release_write_op(a->write);
    a->done(r, a->ctx);
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    free(a);
}

/* The catalog entry cannot be added from the finisher (its catalog must be rebuilt, or its
 * generation read): the caller's thread does it, in put_async or flush. */
static void aput_defer(aput *a)
{
    rados_be *b = a->b;
    pthread_mutex_lock(&b->mu);
    a->next = b->deferred;
    b->deferred = a;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

/* (under b->mu, which it drops while it works) */
static void run_deferred(rados_be *b)
{
    while (b->deferred) {
        aput *a = b->deferred;
        b->deferred = a->next;
        pthread_mutex_unlock(&b->mu);
        int r = bk_rados_gate(b);
        if (r == 0)
            r = bk_rados_note(b, bk_rados_catalog_add(b, BK_OBJ_DATA, a->name, a->n,
                                                      bk_rados_deadline(b)));
        if (r == 0)
            bk_rados_intent_done(b, a->key);
        aput_finish(a, r);
        pthread_mutex_lock(&b->mu);
    }
}

static void aput_complete(rados_completion_t c, void *arg);

/* Start the operation of a's stage; on failure finish a. */
static void aput_start(aput *a)
{
    rados_be *b = a->b;
    int r = bk_rados_gate(b);
    rados_completion_t c = NULL;
    if (r == 0 && a->stage == ST_ENTRY) {
        if (a->op)
            rados_release_write_op(a->op);
        a->op = bk_rados_catalog_add_op(b, BK_OBJ_DATA, a->name, a->n, a->shard);
        if (!a->op) {
            aput_defer(a);
            return;
        }
    }
    if (r == 0)
        r = rados_aio_create_completion2(a, aput_complete, &c);
    if (r == 0) {
        if (a->stage == ST_INTENT)
            r = rados_aio_write_op_operate(a->op, b->io, c, PENDING_OID, NULL, PUT_FLAGS);
        else if (a->stage == ST_WRITE)
            r = rados_aio_write_op_operate(a->write, b->data_io, c, a->oid, NULL, PUT_FLAGS);
        else
            r = rados_aio_write_op_operate(a->op, b->io, c, a->shard, NULL, PUT_FLAGS);
        if (r < 0)
            rados_aio_release(c);
    }
    if (r < 0) {
        /* not started: the intent stays if the pack may be there without its entry */
        if (a->stage != ST_ENTRY || r != -ETIMEDOUT)
            bk_rados_intent_done(b, a->key);
        aput_finish(a, r);
    }
}

/* librados' finisher thread */
static void aput_complete(rados_completion_t c, void *arg)
{
    aput *a = arg;
    int r = bk_rados_note(a->b, rados_aio_get_return_value(c));
    rados_aio_release(c);
    if (a->stage == ST_ENTRY && r == -ENOENT) {   /* a lost catalog: rebuilt by the caller */
        aput_defer(a);
        return;
    }
    if (r == 0 && a->stage < ST_ENTRY) {
        a->stage++;
        aput_start(a);
        return;
    }
    /* done, or failed: the intent stays when the pack may be there without its entry */
    bool maybe_orphan = (a->stage == ST_WRITE && r == -ETIMEDOUT) || (a->stage == ST_ENTRY && r < 0);
    if (a->stage > ST_INTENT && !maybe_orphan)
        bk_rados_intent_done(a->b, a->key);
    aput_finish(a, r);
}

int bk_rados_put_async(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n,
                       bk_put_done_fn done, void *ctx)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r == 0 && b->max_object && n > b->max_object)
        r = -EFBIG;
    if (r == 0 && strlen(name) >= sizeof(((aput *)0)->name))
        r = -ENAMETOOLONG;
    if (r == 0)
        r = bk_rados_gate(b);
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
    for (;;) {
        run_deferred(b);
        if (b->inflight < b->window)
            break;
        pthread_cond_wait(&b->cond, &b->mu);
    }
    b->inflight++;
    pthread_mutex_unlock(&b->mu);
    if ((r = bk_rados_gate(b)) < 0) {   /* it stalled while we waited for the window */
        aput_finish(a, r);
        return r;
    }

    if (t != BK_OBJ_DATA || n > b->max_write) {
        /* other types and objects written in pieces: synchronously, in this slot */
        r = bk_rados_put(be, t, name, p, n);
        aput_finish(a, r);
        return r;
    }
    /* the generation the entry goes to, and whether its shard is full: read here, where
     * waiting is allowed */
    bk_rados_catalog_prepare(b, BK_OBJ_DATA, name);
    snprintf(a->name, sizeof(a->name), "%s", name);
    snprintf(a->oid, sizeof(a->oid), "%s", oid);
    a->n = n;
    a->stage = ST_INTENT;
    a->write = rados_create_write_op();
    a->op = bk_rados_intent_add_op(b, BK_OBJ_DATA, name, a->key);
    if (!a->write || !a->op) {
        aput_finish(a, -ENOMEM);
        return -ENOMEM;
    }
    rados_write_op_create(a->write, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    rados_write_op_write_full(a->write, p, n);
    aput_start(a);
    return 0;
}

int bk_rados_flush(bk_backend *be)
{
    rados_be *b = downcast(be);
    pthread_mutex_lock(&b->mu);
    for (;;) {
        run_deferred(b);
        if (b->inflight == 0)
            break;
        pthread_cond_wait(&b->cond, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return bk_rados_intents_flush(b);
}

int bk_rados_remove(bk_backend *be, bk_obj_type t, const char *name)
{
    rados_be *b = downcast(be);
    char oid[OID_MAX], key[OID_MAX];
    int r = oid_of(t, name, oid, sizeof(oid));
    if (r < 0)
        return r;
    if ((r = bk_rados_gate(b)) < 0 || (r = bk_rados_lock_guard(b, t, true)) < 0)
        return r;
    double deadline = bk_rados_deadline(b);
    bool catalogued = has_catalog(t);
    if (catalogued) {
        r = bk_rados_note(b, bk_rados_intent_add(b, t, name, true, deadline, key));
        if (r == 0 && (r = bk_rados_note(b, bk_rados_catalog_remove(b, t, name, deadline))) < 0 &&
            r != -ETIMEDOUT)
            bk_rados_intent_done(b, key);   /* the entry is still there: nothing happened */
        if (r < 0)
            return r;
    }
    int attempt = 0;
    bool unknown = false;
    for (;;) {
        r = bk_rados_remove_object(io_for(b, t), oid);
        if (r == 0 || !bk_rados_may_retry(r, deadline, &attempt))
            break;
        unknown = true;
    }
    bk_rados_note(b, r);
    if (catalogued && (r == 0 || r == -ENOENT))
        bk_rados_intent_done(b, key);   /* else it stays: the object may be left, unlisted */
    bk_rados_intents_flush_some(b);
    return r == -ENOENT && unknown ? 0 : r;
}
