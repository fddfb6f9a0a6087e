/* rados_intent.c - intents of the RADOS backend: before an object of a catalogued type is
 * written or removed, a key naming it goes into catalog.pending, dropped once the operation is
 * over.  What a writer that died leaves there tells remove_strays, without a scan, which
 * objects may be out of their catalog. */
#include <time.h>

#include "rados_internal.h"

/* ---- intents ----------------------------------------------------------------------------------- */

static void intent_key(rados_be *b, bk_obj_type t, const char *name, char key[OID_MAX])
{
    pthread_mutex_lock(&b->mu);
    uint64_t seq = ++b->intent_seq;
    pthread_mutex_unlock(&b->mu);
    snprintf(key, OID_MAX, "%s/%s %s.%llu", bk_obj_type_name(t), name, b->nonce,
             (unsigned long long)seq);
}

rados_write_op_t bk_rados_intent_add_op(rados_be *b, bk_obj_type t, const char *name,
                                        char key[OID_MAX])
{
    intent_key(b, t, name, key);
    rados_write_op_t op = rados_create_write_op();
    if (!op)
        return NULL;
    char when[24];
    snprintf(when, sizeof(when), "%lld", (long long)time(NULL));
    const char *keys[1] = { key }, *vals[1] = { when };
    size_t lens[1] = { strlen(when) };
    rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    rados_write_op_omap_set(op, keys, vals, lens, 1);
    return op;
}

int bk_rados_intent_add(rados_be *b, bk_obj_type t, const char *name, bool removal,
                        double deadline, char key[OID_MAX])
{
    int attempt = 0, r;
    do {
        rados_write_op_t op = bk_rados_intent_add_op(b, t, name, key);
        if (!op)
            return -ENOMEM;
        r = rados_write_op_operate(op, b->io, PENDING_OID, NULL, removal ? REMOVE_FLAGS : PUT_FLAGS);
        rados_release_write_op(op);
    } while (r < 0 && bk_rados_may_retry(r, deadline, &attempt));
    return r;
}

void bk_rados_intent_done(rados_be *b, const char *key)
{
    char *d = strdup(key);
    if (!d)
        return;   /* left for remove_strays */
    pthread_mutex_lock(&b->mu);
    if (b->nresolved == b->resolved_cap) {
        size_t nc = b->resolved_cap ? 2 * b->resolved_cap : 64;
        char **nv = realloc(b->resolved, nc * sizeof(*nv));
        if (nv) {
            b->resolved = nv;
            b->resolved_cap = nc;
        }
    }
    if (b->nresolved < b->resolved_cap)
        b->resolved[b->nresolved++] = d;
    else
        free(d);
    pthread_mutex_unlock(&b->mu);
}

/* Drop the keys of intents whose operation is over (failures leave them to remove_strays). */
int bk_rados_intents_flush(rados_be *b)
{
    pthread_mutex_lock(&b->mu);
    char **v = b->resolved;
    size_t n = b->nresolved;
    b->resolved = NULL;
    b->nresolved = b->resolved_cap = 0;
    pthread_mutex_unlock(&b->mu);
    int r = n ? bk_rados_gate(b) : 0;
    for (size_t k = 0; r == 0 && k < n; k += OMAP_WRITE_BATCH) {
        rados_write_op_t op = rados_create_write_op();
        if (!op) {
            r = -ENOMEM;
            break;
        }
        rados_write_op_assert_exists(op);
        rados_write_op_omap_rm_keys(op, (char const *const *)v + k, BK_MIN(n - k, (size_t)OMAP_WRITE_BATCH));
        r = bk_rados_note(b, rados_write_op_operate(op, b->io, PENDING_OID, NULL, REMOVE_FLAGS));
        rados_release_write_op(op);
        if (r == -ENOENT)
            r = 0;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return r;
}

void bk_rados_intents_flush_some(rados_be *b)
{
    pthread_mutex_lock(&b->mu);
    bool many = b->nresolved >= OMAP_WRITE_BATCH;
    pthread_mutex_unlock(&b->mu);
    if (many)
        bk_rados_intents_flush(b);
}

static int collect_pending(const char *name, uint64_t size, int gen, void *ctx)
{
    struct pending *p = ctx;
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 64;
        char **nv = realloc(p->keys, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        p->keys = nv;
        p->cap = nc;
    }
    if (!(p->keys[p->n] = strdup(name)))
        return -ENOMEM;
    p->n++;
    return 0;
}

void bk_rados_pending_free(struct pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->keys[i]);
    free(p->keys);
    memset(p, 0, sizeof(*p));
}

/* Every intent key in the repository. */
int bk_rados_pending_read(rados_be *b, struct pending *p)
{
    bool missing;
    return bk_rados_shard_read(b, PENDING_OID, 0, collect_pending, p, &missing);
}

/* "type/name nonce.seq" -> type and name; false if it names nothing catalogued. */
bool bk_rados_intent_parse(const char *key, bk_obj_type *ret_t, char name[OID_MAX])
{
    const char *slash = strchr(key, '/'), *sp = slash ? strchr(slash, ' ') : NULL;
    if (!sp || sp == slash + 1 || (size_t)(sp - slash) >= OID_MAX)
        return false;
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++) {
        const char *tn = bk_obj_type_name((bk_obj_type)t);
        if (has_catalog((bk_obj_type)t) && strlen(tn) == (size_t)(slash - key) &&
            memcmp(key, tn, strlen(tn)) == 0) {
            snprintf(name, OID_MAX, "%.*s", (int)(sp - slash - 1), slash + 1);
            *ret_t = (bk_obj_type)t;
            return true;
        }
    }
    return false;
}

/* An object with an intent and no catalog entry was being written or removed by a writer
 * that died or timed out: nothing lists it, so prune does not count what it names and may
 * delete that; it goes too, so that no object is left naming packs that are gone (and a
 * catalog rebuilt later from a scan cannot bring back a snapshot with missing data).  With an
 * entry, the operation got as far as cataloguing (or never removed it): only the intent
 * goes.  Only under the exclusive lock, when no writer can be between the steps. */
int bk_rados_remove_strays(bk_backend *be, size_t *ret_removed)
{
    rados_be *b = downcast(be);
    *ret_removed = 0;
    if (!b->repo_lock.held || !b->repo_lock.exclusive)
        return -ENOLCK;
    int r = bk_rados_gate(b);
    if (r == 0)
        r = bk_rados_intents_flush(b);
    struct pending p = { 0 };
    if (r == 0)
        r = bk_rados_note(b, bk_rados_pending_read(b, &p));
    char **done = calloc(p.n + 1, sizeof(*done));
    size_t ndone = 0;
    if (!done)
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < p.n; i++) {
        bk_obj_type t;
        char name[OID_MAX], oid[OID_MAX];
        if (!bk_rados_intent_parse(p.keys[i], &t, name) || oid_of(t, name, oid, sizeof(oid)) < 0) {
            done[ndone++] = p.keys[i];   /* names nothing we keep */
            continue;
        }
        bool listed, lost;
        r = bk_rados_note(b, bk_rados_catalog_has(b, t, name, &listed, &lost));
        if (r < 0 || lost)
            continue;   /* a lost catalog is no reason to delete anything: it is rebuilt */
        if (!listed && (r = bk_rados_lock_check(b, &b->repo_lock)) == 0) {
            r = bk_rados_note(b, bk_rados_remove_object(io_for(b, t), oid));
            if (r == 0)
                (*ret_removed)++;
            r = r == -ENOENT ? 0 : r;
        }
        if (r == 0)
            done[ndone++] = p.keys[i];
    }
    for (size_t k = 0; r == 0 && k < ndone; k += OMAP_WRITE_BATCH) {
        rados_write_op_t op = rados_create_write_op();
        if (!op) {
            r = -ENOMEM;
            break;
        }
        rados_write_op_omap_rm_keys(op, (char const *const *)done + k, BK_MIN(ndone - k, (size_t)OMAP_WRITE_BATCH));
        r = bk_rados_note(b, rados_write_op_operate(op, b->io, PENDING_OID, NULL, REMOVE_FLAGS));
        rados_release_write_op(op);
    }
    free(done);
    bk_rados_pending_free(&p);
    return r;
}
