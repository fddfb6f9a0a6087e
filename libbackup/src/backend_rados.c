/* backend_rados.c - a repository in a Ceph RADOS pool (and namespace), on the librados C API:
 * connecting, timeouts, the cluster's limits, the fail-fast gate, and the vtable.
 *
 * Objects: config, keys/<id>, data/<id>, index/<id>, snapshots/<id> and lock, all in the
 * pool + namespace of the location; with a data pool, data/ objects live there instead (same
 * namespace; it may be erasure coded, so nothing there uses omap).  The data pool is recorded
 * at init in the xattr arca.data_pool of config, so later runs find it by themselves.
 * Catalogs are in rados_catalog.c, locks in rados_lock.c, object I/O in rados_io.c.
 *
 * librados waits forever for a dead cluster by default: every call here is bounded by the
 * osd/mon op timeouts set from conf->ceph_timeout, and an -ETIMEDOUT write has an unknown
 * outcome (the OSD may still apply it).  Once an operation timed out, the handle fails fast:
 * new operations get -ETIMEDOUT at once, so a stalled cluster ends a run after about one
 * timeout, not one per operation. */
#include <time.h>

#include <sodium.h>

#include "rados_internal.h"

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
bool bk_rados_may_retry(int r, double deadline, int *attempt)
{
    if (!transient(r) || ++*attempt >= MAX_ATTEMPTS || bk_interrupted())
        return false;
    double pause = 0.1 * (double)(1 << *attempt);
    if (bk_monotonic() + pause + 1.0 > deadline)
        return false;
    sleep_s(pause);
    return true;
}

double bk_rados_deadline(rados_be *b)
{
    return bk_monotonic() + (double)b->timeout;
}

/* The fail-fast gate: -ETIMEDOUT once an operation of this handle timed out.  It stays shut:
 * the command is failing anyway, and every operation let through would wait one more
 * timeout, so that a run ends within about one timeout of the cluster's going silent. */
int bk_rados_gate(rados_be *b)
{
    pthread_mutex_lock(&b->mu);
    bool stalled = b->stalled_since > 0;
    pthread_mutex_unlock(&b->mu);
    return stalled ? -ETIMEDOUT : 0;
}

/* Record what the cluster's answer says about it; returns r. */
int bk_rados_note(rados_be *b, int r)
{
    if (r == -ETIMEDOUT) {
        pthread_mutex_lock(&b->mu);
        if (b->stalled_since == 0)
            b->stalled_since = bk_monotonic();
        pthread_mutex_unlock(&b->mu);
    }
    return r;
}

static uint64_t rados_max_object_size(bk_backend *be)
{
    return downcast(be)->max_object;
}

static uint64_t rados_scans(bk_backend *be)
{
    rados_be *b = downcast(be);
    pthread_mutex_lock(&b->mu);
    uint64_t n = b->scans;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static void rados_close(bk_backend *be)
{
    rados_be *b = downcast(be);
    bk_rados_flush(be);   /* the last intents go while the lock is still held */
    bk_rados_lock_release(b, &b->gate_lock);
    bk_rados_lock_release(b, &b->repo_lock);
    bk_rados_lock_release(b, &b->prune_lock);
    for (size_t i = 0; i < b->nresolved; i++)
        free(b->resolved[i]);
    free(b->resolved);
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

/* Entries per catalog shard that start the next generation: ARCA_RADOS_SHARD_SPLIT (for
 * tests, which need small catalogs to grow), else DEFAULT_SHARD_SPLIT. */
static uint64_t shard_split_setting(void)
{
    const char *e = getenv("ARCA_RADOS_SHARD_SPLIT");
    if (e && *e) {
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        if (*end == 0 && v >= 16 && v <= 1000000)
            return v;
    }
    return DEFAULT_SHARD_SPLIT;
}

static const bk_backend_ops rados_ops = {
    .scheme = "rados",
    .extra_readers = 2,
    .put = bk_rados_put,
    .put_async = bk_rados_put_async,
    .flush = bk_rados_flush,
    .get = bk_rados_get,
    .stat = bk_rados_stat,
    .remove = bk_rados_remove,
    .list = bk_rados_list,
    .lock = bk_rados_lock,
    .unlock = bk_rados_unlock,
    .lock_prune = bk_rados_lock_prune,
    .clean_locks = bk_rados_clean_locks,
    .lock_holders = bk_rados_lock_holders,
    .break_locks = bk_rados_break_locks,
    .max_object_size = rados_max_object_size,
    .rebuild_catalogs = bk_rados_rebuild_catalogs,
    .remove_strays = bk_rados_remove_strays,
    .scan_orphans = bk_rados_scan_orphans,
    .scans = rados_scans,
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

/* Read io as of its pool's snapshot name (--ceph-snap): writes then fail (-EROFS). */
static int snap_read(rados_ioctx_t io, const char *pool, const char *name, bk_error *err)
{
    rados_snap_t snap;
    int r = rados_ioctx_snap_lookup(io, name, &snap);
    if (r == -ENOENT)   /* not "no repository": -ESRCH */
        return bk_error_set(err, -ESRCH, "pool '%s' has no snapshot '%s' (ceph osd pool lssnap %s)",
                            pool, name, pool);
    if (r < 0)
        return bk_error_set(err, r, "cannot look up snapshot '%s' of pool '%s': %s", name, pool,
                            strerror(-r));
    rados_ioctx_snap_set_read(io, snap);
    return 0;
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
    b->repo_lock.name = REPO_LOCK_NAME;
    b->gate_lock.name = GATE_LOCK_NAME;
    b->prune_lock.name = PRUNE_LOCK_NAME;
    for (int t = 0; t < BK_OBJ_TYPE_COUNT; t++)
        b->gen[t] = -1;
    b->shard_split = shard_split_setting();
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof(rnd));
    bk_hex(rnd, sizeof(rnd), b->nonce);
    b->lock_duration = bk_rados_lock_duration();
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
    if (conf->ceph_snap && create) {
        r = bk_error_set(err, -EROFS, "--ceph-snap is a read-only view: no repository can be "
                         "made there");
        goto fail;
    }
    if (conf->ceph_snap && (r = snap_read(b->io, pool, conf->ceph_snap, err)) < 0)
        goto fail;
    r = resolve_data_pool(b, conf->data_pool, pool, name, err);
    if (r < 0)
        goto fail;
    if (b->data_pool) {
        r = open_pool(c, b->data_pool, ns, &b->data_io, err);
        if (r < 0) {
            b->data_io = b->io;
            goto fail;
        }
        if (conf->ceph_snap && (r = snap_read(b->data_io, b->data_pool, conf->ceph_snap, err)) < 0)
            goto fail;   /* (fail: destroys data_io) */
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
        r = bk_rados_catalogs_init(b);
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
