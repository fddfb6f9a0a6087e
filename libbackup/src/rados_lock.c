/* rados_lock.c - the repository lock and the prune lock of the RADOS backend: cls locks on
 * the object "lock" with a duration, renewed by a thread while held, and broken when their
 * holder is known dead. */
#include <signal.h>
#include <time.h>

#include <sodium.h>

#include "rados_internal.h"

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
        held_lock *locks[] = { &b->repo_lock, &b->prune_lock };
        for (size_t i = 0; i < 2 && !b->renew_stop; i++)
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
    b->lock_duration = bk_rados_lock_duration();
    double sent = bk_monotonic();
    int r = bk_rados_gate(b);
    if (r == 0)
        r = bk_rados_note(b, lock_call(b, l, 0, NULL));
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

int bk_rados_lock_release(rados_be *b, held_lock *l)
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
    int r = bk_rados_gate(b);
    if (r == 0)
        r = bk_rados_note(b, unlock_call(b, l));
    if (r == -ENOENT)
        r = 0;   /* lapsed already */
    lock_forget(l);
    return r;
}

int bk_rados_lock(bk_backend *be, bool exclusive, const char *info)
{
    rados_be *b = downcast(be);
    return lock_take(b, &b->repo_lock, exclusive, info);
}

int bk_rados_unlock(bk_backend *be)
{
    rados_be *b = downcast(be);
    return bk_rados_lock_release(b, &b->repo_lock);
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

int bk_rados_lock_holders(bk_backend *be, bk_buf *out)
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
    int r = bk_rados_note(b, rados_break_lock(b->io, LOCK_OBJ, lock, client, cookie));
    if (r == -ENOENT)
        return 0;   /* gone meanwhile */
    if (r == 0)
        (*removed)++;
    return r;
}

int bk_rados_clean_locks(bk_backend *be, size_t *ret_removed)
{
    rados_be *b = downcast(be);
    *ret_removed = 0;
    int r = bk_rados_gate(b);
    if (r == 0)
        r = for_each_holder(b, LOCK_NAME, break_dead_holder, ret_removed);
    return r < 0 ? r : for_each_holder(b, PRUNE_LOCK_NAME, break_dead_holder, ret_removed);
}
