/* test-crypto.c - keys, keyed blob ids, sealed boxes and key slots: round trips, and a
 * flipped bit, wrong kind, wrong id, wrong key or truncation rejected; golden subkeys and
 * the golden key slot. */
#include <pthread.h>
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
    assert_int_equal(bk_blob_id(k, "hello", 5, &id), 0);
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
    assert_int_equal(bk_blob_id(a, "content", 7, &ia), 0);
    assert_int_equal(bk_blob_id(b, "content", 7, &ib), 0);
    assert_int_equal(bk_blob_id(a, "content", 7, &ia2), 0);
    assert_memory_not_equal(ia.b, ib.b, BK_ID_LEN);   /* different keys, different ids */
    assert_memory_equal(ia.b, ia2.b, BK_ID_LEN);      /* deterministic */
    assert_int_equal(bk_blob_id(a, "Content", 7, &ia2), 0);
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

/* HMAC-SHA-256 through the id function: RFC 4231's test cases 1 to 4 (keys of 4 to 25
 * bytes; HMAC pads a key shorter than the block with zeros, so the same key followed by
 * zeros up to the 32 bytes of the id key gives the same MAC), and a 32-byte key: the
 * golden id key on "hello" (Python's hmac module agrees). */
static void test_hmac_sha256_ids(void **state)
{
    static const struct {
        uint8_t key[32];
        size_t keylen;
        const char *data;
        size_t datalen;
        uint8_t fill;
        const char *mac;
    } rfc[] = {
        { { 0 }, 20, "Hi There", 8, 0x0b,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { { 'J', 'e', 'f', 'e' }, 4, "what do ya want for nothing?", 28, 0,
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { { 0 }, 20, NULL, 50, 0xaa,
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
            24, 25 }, 25, NULL, 50, 0,
          "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    };
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    for (size_t i = 0; i < BK_ELEMENTSOF(rfc); i++) {
        uint8_t data[50];
        memset(k->id, 0, sizeof(k->id));
        if (rfc[i].fill)
            memset(k->id, rfc[i].fill, rfc[i].keylen);
        else
            memcpy(k->id, rfc[i].key, rfc[i].keylen);
        if (rfc[i].data)
            memcpy(data, rfc[i].data, rfc[i].datalen);
        else
            memset(data, i == 2 ? 0xdd : 0xcd, rfc[i].datalen);
        /* the pads are computed from the key when the function is chosen */
        assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_HMAC_SHA256), 0);
        bk_id id;
        char hex[BK_ID_HEX];
        assert_int_equal(bk_blob_id(k, data, rfc[i].datalen, &id), 0);
        bk_id_hex(&id, hex);
        if (strcmp(hex, rfc[i].mac) != 0)
            fail_msg("RFC 4231 case %zu: %s", i + 1, hex);
    }
    bk_keys_free(k);

    k = th_golden_keys();
    assert_int_equal(k->id_hash, BK_ID_HASH_BLAKE2B);   /* new keys: BLAKE2b */
    assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_HMAC_SHA256), 0);
    bk_id id;
    char hex[BK_ID_HEX];
    assert_int_equal(bk_blob_id(k, "hello", 5, &id), 0);
    bk_id_hex(&id, hex);
    assert_string_equal(hex, "9c7e951608bb775b80778c55736a6dccb68bb1e553478354ef4fe80be9598d5d");
    /* and back: the golden BLAKE2b id (tests/data/keys.txt) */
    assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_BLAKE2B), 0);
    assert_int_equal(bk_blob_id(k, "hello", 5, &id), 0);
    bk_id_hex(&id, hex);
    assert_string_equal(hex, "614c9079b323b8c3acbdaed3d242275e422b39fd22c973662e0fd15fe800513d");
    assert_int_equal(bk_keys_set_id_hash(k, (bk_id_hash)7), -EINVAL);
    assert_int_equal(k->id_hash, BK_ID_HASH_BLAKE2B);
    bk_keys_free(k);
}

/* Names: SHA-256 of the stored bytes with HMAC-SHA-256 ids, BLAKE2b otherwise; bk_hash
 * (key slots, local files) is BLAKE2b whatever the keys say. */
static void test_object_names(void **state)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    bk_id b2, h;
    char hex[BK_ID_HEX];
    bk_hash("abc", 3, &b2);
    assert_int_equal(bk_obj_hash(k, "abc", 3, &h), 0);
    assert_memory_equal(h.b, b2.b, BK_ID_LEN);
    assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_HMAC_SHA256), 0);
    assert_int_equal(bk_obj_hash(k, "abc", 3, &h), 0);
    bk_id_hex(&h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(bk_obj_hash(k, "", 0, &h), 0);
    bk_id_hex(&h, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    bk_id again;
    bk_hash("abc", 3, &again);
    assert_memory_equal(again.b, b2.b, BK_ID_LEN);
    bk_keys_free(k);
}

/* The same keys and data give different ids under the two functions, and neither is the
 * object hash of the data. */
static void test_id_functions_differ(void **state)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    size_t sizes[] = { 0, 1, 55, 56, 63, 64, 65, 256, 8192, 1 << 20 };
    uint8_t *p = malloc(1 << 20);
    assert_non_null(p);
    th_fill(p, 1 << 20, 3);
    for (size_t i = 0; i < BK_ELEMENTSOF(sizes); i++) {
        bk_id b2, hm, hm2, name;
        assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_BLAKE2B), 0);
        assert_int_equal(bk_blob_id(k, p, sizes[i], &b2), 0);
        assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_HMAC_SHA256), 0);
        assert_int_equal(bk_blob_id(k, p, sizes[i], &hm), 0);
        assert_int_equal(bk_blob_id(k, p, sizes[i], &hm2), 0);
        assert_int_equal(bk_obj_hash(k, p, sizes[i], &name), 0);
        assert_memory_not_equal(b2.b, hm.b, BK_ID_LEN);
        assert_memory_equal(hm.b, hm2.b, BK_ID_LEN);   /* deterministic */
        assert_memory_not_equal(hm.b, name.b, BK_ID_LEN);   /* keyed */
    }
    /* other keys, other HMAC ids */
    bk_keys *o;
    assert_int_equal(bk_keys_new_random(&o), 0);
    assert_int_equal(bk_keys_set_id_hash(o, BK_ID_HASH_HMAC_SHA256), 0);
    bk_id a, b;
    assert_int_equal(bk_blob_id(k, p, 100, &a), 0);
    assert_int_equal(bk_blob_id(o, p, 100, &b), 0);
    assert_memory_not_equal(a.b, b.b, BK_ID_LEN);
    free(p);
    bk_keys_free(k);
    bk_keys_free(o);
}

/* Ids are computed by several threads at once from the same keys. */
struct id_thread {
    const bk_keys *k;
    const uint8_t *p;
    bk_id want[64];
    int bad;
};

static void *id_thread_run(void *arg)
{
    struct id_thread *t = arg;
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < 64; i++) {
            bk_id id;
            if (bk_blob_id(t->k, t->p, i * 131, &id) < 0 || bk_id_cmp(&id, &t->want[i]) != 0)
                t->bad++;
        }
    return NULL;
}

static void test_hmac_threads(void **state)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    assert_int_equal(bk_keys_set_id_hash(k, BK_ID_HASH_HMAC_SHA256), 0);
    uint8_t p[64 * 131];
    th_fill(p, sizeof(p), 9);
    struct id_thread t[4];
    for (size_t j = 0; j < 4; j++) {
        t[j].k = k;
        t[j].p = p;
        t[j].bad = 0;
        for (size_t i = 0; i < 64; i++)
            assert_int_equal(bk_blob_id(k, p, i * 131, &t[j].want[i]), 0);
    }
    pthread_t th[4];
    for (size_t j = 0; j < 4; j++)
        assert_int_equal(pthread_create(&th[j], NULL, id_thread_run, &t[j]), 0);
    for (size_t j = 0; j < 4; j++) {
        pthread_join(th[j], NULL);
        assert_int_equal(t[j].bad, 0);
    }
    bk_keys_free(k);
}

static void seal_round_trip(bk_cipher cipher)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    k->cipher = cipher;
    uint8_t aes = cipher == BK_CIPHER_AES ? BK_ENC_AES : 0;
    bk_id id;
    th_id(&id, 1);
    size_t sizes[] = { 0, 1, 100, 65536, (1u << 20) + 13 };
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
        /* sealed in place (the payload where the box's ciphertext goes, as the writer
         * compresses into the box): the same box, opened alike */
        uint8_t *inplace = malloc(n + BK_SEAL_OVERHEAD);
        memcpy(inplace + BK_SEAL_HDR, p, n);
        bk_seal_to(k, BK_KIND_DATA, &id, BK_ENC_ZSTD, inplace + BK_SEAL_HDR, n, inplace);
        memset(back, 0, n + 1);
        assert_int_equal(bk_unseal(k, BK_KIND_DATA, &id, inplace, n + BK_SEAL_OVERHEAD, back,
                                   &enc, &len), 0);
        assert_int_equal(len, n);
        if (n)
            assert_memory_equal(back, p, n);
        free(inplace);
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


/* ---- the repository's key pair and backup-only keys ------------------------------------ */

/* The value of NAME in tests/data/keys.txt (a line "NAME HEX"), into out (hex). */
static void golden_line(const char *name, char *out, size_t len)
{
    uint8_t *txt;
    size_t n;
    assert_int_equal(th_read_data("keys.txt", &txt, &n), 0);
    char *s = calloc(1, n + 1), want[64];
    memcpy(s, txt, n);
    free(txt);
    snprintf(want, sizeof(want), "\n%s ", name);
    const char *p = strstr(s, want);
    if (!p)
        fail_msg("no %s in keys.txt", name);
    p += strlen(want);
    size_t k = strcspn(p, "\n");
    assert_true(k < len);
    memcpy(out, p, k);
    out[k] = 0;
    free(s);
}

static bk_keys *backup_keys_of(const bk_keys *full)
{
    uint8_t b[BK_BACKUP_KEYS_LEN];
    bk_keys *k;
    bk_keys_backup_bundle(full, b);
    assert_int_equal(bk_keys_from_backup_bundle(b, &k), 0);
    return k;
}

static void test_golden_pk_box(void **state)
{
    /* the key pair and the index key derived from the master, and a box to the public key
     * with a fixed ephemeral key and nonce, are part of the format */
    bk_keys *k = th_golden_keys();
    char hex[2 * 200 + 1], want[2 * 200 + 1];
    bk_hex(k->box_pk, BK_KEY_LEN, hex);
    golden_line("box-pk", want, sizeof(want));
    assert_string_equal(hex, want);
    bk_hex(k->index, BK_KEY_LEN, hex);
    golden_line("index", want, sizeof(want));
    assert_string_equal(hex, want);
    uint8_t esk[BK_KEY_LEN], nonce[BK_NONCE_LEN], box[5 + BK_PK_SEAL_OVERHEAD], out[5];
    for (size_t i = 0; i < sizeof(esk); i++)
        esk[i] = (uint8_t)(0x20 + i);
    for (size_t i = 0; i < sizeof(nonce); i++)
        nonce[i] = (uint8_t)(0x40 + i);
    bk_id id;
    assert_int_equal(bk_blob_id(k, "hello", 5, &id), 0);
    bk_seal_pk_with(k, BK_KIND_DATA, &id, BK_ENC_RAW, esk, nonce, "hello", 5, box);
    bk_hex(box, sizeof(box), hex);
    golden_line("pk-box-hello", want, sizeof(want));
    assert_string_equal(hex, want);
    uint8_t enc;
    size_t len;
    assert_int_equal(bk_unseal(k, BK_KIND_DATA, &id, box, sizeof(box), out, &enc, &len), 0);
    assert_int_equal(enc, BK_ENC_RAW);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(bk_box_payload_len(box, sizeof(box)), 5);
    bk_keys_free(k);
}

static void test_backup_only_keys(void **state)
{
    bk_keys *full = th_golden_keys();
    bk_keys *bo = backup_keys_of(full);
    assert_true(bo->backup_only);
    uint8_t zero[BK_KEY_LEN] = { 0 };
    /* none of the secrets that open data */
    assert_memory_equal(bo->master, zero, BK_KEY_LEN);
    assert_memory_equal(bo->aead, zero, BK_KEY_LEN);
    assert_memory_equal(bo->aes, zero, BK_KEY_LEN);
    assert_memory_equal(bo->box_sk, zero, BK_KEY_LEN);
    /* what adding backups needs: the same ids, chunker, index key, public key */
    assert_memory_equal(bo->id, full->id, BK_KEY_LEN);
    assert_memory_equal(bo->gear, full->gear, BK_KEY_LEN);
    assert_memory_equal(bo->index, full->index, BK_KEY_LEN);
    assert_memory_equal(bo->box_pk, full->box_pk, BK_KEY_LEN);

    uint8_t msg[300], box[300 + BK_PK_SEAL_OVERHEAD], out[300], enc;
    size_t len;
    th_fill(msg, sizeof(msg), 9);
    bk_id id;
    assert_int_equal(bk_blob_id(bo, msg, sizeof(msg), &id), 0);
    /* what the backup-only key seals: to the public key; only the full key opens it */
    assert_int_equal(bk_seal_overhead(bo, BK_ENC_ZSTD), BK_PK_SEAL_OVERHEAD);
    bk_seal_to(bo, BK_KIND_DATA, &id, BK_ENC_ZSTD, msg, sizeof(msg), box);
    assert_int_equal(box[0], BK_ENC_PK | BK_ENC_ZSTD);
    assert_int_equal(bk_unseal(bo, BK_KIND_DATA, &id, box, sizeof(box), out, &enc, &len), -EACCES);
    assert_int_equal(bk_unseal(full, BK_KIND_DATA, &id, box, sizeof(box), out, &enc, &len), 0);
    assert_int_equal(enc, BK_ENC_ZSTD);
    assert_int_equal(len, sizeof(msg));
    assert_memory_equal(out, msg, sizeof(msg));
    /* bound to kind and id; every flipped byte (the ephemeral key too) and a cut rejected */
    assert_int_equal(bk_unseal(full, BK_KIND_TREE, &id, box, sizeof(box), out, &enc, &len), -EBADMSG);
    bk_id other = id;
    other.b[0] ^= 1;
    assert_int_equal(bk_unseal(full, BK_KIND_DATA, &other, box, sizeof(box), out, &enc, &len), -EBADMSG);
    for (size_t i = 0; i < sizeof(box); i++) {
        box[i] ^= 0x01;
        assert_int_equal(bk_unseal(full, BK_KIND_DATA, &id, box, sizeof(box), out, &enc, &len), -EBADMSG);
        box[i] ^= 0x01;
    }
    assert_int_equal(bk_unseal(full, BK_KIND_DATA, &id, box, sizeof(box) - 1, out, &enc, &len), -EBADMSG);
    /* another repository's full key does not open it */
    bk_keys *stranger;
    assert_int_equal(bk_keys_new_random(&stranger), 0);
    assert_int_equal(bk_unseal(stranger, BK_KIND_DATA, &id, box, sizeof(box), out, &enc, &len), -EBADMSG);
    /* two boxes of the same payload differ (a new ephemeral key each) */
    uint8_t box2[sizeof(box)];
    bk_seal_to(bo, BK_KIND_DATA, &id, BK_ENC_ZSTD, msg, sizeof(msg), box2);
    assert_memory_not_equal(box, box2, sizeof(box));

    /* what a full key seals for itself, the backup-only key cannot open */
    uint8_t fbox[300 + BK_SEAL_OVERHEAD];
    bk_seal_to(full, BK_KIND_DATA, &id, BK_ENC_RAW, msg, sizeof(msg), fbox);
    assert_int_equal(bk_unseal(bo, BK_KIND_DATA, &id, fbox, sizeof(fbox), out, &enc, &len), -EACCES);
    /* boxes under the index key: both open them, nobody else */
    uint8_t ibox[300 + BK_SEAL_OVERHEAD];
    assert_int_equal(bk_seal_overhead(bo, BK_ENC_INDEX), BK_SEAL_OVERHEAD);
    for (int who = 0; who < 2; who++) {
        bk_seal_to(who ? bo : full, BK_KIND_INDEX, NULL, BK_ENC_INDEX | BK_ENC_RAW, msg, sizeof(msg), ibox);
        assert_int_equal(ibox[0], BK_ENC_INDEX);
        for (int reader = 0; reader < 2; reader++) {
            memset(out, 0, sizeof(out));
            assert_int_equal(bk_unseal(reader ? bo : full, BK_KIND_INDEX, NULL, ibox, sizeof(ibox), out,
                                       &enc, &len), 0);
            assert_int_equal(enc, BK_ENC_RAW);
            assert_memory_equal(out, msg, sizeof(msg));
        }
        assert_int_equal(bk_unseal(stranger, BK_KIND_INDEX, NULL, ibox, sizeof(ibox), out, &enc, &len), -EBADMSG);
        ibox[sizeof(ibox) - 1] ^= 1;
        assert_int_equal(bk_unseal(full, BK_KIND_INDEX, NULL, ibox, sizeof(ibox), out, &enc, &len), -EBADMSG);
    }
    /* a box that claims both the public key and the index key is none of ours */
    box[0] |= BK_ENC_INDEX;
    assert_int_equal(bk_unseal(full, BK_KIND_DATA, &id, box, sizeof(box), out, &enc, &len), -EBADMSG);
    bk_keys_free(stranger);
    bk_keys_free(bo);
    bk_keys_free(full);
}

static void test_keyslot_backup_only(void **state)
{
    bk_keys *full = th_golden_keys();
    bk_buf slot = BK_BUF_INIT;
    assert_int_equal(bk_keyslot_create_backup(full, "web01", (const uint8_t *)"{}", 2, "pw", 2, &cheap, "h", "u", TH_GOLDEN_TIME, &slot), 0);
    bk_keyslot_info info;
    assert_int_equal(bk_keyslot_parse_info(slot.data, slot.len, &info), 0);
    assert_true(info.backup_only);
    assert_string_equal(info.backup_host, "web01");
    bk_keys *k = NULL;
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "wrong", 5, &k), -EKEYREJECTED);
    assert_int_equal(bk_keyslot_open(slot.data, slot.len, "pw", 2, &k), 0);
    assert_true(k->backup_only);
    assert_string_equal(k->backup_host, "web01");
    assert_int_equal(k->backup_config_len, 2);
    assert_memory_equal(k->backup_config, "{}", 2);
    uint8_t zero[BK_KEY_LEN] = { 0 };
    assert_memory_equal(k->master, zero, BK_KEY_LEN);
    assert_memory_equal(k->box_sk, zero, BK_KEY_LEN);
    assert_memory_equal(k->id, full->id, BK_KEY_LEN);
    assert_memory_equal(k->box_pk, full->box_pk, BK_KEY_LEN);
    /* a backup-only key makes no slot of either kind */
    bk_buf again = BK_BUF_INIT;
    assert_int_equal(bk_keyslot_create(k, "x", 1, &cheap, "h", "u", TH_GOLDEN_TIME, &again), -EPERM);
    assert_int_equal(bk_keyslot_create_backup(k, "", NULL, 0, "x", 1, &cheap, "h", "u", TH_GOLDEN_TIME, &again), -EPERM);
    bk_buf_free(&again);
    bk_keys_free(k);
    /* any host; and a full slot says it is not backup-only */
    bk_buf any = BK_BUF_INIT, fs = BK_BUF_INIT;
    assert_int_equal(bk_keyslot_create_backup(full, NULL, NULL, 0, "pw", 2, &cheap, "h", "u", TH_GOLDEN_TIME, &any), 0);
    assert_int_equal(bk_keyslot_open(any.data, any.len, "pw", 2, &k), 0);
    assert_string_equal(k->backup_host, "");
    assert_int_equal(k->backup_config_len, 0);
    bk_keys_free(k);
    assert_int_equal(bk_keyslot_create(full, "pw", 2, &cheap, "h", "u", TH_GOLDEN_TIME, &fs), 0);
    assert_int_equal(bk_keyslot_parse_info(fs.data, fs.len, &info), 0);
    assert_false(info.backup_only);
    /* a kind this version does not know */
    char *doc = calloc(1, fs.len + 64);
    const char *p = strstr((char *)fs.data, "\"version\"");
    assert_non_null(p);
    snprintf(doc, fs.len + 64, "{\"kind\": \"read-only\", %.*s", (int)(fs.len - (size_t)(p - (char *)fs.data)), p);
    assert_int_equal(bk_keyslot_parse_info(doc, strlen(doc), &info), -EPROTONOSUPPORT);
    assert_int_equal(bk_keyslot_open(doc, strlen(doc), "pw", 2, &k), -EPROTONOSUPPORT);
    free(doc);
    bk_buf_free(&any);
    bk_buf_free(&fs);
    bk_buf_free(&slot);
    bk_keys_free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_keys),
        cmocka_unit_test(test_blob_ids_keyed),
        cmocka_unit_test(test_hmac_sha256_ids),
        cmocka_unit_test(test_object_names),
        cmocka_unit_test(test_id_functions_differ),
        cmocka_unit_test(test_hmac_threads),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_rejects),
        cmocka_unit_test(test_seal_round_trip_aes),
        cmocka_unit_test(test_seal_rejects_aes),
        cmocka_unit_test(test_keyslot_round_trip),
        cmocka_unit_test(test_keyslot_malformed),
        cmocka_unit_test(test_keyslot_golden),
        cmocka_unit_test(test_golden_pk_box),
        cmocka_unit_test(test_backup_only_keys),
        cmocka_unit_test(test_keyslot_backup_only),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
