/* test-index.c - index objects: golden vector, encode/decode round trip, merging into the
 * in-memory index and lookups, a backup's additions folded into runs on disk (found
 * there, iterated once each, RAM bounded), and truncated, garbage or invalid objects
 * rejected. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"
#include "index.h"

static void test_golden(void **state)
{
    bk_index_obj o, d;
    th_golden_index(&o);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_index_obj_encode(&o, &b), 0);
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("index.bin", &file, &len), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, file, len);
    assert_int_equal(bk_index_obj_decode(file, len, &d), 0);
    assert_true(th_index_obj_equal(&o, &d));
    bk_index_obj_free(&d);
    bk_index_obj_free(&o);
    bk_index_obj_free(NULL);
    bk_buf_free(&b);
    free(file);
}

static void test_round_trip_empty(void **state)
{
    bk_index_obj o = { 0 }, d;
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_index_obj_encode(&o, &b), 0);
    static const uint8_t want[] = { BK_INDEX_VERSION, 0, 0 };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(bk_index_obj_decode(b.data, b.len, &d), 0);
    assert_int_equal(d.npacks, 0);
    assert_int_equal(d.nsupersedes, 0);
    bk_index_obj_free(&d);
    bk_buf_free(&b);
}

static void test_round_trip_large(void **state)
{
    /* many packs and blobs, values at the varint boundaries */
    bk_index_obj o = { 0 }, d;
    o.npacks = 50;
    o.packs = calloc(o.npacks, sizeof(*o.packs));
    uint64_t st = 77;
    for (size_t i = 0; i < o.npacks; i++) {
        bk_index_pack *p = &o.packs[i];
        th_id(&p->id, 1000 + i);
        p->n = i * 7;
        p->blobs = calloc(p->n + 1, sizeof(*p->blobs));
        for (size_t j = 0; j < p->n; j++) {
            bk_pack_entry *e = &p->blobs[j];
            th_id(&e->id, 100000 + i * 1000 + j);
            e->kind = th_rand(&st) & 1 ? BK_KIND_DATA : BK_KIND_TREE;
            e->stored_len = BK_SEAL_OVERHEAD + (uint32_t)(th_rand(&st) % 5000000);
            e->offset = (uint32_t)(th_rand(&st) % (UINT32_MAX - e->stored_len));
            e->raw_len = (uint32_t)th_rand(&st);
        }
    }
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_index_obj_encode(&o, &b), 0);
    assert_int_equal(bk_index_obj_decode(b.data, b.len, &d), 0);
    assert_true(th_index_obj_equal(&o, &d));
    bk_index_obj_free(&d);
    bk_index_obj_free(&o);
    bk_buf_free(&b);
}

static void test_merge_lookup(void **state)
{
    bk_index_obj o;
    th_golden_index(&o);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_index_obj_encode(&o, &b), 0);
    bk_index idx;
    bk_index_init(&idx);
    assert_int_equal(bk_index_merge_plain(&idx, b.data, b.len), 0);
    assert_int_equal(idx.npacks, o.npacks);
    for (size_t i = 0; i < o.npacks; i++)
        for (size_t j = 0; j < o.packs[i].n; j++) {
            const bk_pack_entry *e = &o.packs[i].blobs[j];
            bk_index_entry xe, *x = &xe;
            bk_id pid;
            assert_true(bk_index_lookup(&idx, &e->id, x));
            assert_int_equal(bk_index_pack_id(&idx, x->pack, &pid), 0);
            assert_memory_equal(pid.b, o.packs[i].id.b, BK_ID_LEN);
            assert_int_equal(x->offset, e->offset);
            assert_int_equal(x->stored_len, e->stored_len);
            assert_int_equal(x->raw_len, e->raw_len);
            assert_int_equal(x->kind, e->kind);
        }
    bk_id absent;
    th_id(&absent, 999999);
    bk_index_entry xe, *x = &xe;
    assert_false(bk_index_lookup(&idx, &absent, x));

    /* a second object: a known pack again, a blob known already (first location wins) and
     * a new blob */
    bk_index_obj o2 = { 0 };
    o2.npacks = 2;
    o2.packs = calloc(2, sizeof(*o2.packs));
    o2.packs[0].id = o.packs[0].id;
    th_id(&o2.packs[1].id, 777);
    o2.packs[1].n = 2;
    o2.packs[1].blobs = calloc(2, sizeof(bk_pack_entry));
    o2.packs[1].blobs[0] = o.packs[0].blobs[0];
    o2.packs[1].blobs[0].offset = 12345;
    bk_pack_entry *fresh = &o2.packs[1].blobs[1];
    th_id(&fresh->id, 778);
    fresh->kind = BK_KIND_TREE;
    fresh->offset = 99;
    fresh->stored_len = 100;
    fresh->raw_len = 1000;
    bk_buf b2 = BK_BUF_INIT;
    assert_int_equal(bk_index_obj_encode(&o2, &b2), 0);
    assert_int_equal(bk_index_merge_plain(&idx, b2.data, b2.len), 0);
    assert_int_equal(idx.npacks, o.npacks + 1);
    bk_id pid;
    assert_true(bk_index_lookup(&idx, &o.packs[0].blobs[0].id, x));
    assert_int_equal(x->offset, o.packs[0].blobs[0].offset);
    assert_int_equal(bk_index_pack_id(&idx, x->pack, &pid), 0);
    assert_memory_equal(pid.b, o.packs[0].id.b, BK_ID_LEN);
    assert_true(bk_index_lookup(&idx, &fresh->id, x));
    assert_int_equal(x->offset, 99);
    assert_int_equal(bk_index_pack_id(&idx, x->pack, &pid), 0);
    assert_memory_equal(pid.b, o2.packs[1].id.b, BK_ID_LEN);
    assert_int_equal(bk_index_pack_id(&idx, (uint32_t)idx.npacks, &pid), -ENOENT);
    /* merging the same object again changes nothing */
    size_t count = idx.blobs.count;
    assert_int_equal(bk_index_merge_plain(&idx, b.data, b.len), 0);
    assert_int_equal(idx.blobs.count, count);
    assert_int_equal(idx.npacks, o.npacks + 1);

    /* pack numbers */
    uint32_t no;
    assert_int_equal(bk_index_add_pack(&idx, &o2.packs[1].id, &no), 0);
    assert_int_equal(no, o.npacks);
    bk_index_free(&idx);
    bk_index_obj_free(&o);
    bk_index_obj_free(&o2);
    bk_buf_free(&b);
    bk_buf_free(&b2);
}

static void test_many_packs(void **state)
{
    bk_index idx;
    bk_index_init(&idx);
    for (uint32_t i = 0; i < 5000; i++) {
        bk_id id;
        uint32_t no;
        th_id(&id, i);
        assert_int_equal(bk_index_add_pack(&idx, &id, &no), 0);
        assert_int_equal(no, i);
        bk_pack_entry e = { .kind = BK_KIND_DATA, .offset = i, .stored_len = 50, .raw_len = 9 };
        th_id(&e.id, 1u << 20 | i);
        assert_int_equal(bk_index_add(&idx, no, &e), 0);
    }
    for (uint32_t i = 0; i < 5000; i += 17) {
        bk_id id;
        th_id(&id, 1u << 20 | i);
        bk_index_entry x;
        assert_true(bk_index_lookup(&idx, &id, &x));
        assert_int_equal(x.pack, i);
        th_id(&id, i);
        bk_id pid;
        assert_int_equal(bk_index_pack_id(&idx, i, &pid), 0);
        assert_memory_equal(pid.b, id.b, BK_ID_LEN);
    }
    bk_index_free(&idx);
}

static int count_cb(const bk_id *id, void *ctx)
{
    (*(int *)ctx)++;
    return 0;
}

static int stop_pack(const bk_id *pack, size_t nblobs, void *ctx)
{
    return -ECANCELED;
}

/* Additions past spill_at go to runs on disk, merged as a binary counter: every blob is
 * found (with its pack), absent ones are not, iteration yields each once, the RAM part
 * never holds spill_at entries after a spill, and the runs stay few. */
static void test_spill_runs(void **state)
{
    char *dir = th_tmpdir();
    bk_index idx;
    bk_index_init(&idx);
    assert_int_equal(bk_index_spill_setup(&idx, dir, 100), 0);
    enum { N = 2500, PACKS = 40 };
    for (uint32_t i = 0; i < PACKS; i++) {
        bk_id pid;
        uint32_t no;
        th_id(&pid, 500000 + i);
        assert_int_equal(bk_index_add_pack(&idx, &pid, &no), 0);
        assert_int_equal(no, i);
    }
    size_t most_runs = 0;
    for (uint32_t i = 0; i < N; i++) {
        bk_pack_entry e = { .kind = i % 5 ? BK_KIND_DATA : BK_KIND_TREE, .offset = i,
                            .stored_len = 10 + i, .raw_len = 20 + i };
        th_id(&e.id, i);
        assert_int_equal(bk_index_add(&idx, i % PACKS, &e), 0);
        if (i % 37 == 0) {   /* as the writer does: after a batch of additions */
            assert_int_equal(bk_index_maybe_spill(&idx), 0);
            assert_true(idx.blobs.count < 100);
            most_runs = idx.nruns > most_runs ? idx.nruns : most_runs;
        }
    }
    assert_int_equal(bk_index_maybe_spill(&idx), 0);
    assert_true(idx.nruns >= 2);
    assert_true(most_runs <= 6);   /* log2(2500 / 100) + 1, and a little */
    for (uint32_t i = 0; i < N; i++) {
        bk_id id, pid, want;
        th_id(&id, i);
        bk_index_entry x;
        assert_true(bk_index_lookup(&idx, &id, &x));
        assert_int_equal(x.offset, i);
        assert_int_equal(x.stored_len, 10 + i);
        assert_int_equal(x.raw_len, 20 + i);
        assert_int_equal(x.kind, i % 5 ? BK_KIND_DATA : BK_KIND_TREE);
        assert_int_equal(bk_index_pack_id(&idx, x.pack, &pid), 0);
        th_id(&want, 500000 + i % PACKS);
        assert_memory_equal(pid.b, want.b, BK_ID_LEN);
    }
    for (uint32_t i = N; i < N + 500; i++) {
        bk_id id;
        th_id(&id, i);
        bk_index_entry x;
        assert_false(bk_index_lookup(&idx, &id, &x));
    }
    /* a blob added again after it went to a run: still one blob */
    bk_pack_entry again = { .kind = BK_KIND_DATA, .offset = 7, .stored_len = 17, .raw_len = 27 };
    th_id(&again.id, 7);
    assert_int_equal(bk_index_add(&idx, 3, &again), 0);
    uint8_t *seen = calloc(N, 1);
    uint64_t pos = 0, n = 0;
    bk_id id;
    bk_index_entry e;
    int err;
    while (bk_index_next(&idx, &pos, &id, &e, &err)) {
        uint32_t i = e.offset;
        bk_id want;
        assert_true(i < N);
        th_id(&want, i);
        assert_memory_equal(id.b, want.b, BK_ID_LEN);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        n++;
    }
    assert_int_equal(err, 0);
    assert_int_equal(n, N);
    assert_int_equal(bk_index_count(&idx), N);
    free(seen);
    bk_index_free(&idx);
    /* the runs' directory is gone with them */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int left = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        left += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(left, 0);
    th_rmrf(dir);
    free(dir);
}

static void test_visitor(void **state)
{
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("index.bin", &file, &len), 0);
    int n = 0;
    bk_index_visitor v = { count_cb, NULL, NULL, &n };
    assert_int_equal(bk_index_obj_parse(file, len, &v), 0);
    assert_int_equal(n, 2);
    bk_index_visitor stop = { NULL, stop_pack, NULL, NULL };
    assert_int_equal(bk_index_obj_parse(file, len, &stop), -ECANCELED);
    free(file);
}

static void test_rejects(void **state)
{
    uint8_t *file;
    size_t len;
    bk_index_obj d;
    assert_int_equal(th_read_data("index.bin", &file, &len), 0);
    /* every truncation, and a trailing byte */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(bk_index_obj_decode(file, cut, &d), -EBADMSG);
        assert_int_equal(d.npacks, 0);   /* nothing left behind */
    }
    uint8_t *ext = malloc(len + 1);
    memcpy(ext, file, len);
    ext[len] = 0;
    assert_int_equal(bk_index_obj_decode(ext, len + 1, &d), -EBADMSG);
    free(ext);
    /* another version */
    file[0] = 2;
    assert_int_equal(bk_index_obj_decode(file, len, &d), -EPROTONOSUPPORT);
    file[0] = BK_INDEX_VERSION;
    free(file);

    /* garbage: random bytes behind a valid version byte */
    for (uint64_t s = 0; s < 2000; s++) {
        uint8_t g[300];
        size_t n = 1 + s % sizeof(g);
        th_fill(g, n, s);
        g[0] = BK_INDEX_VERSION;
        int r = bk_index_obj_decode(g, n, &d);
        assert_true(r == -EBADMSG || r == 0);   /* a few bytes may happen to be valid */
        bk_index_obj_free(&d);
    }

    /* entries that are well-formed bytes but invalid values */
    struct {
        uint8_t kind;
        uint64_t offset, stored, raw;
    } bad[] = {
        { BK_KIND_INDEX, 0, 100, 10 },               /* not a blob kind */
        { 0, 0, 100, 10 },
        { BK_KIND_DATA, 0, BK_SEAL_OVERHEAD - 1, 0 },  /* shorter than a box */
        { BK_KIND_DATA, UINT32_MAX - 50, 100, 10 },   /* past 4 GiB */
        { BK_KIND_DATA, (uint64_t)UINT32_MAX + 1, 100, 10 },
        { BK_KIND_DATA, 0, (uint64_t)UINT32_MAX + 1, 10 },
        { BK_KIND_DATA, 0, 100, (uint64_t)UINT32_MAX + 1 },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(bad); i++) {
        bk_buf b = BK_BUF_INIT;
        bk_id id;
        th_id(&id, i);
        assert_int_equal(bk_buf_put_u8(&b, BK_INDEX_VERSION), 0);
        assert_int_equal(bk_buf_put_uvarint(&b, 0), 0);
        assert_int_equal(bk_buf_put_uvarint(&b, 1), 0);
        assert_int_equal(bk_buf_append(&b, id.b, BK_ID_LEN), 0);
        assert_int_equal(bk_buf_put_uvarint(&b, 1), 0);
        assert_int_equal(bk_buf_put_u8(&b, bad[i].kind), 0);
        assert_int_equal(bk_buf_put_uvarint(&b, bad[i].offset), 0);
        assert_int_equal(bk_buf_put_uvarint(&b, bad[i].stored), 0);
        assert_int_equal(bk_buf_put_uvarint(&b, bad[i].raw), 0);
        assert_int_equal(bk_buf_append(&b, id.b, BK_ID_LEN), 0);
        assert_int_equal(bk_index_obj_decode(b.data, b.len, &d), -EBADMSG);
        bk_buf_free(&b);
    }
    /* counts larger than the data could hold */
    uint8_t big[] = { BK_INDEX_VERSION, 0xff, 0xff, 0xff, 0xff, 0x0f };
    assert_int_equal(bk_index_obj_decode(big, sizeof(big), &d), -EBADMSG);
    uint8_t bigp[] = { BK_INDEX_VERSION, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal(bk_index_obj_decode(bigp, sizeof(bigp), &d), -EBADMSG);
    assert_int_equal(bk_index_obj_decode(NULL, 0, &d), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_round_trip_large),
        cmocka_unit_test(test_merge_lookup),
        cmocka_unit_test(test_many_packs),
        cmocka_unit_test(test_spill_runs),
        cmocka_unit_test(test_visitor),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
