/* check.c - verify a repository: index objects, packs (headers against the index, or
 * every byte with --read-data), snapshots and every tree and blob they reference.
 * Problems are logged at BK_LOG_ERROR, each naming the object, and counted.
 *
 * Memory stays bounded whatever the size of the repository (docs/scale.md): each index
 * object is read once, and what it says goes to two files of a temporary directory, the
 * entries of each pack in a row (for the comparison with the pack's header) and a mapped
 * index of this run (imap.h, for the lookups of the snapshots' blobs); what stays in RAM
 * is a record per pack and a bit per blob (the trees seen). */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "imap.h"
#include "repo.h"
#include "util.h"

typedef struct pack_ref {
    bk_id id;
    uint64_t off;                /* of its entries (sorted by offset) in the entries file */
    uint32_t n;
    uint32_t index;              /* the index object that lists it (a number in index_ids) */
    uint64_t size;               /* from the listing, 0 if missing */
    bool listed;
} pack_ref;

typedef struct checker {
    bk_repo *repo;
    unsigned flags;
    bk_check_subset subset;
    bk_check_result *res;
    pthread_mutex_t mu;
    bk_idmap packs;              /* pack id -> size_t index into refs */
    pack_ref *refs;
    size_t nrefs, cap;
    size_t next;                 /* work queue position */
    size_t unindexed;            /* packs no index lists */
    uint8_t *trees_seen;         /* a bit per position of the map */
    bk_id *index_ids;            /* the index objects read */
    size_t nindex, index_cap;
    int entries_fd;              /* the entries of each pack, in a row */
    uint64_t entries_len;
    bk_imap_builder *builder;    /* the map of this run */
} checker;

static void problem(checker *c, const char *fmt, ...) BK_PRINTF(2, 3);
static void problem(checker *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->mu);
    c->res->errors++;
    pthread_mutex_unlock(&c->mu);
    bk_repo_log(c->repo, BK_LOG_ERROR, "%s", msg);
}

/* ---- index objects ---------------------------------------------------------------------- */

struct idx_list {
    checker *c;
};

static int by_offset(const void *a, const void *b)
{
    const bk_pack_entry *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* An index object or snapshot that does not load: a problem, and whether the local cache
 * holds a valid copy that repair would put back (never used silently). */
static void damaged(checker *c, const char *kind, const char *name)
{
    bk_buf b = BK_BUF_INIT;
    bool copy = bk_repo_errcode(c->repo) == -EBADMSG && bk_cache_get_copy(c->repo, kind, name, &b) == 0;
    bk_buf_free(&b);
    problem(c, "%s%s", bk_repo_errmsg(c->repo),
            copy ? " (a valid copy is in the local cache: arca repair puts it back)" : "");
    bk_repo_clear_error(c->repo);
}

static int check_one_index(const char *name, uint64_t size, void *ctx)
{
    checker *c = ctx;
    uint8_t *plain;
    size_t len;
    int r = bk_repo_load_object(c->repo, BK_OBJ_INDEX, BK_KIND_INDEX, name, &plain, &len);
    if (r == -ENOMEM || r == -EINTR)
        return r;
    if (r < 0) {
        damaged(c, "index", name);
        return 0;
    }
    bk_index_obj o;
    r = bk_index_obj_decode(plain, len, &o);
    free(plain);
    if (r < 0) {
        if (r != -ENOMEM)
            problem(c, "index/%s is malformed", name);   /* and left out of the map */
        return r == -ENOMEM ? r : 0;
    }
    c->res->index_objects++;
    bk_id iid;
    bk_id_parse(name, &iid);
    if (c->nindex == c->index_cap) {
        size_t cap = c->index_cap ? c->index_cap * 2 : 256;
        bk_id *v = realloc(c->index_ids, cap * sizeof(*v));
        if (!v) {
            bk_index_obj_free(&o);
            return -ENOMEM;
        }
        c->index_ids = v;
        c->index_cap = cap;
    }
    c->index_ids[c->nindex++] = iid;
    r = bk_imap_builder_object(c->builder, &iid);
    for (size_t i = 0; r == 0 && i < o.npacks; i++) {
        bk_index_pack *ip = &o.packs[i];
        r = bk_imap_builder_pack(c->builder, &ip->id);
        for (size_t j = 0; r == 0 && j < ip->n; j++)
            r = bk_imap_builder_blob(c->builder, &ip->blobs[j]);
        size_t *slot;
        if (r < 0 || (r = bk_idmap_put(&c->packs, &ip->id, (void **)&slot)) < 0)
            break;
        if (r == 0)
            continue;   /* listed by another index object too (prune's new index) */
        r = 0;
        if (c->nrefs == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 256;
            pack_ref *v = realloc(c->refs, cap * sizeof(*v));
            if (!v) {
                r = -ENOMEM;
                break;
            }
            c->refs = v;
            c->cap = cap;
        }
        *slot = c->nrefs;
        pack_ref *p = &c->refs[c->nrefs++];
        memset(p, 0, sizeof(*p));
        p->id = ip->id;
        p->off = c->entries_len;
        p->n = (uint32_t)ip->n;
        p->index = (uint32_t)(c->nindex - 1);
        if (ip->n > 1)
            qsort(ip->blobs, ip->n, sizeof(bk_pack_entry), by_offset);
        r = bk_write_full(c->entries_fd, ip->blobs, ip->n * sizeof(bk_pack_entry));
        c->entries_len += ip->n * sizeof(bk_pack_entry);
    }
    bk_index_obj_free(&o);
    return r < 0 ? r : 0;
}

struct listed {
    checker *c;
};

static int on_pack_listed(const char *name, uint64_t size, void *ctx)
{
    checker *c = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0)
        return 0;
    size_t *slot = bk_idmap_get(&c->packs, &id);
    if (!slot) {
        c->unindexed++;
        bk_repo_log(c->repo, BK_LOG_INFO, "pack %s is in no index", name);
        return 0;
    }
    c->refs[*slot].listed = true;
    c->refs[*slot].size = size;
    return 0;
}

/* check --scan-orphans: an object the store's catalogs do not list (RADOS) */
static int on_orphan(const char *name, uint64_t size, void *ctx)
{
    checker *c = ctx;
    c->res->orphans++;
    bk_repo_log(c->repo, BK_LOG_WARNING, "%s (%llu bytes) is in no catalog: no command sees it "
                "(see docs/ceph.md, orphans)", name, (unsigned long long)size);
    return 0;
}

/* Is this pack in the part of --read-data-subset that this run reads? */
static bool selected(checker *c, const bk_id *id)
{
    if (c->subset.t > 0)
        return bk_get_le32(id->b) % c->subset.t == c->subset.n - 1;
    if (c->subset.share > 0 && c->subset.share < 1) {
        uint32_t x = randombytes_uniform(1000000);
        return (double)x < c->subset.share * 1000000.0;
    }
    return true;
}

/* ---- packs -------------------------------------------------------------------------------- */

static void compare_header(checker *c, pack_ref *p, const bk_pack_entry *hdr, size_t n)
{
    char hex[BK_ID_HEX], ihex[BK_ID_HEX];
    bk_id_hex(&p->id, hex);
    bk_id_hex(&c->index_ids[p->index], ihex);
    bk_pack_entry *blobs = malloc(((size_t)p->n + 1) * sizeof(*blobs));
    if (!blobs || pread(c->entries_fd, blobs, (size_t)p->n * sizeof(*blobs), (off_t)p->off) !=
                      (ssize_t)((size_t)p->n * sizeof(*blobs))) {
        problem(c, "pack %s: cannot read back what index/%s says of it", hex, ihex);
        free(blobs);
        return;
    }
    /* every index entry must be in the header, at the same place */
    size_t j = 0;
    for (size_t i = 0; i < p->n; i++) {
        while (j < n && hdr[j].offset < blobs[i].offset)
            j++;
        if (j >= n || hdr[j].offset != blobs[i].offset || bk_id_cmp(&hdr[j].id, &blobs[i].id) ||
            hdr[j].stored_len != blobs[i].stored_len || hdr[j].raw_len != blobs[i].raw_len ||
            hdr[j].kind != blobs[i].kind) {
            char bhex[BK_ID_HEX];
            bk_id_hex(&blobs[i].id, bhex);
            problem(c, "pack %s: header disagrees with index/%s about blob %s", hex, ihex, bhex);
            break;
        }
    }
    free(blobs);
}

/* --read-data reads a pack in pieces of whole blobs, at most this many bytes (or one larger
 * blob): a reader holds one piece, the header and one decoded blob at a time. */
#define CHECK_PIECE ((size_t)2 << 20)

/* A reader's buffers, kept from pack to pack. */
typedef struct pack_bufs {
    bk_zctx *z;
    bk_buf tail, piece;
    uint8_t *out;                /* one decoded blob */
    size_t out_cap;
} pack_bufs;

/* [off, off + len) of the pack into b (replacing what it held): from the store, and from the
 * tail already read for the part it holds. */
static int read_piece(checker *c, const char *hex, const bk_buf *tail, uint64_t tail_off,
                      uint64_t off, size_t len, bk_buf *b)
{
    b->len = 0;
    size_t stored = off >= tail_off ? 0 : (size_t)BK_MIN((uint64_t)len, tail_off - off);
    int r = stored ? bk_be_get(c->repo->be, BK_OBJ_DATA, hex, off, stored, b) : 0;
    if (r == 0 && stored < len)
        r = bk_buf_append(b, tail->data + (off + stored - tail_off), len - stored);
    pthread_mutex_lock(&c->mu);
    c->res->bytes_read += r == 0 ? stored : 0;
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* Every byte of the pack: its name is the hash of them all (hashed piece by piece), and
 * every blob of the header decrypts and decodes to its id.  The header (n entries, in
 * offset order, covering the body [0, size - header) without gaps) is in the tail, which
 * holds [tail_off, size). */
static void read_pack_data(checker *c, pack_ref *p, const char *hex, const bk_pack_entry *hdr,
                           size_t n, pack_bufs *pb)
{
    bk_repo *repo = c->repo;
    uint64_t tail_off = p->size - pb->tail.len;
    uint64_t body = n ? (uint64_t)hdr[n - 1].offset + hdr[n - 1].stored_len : 0;
    bk_obj_hasher hs;   /* the pack's name, by the repository's function */
    int hr = bk_obj_hasher_init(&hs, repo->keys);
    if (hr < 0) {
        problem(c, "pack %s: cannot hash: %s", hex, strerror(-hr));
        return;
    }
    size_t bad = 0;
    for (size_t i = 0, j; i < n; i = j) {
        uint64_t off = hdr[i].offset, end = off + hdr[i].stored_len;
        for (j = i + 1; j < n && (uint64_t)hdr[j].offset + hdr[j].stored_len - off <= CHECK_PIECE; j++)
            end = (uint64_t)hdr[j].offset + hdr[j].stored_len;
        int r = read_piece(c, hex, &pb->tail, tail_off, off, (size_t)(end - off), &pb->piece);
        if (r < 0) {
            bk_obj_hasher_free(&hs);
            problem(c, "pack %s: cannot read: %s", hex, strerror(-r));
            return;
        }
        if (hr == 0)
            hr = bk_obj_hasher_update(&hs, pb->piece.data, pb->piece.len);
        for (size_t k = i; k < j; k++) {
            size_t raw = hdr[k].raw_len ? hdr[k].raw_len : 1;
            if (raw > pb->out_cap) {
                uint8_t *v = realloc(pb->out, raw);
                if (v) {
                    pb->out = v;
                    pb->out_cap = raw;
                }
            }
            if (raw > pb->out_cap || !pb->z ||
                bk_blob_decode(repo->keys, pb->z, hdr[k].kind, &hdr[k].id,
                               pb->piece.data + (hdr[k].offset - off), hdr[k].stored_len, pb->out,
                               hdr[k].raw_len) < 0) {
                if (bad++ < 5) {
                    char bhex[BK_ID_HEX];
                    bk_id_hex(&hdr[k].id, bhex);
                    problem(c, "pack %s: blob %s is corrupt", hex, bhex);
                }
            }
        }
    }
    if (bad > 5)
        problem(c, "pack %s: %zu more corrupt blobs", hex, bad - 5);
    /* the header: in the tail (bk_pack_parse_header found it there) */
    if (hr == 0)
        hr = bk_obj_hasher_update(&hs, pb->tail.data + (body - tail_off), (size_t)(p->size - body));
    bk_id got;
    if (hr == 0)
        hr = bk_obj_hasher_final(&hs, &got);
    else
        bk_obj_hasher_free(&hs);
    if (hr < 0)
        problem(c, "pack %s: cannot hash: %s", hex, strerror(-hr));
    else if (bk_id_cmp(&got, &p->id) != 0)
        problem(c, "pack %s: content does not match its name (corrupt pack)", hex);
}

static void check_pack(checker *c, pack_ref *p, pack_bufs *pb)
{
    bk_repo *repo = c->repo;
    char hex[BK_ID_HEX];
    bk_id_hex(&p->id, hex);
    if (!p->listed) {
        char ihex[BK_ID_HEX];
        bk_id_hex(&c->index_ids[p->index], ihex);
        problem(c, "pack %s (listed in index/%s) is missing", hex, ihex);
        return;
    }
    bool full = (c->flags & BK_CHECK_READ_DATA) && selected(c, &p->id);
    bk_buf *b = &pb->tail;
    b->len = 0;
    uint64_t tail = BK_MIN(p->size, (uint64_t)BK_PACK_TAIL_GUESS);
    int r = bk_be_get(repo->be, BK_OBJ_DATA, hex, p->size - tail, (size_t)tail, b);
    bk_pack_entry *hdr = NULL;
    size_t n = 0, need = 0;
    if (r == 0) {
        r = bk_pack_parse_header(repo->keys, b->data, b->len, p->size, &hdr, &n, &need);
        if (r == -EAGAIN) {
            b->len = 0;
            r = bk_be_get(repo->be, BK_OBJ_DATA, hex, p->size - need, need, b);
            if (r == 0)
                r = bk_pack_parse_header(repo->keys, b->data, b->len, p->size, &hdr, &n, &need);
        }
        if (r < 0 && r != -ENOMEM && r != -EIO) {
            problem(c, "pack %s: header does not decode (corrupt pack)", hex);
            return;
        }
    }
    if (r == -ENOENT) {   /* listed (a catalog's stale entry), and gone */
        char ihex[BK_ID_HEX];
        bk_id_hex(&c->index_ids[p->index], ihex);
        problem(c, "pack %s (listed in index/%s) is missing", hex, ihex);
        return;
    }
    if (r < 0) {
        problem(c, "pack %s: cannot read: %s", hex, strerror(-r));
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->res->bytes_read += b->len;
    c->res->packs_read += full;
    pthread_mutex_unlock(&c->mu);
    compare_header(c, p, hdr, n);
    if (full)
        read_pack_data(c, p, hex, hdr, n, pb);
    free(hdr);
}

static void *pack_worker(void *arg)
{
    checker *c = arg;
    pack_bufs pb = { .z = bk_zctx_new(0), .tail = BK_BUF_INIT, .piece = BK_BUF_INIT };
    for (;;) {
        pthread_mutex_lock(&c->mu);
        size_t i = c->next++;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->nrefs || bk_interrupted())
            break;
        check_pack(c, &c->refs[i], &pb);
    }
    bk_buf_free(&pb.tail);
    bk_buf_free(&pb.piece);
    free(pb.out);
    bk_zctx_free(pb.z);
    return NULL;
}

/* ---- snapshots and trees ------------------------------------------------------------------- */

/* The data blobs of a file (of tree `tree`) are in the index: the first that is not is
 * named. */
static void check_pieces(checker *c, const bk_content *v, size_t n, const char *name,
                         const char *tree, const char *snap)
{
    const bk_content *m = bk_repo_missing_piece(c->repo, v, n);
    if (m) {
        char bhex[BK_ID_HEX];
        bk_id_hex(&m->id, bhex);
        problem(c, "data blob %s of %s in tree %s (snapshot %.8s) is not in the index", bhex,
                name, tree, snap);
    }
}

/* A list blob of a file's content, once (a bit per map position, as for trees). */
static int check_list(checker *c, const bk_clist *l, const char *name, const char *tree,
                      const char *snap)
{
    char hex[BK_ID_HEX];
    bk_id_hex(&l->id, hex);
    uint64_t pos;
    bk_index_entry e;
    int r = bk_index_map_find(&c->repo->index, &l->id, &pos, &e);
    if (r == -EBADMSG)
        return bk_repo_error(c->repo, r, "check's index file is damaged");
    if (r < 0 || e.kind != BK_KIND_TREE) {
        problem(c, "content list %s of %s in tree %s (snapshot %.8s) is not in the index", hex,
                name, tree, snap);
        return 0;
    }
    if (c->trees_seen[pos / 8] >> (pos % 8) & 1)
        return 0;
    c->trees_seen[pos / 8] |= (uint8_t)(1u << (pos % 8));
    bk_content *v = NULL;
    size_t n = 0;
    r = bk_repo_load_clist(c->repo, l, &v, &n);
    if (r == -ENOMEM || r == -EINTR) {
        free(v);
        return r;
    }
    if (r < 0) {
        problem(c, "%s (%s in tree %s, snapshot %.8s)", bk_repo_errmsg(c->repo), name, tree, snap);
        bk_repo_clear_error(c->repo);
    } else {
        check_pieces(c, v, n, name, tree, snap);
    }
    free(v);
    return 0;
}

static int check_tree(checker *c, const bk_id *id, const char *snap)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    uint64_t pos;
    bk_index_entry e;
    int r = bk_index_map_find(&c->repo->index, id, &pos, &e);
    if (r == -EBADMSG)
        return bk_repo_error(c->repo, r, "check's index file is damaged");
    if (r < 0 || e.kind != BK_KIND_TREE) {
        problem(c, "tree %s (snapshot %.8s) is not in the index", hex, snap);
        return 0;
    }
    if (c->trees_seen[pos / 8] >> (pos % 8) & 1)
        return 0;
    c->trees_seen[pos / 8] |= (uint8_t)(1u << (pos % 8));
    c->res->trees++;
    bk_tree t;
    r = bk_repo_load_tree(c->repo, id, &t);
    if (r == -ENOMEM || r == -EINTR)
        return r;
    if (r < 0) {
        problem(c, "%s (snapshot %.8s)", bk_repo_errmsg(c->repo), snap);
        bk_repo_clear_error(c->repo);
        return 0;
    }
    for (size_t i = 0; r >= 0 && i < t.n; i++) {
        const bk_node *n = &t.nodes[i];
        if (n->type == BK_NODE_DIR) {
            r = check_tree(c, &n->subtree, snap);
            continue;
        }
        check_pieces(c, n->content, n->ncontent, n->name, hex, snap);
        for (size_t j = 0; r >= 0 && j < n->nlists; j++)
            r = check_list(c, &n->lists[j], n->name, hex, snap);
    }
    bk_tree_free(&t);
    return r < 0 ? r : 0;
}

/* Snapshot names, listed before the index is read: a backup running meanwhile writes its
 * index before its snapshot, so every snapshot listed here has its index in what is read
 * next, and a snapshot written later is simply not checked by this run. */
struct name_list {
    char **v;
    size_t n;
};

static int collect_name(const char *name, uint64_t size, void *ctx)
{
    struct name_list *l = ctx;
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    l->v = v;
    if (!(v[l->n] = strdup(name)))
        return -ENOMEM;
    l->n++;
    return 0;
}

static int check_one_snapshot(checker *c, const char *name)
{
    bk_snapshot *s;
    int r = bk_repo_load_snapshot(c->repo, name, &s);
    if (r == -ENOMEM || r == -EINTR)
        return r;
    if (r == -ENOENT) {   /* forgotten since it was listed */
        bk_repo_clear_error(c->repo);
        return 0;
    }
    if (r < 0) {
        damaged(c, "snapshots", name);
        return 0;
    }
    c->res->snapshots++;
    r = check_tree(c, &s->tree, name);
    bk_snapshot_free(s);
    return r;
}

int bk_check(bk_repo *repo, unsigned flags, const bk_check_subset *subset, bk_check_result *ret)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "check");
    memset(ret, 0, sizeof(*ret));
    checker c = { .repo = repo, .flags = flags, .res = ret };
    if (subset) {
        if ((subset->t > 0 && (subset->n < 1 || subset->n > subset->t)) || subset->share < 0 ||
            subset->share > 1)
            return bk_repo_error(repo, -EINVAL, "invalid --read-data-subset");
        c.subset = *subset;
    }
    /* check reads the repository itself, never the local cache's copies */
    bool no_cache = repo->no_cache;
    repo->no_cache = true;
    pthread_mutex_init(&c.mu, NULL);
    bk_idmap_init(&c.packs, sizeof(size_t));
    c.entries_fd = -1;
    /* the temporary directory for the entries of the packs and for the map */
    const char *t = getenv("TMPDIR");
    char *tmpdir = NULL, *entries = NULL, *mappath = NULL;
    int r = asprintf(&tmpdir, "%s/arca-check-XXXXXX", t && *t ? t : "/tmp") < 0 ? -ENOMEM : 0;
    if (r == 0 && !mkdtemp(tmpdir))
        r = bk_repo_error(repo, -errno, "cannot make a temporary directory: %s", strerror(errno));
    if (r == 0 && (asprintf(&entries, "%s/entries", tmpdir) < 0 || asprintf(&mappath, "%s/index.map", tmpdir) < 0))
        r = -ENOMEM;
    if (r == 0 && (c.entries_fd = open(entries, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        r = bk_repo_error(repo, -errno, "cannot make %s: %s", entries, strerror(errno));
    if (r == 0)
        unlink(entries);
    if (r == 0 && (r = bk_imap_builder_new(mappath, &c.builder)) < 0)
        bk_repo_error(repo, r, "cannot make %s: %s", mappath, strerror(-r));
    struct name_list snaps = { 0 };
    if (r == 0)
        r = bk_be_list_names(repo->be, BK_OBJ_SNAPSHOT, collect_name, &snaps);
    /* key slots: a damaged one cannot open the repository any more */
    bk_key_info *keys = NULL;
    size_t nkeys = 0;
    if (r == 0 && bk_key_list(repo, &keys, &nkeys) == 0) {
        for (size_t i = 0; i < nkeys; i++)
            if (keys[i].damaged)
                problem(&c, "key slot %.8s is damaged (arca key remove %.8s, then key add)",
                        keys[i].id, keys[i].id);
        free(keys);
    } else if (r == 0) {
        bk_repo_clear_error(repo);   /* the rest of check tells more */
    }
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_INDEX, check_one_index, &c);
    /* the handle's index is what this read found (a malformed object left out of it) */
    bk_imap *m = r == 0 ? calloc(1, sizeof(*m)) : NULL;
    if (r == 0 && !m)
        r = -ENOMEM;
    if (r == 0 && (r = bk_imap_builder_finish(c.builder, m)) < 0)
        bk_repo_error(repo, r, "cannot write %s: %s", mappath, strerror(-r));
    if (r == 0) {
        unlink(mappath);   /* mapped: it stays while check needs it */
        bk_repo_index_reset(repo);
        bk_index_set_map(&repo->index, m, NULL);
        repo->index_loaded = true;
        m = NULL;
        if (!(c.trees_seen = calloc(repo->index.map->n / 8 + 1, 1)))
            r = -ENOMEM;
    }
    free(m);
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_DATA, on_pack_listed, &c);
    if (r == 0 && (flags & BK_CHECK_SCAN_ORPHANS) && repo->be->ops->scan_orphans)
        r = repo->be->ops->scan_orphans(repo->be, on_orphan, &c);
    if (r == 0 && c.unindexed)
        bk_repo_log(repo, BK_LOG_WARNING, "%zu %s in no index (left by interrupted backups "
                    "or prunes: not an error, prune removes them)", c.unindexed,
                    bk_plural(c.unindexed, "pack is", "packs are"));
    if (r == 0 && repo->stale_locks_removed)
        bk_repo_log(repo, BK_LOG_WARNING, "removed %zu %s of dead processes (killed runs: not "
                    "an error)", repo->stale_locks_removed,
                    bk_plural(repo->stale_locks_removed, "lock record", "lock records"));
    uint64_t ntemp = 0, temp_bytes = 0;
    if (r == 0 && repo->be->ops->temp_files &&
        repo->be->ops->temp_files(repo->be, BK_TEMP_MIN_AGE, false, &ntemp, &temp_bytes) == 0 && ntemp)
        bk_repo_log(repo, BK_LOG_WARNING, "%llu %s of interrupted writes (%llu bytes) %s left: "
                    "not an error, prune removes them", (unsigned long long)ntemp,
                    bk_plural(ntemp, "temporary file", "temporary files"),
                    (unsigned long long)temp_bytes, ntemp == 1 ? "is" : "are");
    if (r == 0) {
        ret->packs = c.nrefs;
        ret->blobs = bk_index_count(&repo->index);
        int nt = bk_repo_readers(repo);
        pthread_t th[66];
        int started = 0;
        for (; started < nt && started < 66; started++)
            if (pthread_create(&th[started], NULL, pack_worker, &c) != 0)
                break;
        if (started == 0)
            pack_worker(&c);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        r = bk_repo_check_interrupt(repo);
    }
    for (size_t i = 0; r == 0 && i < snaps.n; i++)
        r = check_one_snapshot(&c, snaps.v[i]);
    for (size_t i = 0; i < snaps.n; i++)
        free(snaps.v[i]);
    free(snaps.v);
    if (r < 0 && bk_repo_errcode(repo) == 0)
        bk_repo_error(repo, r, "check could not run: %s", strerror(-r));
    free(c.refs);
    bk_idmap_free(&c.packs);
    free(c.trees_seen);
    free(c.index_ids);
    bk_imap_builder_free(c.builder);
    if (c.entries_fd >= 0)
        close(c.entries_fd);
    if (tmpdir) {
        if (mappath)
            unlink(mappath);
        rmdir(tmpdir);
    }
    free(tmpdir);
    free(entries);
    free(mappath);
    pthread_mutex_destroy(&c.mu);
    repo->no_cache = no_cache;
    return r;
}
