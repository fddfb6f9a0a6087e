/* test-buf.c - the byte buffer and the bounds-checked reader: varints at their length
 * boundaries, zigzag, and the sticky error of the reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "buf.h"

static const struct {
    uint64_t v;
    size_t len;
} uvarints[] = {
    { 0, 1 }, { 1, 1 }, { 127, 1 }, { 128, 2 }, { 16383, 2 }, { 16384, 3 },
    { 2097151, 3 }, { 2097152, 4 }, { UINT32_MAX, 5 }, { (uint64_t)1 << 35, 6 },
    { ((uint64_t)1 << 56) - 1, 8 }, { (uint64_t)1 << 56, 9 }, { ((uint64_t)1 << 63) - 1, 9 },
    { (uint64_t)1 << 63, 10 }, { UINT64_MAX, 10 },
};

static void test_uvarint_boundaries(void **state)
{
    for (size_t i = 0; i < BK_ELEMENTSOF(uvarints); i++) {
        bk_buf b = BK_BUF_INIT;
        assert_int_equal(bk_buf_put_uvarint(&b, uvarints[i].v), 0);
        assert_int_equal(b.len, uvarints[i].len);
        for (size_t j = 0; j + 1 < b.len; j++)
            assert_true(b.data[j] & 0x80);
        assert_false(b.data[b.len - 1] & 0x80);
        bk_reader r = bk_reader_make(b.data, b.len);
        uint64_t got;
        assert_int_equal(bk_read_uvarint(&r, &got), 0);
        assert_true(got == uvarints[i].v);
        assert_int_equal(r.left, 0);
        /* every truncation fails */
        for (size_t cut = 0; cut < b.len; cut++) {
            bk_reader t = bk_reader_make(b.data, cut);
            assert_int_equal(bk_read_uvarint(&t, &got), -EBADMSG);
            assert_int_equal(t.err, -EBADMSG);
        }
        bk_buf_free(&b);
    }
}

static void test_uvarint_known_bytes(void **state)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_buf_put_uvarint(&b, 300), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(b.data[0], 0xac);
    assert_int_equal(b.data[1], 0x02);
    bk_buf_free(&b);
}

static void test_uvarint_overlong(void **state)
{
    uint64_t v;
    /* 11 continuation bytes: more than 64 bits */
    static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x00 };
    bk_reader r = bk_reader_make(eleven, sizeof(eleven));
    assert_int_equal(bk_read_uvarint(&r, &v), -EBADMSG);
    /* 10th byte may carry one bit only */
    static const uint8_t tenth[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    r = bk_reader_make(tenth, sizeof(tenth));
    assert_int_equal(bk_read_uvarint(&r, &v), -EBADMSG);
    static const uint8_t max[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    r = bk_reader_make(max, sizeof(max));
    assert_int_equal(bk_read_uvarint(&r, &v), 0);
    assert_true(v == UINT64_MAX);
}

static void test_zigzag(void **state)
{
    static const struct {
        int64_t v;
        uint64_t zz;
    } cases[] = {
        { 0, 0 }, { -1, 1 }, { 1, 2 }, { -2, 3 }, { 2, 4 }, { 63, 126 }, { -64, 127 },
        { 64, 128 }, { INT32_MAX, 4294967294u }, { INT32_MIN, 4294967295u },
        { INT64_MAX, UINT64_MAX - 1 }, { INT64_MIN, UINT64_MAX },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(cases); i++) {
        bk_buf s = BK_BUF_INIT, u = BK_BUF_INIT;
        assert_int_equal(bk_buf_put_svarint(&s, cases[i].v), 0);
        assert_int_equal(bk_buf_put_uvarint(&u, cases[i].zz), 0);
        assert_int_equal(s.len, u.len);
        assert_memory_equal(s.data, u.data, s.len);
        bk_reader r = bk_reader_make(s.data, s.len);
        int64_t got;
        assert_int_equal(bk_read_svarint(&r, &got), 0);
        assert_true(got == cases[i].v);
        bk_buf_free(&s);
        bk_buf_free(&u);
    }
}

static void test_fixed_width(void **state)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_buf_put_u8(&b, 0xab), 0);
    assert_int_equal(bk_buf_put_le32(&b, 0x01020304), 0);
    assert_int_equal(bk_buf_put_le64(&b, 0x0102030405060708ull), 0);
    static const uint8_t want[] = { 0xab, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1 };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    bk_reader r = bk_reader_make(b.data, b.len);
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;
    assert_int_equal(bk_read_u8(&r, &u8), 0);
    assert_int_equal(bk_read_le32(&r, &u32), 0);
    assert_int_equal(bk_read_le64(&r, &u64), 0);
    assert_int_equal(u8, 0xab);
    assert_int_equal(u32, 0x01020304);
    assert_true(u64 == 0x0102030405060708ull);
    assert_int_equal(r.left, 0);
    assert_int_equal(bk_read_u8(&r, &u8), -EBADMSG);
    bk_buf_free(&b);
}

static void test_reader_sticky(void **state)
{
    static const uint8_t data[] = { 1, 2, 3, 4, 5, 6, 7 };
    bk_reader r = bk_reader_make(data, sizeof(data));
    uint32_t v32;
    uint64_t v64;
    uint8_t v8;
    const uint8_t *p;
    assert_int_equal(bk_read_le32(&r, &v32), 0);
    assert_int_equal(v32, 0x04030201);
    /* 3 bytes left: an le64 fails, and so does everything after it */
    assert_int_equal(bk_read_le64(&r, &v64), -EBADMSG);
    assert_int_equal(r.err, -EBADMSG);
    assert_int_equal(r.left, 0);
    assert_int_equal(bk_read_u8(&r, &v8), -EBADMSG);
    assert_int_equal(bk_read_raw(&r, 0, &p), -EBADMSG);
    assert_int_equal(r.err, -EBADMSG);
}

static void test_reader_raw_and_bytes(void **state)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_buf_put_bytes(&b, "hello", 5), 0);
    assert_int_equal(bk_buf_put_bytes(&b, "", 0), 0);
    assert_int_equal(bk_buf_put_uvarint(&b, 1000), 0);   /* a length beyond the data */
    bk_reader r = bk_reader_make(b.data, b.len);
    const uint8_t *p;
    size_t n;
    assert_int_equal(bk_read_bytes(&r, &p, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    assert_ptr_equal(p, b.data + 1);   /* no copy */
    assert_int_equal(bk_read_bytes(&r, &p, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bk_read_bytes(&r, &p, &n), -EBADMSG);
    assert_int_equal(r.err, -EBADMSG);
    bk_buf_free(&b);
}

static void test_read_len_max(void **state)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_buf_put_bytes(&b, "abcdef", 6), 0);
    size_t n;
    bk_reader r = bk_reader_make(b.data, b.len);
    assert_int_equal(bk_read_len(&r, 6, &n), 0);
    assert_int_equal(n, 6);
    r = bk_reader_make(b.data, b.len);
    assert_int_equal(bk_read_len(&r, 5, &n), -EBADMSG);
    assert_int_equal(r.err, -EBADMSG);
    /* the length may not exceed what is left either */
    r = bk_reader_make(b.data, 4);
    assert_int_equal(bk_read_len(&r, SIZE_MAX, &n), -EBADMSG);
    bk_buf_free(&b);
}

static void test_buf_grow_detach(void **state)
{
    bk_buf b = BK_BUF_INIT;
    for (uint32_t i = 0; i < 100000; i++)
        assert_int_equal(bk_buf_put_le32(&b, i), 0);
    assert_int_equal(b.len, 400000);
    assert_true(b.cap >= b.len);
    for (uint32_t i = 0; i < 100000; i += 997)
        assert_int_equal(bk_get_le32(b.data + 4 * i), i);
    assert_int_equal(bk_buf_append(&b, NULL, 0), 0);
    size_t len;
    uint8_t *p = bk_buf_detach(&b, &len);
    assert_int_equal(len, 400000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(p);
    /* reserve cannot overflow */
    assert_int_equal(bk_buf_put_u8(&b, 1), 0);
    assert_int_equal(bk_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    bk_buf_free(&b);
    bk_buf_free(&b);   /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uvarint_boundaries),
        cmocka_unit_test(test_uvarint_known_bytes),
        cmocka_unit_test(test_uvarint_overlong),
        cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_fixed_width),
        cmocka_unit_test(test_reader_sticky),
        cmocka_unit_test(test_reader_raw_and_bytes),
        cmocka_unit_test(test_read_len_max),
        cmocka_unit_test(test_buf_grow_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
