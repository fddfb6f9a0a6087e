/* test-fetcher.c - the fetcher hands every planned use its blob, in order, whatever the
 * window, and holds no more decoded bytes than its window and segments allow.
 *
 * A local repository with 1 MiB packs gets NBLOBS blobs of 4 to 64 KiB (a third of them
 * compressible), so a dozen packs of dozens of blobs each.  The fetcher runs with a small
 * window and small segments, so that every pack is read in many pieces and the window
 * holds workers back all the time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fetcher.h"
#include "helpers.h"

#define PASS "fetcher"
#define NBLOBS 400
#define MAXBLOB (64u << 10)

typedef struct env {
    th_repo_dir d;
    bk_id ids[NBLOBS];
    uint32_t pack[NBLOBS], offset[NBLOBS];
    size_t npacks;
} env;

/* Blob i's plaintext (fixed by i; ud is not used). */
static size_t gen(size_t i, uint8_t *out, void *ud)
{
    (void)ud;
    uint64_t st = 0x5eed + i;
    size_t len = 4096 + (size_t)(th_rand(&st) % (MAXBLOB - 4096 + 1));
    if (i % 3 == 0) {
        uint8_t pat[97];
        th_fill(pat, sizeof(pat), i);
        for (size_t k = 0; k < len; k++)
            out[k] = pat[k % sizeof(pat)];
    } else {
        th_fill(out, len, i);
    }
    return len;
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    th_repo_dir_new(&e->d, PASS, 1 << 20);
    bk_index_entry ent[NBLOBS];
    th_write_blobs(e->d.repo, NBLOBS, MAXBLOB, gen, NULL, e->ids, ent);
    uint32_t maxpack = 0;
    for (size_t i = 0; i < NBLOBS; i++) {
        e->pack[i] = ent[i].pack;
        e->offset[i] = ent[i].offset;
        maxpack = BK_MAX(maxpack, ent[i].pack);
    }
    e->npacks = maxpack + 1;
    assert_true(e->npacks >= 8);
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

/* Uses in pack order: each pack's blobs in offset order, packs one after the other. */
static const env *sort_env;
static int by_place(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const env *e = sort_env;
    if (e->pack[x] != e->pack[y])
        return e->pack[x] < e->pack[y] ? -1 : 1;
    return e->offset[x] < e->offset[y] ? -1 : e->offset[x] > e->offset[y];
}

static void pack_order(env *e, size_t *uses)
{
    for (size_t i = 0; i < NBLOBS; i++)
        uses[i] = i;
    sort_env = e;
    qsort(uses, NBLOBS, sizeof(*uses), by_place);
}

/* Plan the uses (blob numbers), get each in turn and compare it with its plaintext.
 * Blobs of the pack numbered lost_pack (if not UINT32_MAX) must fail, the others arrive. */
static void run(env *e, const size_t *uses, size_t n, uint64_t window, uint64_t seg,
                uint32_t lost_pack, bk_fetch_stats *ret)
{
    bk_fetcher *f;
    assert_int_equal(bk_fetcher_new(e->d.repo, &f), 0);
    bk_fetcher_set_limits(f, window, seg, seg);
    for (size_t u = 0; u < n; u++)
        assert_int_equal(bk_fetcher_plan_blob(f, &e->ids[uses[u]]), 0);
    assert_int_equal(bk_fetcher_start(f), 0);
    uint8_t *want = malloc(MAXBLOB);
    assert_non_null(want);
    for (size_t u = 0; u < n; u++) {
        size_t i = uses[u];
        const uint8_t *data;
        size_t len;
        int r = bk_fetcher_get(f, &e->ids[i], &data, &len);
        if (e->pack[i] == lost_pack) {
            assert_true(r < 0);
            bk_repo_clear_error(e->d.repo);
        } else {
            assert_int_equal(r, 0);
            size_t wlen = gen(i, want, NULL);
            assert_int_equal(len, wlen);
            assert_memory_equal(data, want, wlen);
        }
        bk_fetcher_release(f, &e->ids[i]);
    }
    free(want);
    bk_fetcher_stats_get(f, ret);
    bk_fetcher_free(f);
}

/* The bound of fetcher.c's header for uses in pack order, each blob once: the window (or
 * one segment) beyond the frontier, and the segment being consumed. */
static void assert_bound(const bk_fetch_stats *st, uint64_t window, uint64_t seg)
{
    uint64_t maxseg = BK_MAX(seg, (uint64_t)MAXBLOB);
    assert_true(st->held_max > 0);
    assert_true(st->held_max <= BK_MAX(window, maxseg) + maxseg);
    assert_int_equal(st->held, 0);
}

static void pack_order_small_window(void **state)
{
    env *e = *state;
    size_t uses[NBLOBS];
    pack_order(e, uses);
    for (int threads = 1; threads <= 4; threads++) {
        assert_int_equal(bk_repo_set_int(e->d.repo, BK_REPO_THREADS, threads), 0);
        bk_fetch_stats st;
        run(e, uses, NBLOBS, 256 << 10, 64 << 10, UINT32_MAX, &st);
        assert_bound(&st, 256 << 10, 64 << 10);
        assert_int_equal(st.packs, e->npacks);
        assert_true(st.requests > 4 * st.packs);   /* packs are read in pieces */
    }
}

/* Window 0: only the segment after the frontier may run ahead; nothing waits forever. */
static void pack_order_no_window(void **state)
{
    env *e = *state;
    size_t uses[NBLOBS];
    pack_order(e, uses);
    assert_int_equal(bk_repo_set_int(e->d.repo, BK_REPO_THREADS, 4), 0);
    bk_fetch_stats st;
    run(e, uses, NBLOBS, 0, 64 << 10, UINT32_MAX, &st);
    assert_bound(&st, 0, 64 << 10);
}

/* Whole packs (segments as large as a pack), a window of two: the old behaviour. */
static void pack_order_whole_packs(void **state)
{
    env *e = *state;
    size_t uses[NBLOBS];
    pack_order(e, uses);
    bk_fetch_stats st;
    run(e, uses, NBLOBS, 4 << 20, 4 << 20, UINT32_MAX, &st);
    assert_bound(&st, 4 << 20, 4 << 20);
    assert_int_equal(st.requests, st.packs);   /* the writer leaves no gaps */
}

/* Random order, most blobs used more than once (blobs kept for later uses). */
static void shuffled_with_repeats(void **state)
{
    env *e = *state;
    size_t n = 0, uses[3 * NBLOBS];
    uint64_t s = 42;
    for (size_t i = 0; i < NBLOBS; i++)
        for (size_t k = 0, m = 1 + th_rand(&s) % 3; k < m; k++)
            uses[n++] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = th_rand(&s) % (i + 1), t = uses[i];
        uses[i] = uses[j];
        uses[j] = t;
    }
    for (int threads = 1; threads <= 4; threads += 3) {
        assert_int_equal(bk_repo_set_int(e->d.repo, BK_REPO_THREADS, threads), 0);
        bk_fetch_stats st;
        run(e, uses, n, 128 << 10, 32 << 10, UINT32_MAX, &st);
        assert_int_equal(st.held, 0);
        assert_int_equal(st.packs, e->npacks);
    }
}

/* A pack that is gone: its blobs fail, every other one arrives, nothing stays held. */
static void lost_pack(void **state)
{
    env *e = *state;
    size_t uses[NBLOBS];
    pack_order(e, uses);
    uint32_t lost = (uint32_t)(e->npacks / 2);
    char hex[BK_ID_HEX], path[8192], moved[8200];
    th_pack_hex(e->d.repo, lost, hex);
    th_pack_path(e->d.loc, hex, path, sizeof(path));
    snprintf(moved, sizeof(moved), "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(bk_repo_set_int(e->d.repo, BK_REPO_THREADS, 2), 0);
    bk_fetch_stats st;
    run(e, uses, NBLOBS, 256 << 10, 64 << 10, lost, &st);
    assert_int_equal(st.held, 0);
    assert_int_equal(rename(moved, path), 0);
}

/* The consumer stops early: the rest is skipped, and freeing the fetcher (workers busy)
 * leaks nothing (ASan). */
static void skip_the_rest(void **state)
{
    env *e = *state;
    size_t uses[NBLOBS];
    pack_order(e, uses);
    bk_content *c = calloc(NBLOBS, sizeof(*c));
    assert_non_null(c);
    for (size_t u = 0; u < NBLOBS; u++)
        c[u].id = e->ids[uses[u]];
    assert_int_equal(bk_repo_set_int(e->d.repo, BK_REPO_THREADS, 4), 0);
    bk_fetcher *f;
    assert_int_equal(bk_fetcher_new(e->d.repo, &f), 0);
    bk_fetcher_set_limits(f, 256 << 10, 64 << 10, 64 << 10);
    assert_int_equal(bk_fetcher_plan(f, c, NBLOBS, NULL), 0);
    assert_int_equal(bk_fetcher_start(f), 0);
    for (size_t u = 0; u < NBLOBS / 3; u++) {
        const uint8_t *data;
        size_t len;
        assert_int_equal(bk_fetcher_get(f, &c[u].id, &data, &len), 0);
        bk_fetcher_release(f, &c[u].id);
    }
    bk_fetcher_skip(f, c, NBLOBS, NBLOBS / 3, NULL);
    bk_fetcher_free(f);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pack_order_small_window),
        cmocka_unit_test(pack_order_no_window),
        cmocka_unit_test(pack_order_whole_packs),
        cmocka_unit_test(shuffled_with_repeats),
        cmocka_unit_test(lost_pack),
        cmocka_unit_test(skip_the_rest),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
