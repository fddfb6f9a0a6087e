/* test-restore-safety.c - a restore of a crafted, malicious snapshot never writes outside
 * its target directory.
 *
 * Every test makes a local repository in a temporary directory BASE laid out as
 *     BASE/repo      the repository (cheap KDF)
 *     BASE/outside   files a malicious snapshot would like to write into or over
 *     BASE/target    where the snapshot is restored
 *     BASE/control   where the harmless twin of a crafted snapshot is restored
 * and writes blobs, trees and snapshots with the internal API (bk_writer, bk_tree_encode,
 * bk_repo_save_snapshot).  Trees that bk_tree_encode refuses to make (names "..", with
 * '/', duplicates) are made by encoding a valid tree with placeholder names of the same
 * length and patching the name bytes of the plaintext before it is stored as a tree blob
 * (its id is the keyed hash of the patched bytes, so the repository is consistent).
 *
 * After each restore: outside/ is byte for byte what it was (recursive listing of type,
 * mode, size, mtime, content, link targets and, where nothing may link to it, link counts
 * and ctimes), no entry whose name starts with "PAYLOAD" exists anywhere but in the
 * target (and the control restore), neither in BASE, its parent, nor the working
 * directory, and the working directory (the restorer never changes it) is what it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "writer.h"

#define PASS "restore-safety"
#define MTIME 1700000000

typedef struct env {
    char *base;
    char repo_loc[PATH_MAX], outside[PATH_MAX], target[PATH_MAX], control[PATH_MAX];
    char cwd[PATH_MAX];
    bk_repo *repo;            /* the handle that writes */
    bk_writer *w;             /* open between the first blob and the next commit */
    void *allocs[256];        /* node content arrays, freed at teardown */
    size_t nallocs;
    uint64_t inode;           /* next inode number of made-up nodes */
    int nsnaps;
} env;

/* ---- small file system helpers ---------------------------------------------------------- */

static void join(char *out, const char *a, const char *b)
{
    int k = snprintf(out, PATH_MAX, "%s/%s", a, b);
    assert_true(k > 0 && k < PATH_MAX);
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char p[PATH_MAX];
    join(p, dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void make_dir(const char *dir, const char *name)
{
    char p[PATH_MAX];
    join(p, dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void make_symlink(const char *dir, const char *name, const char *to)
{
    char p[PATH_MAX];
    join(p, dir, name);
    assert_int_equal(symlink(to, p), 0);
}

/* The whole content of a file (NUL-terminated), or NULL if it cannot be read. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *s = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            s = realloc(s, cap);
            assert_non_null(s);
        }
        ssize_t k = read(fd, s + n, cap - n - 1);
        assert_true(k >= 0);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    s[n] = 0;
    return s;
}

static void assert_file_is(const char *dir, const char *name, const char *content)
{
    char p[PATH_MAX];
    join(p, dir, name);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    char *s = slurp(p);
    assert_non_null(s);
    assert_string_equal(s, content);
    free(s);
}

static void assert_symlink_is(const char *dir, const char *name, const char *to)
{
    char p[PATH_MAX], buf[PATH_MAX];
    join(p, dir, name);
    ssize_t k = readlink(p, buf, sizeof(buf) - 1);
    assert_true(k >= 0);
    buf[k] = 0;
    assert_string_equal(buf, to);
}

static void assert_type(const char *dir, const char *name, mode_t type)
{
    char p[PATH_MAX];
    join(p, dir, name);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & S_IFMT, type);
}

static void assert_absent(const char *dir, const char *name)
{
    char p[PATH_MAX];
    join(p, dir, name);
    struct stat st;
    assert_int_equal(lstat(p, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int no_dots(const struct dirent *de)
{
    return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* One line per entry below root (and root itself as "."), sorted, with everything that
 * would show a write: type, mode, owner, size, mtime, content (hex) or link target, and
 * with links also the link count and ctime (a hard link made or dropped, a chmod). */
static void list_rec(FILE *out, const char *root, const char *rel, bool links)
{
    char path[PATH_MAX];
    if (*rel)
        join(path, root, rel);
    else
        snprintf(path, sizeof(path), "%s", root);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    fprintf(out, "%s type=%o mode=%o uid=%u gid=%u size=%lld mtime=%lld.%09ld", *rel ? rel : ".",
            (unsigned)(st.st_mode & S_IFMT), (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
            (unsigned)st.st_gid, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
            st.st_mtim.tv_nsec);
    if (links)
        fprintf(out, " nlink=%llu ctime=%lld.%09ld", (unsigned long long)st.st_nlink,
                (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    if (S_ISREG(st.st_mode)) {
        char *s = slurp(path);
        assert_non_null(s);
        fputs(" data=", out);
        for (size_t i = 0; s[i]; i++)
            fprintf(out, "%02x", (unsigned char)s[i]);
        free(s);
    } else if (S_ISLNK(st.st_mode)) {
        char buf[PATH_MAX];
        ssize_t k = readlink(path, buf, sizeof(buf) - 1);
        assert_true(k >= 0);
        buf[k] = 0;
        fprintf(out, " -> %s", buf);
    }
    fputc('\n', out);
    if (!S_ISDIR(st.st_mode))
        return;
    struct dirent **v;
    int n = scandir(path, &v, no_dots, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        char sub[PATH_MAX];
        if (*rel)
            join(sub, rel, v[i]->d_name);
        else
            snprintf(sub, sizeof(sub), "%s", v[i]->d_name);
        list_rec(out, root, sub, links);
        free(v[i]);
    }
    free(v);
}

static char *listing(const char *root, bool links)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    assert_non_null(f);
    list_rec(f, root, "", links);
    assert_int_equal(fclose(f), 0);
    return s;
}

/* Entries whose name starts with "PAYLOAD" below dir (recursive, never following a
 * symlink), except below the paths in skip; their paths are appended to found. */
static void find_payloads(const char *dir, bool recursive, const char *const *skip,
                          size_t nskip, char *found, size_t cap)
{
    for (size_t i = 0; i < nskip; i++)
        if (strcmp(dir, skip[i]) == 0)
            return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[PATH_MAX];
        join(p, dir, de->d_name);
        if (strncmp(de->d_name, "PAYLOAD", 7) == 0) {
            size_t len = strlen(found);
            snprintf(found + len, cap - len, "%s\n", p);
        }
        struct stat st;
        if (recursive && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            find_payloads(p, true, skip, nskip, found, cap);
    }
    closedir(d);
}

/* ---- the environment ---------------------------------------------------------------------- */

static const char VICTIM[] = "victim: the original content\n";
static const char INNER[] = "inner: the original content\n";
static const char PAYLOAD[] = "PAYLOAD: written by a malicious snapshot\n";

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->inode = 1000;
    e->base = th_tmpdir();
    join(e->repo_loc, e->base, "repo");
    join(e->outside, e->base, "outside");
    join(e->target, e->base, "target");
    join(e->control, e->base, "control");
    assert_non_null(getcwd(e->cwd, sizeof(e->cwd)));

    /* what must survive untouched */
    assert_int_equal(mkdir(e->outside, 0755), 0);
    write_file(e->outside, "victim", VICTIM);
    write_file(e->outside, ".hidden", "hidden\n");
    make_dir(e->outside, "sub");
    char sub[PATH_MAX];
    join(sub, e->outside, "sub");
    write_file(sub, "inner", INNER);
    make_symlink(e->outside, "link", "victim");
    struct timespec ts[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, sub, ts, AT_SYMLINK_NOFOLLOW), 0);

    e->repo = th_new_repo(e->repo_loc, PASS, 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    bk_writer_free(e->w);
    bk_repo_free(e->repo);
    for (size_t i = 0; i < e->nallocs; i++)
        free(e->allocs[i]);
    th_rmrf(e->base);
    free(e->base);
    free(e);
    return 0;
}

static bk_writer *writer(env *e)
{
    if (!e->w)
        assert_int_equal(bk_writer_new(e->repo, false, &e->w), 0);
    return e->w;
}

/* ---- nodes and trees ------------------------------------------------------------------------ */

static bk_node node_base(env *e, const char *name, uint8_t type, uint32_t mode)
{
    bk_node n;
    memset(&n, 0, sizeof(n));
    n.name = (char *)name;
    n.name_len = strlen(name);
    n.type = type;
    n.mode = mode;
    n.uid = (uint32_t)getuid();
    n.gid = (uint32_t)getgid();
    n.mtime = MTIME;
    n.ctime = MTIME;
    n.inode = e->inode++;
    n.dev = 0x801;
    n.nlink = 1;
    return n;
}

static bk_node nd_file(env *e, const char *name, const char *content)
{
    bk_node n = node_base(e, name, BK_NODE_FILE, 0644);
    size_t len = strlen(content);
    n.size = len;
    if (len) {
        assert_true(e->nallocs < BK_ELEMENTSOF(e->allocs));
        bk_content *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        e->allocs[e->nallocs++] = c;
        assert_int_equal(bk_blob_id(e->repo->keys, content, len, &c->id), 0);
        c->len = (uint32_t)len;
        assert_true(bk_writer_add(writer(e), BK_KIND_DATA, &c->id, content, len) >= 0);
        n.content = c;
        n.ncontent = 1;
    }
    return n;
}

/* A file of size bytes that is one hole (nothing to write). */
static bk_node nd_sparse(env *e, const char *name, uint32_t size)
{
    bk_node n = node_base(e, name, BK_NODE_FILE, 0644);
    n.size = size;
    assert_true(e->nallocs < BK_ELEMENTSOF(e->allocs));
    bk_content *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    e->allocs[e->nallocs++] = c;
    c->len = size;
    c->hole = true;
    n.content = c;
    n.ncontent = 1;
    return n;
}

/* A file with nlink links to the inode ino (hard links are (dev, inode) groups). */
static bk_node nd_hardlink(env *e, const char *name, const char *content, uint64_t ino)
{
    bk_node n = nd_file(e, name, content);
    n.inode = ino;
    n.nlink = 2;
    return n;
}

static bk_node nd_dir(env *e, const char *name, bk_id sub)
{
    bk_node n = node_base(e, name, BK_NODE_DIR, 0755);
    n.subtree = sub;
    return n;
}

static bk_node nd_link(env *e, const char *name, const char *to)
{
    bk_node n = node_base(e, name, BK_NODE_SYMLINK, 0777);
    n.target = (char *)to;
    n.target_len = strlen(to);
    n.size = n.target_len;
    return n;
}

/* Rename node idx of the encoded tree to name (as long as its placeholder). */
typedef struct patch {
    size_t idx;
    const char *name;
} patch;

/* Where node idx starts in the encoding of nodes: the length of the encoding of the nodes
 * before it (the count varint is one byte either way: fewer than 128 nodes). */
static size_t node_offset(const bk_node *nodes, size_t idx)
{
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(nodes, idx, &b), 0);
    size_t off = b.len;
    bk_buf_free(&b);
    return off;
}

/* Store the tree of nodes (sorted by their placeholder names) as a tree blob, with the
 * patches applied when malicious.  The patched tree must be one the decoder refuses. */
static bk_id put_tree(env *e, const bk_node *nodes, size_t n, const patch *p, size_t np,
                      bool malicious)
{
    assert_true(n < 128);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_tree_encode(nodes, n, &b), 0);
    for (size_t i = 0; malicious && i < np; i++) {
        const bk_node *nd = &nodes[p[i].idx];
        size_t off = node_offset(nodes, p[i].idx);
        assert_true(nd->name_len < 128);
        assert_int_equal(strlen(p[i].name), nd->name_len);
        assert_int_equal(b.data[off], nd->name_len);
        assert_memory_equal(b.data + off + 1, nd->name, nd->name_len);
        memcpy(b.data + off + 1, p[i].name, nd->name_len);
    }
    if (malicious && np) {
        bk_tree t;
        assert_int_equal(bk_tree_decode(b.data, b.len, &t), -EBADMSG);
    }
    bk_id id;
    assert_int_equal(bk_blob_id(e->repo->keys, b.data, b.len, &id), 0);
    assert_true(bk_writer_add(writer(e), BK_KIND_TREE, &id, b.data, b.len) >= 0);
    bk_buf_free(&b);
    return id;
}

#define TREE(e, nodes, patches, mal) \
    put_tree(e, nodes, BK_ELEMENTSOF(nodes), patches, BK_ELEMENTSOF(patches), mal)
#define PLAIN_TREE(e, nodes) put_tree(e, nodes, BK_ELEMENTSOF(nodes), NULL, 0, false)

/* Write what is pending and a snapshot of root. */
static bk_id commit(env *e, bk_id root)
{
    if (e->w) {
        assert_int_equal(bk_writer_finish(e->w), 0);
        bk_writer_free(e->w);
        e->w = NULL;
    }
    char *paths[] = { (char *)"/" };
    bk_snapshot s;
    memset(&s, 0, sizeof(s));
    s.time = MTIME + e->nsnaps++;
    s.host = (char *)"restore-safety";
    s.username = (char *)"test";
    s.paths = paths;
    s.npaths = 1;
    s.tree = root;
    s.chunk_min = e->repo->config.chunk_min;
    s.chunk_avg = e->repo->config.chunk_avg;
    s.chunk_max = e->repo->config.chunk_max;
    s.program = (char *)"arca test";
    assert_int_equal(bk_repo_save_snapshot(e->repo, &s), 0);
    return s.id;
}

/* ---- restoring -------------------------------------------------------------------------------- */

typedef struct outcome {
    int r;
    char msg[1024];
    bk_restore_stats st;
    unsigned nitems;
    char items[4096];          /* "path: code message" lines of the item errors */
} outcome;

static void on_item(const char *path, int code, const char *msg, void *userdata)
{
    outcome *o = userdata;
    size_t len = strlen(o->items);
    o->nitems++;
    snprintf(o->items + len, sizeof(o->items) - len, "%s: %d %s\n", path, code, msg ? msg : "");
}

enum { R_DELETE = 1, R_VERIFY = 2, R_DRY = 4 };

/* Restore the snapshot id into dir through a handle of its own, as the CLI would
 * (only the entries below include, if not NULL). */
static void restore_some(env *e, bk_id id, const char *dir, unsigned flags,
                         const char *const *include, outcome *o)
{
    memset(o, 0, sizeof(*o));
    bk_repo *repo = bk_repo_new();
    assert_non_null(repo);
    assert_int_equal(bk_repo_set_int(repo, BK_REPO_NO_CACHE, 1), 0);
    assert_int_equal(bk_repo_set_int(repo, BK_REPO_THREADS, 2), 0);
    assert_int_equal(bk_repo_open(repo, e->repo_loc, PASS, strlen(PASS)), 0);
    char hex[BK_ID_HEX];
    bk_id_hex(&id, hex);
    bk_snapshot *snap;
    assert_int_equal(bk_snapshot_find(repo, hex, NULL, &snap), 0);
    bk_restore *rs;
    assert_int_equal(bk_restore_new(repo, snap, &rs), 0);
    assert_int_equal(bk_restore_set_str(rs, BK_RESTORE_TARGET, dir), 0);
    assert_int_equal(bk_restore_set_int(rs, BK_RESTORE_NO_OWNER, 1), 0);
    assert_int_equal(bk_restore_set_int(rs, BK_RESTORE_DELETE, (flags & R_DELETE) != 0), 0);
    assert_int_equal(bk_restore_set_int(rs, BK_RESTORE_VERIFY, (flags & R_VERIFY) != 0), 0);
    assert_int_equal(bk_restore_set_int(rs, BK_RESTORE_DRY_RUN, (flags & R_DRY) != 0), 0);
    for (size_t i = 0; include && include[i]; i++)
        assert_int_equal(bk_restore_set_str(rs, BK_RESTORE_INCLUDE, include[i]), 0);
    bk_restore_set_item_error(rs, on_item, o);
    o->r = bk_restore_run(rs, &o->st);
    snprintf(o->msg, sizeof(o->msg), "%s", bk_repo_errmsg(repo));
    bk_restore_free(rs);
    bk_snapshot_free(snap);
    bk_repo_free(repo);
    print_message("  restore%s%s -> %d (%s), errors %llu, files %llu, dirs %llu, others %llu, "
                  "deleted %llu\n%s", flags & R_DELETE ? " --delete" : "",
                  flags & R_DRY ? " --dry-run" : "", o->r, o->msg,
                  (unsigned long long)o->st.errors, (unsigned long long)o->st.files_restored,
                  (unsigned long long)o->st.dirs, (unsigned long long)o->st.others,
                  (unsigned long long)o->st.deleted, o->items);
    assert_int_equal(o->st.errors, o->nitems);   /* every error counted was reported */

    /* the working directory is not the restorer's to change */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_string_equal(cwd, e->cwd);
}

static void restore(env *e, bk_id id, const char *dir, unsigned flags, outcome *o)
{
    restore_some(e, id, dir, flags, NULL, o);
}

/* No "PAYLOAD*" anywhere but in the target and the control restore: not in BASE (nor
 * outside/), not next to BASE, not in the working directory. */
static void assert_no_payload_outside(env *e)
{
    char found[4096] = "";
    const char *skip[] = { e->target, e->control, e->repo_loc };
    find_payloads(e->base, true, skip, BK_ELEMENTSOF(skip), found, sizeof(found));
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", e->base);
    *strrchr(parent, '/') = 0;
    find_payloads(*parent ? parent : "/", false, NULL, 0, found, sizeof(found));
    find_payloads(e->cwd, false, NULL, 0, found, sizeof(found));
    if (*found)
        print_message("payloads outside the target:\n%s", found);
    assert_string_equal(found, "");
}

static void assert_outside_unchanged(env *e, const char *before, bool links)
{
    char *after = listing(e->outside, links);
    if (strcmp(before, after) != 0)
        print_message("outside/ before:\n%s\noutside/ after:\n%s", before, after);
    assert_string_equal(before, after);
    free(after);
    assert_no_payload_outside(e);
}

/* ---- crafted (invalid) snapshots ------------------------------------------------------------ */

/* Builds the root tree of a crafted snapshot, or with !malicious its harmless twin (the
 * placeholder names left in place). */
typedef bk_id (*builder_fn)(env *e, bool malicious);

/* The twin restores cleanly; the crafted snapshot is refused as a whole before anything
 * is written: bk_restore_run returns -EBADMSG ("tree ... is malformed": the decoder
 * rejects the names), the target is neither created nor touched, --delete removes
 * nothing, and outside/ is unchanged. */
static void crafted_case(env *e, builder_fn build)
{
    bk_id good = commit(e, build(e, false));
    bk_id bad = commit(e, build(e, true));
    char *before = listing(e->outside, true);
    outcome o;

    restore(e, good, e->control, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_true(count_entries(e->control) > 0);
    assert_outside_unchanged(e, before, true);

    /* into a target that does not exist yet */
    restore(e, bad, e->target, 0, &o);
    assert_int_equal(o.r, -EBADMSG);
    assert_non_null(strstr(o.msg, "malformed"));
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.files_restored + o.st.dirs + o.st.others + o.st.deleted, 0);
    struct stat st;
    assert_int_equal(lstat(e->target, &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_outside_unchanged(e, before, true);

    /* into an existing target, with --delete: nothing is removed either */
    assert_int_equal(mkdir(e->target, 0755), 0);
    write_file(e->target, "keep-me", "kept\n");
    restore(e, bad, e->target, R_DELETE, &o);
    assert_int_equal(o.r, -EBADMSG);
    assert_non_null(strstr(o.msg, "malformed"));
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.deleted, 0);
    assert_int_equal(count_entries(e->target), 1);
    assert_file_is(e->target, "keep-me", "kept\n");
    assert_outside_unchanged(e, before, true);
    free(before);
}

/* 1. ".." as the name of a file, in the root tree (after a valid sibling) */
static bk_id build_dotdot_file_root(env *e, bool mal)
{
    bk_node root[] = { nd_file(e, "a-sibling", "fine\n"), nd_file(e, "xx", PAYLOAD) };
    patch p[] = { { 1, ".." } };
    return TREE(e, root, p, mal);
}

/* 1. ".." as the name of a file in a subdirectory */
static bk_id build_dotdot_file_subdir(env *e, bool mal)
{
    bk_node sub[] = { nd_file(e, "a-sibling", "fine\n"), nd_file(e, "xx", PAYLOAD) };
    patch p[] = { { 1, ".." } };
    bk_node root[] = { nd_dir(e, "sub", TREE(e, sub, p, mal)) };
    return PLAIN_TREE(e, root);
}

/* 1. a directory ".." holding PAYLOAD-dotdot: naively BASE/PAYLOAD-dotdot */
static bk_id build_dotdot_dir_root(env *e, bool mal)
{
    bk_node in[] = { nd_file(e, "PAYLOAD-dotdot", PAYLOAD) };
    bk_node root[] = { nd_dir(e, "xx", PLAIN_TREE(e, in)) };
    patch p[] = { { 0, ".." } };
    return TREE(e, root, p, mal);
}

/* 1. sub/../../../PAYLOAD-deep: naively next to BASE */
static bk_id build_dotdot_chain(env *e, bool mal)
{
    bk_node in[] = { nd_file(e, "PAYLOAD-deep", PAYLOAD) };
    bk_node d3[] = { nd_dir(e, "zz", PLAIN_TREE(e, in)) };
    patch p3[] = { { 0, ".." } };
    bk_node d2[] = { nd_dir(e, "yy", TREE(e, d3, p3, mal)) };
    patch p2[] = { { 0, ".." } };
    bk_node d1[] = { nd_dir(e, "xx", TREE(e, d2, p2, mal)) };
    patch p1[] = { { 0, ".." } };
    bk_node root[] = { nd_dir(e, "sub", TREE(e, d1, p1, mal)) };
    return PLAIN_TREE(e, root);
}

/* 2. "../PAYLOAD-up" in the root tree: naively BASE/PAYLOAD-up */
static bk_id build_slash_up(env *e, bool mal)
{
    bk_node root[] = { nd_file(e, "xxxPAYLOAD-up", PAYLOAD) };
    patch p[] = { { 0, "../PAYLOAD-up" } };
    return TREE(e, root, p, mal);
}

/* 2. an absolute name, BASE/outside/PAYLOAD-abs */
static char abs_name[PATH_MAX], abs_placeholder[PATH_MAX];

static bk_id build_slash_absolute(env *e, bool mal)
{
    join(abs_name, e->outside, "PAYLOAD-abs");
    size_t len = strlen(abs_name);
    assert_true(len < 128);
    memset(abs_placeholder, 'p', len);
    abs_placeholder[len] = 0;
    bk_node root[] = { nd_file(e, "a-sibling", "fine\n"), nd_file(e, abs_placeholder, PAYLOAD) };
    patch p[] = { { 1, abs_name } };
    return TREE(e, root, p, mal);
}

/* 2. through a symlink of the same snapshot: "l" -> outside, then "l/PAYLOAD-via" and
 * "l/victim" (over an existing file outside) */
static bk_id build_slash_through_symlink(env *e, bool mal)
{
    bk_node root[] = { nd_link(e, "l", e->outside), nd_file(e, "lxPAYLOAD-via", PAYLOAD),
                       nd_file(e, "lxvictim", PAYLOAD) };
    patch p[] = { { 1, "l/PAYLOAD-via" }, { 2, "l/victim" } };
    return TREE(e, root, p, mal);
}

/* 2. "../../PAYLOAD-up2" in a subdirectory: naively BASE/PAYLOAD-up2 */
static bk_id build_slash_subdir(env *e, bool mal)
{
    bk_node sub[] = { nd_file(e, "xxxxxxPAYLOAD-up2", PAYLOAD) };
    patch p[] = { { 0, "../../PAYLOAD-up2" } };
    bk_node root[] = { nd_dir(e, "sub", TREE(e, sub, p, mal)) };
    return PLAIN_TREE(e, root);
}

/* 3. symlink "x" -> outside (absolute), then a directory also named "x" (patched from
 * "y") with PAYLOAD-dup and victim: naively written through the symlink */
static bk_id build_dup_symlink_dir_abs(env *e, bool mal)
{
    bk_node in[] = { nd_file(e, "PAYLOAD-dup", PAYLOAD), nd_file(e, "victim", PAYLOAD) };
    bk_node root[] = { nd_link(e, "x", e->outside), nd_dir(e, "y", PLAIN_TREE(e, in)) };
    patch p[] = { { 1, "x" } };
    return TREE(e, root, p, mal);
}

/* 3. the same with a relative symlink "x" -> ../outside, one level down */
static bk_id build_dup_symlink_dir_rel(env *e, bool mal)
{
    bk_node in[] = { nd_file(e, "PAYLOAD-dup", PAYLOAD), nd_file(e, "victim", PAYLOAD) };
    bk_node sub[] = { nd_link(e, "x", "../../outside"), nd_dir(e, "y", PLAIN_TREE(e, in)) };
    patch p[] = { { 1, "x" } };
    bk_node root[] = { nd_dir(e, "sub", TREE(e, sub, p, mal)) };
    return PLAIN_TREE(e, root);
}

/* 4. a hard-link pair whose second name is "../PAYLOAD-hl" (names cannot say it: only a
 * crafted tree can) */
static bk_id build_hardlink_second_outside(env *e, bool mal)
{
    bk_node root[] = { nd_hardlink(e, "a", PAYLOAD, 4242),
                       nd_hardlink(e, "xxxPAYLOAD-hl", PAYLOAD, 4242) };
    patch p[] = { { 1, "../PAYLOAD-hl" } };
    return TREE(e, root, p, mal);
}

static void test_dotdot_file_root(void **state) { crafted_case(*state, build_dotdot_file_root); }
static void test_dotdot_file_subdir(void **state) { crafted_case(*state, build_dotdot_file_subdir); }
static void test_dotdot_dir_root(void **state) { crafted_case(*state, build_dotdot_dir_root); }
static void test_dotdot_chain(void **state) { crafted_case(*state, build_dotdot_chain); }
static void test_slash_up(void **state) { crafted_case(*state, build_slash_up); }
static void test_slash_absolute(void **state) { crafted_case(*state, build_slash_absolute); }
static void test_slash_through_symlink(void **state)
{
    crafted_case(*state, build_slash_through_symlink);
}
static void test_slash_subdir(void **state) { crafted_case(*state, build_slash_subdir); }
static void test_dup_symlink_dir_abs(void **state)
{
    crafted_case(*state, build_dup_symlink_dir_abs);
}
static void test_dup_symlink_dir_rel(void **state)
{
    crafted_case(*state, build_dup_symlink_dir_rel);
}
static void test_hardlink_second_outside(void **state)
{
    crafted_case(*state, build_hardlink_second_outside);
}

/* ---- valid snapshots that point outside ------------------------------------------------------ */

/* 4. symlinks to outside/ (absolute, relative, to a file, dangling) and a hard-link pair:
 * the symlinks are made as they are, nothing is written through them, again and again. */
static void test_symlinks_outside_valid(void **state)
{
    env *e = *state;
    char dangling[PATH_MAX], victim[PATH_MAX];
    join(dangling, e->outside, "PAYLOAD-dangling");
    join(victim, e->outside, "victim");
    bk_node root[] = {
        nd_link(e, "abs", e->outside),
        nd_link(e, "dangling", dangling),
        nd_hardlink(e, "h1", PAYLOAD, 777),
        nd_hardlink(e, "h2", PAYLOAD, 777),
        nd_link(e, "link", e->outside),
        nd_link(e, "rel", "../outside"),
        nd_link(e, "victim", victim),
    };
    bk_id snap = commit(e, PLAIN_TREE(e, root));
    char *before = listing(e->outside, true);
    outcome o;
    for (int round = 0; round < 3; round++) {
        /* a fresh target, the same one again, and once more with --delete */
        restore(e, snap, e->target, R_VERIFY | (round == 2 ? R_DELETE : 0), &o);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.st.errors, 0);
        assert_int_equal(o.st.deleted, 0);
        assert_symlink_is(e->target, "abs", e->outside);
        assert_symlink_is(e->target, "dangling", dangling);
        assert_symlink_is(e->target, "link", e->outside);
        assert_symlink_is(e->target, "rel", "../outside");
        assert_symlink_is(e->target, "victim", victim);
        assert_file_is(e->target, "h1", PAYLOAD);
        assert_file_is(e->target, "h2", PAYLOAD);
        char p1[PATH_MAX], p2[PATH_MAX];
        struct stat s1, s2;
        join(p1, e->target, "h1");
        join(p2, e->target, "h2");
        assert_int_equal(lstat(p1, &s1), 0);
        assert_int_equal(lstat(p2, &s2), 0);
        assert_true(s1.st_ino == s2.st_ino && s1.st_nlink == 2);
        assert_int_equal(count_entries(e->target), 7);
        assert_outside_unchanged(e, before, true);
    }
    free(before);
}

/* A fresh target: its directories are made under temporary names and renamed into place
 * when complete, what is below them under final names; hard links between two directories
 * below a temporary one and from a file of the target itself, a symlink to outside/ in
 * each; a directory that holds too much to be hidden (a sparse 1.5 GiB file) beside them,
 * with a link to a file of a hidden one.  Nothing temporary stays, nothing is written
 * outside. */
static void test_fresh_hidden_dirs(void **state)
{
    env *e = *state;
    char victim[PATH_MAX];
    join(victim, e->outside, "victim");
    bk_node a[] = { nd_hardlink(e, "h1", PAYLOAD, 888), nd_link(e, "s", victim) };
    bk_node b[] = { nd_hardlink(e, "h2", PAYLOAD, 888), nd_link(e, "s", e->outside),
                    nd_hardlink(e, "t2", PAYLOAD, 999) };
    bk_node d[] = { nd_dir(e, "a", PLAIN_TREE(e, a)), nd_dir(e, "b", PLAIN_TREE(e, b)) };
    bk_node z[] = { nd_sparse(e, "huge", 3u << 29), nd_hardlink(e, "t4", PAYLOAD, 888) };
    bk_node root[] = { nd_dir(e, "d", PLAIN_TREE(e, d)), nd_hardlink(e, "t1", PAYLOAD, 999),
                       nd_dir(e, "z", PLAIN_TREE(e, z)) };
    bk_id snap = commit(e, PLAIN_TREE(e, root));
    char *before = listing(e->outside, true);
    outcome o;
    restore(e, snap, e->target, 0, &o);   /* (--verify would read 1.5 GiB of zeros) */
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(count_entries(e->target), 3);   /* d, t1, z: no temporary name left */
    char dz[PATH_MAX], ph[PATH_MAX];
    struct stat sh;
    join(dz, e->target, "z");
    assert_int_equal(count_entries(dz), 2);
    join(ph, dz, "huge");
    assert_int_equal(lstat(ph, &sh), 0);
    assert_true(S_ISREG(sh.st_mode) && sh.st_size == (off_t)3 << 29 && sh.st_blocks == 0);
    char da[PATH_MAX], db[PATH_MAX], dd[PATH_MAX];
    join(dd, e->target, "d");
    join(da, dd, "a");
    join(db, dd, "b");
    assert_int_equal(count_entries(dd), 2);
    assert_int_equal(count_entries(da), 2);
    assert_int_equal(count_entries(db), 3);
    assert_file_is(da, "h1", PAYLOAD);
    assert_file_is(db, "h2", PAYLOAD);
    assert_symlink_is(da, "s", victim);
    assert_symlink_is(db, "s", e->outside);
    char p1[PATH_MAX], p2[PATH_MAX];
    struct stat s1, s2;
    join(p1, da, "h1");
    join(p2, db, "h2");
    assert_int_equal(lstat(p1, &s1), 0);
    assert_int_equal(lstat(p2, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino && s1.st_nlink == 3);   /* and z/t4 */
    join(p1, e->target, "t1");
    join(p2, db, "t2");
    assert_int_equal(lstat(p1, &s1), 0);
    assert_int_equal(lstat(p2, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino && s1.st_nlink == 2);
    join(p1, da, "h1");
    join(p2, dz, "t4");
    assert_int_equal(lstat(p1, &s1), 0);
    assert_int_equal(lstat(p2, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino && s1.st_nlink == 3);
    assert_outside_unchanged(e, before, true);
    /* the same target again: nothing to write, nothing temporary */
    restore(e, snap, e->target, 0, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.files_restored, 0);
    assert_int_equal(count_entries(e->target), 3);
    assert_outside_unchanged(e, before, true);
    free(before);
}

/* A snapshot that has symlinks to outside/ restored first, then one that has directories
 * and files under the same names: the second replaces the symlinks, writes nothing
 * through them. */
static void test_snapshot_over_own_symlinks(void **state)
{
    env *e = *state;
    char victim[PATH_MAX], sub[PATH_MAX];
    join(victim, e->outside, "victim");
    join(sub, e->outside, "sub");
    bk_node a[] = {
        nd_link(e, "d", e->outside),
        nd_link(e, "f", victim),
        nd_link(e, "g", sub),
        nd_link(e, "h", "../outside/victim"),
        nd_link(e, "i", "../outside/victim"),
    };
    bk_id snap_a = commit(e, PLAIN_TREE(e, a));
    bk_node d_sub[] = { nd_file(e, "inner", PAYLOAD) };
    bk_node d[] = { nd_file(e, "PAYLOAD-d", PAYLOAD), nd_dir(e, "sub", PLAIN_TREE(e, d_sub)),
                    nd_file(e, "victim", PAYLOAD) };
    bk_node g[] = { nd_file(e, "inner", PAYLOAD) };
    bk_node b[] = {
        nd_dir(e, "d", PLAIN_TREE(e, d)),
        nd_file(e, "f", PAYLOAD),
        nd_dir(e, "g", PLAIN_TREE(e, g)),
        nd_hardlink(e, "h", PAYLOAD, 99),
        nd_hardlink(e, "i", PAYLOAD, 99),
    };
    bk_id snap_b = commit(e, PLAIN_TREE(e, b));
    char *before = listing(e->outside, true);

    for (int del = 0; del < 2; del++) {
        outcome o;
        if (del) {
            th_rmrf(e->target);
            assert_int_equal(count_entries(e->base), 2);   /* repo, outside */
        }
        restore(e, snap_a, e->target, 0, &o);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.st.errors, 0);
        assert_int_equal(o.st.others, 5);
        assert_symlink_is(e->target, "d", e->outside);
        assert_outside_unchanged(e, before, true);

        restore(e, snap_b, e->target, R_VERIFY | (del ? R_DELETE : 0), &o);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.st.errors, 0);
        assert_int_equal(o.st.deleted, del ? 5 : 0);   /* the symlinks in the way */
        assert_outside_unchanged(e, before, true);
        assert_type(e->target, "d", S_IFDIR);
        assert_type(e->target, "g", S_IFDIR);
        char td[PATH_MAX], tg[PATH_MAX], tds[PATH_MAX];
        join(td, e->target, "d");
        join(tg, e->target, "g");
        join(tds, td, "sub");
        assert_file_is(td, "PAYLOAD-d", PAYLOAD);
        assert_file_is(td, "victim", PAYLOAD);
        assert_file_is(tds, "inner", PAYLOAD);
        assert_file_is(tg, "inner", PAYLOAD);
        assert_file_is(e->target, "f", PAYLOAD);
        assert_file_is(e->target, "h", PAYLOAD);
        assert_file_is(e->target, "i", PAYLOAD);
    }
    free(before);
}

/* 5. an existing target with symlinks to outside/ where the snapshot has directories (and
 * a file), and symlinks to outside/ the snapshot does not have. */
static bk_id build_case5(env *e)
{
    bk_node dsub[] = { nd_file(e, "inner", PAYLOAD) };
    bk_node dir[] = { nd_file(e, "PAYLOAD-five", PAYLOAD), nd_dir(e, "sub", PLAIN_TREE(e, dsub)),
                      nd_file(e, "victim", PAYLOAD) };
    bk_node ksub[] = { nd_file(e, "PAYLOAD-nested", PAYLOAD), nd_file(e, "inner", PAYLOAD) };
    bk_node keep[] = { nd_dir(e, "sub", PLAIN_TREE(e, ksub)) };
    bk_node rel[] = { nd_file(e, "PAYLOAD-rel", PAYLOAD), nd_file(e, "victim", PAYLOAD) };
    bk_node root[] = {
        nd_dir(e, "dir", PLAIN_TREE(e, dir)),
        nd_file(e, "f", PAYLOAD),
        nd_dir(e, "keep", PLAIN_TREE(e, keep)),
        nd_dir(e, "rel", PLAIN_TREE(e, rel)),
    };
    return commit(e, PLAIN_TREE(e, root));
}

static void make_case5_target(env *e)
{
    char victim[PATH_MAX], sub[PATH_MAX], keep[PATH_MAX];
    join(victim, e->outside, "victim");
    join(sub, e->outside, "sub");
    join(keep, e->target, "keep");
    th_rmrf(e->target);
    assert_int_equal(mkdir(e->target, 0755), 0);
    make_symlink(e->target, "dir", e->outside);
    make_symlink(e->target, "rel", "../outside");
    make_symlink(e->target, "f", victim);
    make_symlink(e->target, "extra", e->outside);
    make_dir(e->target, "keep");
    make_symlink(keep, "sub", sub);
    make_symlink(keep, "extra", e->outside);
}

static void check_case5_restored(env *e)
{
    char dir[PATH_MAX], dsub[PATH_MAX], keep[PATH_MAX], ksub[PATH_MAX], rel[PATH_MAX];
    join(dir, e->target, "dir");
    join(dsub, dir, "sub");
    join(keep, e->target, "keep");
    join(ksub, keep, "sub");
    join(rel, e->target, "rel");
    assert_type(e->target, "dir", S_IFDIR);
    assert_type(e->target, "rel", S_IFDIR);
    assert_type(keep, "sub", S_IFDIR);
    assert_file_is(dir, "PAYLOAD-five", PAYLOAD);
    assert_file_is(dir, "victim", PAYLOAD);
    assert_file_is(dsub, "inner", PAYLOAD);
    assert_file_is(ksub, "PAYLOAD-nested", PAYLOAD);
    assert_file_is(ksub, "inner", PAYLOAD);
    assert_file_is(rel, "PAYLOAD-rel", PAYLOAD);
    assert_file_is(rel, "victim", PAYLOAD);
    assert_file_is(e->target, "f", PAYLOAD);
}

static void test_existing_symlink_dir(void **state)
{
    env *e = *state;
    bk_id snap = build_case5(e);
    make_case5_target(e);
    char *before = listing(e->outside, true);
    outcome o;
    restore(e, snap, e->target, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.deleted, 0);
    assert_outside_unchanged(e, before, true);
    check_case5_restored(e);
    /* without --delete what the snapshot does not have stays, as it was */
    char keep[PATH_MAX];
    join(keep, e->target, "keep");
    assert_symlink_is(e->target, "extra", e->outside);
    assert_symlink_is(keep, "extra", e->outside);
    free(before);
}

static void test_existing_symlink_dir_delete(void **state)
{
    env *e = *state;
    bk_id snap = build_case5(e);
    make_case5_target(e);
    char *before = listing(e->outside, true);
    char *tbefore = listing(e->target, true);
    outcome o;

    /* a dry run changes nothing at all */
    restore(e, snap, e->target, R_DELETE | R_DRY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.deleted, 6);
    assert_outside_unchanged(e, before, true);
    char *tafter = listing(e->target, true);
    assert_string_equal(tbefore, tafter);
    free(tafter);
    free(tbefore);

    /* dir, rel, f, keep/sub are in the way; extra, keep/extra are not in the snapshot:
     * the symlinks go, never what they point at */
    restore(e, snap, e->target, R_DELETE | R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.deleted, 6);
    assert_outside_unchanged(e, before, true);
    check_case5_restored(e);
    char keep[PATH_MAX];
    join(keep, e->target, "keep");
    assert_absent(e->target, "extra");
    assert_absent(keep, "extra");
    assert_int_equal(count_entries(e->target), 4);
    assert_int_equal(count_entries(keep), 1);

    /* and the other way round: the target has real directories full of symlinks to
     * outside/ where the snapshot has a symlink or nothing: removed without following */
    bk_node root[] = { nd_link(e, "dir", e->outside) };
    bk_id snap2 = commit(e, PLAIN_TREE(e, root));
    char dsub[PATH_MAX];
    join(dsub, e->target, "dir/sub");
    make_symlink(dsub, "to-outside", e->outside);
    make_symlink(keep, "to-victim", "../../outside/victim");
    restore(e, snap2, e->target, R_DELETE, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.deleted, 15);   /* f, keep/ (5), rel/ (3), dir/ (6) */
    assert_outside_unchanged(e, before, true);
    assert_symlink_is(e->target, "dir", e->outside);
    assert_int_equal(count_entries(e->target), 1);
    free(before);
}

/* 5. the same with includes below the symlinked directories: the directories leading to
 * them are restored as directories, in place of the symlinks. */
static void test_existing_symlink_dir_include(void **state)
{
    env *e = *state;
    bk_id snap = build_case5(e);
    const char *inc[] = { "/dir/PAYLOAD-five", "/keep/sub/PAYLOAD-nested", "/rel/victim", NULL };
    char *before = listing(e->outside, true);
    for (int del = 0; del < 2; del++) {
        make_case5_target(e);
        outcome o;
        restore_some(e, snap, e->target, R_VERIFY | (del ? R_DELETE : 0), inc, &o);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.st.errors, 0);
        assert_int_equal(o.st.files_restored, 3);
        assert_int_equal(o.st.deleted, del ? 3 : 0);   /* dir, keep/sub, rel in the way */
        assert_outside_unchanged(e, before, true);
        char dir[PATH_MAX], keep[PATH_MAX], ksub[PATH_MAX], rel[PATH_MAX];
        join(dir, e->target, "dir");
        join(keep, e->target, "keep");
        join(ksub, keep, "sub");
        join(rel, e->target, "rel");
        assert_file_is(dir, "PAYLOAD-five", PAYLOAD);
        assert_file_is(ksub, "PAYLOAD-nested", PAYLOAD);
        assert_file_is(rel, "victim", PAYLOAD);
        assert_int_equal(count_entries(dir), 1);
        assert_int_equal(count_entries(ksub), 1);
        assert_int_equal(count_entries(rel), 1);
        /* not selected: left as they were, even with --delete */
        assert_symlink_is(e->target, "extra", e->outside);
        assert_symlink_is(keep, "extra", e->outside);
    }
    free(before);
}

/* Files of the target that are hard links to files outside/: the snapshot's version
 * replaces the name, the outside file keeps its content (only its link count drops). */
static void test_existing_hardlink_to_outside(void **state)
{
    env *e = *state;
    bk_node root[] = {
        nd_file(e, "f", PAYLOAD),
        nd_hardlink(e, "g", PAYLOAD, 55),
        nd_hardlink(e, "h", PAYLOAD, 55),
        nd_file(e, "same-size", "victim: THE REPLACED content\n"),
    };
    assert_int_equal(strlen("victim: THE REPLACED content\n"), strlen(VICTIM));
    bk_id snap = commit(e, PLAIN_TREE(e, root));
    char victim[PATH_MAX], inner[PATH_MAX], t[PATH_MAX];
    join(victim, e->outside, "victim");
    join(inner, e->outside, "sub/inner");
    for (int del = 0; del < 2; del++) {
        th_rmrf(e->target);
        assert_int_equal(mkdir(e->target, 0755), 0);
        join(t, e->target, "f");
        assert_int_equal(link(victim, t), 0);
        join(t, e->target, "h");
        assert_int_equal(link(inner, t), 0);
        join(t, e->target, "same-size");
        assert_int_equal(link(victim, t), 0);
        char *before = listing(e->outside, false);
        outcome o;
        restore(e, snap, e->target, R_VERIFY | (del ? R_DELETE : 0), &o);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.st.errors, 0);
        assert_outside_unchanged(e, before, false);
        assert_file_is(e->outside, "victim", VICTIM);
        assert_file_is(e->target, "f", PAYLOAD);
        assert_file_is(e->target, "g", PAYLOAD);
        assert_file_is(e->target, "h", PAYLOAD);
        assert_file_is(e->target, "same-size", "victim: THE REPLACED content\n");
        struct stat sv, sf;
        join(t, e->target, "f");
        assert_int_equal(stat(victim, &sv), 0);
        assert_int_equal(stat(t, &sf), 0);
        assert_true(sv.st_ino != sf.st_ino);
        assert_int_equal(sv.st_nlink, 1);
        free(before);
    }
}

/* ---- the writer's own names and paths ------------------------------------------------------ */

/* Leftovers of a killed restore (temporary names) in a directory that is written: removed,
 * a symlink among them as a link (never what it points at), a directory of that name
 * kept; a name of the snapshot that looks temporary is restored and kept on later runs. */
static void test_leftovers(void **state)
{
    env *e = *state;
    static const char OWN[] = "the snapshot's own .arca-restore- file\n";
    bk_node d[] = { nd_file(e, ".arca-restore-00000001", OWN), nd_file(e, "PAYLOAD-a", PAYLOAD) };
    bk_node root[] = { nd_dir(e, "d", PLAIN_TREE(e, d)) };
    bk_id snap = commit(e, PLAIN_TREE(e, root));
    char td[PATH_MAX], victim[PATH_MAX], lo[PATH_MAX];
    join(td, e->target, "d");
    join(victim, e->outside, "victim");
    assert_int_equal(mkdir(e->target, 0755), 0);
    assert_int_equal(mkdir(td, 0755), 0);
    make_symlink(td, ".arca-restore-deadbeef", victim);
    make_symlink(td, ".arca-restore-cafe", e->outside);
    write_file(td, ".arca-restore-0badf00d", "half of a file");
    make_dir(td, ".arca-restore-dir");
    /* a temporary directory of a killed restore into a fresh target: goes, all of it */
    char hd[PATH_MAX];
    join(hd, td, ".arca-restore-0000abcd");
    assert_int_equal(mkdir(hd, 0755), 0);
    make_dir(hd, "sub");
    make_symlink(hd, "to-victim", victim);
    make_symlink(hd, "to-outside", e->outside);
    write_file(hd, "half", "half of a file");
    write_file(td, "keep", "not in the snapshot\n");
    char *before = listing(e->outside, true);
    outcome o;
    restore(e, snap, e->target, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_outside_unchanged(e, before, true);
    assert_absent(td, ".arca-restore-deadbeef");
    assert_absent(td, ".arca-restore-cafe");
    assert_absent(td, ".arca-restore-0badf00d");
    assert_type(td, ".arca-restore-dir", S_IFDIR);
    assert_absent(td, ".arca-restore-0000abcd");
    assert_file_is(td, "keep", "not in the snapshot\n");
    assert_file_is(td, "PAYLOAD-a", PAYLOAD);
    assert_file_is(td, ".arca-restore-00000001", OWN);
    assert_int_equal(count_entries(td), 4);
    /* again, with something to write in d: the snapshot's own name stays */
    join(lo, td, "PAYLOAD-a");
    assert_int_equal(unlink(lo), 0);
    make_symlink(td, ".arca-restore-again", victim);
    restore(e, snap, e->target, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.files_restored, 1);
    assert_absent(td, ".arca-restore-again");
    assert_file_is(td, ".arca-restore-00000001", OWN);
    assert_file_is(td, "PAYLOAD-a", PAYLOAD);
    assert_outside_unchanged(e, before, true);
    free(before);
}

/* Open dir/rel one name at a time (for paths longer than PATH_MAX). */
static int open_deep(const char *dir, const char *const *names, size_t n)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; fd >= 0 && i < n; i++) {
        int nfd = openat(fd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                                           (i + 1 < n ? O_DIRECTORY : 0));
        close(fd);
        fd = nfd;
    }
    return fd;
}

/* Paths longer than PATH_MAX, and deeper than the writer keeps directories open: every
 * entry lands beneath the target, the symlinks at the bottom are links, nothing leaves. */
static void test_deep_paths(void **state)
{
    env *e = *state;
    enum { LONG = 24, DEEP = 300 };
    static char long_names[LONG][251];
    const char *path[LONG];
    char victim[PATH_MAX];
    join(victim, e->outside, "victim");
    /* 24 names of 250 bytes: a path of over 6000 bytes */
    bk_node leaf[] = { nd_file(e, "PAYLOAD-deep", PAYLOAD), nd_link(e, "s", victim) };
    bk_id sub = PLAIN_TREE(e, leaf);
    for (int i = LONG - 1; i >= 0; i--) {
        memset(long_names[i], 'a' + i % 26, 250);
        long_names[i][250] = 0;
        bk_node d[] = { nd_dir(e, long_names[i], sub) };
        sub = PLAIN_TREE(e, d);
        path[i] = long_names[i];
    }
    bk_node root[] = { nd_dir(e, "long", sub) };
    bk_id snap = commit(e, PLAIN_TREE(e, root));
    char *before = listing(e->outside, true);
    outcome o;
    restore(e, snap, e->target, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.files_restored, 1);
    assert_int_equal(o.st.others, 1);
    const char *names[LONG + 2];
    names[0] = "long";
    for (int i = 0; i < LONG; i++)
        names[i + 1] = path[i];
    names[LONG + 1] = "PAYLOAD-deep";
    int fd = open_deep(e->target, names, LONG + 2);
    assert_true(fd >= 0);
    char buf[256];
    ssize_t k = read(fd, buf, sizeof(buf));
    close(fd);
    assert_int_equal(k, (ssize_t)strlen(PAYLOAD));
    assert_memory_equal(buf, PAYLOAD, strlen(PAYLOAD));
    assert_outside_unchanged(e, before, true);
    /* over itself: unchanged, nothing written */
    restore(e, snap, e->target, 0, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.files_unchanged, 1);
    assert_int_equal(o.st.files_restored, 0);

    /* 300 levels (the writer closes directories above its limit and opens them again),
     * with entries after a deeper subtree at several depths */
    th_rmrf(e->target);
    bk_node bottom[] = { nd_file(e, "PAYLOAD-bottom", PAYLOAD) };
    sub = PLAIN_TREE(e, bottom);
    for (int i = DEEP - 1; i >= 0; i--) {
        if (i % 50 == 49) {
            bk_node d[] = { nd_dir(e, "d", sub), nd_file(e, "z", PAYLOAD) };
            sub = PLAIN_TREE(e, d);
        } else {
            bk_node d[] = { nd_dir(e, "d", sub) };
            sub = PLAIN_TREE(e, d);
        }
    }
    bk_node root2[] = { nd_dir(e, "deep", sub) };
    snap = commit(e, PLAIN_TREE(e, root2));
    restore(e, snap, e->target, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_int_equal(o.st.files_restored, 1 + DEEP / 50);
    const char *dn[DEEP + 2];
    dn[0] = "deep";
    for (int i = 0; i < DEEP; i++)
        dn[i + 1] = "d";
    dn[DEEP + 1] = "PAYLOAD-bottom";
    fd = open_deep(e->target, dn, DEEP + 2);
    assert_true(fd >= 0);
    close(fd);
    dn[DEEP] = "z";   /* deep/d x 299/z: after the deepest directory, in one that was closed */
    fd = open_deep(e->target, dn, DEEP + 1);
    assert_true(fd >= 0);
    close(fd);
    assert_outside_unchanged(e, before, true);
    free(before);
}

/* Extended attributes of a symlink go on the link, never on what it points at; a file
 * whose name holds a non-empty directory is not restored (the directory stays), an
 * empty one is replaced. */
static void test_symlink_xattrs_and_dirs_in_the_way(void **state)
{
    env *e = *state;
    char victim[PATH_MAX];
    join(victim, e->outside, "victim");
    bk_xattr xa[] = { { (char *)"trusted.arca", (uint8_t *)"on the link", 11 },
                      { (char *)"user.arca", (uint8_t *)"x", 1 } };
    bk_node ln = nd_link(e, "s", victim);
    ln.xattrs = xa;
    ln.nxattrs = geteuid() == 0 ? 1 : 0;   /* trusted.* needs root; user.* never fits a link */
    bk_node root[] = { nd_file(e, "empty-dir", PAYLOAD), nd_file(e, "full-dir", PAYLOAD), ln };
    bk_id snap = commit(e, PLAIN_TREE(e, root));
    char *before = listing(e->outside, true);
    assert_int_equal(mkdir(e->target, 0755), 0);
    make_dir(e->target, "empty-dir");
    make_dir(e->target, "full-dir");
    char full[PATH_MAX];
    join(full, e->target, "full-dir");
    write_file(full, "inner", INNER);
    outcome o;
    restore(e, snap, e->target, R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 1);
    assert_non_null(strstr(o.items, "/full-dir: "));
    assert_non_null(strstr(o.items, "not empty"));
    assert_file_is(e->target, "empty-dir", PAYLOAD);
    assert_file_is(full, "inner", INNER);
    assert_symlink_is(e->target, "s", victim);
    char s[PATH_MAX], v[64];
    join(s, e->target, "s");
    assert_true(getxattr(victim, "trusted.arca", v, sizeof(v)) < 0);
    if (geteuid() == 0) {
        ssize_t k = lgetxattr(s, "trusted.arca", v, sizeof(v));
        assert_int_equal(k, 11);
        assert_memory_equal(v, "on the link", 11);
    }
    assert_outside_unchanged(e, before, true);
    /* --delete replaces the directory */
    restore(e, snap, e->target, R_DELETE | R_VERIFY, &o);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.st.errors, 0);
    assert_file_is(e->target, "full-dir", PAYLOAD);
    assert_outside_unchanged(e, before, true);
    free(before);
}

int main(void)
{
    if (bk_library_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_dotdot_file_root),
        T(test_dotdot_file_subdir),
        T(test_dotdot_dir_root),
        T(test_dotdot_chain),
        T(test_slash_up),
        T(test_slash_absolute),
        T(test_slash_through_symlink),
        T(test_slash_subdir),
        T(test_dup_symlink_dir_abs),
        T(test_dup_symlink_dir_rel),
        T(test_hardlink_second_outside),
        T(test_symlinks_outside_valid),
        T(test_fresh_hidden_dirs),
        T(test_snapshot_over_own_symlinks),
        T(test_existing_symlink_dir),
        T(test_existing_symlink_dir_delete),
        T(test_existing_symlink_dir_include),
        T(test_existing_hardlink_to_outside),
        T(test_leftovers),
        T(test_deep_paths),
        T(test_symlink_xattrs_and_dirs_in_the_way),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
