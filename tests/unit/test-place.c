/* test-place.c - the pure parts of the restore writer (place.c, meta.c): which runs of a buffer are written
 * (aligned zero blocks skipped, at any offset), the POSIX ACL xattrs built from
 * libarchive's text form (byte layout, order, mask, name mapping, what the kernel accepts),
 * and owner names mapped to local ids (or not, with numeric ids). */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "place.h"

/* ---- zero blocks -------------------------------------------------------------------------- */

/* All runs of p[0..len) at offset off, as "start+len " text. */
static void runs(const uint8_t *p, size_t len, uint64_t off, size_t bs, char *out, size_t cap)
{
    size_t at = 0, n, o = 0;
    out[0] = 0;
    while ((at = bk_place_next_run(p, len, off, bs, at, &n)) < len) {
        assert_true(n > 0 && at + n <= len);
        o += (size_t)snprintf(out + o, cap - o, "%zu+%zu ", at, n);
        at += n;
    }
    assert_int_equal(n, 0);
}

static void test_runs_aligned(void **state)
{
    (void)state;
    static uint8_t b[6 * 4096];
    char s[256];
    memset(b, 0, sizeof(b));
    runs(b, sizeof(b), 0, 4096, s, sizeof(s));
    assert_string_equal(s, "");                     /* all zero: nothing is written */
    b[5000] = 1;                                     /* block 1 */
    b[3 * 4096] = 7;                                 /* block 3, its first byte */
    b[4 * 4096 + 4095] = 9;                          /* block 4, its last byte */
    runs(b, sizeof(b), 0, 4096, s, sizeof(s));
    assert_string_equal(s, "4096+4096 12288+8192 ");
    /* from: a run starts no earlier */
    size_t n;
    assert_int_equal(bk_place_next_run(b, sizeof(b), 0, 4096, 8192, &n), 12288);
    assert_int_equal(n, 8192);
    assert_int_equal(bk_place_next_run(b, sizeof(b), 0, 4096, sizeof(b), &n), sizeof(b));
    assert_int_equal(n, 0);
    /* another block size */
    runs(b, sizeof(b), 0, 8192, s, sizeof(s));
    assert_string_equal(s, "0+24576 ");             /* every 8K block holds data */
    memset(b, 0xff, sizeof(b));
    runs(b, sizeof(b), 0, 4096, s, sizeof(s));
    assert_string_equal(s, "0+24576 ");             /* no zeros: one write */
}

static void test_runs_unaligned(void **state)
{
    (void)state;
    static uint8_t b[10000];
    char s[256];
    memset(b, 0, sizeof(b));
    /* the buffer starts at file offset 1000: pieces end at buffer offsets 3096, 7192 */
    b[0] = 1;
    runs(b, sizeof(b), 1000, 4096, s, sizeof(s));
    assert_string_equal(s, "0+3096 ");
    b[9999] = 1;                                     /* the partial block at the end */
    runs(b, sizeof(b), 1000, 4096, s, sizeof(s));
    assert_string_equal(s, "0+3096 7192+2808 ");
    b[0] = 0;
    b[3096] = 1;                                     /* the block at 4096 */
    runs(b, sizeof(b), 1000, 4096, s, sizeof(s));
    assert_string_equal(s, "3096+6904 ");
    /* a short buffer inside one block */
    uint8_t c[10] = { 0, 0, 0, 5, 0, 0, 0, 0, 0, 0 };
    runs(c, sizeof(c), 4090, 4096, s, sizeof(s));
    assert_string_equal(s, "0+6 ");                  /* up to the block boundary at 4096 */
    runs(c, sizeof(c), 100, 4096, s, sizeof(s));
    assert_string_equal(s, "0+10 ");
    memset(c, 0, sizeof(c));
    runs(c, sizeof(c), 100, 4096, s, sizeof(s));
    assert_string_equal(s, "");
}

/* ---- ACLs ----------------------------------------------------------------------------------- */

typedef struct xent {
    uint16_t tag, perm;
    uint32_t id;
} xent;

#define U 0xffffffffu

static void assert_xattr(const bk_buf *b, const xent *want, size_t n)
{
    assert_int_equal(b->len, 4 + 8 * n);
    assert_int_equal(bk_get_le32(b->data), 2);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = b->data + 4 + 8 * i;
        assert_int_equal(e[0] | e[1] << 8, want[i].tag);
        assert_int_equal(e[2] | e[3] << 8, want[i].perm);
        assert_int_equal(bk_get_le32(e + 4), want[i].id);
    }
}

/* as archiver.c stores an ACL (libarchive's text, EXTRA_ID | MARK_DEFAULT) */
static const char ACCESS_TEXT[] = "user::rw-\ngroup::r--\nother::---\nuser:1234:rw-\n"
                                  "group:5678:r--\nmask::r--";

static void test_acl_access(void **state)
{
    (void)state;
    bk_buf a = BK_BUF_INIT, d = BK_BUF_INIT;
    assert_int_equal(bk_acl_xattrs(ACCESS_TEXT, 0640, NULL, NULL, &a, &d), 0);
    const xent want[] = { { 0x01, 6, U }, { 0x02, 6, 1234 }, { 0x04, 4, U },
                          { 0x08, 4, 5678 }, { 0x10, 4, U }, { 0x20, 0, U } };
    assert_xattr(&a, want, BK_ELEMENTSOF(want));
    assert_int_equal(d.len, 0);

    /* the kernel takes it, and getfacl's view of it is the one the text says */
    char *dir = th_tmpdir(), path[4200];
    snprintf(path, sizeof(path), "%s/f", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fsetxattr(fd, "system.posix_acl_access", a.data, a.len, 0), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);    /* group bits: the mask */
    uint8_t back[256];
    ssize_t k = fgetxattr(fd, "system.posix_acl_access", back, sizeof(back));
    assert_int_equal(k, (ssize_t)a.len);
    assert_memory_equal(back, a.data, a.len);
    close(fd);
    th_rmrf(dir);
    free(dir);
    bk_buf_free(&a);
    bk_buf_free(&d);
}

static void test_acl_default_only(void **state)
{
    (void)state;
    /* a directory with a default ACL and a plain mode: no access xattr at all */
    const char *text = "user::rwx\ngroup::r-x\nother::r-x\ndefault:user::rwx\n"
                       "default:user:1234:r-x\ndefault:group::r-x\ndefault:mask::r-x\n"
                       "default:other::r-x";
    bk_buf a = BK_BUF_INIT, d = BK_BUF_INIT;
    assert_int_equal(bk_acl_xattrs(text, 0755, NULL, NULL, &a, &d), 0);
    assert_int_equal(a.len, 0);
    const xent want[] = { { 0x01, 7, U }, { 0x02, 5, 1234 }, { 0x04, 5, U }, { 0x10, 5, U },
                          { 0x20, 5, U } };
    assert_xattr(&d, want, BK_ELEMENTSOF(want));
    bk_buf_free(&a);
    bk_buf_free(&d);
}

static uint32_t map_names(void *ud, bool is_group, const char *name, uint32_t id)
{
    int *calls = ud;
    (*calls)++;
    if (!is_group && strcmp(name, "alice") == 0)
        return 2001;
    if (is_group && strcmp(name, "staff") == 0)
        return 3001;
    return id;
}

static void test_acl_names_order_mask(void **state)
{
    (void)state;
    /* named entries out of order, names mapped to other ids, no mask: one is made (the union
     * of the group class), as setfacl does */
    const char *text = "user::rwx\ngroup::r--\nother::---\nuser:bob:r--:40\n"
                       "user:alice:rw-:1001\ngroup:staff:--x:50\ngroup:30:r--";
    bk_buf a = BK_BUF_INIT, d = BK_BUF_INIT;
    int calls = 0;
    assert_int_equal(bk_acl_xattrs(text, 0740, map_names, &calls, &a, &d), 0);
    assert_int_equal(calls, 4);
    const xent want[] = { { 0x01, 7, U }, { 0x02, 4, 40 }, { 0x02, 6, 2001 }, { 0x04, 4, U },
                          { 0x08, 4, 30 }, { 0x08, 1, 3001 }, { 0x10, 7, U }, { 0x20, 0, U } };
    assert_xattr(&a, want, BK_ELEMENTSOF(want));
    bk_buf_free(&a);
    a.len = 0;
    /* without a mapping: the stored ids */
    assert_int_equal(bk_acl_xattrs(text, 0740, NULL, NULL, &a, &d), 0);
    const xent raw[] = { { 0x01, 7, U }, { 0x02, 6, 1001 }, { 0x02, 4, 40 }, { 0x04, 4, U },
                         { 0x08, 4, 30 }, { 0x08, 1, 50 }, { 0x10, 7, U }, { 0x20, 0, U } };
    /* (sorted by id: 40 before 1001) */
    const xent sorted[] = { raw[0], raw[2], raw[1], raw[3], raw[4], raw[5], raw[6], raw[7] };
    assert_xattr(&a, sorted, BK_ELEMENTSOF(sorted));
    bk_buf_free(&a);
    bk_buf_free(&d);
}

static void test_acl_bad(void **state)
{
    (void)state;
    bk_buf a = BK_BUF_INIT, d = BK_BUF_INIT;
    assert_int_equal(bk_acl_xattrs("user:x:not-perms:zz:qq", 0644, NULL, NULL, &a, &d),
                     -EINVAL);
    assert_int_equal(bk_acl_xattrs("bogus", 0644, NULL, NULL, &a, &d), -EINVAL);
    bk_buf_free(&a);
    bk_buf_free(&d);
    /* the mode supplies what the text lacks */
    assert_int_equal(bk_acl_xattrs("user:7:rw-", 0750, NULL, NULL, &a, &d), 0);
    const xent want[] = { { 0x01, 7, U }, { 0x02, 6, 7 }, { 0x04, 5, U }, { 0x10, 7, U },
                          { 0x20, 0, U } };
    assert_xattr(&a, want, BK_ELEMENTSOF(want));
    bk_buf_free(&a);
    bk_buf_free(&d);
}

/* ---- owners --------------------------------------------------------------------------------- */

static void test_owners(void **state)
{
    (void)state;
    /* root exists everywhere, with id 0; a name that exists nowhere keeps its stored id */
    bk_owners *o, *num;
    assert_int_equal(bk_owners_new(false, &o), 0);
    assert_int_equal(bk_owners_new(true, &num), 0);
    bk_node n = { 0 };
    n.uid = 4321;
    n.gid = 8765;
    n.user = (char *)"root";
    n.group = (char *)"root";
    uid_t u;
    gid_t g;
    bk_owners_map(o, &n, &u, &g);
    assert_int_equal(u, 0);
    assert_int_equal(g, 0);
    bk_owners_map(num, &n, &u, &g);
    assert_int_equal(u, 4321);
    assert_int_equal(g, 8765);
    n.user = (char *)"no-such-user-arca-test";
    n.group = (char *)"";
    for (int i = 0; i < 3; i++) {   /* looked up once, answered from the cache after */
        bk_owners_map(o, &n, &u, &g);
        assert_int_equal(u, 4321);
        assert_int_equal(g, 8765);
    }
    /* many names: the cache grows */
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof(name), "arca-nobody-%d", i);
        assert_int_equal(bk_owners_id(o, i & 1, name, (uint32_t)i), (uint32_t)i);
    }
    assert_int_equal(bk_owners_id(o, false, "root", 99), 0);
    bk_owners_free(o);
    bk_owners_free(num);
    bk_owners_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_aligned),
        cmocka_unit_test(test_runs_unaligned),
        cmocka_unit_test(test_acl_access),
        cmocka_unit_test(test_acl_default_only),
        cmocka_unit_test(test_acl_names_order_mask),
        cmocka_unit_test(test_acl_bad),
        cmocka_unit_test(test_owners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
