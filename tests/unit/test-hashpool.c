/* test-hashpool.c - a batch hashed on several threads gives every item the id one thread
 * gives it, items without an id place stay untouched, and batches of every size (none,
 * one, many more than threads) come back complete, many times over with both id
 * functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "hashpool.h"
#include "helpers.h"

#define N 300

static void batch_matches(bk_id_hash h, int threads)
{
    uint8_t master[BK_KEY_LEN];
    memset(master, 7, sizeof(master));
    bk_keys *k;
    assert_int_equal(bk_keys_from_master(master, &k), 0);
    assert_int_equal(bk_keys_set_id_hash(k, h), 0);
    bk_hashpool *p;
    assert_int_equal(bk_hashpool_new(k, threads, &p), 0);
    static uint8_t data[N * 97 + 5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 131 + (i >> 7));
    static bk_hash_item v[N];
    static bk_id got[N], want[N];
    for (int round = 0; round < 40; round++) {
        size_t n = (size_t)(round * 37 % (N + 1));   /* 0, 37, 74, ... and 1 */
        if (round == 1)
            n = 1;
        memset(got, 0xee, sizeof(got));
        for (size_t i = 0; i < n; i++) {
            v[i] = (bk_hash_item){ data + i * 97, (i * 53) % 5000, i % 7 == 3 ? NULL : &got[i] };
            if (v[i].id)
                assert_int_equal(bk_blob_id(k, v[i].p, v[i].n, &want[i]), 0);
        }
        assert_int_equal(bk_hashpool_run(p, k, v, n), 0);
        for (size_t i = 0; i < n; i++) {
            if (i % 7 == 3) {
                bk_id untouched;
                memset(&untouched, 0xee, sizeof(untouched));
                assert_memory_equal(&got[i], &untouched, sizeof(bk_id));
            } else {
                assert_memory_equal(&got[i], &want[i], sizeof(bk_id));
            }
        }
    }
    bk_hashpool_free(p);
    assert_int_equal(bk_hashpool_run(NULL, k, v, 2), 0);   /* no pool: the caller alone */
    bk_keys_free(k);
}

static void test_blake2b(void **state)
{
    (void)state;
    for (int t = 0; t <= 3; t++)
        batch_matches(BK_ID_HASH_BLAKE2B, t);
}

static void test_hmac_sha256(void **state)
{
    (void)state;
    for (int t = 0; t <= 3; t++)
        batch_matches(BK_ID_HASH_HMAC_SHA256, t);
}

int main(void)
{
    if (bk_crypto_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blake2b),
        cmocka_unit_test(test_hmac_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
