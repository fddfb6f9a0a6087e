/* helpers.c - see helpers.h.  Test code: allocation failures abort. */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "util.h"
#include "writer.h"

#ifndef BK_TEST_DATA_DIR
#error "BK_TEST_DATA_DIR must name tests/data"
#endif

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    return s ? strcpy(xmalloc(strlen(s) + 1), s) : NULL;
}

static char *xmemdup(const void *p, size_t n)
{
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

uint64_t th_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void th_fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t st = seed;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        bk_put_le64(p + i, th_rand(&st));
    if (i < n) {
        uint8_t t[8];
        bk_put_le64(t, th_rand(&st));
        memcpy(p + i, t, n - i);
    }
}

void th_id(bk_id *id, uint64_t seed)
{
    th_fill(id->b, BK_ID_LEN, seed);
}

void th_golden_master(uint8_t out[BK_KEY_LEN])
{
    for (size_t i = 0; i < BK_KEY_LEN; i++)
        out[i] = (uint8_t)i;
}

bk_keys *th_golden_keys(void)
{
    uint8_t m[BK_KEY_LEN];
    bk_keys *k;
    th_golden_master(m);
    if (bk_crypto_init() < 0 || bk_keys_from_master(m, &k) < 0)
        abort();
    return k;
}

void th_chunker_seed(uint8_t out[32])
{
    for (size_t i = 0; i < 32; i++)
        out[i] = (uint8_t)(0xa5 ^ (i * 7));
}

int th_read_data(const char *name, uint8_t **ret, size_t *ret_len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", BK_TEST_DATA_DIR, name);
    return bk_read_file(path, ret, ret_len);
}

int th_read_numbers(const char *name, uint64_t **ret, size_t *ret_n)
{
    uint8_t *txt;
    size_t len;
    int r = th_read_data(name, &txt, &len);
    if (r < 0)
        return r;
    uint64_t *v = NULL;
    size_t n = 0;
    char *s = xmemdup(txt, len);
    free(txt);
    for (char *save = NULL, *line = strtok_r(s, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == 0)
            continue;
        v = realloc(v, (n + 1) * sizeof(*v));
        if (!v)
            abort();
        v[n++] = strtoull(line, NULL, 10);
    }
    free(s);
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- golden structures ------------------------------------------------------------------ */

static void node_base(bk_node *n, const char *name, size_t name_len, uint8_t type, uint64_t seed)
{
    memset(n, 0, sizeof(*n));
    n->name = xmemdup(name, name_len);
    n->name_len = name_len;
    n->type = type;
    n->mode = 0644;
    n->uid = 1000;
    n->gid = 100;
    n->user = xstrdup("alice");
    n->group = xstrdup("users");
    n->mtime = 1700000000 + (int64_t)seed;
    n->mtime_nsec = 123456789;
    n->ctime = -86400 * 365 - (int64_t)seed;   /* negative times must survive (svarint) */
    n->ctime_nsec = 999999999;
    n->inode = 1000000 + seed;
    n->dev = 0xfd01;
    n->nlink = 1;
}

static void push(bk_tree *t, bk_node *n)
{
    if (bk_tree_push(t, n) < 0)
        abort();
}

static void add_xattr(bk_node *n, const char *name, const void *val, size_t len)
{
    n->xattrs = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*n->xattrs));
    if (!n->xattrs)
        abort();
    bk_xattr *x = &n->xattrs[n->nxattrs++];
    x->name = xstrdup(name);
    x->value = (uint8_t *)xmemdup(val, len);
    x->len = len;
}

void th_golden_tree(bk_tree *t)
{
    memset(t, 0, sizeof(*t));
    bk_node n;

    /* a regular file: two blobs around a hole, with xattrs (one with binary value, one
     * empty) and a POSIX ACL with default entries */
    node_base(&n, "file.txt", 8, BK_NODE_FILE, 1);
    n.ncontent = 3;
    n.content = xmalloc(3 * sizeof(bk_content));
    memset(n.content, 0, 3 * sizeof(bk_content));
    th_id(&n.content[0].id, 11);
    n.content[0].len = 1048576;
    n.content[1].hole = true;
    n.content[1].len = 4194304;
    th_id(&n.content[2].id, 12);
    n.content[2].len = 300;
    n.size = 1048576 + 4194304 + 300;
    n.nlink = 2;
    add_xattr(&n, "user.comment", "hello\0world", 11);
    add_xattr(&n, "user.empty", "", 0);
    n.acl_posix = xstrdup("user::rw-\nuser:bob:r--\ngroup::r--\nmask::r--\nother::---\n"
                          "default:user::rwx\n");
    push(t, &n);

    /* an empty file */
    node_base(&n, "empty", 5, BK_NODE_FILE, 2);
    n.mode = 0600;
    push(t, &n);

    /* a stream saved with its own chunk size (extension tag 1) */
    node_base(&n, "stdin", 5, BK_NODE_FILE, 3);
    n.ncontent = 1;
    n.content = xmalloc(sizeof(bk_content));
    memset(n.content, 0, sizeof(bk_content));
    th_id(&n.content[0].id, 13);
    n.content[0].len = 70000;
    n.size = 70000;
    n.chunk_avg = 65536;
    n.user = (free(n.user), xstrdup(""));
    n.group = (free(n.group), xstrdup(""));
    push(t, &n);

    /* a directory with an NFSv4 ACL and setgid/sticky bits */
    node_base(&n, "dir", 3, BK_NODE_DIR, 4);
    n.mode = 03775;
    n.nlink = 5;
    n.size = 4096;
    th_id(&n.subtree, 14);
    n.acl_nfs4 = xstrdup("owner@:rwxpaARWcCos:fd-----:allow\neveryone@:r-a-R-c--s:-------:allow\n");
    push(t, &n);

    /* a symlink whose target holds a newline */
    node_base(&n, "link", 4, BK_NODE_SYMLINK, 5);
    n.mode = 0777;
    n.target = xstrdup("../some where/\nodd");
    n.target_len = strlen(n.target);
    n.size = n.target_len;
    push(t, &n);

    node_base(&n, "fifo", 4, BK_NODE_FIFO, 6);
    push(t, &n);
    node_base(&n, "null", 4, BK_NODE_CHARDEV, 7);
    n.rdev = (1 << 8) | 3;
    push(t, &n);
    node_base(&n, "sda", 3, BK_NODE_BLOCKDEV, 8);
    n.rdev = (8 << 8) | 0;
    n.mode = 0660;
    push(t, &n);
    node_base(&n, "sock", 4, BK_NODE_SOCKET, 9);
    n.mode = 0755;
    n.uid = 4294967295u;
    n.gid = 4294967294u;
    push(t, &n);

    /* names with a newline, non-UTF-8 bytes, a leading dot, and a prefix of another */
    node_base(&n, "new\nline", 8, BK_NODE_FILE, 10);
    push(t, &n);
    node_base(&n, "latin1-\xe9t\xe9\xff", 11, BK_NODE_FILE, 11);
    push(t, &n);
    node_base(&n, ".hidden", 7, BK_NODE_FILE, 12);
    push(t, &n);
    node_base(&n, "file", 4, BK_NODE_FILE, 13);
    push(t, &n);

    if (bk_tree_sort(t) < 0)
        abort();
}

/* Nodes with file flags (extension tag 2), alone and next to a chunk_avg (tag 1). */
void th_golden_tree_fflags(bk_tree *t)
{
    memset(t, 0, sizeof(*t));
    bk_node n;
    /* an append-only, no-dump directory */
    node_base(&n, "appendonly", 10, BK_NODE_DIR, 21);
    n.mode = 0755;
    th_id(&n.subtree, 22);
    n.fflags = 0x20 | 0x40;
    push(t, &n);
    /* an immutable file with no atime updates, with content */
    node_base(&n, "immutable", 9, BK_NODE_FILE, 23);
    n.ncontent = 1;
    n.content = xmalloc(sizeof(bk_content));
    memset(n.content, 0, sizeof(bk_content));
    th_id(&n.content[0].id, 24);
    n.content[0].len = 4096;
    n.size = 4096;
    n.fflags = 0x10 | 0x80;
    push(t, &n);
    /* a stream with its own chunk size and the no-COW flag: both extensions, in tag order */
    node_base(&n, "nocow-stream", 12, BK_NODE_FILE, 25);
    n.chunk_avg = 65536;
    n.fflags = 0x00800000;
    push(t, &n);
    /* and one without flags, as before the tag existed */
    node_base(&n, "plain", 5, BK_NODE_FILE, 26);
    push(t, &n);
}

void th_golden_index(bk_index_obj *o)
{
    memset(o, 0, sizeof(*o));
    o->nsupersedes = 2;
    o->supersedes = xmalloc(2 * sizeof(bk_id));
    th_id(&o->supersedes[0], 101);
    th_id(&o->supersedes[1], 102);
    o->npacks = 3;
    o->packs = xmalloc(3 * sizeof(bk_index_pack));
    static const struct {
        uint8_t kind;
        uint32_t stored, raw;
    } blobs[] = { { BK_KIND_DATA, 1048617, 1048576 }, { BK_KIND_TREE, 541, 2000 },
                  { BK_KIND_DATA, 41, 0 }, { BK_KIND_DATA, 4294967295u - 2097152, 4294967295u } };
    static const size_t per_pack[] = { 3, 1, 0 };
    size_t b = 0;
    for (size_t i = 0; i < 3; i++) {
        bk_index_pack *p = &o->packs[i];
        th_id(&p->id, 200 + i);
        p->n = per_pack[i];
        p->blobs = xmalloc(p->n * sizeof(bk_pack_entry));
        uint32_t off = i == 1 ? 2097152 : 0;   /* offsets need not start at 0 */
        for (size_t j = 0; j < p->n; j++, b++) {
            bk_pack_entry *e = &p->blobs[j];
            memset(e, 0, sizeof(*e));
            th_id(&e->id, 300 + b);
            e->kind = blobs[b].kind;
            e->offset = off;
            e->stored_len = blobs[b].stored;
            e->raw_len = blobs[b].raw;
            off += e->stored_len;
        }
    }
}

bk_snapshot *th_golden_snapshot(void)
{
    bk_snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->time = TH_GOLDEN_TIME;
    s->time_nsec = 123456789;
    s->tz_offset = 3600;
    s->host = xstrdup("host.example.org");
    s->username = xstrdup("alice");
    s->uid = 1000;
    s->gid = 100;
    const char *paths[] = { "/home/alice", "/etc", "/srv/data with spaces" };
    const char *tags[] = { "daily", "\xc3\xa9t\xc3\xa9" };
    for (size_t i = 0; i < BK_ELEMENTSOF(paths); i++)
        if (bk_strv_push(&s->paths, &s->npaths, paths[i]) < 0)
            abort();
    for (size_t i = 0; i < BK_ELEMENTSOF(tags); i++)
        if (bk_strv_push(&s->tags, &s->ntags, tags[i]) < 0)
            abort();
    th_id(&s->tree, 400);
    s->has_parent = true;
    th_id(&s->parent, 401);
    s->chunk_min = 512 << 10;
    s->chunk_avg = 1 << 20;
    s->chunk_max = 8 << 20;
    s->program = xstrdup("arca 0.1.0");
    s->has_summary = true;
    uint64_t v = 1;
#define X(f) s->summary.f = v; v = v * 3 + 1;
    X(files_new) X(files_changed) X(files_unchanged) X(dirs_new) X(dirs_changed)
    X(dirs_unchanged) X(bytes_new) X(bytes_changed) X(bytes_unchanged) X(bytes_read)
    X(blobs_added) X(bytes_added) X(bytes_added_raw) X(total_files) X(total_dirs)
    X(total_bytes) X(errors)
#undef X
    s->summary.total_bytes = 1ull << 50;
    s->summary.duration = 12.5;
    return s;
}

void th_golden_config(bk_config *c)
{
    memset(c, 0, sizeof(*c));
    c->version = BK_FORMAT_VERSION;
    bk_id id;
    th_id(&id, 500);
    bk_id_hex(&id, c->id);
    c->chunk_min = 512 << 10;
    c->chunk_avg = 1 << 20;
    c->chunk_max = 8 << 20;
    c->pack_size = 16 << 20;
    c->compression = 3;
}

void th_pack_blob(size_t i, uint8_t **ret, size_t *ret_len, uint8_t *ret_kind)
{
    switch (i) {
    case 0: {   /* small: stored raw */
        static const char s[] = "hello, world\n";
        *ret = (uint8_t *)xmemdup(s, sizeof(s) - 1);
        *ret_len = sizeof(s) - 1;
        *ret_kind = BK_KIND_DATA;
        return;
    }
    case 1: {   /* compressible: stored as zstd */
        size_t n = 20000;
        uint8_t *p = xmalloc(n);
        for (size_t j = 0; j < n; j++)
            p[j] = (uint8_t)("arca golden pack "[j % 17]);
        *ret = p;
        *ret_len = n;
        *ret_kind = BK_KIND_DATA;
        return;
    }
    default: {   /* the golden tree, as a tree blob */
        bk_tree t;
        bk_buf b = BK_BUF_INIT;
        th_golden_tree(&t);
        if (bk_tree_encode(t.nodes, t.n, &b) < 0)
            abort();
        bk_tree_free(&t);
        *ret = bk_buf_detach(&b, ret_len);
        *ret_kind = BK_KIND_TREE;
        return;
    }
    }
}

int th_repo_config_plain(const bk_config *c, uint8_t **ret, size_t *ret_len)
{
    char *dir = th_tmpdir(), loc[4200];
    snprintf(loc, sizeof(loc), "%s/repo", dir);
    bk_repo *repo = bk_repo_new();
    if (!repo)
        abort();
    int r = 0;
    if (bk_repo_set_int(repo, BK_REPO_NO_CACHE, 1) < 0 ||
        bk_repo_set_int(repo, BK_REPO_KDF_OPS, TH_GOLDEN_KDF_OPS) < 0 ||
        bk_repo_set_int(repo, BK_REPO_KDF_MEMORY, TH_GOLDEN_KDF_MEM) < 0 ||
        bk_repo_set_int(repo, BK_REPO_PACK_SIZE, c->pack_size) < 0 ||
        bk_repo_set_int(repo, BK_REPO_COMPRESSION, c->compression) < 0 ||
        bk_repo_set_int(repo, BK_REPO_CHUNK_MIN, c->chunk_min) < 0 ||
        bk_repo_set_int(repo, BK_REPO_CHUNK_AVG, c->chunk_avg) < 0 ||
        bk_repo_set_int(repo, BK_REPO_CHUNK_MAX, c->chunk_max) < 0 ||
        bk_repo_set_int(repo, BK_REPO_CIPHER, c->cipher) < 0 ||
        bk_repo_set_int(repo, BK_REPO_ID_HASH, c->id_hash) < 0)
        r = -EINVAL;
    if (r == 0)
        r = bk_repo_init(repo, loc, "pass", 4);
    uint8_t *p = NULL;
    size_t n = 0;
    if (r == 0)
        r = bk_repo_load_object(repo, BK_OBJ_CONFIG, BK_KIND_CONFIG, "config", &p, &n);
    if (r == 0) {
        /* swap the random id for the wanted one, wherever the document has it */
        const char *id = repo->config.id;
        for (size_t i = 0; i + 64 <= n; i++)
            if (memcmp(p + i, id, 64) == 0)
                memcpy(p + i, c->id, 64);
        *ret = p;
        *ret_len = n;
    }
    bk_repo_free(repo);
    th_rmrf(dir);
    free(dir);
    return r;
}

/* ---- comparisons ----------------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
    /* NULL and "" are the same to the encodings */
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool th_node_equal(const bk_node *a, const bk_node *b)
{
    if (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) != 0 ||
        a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
        !str_eq(a->user, b->user) || !str_eq(a->group, b->group) || a->size != b->size ||
        a->mtime != b->mtime || a->ctime != b->ctime || a->mtime_nsec != b->mtime_nsec ||
        a->ctime_nsec != b->ctime_nsec || a->inode != b->inode || a->dev != b->dev ||
        a->nlink != b->nlink || !str_eq(a->acl_posix, b->acl_posix) ||
        !str_eq(a->acl_nfs4, b->acl_nfs4) || a->chunk_avg != b->chunk_avg ||
        a->fflags != b->fflags || a->nxattrs != b->nxattrs)
        return false;
    for (size_t i = 0; i < a->nxattrs; i++)
        if (strcmp(a->xattrs[i].name, b->xattrs[i].name) != 0 ||
            a->xattrs[i].len != b->xattrs[i].len ||
            memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].len) != 0)
            return false;
    switch (a->type) {
    case BK_NODE_DIR:
        return bk_id_cmp(&a->subtree, &b->subtree) == 0;
    case BK_NODE_SYMLINK:
        return a->target_len == b->target_len && memcmp(a->target, b->target, a->target_len) == 0;
    case BK_NODE_CHARDEV:
    case BK_NODE_BLOCKDEV:
        return a->rdev == b->rdev;
    case BK_NODE_FILE:
        if (a->ncontent != b->ncontent)
            return false;
        for (size_t i = 0; i < a->ncontent; i++) {
            const bk_content *x = &a->content[i], *y = &b->content[i];
            if (x->len != y->len || x->hole != y->hole ||
                (!x->hole && bk_id_cmp(&x->id, &y->id) != 0))
                return false;
        }
        return true;
    default:
        return true;
    }
}

bool th_tree_equal(const bk_tree *a, const bk_tree *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!th_node_equal(&a->nodes[i], &b->nodes[i]))
            return false;
    return true;
}

static bool entry_equal(const bk_pack_entry *a, const bk_pack_entry *b)
{
    return bk_id_cmp(&a->id, &b->id) == 0 && a->kind == b->kind && a->offset == b->offset &&
           a->stored_len == b->stored_len && a->raw_len == b->raw_len;
}

bool th_index_obj_equal(const bk_index_obj *a, const bk_index_obj *b)
{
    if (a->nsupersedes != b->nsupersedes || a->npacks != b->npacks)
        return false;
    for (size_t i = 0; i < a->nsupersedes; i++)
        if (bk_id_cmp(&a->supersedes[i], &b->supersedes[i]) != 0)
            return false;
    for (size_t i = 0; i < a->npacks; i++) {
        if (bk_id_cmp(&a->packs[i].id, &b->packs[i].id) != 0 || a->packs[i].n != b->packs[i].n)
            return false;
        for (size_t j = 0; j < a->packs[i].n; j++)
            if (!entry_equal(&a->packs[i].blobs[j], &b->packs[i].blobs[j]))
                return false;
    }
    return true;
}

bool th_snapshot_equal(const bk_snapshot *a, const bk_snapshot *b)
{
    if (a->time != b->time || a->time_nsec != b->time_nsec || a->tz_offset != b->tz_offset ||
        !str_eq(a->host, b->host) || !str_eq(a->username, b->username) || a->uid != b->uid ||
        a->gid != b->gid || !bk_strv_eq(a->paths, a->npaths, b->paths, b->npaths) ||
        !bk_strv_eq(a->tags, a->ntags, b->tags, b->ntags) || bk_id_cmp(&a->tree, &b->tree) != 0 ||
        a->has_parent != b->has_parent ||
        (a->has_parent && bk_id_cmp(&a->parent, &b->parent) != 0) ||
        a->has_original != b->has_original ||
        (a->has_original && bk_id_cmp(&a->original, &b->original) != 0) ||
        !str_eq(a->mysql_binlog_file, b->mysql_binlog_file) || a->mysql_binlog_pos != b->mysql_binlog_pos ||
        !str_eq(a->mysql_gtid, b->mysql_gtid) ||
        a->has_key_slot != b->has_key_slot ||
        (a->has_key_slot && bk_id_cmp(&a->key_slot, &b->key_slot) != 0) ||
        a->chunk_min != b->chunk_min || a->chunk_avg != b->chunk_avg ||
        a->chunk_max != b->chunk_max || !str_eq(a->program, b->program) ||
        a->has_summary != b->has_summary)
        return false;
    if (!a->has_summary)
        return true;
#define X(f) if (a->summary.f != b->summary.f) return false;
    X(files_new) X(files_changed) X(files_unchanged) X(dirs_new) X(dirs_changed)
    X(dirs_unchanged) X(bytes_new) X(bytes_changed) X(bytes_unchanged) X(bytes_read)
    X(blobs_added) X(bytes_added) X(bytes_added_raw) X(total_files) X(total_dirs)
    X(total_bytes) X(errors) X(files_changed_while_read)
#undef X
    return a->summary.duration == b->summary.duration;
}

void th_repo_dir_new(th_repo_dir *d, const char *pass, uint32_t pack_size)
{
    d->base = th_tmpdir();
    snprintf(d->loc, sizeof(d->loc), "%s/repo", d->base);
    d->repo = th_new_repo(d->loc, pass, pack_size);
}

void th_repo_dir_free(th_repo_dir *d)
{
    bk_repo_free(d->repo);
    th_rmrf(d->base);
    free(d->base);
    d->repo = NULL;
    d->base = NULL;
}

void th_write_blobs(bk_repo *r, size_t n, size_t max, th_blob_gen *gen, void *ud,
                    bk_id *ids, bk_index_entry *ent)
{
    bk_writer *w;
    if (bk_writer_new(r, false, &w) < 0)
        abort();
    uint8_t *buf = xmalloc(max);
    for (size_t i = 0; i < n; i++) {
        size_t len = gen(i, buf, ud);
        if (len > max || bk_blob_id(r->keys, buf, len, &ids[i]) < 0 ||
            bk_writer_add(w, BK_KIND_DATA, &ids[i], buf, len) != 1)   /* 1: new */
            abort();
    }
    if (bk_writer_finish(w) != 0)
        abort();
    bk_writer_free(w);
    free(buf);
    for (size_t i = 0; i < n; i++)
        if (!bk_index_lookup(&r->index, &ids[i], &ent[i]))
            abort();
}

void th_pack_hex(bk_repo *r, uint32_t pack, char hex[BK_ID_HEX])
{
    bk_id pid;
    if (bk_index_pack_id(&r->index, pack, &pid) < 0)
        abort();
    bk_id_hex(&pid, hex);
}

void th_pack_path(const char *loc, const char *hex, char *out, size_t n)
{
    snprintf(out, n, "%s/data/%.2s/%s", loc, hex, hex);
}

/* ---- temporary directories ---------------------------------------------------------------- */

bk_repo *th_new_repo(const char *loc, const char *pass, uint32_t pack_size)
{
    bk_repo *r = bk_repo_new();
    if (!r || bk_repo_set_int(r, BK_REPO_NO_CACHE, 1) < 0 ||
        bk_repo_set_int(r, BK_REPO_KDF_OPS, 1) < 0 ||
        bk_repo_set_int(r, BK_REPO_KDF_MEMORY, 8 << 20) < 0 ||
        bk_repo_set_int(r, BK_REPO_THREADS, 2) < 0 ||
        (pack_size && bk_repo_set_int(r, BK_REPO_PACK_SIZE, pack_size) < 0) ||
        bk_repo_init(r, loc, pass, strlen(pass)) < 0)
        abort();
    return r;
}

char *th_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/arca-unit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        abort();
    return xstrdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void th_rmrf(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
