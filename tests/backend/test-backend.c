/* test-backend.c - the backend conformance suite: one set of cmocka tests, run against every
 * backend.  `test-backend local` uses a temporary directory; `test-backend rados` uses
 * rados:$ARCA_TEST_POOL/<a fresh namespace per test> on the cluster of $CEPH_CONF, and fails
 * (does not skip) when those are not set; with ARCA_TEST_DATA_POOL (e.g. an erasure-coded pool)
 * data objects go there.  Each test gets a new, empty repository location. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "backend.h"
#include "util.h"

#ifdef BK_TEST_HAVE_RADOS
#include <rados/librados.h>
#endif

static const char *kind;            /* "local" or "rados" */
static char base_dir[256];          /* local: parent of the per-test directories */
static char self_exe[4096];
static unsigned test_no;

typedef struct T {
    char location[512];
    char ns[256];                   /* rados namespace */
    bk_backend_conf conf;
    bk_backend *be;
} T;

static bool is_rados(void)
{
    return strcmp(kind, "rados") == 0;
}

static double now_s(void)
{
    return bk_monotonic();
}

static void rnd_name(char out[BK_ID_HEX])
{
    uint8_t b[BK_ID_LEN];
    randombytes_buf(b, sizeof(b));
    bk_hex(b, sizeof(b), out);
}

static uint8_t *rnd_bytes(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    randombytes_buf(p, n);
    return p;
}

static bk_backend *open_be(T *t)
{
    bk_error err = { 0 };
    bk_backend *be = NULL;
    int r = bk_backend_open(t->location, &t->conf, true, &err, &be);
    if (r < 0)
        fail_msg("open %s: %s (%d)", t->location, err.msg, r);
    return be;
}

/* A second handle on an existing repository location (no catalogs made or cleared). */
static bk_backend *open_existing(T *t)
{
    bk_error err = { 0 };
    bk_backend *be = NULL;
    int r = bk_backend_open(t->location, &t->conf, false, &err, &be);
    if (r < 0)
        fail_msg("open %s: %s (%d)", t->location, err.msg, r);
    return be;
}

static uint64_t scans_of(bk_backend *be)
{
    return be->ops->scans ? be->ops->scans(be) : 0;
}

static int setup(void **state)
{
    T *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    test_no++;
    t->conf.ceph_timeout = 30;
    if (is_rados()) {
        const char *dp = getenv("ARCA_TEST_DATA_POOL");
        t->conf.data_pool = dp && *dp ? dp : NULL;
        uint8_t r[4];
        randombytes_buf(r, sizeof(r));
        char rh[9];
        bk_hex(r, sizeof(r), rh);
        snprintf(t->ns, sizeof(t->ns), "conformance-%d-%s-%u", (int)getpid(), rh, test_no);
        snprintf(t->location, sizeof(t->location), "rados:%s/%s", getenv("ARCA_TEST_POOL"), t->ns);
    } else {
        snprintf(t->location, sizeof(t->location), "%s/repo-%u", base_dir, test_no);
    }
    t->be = open_be(t);
    *state = t;
    return 0;
}

#ifdef BK_TEST_HAVE_RADOS
/* Direct librados access for what the backend API cannot do: play crash and damage. */
static rados_t raw_cluster;

static rados_ioctx_t raw_io_pool(T *t, const char *pool)
{
    if (!raw_cluster) {
        assert_int_equal(rados_create2(&raw_cluster, "ceph", "client.admin", 0), 0);
        assert_int_equal(rados_conf_read_file(raw_cluster, NULL), 0);
        rados_conf_set(raw_cluster, "admin_socket", "");   /* the backend has its own */
        rados_conf_parse_env(raw_cluster, NULL);
        rados_conf_set(raw_cluster, "rados_osd_op_timeout", "30");
        rados_conf_set(raw_cluster, "rados_mon_op_timeout", "30");
        rados_conf_set(raw_cluster, "client_mount_timeout", "30");
        assert_int_equal(rados_connect(raw_cluster), 0);
    }
    rados_ioctx_t io;
    assert_int_equal(rados_ioctx_create(raw_cluster, pool, &io), 0);
    rados_ioctx_set_namespace(io, t->ns);
    return io;
}

static rados_ioctx_t raw_io(T *t)
{
    return raw_io_pool(t, getenv("ARCA_TEST_POOL"));
}

static void raw_wipe_pool(T *t, const char *pool)
{
    rados_ioctx_t io = raw_io_pool(t, pool);
    rados_list_ctx_t lc;
    if (rados_nobjects_list_open(io, &lc) == 0) {
        const char *e;
        char **names = NULL;
        size_t n = 0;
        while (rados_nobjects_list_next(lc, &e, NULL, NULL) == 0) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e);
        }
        rados_nobjects_list_close(lc);
        for (size_t i = 0; i < n; i++) {
            rados_remove(io, names[i]);
            free(names[i]);
        }
        free(names);
    }
    rados_ioctx_destroy(io);
}
#endif

static int teardown(void **state)
{
    T *t = *state;
    bk_backend_close(t->be);
#ifdef BK_TEST_HAVE_RADOS
    if (is_rados()) {
        raw_wipe_pool(t, getenv("ARCA_TEST_POOL"));
        if (t->conf.data_pool)
            raw_wipe_pool(t, t->conf.data_pool);
    }
#endif
    free(t);
    return 0;
}

/* ---- listings ---------------------------------------------------------------------------- */

typedef struct listing {
    char **names;
    uint64_t *sizes;
    size_t n;
    int stop_after;                 /* > 0: return 1 after that many */
} listing;

static int list_cb(const char *name, uint64_t size, void *ctx)
{
    listing *l = ctx;
    l->names = realloc(l->names, (l->n + 1) * sizeof(*l->names));
    l->sizes = realloc(l->sizes, (l->n + 1) * sizeof(*l->sizes));
    assert_non_null(l->names);
    assert_non_null(l->sizes);
    l->names[l->n] = strdup(name);
    l->sizes[l->n] = size;
    l->n++;
    return l->stop_after > 0 && (int)l->n >= l->stop_after ? 1 : 0;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->sizes);
    memset(l, 0, sizeof(*l));
}

static listing list_of(bk_backend *be, bk_obj_type type)
{
    listing l = { 0 };
    assert_int_equal(bk_be_list(be, type, list_cb, &l), 0);
    return l;
}

/* size of name in l, or -1 */
static int64_t listed(const listing *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return (int64_t)l->sizes[i];
    return -1;
}

static void assert_get(bk_backend *be, bk_obj_type type, const char *name, const void *want,
                       size_t n)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_be_get(be, type, name, 0, 0, &b), 0);
    assert_int_equal(b.len, n);
    if (n)
        assert_memory_equal(b.data, want, n);
    bk_buf_free(&b);
}

/* ---- objects ------------------------------------------------------------------------------ */

static void test_put_get_stat_remove(void **state)
{
    T *t = *state;
    static const bk_obj_type types[] = { BK_OBJ_KEY, BK_OBJ_DATA, BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    for (size_t i = 0; i < BK_ELEMENTSOF(types); i++) {
        char name[BK_ID_HEX];
        rnd_name(name);
        size_t n = 100000 + i;
        uint8_t *p = rnd_bytes(n);
        assert_int_equal(bk_be_put(t->be, types[i], name, p, n), 0);
        assert_get(t->be, types[i], name, p, n);
        uint64_t size = 0;
        assert_int_equal(bk_be_stat(t->be, types[i], name, &size), 0);
        assert_int_equal(size, n);
#ifdef BK_TEST_HAVE_RADOS
        if (is_rados()) {
            /* data objects in the data pool, everything else in the main pool */
            char oid[128];
            snprintf(oid, sizeof(oid), "%s/%s", bk_obj_type_name(types[i]), name);
            const char *dp = t->conf.data_pool;
            bool in_data = types[i] == BK_OBJ_DATA && dp;
            rados_ioctx_t main_io = raw_io(t);
            assert_int_equal(rados_stat(main_io, oid, &size, NULL), in_data ? -ENOENT : 0);
            rados_ioctx_destroy(main_io);
            if (dp) {
                rados_ioctx_t data_io = raw_io_pool(t, dp);
                assert_int_equal(rados_stat(data_io, oid, &size, NULL), in_data ? 0 : -ENOENT);
                rados_ioctx_destroy(data_io);
            }
        }
#endif

        /* ranged: appended to what the buffer holds */
        bk_buf b = BK_BUF_INIT;
        assert_int_equal(bk_buf_append(&b, "xy", 2), 0);
        assert_int_equal(bk_be_get(t->be, types[i], name, 1234, 5678, &b), 0);
        assert_int_equal(b.len, 2 + 5678);
        assert_memory_equal(b.data, "xy", 2);
        assert_memory_equal(b.data + 2, p + 1234, 5678);
        b.len = 0;
        /* len 0 = to the end; the end itself is an empty range */
        assert_int_equal(bk_be_get(t->be, types[i], name, n - 10, 0, &b), 0);
        assert_int_equal(b.len, 10);
        assert_memory_equal(b.data, p + n - 10, 10);
        b.len = 0;
        assert_int_equal(bk_be_get(t->be, types[i], name, n, 0, &b), 0);
        assert_int_equal(b.len, 0);
        bk_buf_free(&b);

        assert_int_equal(bk_be_remove(t->be, types[i], name), 0);
        assert_int_equal(bk_be_stat(t->be, types[i], name, &size), -ENOENT);
        assert_int_equal(bk_be_remove(t->be, types[i], name), -ENOENT);
        listing l = list_of(t->be, types[i]);
        assert_int_equal(listed(&l, name), -1);
        listing_free(&l);
        free(p);
    }
}

static void test_config_and_empty(void **state)
{
    T *t = *state;
    listing l = list_of(t->be, BK_OBJ_CONFIG);
    assert_int_equal(l.n, 0);
    listing_free(&l);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_CONFIG, "config", "cfg!", 4), 0);
    assert_get(t->be, BK_OBJ_CONFIG, "config", "cfg!", 4);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_CONFIG, "config", "other", 5), -EEXIST);
    l = list_of(t->be, BK_OBJ_CONFIG);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.names[0], "config");
    assert_int_equal(l.sizes[0], 4);
    listing_free(&l);

    /* an empty object is an object */
    char name[BK_ID_HEX];
    rnd_name(name);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_INDEX, name, "", 0), 0);
    uint64_t size = 99;
    assert_int_equal(bk_be_stat(t->be, BK_OBJ_INDEX, name, &size), 0);
    assert_int_equal(size, 0);
    assert_get(t->be, BK_OBJ_INDEX, name, "", 0);
    l = list_of(t->be, BK_OBJ_INDEX);
    assert_int_equal(listed(&l, name), 0);
    listing_free(&l);
}

static void test_create_exclusive(void **state)
{
    T *t = *state;
    static const bk_obj_type types[] = { BK_OBJ_KEY, BK_OBJ_DATA, BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    for (size_t i = 0; i < BK_ELEMENTSOF(types); i++) {
        char name[BK_ID_HEX];
        rnd_name(name);
        assert_int_equal(bk_be_put(t->be, types[i], name, "original", 8), 0);
        assert_int_equal(bk_be_put(t->be, types[i], name, "replaced!", 9), -EEXIST);
        assert_int_equal(bk_be_put(t->be, types[i], name, "original", 8), -EEXIST);
        assert_get(t->be, types[i], name, "original", 8);
        if (types[i] != BK_OBJ_DATA) {
            listing l = list_of(t->be, types[i]);
            assert_int_equal(l.n, 1);
            assert_int_equal(listed(&l, name), 8);
            listing_free(&l);
        }
    }
}

static void test_missing(void **state)
{
    T *t = *state;
    static const bk_obj_type types[] = { BK_OBJ_KEY, BK_OBJ_DATA, BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    for (size_t i = 0; i < BK_ELEMENTSOF(types); i++) {
        char name[BK_ID_HEX];
        rnd_name(name);
        bk_buf b = BK_BUF_INIT;
        uint64_t size;
        assert_int_equal(bk_be_get(t->be, types[i], name, 0, 0, &b), -ENOENT);
        assert_int_equal(bk_be_get(t->be, types[i], name, 10, 10, &b), -ENOENT);
        assert_int_equal(b.len, 0);
        assert_int_equal(bk_be_stat(t->be, types[i], name, &size), -ENOENT);
        assert_int_equal(bk_be_remove(t->be, types[i], name), -ENOENT);
        bk_buf_free(&b);
    }
    uint64_t size;
    assert_int_equal(bk_be_stat(t->be, BK_OBJ_CONFIG, "config", &size), -ENOENT);
}

static void test_short_ranges(void **state)
{
    T *t = *state;
    char name[BK_ID_HEX];
    rnd_name(name);
    uint8_t *p = rnd_bytes(1000);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_DATA, name, p, 1000), 0);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_be_get(t->be, BK_OBJ_DATA, name, 990, 11, &b), -ENODATA);
    assert_int_equal(bk_be_get(t->be, BK_OBJ_DATA, name, 1000, 1, &b), -ENODATA);
    assert_int_equal(bk_be_get(t->be, BK_OBJ_DATA, name, 5000, 10, &b), -ENODATA);
    assert_int_equal(bk_be_get(t->be, BK_OBJ_DATA, name, 1001, 0, &b), -ENODATA);
    assert_int_equal(b.len, 0);
    assert_int_equal(bk_be_get(t->be, BK_OBJ_DATA, name, 990, 10, &b), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, p + 990, 10);
    bk_buf_free(&b);
    free(p);
}

static void test_invalid_names(void **state)
{
    T *t = *state;
    assert_int_equal(bk_be_put(t->be, BK_OBJ_INDEX, "", "x", 1), -EINVAL);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_INDEX, "a/b", "x", 1), -EINVAL);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_INDEX, ".hidden", "x", 1), -EINVAL);
    listing l = list_of(t->be, BK_OBJ_INDEX);
    assert_int_equal(l.n, 0);
    listing_free(&l);
}

/* ---- asynchronous puts -------------------------------------------------------------------- */

typedef struct async_state {
    int done, failed, eexist;
} async_state;

static pthread_mutex_t async_mu = PTHREAD_MUTEX_INITIALIZER;

static void async_done(int result, void *ctx)
{
    async_state *s = ctx;
    pthread_mutex_lock(&async_mu);
    s->done++;
    if (result == -EEXIST)
        s->eexist++;
    else if (result < 0)
        s->failed++;
    pthread_mutex_unlock(&async_mu);
}

static int put_async_or_put(bk_backend *be, bk_obj_type type, const char *name, const void *p,
                            size_t n, async_state *s)
{
    if (be->ops->put_async)
        return be->ops->put_async(be, type, name, p, n, async_done, s);
    int r = bk_be_put(be, type, name, p, n);
    async_done(r, s);
    return r;
}

#define ASYNC_PUTS 300

static void test_put_async_many(void **state)
{
    T *t = *state;
    char (*names)[BK_ID_HEX] = calloc(ASYNC_PUTS, BK_ID_HEX);
    uint8_t **bufs = calloc(ASYNC_PUTS, sizeof(*bufs));
    size_t *lens = calloc(ASYNC_PUTS, sizeof(*lens));
    assert_true(names && bufs && lens);
    async_state s = { 0 };
    size_t total = 0;
    for (int i = 0; i < ASYNC_PUTS; i++) {
        rnd_name(names[i]);
        lens[i] = (size_t)(i % 7 == 0 ? 1 << 20 : 1 + (i * 7919) % 65536);
        bufs[i] = rnd_bytes(lens[i]);
        total += lens[i];
    }
    double t0 = now_s();
    for (int i = 0; i < ASYNC_PUTS; i++) {
        assert_int_equal(put_async_or_put(t->be, BK_OBJ_DATA, names[i], bufs[i], lens[i], &s), 0);
    }
    if (t->be->ops->flush)
        assert_int_equal(t->be->ops->flush(t->be), 0);
    print_message("  %d puts (%.1f MB) in %.2f s\n", ASYNC_PUTS, (double)total / 1e6, now_s() - t0);
    assert_int_equal(s.done, ASYNC_PUTS);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.eexist, 0);

    /* an existing name fails through the completion, and changes nothing */
    int r = put_async_or_put(t->be, BK_OBJ_DATA, names[0], "nope", 4, &s);
    assert_int_equal(r, t->be->ops->put_async ? 0 : -EEXIST);
    if (t->be->ops->flush)
        assert_int_equal(t->be->ops->flush(t->be), 0);
    assert_int_equal(s.done, ASYNC_PUTS + 1);
    assert_int_equal(s.eexist, 1);

    listing l = list_of(t->be, BK_OBJ_DATA);
    assert_int_equal(l.n, ASYNC_PUTS);
    for (int i = 0; i < ASYNC_PUTS; i++) {
        assert_int_equal(listed(&l, names[i]), (int64_t)lens[i]);
        if (i % 10 == 0)
            assert_get(t->be, BK_OBJ_DATA, names[i], bufs[i], lens[i]);
        free(bufs[i]);
    }
    listing_free(&l);
    free(names);
    free(bufs);
    free(lens);
}

/* ---- listings of each type ---------------------------------------------------------------- */

static void test_list_types(void **state)
{
    T *t = *state;
    static const bk_obj_type types[] = { BK_OBJ_KEY, BK_OBJ_DATA, BK_OBJ_INDEX, BK_OBJ_SNAPSHOT };
    static const int counts[] = { 3, 7, 4, 5 };
    char names[4][8][BK_ID_HEX];
    for (size_t i = 0; i < 4; i++)
        for (int k = 0; k < counts[i]; k++) {
            rnd_name(names[i][k]);
            size_t n = 10 * i + (size_t)k + 1;
            uint8_t *p = rnd_bytes(n);
            assert_int_equal(bk_be_put(t->be, types[i], names[i][k], p, n), 0);
            free(p);
        }
    assert_int_equal(bk_be_put(t->be, BK_OBJ_CONFIG, "config", "c", 1), 0);
    for (size_t i = 0; i < 4; i++) {
        listing l = list_of(t->be, types[i]);
        assert_int_equal(l.n, (size_t)counts[i]);
        for (int k = 0; k < counts[i]; k++)
            assert_int_equal(listed(&l, names[i][k]), (int64_t)(10 * i + (size_t)k + 1));
        /* nothing of another type (data objects above all) shows up here */
        for (size_t o = 0; o < 4; o++)
            for (int k = 0; o != i && k < counts[o]; k++)
                assert_int_equal(listed(&l, names[o][k]), -1);
        assert_int_equal(listed(&l, "config"), -1);
        listing_free(&l);

        /* a positive return of the callback stops the listing and is returned */
        listing s = { .stop_after = 2 };
        assert_int_equal(bk_be_list(t->be, types[i], list_cb, &s), 1);
        assert_int_equal(s.n, 2);
        listing_free(&s);
    }
}

/* ---- large objects ------------------------------------------------------------------------- */

static void test_large_objects(void **state)
{
    T *t = *state;
    uint64_t maxobj = t->be->ops->max_object_size(t->be);
    if (is_rados())
        assert_true(maxobj >= ((uint64_t)16 << 20));
    else
        assert_int_equal(maxobj, 0);

    bk_backend *be = t->be;
    bk_backend *small = NULL;
    char *saved = NULL;
    if (is_rados()) {
        /* a client that believes one write may be 4 MiB (the least Ceph allows): objects
         * larger than that go out in pieces */
        const char *old = getenv("CEPH_ARGS");
        saved = old ? strdup(old) : NULL;
        char args[1024];
        snprintf(args, sizeof(args), "%s --osd_max_write_size=4", old ? old : "");
        setenv("CEPH_ARGS", args, 1);
        small = open_be(t);
        if (saved)
            setenv("CEPH_ARGS", saved, 1);
        else
            unsetenv("CEPH_ARGS");
        free(saved);
        be = small;
    }
    size_t n = (19 << 20) / 2 + 12345;
    uint8_t *p = rnd_bytes(n);
    char d[BK_ID_HEX], k[BK_ID_HEX], a[BK_ID_HEX];
    rnd_name(d);
    rnd_name(k);
    rnd_name(a);
    assert_int_equal(bk_be_put(be, BK_OBJ_DATA, d, p, n), 0);
    assert_int_equal(bk_be_put(be, BK_OBJ_INDEX, k, p, n), 0);
    assert_int_equal(bk_be_put(be, BK_OBJ_DATA, d, p, n), -EEXIST);
    async_state s = { 0 };
    put_async_or_put(be, BK_OBJ_DATA, a, p, n, &s);
    if (be->ops->flush)
        be->ops->flush(be);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.failed + s.eexist, 0);
    assert_get(t->be, BK_OBJ_DATA, d, p, n);
    assert_get(t->be, BK_OBJ_INDEX, k, p, n);
    assert_get(t->be, BK_OBJ_DATA, a, p, n);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_be_get(t->be, BK_OBJ_DATA, d, (4 << 20) - 5, 10, &b), 0);
    assert_memory_equal(b.data, p + (4 << 20) - 5, 10);
    bk_buf_free(&b);
    listing l = list_of(t->be, BK_OBJ_INDEX);
    assert_int_equal(listed(&l, k), (int64_t)n);
    listing_free(&l);
    if (small)
        bk_backend_close(small);
    free(p);
}

/* ---- locks --------------------------------------------------------------------------------- */

static int lock(bk_backend *be, bool exclusive, const char *info)
{
    return be->ops->lock(be, exclusive, info);
}

static void test_locks(void **state)
{
    T *t = *state;
    bk_backend *a = t->be, *b = open_be(t), *c = open_be(t);
    assert_int_equal(lock(a, false, "shared lock A"), 0);
    assert_int_equal(lock(a, false, "again"), -EALREADY);
    assert_int_equal(lock(b, false, "shared lock B"), 0);
    assert_int_equal(lock(c, true, "exclusive C"), -EBUSY);
    bk_buf h = BK_BUF_INIT;
    assert_int_equal(c->ops->lock_holders(c, &h), 0);
    assert_int_equal(bk_buf_append(&h, "", 1), 0);
    print_message("  holders: %s\n", (char *)h.data);
    assert_non_null(strstr((char *)h.data, "shared lock A"));
    assert_non_null(strstr((char *)h.data, "shared lock B"));
    bk_buf_free(&h);

    assert_int_equal(a->ops->unlock(a), 0);
    assert_int_equal(lock(c, true, "exclusive C"), -EBUSY);   /* B still holds it */
    assert_int_equal(b->ops->unlock(b), 0);
    assert_int_equal(b->ops->unlock(b), 0);                   /* not held: no-op */
    assert_int_equal(lock(c, true, "exclusive C"), 0);
    assert_int_equal(lock(a, false, "shared lock A"), -EBUSY);
    assert_int_equal(lock(b, true, "exclusive B"), -EBUSY);
    assert_int_equal(a->ops->lock_holders(a, &h), 0);
    assert_int_equal(bk_buf_append(&h, "", 1), 0);
    assert_non_null(strstr((char *)h.data, "exclusive C"));
    bk_buf_free(&h);
    assert_int_equal(c->ops->unlock(c), 0);
    assert_int_equal(lock(b, true, "exclusive B"), 0);
    assert_int_equal(lock(a, true, "exclusive A"), -EBUSY);
    /* closing a handle releases its lock */
    bk_backend_close(b);
    assert_int_equal(lock(a, true, "exclusive A"), 0);
    assert_int_equal(a->ops->unlock(a), 0);
    bk_backend_close(c);
}

/* One prune at a time, whatever the repository lock does: the prune lock is exclusive and
 * independent of it, and closing a handle releases it. */
static void test_prune_lock(void **state)
{
    T *t = *state;
    bk_backend *a = t->be, *b = open_be(t);
    assert_non_null(a->ops->lock_prune);
    assert_int_equal(a->ops->lock_prune(a, true), 0);
    assert_int_equal(b->ops->lock_prune(b, true), -EBUSY);
    /* the repository lock is another matter: both may share it, and exclusively too */
    assert_int_equal(lock(b, false, "backup while prune plans"), 0);
    assert_int_equal(lock(a, false, "prune, shared"), 0);
    assert_int_equal(b->ops->lock_prune(b, true), -EBUSY);
    assert_int_equal(a->ops->unlock(a), 0);
    assert_int_equal(b->ops->unlock(b), 0);
    assert_int_equal(lock(a, true, "prune, exclusive"), 0);
    assert_int_equal(a->ops->unlock(a), 0);
    assert_int_equal(b->ops->lock_prune(b, true), -EBUSY);
    assert_int_equal(a->ops->lock_prune(a, false), 0);
    assert_int_equal(b->ops->lock_prune(b, true), 0);
    assert_int_equal(a->ops->lock_prune(a, true), -EBUSY);
    bk_backend_close(b);
    assert_int_equal(a->ops->lock_prune(a, true), 0);
    assert_int_equal(a->ops->lock_prune(a, false), 0);
}

/* The child side of test_lock_lapse: take the lock, say so, wait to be killed. */
static int lock_child(const char *location, const char *mode)
{
    bk_backend_conf conf = { .ceph_timeout = 30 };
    bk_error err = { 0 };
    bk_backend *be;
    int r = bk_backend_open(location, &conf, false, &err, &be);
    if (r == 0)
        r = be->ops->lock(be, strcmp(mode, "exclusive") == 0, "the child, about to be killed");
    printf("%s %d %s\n", r == 0 ? "locked" : "error", r, err.msg);
    fflush(stdout);
    if (r < 0)
        return 1;
    for (;;)
        pause();
}

static pid_t spawn_lock_child(T *t, const char *mode, FILE **ret_out)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        /* a fresh process image: librados is not usable across fork() */
        execl(self_exe, self_exe, "--lock-child", t->location, mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[1200] = "";
    if (!fgets(line, sizeof(line), f))
        fail_msg("lock child said nothing");
    if (strncmp(line, "locked", 6) != 0)
        fail_msg("lock child: %s", line);
    *ret_out = f;
    return pid;
}

static int lock_duration(void)
{
    const char *e = getenv("ARCA_RADOS_LOCK_DURATION");
    return e ? atoi(e) : 30;
}

static void test_lock_lapse(void **state)
{
    T *t = *state;
    static const char *const modes[] = { "shared", "exclusive" };
    for (int m = 0; m < 2; m++) {
        FILE *out;
        pid_t pid = spawn_lock_child(t, modes[m], &out);
        assert_int_equal(lock(t->be, true, "the parent"), -EBUSY);
        if (is_rados()) {
            /* renewed: still held after more than one lock duration */
            sleep((unsigned)lock_duration() + 2);
            assert_int_equal(lock(t->be, true, "the parent"), -EBUSY);
        }
        double t0 = now_s();
        assert_int_equal(kill(pid, SIGKILL), 0);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        fclose(out);
        int r;
        while ((r = lock(t->be, true, "the parent")) == -EBUSY && now_s() - t0 < 120)
            usleep(100 * 1000);
        double took = now_s() - t0;
        print_message("  %s lock of a killed holder lapsed after %.1f s\n", modes[m], took);
        assert_int_equal(r, 0);
        if (is_rados())
            assert_true(took <= lock_duration() + 3.0);
        else
            assert_true(took < 1.0);
        assert_int_equal(t->be->ops->unlock(t->be), 0);
    }
}

/* ---- catalogs ------------------------------------------------------------------------------- */

static void test_catalogs(void **state)
{
    T *t = *state;
    if (!is_rados()) {
        /* listings of a directory cannot drift from its files */
        assert_null(t->be->ops->rebuild_catalogs);
        return;
    }
#ifdef BK_TEST_HAVE_RADOS
    assert_non_null(t->be->ops->rebuild_catalogs);
    rados_ioctx_t io = raw_io(t);
    char s[4][BK_ID_HEX], k[BK_ID_HEX], x[BK_ID_HEX], oid[128];
    for (int i = 0; i < 3; i++) {
        rnd_name(s[i]);
        assert_int_equal(bk_be_put(t->be, BK_OBJ_SNAPSHOT, s[i], "snap", 4), 0);
    }
    rnd_name(k);
    rnd_name(x);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_KEY, k, "key!!", 5), 0);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_INDEX, x, "index!", 6), 0);

    /* the catalog is what is listed: an object written without its entry (a crash between
     * the two) is not, an entry whose object is gone still is */
    rnd_name(s[3]);
    snprintf(oid, sizeof(oid), "snapshots/%s", s[3]);
    assert_int_equal(rados_write_full(io, oid, "crashed", 7), 0);
    snprintf(oid, sizeof(oid), "snapshots/%s", s[0]);
    assert_int_equal(rados_remove(io, oid), 0);
    listing l = list_of(t->be, BK_OBJ_SNAPSHOT);
    assert_int_equal(l.n, 3);
    assert_int_equal(listed(&l, s[0]), 4);
    assert_int_equal(listed(&l, s[3]), -1);
    listing_free(&l);

    double t0 = now_s();
    assert_int_equal(t->be->ops->rebuild_catalogs(t->be), 0);
    print_message("  rebuild_catalogs: %.3f s\n", now_s() - t0);
    l = list_of(t->be, BK_OBJ_SNAPSHOT);
    assert_int_equal(l.n, 3);
    assert_int_equal(listed(&l, s[0]), -1);
    assert_int_equal(listed(&l, s[1]), 4);
    assert_int_equal(listed(&l, s[2]), 4);
    assert_int_equal(listed(&l, s[3]), 7);
    listing_free(&l);

    /* catalog objects deleted: rebuilt from the objects */
    assert_int_equal(rados_remove(io, "catalog.snapshots"), 0);
    assert_int_equal(rados_remove(io, "catalog.keys"), 0);
    assert_int_equal(rados_remove(io, "catalog.index"), 0);
    assert_int_equal(t->be->ops->rebuild_catalogs(t->be), 0);
    uint64_t size;
    assert_int_equal(rados_stat(io, "catalog.snapshots", &size, NULL), 0);
    assert_int_equal(rados_stat(io, "catalog.keys", &size, NULL), 0);
    l = list_of(t->be, BK_OBJ_SNAPSHOT);
    assert_int_equal(l.n, 3);
    assert_int_equal(listed(&l, s[3]), 7);
    listing_free(&l);
    l = list_of(t->be, BK_OBJ_KEY);
    assert_int_equal(l.n, 1);
    assert_int_equal(listed(&l, k), 5);
    listing_free(&l);
    l = list_of(t->be, BK_OBJ_INDEX);
    assert_int_equal(l.n, 1);
    assert_int_equal(listed(&l, x), 6);
    listing_free(&l);

    /* a lost catalog never makes objects disappear: the listing falls back to a scan
     * (and recreates the catalog), and a put does not start a catalog of one */
    assert_int_equal(rados_remove(io, "catalog.snapshots"), 0);
    l = list_of(t->be, BK_OBJ_SNAPSHOT);
    assert_int_equal(l.n, 3);
    listing_free(&l);
    assert_int_equal(rados_stat(io, "catalog.snapshots", &size, NULL), 0);
    assert_int_equal(rados_remove(io, "catalog.snapshots"), 0);
    char s5[BK_ID_HEX];
    rnd_name(s5);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_SNAPSHOT, s5, "snap5", 5), 0);
    l = list_of(t->be, BK_OBJ_SNAPSHOT);
    assert_int_equal(l.n, 4);
    assert_int_equal(listed(&l, s5), 5);
    listing_free(&l);

    /* packs are catalogued too (catalog.data, in the main pool even with a data pool), and
     * listed from it without a scan; nothing of another type shows up in a listing */
    char d[BK_ID_HEX];
    rnd_name(d);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_DATA, d, "data", 4), 0);
    assert_int_equal(rados_stat(io, "catalog.data", &size, NULL), 0);
    uint64_t scans = scans_of(t->be);
    l = list_of(t->be, BK_OBJ_DATA);
    assert_int_equal(l.n, 1);
    assert_int_equal(listed(&l, d), 4);
    listing_free(&l);
    assert_int_equal(scans_of(t->be), scans);
    assert_int_equal(t->be->ops->rebuild_catalogs(t->be), 0);
    assert_int_equal(scans_of(t->be), scans + 1);
    for (int ty = BK_OBJ_KEY; ty <= BK_OBJ_SNAPSHOT; ty++) {
        l = list_of(t->be, (bk_obj_type)ty);
        assert_int_equal(listed(&l, d), ty == BK_OBJ_DATA ? 4 : -1);
        listing_free(&l);
    }
    /* a lost pack catalog: the listing falls back to a scan, and rebuilds it */
    assert_int_equal(rados_remove(io, "catalog.data"), 0);
    l = list_of(t->be, BK_OBJ_DATA);
    assert_int_equal(listed(&l, d), 4);
    listing_free(&l);
    assert_int_equal(rados_stat(io, "catalog.data", &size, NULL), 0);
    assert_int_equal(scans_of(t->be), scans + 2);
    rados_ioctx_destroy(io);
#else
    fail_msg("built without librados");
#endif
}


/* The gate: once an exclusive taker waits, a new shared taker is turned away (-EBUSY) until
 * the exclusive one has had its turn or gives up, so that shared holders that come and go
 * cannot starve it (both backends). */
static void test_lock_gate(void **state)
{
    T *t = *state;
    bk_backend *a = t->be, *b = open_be(t), *c = open_be(t);
    assert_int_equal(lock(a, false, "backup A"), 0);
    assert_int_equal(lock(c, true, "prune C"), -EBUSY);     /* waits: holds the gate */
    assert_int_equal(lock(b, false, "backup B"), -EBUSY);   /* queued behind C */
    assert_int_equal(lock(b, false, "backup B"), -EBUSY);
    assert_int_equal(a->ops->unlock(a), 0);
    assert_int_equal(lock(c, true, "prune C"), 0);          /* its turn */
    assert_int_equal(lock(b, false, "backup B"), -EBUSY);
    assert_int_equal(c->ops->unlock(c), 0);
    assert_int_equal(lock(b, false, "backup B"), 0);
    /* an exclusive taker that gives up opens the gate again */
    assert_int_equal(lock(c, true, "prune C"), -EBUSY);
    assert_int_equal(lock(a, false, "backup A"), -EBUSY);
    assert_int_equal(c->ops->unlock(c), 0);
    assert_int_equal(lock(a, false, "backup A"), 0);
    /* two exclusive takers: the second waits too, and gets its turn */
    bk_backend *d = open_be(t);
    assert_int_equal(lock(c, true, "prune C"), -EBUSY);
    assert_int_equal(lock(d, true, "key change D"), -EBUSY);
    assert_int_equal(a->ops->unlock(a), 0);
    assert_int_equal(b->ops->unlock(b), 0);
    int rc = lock(c, true, "prune C"), rd = lock(d, true, "key change D");
    assert_true((rc == 0) != (rd == 0));
    assert_int_equal((rc == 0 ? c : d)->ops->unlock(rc == 0 ? c : d), 0);
    assert_int_equal(lock(rc == 0 ? d : c, true, "the other"), 0);
    bk_backend_close(b);
    bk_backend_close(c);
    bk_backend_close(d);
}

#ifdef BK_TEST_HAVE_RADOS
/* keys of the omap of oid (raw), or -errno */
static long omap_count(rados_ioctx_t io, const char *oid)
{
    long n = 0;
    char after[400] = "";
    for (;;) {
        rados_read_op_t op = rados_create_read_op();
        rados_omap_iter_t it = NULL;
        unsigned char more = 0;
        int prval = 0;
        rados_read_op_omap_get_keys2(op, after, 1000, &it, &more, &prval);
        int r = rados_read_op_operate(op, io, oid, 0);
        if (r == 0)
            r = prval;
        size_t got = 0;
        char *key;
        size_t klen;
        while (r == 0 && rados_omap_get_next2(it, &key, NULL, &klen, NULL) == 0 && key) {
            snprintf(after, sizeof(after), "%.*s", (int)klen, key);
            got++;
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
        if (r < 0)
            return r;
        n += (long)got;
        if (!more || !got)
            return n;
    }
}

static int generation_of(rados_ioctx_t io, const char *oid)
{
    char v[16];
    int k = rados_getxattr(io, oid, "arca.generation", v, sizeof(v) - 1);
    if (k == -ENODATA)
        return 0;
    assert_true(k > 0);
    v[k] = 0;
    return atoi(v);
}

static void raw_put(rados_ioctx_t io, const char *type, const char *name, const char *content)
{
    char oid[128];
    snprintf(oid, sizeof(oid), "%s/%s", type, name);
    assert_int_equal(rados_write_full(io, oid, content, strlen(content)), 0);
}

static void raw_omap_set(rados_ioctx_t io, const char *oid, const char *key, const char *val)
{
    rados_write_op_t op = rados_create_write_op();
    size_t len = strlen(val);
    rados_write_op_omap_set(op, &key, &val, &len, 1);
    assert_int_equal(rados_write_op_operate(op, io, oid, NULL, 0), 0);
    rados_release_write_op(op);
}

/* does name appear in l exactly once? */
static bool listed_once(const listing *l, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += strcmp(l->names[i], name) == 0;
    return n == 1;
}
#endif

/* Catalogs grow in generations of 16 times more shards, so that no shard passes the split
 * (here 32 entries instead of 100,000); every entry is listed once whatever generation holds
 * it; a handle that missed a new generation adds to the one before, still listed; removals
 * find entries in any generation; no listing scans. */
static void test_catalog_generations(void **state)
{
    T *t = *state;
    if (!is_rados()) {
        assert_null(t->be->ops->scans);
        return;
    }
#ifdef BK_TEST_HAVE_RADOS
    setenv("ARCA_RADOS_SHARD_SPLIT", "32", 1);
    bk_backend *be = open_existing(t), *stale = open_existing(t);
    unsetenv("ARCA_RADOS_SHARD_SPLIT");
    rados_ioctx_t io = raw_io(t);
    enum { N = 700 };
    char (*names)[BK_ID_HEX] = calloc(N, BK_ID_HEX);
    assert_non_null(names);
    rnd_name(names[0]);
    assert_int_equal(bk_be_put(stale, BK_OBJ_INDEX, names[0], "x", 1), 0);   /* reads generation 0 */
    for (int i = 1; i < N - 1; i++) {
        rnd_name(names[i]);
        assert_int_equal(bk_be_put(be, BK_OBJ_INDEX, names[i], "index", 5), 0);
    }
    int G = generation_of(io, "catalog.index");
    print_message("  %d entries: generation %d\n", N - 1, G);
    assert_int_equal(G, 2);   /* 32 in generation 0, 16 x 32 in generation 1, the rest in 2 */
    /* the stale handle still believes in generation 0: its entry goes there, and is listed */
    rnd_name(names[N - 1]);
    assert_int_equal(bk_be_put(stale, BK_OBJ_INDEX, names[N - 1], "late", 4), 0);
    long most = omap_count(io, "catalog.index"), total = most;
    for (int g = 1; g <= G; g++)
        for (unsigned k = 0; k < (1u << (4 * g)); k++) {
            char oid[64], hex[8];
            for (int i = 0; i < g; i++)
                hex[i] = "0123456789abcdef"[(k >> (4 * (g - 1 - i))) & 15];
            hex[g] = 0;
            snprintf(oid, sizeof(oid), "catalog.index.%s", hex);
            long n = omap_count(io, oid);
            assert_true(n >= 0);   /* every shard of every generation exists */
            total += n;
            most = n > most ? n : most;
        }
    print_message("  largest shard: %ld entries\n", most);
    assert_int_equal(total, N);
    assert_true(most <= 33);   /* the split, and the stale handle's one */
    uint64_t scans = scans_of(be);
    listing l = list_of(be, BK_OBJ_INDEX);
    assert_int_equal(l.n, N);
    for (int i = 0; i < N; i++)
        assert_true(listed_once(&l, names[i]));
    listing_free(&l);
    /* removals find their entries, whatever generation and handle added them */
    for (int i = 0; i < N; i += 2)
        assert_int_equal(bk_be_remove(stale, BK_OBJ_INDEX, names[i]), 0);
    l = list_of(be, BK_OBJ_INDEX);
    assert_int_equal(l.n, N / 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(listed(&l, names[i]), i % 2 ? (i == N - 1 ? 4 : 5) : -1);
    listing_free(&l);
    assert_int_equal(scans_of(be), scans);
    /* a lost shard of a later generation: the listing answers from a scan and rebuilds */
    assert_int_equal(rados_remove(io, "catalog.index.3a"), 0);
    l = list_of(be, BK_OBJ_INDEX);
    assert_int_equal(l.n, N / 2);
    listing_free(&l);
    assert_int_equal(scans_of(be), scans + 1);
    uint64_t size;
    assert_int_equal(rados_stat(io, "catalog.index.3a", &size, NULL), 0);
    /* rebuilding changes nothing that is right */
    assert_int_equal(be->ops->rebuild_catalogs(be), 0);
    l = list_of(be, BK_OBJ_INDEX);
    assert_int_equal(l.n, N / 2);
    listing_free(&l);
    free(names);
    bk_backend_close(be);
    bk_backend_close(stale);
    rados_ioctx_destroy(io);
#endif
}

/* Intents: nothing is left in catalog.pending by writes and removals that complete; what a
 * writer that died leaves there is resolved by remove_strays (exclusive lock only) without a
 * scan: an object with an intent and no entry goes, one with an entry stays. */
static void test_intents_and_strays(void **state)
{
    T *t = *state;
    if (!is_rados()) {
        assert_null(t->be->ops->remove_strays);
        return;
    }
#ifdef BK_TEST_HAVE_RADOS
    rados_ioctx_t io = raw_io(t), dio = t->conf.data_pool ? raw_io_pool(t, t->conf.data_pool) : io;
    char a[BK_ID_HEX], d[BK_ID_HEX], sn[BK_ID_HEX], ix[BK_ID_HEX], kept[BK_ID_HEX], key[200];
    rnd_name(a);
    rnd_name(d);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_SNAPSHOT, a, "snap", 4), 0);
    async_state as = { 0 };
    assert_int_equal(put_async_or_put(t->be, BK_OBJ_DATA, d, "pack", 4, &as), 0);
    assert_int_equal(t->be->ops->flush(t->be), 0);
    assert_int_equal(as.failed, 0);
    assert_int_equal(bk_be_remove(t->be, BK_OBJ_SNAPSHOT, a), 0);
    assert_int_equal(t->be->ops->flush(t->be), 0);   /* (resolved intents go in batches) */
    assert_int_equal(omap_count(io, "catalog.pending"), 0);

    /* a writer died: between storing and cataloguing (snapshot, index object, pack), and
     * after cataloguing (its intent left, its object catalogued) */
    rnd_name(sn);
    rnd_name(ix);
    rnd_name(d);
    rnd_name(kept);
    raw_put(io, "snapshots", sn, "stray");
    raw_put(io, "index", ix, "stray");
    raw_put(dio, "data", d, "stray");
    assert_int_equal(bk_be_put(t->be, BK_OBJ_INDEX, kept, "kept", 4), 0);
    snprintf(key, sizeof(key), "snapshots/%s 0123456789abcdef.1", sn);
    raw_omap_set(io, "catalog.pending", key, "0");
    snprintf(key, sizeof(key), "index/%s 0123456789abcdef.2", ix);
    raw_omap_set(io, "catalog.pending", key, "0");
    snprintf(key, sizeof(key), "data/%s 0123456789abcdef.3", d);
    raw_omap_set(io, "catalog.pending", key, "0");
    snprintf(key, sizeof(key), "index/%s 0123456789abcdef.4", kept);
    raw_omap_set(io, "catalog.pending", key, "0");
    size_t removed = 99;
    assert_int_equal(t->be->ops->remove_strays(t->be, &removed), -ENOLCK);
    assert_int_equal(lock(t->be, false, "shared"), 0);
    assert_int_equal(t->be->ops->remove_strays(t->be, &removed), -ENOLCK);
    assert_int_equal(t->be->ops->unlock(t->be), 0);
    assert_int_equal(lock(t->be, true, "exclusive"), 0);
    uint64_t scans = scans_of(t->be);
    assert_int_equal(t->be->ops->remove_strays(t->be, &removed), 0);
    assert_int_equal(scans_of(t->be), scans);
    assert_int_equal(removed, 3);
    uint64_t size;
    char oid[128];
    snprintf(oid, sizeof(oid), "snapshots/%s", sn);
    assert_int_equal(rados_stat(io, oid, &size, NULL), -ENOENT);
    snprintf(oid, sizeof(oid), "index/%s", ix);
    assert_int_equal(rados_stat(io, oid, &size, NULL), -ENOENT);
    snprintf(oid, sizeof(oid), "data/%s", d);
    assert_int_equal(rados_stat(dio, oid, &size, NULL), -ENOENT);
    snprintf(oid, sizeof(oid), "index/%s", kept);
    assert_int_equal(rados_stat(io, oid, &size, NULL), 0);
    assert_int_equal(omap_count(io, "catalog.pending"), 0);
    assert_int_equal(t->be->ops->unlock(t->be), 0);
    if (dio != io)
        rados_ioctx_destroy(dio);
    rados_ioctx_destroy(io);
#endif
}

struct orphans {
    char names[8][200];
    int n;
};

static int orphan_cb(const char *name, uint64_t size, void *ctx)
{
    struct orphans *o = ctx;
    if (o->n < 8)
        snprintf(o->names[o->n], sizeof(o->names[0]), "%s", name);
    o->n++;
    return 0;
}

/* scan_orphans: the one operation that scans, and what it finds: objects no catalog lists
 * and no intent names (not those of writes in flight, nor catalogued ones). */
static void test_scan_orphans(void **state)
{
    T *t = *state;
    if (!is_rados()) {
        assert_null(t->be->ops->scan_orphans);
        return;
    }
#ifdef BK_TEST_HAVE_RADOS
    rados_ioctx_t io = raw_io(t), dio = t->conf.data_pool ? raw_io_pool(t, t->conf.data_pool) : io;
    char k[BK_ID_HEX], d[BK_ID_HEX], od[BK_ID_HEX], os[BK_ID_HEX], fl[BK_ID_HEX], key[200];
    rnd_name(k);
    rnd_name(d);
    rnd_name(od);
    rnd_name(os);
    rnd_name(fl);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_KEY, k, "key", 3), 0);
    assert_int_equal(bk_be_put(t->be, BK_OBJ_DATA, d, "pack", 4), 0);
    raw_put(dio, "data", od, "orphan pack");
    raw_put(io, "snapshots", os, "orphan snapshot");
    raw_put(io, "index", fl, "in flight");
    snprintf(key, sizeof(key), "index/%s 0123456789abcdef.1", fl);
    raw_omap_set(io, "catalog.pending", key, "0");
    struct orphans o = { .n = 0 };
    uint64_t scans = scans_of(t->be);
    assert_int_equal(t->be->ops->scan_orphans(t->be, orphan_cb, &o), 0);
    assert_true(scans_of(t->be) > scans);
    assert_int_equal(o.n, 2);
    char want_d[200], want_s[200];
    snprintf(want_d, sizeof(want_d), "data/%s", od);
    snprintf(want_s, sizeof(want_s), "snapshots/%s", os);
    assert_true((strcmp(o.names[0], want_d) == 0 && strcmp(o.names[1], want_s) == 0) ||
                (strcmp(o.names[1], want_d) == 0 && strcmp(o.names[0], want_s) == 0));
    /* rebuild_catalogs puts orphans back: then they are no orphans */
    assert_int_equal(t->be->ops->rebuild_catalogs(t->be), 0);
    o.n = 0;
    assert_int_equal(t->be->ops->scan_orphans(t->be, orphan_cb, &o), 0);
    assert_int_equal(o.n, 0);
    if (dio != io)
        rados_ioctx_destroy(dio);
    rados_ioctx_destroy(io);
#endif
}

/* A repository of catalog layout 1 (what arca wrote before the pack catalog: one catalog
 * object per type but packs, no fence): readable as it is (packs listed by a scan), and
 * moved to layout 2 by the first lock: the pack catalog made from one scan, the fence up so
 * that an older arca can no longer lock it, an index object its catalog missed marked for
 * the next prune; from then on no scan. */
static void test_old_layout(void **state)
{
    T *t = *state;
    if (!is_rados())
        return;
#ifdef BK_TEST_HAVE_RADOS
    bk_backend_close(t->be);
    t->be = NULL;
    raw_wipe_pool(t, getenv("ARCA_TEST_POOL"));
    rados_ioctx_t io = raw_io(t), dio = t->conf.data_pool ? raw_io_pool(t, t->conf.data_pool) : io;
    char k[BK_ID_HEX], s1[BK_ID_HEX], x[BK_ID_HEX], stray[BK_ID_HEX], d[3][BK_ID_HEX];
    rnd_name(k);
    rnd_name(s1);
    rnd_name(x);
    rnd_name(stray);
    assert_int_equal(rados_write_full(io, "config", "cfg", 3), 0);
    if (t->conf.data_pool)
        assert_int_equal(rados_setxattr(io, "config", "arca.data_pool", t->conf.data_pool,
                                        strlen(t->conf.data_pool)), 0);
    raw_put(io, "keys", k, "key!");
    raw_put(io, "snapshots", s1, "snap");
    raw_put(io, "index", x, "index");
    raw_put(io, "index", stray, "stray");   /* an old run died before cataloguing it */
    raw_omap_set(io, "catalog.keys", k, "4");
    raw_omap_set(io, "catalog.snapshots", s1, "4");
    raw_omap_set(io, "catalog.index", x, "5");
    for (int i = 0; i < 3; i++) {
        rnd_name(d[i]);
        raw_put(dio, "data", d[i], "pack!!");
    }
    bk_backend *be = open_existing(t);
    t->be = be;
    /* read as it is: the packs by a scan, the rest from the catalogs */
    listing l = list_of(be, BK_OBJ_DATA);
    assert_int_equal(l.n, 3);
    listing_free(&l);
    assert_int_equal(scans_of(be), 1);
    l = list_of(be, BK_OBJ_INDEX);
    assert_int_equal(l.n, 1);
    assert_int_equal(listed(&l, x), 5);
    listing_free(&l);
    uint64_t size;
    assert_int_equal(rados_stat(io, "catalog.data", &size, NULL), -ENOENT);   /* a reader writes nothing */
    /* an older arca holds its lock: the move waits for it */
    static const char old_cookie[] = "0123456789abcdef shared lock by an old arca";
    assert_int_equal(rados_lock_shared(io, "lock", "arca", old_cookie, "arca", "old", NULL, 0), 0);
    assert_int_equal(lock(be, false, "backup"), -EBUSY);
    bk_buf h = BK_BUF_INIT;
    assert_int_equal(be->ops->lock_holders(be, &h), 0);
    assert_int_equal(bk_buf_append(&h, "", 1), 0);
    print_message("  holders: %s\n", (char *)h.data);
    assert_non_null(strstr((char *)h.data, "shared lock by an old arca"));
    bk_buf_free(&h);
    assert_int_equal(rados_unlock(io, "lock", "arca", old_cookie), 0);
    /* the first lock moves it on */
    assert_int_equal(lock(be, false, "backup"), 0);
    assert_int_equal(scans_of(be), 2);
    assert_int_equal(rados_stat(io, "catalog.data", &size, NULL), 0);
    assert_int_equal(rados_lock_shared(io, "lock", "arca", old_cookie, "arca", "old", NULL, 0), -EBUSY);
    char rnd[BK_ID_HEX];
    rnd_name(rnd);
    assert_int_equal(bk_be_put(be, BK_OBJ_DATA, rnd, "new", 3), 0);
    assert_int_equal(be->ops->unlock(be), 0);
    l = list_of(be, BK_OBJ_DATA);
    assert_int_equal(l.n, 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(listed(&l, d[i]), 6);
    assert_int_equal(listed(&l, rnd), 3);
    listing_free(&l);
    /* the stray of the old run goes with the next exclusive commit (prune) */
    assert_int_equal(lock(be, true, "prune"), 0);
    size_t removed = 0;
    assert_int_equal(be->ops->remove_strays(be, &removed), 0);
    assert_int_equal(removed, 1);
    char oid[128];
    snprintf(oid, sizeof(oid), "index/%s", stray);
    assert_int_equal(rados_stat(io, oid, &size, NULL), -ENOENT);
    snprintf(oid, sizeof(oid), "index/%s", x);
    assert_int_equal(rados_stat(io, oid, &size, NULL), 0);
    assert_int_equal(be->ops->unlock(be), 0);
    assert_int_equal(scans_of(be), 2);
    /* another handle (another run) scans nothing */
    bk_backend *again = open_existing(t);
    assert_int_equal(lock(again, false, "backup"), 0);
    l = list_of(again, BK_OBJ_DATA);
    assert_int_equal(l.n, 4);
    listing_free(&l);
    assert_int_equal(again->ops->unlock(again), 0);
    assert_int_equal(scans_of(again), 0);
    bk_backend_close(again);
    if (dio != io)
        rados_ioctx_destroy(dio);
    rados_ioctx_destroy(io);
#endif
}

/* The child side of test_break_locks: take the shared lock, say so; on a line on stdin try
 * to store a pack and an index object, and say how that went. */
static int lock_child_put(const char *location)
{
    bk_backend_conf conf = { .ceph_timeout = 30 };
    bk_error err = { 0 };
    bk_backend *be;
    int r = bk_backend_open(location, &conf, false, &err, &be);
    if (r == 0)
        r = be->ops->lock(be, false, "the child, about to be blocklisted");
    printf("%s %d %s\n", r == 0 ? "locked" : "error", r, err.msg);
    fflush(stdout);
    if (r < 0)
        return 1;
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    char name[BK_ID_HEX];
    rnd_name(name);
    int rd = bk_be_put(be, BK_OBJ_DATA, name, "zombie", 6);
    rnd_name(name);
    int ri = bk_be_put(be, BK_OBJ_INDEX, name, "zombie", 6);
    printf("put %d %d\n", rd, ri);
    fflush(stdout);
    bk_backend_close(be);
    return 0;
}

/* break_locks (arca unlock --force): a live holder's lock goes, and the holder is
 * blocklisted first, so that it cannot write any more. */
static void test_break_locks(void **state)
{
    T *t = *state;
    if (!is_rados()) {
        assert_null(t->be->ops->break_locks);
        return;
    }
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(self_exe, self_exe, "--lock-child-put", t->location, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[1200] = "";
    if (!fgets(line, sizeof(line), f) || strncmp(line, "locked", 6) != 0)
        fail_msg("lock child: %s", line);
    assert_int_equal(lock(t->be, true, "the parent"), -EBUSY);
    assert_int_equal(t->be->ops->unlock(t->be), 0);
    size_t broken = 0;
    assert_int_equal(t->be->ops->break_locks(t->be, &broken), 0);
    assert_int_equal(broken, 1);
    assert_int_equal(lock(t->be, true, "the parent"), 0);
    /* the child, alive all along, can no longer write */
    assert_int_equal(write(in[1], "go\n", 3), 3);
    if (!fgets(line, sizeof(line), f))
        fail_msg("the blocklisted child said nothing");
    print_message("  the blocklisted holder: %s", line);
    int rd = 0, ri = 0;
    assert_int_equal(sscanf(line, "put %d %d", &rd, &ri), 2);
    assert_true(rd < 0);
    assert_true(ri < 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    fclose(f);
    close(in[1]);
    listing l = list_of(t->be, BK_OBJ_DATA);
    assert_int_equal(l.n, 0);
    listing_free(&l);
    assert_int_equal(t->be->ops->unlock(t->be), 0);
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--lock-child") == 0)
        return lock_child(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--lock-child-put") == 0) {
        if (sodium_init() < 0)
            return 1;
        return lock_child_put(argv[2]);
    }
    if (argc != 2 || (strcmp(argv[1], "local") != 0 && strcmp(argv[1], "rados") != 0)) {
        fprintf(stderr, "usage: %s local|rados\n", argv[0]);
        return 2;
    }
    kind = argv[1];
    if (sodium_init() < 0)
        return 1;
    ssize_t k = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (k <= 0)
        return 1;
    self_exe[k] = 0;
    if (is_rados()) {
        const char *conf = getenv("CEPH_CONF"), *pool = getenv("ARCA_TEST_POOL");
        if (!conf || !*conf || !pool || !*pool) {
            fprintf(stderr, "test-backend rados: CEPH_CONF and ARCA_TEST_POOL must name a running "
                    "cluster and a pool (scripts/ceph-cluster.sh start DIR prints them)\n");
            return 1;
        }
        setenv("ARCA_RADOS_LOCK_DURATION", "5", 0);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(base_dir, sizeof(base_dir), "%s/arca-backend-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(base_dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_stat_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_async_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_lapse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalogs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intents_and_strays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_break_locks, setup, teardown),
    };
    char group[64];
    snprintf(group, sizeof(group), "backend-%s", kind);
    int failed = cmocka_run_group_tests_name(group, tests, NULL, NULL);
#ifdef BK_TEST_HAVE_RADOS
    if (raw_cluster)
        rados_shutdown(raw_cluster);
#endif
    if (!is_rados() && failed == 0) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base_dir);
    }
    return failed ? 1 : 0;
}
