/* test-pack.c - packs: packer round trip, header parsing from a short tail (-EAGAIN and
 * the bytes needed), verification catching any flipped byte, truncated and garbage packs,
 * the plaintext header decoder, and the golden pack made with the golden master key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compress.h"
#include "helpers.h"
#include "pack.h"

/* A pack of nblobs raw blobs of various sizes; returns the plaintexts' ids in order. */
static void make_pack(const bk_keys *k, size_t nblobs, bk_packer *pk, bk_id *ret_pack)
{
    memset(pk, 0, sizeof(*pk));
    for (size_t i = 0; i < nblobs; i++) {
        size_t n = 10 + i * 37;
        uint8_t *p = malloc(n);
        th_fill(p, n, i);
        bk_id id;
        assert_int_equal(bk_blob_id(k, p, n, &id), 0);
        uint8_t kind = i % 3 == 2 ? BK_KIND_TREE : BK_KIND_DATA;
        bk_buf box = BK_BUF_INIT;
        assert_int_equal(bk_seal(k, (bk_kind)kind, &id, BK_ENC_RAW, p, n, &box), 0);
        assert_int_equal(bk_packer_add(pk, kind, &id, box.data, box.len, (uint32_t)n), 0);
        bk_buf_free(&box);
        free(p);
    }
    assert_int_equal(bk_packer_finish(pk, k, ret_pack), 0);
}

static void test_round_trip(void **state)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    bk_packer pk;
    bk_id pid, h;
    make_pack(k, 5, &pk, &pid);
    assert_int_equal(bk_obj_hash(k, pk.data.data, pk.data.len, &h), 0);
    assert_memory_equal(pid.b, h.b, BK_ID_LEN);   /* named by its hash */

    bk_pack_entry *e;
    size_t n, need = 0;
    assert_int_equal(bk_pack_parse_header(k, pk.data.data, pk.data.len, pk.data.len, &e, &n, &need),
                     0);
    assert_int_equal(n, 5);
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(&e[i].id, &pk.entries[i].id, BK_ID_LEN);
        assert_int_equal(e[i].kind, pk.entries[i].kind);
        assert_int_equal(e[i].offset, off);
        assert_int_equal(e[i].stored_len, pk.entries[i].stored_len);
        assert_int_equal(e[i].raw_len, 10 + i * 37);
        assert_int_equal(e[i].stored_len, e[i].raw_len + BK_SEAL_OVERHEAD);
        /* each blob opens where the header says it is */
        uint8_t *dst = malloc(e[i].raw_len), enc;
        size_t len;
        assert_int_equal(bk_unseal(k, (bk_kind)e[i].kind, &e[i].id, pk.data.data + e[i].offset,
                                   e[i].stored_len, dst, &enc, &len), 0);
        free(dst);
        off += e[i].stored_len;
    }
    free(e);
    assert_int_equal(bk_pack_verify(k, pk.data.data, pk.data.len), 0);

    /* reset and reuse */
    bk_packer_reset(&pk);
    assert_int_equal(pk.data.len, 0);
    assert_int_equal(bk_packer_finish(&pk, k, &pid), 0);   /* an empty pack is valid */
    assert_int_equal(bk_pack_parse_header(k, pk.data.data, pk.data.len, pk.data.len, &e, &n, &need),
                     0);
    assert_int_equal(n, 0);
    free(e);
    assert_int_equal(bk_pack_verify(k, pk.data.data, pk.data.len), 0);
    bk_packer_free(&pk);
    bk_packer_free(&pk);
    bk_keys_free(k);
}

static void test_short_tail(void **state)
{
    bk_keys *k;
    assert_int_equal(bk_keys_new_random(&k), 0);
    bk_packer pk;
    bk_id pid;
    make_pack(k, 7, &pk, &pid);
    const uint8_t *d = pk.data.data;
    size_t len = pk.data.len;
    uint32_t hlen = bk_get_le32(d + len - 4);
    assert_int_equal(hlen, 5 + 7 * BK_PACK_ENTRY_SIZE + BK_SEAL_OVERHEAD);
    bk_pack_entry *e = NULL;
    size_t n, need;
    for (size_t tail = 4; tail < hlen + 4; tail++) {
        need = 0;
        assert_int_equal(bk_pack_parse_header(k, d + len - tail, tail, len, &e, &n, &need), -EAGAIN);
        assert_int_equal(need, hlen + 4);
    }
    /* exactly the need, or more, parses */
    assert_int_equal(bk_pack_parse_header(k, d + len - (hlen + 4), hlen + 4, len, &e, &n, &need), 0);
    assert_int_equal(n, 7);
    free(e);
    assert_int_equal(bk_pack_parse_header(k, d + len - (hlen + 10), hlen + 10, len, &e, &n, &need),
                     0);
    free(e);
    /* fewer than 4 bytes, or a tail longer than the pack */
    assert_int_equal(bk_pack_parse_header(k, d + len - 3, 3, len, &e, &n, &need), -EBADMSG);
    assert_int_equal(bk_pack_parse_header(k, d, len, len - 1, &e, &n, &need), -EBADMSG);
    /* a pack size that the header does not tile */
    assert_int_equal(bk_pack_parse_header(k, d + 1, len - 1, len - 1, &e, &n, &need), -EBADMSG);
    assert_int_equal(bk_pack_parse_header(k, d, len, len + 1, &e, &n, &need), -EBADMSG);
    /* a header length larger than the pack */
    uint8_t t[8] = { 0 };
    bk_put_le32(t + 4, 1000);
    assert_int_equal(bk_pack_parse_header(k, t, 8, 500, &e, &n, &need), -EBADMSG);
    bk_put_le32(t + 4, 10);   /* smaller than any sealed header */
    assert_int_equal(bk_pack_parse_header(k, t, 8, 500, &e, &n, &need), -EBADMSG);
    bk_packer_free(&pk);
    bk_keys_free(k);
}

static void test_verify_detects(void **state)
{
    bk_keys *k, *other;
    assert_int_equal(bk_keys_new_random(&k), 0);
    assert_int_equal(bk_keys_new_random(&other), 0);
    bk_packer pk;
    bk_id pid;
    make_pack(k, 4, &pk, &pid);
    uint8_t *d = pk.data.data;
    size_t len = pk.data.len;
    /* every byte, blobs, header box and length alike */
    for (size_t i = 0; i < len; i++) {
        d[i] ^= 0x20;
        assert_int_equal(bk_pack_verify(k, d, len), -EBADMSG);
        d[i] ^= 0x20;
    }
    assert_int_equal(bk_pack_verify(k, d, len), 0);
    assert_int_equal(bk_pack_verify(other, d, len), -EBADMSG);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(bk_pack_verify(k, d, cut), -EBADMSG);              /* tail cut */
        assert_int_equal(bk_pack_verify(k, d + len - cut, cut), -EBADMSG);  /* head cut */
    }
    /* garbage of many sizes */
    for (size_t n = 0; n < 600; n += 13) {
        uint8_t *g = malloc(n + 1);
        th_fill(g, n, n);
        assert_int_equal(bk_pack_verify(k, g, n), -EBADMSG);
        free(g);
    }
    bk_packer_free(&pk);
    bk_keys_free(k);
    bk_keys_free(other);
}

/* A header plaintext with count entries of the given kind and stored length. */
static void header_plain(bk_buf *b, uint8_t version, uint32_t count, uint8_t kind, uint32_t stored)
{
    assert_int_equal(bk_buf_put_u8(b, version), 0);
    assert_int_equal(bk_buf_put_le32(b, count), 0);
    for (uint32_t i = 0; i < count; i++) {
        bk_id id;
        th_id(&id, i);
        assert_int_equal(bk_buf_put_u8(b, kind), 0);
        assert_int_equal(bk_buf_put_le32(b, stored), 0);
        assert_int_equal(bk_buf_put_le32(b, stored - BK_SEAL_OVERHEAD), 0);
        assert_int_equal(bk_buf_append(b, id.b, BK_ID_LEN), 0);
    }
}

static void test_header_decode(void **state)
{
    bk_buf b = BK_BUF_INIT;
    bk_pack_entry *e;
    size_t n;
    header_plain(&b, BK_PACK_HEADER_VERSION, 3, BK_KIND_DATA, 100);
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 300, &e, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(e[2].offset, 200);
    assert_int_equal(e[2].raw_len, 100 - BK_SEAL_OVERHEAD);
    free(e);
    /* the blobs must tile the body exactly */
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 299, &e, &n), -EBADMSG);
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 301, &e, &n), -EBADMSG);
    /* count disagreeing with the entries, truncations, a trailing byte */
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(bk_pack_header_decode(b.data, cut, 300, &e, &n), -EBADMSG);
    assert_int_equal(bk_buf_put_u8(&b, 0), 0);
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 300, &e, &n), -EBADMSG);
    bk_buf_free(&b);

    header_plain(&b, 2, 1, BK_KIND_DATA, 100);   /* unknown version */
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 100, &e, &n), -EBADMSG);
    bk_buf_free(&b);
    header_plain(&b, 1, 1, BK_KIND_INDEX, 100);   /* not a blob kind */
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 100, &e, &n), -EBADMSG);
    bk_buf_free(&b);
    header_plain(&b, 1, 1, 0, 100);
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 100, &e, &n), -EBADMSG);
    bk_buf_free(&b);
    header_plain(&b, 1, 1, BK_KIND_TREE, BK_SEAL_OVERHEAD - 1);   /* shorter than a box */
    assert_int_equal(bk_pack_header_decode(b.data, b.len, BK_SEAL_OVERHEAD - 1, &e, &n), -EBADMSG);
    bk_buf_free(&b);
    /* offsets past 4 GiB */
    header_plain(&b, 1, 3, BK_KIND_DATA, 0x7fffffff);
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 3ull * 0x7fffffff, &e, &n), -EBADMSG);
    bk_buf_free(&b);
    header_plain(&b, 1, 2, BK_KIND_DATA, 0x7fffffff);
    assert_int_equal(bk_pack_header_decode(b.data, b.len, 2ull * 0x7fffffff, &e, &n), 0);
    free(e);
    bk_buf_free(&b);
    /* a count that would overflow a naive size computation */
    uint8_t huge[5] = { 1, 0xff, 0xff, 0xff, 0xff };
    assert_int_equal(bk_pack_header_decode(huge, sizeof(huge), 0, &e, &n), -EBADMSG);
    /* empty */
    uint8_t none[5] = { 1, 0, 0, 0, 0 };
    assert_int_equal(bk_pack_header_decode(none, sizeof(none), 0, &e, &n), 0);
    assert_int_equal(n, 0);
    free(e);
    assert_int_equal(bk_pack_header_decode(none, 0, 0, &e, &n), -EBADMSG);
}

static void test_golden_pack(void **state)
{
    bk_keys *k = th_golden_keys();
    uint8_t *pack;
    size_t len;
    assert_int_equal(th_read_data("pack.bin", &pack, &len), 0);
    assert_int_equal(bk_pack_verify(k, pack, len), 0);
    bk_pack_entry *e;
    size_t n, need;
    assert_int_equal(bk_pack_parse_header(k, pack, len, len, &e, &n, &need), 0);
    assert_int_equal(n, TH_PACK_BLOBS);
    bk_zctx *z = bk_zctx_new(0);
    bool saw_zstd = false, saw_raw = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t *want, kind;
        size_t wlen;
        th_pack_blob(i, &want, &wlen, &kind);
        bk_id id;
        assert_int_equal(bk_blob_id(k, want, wlen, &id), 0);
        assert_memory_equal(e[i].id.b, id.b, BK_ID_LEN);   /* keyed ids are stable */
        assert_int_equal(e[i].kind, kind);
        assert_int_equal(e[i].raw_len, wlen);
        saw_zstd |= pack[e[i].offset] == BK_ENC_ZSTD;
        saw_raw |= pack[e[i].offset] == BK_ENC_RAW;
        uint8_t *got = malloc(wlen);
        assert_int_equal(bk_blob_decode(k, z, kind, &id, pack + e[i].offset, e[i].stored_len, got,
                                        wlen), 0);
        assert_memory_equal(got, want, wlen);
        /* under another kind or id it does not open */
        assert_int_equal(bk_blob_decode(k, z, kind == BK_KIND_DATA ? BK_KIND_TREE : BK_KIND_DATA,
                                        &id, pack + e[i].offset, e[i].stored_len, got, wlen),
                         -EBADMSG);
        free(got);
        free(want);
    }
    assert_true(saw_zstd && saw_raw);
    free(e);
    bk_zctx_free(z);
    free(pack);
    bk_keys_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_short_tail),
        cmocka_unit_test(test_verify_detects),
        cmocka_unit_test(test_header_decode),
        cmocka_unit_test(test_golden_pack),
    };
    if (bk_crypto_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
