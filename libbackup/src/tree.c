/* tree.c - tree blob encoding.
 * Plaintext: version (u8), uvarint node count, nodes sorted by name.  A node:
 *   bytes name, u8 type, uvarint mode uid gid, bytes user group, uvarint size,
 *   svarint mtime + uvarint nsec, the same for ctime, uvarint inode dev nlink,
 *   then by type: dir: subtree id; symlink: bytes target; char/block device: uvarint rdev;
 *   file: uvarint count, per piece uvarint (len << 1 | hole) and, unless a hole, the id;
 *   then uvarint xattr count with (bytes name, bytes value), bytes POSIX ACL, bytes NFSv4
 *   ACL (empty = none), and uvarint extension count with (uvarint tag, bytes value)
 *   pairs: tag 1 = chunk_avg, tag 2 = file flags (each a uvarint in the bytes, present
 *   only when not 0); readers skip tags they do not know.
 * Version 2 (only trees that need it): a file's pieces are followed by uvarint count of
 * list blobs, each id, uvarint bytes, uvarint pieces; a file with lists has no pieces of
 * its own.  A list blob: BK_CLIST_MAGIC, uvarint count, pieces.
 * "bytes" is a uvarint length and the bytes. */
#include <unistd.h>

#include "tree.h"

#define MAX_NODES (1u << 24)
#define MAX_NAME 4096
#define MAX_TARGET 65536

int bk_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, BK_MIN(alen, blen));
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

bool bk_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > MAX_NAME)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    return memchr(name, '/', len) == NULL && memchr(name, 0, len) == NULL;
}

static int put_str(bk_buf *b, const char *s, size_t n)
{
    return bk_buf_put_bytes(b, s ? s : "", s ? n : 0);
}

static int put_time(bk_buf *b, int64_t t, uint32_t ns)
{
    int r = bk_buf_put_svarint(b, t);
    return r < 0 ? r : bk_buf_put_uvarint(b, ns);
}

static int put_pieces(bk_buf *b, const bk_content *c, size_t n)
{
    int r = bk_buf_put_uvarint(b, n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = bk_buf_put_uvarint(b, (uint64_t)c[i].len << 1 | c[i].hole);
        if (r == 0 && !c[i].hole)
            r = bk_buf_append(b, c[i].id.b, BK_ID_LEN);
    }
    return r;
}

int bk_clist_encode(const bk_content *c, size_t n, bk_buf *out)
{
    int r = bk_buf_put_u8(out, BK_CLIST_MAGIC);
    return r < 0 ? r : put_pieces(out, c, n);
}

uint64_t bk_node_pieces(const bk_node *n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n->nlists; i++)
        k += n->lists[i].pieces;
    return n->nlists ? k : n->ncontent;
}

static int encode_node(const bk_node *n, bk_buf *b, bool v2)
{
    int r = 0;
#define P(x) do { if (r == 0) r = (x); } while (0)
    P(put_str(b, n->name, n->name_len));
    P(bk_buf_put_u8(b, n->type));
    P(bk_buf_put_uvarint(b, n->mode));
    P(bk_buf_put_uvarint(b, n->uid));
    P(bk_buf_put_uvarint(b, n->gid));
    P(put_str(b, n->user, n->user ? strlen(n->user) : 0));
    P(put_str(b, n->group, n->group ? strlen(n->group) : 0));
    P(bk_buf_put_uvarint(b, n->size));
    P(put_time(b, n->mtime, n->mtime_nsec));
    P(put_time(b, n->ctime, n->ctime_nsec));
    P(bk_buf_put_uvarint(b, n->inode));
    P(bk_buf_put_uvarint(b, n->dev));
    P(bk_buf_put_uvarint(b, n->nlink));
    switch (n->type) {
    case BK_NODE_DIR:
        P(bk_buf_append(b, n->subtree.b, BK_ID_LEN));
        break;
    case BK_NODE_SYMLINK:
        P(put_str(b, n->target, n->target_len));
        break;
    case BK_NODE_CHARDEV:
    case BK_NODE_BLOCKDEV:
        P(bk_buf_put_uvarint(b, n->rdev));
        break;
    case BK_NODE_FILE:
        /* a file with lists keeps no pieces here, even once they are loaded */
        P(put_pieces(b, n->content, n->nlists ? 0 : n->ncontent));
        if (v2)
            P(bk_buf_put_uvarint(b, n->nlists));
        for (size_t i = 0; v2 && r == 0 && i < n->nlists; i++) {
            P(bk_buf_append(b, n->lists[i].id.b, BK_ID_LEN));
            P(bk_buf_put_uvarint(b, n->lists[i].bytes));
            P(bk_buf_put_uvarint(b, n->lists[i].pieces));
        }
        break;
    }
    P(bk_buf_put_uvarint(b, n->nxattrs));
    for (size_t i = 0; r == 0 && i < n->nxattrs; i++) {
        P(put_str(b, n->xattrs[i].name, strlen(n->xattrs[i].name)));
        P(bk_buf_put_bytes(b, n->xattrs[i].value, n->xattrs[i].len));
    }
    P(put_str(b, n->acl_posix, n->acl_posix ? strlen(n->acl_posix) : 0));
    P(put_str(b, n->acl_nfs4, n->acl_nfs4 ? strlen(n->acl_nfs4) : 0));
    /* extensions, by tag: only those with a value, so that nodes without them encode as
     * they did before the tag existed */
    const uint64_t ext[] = { 0, n->chunk_avg, n->fflags };
    uint64_t next = 0;
    for (size_t t = 1; t < BK_ELEMENTSOF(ext); t++)
        next += ext[t] != 0;
    P(bk_buf_put_uvarint(b, next));
    for (size_t t = 1; t < BK_ELEMENTSOF(ext); t++) {
        if (!ext[t])
            continue;
        uint8_t tmp[10];
        bk_buf v = { tmp, 0, sizeof(tmp) };
        P(bk_buf_put_uvarint(b, t));
        P(bk_buf_put_uvarint(&v, ext[t]));
        P(bk_buf_put_bytes(b, v.data, v.len));
    }
#undef P
    return r;
}

int bk_tree_encode(const bk_node *nodes, size_t n, bk_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!bk_name_valid(nodes[i].name, nodes[i].name_len))
            return -EINVAL;
        if (i > 0 && bk_name_cmp(nodes[i - 1].name, nodes[i - 1].name_len, nodes[i].name,
                                 nodes[i].name_len) >= 0)
            return -EINVAL;
    }
    /* version 1 unless a file needs lists: other trees encode as they always did */
    bool v2 = false;
    for (size_t i = 0; i < n && !v2; i++)
        v2 = nodes[i].type == BK_NODE_FILE && nodes[i].nlists > 0;
    int r = bk_buf_put_u8(out, v2 ? BK_TREE_VERSION_LISTS : BK_TREE_VERSION);
    if (r == 0)
        r = bk_buf_put_uvarint(out, n);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = encode_node(&nodes[i], out, v2);
    return r;
}

/* ---- decoding ------------------------------------------------------------------------ */

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* Reads a string that must not hold NUL; empty gives "" (or NULL if null_if_empty). */
static int read_str(bk_reader *rd, size_t max, bool null_if_empty, char **ret, size_t *ret_len)
{
    const uint8_t *p;
    size_t n;
    if (bk_read_len(rd, max, &n) < 0 || bk_read_raw(rd, n, &p) < 0 || memchr(p, 0, n))
        return -EBADMSG;
    if (ret_len)
        *ret_len = n;
    if (n == 0 && null_if_empty) {
        *ret = NULL;
        return 0;
    }
    *ret = dup_bytes(p, n);
    return *ret ? 0 : -ENOMEM;
}

static int read_u32(bk_reader *rd, uint32_t *ret)
{
    uint64_t v;
    if (bk_read_uvarint(rd, &v) < 0 || v > UINT32_MAX)
        return -EBADMSG;
    *ret = (uint32_t)v;
    return 0;
}

static int read_time(bk_reader *rd, int64_t *t, uint32_t *ns)
{
    if (bk_read_svarint(rd, t) < 0 || read_u32(rd, ns) < 0 || *ns >= 1000000000u)
        return -EBADMSG;
    return 0;
}

/* count pieces from rd, appended to *v (of *n); their bytes added to *total */
static int read_pieces(bk_reader *rd, uint64_t count, bk_content **v, size_t *n, uint64_t *total)
{
    if (count > rd->left)
        return -EBADMSG;
    bk_content *nv = realloc(*v, (*n + (size_t)count + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    *v = nv;
    for (uint64_t i = 0; i < count; i++) {
        bk_content *c = &nv[*n];
        uint64_t x;
        memset(c, 0, sizeof(*c));
        if (bk_read_uvarint(rd, &x) < 0 || (x >> 1) == 0 || (x >> 1) > UINT32_MAX)
            return -EBADMSG;
        c->len = (uint32_t)(x >> 1);
        c->hole = x & 1;
        if (!c->hole) {
            const uint8_t *p;
            if (bk_read_raw(rd, BK_ID_LEN, &p) < 0)
                return -EBADMSG;
            memcpy(c->id.b, p, BK_ID_LEN);
        }
        *total += c->len;
        (*n)++;
    }
    return 0;
}

int bk_clist_decode(const uint8_t *p, size_t len, uint64_t bytes, uint32_t pieces,
                    bk_content **v, size_t *n)
{
    bk_reader rd = bk_reader_make(p, len);
    uint8_t magic;
    uint64_t count, total = 0;
    if (bk_read_u8(&rd, &magic) < 0 || magic != BK_CLIST_MAGIC || bk_read_uvarint(&rd, &count) < 0 ||
        (pieces && count != pieces) || count > BK_CLIST_PIECES)
        return -EBADMSG;
    int r = read_pieces(&rd, count, v, n, &total);
    if (r == 0 && (rd.left != 0 || (pieces && total != bytes)))
        r = -EBADMSG;
    return r;
}

static int decode_node(bk_reader *rd, bk_node *n, uint8_t version)
{
    uint64_t v;
    int r;
    if ((r = read_str(rd, MAX_NAME, false, &n->name, &n->name_len)) < 0)
        return r;
    if (!bk_name_valid(n->name, n->name_len))
        return -EBADMSG;
    if (bk_read_u8(rd, &n->type) < 0 || n->type < BK_NODE_FILE || n->type > BK_NODE_SOCKET)
        return -EBADMSG;
    if (read_u32(rd, &n->mode) < 0 || n->mode > 07777 || read_u32(rd, &n->uid) < 0 ||
        read_u32(rd, &n->gid) < 0)
        return -EBADMSG;
    if ((r = read_str(rd, 256, false, &n->user, NULL)) < 0 ||
        (r = read_str(rd, 256, false, &n->group, NULL)) < 0)
        return r;
    if (bk_read_uvarint(rd, &n->size) < 0 || read_time(rd, &n->mtime, &n->mtime_nsec) < 0 ||
        read_time(rd, &n->ctime, &n->ctime_nsec) < 0 ||
        bk_read_uvarint(rd, &n->inode) < 0 || bk_read_uvarint(rd, &n->dev) < 0 ||
        bk_read_uvarint(rd, &n->nlink) < 0)
        return -EBADMSG;
    switch (n->type) {
    case BK_NODE_DIR: {
        const uint8_t *p;
        if (bk_read_raw(rd, BK_ID_LEN, &p) < 0)
            return -EBADMSG;
        memcpy(n->subtree.b, p, BK_ID_LEN);
        break;
    }
    case BK_NODE_SYMLINK:
        if ((r = read_str(rd, MAX_TARGET, false, &n->target, &n->target_len)) < 0)
            return r;
        break;
    case BK_NODE_CHARDEV:
    case BK_NODE_BLOCKDEV:
        if (bk_read_uvarint(rd, &n->rdev) < 0)
            return -EBADMSG;
        break;
    case BK_NODE_FILE: {
        uint64_t total = 0;
        if (bk_read_uvarint(rd, &v) < 0 || (r = read_pieces(rd, v, &n->content, &n->ncontent, &total)) < 0)
            return r < 0 ? r : -EBADMSG;
        if (version >= BK_TREE_VERSION_LISTS) {
            if (bk_read_uvarint(rd, &v) < 0 || v > rd->left / (BK_ID_LEN + 2) ||
                (v > 0 && n->ncontent > 0))
                return -EBADMSG;
            n->nlists = (size_t)v;
            n->lists = calloc(n->nlists ? n->nlists : 1, sizeof(*n->lists));
            if (!n->lists)
                return -ENOMEM;
            for (size_t i = 0; i < n->nlists; i++) {
                const uint8_t *p;
                uint64_t pieces;
                if (bk_read_raw(rd, BK_ID_LEN, &p) < 0 || bk_read_uvarint(rd, &n->lists[i].bytes) < 0 ||
                    bk_read_uvarint(rd, &pieces) < 0 || pieces == 0 || pieces > BK_CLIST_PIECES ||
                    n->lists[i].bytes < pieces || n->lists[i].bytes > UINT64_MAX - total)
                    return -EBADMSG;
                memcpy(n->lists[i].id.b, p, BK_ID_LEN);
                n->lists[i].pieces = (uint32_t)pieces;
                total += n->lists[i].bytes;
            }
        }
        if (total != n->size)
            return -EBADMSG;
        break;
    }
    }
    if (bk_read_uvarint(rd, &v) < 0 || v > rd->left / 2)
        return -EBADMSG;
    n->nxattrs = (size_t)v;
    if (n->nxattrs) {
        n->xattrs = calloc(n->nxattrs, sizeof(*n->xattrs));
        if (!n->xattrs)
            return -ENOMEM;
    }
    for (size_t i = 0; i < n->nxattrs; i++) {
        const uint8_t *p;
        size_t len;
        if ((r = read_str(rd, 255, false, &n->xattrs[i].name, &len)) < 0)
            return r;
        if (len == 0 || bk_read_bytes(rd, &p, &len) < 0)
            return -EBADMSG;
        n->xattrs[i].value = (uint8_t *)dup_bytes(p, len);
        if (!n->xattrs[i].value)
            return -ENOMEM;
        n->xattrs[i].len = len;
    }
    if ((r = read_str(rd, MAX_TARGET, true, &n->acl_posix, NULL)) < 0 ||
        (r = read_str(rd, MAX_TARGET, true, &n->acl_nfs4, NULL)) < 0)
        return r;
    if (bk_read_uvarint(rd, &v) < 0 || v > rd->left)
        return -EBADMSG;
    for (uint64_t i = 0; i < v; i++) {
        uint64_t tag;
        const uint8_t *p;
        size_t len;
        if (bk_read_uvarint(rd, &tag) < 0 || bk_read_bytes(rd, &p, &len) < 0)
            return -EBADMSG;
        if (tag == 1 || tag == 2) {
            bk_reader er = bk_reader_make(p, len);
            uint64_t x;
            if (bk_read_uvarint(&er, &x) < 0 || x > UINT32_MAX || er.left)
                return -EBADMSG;
            if (tag == 1)
                n->chunk_avg = (uint32_t)x;
            else
                n->fflags = (uint32_t)x;
        }
    }
    if (n->type != BK_NODE_FILE && n->type != BK_NODE_SYMLINK && n->size != 0 &&
        n->type != BK_NODE_DIR)
        return -EBADMSG;
    return 0;
}

int bk_tree_decode(const uint8_t *p, size_t n, bk_tree *ret)
{
    memset(ret, 0, sizeof(*ret));
    bk_reader rd = bk_reader_make(p, n);
    uint8_t version;
    uint64_t count;
    if (bk_read_u8(&rd, &version) < 0)
        return -EBADMSG;
    if (version != BK_TREE_VERSION && version != BK_TREE_VERSION_LISTS)
        return -EPROTONOSUPPORT;
    if (bk_read_uvarint(&rd, &count) < 0 || count > MAX_NODES || count > rd.left)
        return -EBADMSG;
    ret->nodes = calloc(count ? (size_t)count : 1, sizeof(bk_node));
    if (!ret->nodes)
        return -ENOMEM;
    ret->cap = (size_t)count;
    int r = 0;
    for (size_t i = 0; i < count; i++) {
        ret->n = i + 1;
        r = decode_node(&rd, &ret->nodes[i], version);
        if (r < 0)
            break;
        if (i > 0 && bk_name_cmp(ret->nodes[i - 1].name, ret->nodes[i - 1].name_len,
                                 ret->nodes[i].name, ret->nodes[i].name_len) >= 0) {
            r = -EBADMSG;
            break;
        }
    }
    if (r == 0 && rd.left != 0)
        r = -EBADMSG;
    if (r < 0)
        bk_tree_free(ret);
    return r;
}

void bk_node_clear(bk_node *n)
{
    free(n->name);
    free(n->user);
    free(n->group);
    free(n->target);
    for (size_t i = 0; i < n->nxattrs; i++) {
        free(n->xattrs[i].name);
        free(n->xattrs[i].value);
    }
    free(n->xattrs);
    free(n->acl_posix);
    free(n->acl_nfs4);
    free(n->content);
    free(n->lists);
    memset(n, 0, sizeof(*n));
}

void bk_tree_free(bk_tree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        bk_node_clear(&t->nodes[i]);
    free(t->nodes);
    memset(t, 0, sizeof(*t));
}

int bk_tree_push(bk_tree *t, bk_node *n)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        bk_node *v = realloc(t->nodes, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->nodes = v;
        t->cap = cap;
    }
    t->nodes[t->n++] = *n;
    memset(n, 0, sizeof(*n));
    return 0;
}

static int node_cmp(const void *a, const void *b)
{
    const bk_node *x = a, *y = b;
    return bk_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

int bk_tree_sort(bk_tree *t)
{
    if (t->n > 1)
        qsort(t->nodes, t->n, sizeof(bk_node), node_cmp);
    for (size_t i = 1; i < t->n; i++)
        if (node_cmp(&t->nodes[i - 1], &t->nodes[i]) == 0)
            return -EEXIST;
    return 0;
}

const bk_node *bk_tree_find(const bk_tree *t, const char *name, size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bk_name_cmp(t->nodes[mid].name, t->nodes[mid].name_len, name, len);
        if (c == 0)
            return &t->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static char *dup_opt(const char *s, size_t n)
{
    return s ? dup_bytes((const uint8_t *)s, n) : NULL;
}

static void *dup_array(const void *v, size_t n, size_t size)
{
    void *d = malloc(n * size);
    return d ? memcpy(d, v, n * size) : NULL;
}

int bk_node_made_file(bk_node *n, const char *name, uint32_t chunk_avg)
{
    memset(n, 0, sizeof(*n));
    n->name = strdup(name);
    n->user = strdup("");
    n->group = strdup("");
    if (!n->name || !n->user || !n->group) {
        bk_node_clear(n);
        return -ENOMEM;
    }
    n->name_len = strlen(name);
    n->type = BK_NODE_FILE;
    n->mode = 0600;
    n->uid = getuid();
    n->gid = getgid();
    n->chunk_avg = chunk_avg;
    return 0;
}

int bk_node_copy(const bk_node *src, bk_node *dst)
{
    *dst = *src;
    dst->name = dup_opt(src->name, src->name_len);
    dst->user = dup_opt(src->user, src->user ? strlen(src->user) : 0);
    dst->group = dup_opt(src->group, src->group ? strlen(src->group) : 0);
    dst->target = dup_opt(src->target, src->target_len);
    dst->acl_posix = dup_opt(src->acl_posix, src->acl_posix ? strlen(src->acl_posix) : 0);
    dst->acl_nfs4 = dup_opt(src->acl_nfs4, src->acl_nfs4 ? strlen(src->acl_nfs4) : 0);
    dst->xattrs = NULL;
    dst->content = NULL;
    dst->lists = NULL;
    dst->nxattrs = 0;
    dst->ncontent = 0;
    dst->nlists = 0;
    bool fail = (src->name && !dst->name) || (src->user && !dst->user) ||
                (src->group && !dst->group) || (src->target && !dst->target) ||
                (src->acl_posix && !dst->acl_posix) || (src->acl_nfs4 && !dst->acl_nfs4);
    if (!fail && src->nxattrs) {
        dst->xattrs = calloc(src->nxattrs, sizeof(bk_xattr));
        fail = !dst->xattrs;
        for (size_t i = 0; !fail && i < src->nxattrs; i++) {
            dst->nxattrs = i + 1;
            dst->xattrs[i].name = strdup(src->xattrs[i].name);
            dst->xattrs[i].value = (uint8_t *)dup_bytes(src->xattrs[i].value, src->xattrs[i].len);
            dst->xattrs[i].len = src->xattrs[i].len;
            fail = !dst->xattrs[i].name || !dst->xattrs[i].value;
        }
    }
    if (!fail && src->ncontent) {
        fail = !(dst->content = dup_array(src->content, src->ncontent, sizeof(bk_content)));
        dst->ncontent = fail ? 0 : src->ncontent;
    }
    if (!fail && src->nlists) {
        fail = !(dst->lists = dup_array(src->lists, src->nlists, sizeof(bk_clist)));
        dst->nlists = fail ? 0 : src->nlists;
    }
    if (fail) {
        bk_node_clear(dst);
        return -ENOMEM;
    }
    return 0;
}

void bk_node_info_fill(const bk_node *n, const char *path, size_t path_len, bk_node_info *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->path = path;
    ret->path_len = path_len;
    ret->type = (bk_node_type)n->type;
    ret->mode = n->mode;
    ret->uid = n->uid;
    ret->gid = n->gid;
    ret->user = n->user ? n->user : "";
    ret->group = n->group ? n->group : "";
    ret->size = n->size;
    ret->mtime = n->mtime;
    ret->mtime_nsec = n->mtime_nsec;
    ret->ctime = n->ctime;
    ret->ctime_nsec = n->ctime_nsec;
    ret->inode = n->inode;
    ret->device = n->dev;
    ret->nlink = n->nlink;
    ret->rdev = n->rdev;
    ret->link_target = n->target;
    ret->nxattrs = n->nxattrs;
    ret->has_acl = n->acl_posix || n->acl_nfs4;
    ret->fflags = n->fflags;
    ret->subtree = n->type == BK_NODE_DIR ? &n->subtree : NULL;
    ret->nchunks = bk_node_pieces(n);
}
