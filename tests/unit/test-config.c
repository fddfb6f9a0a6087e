/* test-config.c - the repository config document: golden vector (checked against what
 * bk_repo_init writes), and bk_config_decode refusing unknown versions and features and
 * invalid parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "helpers.h"
#include "repo.h"

static void test_golden(void **state)
{
    bk_config want, got;
    th_golden_config(&want);
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("config.json", &file, &len), 0);
    assert_int_equal(bk_config_decode(file, len, &got), 0);
    assert_int_equal(got.version, want.version);
    assert_string_equal(got.id, want.id);
    assert_int_equal(got.chunk_min, want.chunk_min);
    assert_int_equal(got.chunk_avg, want.chunk_avg);
    assert_int_equal(got.chunk_max, want.chunk_max);
    assert_int_equal(got.pack_size, want.pack_size);
    assert_int_equal(got.compression, want.compression);
    assert_int_equal(got.cipher, BK_CIPHER_XCHACHA);
    assert_int_equal(got.id_hash, BK_ID_HASH_BLAKE2B);   /* the golden config has no feature */

    /* what a new repository writes is byte for byte the golden document (but its id) */
    uint8_t *made;
    size_t mlen;
    assert_int_equal(th_repo_config_plain(&want, &made, &mlen), 0);
    assert_int_equal(mlen, len);
    assert_memory_equal(made, file, len);
    free(made);
    free(file);
}

static void test_other_params(void **state)
{
    bk_config want, got;
    th_golden_config(&want);
    want.chunk_min = 64;
    want.chunk_avg = 256;
    want.chunk_max = BK_CHUNK_SIZE_LIMIT;
    want.pack_size = BK_PACK_SIZE_MIN;
    want.compression = 0;
    uint8_t *made;
    size_t mlen;
    assert_int_equal(th_repo_config_plain(&want, &made, &mlen), 0);
    assert_int_equal(bk_config_decode(made, mlen, &got), 0);
    assert_int_equal(got.chunk_min, 64);
    assert_int_equal(got.chunk_avg, 256);
    assert_int_equal(got.chunk_max, BK_CHUNK_SIZE_LIMIT);
    assert_int_equal(got.pack_size, BK_PACK_SIZE_MIN);
    assert_int_equal(got.compression, 0);
    assert_int_equal(got.cipher, BK_CIPHER_XCHACHA);
    assert_string_equal(got.id, want.id);
    free(made);
}

/* AES-256-GCM is a feature of the config: an older reader refuses the repository */
static void test_cipher_aes(void **state)
{
    if (!bk_cipher_aes_available())
        skip();
    bk_config want, got;
    th_golden_config(&want);
    want.cipher = BK_CIPHER_AES;
    uint8_t *made;
    size_t mlen;
    assert_int_equal(th_repo_config_plain(&want, &made, &mlen), 0);
    const char *feature = "\"features\":[\"aes-256-gcm\"]";
    assert_non_null(memmem(made, mlen, feature, strlen(feature)));
    assert_int_equal(bk_config_decode(made, mlen, &got), 0);
    assert_int_equal(got.cipher, BK_CIPHER_AES);
    free(made);
}

/* HMAC-SHA-256 ids are a feature of the config, with or without AES-256-GCM */
static void test_id_hash_hmac(void **state)
{
    for (int aes = 0; aes < 2; aes++) {
        if (aes && !bk_cipher_aes_available())
            continue;
        bk_config want, got;
        th_golden_config(&want);
        want.cipher = aes ? BK_CIPHER_AES : BK_CIPHER_XCHACHA;
        want.id_hash = BK_ID_HASH_HMAC_SHA256;
        uint8_t *made;
        size_t mlen;
        assert_int_equal(th_repo_config_plain(&want, &made, &mlen), 0);
        const char *feature = aes ? "\"features\":[\"aes-256-gcm\",\"hmac-sha256\"]"
                                  : "\"features\":[\"hmac-sha256\"]";
        assert_non_null(memmem(made, mlen, feature, strlen(feature)));
        assert_int_equal(bk_config_decode(made, mlen, &got), 0);
        assert_int_equal(got.id_hash, BK_ID_HASH_HMAC_SHA256);
        assert_int_equal(got.cipher, want.cipher);
        free(made);
    }
    /* BLAKE2b, asked for: no feature, as every repository before it */
    bk_config want, got;
    th_golden_config(&want);
    want.id_hash = BK_ID_HASH_BLAKE2B;
    uint8_t *made;
    size_t mlen;
    assert_int_equal(th_repo_config_plain(&want, &made, &mlen), 0);
    assert_non_null(memmem(made, mlen, "\"features\":[]", 13));
    assert_int_equal(bk_config_decode(made, mlen, &got), 0);
    assert_int_equal(got.id_hash, BK_ID_HASH_BLAKE2B);
    free(made);
}

#define ID "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""

static int decode(const char *fmt, const char *version, const char *id, const char *features,
                  const char *chunker, const char *pack, const char *comp)
{
    char *doc;
    assert_true(asprintf(&doc, fmt, version, id, features, chunker, pack, comp) > 0);
    bk_config c;
    int r = bk_config_decode((const uint8_t *)doc, strlen(doc), &c);
    free(doc);
    return r;
}

static const char *const fmt = "{\"version\":%s,\"id\":%s,\"features\":%s,\"chunker\":%s,"
                               "\"pack_size\":%s,\"compression\":%s}";
static const char *const good_chunker = "{\"min\":524288,\"avg\":1048576,\"max\":8388608}";

static void test_decode_cases(void **state)
{
    struct {
        const char *version, *id, *features, *chunker, *pack, *comp;
        int want;
    } cases[] = {
        { "1", ID, "[]", NULL, "16777216", "3", 0 },
        { "2", ID, "[]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "0", ID, "[]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "[\"sha3\"]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "[\"hmac-sha256\"]", NULL, "16777216", "3", 0 },
        { "1", ID, "[\"hmac-sha256\",\"aes-256-gcm\"]", NULL, "16777216", "3", 0 },
        { "1", ID, "[\"hmac-sha256\",\"hmac-sha512\"]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "[\"HMAC-SHA256\"]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "[\"hmac-sha256 \"]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "[\"\"]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "[1]", NULL, "16777216", "3", -EPROTONOSUPPORT },
        { "1", ID, "{}", NULL, "16777216", "3", -EBADMSG },
        { "1", ID, "\"x\"", NULL, "16777216", "3", -EBADMSG },
        /* chunker parameters */
        { "1", ID, "[]", "{\"min\":524288,\"avg\":1000000,\"max\":8388608}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":1048576,\"avg\":1048576,\"max\":8388608}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":524288,\"avg\":1048576,\"max\":1048576}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":524288,\"avg\":1048576,\"max\":67108865}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":32,\"avg\":1048576,\"max\":8388608}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":-1,\"avg\":1048576,\"max\":8388608}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":524288,\"avg\":-9223372036854775808,\"max\":8388608}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":524288,\"avg\":4294967296,\"max\":8589934592}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":524288,\"avg\":1048576}", "16777216", "3", -EBADMSG },
        { "1", ID, "[]", "{\"min\":524288,\"avg\":1048576,\"max\":\"8M\"}", "16777216", "3", -EBADMSG },
        /* pack size and compression */
        { "1", ID, "[]", NULL, "1048575", "3", -EBADMSG },
        { "1", ID, "[]", NULL, "1073741825", "3", -EBADMSG },
        { "1", ID, "[]", NULL, "1048576", "0", 0 },
        { "1", ID, "[]", NULL, "1073741824", "19", 0 },
        { "1", ID, "[]", NULL, "16777216", "20", -EBADMSG },
        { "1", ID, "[]", NULL, "16777216", "-1", -EBADMSG },
        { "1", ID, "[]", NULL, "16777216", "3.0", -EBADMSG },
        /* the id */
        { "1", "\"0123\"", "[]", NULL, "16777216", "3", -EBADMSG },
        { "1", "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"", "[]", NULL,
          "16777216", "3", -EBADMSG },
        { "1", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"", "[]", NULL,
          "16777216", "3", -EBADMSG },
        { "1", "null", "[]", NULL, "16777216", "3", -EBADMSG },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(cases); i++) {
        int r = decode(fmt, cases[i].version, cases[i].id, cases[i].features,
                       cases[i].chunker ? cases[i].chunker : good_chunker, cases[i].pack,
                       cases[i].comp);
        if (r != cases[i].want)
            fail_msg("case %zu: %d, want %d", i, r, cases[i].want);
    }
}

static void test_decode_garbage(void **state)
{
    bk_config c;
    static const char *const junk[] = { "", "{", "[]", "null", "{}", "config", "{\"version\":1}" };
    for (size_t i = 0; i < BK_ELEMENTSOF(junk); i++)
        assert_int_equal(bk_config_decode((const uint8_t *)junk[i], strlen(junk[i]), &c), -EBADMSG);
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("config.json", &file, &len), 0);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(bk_config_decode(file, cut, &c), -EBADMSG);
    free(file);
    for (uint64_t s = 0; s < 300; s++) {
        uint8_t g[64];
        th_fill(g, sizeof(g), s);
        assert_int_equal(bk_config_decode(g, s % sizeof(g), &c), -EBADMSG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_other_params),
        cmocka_unit_test(test_cipher_aes),
        cmocka_unit_test(test_id_hash_hmac),
        cmocka_unit_test(test_decode_cases),
        cmocka_unit_test(test_decode_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
