/* test-copy.c - bk_copy between local repositories, with the same keys (blobs as stored,
 * the same tree ids) and with other keys (new ids, trees rewritten), on a source whose
 * small chunks give a file more pieces than a tree keeps (list blobs), a hole, and two
 * snapshots of which the second shares most of the first: the copies hold the same bytes
 * (bk_dump), check finds nothing, a second copy copies nothing, and a dry run stores
 * nothing.  bk_repo_init_from takes the source's keys and chunker. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"

#define PASS "copy"
#define BIG (3u << 20)     /* with 256-byte chunks: about 10k pieces, two list blobs */

typedef struct env {
    char *base;
    char data[4096], src_loc[4096];
    bk_repo *src;
    uint8_t *big;
} env;

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void backup(env *e)
{
    bk_backup *b;
    assert_int_equal(bk_backup_new(&b), 0);
    assert_int_equal(bk_backup_set_str(b, BK_BACKUP_PATH, e->data), 0);
    assert_int_equal(bk_backup_set_str(b, BK_BACKUP_HOST, "web01"), 0);
    assert_int_equal(bk_backup_run(b, e->src, NULL), 0);
    bk_backup_free(b);
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->base = th_tmpdir();
    snprintf(e->data, sizeof(e->data), "%s/data", e->base);
    snprintf(e->src_loc, sizeof(e->src_loc), "%s/src", e->base);
    assert_int_equal(mkdir(e->data, 0755), 0);
    e->src = bk_repo_new();
    assert_non_null(e->src);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_NO_CACHE, 1), 0);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_KDF_OPS, 1), 0);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_KDF_MEMORY, 8 << 20), 0);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_CHUNK_MIN, 128), 0);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_CHUNK_AVG, 256), 0);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_CHUNK_MAX, 1024), 0);
    assert_int_equal(bk_repo_set_int(e->src, BK_REPO_PACK_SIZE, 1 << 20), 0);
    assert_int_equal(bk_repo_init(e->src, e->src_loc, PASS, strlen(PASS)), 0);

    e->big = malloc(BIG);
    assert_non_null(e->big);
    th_fill(e->big, BIG, 42);
    char path[8192];
    snprintf(path, sizeof(path), "%s/big", e->data);
    write_file(path, e->big, BIG);
    snprintf(path, sizeof(path), "%s/sparse", e->data);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "end", 3, 4 << 20), 3);
    close(fd);
    snprintf(path, sizeof(path), "%s/sub", e->data);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/sub/small", e->data);
    write_file(path, "small\n", 6);
    backup(e);
    write_file(path, "changed\n", 8);
    backup(e);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    bk_repo_free(e->src);
    th_rmrf(e->base);
    free(e->base);
    free(e->big);
    free(e);
    return 0;
}

static bk_repo *new_dst(env *e, const char *name, bool same_keys)
{
    char loc[8192];
    snprintf(loc, sizeof(loc), "%s/%s", e->base, name);
    if (!same_keys)
        return th_new_repo(loc, PASS, 0);
    bk_repo *r = bk_repo_new();
    assert_non_null(r);
    assert_int_equal(bk_repo_set_int(r, BK_REPO_NO_CACHE, 1), 0);
    assert_int_equal(bk_repo_set_int(r, BK_REPO_KDF_OPS, 1), 0);
    assert_int_equal(bk_repo_set_int(r, BK_REPO_KDF_MEMORY, 8 << 20), 0);
    assert_int_equal(bk_repo_init_from(r, loc, "other", 5, e->src), 0);
    assert_true(bk_repo_keys_match(r, e->src));
    assert_int_equal(r->config.chunk_avg, 256);
    assert_string_not_equal(bk_repo_id(r), bk_repo_id(e->src));
    return r;
}

static void all_snapshots(bk_repo *r, bk_snapshot ***v, size_t *n)
{
    assert_int_equal(bk_snapshots_list(r, NULL, v, n), 0);
}

/* The content of path in the newest snapshot of r. */
static void dump_latest(bk_repo *r, const char *path, uint8_t **ret, size_t *ret_len)
{
    bk_snapshot *s;
    assert_int_equal(bk_snapshot_find(r, "latest", NULL, &s), 0);
    int fd = memfd_create("dump", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(bk_dump(r, s, path, fd), 0);
    bk_snapshot_free(s);
    off_t n = lseek(fd, 0, SEEK_END);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(pread(fd, p, (size_t)n, 0), n);
    close(fd);
    *ret = p;
    *ret_len = (size_t)n;
}

static void copy_and_compare(env *e, bool same_keys)
{
    bk_repo *d = new_dst(e, same_keys ? "same" : "other", same_keys);
    bk_snapshot **v;
    size_t n;
    all_snapshots(e->src, &v, &n);
    assert_int_equal(n, 2);
    bk_copy_stats st;
    assert_int_equal(bk_copy(d, e->src, v, n, NULL, &st), 0);
    assert_int_equal(st.keys_match, same_keys);
    assert_int_equal(st.snapshots_copied, 2);
    assert_int_equal(st.snapshots_present, 0);
    assert_true(st.blobs_copied > 8192);   /* big's pieces do not fit in its tree */
    assert_true(st.bytes_read > BIG);
    /* the second snapshot's unchanged subtrees and files came from the first one's copy */
    bk_snapshot **w;
    size_t nw;
    all_snapshots(d, &w, &nw);
    assert_int_equal(nw, 2);
    for (size_t i = 0; i < nw; i++) {
        assert_true(w[i]->has_original);
        assert_memory_equal(&w[i]->original, &v[i]->id, sizeof(bk_id));
        assert_string_equal(w[i]->host, "web01");
        assert_int_equal(w[i]->time, v[i]->time);
        assert_int_equal(w[i]->chunk_avg, 256);
        assert_int_equal(bk_id_cmp(&w[i]->tree, &v[i]->tree) == 0, same_keys);
    }
    if (v[1]->has_parent) {
        assert_true(w[1]->has_parent);
        assert_memory_equal(&w[1]->parent, &w[0]->id, sizeof(bk_id));
    }
    bk_check_result res;
    assert_int_equal(bk_check(d, BK_CHECK_READ_DATA, NULL, &res), 0);
    assert_int_equal(res.errors, 0);
    assert_int_equal(res.snapshots, 2);

    char path[8192];
    uint8_t *got;
    size_t len;
    snprintf(path, sizeof(path), "%s/big", e->data);
    dump_latest(d, path, &got, &len);
    assert_int_equal(len, BIG);
    assert_memory_equal(got, e->big, BIG);
    free(got);
    snprintf(path, sizeof(path), "%s/sparse", e->data);
    dump_latest(d, path, &got, &len);
    assert_int_equal(len, (4 << 20) + 3);
    assert_memory_equal(got + (4 << 20), "end", 3);
    for (size_t i = 0; i < (4u << 20); i++)
        if (got[i])
            fail_msg("byte %zu of the hole is not zero", i);
    free(got);
    snprintf(path, sizeof(path), "%s/sub/small", e->data);
    dump_latest(d, path, &got, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(got, "changed\n", 8);
    free(got);

    /* once is enough */
    assert_int_equal(bk_copy(d, e->src, v, n, NULL, &st), 0);
    assert_int_equal(st.snapshots_copied, 0);
    assert_int_equal(st.snapshots_present, 2);
    assert_int_equal(st.blobs_copied, 0);
    assert_int_equal(st.bytes_read, 0);
    bk_snapshots_free(w, nw);
    bk_snapshots_free(v, n);
    bk_repo_free(d);
}

static void same_keys(void **state)
{
    copy_and_compare(*state, true);
}

static void other_keys(void **state)
{
    copy_and_compare(*state, false);
}

static void count_would(const bk_snapshot *s, const bk_id *dst, int status, void *ud)
{
    (void)s;
    assert_null(dst);
    assert_int_equal(status, BK_COPY_WOULD_COPY);
    (*(int *)ud)++;
}

static void dry_run(void **state)
{
    env *e = *state;
    bk_repo *d = new_dst(e, "dry", true);
    bk_snapshot **v;
    size_t n;
    all_snapshots(e->src, &v, &n);
    int would = 0;
    bk_copy_opts o = { .dry_run = true, .on_snapshot = count_would, .ud = &would };
    bk_copy_stats st;
    assert_int_equal(bk_copy(d, e->src, v, n, &o, &st), 0);
    assert_int_equal(would, 2);
    assert_int_equal(st.snapshots_copied, 0);
    assert_true(st.blobs_copied > 8192);
    assert_true(st.blobs_copied < 12000);  /* each blob once, though both snapshots have it */
    assert_true(st.bytes_copied > BIG / 2);
    bk_snapshot **w;
    size_t nw;
    all_snapshots(d, &w, &nw);
    assert_int_equal(nw, 0);
    bk_stats s;
    assert_int_equal(bk_stats_get(d, &s), 0);
    assert_int_equal(s.packs, 0);
    bk_snapshots_free(w, nw);
    bk_snapshots_free(v, n);
    bk_repo_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_keys),
        cmocka_unit_test(other_keys),
        cmocka_unit_test(dry_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
