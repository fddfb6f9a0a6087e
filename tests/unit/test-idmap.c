/* test-idmap.c - the id hash map: insert, get, growth, iteration and removal with many
 * ids, including ids that share their first 8 bytes (the hash) and runs that wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"
#include "idmap.h"

#define MANY 100000

typedef struct {
    uint64_t a;
    uint32_t b;
} value;   /* 12 bytes: rounded up to 16 in the slot */

static void test_empty(void **state)
{
    bk_idmap m;
    bk_idmap_init(&m, sizeof(value));
    bk_id id;
    th_id(&id, 1);
    assert_null(bk_idmap_get(&m, &id));
    size_t pos = 0;
    assert_false(bk_idmap_next(&m, &pos, NULL, NULL));
    bk_idmap_free(&m);
    bk_idmap_free(&m);
}

static void test_many(void **state)
{
    bk_idmap m;
    bk_idmap_init(&m, sizeof(value));
    for (uint64_t i = 0; i < MANY; i++) {
        bk_id id;
        th_id(&id, i);
        void *v;
        assert_int_equal(bk_idmap_put(&m, &id, &v), 1);
        assert_true(((uintptr_t)v & 7) == 0);
        value *x = v;
        assert_true(x->a == 0 && x->b == 0);   /* zeroed */
        x->a = i;
        x->b = (uint32_t)(i * 3);
    }
    assert_int_equal(m.count, MANY);
    assert_true(m.count * 4 <= m.cap * 3);
    /* every id survived the growths */
    for (uint64_t i = 0; i < MANY; i++) {
        bk_id id;
        th_id(&id, i);
        value *x = bk_idmap_get(&m, &id);
        assert_non_null(x);
        assert_true(x->a == i && x->b == (uint32_t)(i * 3));
        void *v;
        assert_int_equal(bk_idmap_put(&m, &id, &v), 0);   /* present: not inserted */
        assert_ptr_equal(v, x);
    }
    assert_int_equal(m.count, MANY);
    for (uint64_t i = MANY; i < MANY + 1000; i++) {
        bk_id id;
        th_id(&id, i);
        assert_null(bk_idmap_get(&m, &id));
    }
    /* iteration visits each id once */
    uint8_t *seen = calloc(MANY, 1);
    assert_non_null(seen);
    size_t pos = 0, n = 0;
    const bk_id *id;
    void *v;
    while (bk_idmap_next(&m, &pos, &id, &v)) {
        value *x = v;
        assert_true(x->a < MANY);
        bk_id want;
        th_id(&want, x->a);
        assert_memory_equal(id->b, want.b, BK_ID_LEN);
        assert_int_equal(seen[x->a], 0);
        seen[x->a] = 1;
        n++;
    }
    assert_int_equal(n, MANY);
    free(seen);
    bk_idmap_free(&m);
}

static void test_colliding_prefix(void **state)
{
    /* ids equal in their first 8 bytes land in one probe chain */
    bk_idmap m;
    bk_idmap_init(&m, sizeof(uint32_t));
    for (uint32_t i = 0; i < 1000; i++) {
        bk_id id;
        memset(&id, 0x5a, sizeof(id));
        bk_put_le32(id.b + 28, i);
        uint32_t *v;
        assert_int_equal(bk_idmap_put(&m, &id, (void **)&v), 1);
        *v = i + 1;
    }
    for (uint32_t i = 0; i < 1000; i++) {
        bk_id id;
        memset(&id, 0x5a, sizeof(id));
        bk_put_le32(id.b + 28, i);
        uint32_t *v = bk_idmap_get(&m, &id);
        assert_non_null(v);
        assert_int_equal(*v, i + 1);
    }
    bk_id other;
    memset(&other, 0x5a, sizeof(other));
    bk_put_le32(other.b + 28, 5000);
    assert_null(bk_idmap_get(&m, &other));
    bk_idmap_free(&m);
}

/* removing: every other id of many, then the runs that wrap at the end of a small table */
static void test_remove(void **state)
{
    bk_idmap m;
    bk_idmap_init(&m, sizeof(value));
    for (uint64_t i = 0; i < MANY; i++) {
        bk_id id;
        th_id(&id, i);
        void *v;
        assert_int_equal(bk_idmap_put(&m, &id, &v), 1);
        ((value *)v)->a = i;
    }
    for (uint64_t i = 1; i < MANY; i += 2) {
        bk_id id;
        th_id(&id, i);
        assert_true(bk_idmap_remove(&m, &id));
        assert_false(bk_idmap_remove(&m, &id));
    }
    assert_int_equal(m.count, MANY / 2);
    for (uint64_t i = 0; i < MANY; i++) {
        bk_id id;
        th_id(&id, i);
        value *x = bk_idmap_get(&m, &id);
        if (i % 2) {
            assert_null(x);
        } else {
            assert_non_null(x);
            assert_true(x->a == i);
        }
    }
    size_t pos = 0, seen = 0;
    while (bk_idmap_next(&m, &pos, NULL, NULL))
        seen++;
    assert_int_equal(seen, MANY / 2);
    bk_idmap_free(&m);

    /* homes 62, 62, 63, 63, 0, 1 in a table of 64: a run that wraps around */
    bk_idmap_init(&m, 0);
    const uint64_t homes[] = { 62, 62, 63, 63, 0, 1, 62 };
    bk_id ids[7];
    for (size_t k = 0; k < 7; k++) {
        memset(&ids[k], 0, sizeof(ids[k]));
        memcpy(ids[k].b, &homes[k], sizeof(homes[k]));
        ids[k].b[31] = (uint8_t)(k + 1);
        assert_int_equal(bk_idmap_put(&m, &ids[k], NULL), 1);
    }
    assert_int_equal(m.cap, 64);
    for (size_t gone = 0; gone < 7; gone++) {
        assert_true(bk_idmap_remove(&m, &ids[gone]));
        for (size_t k = 0; k < 7; k++)
            assert_true((bk_idmap_get(&m, &ids[k]) != NULL) == (k > gone));
    }
    assert_int_equal(m.count, 0);
    /* and the other way round */
    for (size_t k = 0; k < 7; k++)
        assert_int_equal(bk_idmap_put(&m, &ids[k], NULL), 1);
    for (size_t gone = 7; gone-- > 0;) {
        assert_true(bk_idmap_remove(&m, &ids[gone]));
        for (size_t k = 0; k < 7; k++)
            assert_true((bk_idmap_get(&m, &ids[k]) != NULL) == (k < gone));
    }
    bk_idmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_colliding_prefix),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
