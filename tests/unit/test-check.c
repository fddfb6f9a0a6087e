/* test-check.c - check --read-data reads packs in pieces and still reads every byte once,
 * hashes all of them and decodes every blob.
 *
 * A local repository with 4 MiB packs gets NBLOBS incompressible blobs of 64 to 512 KiB,
 * so each pack is read in several pieces, and its last blobs lie in the tail that was read
 * for the header.  One byte flipped anywhere in a blob makes that blob and the pack's name
 * wrong (two problems); one flipped in the header makes the header not decode (one). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"

#define PASS "check"
#define NBLOBS 48

typedef struct env {
    th_repo_dir d;
    bk_id ids[NBLOBS];
    bk_index_entry ent[NBLOBS];
    char pack[NBLOBS][BK_ID_HEX]; /* of each blob (check replaces the handle's index) */
    unsigned logged;              /* BK_LOG_ERROR lines */
} env;

static void on_log(bk_log_level level, const char *msg, void *ud)
{
    env *e = ud;
    (void)msg;
    e->logged += level == BK_LOG_ERROR;
}

/* Blob i: 64 to 512 KiB, the lengths drawn in turn from the stream *ud. */
static size_t gen(size_t i, uint8_t *buf, void *ud)
{
    size_t len = (64 << 10) + (size_t)(th_rand(ud) % (448 << 10));
    th_fill(buf, len, 1000 + i);
    return len;
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    th_repo_dir_new(&e->d, PASS, 4 << 20);
    bk_repo_set_log(e->d.repo, on_log, e);
    uint64_t st = 7;
    th_write_blobs(e->d.repo, NBLOBS, 512 << 10, gen, &st, e->ids, e->ent);
    for (size_t i = 0; i < NBLOBS; i++)
        th_pack_hex(e->d.repo, e->ent[i].pack, e->pack[i]);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    th_repo_dir_free(&e->d);
    free(e);
    return 0;
}

/* The pack of blob i. */
static void pack_path(env *e, size_t i, char *out, size_t n)
{
    th_pack_path(e->d.loc, e->pack[i], out, n);
}

static void flip(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x20;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void check(env *e, bk_check_result *res)
{
    e->logged = 0;
    assert_int_equal(bk_check(e->d.repo, BK_CHECK_READ_DATA, NULL, res), 0);
    assert_int_equal(res->errors, e->logged);
}

static void clean(void **state)
{
    env *e = *state;
    bk_check_result res;
    check(e, &res);
    assert_int_equal(res.errors, 0);
    assert_true(res.packs >= 3);
    assert_int_equal(res.packs_read, res.packs);
    /* every byte of every pack once: the header's tail is not read again */
    uint64_t total = 0;
    size_t npacks = 0;
    for (size_t i = 0; i < NBLOBS; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(e->pack[j], e->pack[i]) == 0;
        if (seen)
            continue;
        char path[8192];
        struct stat st;
        pack_path(e, i, path, sizeof(path));
        assert_int_equal(stat(path, &st), 0);
        total += (uint64_t)st.st_size;
        npacks++;
    }
    assert_int_equal(npacks, res.packs);
    assert_int_equal(res.bytes_read, total);
}

/* A blob damaged: in the first piece, in a later one, and in the tail read for the header
 * (the pack's last blob); each time the blob is named and the pack's name does not match. */
static void damaged_blob(void **state)
{
    env *e = *state;
    size_t first = SIZE_MAX, mid = SIZE_MAX, last = SIZE_MAX;
    for (size_t i = 0; i < NBLOBS; i++) {
        if (strcmp(e->pack[i], e->pack[0]) != 0)
            continue;
        if (first == SIZE_MAX || e->ent[i].offset < e->ent[first].offset)
            first = i;
        if (last == SIZE_MAX || e->ent[i].offset > e->ent[last].offset)
            last = i;
        if (e->ent[i].offset >= (2u << 20) && (mid == SIZE_MAX || e->ent[i].offset < e->ent[mid].offset))
            mid = i;
    }
    assert_true(mid != SIZE_MAX && mid != last);
    char path[8192];
    pack_path(e, 0, path, sizeof(path));
    size_t victims[] = { first, mid, last };
    for (size_t k = 0; k < BK_ELEMENTSOF(victims); k++) {
        const bk_index_entry *v = &e->ent[victims[k]];
        uint64_t off = (uint64_t)v->offset + v->stored_len - 1;
        flip(path, off);
        bk_check_result res;
        check(e, &res);
        assert_int_equal(res.errors, 2);
        flip(path, off);
        check(e, &res);
        assert_int_equal(res.errors, 0);
    }
}

static void damaged_header(void **state)
{
    env *e = *state;
    char path[8192];
    pack_path(e, 0, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    flip(path, (uint64_t)st.st_size - 20);
    bk_check_result res;
    check(e, &res);
    assert_int_equal(res.errors, 1);
    flip(path, (uint64_t)st.st_size - 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean),
        cmocka_unit_test(damaged_blob),
        cmocka_unit_test(damaged_header),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
