/* test-crypto.c - keys, keyed blob ids, sealed boxes and key slots: round trips, and a
 * flipped bit, wrong kind, wrong id, wrong key or truncation rejected; golden subkeys and
 * the golden key slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "crypto.h"
#include "helpers.h"
#include "util.h"

static const bk_kdf_params cheap = { TH_GOLDEN_KDF_OPS, TH_GOLDEN_KDF_MEM };

static int setup(void **state)
{
    return bk_crypto_init();
}

static void test_golden_keys(void **state)
{
    /* the derivation of subkeys from the master is part of the format */
    bk_keys *k = th_golden_keys();
    uint8_t *txt;
    size_t len;
    assert_int_equal(th_read_data("keys.txt", &txt, &len), 0);
    char *s = calloc(1, len + 1);
    memcpy(s, txt, len);
    free(txt);
    char hex[2 * BK_KEY_LEN + 1], line[256];
    bk_id id;
    struct {
        const char *name;
        char hex[2 * BK_KEY_LEN + 1];
    } want[5];
    bk_hex(k->aead, BK_KEY_LEN, want[0].hex);
    want[0].name = "aead";
    bk_hex(k->id, BK_KEY_LEN, want[1].hex);
    want[1].name = "id";
    bk_hex(k->gear, BK_KEY_LEN, want[2].hex);
    want[2].name = "gear";
    bk_blob_id(k, "hello", 5, &id);
    bk_id_hex(&id, want[3].hex);
    want[3].name = "blob-id-hello";
    bk_hash("hello", 5, &id);
    bk_id_hex(&id, want[4].hex);
    want[4].name = "hash-hello";
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof(line), "\n%s %s\n", want[i].name, want[i].hex);
        assert_non_null(strstr(s, line));
    }
    (void)hex;
    free(s);
    /* the master itself is kept */
    uint8_t m[BK_KEY_LEN];
    th_golden_master(m);
    assert_memory_equal(k->master, m, BK_KEY_LEN);
    bk_keys_free(k);
    bk_keys_free(NULL);
}

static void test_blob_ids_keyed(void **state)
{
    bk_keys *a, *b;
    assert_int_equal(bk_keys_new_random(&a), 0);
    assert_int_equal(bk_keys_new_random(&b), 0);
    assert_memory_not_equal(a->master, b->master, BK_KEY_LEN);
    bk_id ia, ib, ia2, h1, h2;
    bk_blob_id(a, "content", 7, &ia);
    bk_blob_id(b, "content", 7, &ib);
    bk_blob_id(a, "content", 7, &ia2);
    assert_memory_not_equal(ia.b, ib.b, BK_ID_LEN);   /* different keys, different ids */
    assert_memory_equal(ia.b, ia2.b, BK_ID_LEN);      /* deterministic */
    bk_blob_id(a, "Content", 7, &ia2);
    assert_memory_not_equal(ia.b, ia2.b, BK_ID_LEN);
    /* the object hash is unkeyed and not the blob id */
    bk_hash("content", 7, &h1);
    bk_hash("content", 7, &h2);
    assert_memory_equal(h1.b, h2.b, BK_ID_LEN);
    assert_memory_not_equal(h1.b, ia.b, BK_ID_LEN);
    /* the same master gives the same keys */
    bk_keys *c;
    assert_int_equal(bk_keys_from_master(a->master, &c), 0);
    assert_memory_equal(c->aead, a->aead, BK_KEY_LEN);
    assert_memory_equal(c->id, a->id, BK_KEY_LEN);
    assert_memory_equal(c->gear, a->gear, BK_KEY_LEN);
    /* subkeys are distinct from each other and from the master */
    assert_memory_not_equal(a->aead, a->id, BK_KEY_LEN);
    assert_memory_not_equal(a->id, a->gear, BK_KEY_LEN);
    assert_memory_not_equal(a->aead, a->master, BK_KEY_LEN);
    bk_keys_free(a);
    bk_keys_free(b);
    bk_keys_free(c);
}

static void seal_round_trip(bk_cipher cipher)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    k->cipher = cipher;
    uint8_t aes = cipher == BK_CIPHER_AES ? BK_ENC_AES : 0;
    bk_id id;
    th_id(&id, 1);
    size_t sizes[] = { 0, 1, 100, 65536 };
    for (size_t s = 0; s < BK_ELEMENTSOF(sizes); s++) {
        size_t n = sizes[s];
        uint8_t *p = malloc(n + 1), *back = malloc(n + 1);
        th_fill(p, n, s);
        bk_buf box = BK_BUF_INIT;
        assert_int_equal(bk_seal(k, BK_KIND_DATA, &id, BK_ENC_ZSTD, p, n, &box), 0);
        assert_int_equal(box.len, n + BK_SEAL_OVERHEAD);
        assert_int_equal(box.data[0], BK_ENC_ZSTD | aes);
        uint8_t enc;
        size_t len;
        assert_int_equal(bk_unseal(k, BK_KIND_DATA, &id, box.data, box.len, back, &enc, &len), 0);
        assert_int_equal(enc, BK_ENC_ZSTD);
        /* the box says its cipher: keys that write the other one open it too */
        k->cipher = !cipher;
        assert_int_equal(bk_unseal(k, BK_KIND_DATA, &id, box.data, box.len, back, &enc, &len), 0);
        k->cipher = cipher;
        assert_int_equal(len, n);
        if (n)
            assert_memory_equal(back, p, n);
        /* sealing twice gives different boxes (random nonce) */
        bk_buf box2 = BK_BUF_INIT;
        assert_int_equal(bk_seal(k, BK_KIND_DATA, &id, BK_ENC_ZSTD, p, n, &box2), 0);
        assert_memory_not_equal(box.data, box2.data, box.len);
        bk_buf_free(&box);
        bk_buf_free(&box2);
        free(p);
        free(back);
    }
    /* objects (no id) and appending to a buffer that holds data already */
    bk_buf out = BK_BUF_INIT;
    assert_int_equal(bk_buf_append(&out, "xyz", 3), 0);
    assert_int_equal(bk_seal(k, BK_KIND_SNAPSHOT, NULL, BK_ENC_RAW, "{}", 2, &out), 0);
    uint8_t back[2], enc;
    size_t len;
    assert_int_equal(bk_unseal(k, BK_KIND_SNAPSHOT, NULL, out.data + 3, out.len - 3, back, &enc,
                               &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(back, "{}", 2);
    bk_buf_free(&out);
    bk_keys_free(k);
}

static void test_seal_round_trip(void **state)
{
    seal_round_trip(BK_CIPHER_XCHACHA);
}

static void test_seal_round_trip_aes(void **state)
{
    if (!bk_cipher_aes_available())
        skip();
    seal_round_trip(BK_CIPHER_AES);
}

static void seal_rejects(bk_cipher cipher)
{
    bk_keys *k, *other;
    assert_int_equal(bk_keys_new_random(&k), 0);
    assert_int_equal(bk_keys_new_random(&other), 0);
    k->cipher = other->cipher = cipher;
    bk_id id, id2;
    th_id(&id, 1);
    th_id(&id2, 2);
    uint8_t p[100], back[100], enc;
    size_t len;
    th_fill(p, sizeof(p), 5);
    bk_buf box = BK_BUF_INIT;
    assert_int_equal(bk_seal(k, BK_KIND_TREE, &id, BK_ENC_RAW, p, sizeof(p), &box), 0);

    /* every single flipped bit, in enc (the cipher's bit too), nonce, ciphertext and tag */
    for (size_t i = 0; i < box.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            box.data[i] ^= (uint8_t)(1 << bit);
            assert_int_equal(bk_unseal(k, BK_KIND_TREE, &id, box.data, box.len, back, &enc, &len),
                             -EBADMSG);
            box.data[i] ^= (uint8_t)(1 << bit);
        }
    assert_int_equal(bk_unseal(k, BK_KIND_TREE, &id, box.data, box.len, back, &enc, &len), 0);
    /* wrong kind: a tree blob never opens as data, nor as an object */
    assert_int_equal(bk_unseal(k, BK_KIND_DATA, &id, box.data, box.len, back, &enc, &len), -EBADMSG);
    assert_int_equal(bk_unseal(k, BK_KIND_INDEX, &id, box.data, box.len, back, &enc, &len), -EBADMSG);
    /* wrong (swapped) id, or none */
    assert_int_equal(bk_unseal(k, BK_KIND_TREE, &id2, box.data, box.len, back, &enc, &len), -EBADMSG);
    assert_int_equal(bk_unseal(k, BK_KIND_TREE, NULL, box.data, box.len, back, &enc, &len), -EBADMSG);
    /* wrong key */
    assert_int_equal(bk_unseal(other, BK_KIND_TREE, &id, box.data, box.len, back, &enc, &len),
                     -EBADMSG);
    /* truncated, and extended */
    for (size_t n = 0; n < box.len; n++)
        assert_int_equal(bk_unseal(k, BK_KIND_TREE, &id, box.data, n, back, &enc, &len), -EBADMSG);
    assert_int_equal(bk_buf_put_u8(&box, 0), 0);
    uint8_t big[101];
    assert_int_equal(bk_unseal(k, BK_KIND_TREE, &id, box.data, box.len, big, &enc, &len), -EBADMSG);
    bk_buf_free(&box);

    /* an object box does not open as a blob with an id */
    assert_int_equal(bk_seal(k, BK_KIND_TREE, NULL, BK_ENC_RAW, p, sizeof(p), &box), 0);
    assert_int_equal(bk_unseal(k, BK_KIND_TREE, &id, box.data, box.len, back, &enc, &len), -EBADMSG);
    bk_buf_free(&box);
    bk_keys_free(k);
    bk_keys_free(other);
}

static void test_seal_rejects(void **state)
{
    seal_rejects(BK_CIPHER_XCHACHA);
}

static void test_seal_rejects_aes(void **state)
{
    if (!bk_cipher_aes_available())
        skip();
    seal_rejects(BK_CIPHER_AES);
}

static void test_keyslot_round_trip(void **state)
{
    bk_keys *k, *opened;
    assert_int_equal(bk_keys_new_random(&k), 0);
    bk_buf slot = BK_BUF_INIT;
    assert_int_equal(bk_keyslot_create(k, "secret", 6, &cheap, "myhost", "bob", 1700000000, &slot),
                     0);
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "secret", 6, &opened), 0);
    assert_memory_equal(opened->master, k->master, BK_KEY_LEN);
    assert_memory_equal(opened->aead, k->aead, BK_KEY_LEN);
    assert_memory_equal(opened->id, k->id, BK_KEY_LEN);
    assert_memory_equal(opened->gear, k->gear, BK_KEY_LEN);
    bk_keys_free(opened);

    bk_keyslot_info info;
    assert_int_equal(bk_keyslot_parse_info(slot.data, slot.len, &info), 0);
    assert_true(info.created == 1700000000);
    assert_string_equal(info.host, "myhost");
    assert_string_equal(info.user, "bob");
    assert_true(info.kdf.opslimit == cheap.opslimit);
    assert_true(info.kdf.memlimit == cheap.memlimit);

    /* wrong passphrases: another, a prefix, one longer, empty */
    opened = NULL;
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "Secret", 6, &opened), -EKEYREJECTED);
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "secret", 5, &opened), -EKEYREJECTED);
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "secret!", 7, &opened), -EKEYREJECTED);
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "", 0, &opened), -EKEYREJECTED);
    assert_null(opened);

    /* passphrases may hold any byte, NUL included */
    bk_buf slot2 = BK_BUF_INIT;
    assert_int_equal(bk_keyslot_create(k, "a\0b", 3, &cheap, NULL, NULL, 0, &slot2), 0);
    assert_int_equal(bk_keyslot_open(slot2.data, slot2.len, "a\0c", 3, &opened), -EKEYREJECTED);
    assert_int_equal(bk_keyslot_open(slot2.data, slot2.len, "a", 1, &opened), -EKEYREJECTED);
    assert_int_equal(bk_keyslot_open(slot2.data, slot2.len, "a\0b", 3, &opened), 0);
    bk_keys_free(opened);
    assert_int_equal(bk_keyslot_parse_info(slot2.data, slot2.len, &info), 0);
    assert_string_equal(info.host, "");
    assert_string_equal(info.user, "");

    /* the KDF limits are checked before any work */
    bk_kdf_params bad = { 0, TH_GOLDEN_KDF_MEM };
    bk_buf slot3 = BK_BUF_INIT;
    assert_true(bk_keyslot_create(k, "x", 1, &bad, NULL, NULL, 0, &slot3) < 0);
    bk_buf_free(&slot3);

    bk_buf_free(&slot);
    bk_buf_free(&slot2);
    bk_keys_free(k);
}

/* A slot document with fields replaced. */
static char *slot_doc(const char *version, const char *kdf, const char *ops, const char *mem,
                      const char *salt, const char *key, const char *created)
{
    char *s;
    int n = asprintf(&s, "{\"version\": %s, \"kdf\": %s, \"opslimit\": %s, \"memlimit\": %s, "
                     "\"salt\": %s, \"key\": %s, \"created\": %s, \"host\": \"h\", "
                     "\"username\": \"u\"}", version, kdf, ops, mem, salt, key, created);
    assert_true(n > 0);
    return s;
}

static void test_keyslot_malformed(void **state)
{
    uint8_t *golden;
    size_t glen;
    assert_int_equal(th_read_data("keyslot.json", &golden, &glen), 0);
    /* pull salt and key out of the golden slot, to vary one field at a time */
    char salt[80] = "", key[200] = "";
    const char *p = strstr((char *)golden, "\"salt\": \"");
    assert_non_null(p);
    sscanf(p, "\"salt\": \"%79[0-9a-f]\"", salt);
    p = strstr((char *)golden, "\"key\": \"");
    assert_non_null(p);
    sscanf(p, "\"key\": \"%199[0-9a-f]\"", key);
    assert_int_equal(strlen(salt), 32);
    assert_int_equal(strlen(key), 2 * (BK_KEY_LEN + BK_SEAL_OVERHEAD));
    char qs[100], qk[220], qk_short[220], qs_odd[100];
    snprintf(qs, sizeof(qs), "\"%s\"", salt);
    snprintf(qk, sizeof(qk), "\"%s\"", key);
    snprintf(qk_short, sizeof(qk_short), "\"%.*s\"", (int)strlen(key) - 2, key);
    snprintf(qs_odd, sizeof(qs_odd), "\"%sa\"", salt);
    const char *when = "\"2025-11-25T12:30:11.000000000+00:00\"";

    struct {
        const char *ver, *kdf, *ops, *mem, *salt, *key, *created;
        int want_info, want_open;
    } cases[] = {
        { "1", "\"argon2id13\"", "1", "8192", qs, qk, when, 0, 0 },   /* well-formed */
        { "2", "\"argon2id13\"", "1", "8192", qs, qk, when, -EPROTONOSUPPORT, -EPROTONOSUPPORT },
        { "\"1\"", "\"argon2id13\"", "1", "8192", qs, qk, when, -EBADMSG, -EBADMSG },
        { "1", "\"scrypt\"", "1", "8192", qs, qk, when, -EBADMSG, -EBADMSG },
        { "1", "\"argon2id13\"", "0", "8192", qs, qk, when, -EBADMSG, -EBADMSG },
        { "1", "\"argon2id13\"", "-1", "8192", qs, qk, when, -EBADMSG, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "0", qs, qk, when, -EBADMSG, -EBADMSG },
        /* parseable, but limits the KDF refuses: only open notices */
        { "1", "\"argon2id13\"", "1", "1024", qs, qk, when, 0, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8589934592", qs, qk, when, 0, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8192", "\"00\"", qk, when, 0, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8192", qs_odd, qk, when, 0, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8192", qs, qk_short, when, 0, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8192", qs, "\"zz\"", when, 0, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8192", qs, "12", when, -EBADMSG, -EBADMSG },
        { "1", "\"argon2id13\"", "1", "8192", qs, qk, "\"yesterday\"", -EBADMSG, -EBADMSG },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(cases); i++) {
        char *doc = slot_doc(cases[i].ver, cases[i].kdf, cases[i].ops, cases[i].mem,
                             cases[i].salt, cases[i].key, cases[i].created);
        bk_keyslot_info info;
        bk_keys *k = NULL;
        int r = bk_keyslot_parse_info(doc, strlen(doc), &info);
        if (r != cases[i].want_info)
            fail_msg("case %zu: parse_info %d, want %d: %s", i, r, cases[i].want_info, doc);
        r = bk_keyslot_open(doc, strlen(doc), TH_GOLDEN_PASS, strlen(TH_GOLDEN_PASS), &k);
        if (r != cases[i].want_open)
            fail_msg("case %zu: open %d, want %d: %s", i, r, cases[i].want_open, doc);
        bk_keys_free(k);
        free(doc);
    }

    /* not JSON, truncated, missing fields, duplicate keys, trailing garbage */
    static const char *const junk[] = {
        "", "{", "[]", "null", "{}", "{\"version\": 1}",
        "{\"version\": 1, \"version\": 1}",
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(junk); i++) {
        bk_keyslot_info info;
        bk_keys *k = NULL;
        assert_int_equal(bk_keyslot_parse_info(junk[i], strlen(junk[i]), &info), -EBADMSG);
        assert_int_equal(bk_keyslot_open(junk[i], strlen(junk[i]), "x", 1, &k), -EBADMSG);
    }
    for (size_t cut = 0; cut + 1 < glen; cut++) {
        bk_keyslot_info info;
        assert_int_equal(bk_keyslot_parse_info(golden, cut, &info), -EBADMSG);
    }
    uint8_t *ext = malloc(glen + 3);
    memcpy(ext, golden, glen);
    memcpy(ext + glen, "{}\n", 3);
    bk_keyslot_info info;
    assert_int_equal(bk_keyslot_parse_info(ext, glen + 3, &info), -EBADMSG);
    free(ext);
    free(golden);
}

static void test_keyslot_golden(void **state)
{
    uint8_t *slot;
    size_t n;
    assert_int_equal(th_read_data("keyslot.json", &slot, &n), 0);
    bk_keyslot_info info;
    assert_int_equal(bk_keyslot_parse_info(slot, n, &info), 0);
    assert_true(info.created == TH_GOLDEN_TIME);
    assert_string_equal(info.host, "golden-host");
    assert_string_equal(info.user, "golden-user");
    assert_true(info.kdf.opslimit == TH_GOLDEN_KDF_OPS);
    assert_true(info.kdf.memlimit == TH_GOLDEN_KDF_MEM);
    bk_keys *k = NULL;
    assert_int_equal(bk_keyslot_open(slot, n, TH_GOLDEN_PASS, strlen(TH_GOLDEN_PASS), &k), 0);
    uint8_t m[BK_KEY_LEN];
    th_golden_master(m);
    assert_memory_equal(k->master, m, BK_KEY_LEN);
    bk_keys_free(k);
    k = NULL;
    assert_int_equal(bk_keyslot_open(slot, n, "wrong", 5, &k), -EKEYREJECTED);
    assert_null(k);
    free(slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_keys),
        cmocka_unit_test(test_blob_ids_keyed),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_rejects),
        cmocka_unit_test(test_seal_round_trip_aes),
        cmocka_unit_test(test_seal_rejects_aes),
        cmocka_unit_test(test_keyslot_round_trip),
        cmocka_unit_test(test_keyslot_malformed),
        cmocka_unit_test(test_keyslot_golden),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
