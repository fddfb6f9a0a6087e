/* indexload.c - the blob index of a run: the mapped file in the local cache (imap.h), made
 * from the repository's index objects once and then brought up to date with only the
 * index objects that are new since; what has come since is kept in RAM until there is
 * enough of it to make the file again.  Without a cache the file is made in a temporary
 * directory for the run, so that memory stays bounded either way (docs/scale.md). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cache.h"
#include "imap.h"
#include "repo.h"
#include "util.h"

/* The RAM part may grow to an eighth of the map's entries, at least RAM_ENTRIES_MIN and at
 * most RAM_ENTRIES_MAX (16 MiB), before the map is made again; index objects gone (prune)
 * may leave at most a quarter of its packs dead. */
#define RAM_ENTRIES_MIN (1u << 16)
#define RAM_ENTRIES_MAX (1u << 18)
/* An entry takes at least this much of an index object (a 32-byte id, a kind, three
 * uvarints, what compression can take off them): the size of new objects bounds their entries
 * before they are read. */
#define INDEX_ENTRY_MIN_BYTES 34

typedef struct listing {
    bk_id *ids;
    uint64_t *sizes;             /* as listed; 0 if the store does not say */
    size_t n, cap;
    bk_idmap set;                /* id -> position in ids */
} listing;

static int list_one(const char *name, uint64_t size, void *ctx)
{
    listing *l = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0)
        return 0;
    size_t *pos;
    int r = bk_idmap_put(&l->set, &id, (void **)&pos);
    if (r <= 0)
        return r;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        bk_id *v = realloc(l->ids, cap * sizeof(*v));
        if (v)
            l->ids = v;
        uint64_t *sz = v ? realloc(l->sizes, cap * sizeof(*sz)) : NULL;
        if (!sz)
            return -ENOMEM;
        l->sizes = sz;
        l->cap = cap;
    }
    *pos = l->n;
    l->sizes[l->n] = size;
    l->ids[l->n++] = id;
    return 0;
}

static void listing_free(listing *l)
{
    free(l->ids);
    free(l->sizes);
    bk_idmap_free(&l->set);
}

/* ---- reading index objects into the builder or the RAM part --------------------------- */

struct feed {
    bk_imap_builder *b;
    const bk_imap *old;          /* remaking a damaged map: its pack numbers must stay */
    const bk_imap_object *obj;
    uint32_t k;                  /* packs of obj seen */
};

static int feed_pack(const bk_id *pack, size_t nblobs, void *ctx)
{
    struct feed *f = ctx;
    /* an object is immutable (its name is the hash of its bytes): it lists the same packs
     * in the same order as when the map was made, so they get the same numbers */
    if (f->old && f->k >= f->obj->npacks)
        return -EBADMSG;   /* the object does not say what the map says it did */
    f->k++;
    return bk_imap_builder_pack(f->b, pack);
}

static int feed_blob(const bk_pack_entry *e, void *ctx)
{
    struct feed *f = ctx;
    return bk_imap_builder_blob(f->b, e);
}

/* Load one index object (the cache's copy when there is one) and hand it to fn. */
static int with_object(bk_repo *repo, const bk_id *id, int (*fn)(bk_repo *, const uint8_t *, size_t,
                                                                 void *), void *ctx)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    uint8_t *plain;
    size_t len;
    int r = bk_repo_load_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, hex, &plain, &len);
    if (r == -ENOENT) {
        bk_repo_clear_error(repo);   /* removed by a concurrent prune: superseded */
        return 1;
    }
    if (r < 0)
        return r;
    r = fn(repo, plain, len, ctx);
    free(plain);
    if (r < 0 && r != -ENOMEM)
        return bk_repo_error(repo, r, "index/%s is malformed", hex);
    return r;
}

static int to_builder(bk_repo *repo, const uint8_t *p, size_t n, void *ctx)
{
    bk_index_visitor v = { NULL, feed_pack, feed_blob, ctx };
    return bk_index_obj_parse(p, n, &v);
}

static int to_ram(bk_repo *repo, const uint8_t *p, size_t n, void *ctx)
{
    int r = bk_index_merge_plain(&repo->index, p, n);
    if (r == 0 && ctx && bk_idmap_put(&repo->index.objects, ctx, NULL) < 0)
        r = -ENOMEM;
    return r;
}

/* Note what the map covers, for refreshes. */
static int note_covered(bk_index *idx)
{
    for (uint32_t i = 0; idx->map && i < idx->map->nobjects; i++)
        if (bk_idmap_put(&idx->objects, &idx->map->objects[i].id, NULL) < 0)
            return -ENOMEM;
    return 0;
}

static int open_map(const char *path, bk_imap **ret)
{
    bk_imap *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    int r = bk_imap_open(path, m);
    if (r < 0) {
        free(m);
        return r;
    }
    *ret = m;
    return 0;
}

/* Make the map at path from the index objects of l; *ret gets it opened. */
static int build(bk_repo *repo, const char *path, const listing *l, bk_imap **ret)
{
    bk_imap_builder *b;
    int r = bk_imap_builder_new(path, &b);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot make the index file %s: %s", path, strerror(-r));
    struct feed f = { b, NULL, NULL, 0 };
    for (size_t i = 0; r == 0 && i < l->n; i++) {
        if ((r = bk_repo_check_interrupt(repo)) < 0)
            break;
        r = bk_imap_builder_object(b, &l->ids[i]);
        if (r == 0)
            r = with_object(repo, &l->ids[i], to_builder, &f);
        r = r < 0 ? r : 0;
    }
    bk_imap *m = r == 0 ? calloc(1, sizeof(*m)) : NULL;
    if (r == 0 && !m)
        r = -ENOMEM;
    if (r == 0 && (r = bk_imap_builder_finish(b, m)) < 0)
        bk_repo_error(repo, r, "cannot write the index file %s: %s", path, strerror(-r));
    bk_imap_builder_free(b);
    if (r < 0) {
        free(m);
        return r;
    }
    *ret = m;
    return 0;
}

/* ---- a damaged map, found in the middle of a run ------------------------------------------ */

struct remap_ctx {
    bk_repo *repo;
    char *path;
    bool tried;
};

/* Make the map again with the same pack numbers (the same objects in the same order, the
 * packs of objects that are gone copied from the old pack table, where its block checksums
 * vouch for them): numbers handed out before stay right.  If they cannot (that part of the
 * table is damaged too), the file is removed, so that the next run makes a new one. */
static int remap(bk_index *idx, void *ctx)
{
    struct remap_ctx *rc = ctx;
    bk_repo *repo = rc->repo;
    if (rc->tried)
        return -EBADMSG;
    rc->tried = true;
    bk_imap *old = idx->map;
    bk_repo_log(repo, BK_LOG_WARNING, "the local index file %s is damaged: making it again", rc->path);
    bk_imap_builder *b;
    int r = bk_imap_builder_new(rc->path, &b);
    struct feed f = { b, old, NULL, 0 };
    for (uint32_t i = 0; r == 0 && i < old->nobjects; i++) {
        const bk_imap_object *o = &old->objects[i];
        f.obj = o;
        f.k = 0;
        r = bk_imap_builder_object(b, &o->id);
        int got = r == 0 ? with_object(repo, &o->id, to_builder, &f) : r;
        if (got < 0)
            r = got;
        else if (got == 1)   /* gone: its packs, numbered as they were */
            for (uint32_t k = f.k; r == 0 && k < o->npacks; k++) {
                r = bk_imap_check_packs(old, o->first_pack + k, o->first_pack + k + 1);
                if (r == 0)
                    r = bk_imap_builder_pack(b, &old->packs[o->first_pack + k]);
            }
        else if (f.k != o->npacks)
            r = -EBADMSG;
    }
    bk_imap *m = r == 0 ? calloc(1, sizeof(*m)) : NULL;
    if (r == 0 && !m)
        r = -ENOMEM;
    if (r == 0)
        r = bk_imap_builder_finish(b, m);   /* opened before another process can replace it */
    bk_imap_builder_free(b);
    if (r < 0) {
        free(m);
        bk_repo_clear_error(repo);
        if (r == -EBADMSG)
            unlink(rc->path);
        return r;
    }
    uint8_t *dead = NULL;
    if (idx->dead && (dead = malloc(old->npacks / 8 + 1)))
        memcpy(dead, idx->dead, old->npacks / 8 + 1);
    bk_index_set_map(idx, m, dead);
    return 0;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Is the map fit for this listing: *ret_dead gets the packs of covered objects that are
 * gone (NULL if none); false if too much has changed to bring it up to date cheaply. */
/* A covered object that the listing does not have was removed (prune) -- or written after
 * the listing, by a process that then made the map again: it is there when asked. */
static bool gone(bk_repo *repo, const bk_imap_object *o, const listing *l)
{
    if (bk_idmap_get(&l->set, &o->id))
        return false;
    char hex[BK_ID_HEX];
    uint64_t size;
    bk_id_hex(&o->id, hex);
    return bk_be_stat(repo->be, BK_OBJ_INDEX, hex, &size) == -ENOENT;
}

static bool fits(bk_repo *repo, const bk_imap *m, const listing *l, uint8_t **ret_dead,
                 size_t **ret_fresh, size_t *ret_nfresh)
{
    *ret_dead = NULL;
    bk_idmap mine;
    bk_idmap_init(&mine, 0);
    uint8_t *dead = calloc(m->npacks / 8 + 1, 1);
    uint8_t *live = calloc(m->nobjects / 8 + 1, 1);
    bool ok = dead && live;
    uint64_t ndead = 0;
    for (uint32_t i = 0; ok && i < m->nobjects; i++) {
        const bk_imap_object *o = &m->objects[i];
        ok = bk_idmap_put(&mine, &o->id, NULL) >= 0;
        if (!gone(repo, o, l)) {
            live[i / 8] |= (uint8_t)(1u << (i % 8));
            continue;
        }
        for (uint32_t k = 0; k < o->npacks; k++)
            dead[(o->first_pack + k) / 8] |= (uint8_t)(1u << ((o->first_pack + k) % 8));
    }
    /* a pack listed by a live object too is not dead */
    for (uint32_t i = 0; ok && i < m->nobjects; i++) {
        const bk_imap_object *o = &m->objects[i];
        if (!(live[i / 8] >> (i % 8) & 1))
            continue;
        for (uint32_t k = 0; k < o->npacks; k++)
            dead[(o->first_pack + k) / 8] &= (uint8_t)~(1u << ((o->first_pack + k) % 8));
    }
    for (uint32_t p = 0; ok && p < m->npacks; p++)
        ndead += dead[p / 8] >> (p % 8) & 1;
    free(live);
    size_t nfresh = 0, *fresh = ok ? malloc((l->n + 1) * sizeof(*fresh)) : NULL;
    ok = ok && fresh;
    for (size_t i = 0; ok && i < l->n; i++)
        if (!bk_idmap_get(&mine, &l->ids[i]))
            fresh[nfresh++] = i;
    bk_idmap_free(&mine);
    ok = ok && ndead * 4 <= m->npacks && nfresh <= BK_MAX((size_t)64, (size_t)m->nobjects / 4);
    if (ok && ndead)
        *ret_dead = dead;
    else
        free(dead);
    if (ok) {
        *ret_fresh = fresh;
        *ret_nfresh = nfresh;
    } else {
        free(fresh);
    }
    return ok;
}

/* A directory of its own in $TMPDIR for a map of this run only: *ret_path is its file. */
static int temp_map(bk_repo *repo, char **ret_dir, char **ret_path)
{
    const char *t = getenv("TMPDIR");
    char *dir = NULL;
    if (asprintf(&dir, "%s/arca-index-XXXXXX", t && *t ? t : "/tmp") < 0) {
        return bk_repo_error(repo, -ENOMEM, "out of memory");
    }
    if (!mkdtemp(dir)) {
        int e = -errno;
        bk_repo_error(repo, e, "cannot make a temporary directory for the index (%s): %s", dir,
                      strerror(-e));
        free(dir);
        return e;
    }
    if (asprintf(ret_path, "%s/index.map", dir) < 0) {
        rmdir(dir);
        free(dir);
        return bk_repo_error(repo, -ENOMEM, "out of memory");
    }
    *ret_dir = dir;
    return 0;
}

/* Errors of the cache's file system, after which a map of this run only may do */
static bool cache_unwritable(int r)
{
    return r == -EACCES || r == -EPERM || r == -EROFS || r == -ENOSPC || r == -EDQUOT;
}

static int load(bk_repo *repo, bool full)
{
    listing l = { 0 };
    bk_idmap_init(&l.set, sizeof(size_t));
    int r = bk_be_list(repo->be, BK_OBJ_INDEX, list_one, &l);
    if (r < 0) {
        listing_free(&l);
        return bk_repo_error(repo, r, "cannot list the index: %s", strerror(-r));
    }
    bk_cache_retain(repo, "index", &l.set);

    /* the map: the cache's, or one for this run only */
    char *path = bk_cache_file(repo, "index.map"), *tmpdir = NULL;
    if (!path && (r = temp_map(repo, &tmpdir, &path)) < 0) {
        listing_free(&l);
        return r;
    }
    bk_repo_index_reset(repo);
    bool ready = false;
    bk_imap *m;
    int o = path && !tmpdir ? open_map(path, &m) : -ENOENT;
    if (o == -EBADMSG)
        bk_repo_log(repo, BK_LOG_WARNING, "the local index file %s is damaged: making it again", path);
    if (o == 0) {
        uint8_t *dead = NULL;
        size_t *fresh = NULL, nfresh = 0;
        bool usable = fits(repo, m, &l, &dead, &fresh, &nfresh);
        if (usable && full && (nfresh || dead)) {
            usable = false;   /* a full load wants the map exact */
            free(dead);
            free(fresh);
        }
        uint64_t limit = BK_MIN(BK_MAX((uint64_t)RAM_ENTRIES_MIN, m->n / 8), (uint64_t)RAM_ENTRIES_MAX);
        if (usable) {
            /* new objects that would not fit in RAM (by their size) are not read twice */
            uint64_t bytes = 0;
            for (size_t i = 0; i < nfresh; i++)
                bytes += l.sizes[fresh[i]];
            if (bytes / INDEX_ENTRY_MIN_BYTES > limit) {
                usable = false;
                free(dead);
                free(fresh);
            }
        }
        if (usable) {
            /* up to date but for the index objects that are new since: those into RAM */
            bk_index_set_map(&repo->index, m, dead);
            r = note_covered(&repo->index);
            size_t read = 0;
            for (; r == 0 && read < nfresh && repo->index.blobs.count <= limit; read++) {
                r = with_object(repo, &l.ids[fresh[read]], to_ram, &l.ids[fresh[read]]);
                r = r < 0 ? r : 0;
            }
            free(fresh);
            if (read)
                bk_repo_log(repo, BK_LOG_DEBUG, "index: %zu new index %s read into memory",
                            read, bk_plural(read, "object", "objects"));
            ready = r == 0 && repo->index.blobs.count <= limit;
            if (!ready)
                bk_repo_index_reset(repo);   /* too much in RAM: make the map again */
        } else {
            bk_imap_close(m);
            free(m);
        }
    }
    if (r == 0 && !ready) {
        /* (re)make it from every index object: one streamed read, bounded memory */
        bk_imap *nm = NULL;
        bk_repo_log(repo, BK_LOG_DEBUG, "index: making the index file from %zu index %s", l.n,
                    bk_plural(l.n, "object", "objects"));
        r = build(repo, path, &l, &nm);
        if (cache_unwritable(r) && !tmpdir) {
            /* a cache this user may not write (or a full disk) costs speed, not the run */
            bk_repo_log(repo, BK_LOG_WARNING, "%s: using a temporary index file instead",
                        bk_repo_errmsg(repo));
            free(path);
            path = NULL;
            r = temp_map(repo, &tmpdir, &path);
            if (r == 0)
                r = build(repo, path, &l, &nm);
        }
        if (r == 0) {
            bk_index_set_map(&repo->index, nm, NULL);
            r = note_covered(&repo->index);
        }
    }
    if (tmpdir) {
        if (path)
            unlink(path);   /* mapped: it stays while the run needs it */
        rmdir(tmpdir);
        free(tmpdir);
    } else if (r == 0) {
        struct remap_ctx *rc = calloc(1, sizeof(*rc));
        if (rc) {
            rc->repo = repo;
            rc->path = path;
            path = NULL;
            repo->index.remap = remap;
            repo->index.remap_ctx = rc;
            repo->remap_ctx = rc;
        }
    }
    free(path);
    listing_free(&l);
    if (r < 0) {
        bk_repo_index_reset(repo);
        return r;
    }
    repo->index_loaded = true;
    return 0;
}

int bk_repo_load_index(bk_repo *repo)
{
    return repo->index_loaded ? 0 : load(repo, false);
}

int bk_repo_load_index_full(bk_repo *repo)
{
    /* always read again: the caller has listed snapshots, whose index objects must be in */
    bk_repo_index_reset(repo);
    return load(repo, true);
}

struct refresh {
    bk_repo *repo;
    size_t fresh;
};

static int refresh_one(const char *name, uint64_t size, void *ctx)
{
    struct refresh *rf = ctx;
    bk_id id;
    if (bk_id_parse(name, &id) < 0 || bk_idmap_get(&rf->repo->index.objects, &id))
        return 0;
    int r = with_object(rf->repo, &id, to_ram, &id);
    rf->fresh += r == 0;
    return r < 0 ? r : 0;
}

int bk_repo_index_refresh(bk_repo *repo, size_t *ret_new)
{
    int r = bk_repo_load_index(repo);
    struct refresh rf = { repo, 0 };
    if (r == 0)
        r = bk_be_list(repo->be, BK_OBJ_INDEX, refresh_one, &rf);
    if (ret_new)
        *ret_new = rf.fresh;
    return r;
}

void bk_repo_index_reset(bk_repo *repo)
{
    bk_index_free(&repo->index);
    bk_index_init(&repo->index);
    repo->index_loaded = false;
    struct remap_ctx *rc = repo->remap_ctx;
    if (rc) {
        free(rc->path);
        free(rc);
        repo->remap_ctx = NULL;
    }
}
