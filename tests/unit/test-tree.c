/* test-tree.c - tree blobs: golden vector, round trip of every node type with xattrs,
 * ACLs, holes and the chunk_avg extension, odd names; unsorted, duplicate and invalid
 * names rejected by the encoder and the decoder; truncated and garbage blobs rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"
#include "tree.h"

/* ---- a hand-written encoder for one node, independent of tree.c, to build blobs that
 * bk_tree_encode refuses to make ---------------------------------------------------------- */

typedef struct raw {
    const char *name;
    size_t name_len;
    uint8_t type;
    uint64_t mode, size, nsec;
    const char *user;
    size_t user_len;
    uint64_t npieces, piece;       /* files: npieces pieces of (len << 1 | hole) */
    const char *xname;             /* one xattr with this name, if set */
    size_t xname_len;
    const uint8_t *ext;            /* extension bytes after the count, if set */
    size_t ext_len;
    uint64_t next;                 /* extension count */
} raw;

static void put(bk_buf *b, int r)
{
    assert_int_equal(r, 0);
}

static void raw_node(bk_buf *b, const raw *n)
{
    static const uint8_t zero[BK_ID_LEN];
    put(b, bk_buf_put_bytes(b, n->name, n->name_len));
    put(b, bk_buf_put_u8(b, n->type));
    put(b, bk_buf_put_uvarint(b, n->mode));
    put(b, bk_buf_put_uvarint(b, 0));   /* uid */
    put(b, bk_buf_put_uvarint(b, 0));   /* gid */
    put(b, bk_buf_put_bytes(b, n->user ? n->user : "", n->user_len));
    put(b, bk_buf_put_bytes(b, "", 0));
    put(b, bk_buf_put_uvarint(b, n->size));
    put(b, bk_buf_put_svarint(b, -5));
    put(b, bk_buf_put_uvarint(b, n->nsec));
    put(b, bk_buf_put_svarint(b, 7));
    put(b, bk_buf_put_uvarint(b, 0));
    put(b, bk_buf_put_uvarint(b, 1));   /* inode */
    put(b, bk_buf_put_uvarint(b, 2));   /* dev */
    put(b, bk_buf_put_uvarint(b, 1));   /* nlink */
    switch (n->type) {
    case BK_NODE_DIR:
        put(b, bk_buf_append(b, zero, BK_ID_LEN));
        break;
    case BK_NODE_SYMLINK:
        put(b, bk_buf_put_bytes(b, "t", 1));
        break;
    case BK_NODE_CHARDEV:
    case BK_NODE_BLOCKDEV:
        put(b, bk_buf_put_uvarint(b, 259));
        break;
    case BK_NODE_FILE:
        put(b, bk_buf_put_uvarint(b, n->npieces));
        for (uint64_t i = 0; i < n->npieces; i++) {
            put(b, bk_buf_put_uvarint(b, n->piece));
            if (!(n->piece & 1))
                put(b, bk_buf_append(b, zero, BK_ID_LEN));
        }
        break;
    }
    if (n->xname) {
        put(b, bk_buf_put_uvarint(b, 1));
        put(b, bk_buf_put_bytes(b, n->xname, n->xname_len));
        put(b, bk_buf_put_bytes(b, "v", 1));
    } else {
        put(b, bk_buf_put_uvarint(b, 0));
    }
    put(b, bk_buf_put_bytes(b, "", 0));   /* POSIX ACL */
    put(b, bk_buf_put_bytes(b, "", 0));   /* NFSv4 ACL */
    put(b, bk_buf_put_uvarint(b, n->next));
    if (n->ext)
        put(b, bk_buf_append(b, n->ext, n->ext_len));
}

static raw sock(const char *name)
{
    raw r = { .name = name, .name_len = strlen(name), .type = BK_NODE_SOCKET, .mode = 0755 };
    return r;
}

/* A blob of the given raw nodes. */
static void raw_tree(bk_buf *b, const raw *nodes, size_t n)
{
    put(b, bk_buf_put_u8(b, BK_TREE_VERSION));
    put(b, bk_buf_put_uvarint(b, n));
    for (size_t i = 0; i < n; i++)
        raw_node(b, &nodes[i]);
}

static int decode_raw(const raw *nodes, size_t n)
{
    bk_buf b = BK_BUF_INIT;
    raw_tree(&b, nodes, n);
    bk_tree t;
    int r = bk_tree_decode(b.data, b.len, &t);
    if (r == 0)
        bk_tree_free(&t);
    else
        assert_int_equal(t.n, 0);   /* nothing left behind on failure */
    bk_buf_free(&b);
    return r;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_golden(void **state)
{
    bk_tree t, d;
    th_golden_tree(&t);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(t.nodes, t.n, &b), 0);
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("tree.bin", &file, &len), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, file, len);
    assert_int_equal(bk_tree_decode(file, len, &d), 0);
    assert_true(th_tree_equal(&t, &d));
    /* every type made it into the vector */
    unsigned types = 0;
    for (size_t i = 0; i < d.n; i++)
        types |= 1u << d.nodes[i].type;
    assert_int_equal(types, 0xfe);
    bk_tree_free(&d);
    bk_tree_free(&t);
    bk_tree_free(NULL);
    bk_buf_free(&b);
    free(file);
}

/* File flags (extension tag 2): a vector of its own, so that tree.bin still pins nodes
 * without them; a reader that knows only tag 1 reads these trees too (it skips tag 2). */
static void test_golden_fflags(void **state)
{
    bk_tree t, d;
    th_golden_tree_fflags(&t);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(t.nodes, t.n, &b), 0);
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("tree-fflags.bin", &file, &len), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, file, len);
    assert_int_equal(bk_tree_decode(file, len, &d), 0);
    assert_true(th_tree_equal(&t, &d));
    assert_int_equal(d.nodes[0].fflags, 0x60);
    assert_int_equal(d.nodes[1].fflags, 0x90);
    assert_int_equal(d.nodes[2].fflags, 0x00800000);
    assert_int_equal(d.nodes[2].chunk_avg, 65536);
    assert_int_equal(d.nodes[3].fflags, 0);
    bk_tree_free(&d);
    /* a node without flags encodes as it did before: no extension at all */
    bk_buf p = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(&t.nodes[3], 1, &p), 0);
    assert_int_equal(p.data[p.len - 1], 0);   /* extension count */
    bk_buf_free(&p);
    bk_tree_free(&t);
    bk_buf_free(&b);
    free(file);
}

static void test_round_trip(void **state)
{
    bk_tree t, d;
    th_golden_tree(&t);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(t.nodes, t.n, &b), 0);
    assert_int_equal(bk_tree_decode(b.data, b.len, &d), 0);
    assert_int_equal(d.n, t.n);
    for (size_t i = 0; i < t.n; i++)
        assert_true(th_node_equal(&t.nodes[i], &d.nodes[i]));
    /* details the comparison treats loosely */
    const bk_node *f = bk_tree_find(&d, "file.txt", 8);
    assert_non_null(f);
    assert_int_equal(f->nxattrs, 2);
    assert_int_equal(f->xattrs[0].len, 11);
    assert_memory_equal(f->xattrs[0].value, "hello\0world", 11);
    assert_int_equal(f->xattrs[1].len, 0);
    assert_true(f->content[1].hole);
    assert_non_null(f->acl_posix);
    assert_null(f->acl_nfs4);   /* none is NULL, not "" */
    const bk_node *s = bk_tree_find(&d, "stdin", 5);
    assert_int_equal(s->chunk_avg, 65536);
    assert_string_equal(s->user, "");
    const bk_node *nl = bk_tree_find(&d, "new\nline", 8);
    assert_non_null(nl);
    assert_non_null(bk_tree_find(&d, "latin1-\xe9t\xe9\xff", 11));
    assert_null(bk_tree_find(&d, "latin1-", 7));
    assert_null(bk_tree_find(&d, "zzz", 3));
    assert_non_null(bk_tree_find(&d, "file", 4));   /* a prefix of "file.txt" */
    const bk_node *l = bk_tree_find(&d, "link", 4);
    assert_int_equal(l->target_len, strlen("../some where/\nodd"));
    /* a deep copy compares equal and survives the original */
    bk_node copy;
    assert_int_equal(bk_node_copy(f, &copy), 0);
    assert_true(th_node_equal(&copy, f));
    bk_tree_free(&d);
    assert_int_equal(copy.nxattrs, 2);
    assert_memory_equal(copy.xattrs[0].value, "hello\0world", 11);
    bk_node_clear(&copy);
    bk_tree_free(&t);
    bk_buf_free(&b);

    /* an empty tree */
    assert_int_equal(bk_tree_encode(NULL, 0, &b), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(bk_tree_decode(b.data, b.len, &d), 0);
    assert_int_equal(d.n, 0);
    bk_tree_free(&d);
    bk_buf_free(&b);
}

static void test_raw_encoder_agrees(void **state)
{
    /* the hand-written encoder above is the format: check it against tree.c */
    bk_node n;
    memset(&n, 0, sizeof(n));
    n.name = strdup("s");
    n.name_len = 1;
    n.type = BK_NODE_SOCKET;
    n.mode = 0755;
    n.user = strdup("");
    n.group = strdup("");
    n.mtime = -5;
    n.ctime = 7;
    n.inode = 1;
    n.dev = 2;
    n.nlink = 1;
    bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(&n, 1, &a), 0);
    raw r = sock("s");
    raw_tree(&b, &r, 1);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    bk_node_clear(&n);
    bk_buf_free(&a);
    bk_buf_free(&b);
}

static void test_encode_rejects(void **state)
{
    bk_node v[2];
    memset(v, 0, sizeof(v));
    bk_buf b = BK_BUF_INIT;
    struct {
        const char *a;
        size_t alen;
        const char *b;
        size_t blen;
    } pairs[] = {
        { "b", 1, "a", 1 },      /* unsorted */
        { "a", 1, "a", 1 },      /* duplicate */
        { "ab", 2, "a", 1 },     /* a prefix sorts first */
        { "a", 1, "", 0 },       /* empty */
        { "a", 1, ".", 1 },
        { "a", 1, "..", 2 },
        { "a", 1, "b/c", 3 },
        { "a", 1, "/", 1 },
        { "a", 1, "b\0c", 3 },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(pairs); i++) {
        v[0].name = (char *)pairs[i].a;
        v[0].name_len = pairs[i].alen;
        v[1].name = (char *)pairs[i].b;
        v[1].name_len = pairs[i].blen;
        v[0].type = v[1].type = BK_NODE_FIFO;
        assert_int_equal(bk_tree_encode(v, 2, &b), -EINVAL);
        assert_int_equal(b.len, 0);   /* nothing written */
    }
    /* and a single node with a bad name */
    v[0].name = "..";
    v[0].name_len = 2;
    assert_int_equal(bk_tree_encode(v, 1, &b), -EINVAL);
    /* valid odd names pass */
    v[0].name = "...";
    v[0].name_len = 3;
    v[1].name = "a\n\xff";
    v[1].name_len = 3;
    assert_int_equal(bk_tree_encode(v, 2, &b), 0);
    bk_buf_free(&b);
    assert_false(bk_name_valid("x", 0));
    char longname[4097];
    memset(longname, 'x', sizeof(longname));
    assert_true(bk_name_valid(longname, 4096));
    assert_false(bk_name_valid(longname, 4097));
}

static void test_decode_rejects_names(void **state)
{
    raw ok[2] = { sock("a"), sock("b") };
    assert_int_equal(decode_raw(ok, 2), 0);
    const struct {
        const char *a, *b;
        size_t blen;
    } bad[] = {
        { "b", "a", 1 }, { "a", "a", 1 }, { "ab", "a", 1 }, { "a", "", 0 }, { "a", ".", 1 },
        { "a", "..", 2 }, { "a", "b/c", 3 }, { "a", "/", 1 }, { "a", "b\0c", 3 },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(bad); i++) {
        raw v[2] = { sock(bad[i].a), sock("") };
        v[1].name = bad[i].b;
        v[1].name_len = bad[i].blen;
        assert_int_equal(decode_raw(v, 2), -EBADMSG);
        raw one = v[1];
        if (bk_name_valid(one.name, one.name_len))
            continue;
        assert_int_equal(decode_raw(&one, 1), -EBADMSG);
    }
    char longname[4097];
    memset(longname, 'x', sizeof(longname));
    raw l = sock("");
    l.name = longname;
    l.name_len = 4096;
    assert_int_equal(decode_raw(&l, 1), 0);
    l.name_len = 4097;
    assert_int_equal(decode_raw(&l, 1), -EBADMSG);
}

static void test_decode_rejects_fields(void **state)
{
    raw n;
    n = sock("x"); n.type = 0;                assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.type = 8;                assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.mode = 010000;           assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.mode = 07777;            assert_int_equal(decode_raw(&n, 1), 0);
    n = sock("x"); n.nsec = 1000000000;       assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.nsec = 999999999;        assert_int_equal(decode_raw(&n, 1), 0);
    n = sock("x"); n.size = 5;                assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.type = BK_NODE_FIFO; n.size = 1; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.type = BK_NODE_CHARDEV; n.size = 1; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.type = BK_NODE_DIR; n.size = 4096; assert_int_equal(decode_raw(&n, 1), 0);
    n = sock("x"); n.type = BK_NODE_SYMLINK; n.size = 1; assert_int_equal(decode_raw(&n, 1), 0);
    /* user names are bounded, and may not hold NUL */
    char user[257];
    memset(user, 'u', sizeof(user));
    n = sock("x"); n.user = user; n.user_len = 256; assert_int_equal(decode_raw(&n, 1), 0);
    n = sock("x"); n.user = user; n.user_len = 257; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.user = "a\0b"; n.user_len = 3; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    /* file content: lengths must add up to the size; no zero-length pieces */
    n = sock("f"); n.type = BK_NODE_FILE; n.npieces = 2; n.piece = 100 << 1; n.size = 200;
    assert_int_equal(decode_raw(&n, 1), 0);
    n.size = 199;
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n.piece = 100 << 1 | 1; n.size = 200;   /* holes have no id */
    assert_int_equal(decode_raw(&n, 1), 0);
    n.piece = 0; n.size = 0;
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n.piece = 1;
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n.npieces = 1; n.piece = (uint64_t)UINT32_MAX << 1; n.size = UINT32_MAX;
    assert_int_equal(decode_raw(&n, 1), 0);
    n.piece = ((uint64_t)UINT32_MAX + 1) << 1; n.size = (uint64_t)UINT32_MAX + 1;
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    /* xattr names: not empty, at most 255 bytes, no NUL */
    char xn[256];
    memset(xn, 'x', sizeof(xn));
    n = sock("x"); n.xname = xn; n.xname_len = 255; assert_int_equal(decode_raw(&n, 1), 0);
    n = sock("x"); n.xname = xn; n.xname_len = 256; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.xname = ""; n.xname_len = 0; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n = sock("x"); n.xname = "a\0b"; n.xname_len = 3; assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    /* extensions: unknown tags are skipped, a malformed chunk_avg is not */
    static const uint8_t unknown[] = { 9, 3, 'a', 'b', 'c' };
    n = sock("x"); n.next = 1; n.ext = unknown; n.ext_len = sizeof(unknown);
    assert_int_equal(decode_raw(&n, 1), 0);
    static const uint8_t avg_ok[] = { 1, 3, 0x80, 0x80, 0x04 };
    n.ext = avg_ok; n.ext_len = sizeof(avg_ok);
    assert_int_equal(decode_raw(&n, 1), 0);
    static const uint8_t avg_trailing[] = { 1, 2, 0x10, 0x00 };
    n.ext = avg_trailing; n.ext_len = sizeof(avg_trailing);
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    static const uint8_t avg_empty[] = { 1, 0 };
    n.ext = avg_empty; n.ext_len = sizeof(avg_empty);
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    static const uint8_t avg_big[] = { 1, 5, 0x80, 0x80, 0x80, 0x80, 0x10 };   /* 2^32 */
    n.ext = avg_big; n.ext_len = sizeof(avg_big);
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    /* file flags: a uvarint of at most 32 bits, nothing after it */
    static const uint8_t fl_ok[] = { 2, 1, 0x30 };
    n.ext = fl_ok; n.ext_len = sizeof(fl_ok);
    assert_int_equal(decode_raw(&n, 1), 0);
    static const uint8_t fl_trailing[] = { 2, 2, 0x30, 0x00 };
    n.ext = fl_trailing; n.ext_len = sizeof(fl_trailing);
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    static const uint8_t fl_big[] = { 2, 5, 0x80, 0x80, 0x80, 0x80, 0x10 };
    n.ext = fl_big; n.ext_len = sizeof(fl_big);
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
    n.next = 2;   /* announces more than there is */
    n.ext = unknown; n.ext_len = sizeof(unknown);
    assert_int_equal(decode_raw(&n, 1), -EBADMSG);
}

static void test_decode_rejects_bytes(void **state)
{
    uint8_t *file;
    size_t len;
    bk_tree t;
    assert_int_equal(th_read_data("tree.bin", &file, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(bk_tree_decode(file, cut, &t), -EBADMSG);
        assert_int_equal(t.n, 0);
        assert_null(t.nodes);
    }
    uint8_t *ext = malloc(len + 1);
    memcpy(ext, file, len);
    ext[len] = 0;
    assert_int_equal(bk_tree_decode(ext, len + 1, &t), -EBADMSG);
    free(ext);
    file[0] = BK_TREE_VERSION_LISTS + 1;
    assert_int_equal(bk_tree_decode(file, len, &t), -EPROTONOSUPPORT);
    file[0] = BK_TREE_VERSION_LISTS;   /* its files have no list count */
    assert_int_equal(bk_tree_decode(file, len, &t), -EBADMSG);
    file[0] = BK_TREE_VERSION;
    /* single flipped bytes: either still a valid tree or rejected, never a crash (run
     * under the sanitizers) */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            file[i] ^= (uint8_t)(1 << bit);
            if (bk_tree_decode(file, len, &t) == 0)
                bk_tree_free(&t);
            file[i] ^= (uint8_t)(1 << bit);
        }
    }
    free(file);
    /* garbage */
    for (uint64_t s = 0; s < 3000; s++) {
        uint8_t g[200];
        size_t n = s % sizeof(g);
        th_fill(g, n, s);
        if (n)
            g[0] = BK_TREE_VERSION;
        int r = bk_tree_decode(g, n, &t);
        assert_true(r == -EBADMSG || r == 0);
        if (r == 0)
            bk_tree_free(&t);
    }
    /* node counts beyond the data */
    uint8_t big[] = { BK_TREE_VERSION, 0xff, 0xff, 0xff, 0x07 };
    assert_int_equal(bk_tree_decode(big, sizeof(big), &t), -EBADMSG);
    assert_int_equal(bk_tree_decode(NULL, 0, &t), -EBADMSG);
}

/* Files whose content is in list blobs: such a tree is of version 2 (one without is of
 * version 1, as before), its lists survive a round trip and a copy; a list blob's pieces
 * round trip and are checked against what the node says of them. */
static void test_lists(void **state)
{
    bk_node f = { 0 };
    f.name = strdup("big");
    f.name_len = 3;
    f.type = BK_NODE_FILE;
    f.mode = 0644;
    f.size = 3000;
    f.nlists = 2;
    f.lists = calloc(2, sizeof(*f.lists));
    assert_non_null(f.lists);
    memset(f.lists[0].id.b, 0x11, BK_ID_LEN);
    f.lists[0].bytes = 2000;
    f.lists[0].pieces = 2;
    memset(f.lists[1].id.b, 0x22, BK_ID_LEN);
    f.lists[1].bytes = 1000;
    f.lists[1].pieces = 1;
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(&f, 1, &b), 0);
    assert_int_equal(b.data[0], BK_TREE_VERSION_LISTS);
    bk_tree d;
    assert_int_equal(bk_tree_decode(b.data, b.len, &d), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.nodes[0].nlists, 2);
    assert_int_equal(d.nodes[0].ncontent, 0);
    assert_int_equal(d.nodes[0].lists[1].bytes, 1000);
    assert_int_equal(bk_node_pieces(&d.nodes[0]), 3);
    assert_memory_equal(d.nodes[0].lists[0].id.b, f.lists[0].id.b, BK_ID_LEN);
    bk_node copy;
    assert_int_equal(bk_node_copy(&d.nodes[0], &copy), 0);
    assert_int_equal(copy.nlists, 2);
    assert_true(bk_node_content_equal(&copy, &f));
    copy.lists[1].id.b[0] ^= 1;
    assert_false(bk_node_content_equal(&copy, &f));
    bk_node_clear(&copy);
    bk_tree_free(&d);

    /* loaded pieces are not encoded: the node still encodes as its lists */
    bk_buf b2 = BK_BUF_INIT;
    f.content = calloc(3, sizeof(*f.content));
    f.ncontent = 3;
    assert_int_equal(bk_tree_encode(&f, 1, &b2), 0);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    bk_buf_free(&b2);

    /* sizes must add up; a version-1 tree has no lists */
    f.size = 2999;
    assert_int_equal(bk_tree_encode(&f, 1, &b2), 0);
    assert_int_equal(bk_tree_decode(b2.data, b2.len, &d), -EBADMSG);
    bk_buf_free(&b2);
    b.data[0] = BK_TREE_VERSION;
    assert_int_equal(bk_tree_decode(b.data, b.len, &d), -EBADMSG);
    bk_buf_free(&b);
    bk_node_clear(&f);

    /* a list blob */
    bk_content c[3] = { { .len = 1500 }, { .len = 500, .hole = true }, { .len = 1000 } };
    memset(c[0].id.b, 0x33, BK_ID_LEN);
    memset(c[2].id.b, 0x44, BK_ID_LEN);
    assert_int_equal(bk_clist_encode(c, 3, &b), 0);
    assert_int_equal(b.data[0], BK_CLIST_MAGIC);
    bk_content *v = NULL;
    size_t n = 0;
    assert_int_equal(bk_clist_decode(b.data, b.len, 3000, 3, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_true(v[1].hole);
    assert_memory_equal(v[2].id.b, c[2].id.b, BK_ID_LEN);
    /* appended after what is there */
    assert_int_equal(bk_clist_decode(b.data, b.len, 3000, 3, &v, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(v[3].len, 1500);
    free(v);
    v = NULL;
    n = 0;
    assert_int_equal(bk_clist_decode(b.data, b.len, 2999, 3, &v, &n), -EBADMSG);
    assert_int_equal(bk_clist_decode(b.data, b.len, 3000, 2, &v, &n), -EBADMSG);
    assert_int_equal(bk_clist_decode(b.data, b.len - 1, 3000, 3, &v, &n), -EBADMSG);
    assert_int_equal(bk_tree_decode(b.data, b.len, &d), -EPROTONOSUPPORT);   /* not a tree */
    free(v);
    bk_buf_free(&b);
}

static void test_sort_find(void **state)
{
    bk_tree t = { 0 };
    const char *names[] = { "b", "a", "ab", "B", "\xff", "a\n" };
    for (size_t i = 0; i < BK_ELEMENTSOF(names); i++) {
        bk_node n;
        memset(&n, 0, sizeof(n));
        n.name = strdup(names[i]);
        n.name_len = strlen(names[i]);
        n.type = BK_NODE_FIFO;
        assert_int_equal(bk_tree_push(&t, &n), 0);
        assert_null(n.name);   /* taken over */
    }
    assert_int_equal(bk_tree_sort(&t), 0);
    const char *want[] = { "B", "a", "a\n", "ab", "b", "\xff" };
    for (size_t i = 0; i < t.n; i++)
        assert_string_equal(t.nodes[i].name, want[i]);
    for (size_t i = 0; i < t.n; i++)
        assert_ptr_equal(bk_tree_find(&t, want[i], strlen(want[i])), &t.nodes[i]);
    bk_node dup;
    memset(&dup, 0, sizeof(dup));
    dup.name = strdup("ab");
    dup.name_len = 2;
    assert_int_equal(bk_tree_push(&t, &dup), 0);
    assert_int_equal(bk_tree_sort(&t), -EEXIST);
    bk_tree_free(&t);
    assert_true(bk_name_cmp("a", 1, "ab", 2) < 0);
    assert_true(bk_name_cmp("ab", 2, "a", 1) > 0);
    assert_true(bk_name_cmp("a\xff", 2, "ab", 2) > 0);   /* bytewise, unsigned */
    assert_int_equal(bk_name_cmp("x", 1, "x", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_golden_fflags),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_raw_encoder_agrees),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_decode_rejects_names),
        cmocka_unit_test(test_decode_rejects_fields),
        cmocka_unit_test(test_decode_rejects_bytes),
        cmocka_unit_test(test_sort_find),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
