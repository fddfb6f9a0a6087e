/* rados_lock.c - the locks of the RADOS backend: cls locks on the object "lock" with a
 * duration, renewed by a thread while held, broken when their holder is known dead (or, by
 * arca unlock --force, after blocklisting it).
 *
 *   arca-repo   the repository lock: shared (backup, forget, check, ...) or exclusive (the
 *               commit of prune, key changes)
 *   arca-gate   gives the exclusive taker preference, as byte 0 of a local repository's lock
 *               file does: an exclusive taker holds it exclusively from its first attempt
 *               until it has arca-repo; a shared taker takes it shared together with
 *               arca-repo, in one op, and drops it at once.  So once prune waits, new backups
 *               wait behind it, and a steady stream of overlapping backups cannot starve it.
 *   arca-prune  one prune at a time
 *   arca        the fence: held exclusive for good by FENCE_COOKIE, so that an older arca
 *               (which locks "arca", and knows neither the pack catalog nor catalog
 *               generations) cannot use a repository of catalog layout 2. */
#include <signal.h>
#include <time.h>

#include <sodium.h>

#include "rados_internal.h"

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
    int prval[2], result;
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

/* One or two methods of the lock class on the lock object, in one op (all or nothing):
 * method[i] with payload[i].  give_up (may be NULL): checked now and then while waiting,
 * under lock_mu; when it turns true the call is left to finish without us and -ECANCELED is
 * returned (the renewal thread, when the handle closes). */
static int cls_lock_exec(rados_be *b, int ncalls, const char *const *method,
                         const bk_buf *payload, int op_flags, const bool *give_up)
{
    bk_buf in[2] = { BK_BUF_INIT, BK_BUF_INIT };
    int r = 0;
    for (int i = 0; i < ncalls; i++) {
        enc_u8(&in[i], 1, &r);             /* struct version */
        enc_u8(&in[i], 1, &r);             /* compatible with version */
        enc_u32(&in[i], (uint32_t)payload[i].len, &r);
        if (r == 0)
            r = bk_buf_append(&in[i], payload[i].data, payload[i].len);
    }
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
        for (int i = 0; i < ncalls; i++)
            rados_write_op_exec(op, "lock", method[i], (const char *)in[i].data, in[i].len,
                                &cc->prval[i]);
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
        r = abandoned ? -ECANCELED : cc->result;
        for (int i = 0; r == 0 && i < ncalls; i++)
            r = cc->prval[i];
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
    bk_buf_free(&in[0]);
    bk_buf_free(&in[1]);
    return r;
}

/* The cls_lock_lock_op of lock l (duration: seconds, 0 = for good). */
static int lock_payload(const held_lock *l, int duration, uint8_t flags, bk_buf *p)
{
    int r = 0;
    enc_str(p, l->name, &r);
    enc_u8(p, l->exclusive ? CLS_LOCK_EXCLUSIVE : CLS_LOCK_SHARED, &r);
    enc_str(p, l->cookie, &r);
    enc_str(p, l->exclusive ? "" : LOCK_TAG, &r);
    enc_str(p, l->desc, &r);
    enc_u32(p, (uint32_t)duration, &r);   /* utime_t: seconds, nanoseconds */
    enc_u32(p, 0, &r);
    enc_u8(p, flags, &r);
    return r;
}

/* Take or renew (LIBRADOS_LOCK_FLAG_MUST_RENEW) lock l; with also (NULL: none), take that
 * lock in the same op, both or neither.  A backup's shared lock fails at once on a full pool
 * (-ENOSPC); exclusive locks (prune, key removal: what frees space) and renewals of a lock
 * already held go through. */
static int lock_call2(rados_be *b, const held_lock *l, const held_lock *also, uint8_t flags,
                      const bool *give_up)
{
    bk_buf p[2] = { BK_BUF_INIT, BK_BUF_INIT };
    static const char *const methods[2] = { "lock", "lock" };
    int n = also ? 2 : 1;
    int r = also ? lock_payload(also, b->lock_duration, flags, &p[0]) : 0;
    if (r == 0)
        r = lock_payload(l, b->lock_duration, flags, &p[n - 1]);
    bool force = l->exclusive || (flags & LIBRADOS_LOCK_FLAG_MUST_RENEW);
    if (r == 0)
        r = cls_lock_exec(b, n, methods, p, force ? LIBRADOS_OPERATION_FULL_FORCE
                                                  : LIBRADOS_OPERATION_FULL_TRY, give_up);
    bk_buf_free(&p[0]);
    bk_buf_free(&p[1]);
    return r;
}

static int lock_call(rados_be *b, const held_lock *l, uint8_t flags, const bool *give_up)
{
    return lock_call2(b, l, NULL, flags, give_up);
}

static int unlock_call(rados_be *b, const held_lock *l)
{
    bk_buf p = BK_BUF_INIT;
    static const char *const methods[1] = { "unlock" };
    int r = 0;
    enc_str(&p, l->name, &r);
    enc_str(&p, l->cookie, &r);
    if (r == 0)
        r = cls_lock_exec(b, 1, methods, &p, LIBRADOS_OPERATION_FULL_FORCE, NULL);
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
    int r = bk_rados_note(b, lock_call(b, l, LIBRADOS_LOCK_FLAG_MUST_RENEW, give_up));
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
        held_lock *locks[] = { &b->repo_lock, &b->gate_lock, &b->prune_lock };
        for (size_t i = 0; i < BK_ELEMENTSOF(locks) && !b->renew_stop; i++)
            if (locks[i]->held && !locks[i]->lost && bk_rados_gate(b) == 0)
                renew(b, locks[i], &b->renew_stop);
    }
    pthread_mutex_unlock(&b->lock_mu);
    return NULL;
}

/* The lock l must still be ours before something a concurrent prune (or, for the prune
 * lock, a second prune) could rely on is written or removed.  When renewals are late (a
 * stalled process, a slow cluster), check synchronously.  0 when l is not held. */
int bk_rados_lock_check(rados_be *b, held_lock *l)
{
    pthread_mutex_lock(&b->lock_mu);
    int r = 0;
    if (l->held && l->lost)
        r = -ENOLCK;
    else if (l->held && bk_monotonic() - l->renewed >= (double)b->lock_duration * 2.0 / 3.0) {
        r = bk_rados_gate(b);
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
int bk_rados_lock_guard(rados_be *b, bk_obj_type t, bool removal)
{
    int r = t == BK_OBJ_DATA && !removal ? 0 : bk_rados_lock_check(b, &b->repo_lock);
    return r == 0 && removal ? bk_rados_lock_check(b, &b->prune_lock) : r;
}

int bk_rados_lock_duration(void)
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

/* A new random cookie and the description info for l. */
static int lock_prepare(held_lock *l, bool exclusive, const char *info)
{
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
    return 0;
}

/* l was taken (the op was sent at sent): see that it is renewed. */
static int lock_started(rados_be *b, held_lock *l, double sent)
{
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

/* Take l (-EBUSY if a conflicting holder has it) and see that it is renewed; with also, take
 * that lock too in the same op (not renewed: the caller drops it at once). */
static int lock_take2(rados_be *b, held_lock *l, held_lock *also, bool exclusive, const char *info)
{
    if (l->held)
        return -EALREADY;
    int r = lock_prepare(l, exclusive, info);
    if (r == 0 && also && (r = lock_prepare(also, exclusive, info)) < 0)
        lock_forget(l);
    if (r < 0)
        return r;
    b->lock_duration = bk_rados_lock_duration();
    double sent = bk_monotonic();
    r = bk_rados_gate(b);
    if (r == 0)
        r = bk_rados_note(b, lock_call2(b, l, also, 0, NULL));
    if (r == -EEXIST)
        r = -EBUSY;   /* same client and cookie: cannot happen with a random cookie */
    if (r < 0) {
        lock_forget(l);
        if (also)
            lock_forget(also);
        return r;
    }
    return lock_started(b, l, sent);
}

static int lock_take(rados_be *b, held_lock *l, bool exclusive, const char *info)
{
    return lock_take2(b, l, NULL, exclusive, info);
}

int bk_rados_lock_release(rados_be *b, held_lock *l)
{
    if (!l->held)
        return 0;
    pthread_mutex_lock(&b->lock_mu);
    l->held = false;
    bool idle = b->renewing && !b->repo_lock.held && !b->gate_lock.held && !b->prune_lock.held;
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
    int r = bk_rados_gate(b);
    if (r == 0)
        r = bk_rados_note(b, unlock_call(b, l));
    if (r == -ENOENT)
        r = 0;   /* lapsed already */
    lock_forget(l);
    return r;
}

/* The exclusive repository lock, through the gate: closed at the first attempt and kept
 * closed (renewed) while we wait, opened once we have the lock.  When the gate is taken (by
 * another exclusive waiter, or shared by a backup passing through it), try the lock anyway:
 * whoever gets it first goes first. */
static int take_exclusive(rados_be *b, const char *info)
{
    if (!b->gate_lock.held) {
        char waiting[1100];
        snprintf(waiting, sizeof(waiting), "%s (waiting for the lock)", info ? info : "");
        int r = lock_take(b, &b->gate_lock, true, waiting);
        if (r < 0 && r != -EBUSY)
            return r;
    }
    int r = lock_take(b, &b->repo_lock, true, info);
    if (r == 0)
        bk_rados_lock_release(b, &b->gate_lock);   /* best effort: it lapses otherwise */
    return r;
}

/* The shared repository lock: in one op with the gate, shared, so that it fails while an
 * exclusive taker waits; the gate is dropped again at once. */
static int take_shared(rados_be *b, const char *info)
{
    held_lock pass = { .name = GATE_LOCK_NAME };
    int r = lock_take2(b, &b->repo_lock, &pass, false, info);
    if (r == 0 && bk_rados_gate(b) == 0)
        bk_rados_note(b, unlock_call(b, &pass));   /* else it lapses by itself */
    lock_forget(&pass);
    return r;
}

/* Layout 1 to 2 before the first lock: under the exclusive lock and the fence.  0 when the
 * repository has layout 2 (now), -EBUSY while someone (an older arca above all) is in. */
static int layout_ensure(rados_be *b, bool exclusive, const char *info)
{
    bool fenced = false, layout2 = false;
    int r = bk_rados_note(b, bk_rados_fence_present(b, &fenced));
    if (r == 0)
        r = bk_rados_note(b, bk_rados_layout2(b, &layout2));
    if (r < 0 || (fenced && layout2)) {
        b->layout_ok = r == 0;
        return r;
    }
    char why[1200];
    snprintf(why, sizeof(why), "%s, making the pack catalog", info ? info : "");
    if ((r = take_exclusive(b, exclusive ? info : why)) < 0)
        return r;
    r = bk_rados_fence(b);
    if (r == 0)
        r = bk_rados_note(b, bk_rados_migrate(b));
    if (r == 0)
        b->layout_ok = true;
    if (r < 0 || !exclusive)
        bk_rados_lock_release(b, &b->repo_lock);
    return r;
}

int bk_rados_lock(bk_backend *be, bool exclusive, const char *info)
{
    rados_be *b = downcast(be);
    if (b->repo_lock.held)
        return -EALREADY;
    if (!b->layout_ok) {
        int r = layout_ensure(b, exclusive, info);
        if (r < 0 || b->repo_lock.held)
            return r;
    }
    return exclusive ? take_exclusive(b, info) : take_shared(b, info);
}

int bk_rados_unlock(bk_backend *be)
{
    rados_be *b = downcast(be);
    int r = b->repo_lock.held ? bk_rados_intents_flush(b) : 0;
    int ru = bk_rados_lock_release(b, &b->gate_lock);   /* an exclusive taker giving up */
    int rr = bk_rados_lock_release(b, &b->repo_lock);
    return r ? r : rr ? rr : ru;
}

/* One prune at a time: an exclusive lock of its own, held from planning to the last
 * removal, so that a second prune never deletes packs the first has just written. */
int bk_rados_lock_prune(bk_backend *be, bool acquire)
{
    rados_be *b = downcast(be);
    if (!acquire)
        return bk_rados_lock_release(b, &b->prune_lock);
    char who[512], info[540];
    bk_process_id(who, sizeof(who));
    snprintf(info, sizeof(info), "prune by %s", who);
    return lock_take(b, &b->prune_lock, true, info);
}

/* ---- holders ------------------------------------------------------------------------------ */

/* fn(lock, exclusive, client, cookie, addr) for each holder of the lock named lock other
 * than this handle. */
typedef int (*holder_fn)(rados_be *b, const char *lock, bool exclusive, const char *client,
                         const char *cookie, const char *addr, void *ctx);

static const held_lock *mine_of(rados_be *b, const char *lock)
{
    if (strcmp(lock, REPO_LOCK_NAME) == 0)
        return &b->repo_lock;
    if (strcmp(lock, GATE_LOCK_NAME) == 0)
        return &b->gate_lock;
    if (strcmp(lock, PRUNE_LOCK_NAME) == 0)
        return &b->prune_lock;
    return NULL;
}

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
    const held_lock *mine = mine_of(b, lock);
    for (ssize_t i = 0; r == 0 && i < n; i++) {
        if (!(mine && mine->cookie && strcmp(pk, mine->cookie) == 0))
            r = fn(b, lock, exclusive != 0, pc, pk, pa, ctx);
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

static bool is_fence(const char *lock, const char *cookie)
{
    return strcmp(lock, FENCE_LOCK_NAME) == 0 && strcmp(cookie, FENCE_COOKIE) == 0;
}

static int find_fence(rados_be *b, const char *lock, bool exclusive, const char *client,
                      const char *cookie, const char *addr, void *ctx)
{
    if (is_fence(lock, cookie) && exclusive)
        *(bool *)ctx = true;
    return 0;
}

int bk_rados_fence_present(rados_be *b, bool *ret)
{
    *ret = false;
    return for_each_holder(b, FENCE_LOCK_NAME, find_fence, ret);
}

static int break_dead_holder(rados_be *b, const char *lock, bool exclusive, const char *client,
                             const char *cookie, const char *addr, void *ctx);

int bk_rados_fence(rados_be *b)
{
    bool present;
    int r = bk_rados_note(b, bk_rados_fence_present(b, &present));
    if (r < 0 || present)
        return r;
    held_lock fence = { .name = FENCE_LOCK_NAME, .exclusive = true,
                        .cookie = (char *)FENCE_COOKIE, .desc = (char *)FENCE_COOKIE + 6 };
    bk_buf p = BK_BUF_INIT;
    static const char *const methods[1] = { "lock" };
    r = lock_payload(&fence, 0, 0, &p);   /* no duration: it never lapses */
    for (int tries = 0; r == 0 && tries < 2; tries++) {
        r = bk_rados_note(b, cls_lock_exec(b, 1, methods, &p, LIBRADOS_OPERATION_FULL_FORCE, NULL));
        if (r == -EEXIST)
            r = 0;   /* ours already */
        if (r != -EBUSY)
            break;
        /* an older arca holds it: unless it is dead (then its record goes), wait for it */
        size_t removed = 0;
        r = for_each_holder(b, FENCE_LOCK_NAME, break_dead_holder, &removed);
        if (r == 0 && removed == 0)
            r = -EBUSY;
    }
    bk_buf_free(&p);
    return r;
}

static int describe_holder(rados_be *b, const char *lock, bool exclusive, const char *client,
                           const char *cookie, const char *addr, void *ctx)
{
    bk_buf *out = ctx;
    if (is_fence(lock, cookie) || (strcmp(lock, GATE_LOCK_NAME) == 0 && !exclusive))
        return 0;   /* the fence, and backups passing the gate, hold nothing up for long */
    const char *sp = strchr(cookie, ' ');
    const char *info = sp && sp[1] ? sp + 1 : "a lock";
    const char *old = strcmp(lock, FENCE_LOCK_NAME) == 0 ? "an arca older than catalog layout 2; " : "";
    char line[1200];
    int k = snprintf(line, sizeof(line), "%s%s (%s%s at %s)", out->len ? "; " : "", info, old,
                     client, addr);
    return bk_buf_append(out, line, (size_t)BK_MIN(k, (int)sizeof(line) - 1));
}

int bk_rados_lock_holders(bk_backend *be, bk_buf *out)
{
    rados_be *b = downcast(be);
    static const char *const locks[] = { REPO_LOCK_NAME, GATE_LOCK_NAME, FENCE_LOCK_NAME };
    int r = 0;
    for (size_t i = 0; r == 0 && i < BK_ELEMENTSOF(locks); i++)
        r = for_each_holder(b, locks[i], describe_holder, out);
    return r;
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

static int break_dead_holder(rados_be *b, const char *lock, bool exclusive, const char *client,
                             const char *cookie, const char *addr, void *ctx)
{
    size_t *removed = ctx;
    if (is_fence(lock, cookie) || !holder_is_dead(cookie))
        return 0;
    int r = bk_rados_note(b, rados_break_lock(b->io, LOCK_OBJ, lock, client, cookie));
    if (r == -ENOENT)
        return 0;   /* gone meanwhile */
    if (r == 0)
        (*removed)++;
    return r;
}

static const char *const all_locks[] = { REPO_LOCK_NAME, GATE_LOCK_NAME, PRUNE_LOCK_NAME,
                                         FENCE_LOCK_NAME };

int bk_rados_clean_locks(bk_backend *be, size_t *ret_removed)
{
    rados_be *b = downcast(be);
    *ret_removed = 0;
    int r = bk_rados_gate(b);
    for (size_t i = 0; r == 0 && i < BK_ELEMENTSOF(all_locks); i++)
        r = for_each_holder(b, all_locks[i], break_dead_holder, ret_removed);
    return r;
}

/* arca unlock --force: every other holder's lock goes, dead or alive.  One that may be alive
 * (on another host, or running here) is blocklisted first, as rbd does before it breaks a
 * lock: its client can then no longer write, so a stalled process that wakes up later
 * cannot store what a prune has just ruled out.  Blocklisting is a monitor command ("osd
 * blocklist", cephx mon cap); without it, -EPERM or -EACCES and the lock stays. */
static int break_holder(rados_be *b, const char *lock, bool exclusive, const char *client,
                        const char *cookie, const char *addr, void *ctx)
{
    size_t *broken = ctx;
    if (is_fence(lock, cookie))
        return 0;
    int r = 0;
    if (!holder_is_dead(cookie))
        r = bk_rados_note(b, rados_blocklist_add(b->cluster, (char *)addr, 0));
    if (r == 0)
        r = bk_rados_note(b, rados_break_lock(b->io, LOCK_OBJ, lock, client, cookie));
    if (r == 0)
        (*broken)++;
    return r == -ENOENT ? 0 : r;
}

int bk_rados_break_locks(bk_backend *be, size_t *ret_broken)
{
    rados_be *b = downcast(be);
    *ret_broken = 0;
    int r = bk_rados_gate(b);
    for (size_t i = 0; r == 0 && i < BK_ELEMENTSOF(all_locks); i++)
        r = for_each_holder(b, all_locks[i], break_holder, ret_broken);
    return r;
}
