/* snapsum.c - what listings and parent selection need of every snapshot (time, host, paths,
 * tags), kept sealed in the local cache ("snapshots.sum"), so that a run decrypts only the
 * snapshots that are new since the last one and loads in full only those it picked: the
 * fixed cost of a backup does not grow with the number of snapshots (docs/scale.md). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "snapshot.h"
#include "snapsum.h"
#include "util.h"

#define SUM_VERSION 1
#define SUM_KIND 22              /* sealed with the repository's key; local only */

void bk_snapsums_free(bk_snapsum *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].host);
        bk_strv_free(v[i].paths, v[i].npaths);
        bk_strv_free(v[i].tags, v[i].ntags);
    }
    free(v);
}

static int sum_of(const bk_snapshot *s, bk_snapsum *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->id = s->id;
    ret->time = s->time;
    ret->nsec = s->time_nsec;
    ret->tz = s->tz_offset;
    ret->host = strdup(s->host ? s->host : "");
    int r = ret->host ? 0 : -ENOMEM;
    if (r == 0 && (r = bk_strv_dup(s->paths, s->npaths, &ret->paths)) == 0)
        ret->npaths = s->npaths;
    if (r == 0 && (r = bk_strv_dup(s->tags, s->ntags, &ret->tags)) == 0)
        ret->ntags = s->ntags;
    return r;
}

/* ---- the cache file --------------------------------------------------------------------- */

static int put_strv(bk_buf *b, char *const *v, size_t n)
{
    int r = bk_buf_put_uvarint(b, n);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = bk_buf_put_bytes(b, v[i], strlen(v[i]));
    return r;
}

static int encode(const bk_snapsum *v, size_t n, bk_buf *out)
{
    int r = bk_buf_put_u8(out, SUM_VERSION);
    if (r == 0)
        r = bk_buf_put_uvarint(out, n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = bk_buf_append(out, v[i].id.b, BK_ID_LEN);
        if (r == 0)
            r = bk_buf_put_svarint(out, v[i].time);
        if (r == 0)
            r = bk_buf_put_uvarint(out, (uint64_t)v[i].nsec);
        if (r == 0)
            r = bk_buf_put_svarint(out, v[i].tz);
        if (r == 0)
            r = bk_buf_put_bytes(out, v[i].host, strlen(v[i].host));
        if (r == 0)
            r = put_strv(out, v[i].paths, v[i].npaths);
        if (r == 0)
            r = put_strv(out, v[i].tags, v[i].ntags);
    }
    return r;
}

static int read_str(bk_reader *rd, char **ret)
{
    const uint8_t *p;
    size_t n;
    if (bk_read_bytes(rd, &p, &n) < 0 || memchr(p, 0, n))
        return -EBADMSG;
    *ret = strndup((const char *)p, n);
    return *ret ? 0 : -ENOMEM;
}

static int read_strv(bk_reader *rd, char ***ret, size_t *ret_n)
{
    uint64_t n;
    if (bk_read_uvarint(rd, &n) < 0 || n > rd->left)
        return -EBADMSG;
    char **v = calloc((size_t)n + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    int r = 0;
    size_t k = 0;
    for (; r == 0 && k < n; k++)
        r = read_str(rd, &v[k]);
    if (r < 0) {
        bk_strv_free(v, k);
        return r;
    }
    *ret = v;
    *ret_n = (size_t)n;
    return 0;
}

static int decode(const uint8_t *p, size_t len, bk_snapsum **ret, size_t *ret_n)
{
    bk_reader rd = bk_reader_make(p, len);
    uint8_t version;
    uint64_t n;
    if (bk_read_u8(&rd, &version) < 0 || version != SUM_VERSION || bk_read_uvarint(&rd, &n) < 0 ||
        n > rd.left / BK_ID_LEN)
        return -EBADMSG;
    bk_snapsum *v = calloc((size_t)n + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    int r = 0;
    size_t k = 0;
    for (; r == 0 && k < n; k++) {
        bk_snapsum *s = &v[k];
        const uint8_t *id;
        int64_t t, tz;
        uint64_t ns;
        if (bk_read_raw(&rd, BK_ID_LEN, &id) < 0 || bk_read_svarint(&rd, &t) < 0 ||
            bk_read_uvarint(&rd, &ns) < 0 || ns >= 1000000000 || bk_read_svarint(&rd, &tz) < 0 ||
            tz < -86400 || tz > 86400) {
            r = -EBADMSG;
            break;
        }
        memcpy(s->id.b, id, BK_ID_LEN);
        s->time = t;
        s->nsec = (int32_t)ns;
        s->tz = (int32_t)tz;
        if ((r = read_str(&rd, &s->host)) < 0 || (r = read_strv(&rd, &s->paths, &s->npaths)) < 0 ||
            (r = read_strv(&rd, &s->tags, &s->ntags)) < 0)
            break;
    }
    if (r == 0 && rd.left != 0)
        r = -EBADMSG;
    if (r < 0) {
        bk_snapsums_free(v, k + 1);
        return r;
    }
    *ret = v;
    *ret_n = (size_t)n;
    return 0;
}

static int load_file(bk_repo *repo, const char *path, bk_snapsum **ret, size_t *ret_n)
{
    uint8_t *box;
    size_t n;
    int r = bk_read_file(path, &box, &n);
    if (r < 0)
        return r;
    uint8_t *plain = malloc(n ? n : 1);
    uint8_t enc;
    size_t len = 0;
    r = plain ? bk_unseal(repo->keys, SUM_KIND, NULL, box, n, plain, &enc, &len) : -ENOMEM;
    if (r == 0 && enc != BK_ENC_RAW)
        r = -EBADMSG;
    if (r == 0)
        r = decode(plain, len, ret, ret_n);
    free(plain);
    free(box);
    return r;
}

static void save_file(bk_repo *repo, const char *path, const bk_snapsum *v, size_t n)
{
    bk_buf plain = BK_BUF_INIT, box = BK_BUF_INIT;
    char *tmp = NULL;
    if (encode(v, n, &plain) == 0 && bk_seal(repo->keys, SUM_KIND, NULL, BK_ENC_RAW, plain.data,
                                             plain.len, &box) == 0 &&
        asprintf(&tmp, "%s.tmp-%08x", path, randombytes_random()) > 0) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        bool ok = fd >= 0 && bk_write_full(fd, box.data, box.len) == 0;
        if (fd >= 0)
            ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) < 0)
            unlink(tmp);   /* only a cache: the next run reads the snapshots again */
    }
    free(tmp);
    bk_buf_free(&plain);
    bk_buf_free(&box);
}

/* ---- the summaries of the repository's snapshots ---------------------------------------- */

struct names {
    bk_id *v;
    size_t n, cap;
    bk_idmap set;
};

static int collect(const char *name, uint64_t size, void *ctx)
{
    struct names *l = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0)
        return 0;   /* not ours */
    int r = bk_idmap_put(&l->set, &id, NULL);
    if (r <= 0)
        return r;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        bk_id *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = id;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const bk_snapsum *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->nsec != y->nsec)
        return x->nsec < y->nsec ? -1 : 1;
    return bk_id_cmp(&x->id, &y->id);
}

int bk_snapsums_get(bk_repo *repo, bk_snapsum **ret, size_t *ret_n)
{
    bk_strv_free(repo->damaged_snapshots, repo->ndamaged_snapshots);
    repo->damaged_snapshots = NULL;
    repo->ndamaged_snapshots = 0;
    struct names l = { 0 };
    bk_idmap_init(&l.set, 0);
    int r = bk_be_list_names(repo->be, BK_OBJ_SNAPSHOT, collect, &l);
    if (r < 0) {
        free(l.v);
        bk_idmap_free(&l.set);
        return bk_repo_error(repo, r, "cannot list snapshots: %s", strerror(-r));
    }
    bk_cache_retain(repo, "snapshots", &l.set);

    /* what the cache knows already: id -> position in old */
    char *path = bk_cache_file(repo, "snapshots.sum");
    bk_snapsum *old = NULL;
    size_t nold = 0;
    if (path && load_file(repo, path, &old, &nold) < 0) {
        old = NULL;
        nold = 0;
    }
    bk_idmap known;
    bk_idmap_init(&known, sizeof(size_t));
    for (size_t i = 0; i < nold; i++) {
        size_t *pos;
        if (bk_idmap_put(&known, &old[i].id, (void **)&pos) == 1)
            *pos = i;
    }
    bk_snapsum *v = calloc(l.n + 1, sizeof(*v));
    size_t n = 0;
    bool changed = nold != l.n;
    if (!v)
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < l.n; i++) {
        size_t *pos = bk_idmap_get(&known, &l.v[i]);
        if (pos && old[*pos].host) {
            v[n++] = old[*pos];
            memset(&old[*pos], 0, sizeof(old[*pos]));   /* moved */
            continue;
        }
        changed = true;
        char hex[BK_ID_HEX];
        bk_id_hex(&l.v[i], hex);
        bk_snapshot *s;
        r = bk_repo_load_snapshot(repo, hex, &s);
        if (r == -ENOENT) {   /* forgotten meanwhile */
            bk_repo_clear_error(repo);
            r = 0;
            continue;
        }
        if (r == -EBADMSG) {
            /* one damaged snapshot must not hide the others */
            bk_repo_log(repo, BK_LOG_WARNING, "%s; it is left out (arca forget %.8s removes it)",
                        bk_repo_errmsg(repo), hex);
            bk_repo_clear_error(repo);
            r = bk_strv_push(&repo->damaged_snapshots, &repo->ndamaged_snapshots, hex);
            continue;
        }
        if (r < 0)
            break;
        r = sum_of(s, &v[n]);
        bk_snapshot_free(s);
        n += r == 0;
    }
    if (r == 0 && n > 1)
        qsort(v, n, sizeof(*v), by_time);
    if (r == 0 && changed && path)
        save_file(repo, path, v, n);
    bk_snapsums_free(old, nold);
    bk_idmap_free(&known);
    free(path);
    free(l.v);
    bk_idmap_free(&l.set);
    if (r < 0) {
        bk_snapsums_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

bool bk_snapsum_match(const bk_snapsum *s, const bk_filter *f)
{
    bk_snapshot shell;
    memset(&shell, 0, sizeof(shell));
    shell.host = s->host;
    shell.paths = s->paths;
    shell.npaths = s->npaths;
    shell.tags = s->tags;
    shell.ntags = s->ntags;
    return bk_snapshot_match(&shell, f);
}

/* ---- the parent hint --------------------------------------------------------------------- */

/* "parents/<hash of host and paths>" in the cache: the id of the snapshot a backup of
 * those paths from that host made last here. */
static int hint_name(const char *host, char *const *paths, size_t npaths, char name[BK_ID_HEX])
{
    bk_buf b = BK_BUF_INIT;
    int r = bk_buf_append(&b, "arca parent\0", 12);
    if (r == 0)
        r = bk_buf_append(&b, host, strlen(host) + 1);
    for (size_t i = 0; r == 0 && i < npaths; i++)
        r = bk_buf_append(&b, paths[i], strlen(paths[i]) + 1);
    if (r == 0) {
        /* a name in the local cache only: BLAKE2b whatever the repository's id function */
        bk_id h;
        bk_hash(b.data, b.len, &h);
        bk_id_hex(&h, name);
    }
    bk_buf_free(&b);
    return r;
}

/* ---- what a backup-only key keeps of its own backups ----------------------------------- */

/* own-parents/NAME: the snapshot's id, a newline, its document. */
static int own_parent_get(bk_repo *repo, const char *name, const bk_id *id, bk_snapshot **ret)
{
    bk_buf b = BK_BUF_INIT;
    int r = bk_cache_get(repo, "own-parents", name, &b);
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    if (r == 0 && (b.len < BK_ID_HEX || memcmp(b.data, hex, BK_ID_HEX - 1) != 0 ||
                   b.data[BK_ID_HEX - 1] != '\n'))
        r = -EBADMSG;
    if (r == 0)
        r = bk_snapshot_decode(b.data + BK_ID_HEX, b.len - BK_ID_HEX, ret);
    bk_buf_free(&b);
    if (r == 0)
        (*ret)->id = *id;
    return r;
}

void bk_own_parent_set(bk_repo *repo, const bk_snapshot *s)
{
    char name[BK_ID_HEX], hex[BK_ID_HEX];
    if (hint_name(s->host, s->paths, s->npaths, name) < 0)
        return;
    bk_buf b = BK_BUF_INIT;
    bk_id_hex(&s->id, hex);
    if (bk_buf_append(&b, hex, BK_ID_HEX - 1) == 0 && bk_buf_put_u8(&b, '\n') == 0 &&
        bk_snapshot_encode(s, &b) == 0)
        bk_cache_put(repo, "own-parents", name, b.data, b.len);
    bk_buf_free(&b);
    bk_parent_hint_set(repo, s->host, s->paths, s->npaths, &s->id);
}

void bk_own_tree_put(bk_repo *repo, const bk_id *id, const void *p, size_t n)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    /* named by its content: one that is there (every unchanged directory) is kept, unless
     * its size says it is damaged (other damage: bk_own_tree_get drops it) */
    if (!bk_cache_has(repo, "own-trees", hex, n))
        bk_cache_put(repo, "own-trees", hex, p, n);
}

int bk_own_tree_get(bk_repo *repo, const bk_id *id, uint8_t **ret, size_t *ret_len)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    bk_buf b = BK_BUF_INIT;
    int r = bk_cache_get(repo, "own-trees", hex, &b);
    bk_id got;
    if (r == 0 && (r = bk_blob_id(repo->keys, b.data, b.len, &got)) == 0 && bk_id_cmp(&got, id) != 0) {
        bk_cache_drop(repo, "own-trees", hex);   /* damaged: the next backup writes it again */
        r = -ENOENT;   /* as if it were not there (the files are read again) */
    }
    if (r < 0) {
        bk_buf_free(&b);
        return r;
    }
    *ret = b.data;
    *ret_len = b.len;
    return 0;
}

/* The ids of the own trees (and lists) that tree id reaches, into keep. */
static void own_reach(bk_repo *repo, const bk_id *id, bk_idmap *keep, unsigned depth)
{
    if (depth > 4096 || bk_idmap_get(keep, id) || bk_idmap_put(keep, id, NULL) < 0)
        return;
    uint8_t *p;
    size_t n;
    bk_tree t;
    if (bk_own_tree_get(repo, id, &p, &n) < 0)
        return;
    int r = bk_tree_decode(p, n, &t);
    free(p);
    if (r < 0)
        return;
    for (size_t i = 0; i < t.n; i++) {
        if (t.nodes[i].type == BK_NODE_DIR)
            own_reach(repo, &t.nodes[i].subtree, keep, depth + 1);
        for (size_t l = 0; l < t.nodes[i].nlists; l++)
            bk_idmap_put(keep, &t.nodes[i].lists[l].id, NULL);
    }
    bk_tree_free(&t);
}

struct own_keep {
    bk_repo *repo;
    bk_idmap keep;
};

static void keep_parent(const char *name, void *ctx)
{
    struct own_keep *k = ctx;
    bk_buf b = BK_BUF_INIT;
    bk_snapshot *s;
    bk_id id;
    if (bk_cache_get(k->repo, "own-parents", name, &b) == 0 && b.len > BK_ID_HEX &&
        bk_snapshot_decode(b.data + BK_ID_HEX, b.len - BK_ID_HEX, &s) == 0) {
        id = s->tree;
        bk_snapshot_free(s);
        own_reach(k->repo, &id, &k->keep, 0);
    }
    bk_buf_free(&b);
}

void bk_own_trees_retain(bk_repo *repo)
{
    /* what the recorded snapshots of every host and set of paths reach */
    struct own_keep k = { .repo = repo };
    bk_idmap_init(&k.keep, 0);
    bk_cache_each(repo, "own-parents", keep_parent, &k);
    if (k.keep.count > 0)
        bk_cache_retain(repo, "own-trees", &k.keep);
    bk_idmap_free(&k.keep);
}

int bk_parent_hint_get(bk_repo *repo, const char *host, char *const *paths, size_t npaths,
                       bk_snapshot **ret)
{
    *ret = NULL;
    char name[BK_ID_HEX], hex[BK_ID_HEX];
    bk_buf b = BK_BUF_INIT;
    bk_id id;
    bool have = hint_name(host, paths, npaths, name) == 0 &&
                bk_cache_get(repo, "parents", name, &b) == 0 && b.len == BK_ID_HEX - 1;
    if (have) {
        memcpy(hex, b.data, BK_ID_HEX - 1);
        hex[BK_ID_HEX - 1] = 0;
        have = bk_id_parse(hex, &id) == 0;
    }
    bk_buf_free(&b);
    /* still in the repository (a copy in the cache outlives a forget), and what it says */
    uint64_t size;
    if (!have || bk_be_stat(repo->be, BK_OBJ_SNAPSHOT, hex, &size) < 0)
        return 0;
    bk_snapshot *s;
    int r = repo->keys->backup_only ? own_parent_get(repo, name, &id, &s)
                                    : bk_repo_load_snapshot(repo, hex, &s);
    if (r == -ENOMEM || r == -EINTR)
        return r;
    if (r < 0) {
        bk_repo_clear_error(repo);   /* damaged: the listing decides */
        return 0;
    }
    if (strcmp(s->host ? s->host : "", host) != 0 || !bk_strv_eq(s->paths, s->npaths, paths, npaths)) {
        bk_snapshot_free(s);
        return 0;
    }
    *ret = s;
    return 0;
}

void bk_parent_hint_set(bk_repo *repo, const char *host, char *const *paths, size_t npaths,
                        const bk_id *snap)
{
    char name[BK_ID_HEX], hex[BK_ID_HEX];
    if (hint_name(host, paths, npaths, name) < 0)
        return;
    bk_id_hex(snap, hex);
    bk_cache_put(repo, "parents", name, hex, BK_ID_HEX - 1);
}
