/* test-chunker.c - FastCDC: parameter validation, cut points pinned by golden lists in
 * tests/data, every cut within [min, max], shift resistance, degenerate input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "chunker.h"
#include "helpers.h"

static void test_params(void **state)
{
    assert_int_equal(bk_chunker_check_params(BK_CHUNK_MIN_DEFAULT, BK_CHUNK_AVG_DEFAULT,
                                             BK_CHUNK_MAX_DEFAULT), 0);
    assert_int_equal(bk_chunker_check_params(64, 256, 257), 0);
    assert_int_equal(bk_chunker_check_params(1 << 20, 1 << 22, BK_CHUNK_SIZE_LIMIT), 0);
    assert_int_equal(bk_chunker_check_params(63, 256, 1024), -EINVAL);        /* min < 64 */
    assert_int_equal(bk_chunker_check_params(64, 128, 1024), -EINVAL);        /* avg < 256 */
    assert_int_equal(bk_chunker_check_params(100, 1000, 4000), -EINVAL);      /* not 2^n */
    assert_int_equal(bk_chunker_check_params(1024, 1024, 4096), -EINVAL);     /* min = avg */
    assert_int_equal(bk_chunker_check_params(2048, 1024, 4096), -EINVAL);     /* min > avg */
    assert_int_equal(bk_chunker_check_params(256, 1024, 1024), -EINVAL);      /* max = avg */
    assert_int_equal(bk_chunker_check_params(256, 1024, BK_CHUNK_SIZE_LIMIT + 1), -EINVAL);
    assert_int_equal(bk_chunker_check_params(0, 0, 0), -EINVAL);
    assert_int_equal(bk_chunker_check_params(SIZE_MAX, SIZE_MAX, SIZE_MAX), -EINVAL);
    uint8_t seed[32] = { 0 };
    bk_chunker c;
    assert_int_equal(bk_chunker_init(&c, seed, 100, 1000, 4000), -EINVAL);
    assert_int_equal(bk_chunker_init(&c, seed, 64, 256, 257), 0);
}

/* Chunk data from the start; checks the bounds of every cut.  Returns the lengths. */
static size_t *chunk_all(const bk_chunker *c, const uint8_t *p, size_t n, size_t *ret_n)
{
    size_t *v = NULL, k = 0;
    for (size_t off = 0; off < n;) {
        size_t cut = bk_chunker_cut(c, p + off, n - off);
        assert_true(cut >= 1 && cut <= n - off);
        assert_true(cut <= c->max);
        if (off + cut < n)
            assert_true(cut >= c->min);   /* only the last chunk may be short */
        else
            assert_true(cut >= c->min || cut == n - off);
        v = realloc(v, (k + 1) * sizeof(*v));
        assert_non_null(v);
        v[k++] = cut;
        off += cut;
    }
    *ret_n = k;
    return v;
}

static void check_golden(const char *file, size_t size, uint64_t seed, size_t min, size_t avg,
                         size_t max)
{
    uint8_t key[32];
    bk_chunker c;
    th_chunker_seed(key);
    assert_int_equal(bk_chunker_init(&c, key, min, avg, max), 0);
    uint8_t *data = malloc(size);
    assert_non_null(data);
    th_fill(data, size, seed);
    size_t n;
    size_t *cuts = chunk_all(&c, data, size, &n);
    uint64_t *want;
    size_t nwant;
    assert_int_equal(th_read_numbers(file, &want, &nwant), 0);
    assert_int_equal(n, nwant);
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cuts[i], want[i]);
        sum += cuts[i];
    }
    assert_int_equal(sum, size);
    /* average near avg: the normalized chunking keeps it within a factor of 2 */
    if (n > 16) {
        assert_true(size / n > avg / 2);
        assert_true(size / n < avg * 2);
    }
    free(want);
    free(cuts);
    free(data);
}

static void test_golden_small(void **state)
{
    check_golden("chunker-small.txt", 4 << 20, 42, 16 << 10, 64 << 10, 256 << 10);
}

static void test_golden_default(void **state)
{
    check_golden("chunker-default.txt", 24 << 20, 43, BK_CHUNK_MIN_DEFAULT, BK_CHUNK_AVG_DEFAULT,
                 BK_CHUNK_MAX_DEFAULT);
}

static void test_seed_matters(void **state)
{
    /* another seed gives other cut points: sizes do not reveal content across repos */
    uint8_t k1[32], k2[32];
    th_chunker_seed(k1);
    memcpy(k2, k1, 32);
    k2[0] ^= 1;
    bk_chunker a, b;
    assert_int_equal(bk_chunker_init(&a, k1, 1024, 4096, 16384), 0);
    assert_int_equal(bk_chunker_init(&b, k2, 1024, 4096, 16384), 0);
    size_t size = 1 << 20;
    uint8_t *data = malloc(size);
    assert_non_null(data);
    th_fill(data, size, 7);
    size_t na, nb;
    size_t *ca = chunk_all(&a, data, size, &na), *cb = chunk_all(&b, data, size, &nb);
    bool differ = na != nb;
    for (size_t i = 0; !differ && i < na; i++)
        differ = ca[i] != cb[i];
    assert_true(differ);
    free(ca);
    free(cb);
    free(data);
}

static int cmp_id(const void *a, const void *b)
{
    return bk_id_cmp(a, b);
}

/* Hash every chunk; sorted for lookups. */
static bk_id *chunk_ids(const bk_chunker *c, const uint8_t *p, size_t n, size_t *ret_n)
{
    size_t k;
    size_t *cuts = chunk_all(c, p, n, &k);
    bk_id *ids = malloc(k * sizeof(*ids));
    assert_non_null(ids);
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        bk_hash(p + off, cuts[i], &ids[i]);
        off += cuts[i];
    }
    free(cuts);
    qsort(ids, k, sizeof(*ids), cmp_id);
    *ret_n = k;
    return ids;
}

static void shift_case(size_t at, const uint8_t *ins, size_t nins, size_t del)
{
    const size_t size = 32 << 20;
    uint8_t key[32];
    th_chunker_seed(key);
    bk_chunker c;
    assert_int_equal(bk_chunker_init(&c, key, 16 << 10, 64 << 10, 256 << 10), 0);
    uint8_t *a = malloc(size), *b = malloc(size + nins + 1);
    assert_non_null(a);
    assert_non_null(b);
    th_fill(a, size, 1234);
    memcpy(b, a, at);
    if (nins)
        memcpy(b + at, ins, nins);
    memcpy(b + at + nins, a + at + del, size - at - del);
    size_t bsize = size + nins - del;
    size_t na, nb;
    bk_id *ia = chunk_ids(&c, a, size, &na), *ib = chunk_ids(&c, b, bsize, &nb);
    assert_true(na > 400);
    size_t fresh = 0;
    for (size_t i = 0; i < nb; i++)
        if (!bsearch(&ib[i], ia, na, sizeof(bk_id), cmp_id))
            fresh++;
    /* the edit changes the chunk it is in, and at most a couple more until the cut
     * points line up again */
    assert_true(fresh >= 1);
    assert_true(fresh <= 3);
    assert_true(na > nb ? na - nb <= 3 : nb - na <= 3);
    free(ia);
    free(ib);
    free(a);
    free(b);
}

static void test_shift_insert(void **state)
{
    static const uint8_t ins[] = { 'a', 'r', 'c' };
    shift_case(100, ins, sizeof(ins), 0);
    shift_case(0, ins, 1, 0);
    shift_case(70000, ins, sizeof(ins), 0);
}

static void test_shift_delete(void **state)
{
    shift_case(5000, NULL, 0, 7);
}

static void test_zeros(void **state)
{
    uint8_t key[32];
    th_chunker_seed(key);
    bk_chunker c;
    assert_int_equal(bk_chunker_init(&c, key, 16 << 10, 64 << 10, 256 << 10), 0);
    size_t size = 8 << 20;
    uint8_t *z = calloc(size, 1);
    assert_non_null(z);
    size_t n;
    size_t *cuts = chunk_all(&c, z, size, &n);
    /* the gear hash of a constant run is constant after 64 bytes: every chunk but the
     * last is cut at the same place, so zero runs dedup perfectly */
    assert_true(n >= 2);
    for (size_t i = 1; i + 1 < n; i++)
        assert_int_equal(cuts[i], cuts[0]);
    free(cuts);
    free(z);
}

static void test_short_input(void **state)
{
    uint8_t key[32];
    th_chunker_seed(key);
    bk_chunker c;
    assert_int_equal(bk_chunker_init(&c, key, 1024, 4096, 16384), 0);
    uint8_t buf[1025];
    th_fill(buf, sizeof(buf), 9);
    assert_int_equal(bk_chunker_cut(&c, buf, 1), 1);
    assert_int_equal(bk_chunker_cut(&c, buf, 1024), 1024);   /* n <= min: all of it */
    size_t cut = bk_chunker_cut(&c, buf, 1025);
    assert_true(cut == 1025);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_golden_small),
        cmocka_unit_test(test_golden_default),
        cmocka_unit_test(test_seed_matters),
        cmocka_unit_test(test_shift_insert),
        cmocka_unit_test(test_shift_delete),
        cmocka_unit_test(test_zeros),
        cmocka_unit_test(test_short_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
