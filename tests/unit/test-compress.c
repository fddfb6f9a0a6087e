/* test-compress.c - the zstd wrapper: round trip, "does not shrink" signalled by 0, and
 * corrupt or wrong-size frames rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compress.h"
#include "helpers.h"

static uint8_t *text(size_t n)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)("the quick brown fox jumps over the lazy dog "[i % 44]);
    return p;
}

static void test_round_trip(void **state)
{
    bk_zctx *z = bk_zctx_new(3);
    assert_non_null(z);
    size_t n = 100000;
    uint8_t *src = text(n);
    size_t cap = bk_compress_bound(n);
    uint8_t *dst = malloc(cap), *back = malloc(n);
    size_t zn = bk_compress(z, dst, cap, src, n);
    assert_true(zn > 0 && zn < n / 10);
    assert_int_equal(bk_decompress(z, back, n, dst, zn), 0);
    assert_memory_equal(back, src, n);
    uint8_t *alloc;
    size_t alen;
    assert_int_equal(bk_decompress_alloc(z, dst, zn, n, &alloc, &alen), 0);
    assert_int_equal(alen, n);
    assert_memory_equal(alloc, src, n);
    free(alloc);
    /* the context is reusable */
    size_t zn2 = bk_compress(z, dst, cap, src, n / 2);
    assert_true(zn2 > 0);
    assert_int_equal(bk_decompress(z, back, n / 2, dst, zn2), 0);
    assert_memory_equal(back, src, n / 2);
    free(src);
    free(dst);
    free(back);
    bk_zctx_free(z);
    bk_zctx_free(NULL);
}

static void test_no_gain(void **state)
{
    bk_zctx *z = bk_zctx_new(3), *none = bk_zctx_new(0);
    size_t n = 65536;
    uint8_t *rnd = malloc(n), *txt = text(n);
    th_fill(rnd, n, 3);
    size_t cap = bk_compress_bound(n);
    uint8_t *dst = malloc(cap);
    assert_int_equal(bk_compress(z, dst, cap, rnd, n), 0);       /* random: no gain */
    assert_int_equal(bk_compress(z, dst, cap, txt, 63), 0);      /* too small to bother */
    assert_int_equal(bk_compress(none, dst, cap, txt, n), 0);    /* level 0: off */
    assert_int_equal(bk_compress(z, dst, 10, txt, n), 0);        /* no room: store raw */
    free(rnd);
    free(txt);
    free(dst);
    bk_zctx_free(z);
    bk_zctx_free(none);
}

static void test_corrupt(void **state)
{
    bk_zctx *z = bk_zctx_new(3);
    size_t n = 10000;
    uint8_t *src = text(n);
    size_t cap = bk_compress_bound(n);
    uint8_t *dst = malloc(cap), *back = malloc(n + 1);
    size_t zn = bk_compress(z, dst, cap, src, n);
    assert_true(zn > 0);
    /* wrong size either way */
    assert_int_equal(bk_decompress(z, back, n - 1, dst, zn), -EBADMSG);
    assert_int_equal(bk_decompress(z, back, n + 1, dst, zn), -EBADMSG);
    /* truncated frames */
    for (size_t cut = 0; cut < zn; cut++)
        assert_int_equal(bk_decompress(z, back, n, dst, cut), -EBADMSG);
    uint8_t *alloc;
    size_t alen;
    /* larger than the caller allows */
    assert_int_equal(bk_decompress_alloc(z, dst, zn, n - 1, &alloc, &alen), -EBADMSG);
    for (size_t cut = 0; cut < zn; cut += 7)
        assert_int_equal(bk_decompress_alloc(z, dst, cut, n, &alloc, &alen), -EBADMSG);
    /* garbage */
    uint8_t junk[256];
    th_fill(junk, sizeof(junk), 4);
    assert_int_equal(bk_decompress(z, back, n, junk, sizeof(junk)), -EBADMSG);
    assert_int_equal(bk_decompress_alloc(z, junk, sizeof(junk), n, &alloc, &alen), -EBADMSG);
    free(src);
    free(dst);
    free(back);
    bk_zctx_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_no_gain),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
