/* test-cdc.c - turning files into content lists: holes of sparse files are found with
 * SEEK_HOLE/SEEK_DATA and recorded without being read, in pieces of at most 1 GiB; short
 * holes are read as zeros; a file that shrank ends where it ended. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "cdc.h"
#include "helpers.h"

typedef struct fixture {
    char *dir;
    bk_repo *repo;
    bk_writer *w;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = th_tmpdir();
    char loc[4200];
    snprintf(loc, sizeof(loc), "%s/repo", f->dir);
    f->repo = bk_repo_new();
    assert_non_null(f->repo);
    assert_int_equal(bk_repo_set_int(f->repo, BK_REPO_NO_CACHE, 1), 0);
    assert_int_equal(bk_repo_set_int(f->repo, BK_REPO_KDF_OPS, TH_GOLDEN_KDF_OPS), 0);
    assert_int_equal(bk_repo_set_int(f->repo, BK_REPO_KDF_MEMORY, TH_GOLDEN_KDF_MEM), 0);
    assert_int_equal(bk_repo_init(f->repo, loc, "pass", 4), 0);
    assert_int_equal(bk_writer_new(f->repo, true, &f->w), 0);   /* dry run: nothing stored */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(bk_writer_finish(f->w), 0);
    bk_writer_free(f->w);
    bk_repo_free(f->repo);
    th_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A file of size bytes with data (seeded) at each [off, off + len) of regions. */
static int make_file(fixture *f, const char *name, uint64_t size, const uint64_t (*regions)[2],
                     size_t nregions)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    for (size_t i = 0; i < nregions; i++) {
        uint8_t *p = malloc(regions[i][1]);
        th_fill(p, regions[i][1], 100 + i);
        assert_int_equal(pwrite(fd, p, regions[i][1], (off_t)regions[i][0]), (ssize_t)regions[i][1]);
        free(p);
    }
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Is the file system under the test's directory making holes?  (tmpfs and ext4 do.) */
static bool sparse_supported(int fd, uint64_t size)
{
    off_t h = lseek(fd, 0, SEEK_HOLE);
    lseek(fd, 0, SEEK_SET);
    return h >= 0 && (uint64_t)h < size;
}

static uint64_t hole_bytes(const bk_node *n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n->ncontent; i++)
        if (n->content[i].hole)
            s += n->content[i].len;
    return s;
}

static void test_holes_are_not_read(void **state)
{
    fixture *f = *state;
    /* 64 MiB: 1 MiB of data at 8 MiB, 4 KiB at 40 MiB, a hole up to the end */
    const uint64_t regions[][2] = { { 8 << 20, 1 << 20 }, { 40 << 20, 4096 } };
    int fd = make_file(f, "sparse", 64 << 20, regions, 2);
    assert_true(sparse_supported(fd, 64 << 20));
    bk_cdc c;
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    int io_err = 0;
    assert_int_equal(bk_cdc_read_file(&c, fd, 64 << 20, &io_err), 0);
    bk_node n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(bk_cdc_finish(&c, &n), 0);
    assert_int_equal(n.size, 64 << 20);
    /* only the data blocks were read (the file system may round them to its blocks) */
    assert_true(c.bytes_read >= (1 << 20) + 4096);
    assert_true(c.bytes_read <= (1 << 20) + 4096 + 2 * 65536);
    assert_true(hole_bytes(&n) >= (64u << 20) - (1 << 20) - 4096 - 2 * 65536);
    /* the first piece is the leading hole, the last one the trailing hole */
    assert_true(n.content[0].hole);
    assert_int_equal(n.content[0].len, 8 << 20);
    assert_true(n.content[n.ncontent - 1].hole);
    bk_node_clear(&n);
    bk_cdc_free(&c);
    close(fd);
}

static void test_short_holes_are_read(void **state)
{
    fixture *f = *state;
    /* holes of 64 KiB between data: shorter than the minimal chunk (512 KiB), read */
    const uint64_t regions[][2] = { { 0, 1 << 20 }, { (1 << 20) + 65536, 1 << 20 } };
    uint64_t size = (2 << 20) + 65536;
    int fd = make_file(f, "short", size, regions, 2);
    bk_cdc c;
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    int io_err = 0;
    assert_int_equal(bk_cdc_read_file(&c, fd, size, &io_err), 0);
    assert_int_equal(c.bytes_read, size);
    bk_node n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(bk_cdc_finish(&c, &n), 0);
    assert_int_equal(n.size, size);
    assert_int_equal(hole_bytes(&n), 0);
    bk_node_clear(&n);
    bk_cdc_free(&c);
    close(fd);
}

static void test_large_hole_pieces(void **state)
{
    fixture *f = *state;
    bk_cdc c;
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    uint64_t len = 3 * (uint64_t)BK_HOLE_PIECE_MAX + 5;
    assert_int_equal(bk_cdc_hole(&c, len), 0);
    bk_node n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(bk_cdc_finish(&c, &n), 0);
    assert_int_equal(n.ncontent, 4);
    for (size_t i = 0; i < 3; i++) {
        assert_true(n.content[i].hole);
        assert_int_equal(n.content[i].len, BK_HOLE_PIECE_MAX);
    }
    assert_int_equal(n.content[3].len, 5);
    assert_int_equal(n.size, len);
    assert_int_equal(c.bytes_read, 0);
    /* and the tree format keeps them */
    bk_buf b = BK_BUF_INIT;
    n.name = strdup("f");
    n.name_len = 1;
    n.type = BK_NODE_FILE;
    n.user = strdup("");
    n.group = strdup("");
    assert_int_equal(bk_tree_encode(&n, 1, &b), 0);
    bk_tree t;
    assert_int_equal(bk_tree_decode(b.data, b.len, &t), 0);
    assert_int_equal(t.n, 1);
    assert_true(th_node_equal(&t.nodes[0], &n));
    bk_tree_free(&t);
    bk_buf_free(&b);
    bk_node_clear(&n);
    bk_cdc_free(&c);
}

static void test_not_sparse(void **state)
{
    fixture *f = *state;
    /* a dense file (and a file read as a stream) is read whole */
    const uint64_t regions[][2] = { { 0, 3 << 20 } };
    int fd = make_file(f, "dense", 3 << 20, regions, 1);
    bk_cdc c;
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    int io_err = 0;
    assert_int_equal(bk_cdc_read_file(&c, fd, 3 << 20, &io_err), 0);
    assert_int_equal(c.bytes_read, 3 << 20);
    bk_node n;
    memset(&n, 0, sizeof(n));
    assert_int_equal(bk_cdc_finish(&c, &n), 0);
    assert_int_equal(hole_bytes(&n), 0);
    bk_node_clear(&n);
    bk_cdc_free(&c);

    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    assert_int_equal(bk_cdc_read_fd(&c, fd, &io_err), 0);
    assert_int_equal(c.bytes_read, 3 << 20);
    bk_cdc_free(&c);
    close(fd);
}

/* A file of more than BK_CLIST_PIECES pieces comes out as list blobs of that many pieces
 * (the last one fewer) adding up to the file, and a node of the same pieces kept inline (a
 * tree of an older version) is turned into the very same lists. */
static void test_lists(void **state)
{
    fixture *f = *state;
    const size_t pieces = 2 * BK_CLIST_PIECES + 100;
    bk_cdc c;
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    /* hole pieces cost nothing to make: 1 GiB each */
    assert_int_equal(bk_cdc_hole(&c, (uint64_t)pieces << 30), 0);
    bk_node n = { .type = BK_NODE_FILE };
    assert_int_equal(bk_cdc_finish(&c, &n), 0);
    bk_cdc_free(&c);
    assert_int_equal(n.ncontent, 0);
    assert_int_equal(n.nlists, 3);
    assert_int_equal(n.lists[0].pieces, BK_CLIST_PIECES);
    assert_int_equal(n.lists[2].pieces, 100);
    assert_int_equal(bk_node_pieces(&n), pieces);
    assert_int_equal(n.size, (uint64_t)pieces << 30);
    assert_int_equal(n.lists[0].bytes + n.lists[1].bytes + n.lists[2].bytes, n.size);

    bk_node old = { .type = BK_NODE_FILE, .size = n.size };
    old.content = calloc(pieces, sizeof(*old.content));
    old.ncontent = pieces;
    for (size_t i = 0; i < pieces; i++) {
        old.content[i].len = 1u << 30;
        old.content[i].hole = true;
    }
    assert_int_equal(bk_cdc_to_lists(f->repo->keys, f->w, &old), 0);
    assert_int_equal(old.ncontent, 0);
    assert_int_equal(old.nlists, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_memory_equal(old.lists[i].id.b, n.lists[i].id.b, BK_ID_LEN);
        assert_int_equal(old.lists[i].bytes, n.lists[i].bytes);
        assert_int_equal(old.lists[i].pieces, n.lists[i].pieces);
    }
    /* exactly BK_CLIST_PIECES pieces stay inline, from either path */
    bk_cdc_init(&c, &f->repo->chunker, f->repo->keys, f->w);
    assert_int_equal(bk_cdc_hole(&c, (uint64_t)BK_CLIST_PIECES << 30), 0);
    bk_node edge = { .type = BK_NODE_FILE };
    assert_int_equal(bk_cdc_finish(&c, &edge), 0);
    bk_cdc_free(&c);
    assert_int_equal(edge.nlists, 0);
    assert_int_equal(edge.ncontent, BK_CLIST_PIECES);
    assert_int_equal(bk_cdc_to_lists(f->repo->keys, f->w, &edge), 0);
    assert_int_equal(edge.nlists, 0);
    bk_node_clear(&edge);
    /* a small file stays as it is */
    bk_node small = { .type = BK_NODE_FILE, .size = 1 };
    small.content = calloc(1, sizeof(*small.content));
    small.content[0].len = 1;
    small.ncontent = 1;
    assert_int_equal(bk_cdc_to_lists(f->repo->keys, f->w, &small), 0);
    assert_int_equal(small.ncontent, 1);
    assert_int_equal(small.nlists, 0);
    bk_node_clear(&small);
    bk_node_clear(&old);
    bk_node_clear(&n);
}

/* diff between a file kept inline (a tree of an older version) and the same file in
 * content lists: the same content; with other pieces of the same size: modified. */
static int count_modified(bk_diff_kind kind, const bk_node_info *a, const bk_node_info *b, void *ud)
{
    (void)a;
    (void)b;
    *(int *)ud += kind == BK_DIFF_MODIFIED;
    return 0;
}

static void save_tree_of(fixture *f, bk_writer *w, const bk_node *n, bk_id *ret)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(n, 1, &b), 0);
    assert_int_equal(bk_blob_id(f->repo->keys, b.data, b.len, ret), 0);
    assert_true(bk_writer_add(w, BK_KIND_TREE, ret, b.data, b.len) >= 0);
    bk_buf_free(&b);
}

static void inline_holes(bk_node *n, size_t pieces, bool split_last)
{
    memset(n, 0, sizeof(*n));
    n->name = strdup("f");
    n->name_len = 1;
    n->type = BK_NODE_FILE;
    n->mode = 0644;
    n->ncontent = pieces + split_last;
    n->content = calloc(n->ncontent, sizeof(*n->content));
    for (size_t i = 0; i < pieces; i++) {
        n->content[i].len = 1u << 30;
        n->content[i].hole = true;
    }
    if (split_last) {   /* the last GiB in two halves: the same size, other pieces */
        n->content[pieces - 1].len = 1u << 29;
        n->content[pieces].len = 1u << 29;
        n->content[pieces].hole = true;
    }
    n->size = (uint64_t)pieces << 30;
}

static void test_diff_lists_and_inline(void **state)
{
    fixture *f = *state;
    bk_writer *w;
    assert_int_equal(bk_writer_new(f->repo, false, &w), 0);
    const size_t pieces = BK_CLIST_PIECES + 808;
    bk_node a, b, c;
    inline_holes(&a, pieces, false);
    inline_holes(&b, pieces, false);
    inline_holes(&c, pieces, true);
    assert_int_equal(bk_cdc_to_lists(f->repo->keys, w, &b), 0);
    assert_int_equal(bk_cdc_to_lists(f->repo->keys, w, &c), 0);
    assert_int_equal(b.nlists, 2);
    bk_snapshot sa = { 0 }, sb = { 0 }, sc = { 0 };
    save_tree_of(f, w, &a, &sa.tree);
    save_tree_of(f, w, &b, &sb.tree);
    save_tree_of(f, w, &c, &sc.tree);
    assert_int_equal(bk_writer_finish(w), 0);
    bk_writer_free(w);
    int modified = 0;
    assert_int_equal(bk_diff(f->repo, &sa, &sb, count_modified, &modified), 0);
    assert_int_equal(modified, 0);
    assert_int_equal(bk_diff(f->repo, &sb, &sa, count_modified, &modified), 0);
    assert_int_equal(modified, 0);
    assert_int_equal(bk_diff(f->repo, &sa, &sc, count_modified, &modified), 0);
    assert_int_equal(modified, 1);
    bk_node_clear(&a);
    bk_node_clear(&b);
    bk_node_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_holes_are_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_holes_are_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_hole_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_sparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_lists_and_inline, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
