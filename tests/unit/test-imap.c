/* test-imap.c - the mapped blob index file: built from index objects as they come (in
 * partitions), every entry found where it is, duplicates next to each other, absent ids
 * not found (also when every id shares its first two bytes, so that a search narrows a
 * range of 10,500 entries), an empty one, and damage found: in the header (the file is
 * refused) and in an entry block (a lookup that touches it fails). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "imap.h"

#define NOBJ 7
#define NPACK 5
#define NBLOB 300   /* per pack: 7 * 5 * 300 = 10500 entries */

static char *path_in(const char *dir)
{
    char *p;
    assert_true(asprintf(&p, "%s/index.map", dir) > 0);
    return p;
}

static bool crowded;   /* every blob id in one fan-out range */

static void blob_id(uint64_t seed, bk_id *id)
{
    th_id(id, seed);
    if (crowded)
        id->b[0] = id->b[1] = 0x5a;
}

/* Objects o, packs p, blobs i: blob seed o*1000000 + p*1000 + i; the last pack of every
 * object repeats the first blob of the first pack (a blob stored twice). */
static void build(const char *path, size_t nobj)
{
    bk_imap_builder *b;
    assert_int_equal(bk_imap_builder_new(path, &b), 0);
    for (size_t o = 0; o < nobj; o++) {
        bk_id oid;
        th_id(&oid, 900000000 + o);
        assert_int_equal(bk_imap_builder_object(b, &oid), 0);
        for (size_t p = 0; p < NPACK; p++) {
            bk_id pid;
            th_id(&pid, 800000000 + o * 100 + p);
            assert_int_equal(bk_imap_builder_pack(b, &pid), 0);
            for (size_t i = 0; i < NBLOB; i++) {
                bk_pack_entry e = { .kind = i % 7 ? BK_KIND_DATA : BK_KIND_TREE,
                                    .offset = (uint32_t)(i * 100), .stored_len = 100,
                                    .raw_len = (uint32_t)(60 + i) };
                blob_id(o * 1000000 + p * 1000 + i, &e.id);
                assert_int_equal(bk_imap_builder_blob(b, &e), 0);
            }
            if (p == NPACK - 1) {
                bk_pack_entry e = { .kind = BK_KIND_DATA, .offset = 5, .stored_len = 77, .raw_len = 30 };
                blob_id(o * 1000000, &e.id);
                assert_int_equal(bk_imap_builder_blob(b, &e), 0);
            }
        }
    }
    assert_int_equal(bk_imap_builder_finish(b, NULL), 0);
    bk_imap_builder_free(b);
}

static void build_and_find(void)
{
    char *dir = th_tmpdir(), *path = path_in(dir);
    build(path, NOBJ);
    bk_imap m;
    assert_int_equal(bk_imap_open(path, &m), 0);
    assert_int_equal(m.n, NOBJ * NPACK * NBLOB + NOBJ);   /* and one duplicate per object */
    assert_int_equal(m.npacks, NOBJ * NPACK);
    assert_int_equal(m.nobjects, NOBJ);
    for (size_t o = 0; o < NOBJ; o++) {
        bk_id oid;
        th_id(&oid, 900000000 + o);
        assert_memory_equal(m.objects[o].id.b, oid.b, BK_ID_LEN);
        assert_int_equal(m.objects[o].first_pack, o * NPACK);
        assert_int_equal(m.objects[o].npacks, NPACK);
        for (size_t p = 0; p < NPACK; p++) {
            bk_id pid;
            th_id(&pid, 800000000 + o * 100 + p);
            assert_memory_equal(m.packs[o * NPACK + p].b, pid.b, BK_ID_LEN);
            bk_id got;
            assert_int_equal(bk_imap_pack_at(&m, (uint32_t)(o * NPACK + p), &got), 0);
            assert_memory_equal(got.b, pid.b, BK_ID_LEN);
            for (size_t i = 0; i < NBLOB; i++) {
                bk_id id;
                blob_id(o * 1000000 + p * 1000 + i, &id);
                uint64_t pos;
                bk_imap_entry found, at, next;
                const bk_imap_entry *e = &found;
                assert_int_equal(bk_imap_find(&m, &id, &pos, &found), 0);
                assert_memory_equal(e->id.b, id.b, BK_ID_LEN);
                assert_int_equal(bk_imap_entry_at(&m, pos, &at), 0);
                assert_memory_equal(&at, &found, sizeof(at));
                assert_memory_equal(&m.entries[pos], &found, sizeof(at));
                if (i == 0 && p == 0) {
                    /* stored twice: both entries, in pack order, the first one found */
                    assert_int_equal(e->e.pack, o * NPACK);
                    assert_int_equal(bk_imap_entry_at(&m, pos + 1, &next), 0);
                    assert_memory_equal(next.id.b, id.b, BK_ID_LEN);
                    assert_int_equal(next.e.pack, o * NPACK + NPACK - 1);
                    assert_int_equal(next.e.stored_len, 77);
                } else {
                    assert_int_equal(e->e.pack, o * NPACK + p);
                }
                assert_int_equal(e->e.offset, i == 0 && p == 0 ? 0 : i * 100);
                assert_int_equal(e->e.raw_len, 60 + i);
                assert_int_equal(e->e.kind, i % 7 ? BK_KIND_DATA : BK_KIND_TREE);
            }
        }
    }
    /* sorted, and absent ids are not found */
    for (uint64_t i = 1; i < m.n; i++)
        assert_true(memcmp(m.entries[i - 1].id.b, m.entries[i].id.b, BK_ID_LEN) <= 0);
    for (uint64_t s = 0; s < 2000; s++) {
        bk_id id;
        blob_id(777000000 + s, &id);
        uint64_t pos;
        assert_int_equal(bk_imap_find(&m, &id, &pos, NULL), -ENOENT);
    }
    bk_imap_entry e;
    assert_int_equal(bk_imap_entry_at(&m, m.n, &e), -EBADMSG);
    bk_id pid;
    assert_int_equal(bk_imap_pack_at(&m, m.npacks, &pid), -EBADMSG);
    bk_imap_close(&m);
    th_rmrf(dir);
    free(path);
    free(dir);
}

static void test_build_and_find(void **state)
{
    crowded = false;
    build_and_find();
}

static void test_build_and_find_crowded(void **state)
{
    crowded = true;
    build_and_find();
    crowded = false;
}

static void test_empty(void **state)
{
    char *dir = th_tmpdir(), *path = path_in(dir);
    build(path, 0);
    bk_imap m;
    assert_int_equal(bk_imap_open(path, &m), 0);
    assert_int_equal(m.n, 0);
    bk_id id;
    blob_id(1, &id);
    uint64_t pos;
    assert_int_equal(bk_imap_find(&m, &id, &pos, NULL), -ENOENT);
    bk_imap_close(&m);
    assert_int_equal(bk_imap_open("/nonexistent/index.map", &m), -ENOENT);
    th_rmrf(dir);
    free(path);
    free(dir);
}

static void flip(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0xff;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void test_damage(void **state)
{
    char *dir = th_tmpdir(), *path = path_in(dir);
    build(path, NOBJ);
    bk_imap m;
    assert_int_equal(bk_imap_open(path, &m), 0);
    off_t size = (off_t)m.size;
    /* an entry in the middle, and one far from it */
    uint64_t victim = m.n / 2;
    bk_id vid = m.entries[victim].id, far = m.entries[0].id;
    off_t at = (off_t)((const uint8_t *)&m.entries[victim] - m.base) + 40;
    bk_imap_close(&m);
    flip(path, at);
    assert_int_equal(bk_imap_open(path, &m), 0);   /* entries are checked as they are used */
    uint64_t pos;
    assert_int_equal(bk_imap_find(&m, &vid, &pos, NULL), -EBADMSG);
    assert_true(m.damaged);
    assert_int_equal(bk_imap_check_range(&m, 0, m.n), -EBADMSG);
    bk_imap_close(&m);
    assert_int_equal(bk_imap_open(path, &m), 0);
    assert_int_equal(bk_imap_find(&m, &far, &pos, NULL), 0);   /* another block is fine */
    bk_imap_close(&m);
    flip(path, at);   /* undo */

    /* the pack table: checked as it is used, like the entries */
    off_t in_packs = 4096 + 8 * 65537 + 40 * NOBJ + 5;
    flip(path, in_packs);
    assert_int_equal(bk_imap_open(path, &m), 0);
    assert_int_equal(bk_imap_check_packs(&m, 0, 0), 0);          /* nothing asked */
    assert_int_equal(bk_imap_check_packs(&m, 0, 1), -EBADMSG);   /* pack 0's block */
    assert_true(m.damaged);
    bk_imap_close(&m);
    flip(path, in_packs);
    assert_int_equal(bk_imap_open(path, &m), 0);
    assert_int_equal(bk_imap_check_packs(&m, 0, m.npacks), 0);
    bk_imap_close(&m);

    /* another version's file: not there (made again without a warning) */
    flip(path, 8);
    assert_int_equal(bk_imap_open(path, &m), -ENOENT);
    flip(path, 8);

    /* the header, the fan-out, the object table, a truncated file: refused at once */
    const off_t places[] = { 20, 4096 + 8 * 300, 4096 + 8 * 65537 + 5 };
    for (size_t i = 0; i < BK_ELEMENTSOF(places); i++) {
        flip(path, places[i]);
        assert_int_equal(bk_imap_open(path, &m), -EBADMSG);
        flip(path, places[i]);
    }
    assert_int_equal(truncate(path, size - 1), 0);
    assert_int_equal(bk_imap_open(path, &m), -EBADMSG);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(bk_imap_open(path, &m), -EBADMSG);
    th_rmrf(dir);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_find),
        cmocka_unit_test(test_build_and_find_crowded),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
