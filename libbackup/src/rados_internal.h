/* rados_internal.h - what the parts of the RADOS backend share: the handle, object names,
 * the retry and fail-fast rules, and each part's entry points.
 *
 *   backend_rados.c  connection, timeouts, cluster limits, the fail-fast gate, open/close
 *   rados_io.c       object I/O: get, stat, put (synchronous and asynchronous), remove, scan
 *   rados_catalog.c  catalogs: sharded omap listings of every object type, in generations
 *   rados_intent.c   intents (catalog.pending) and the strays they point at
 *   rados_rebuild.c  what is done from a scan of the pool: lost catalogs rebuilt, orphans,
 *                    the move from catalog layout 1; the catalogs of a new repository
 *   rados_lock.c     the repository lock with its gate, the prune lock, the fence (cls lock),
 *                    their renewal, breaking the locks of dead (or, forced, blocklisted) holders */
#ifndef BK_RADOS_INTERNAL_H
#define BK_RADOS_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include <rados/librados.h>

#include "backend.h"
#include "util.h"

#define DEFAULT_TIMEOUT 30          /* seconds */
#define DEFAULT_INFLIGHT 8
#define DEFAULT_LOCK_DURATION 30    /* seconds; ARCA_RADOS_LOCK_DURATION overrides */
#define LOCK_OBJ "lock"
#define REPO_LOCK_NAME "arca-repo"     /* the repository lock (shared or exclusive) */
#define GATE_LOCK_NAME "arca-gate"     /* held by an exclusive taker while it waits */
#define PRUNE_LOCK_NAME "arca-prune"
#define FENCE_LOCK_NAME "arca"         /* layout 1's repository lock: the fence in layout 2 */
#define LOCK_TAG "arca"
/* What an older arca shows for the fence ("... is locked: <text after the first space>") */
#define FENCE_COOKIE "fence this repository has catalog layout 2 (docs/ceph.md): it needs a newer arca"
#define DATA_POOL_XATTR "arca.data_pool"
#define CATALOG_PREFIX "catalog."
#define PENDING_OID "catalog.pending"  /* intents: objects being written or removed */
#define GEN_XATTR "arca.generation"    /* on a catalog's generation-0 shard */
#define GEN_MAX 4                      /* 16^4 shards in the last generation */
#define DEFAULT_SHARD_SPLIT 100000     /* entries per shard that start the next generation */
#define OID_MAX 320
#define READ_CHUNK ((size_t)32 << 20)
#define MAX_ATTEMPTS 3
#define STAT_BATCH 256              /* aio stats in flight while scanning */
#define OMAP_PAGE 1000
#define OMAP_WRITE_BATCH 1000
/* A full pool makes librados hold writes until the timeout: fail them with -ENOSPC instead;
 * removals go through (they are what frees space: prune). */
#define PUT_FLAGS LIBRADOS_OPERATION_FULL_TRY
#define REMOVE_FLAGS LIBRADOS_OPERATION_FULL_FORCE

/* A cls_lock lock on the lock object that this handle may hold. */
typedef struct held_lock {
    const char *name;               /* REPO_LOCK_NAME, GATE_LOCK_NAME or PRUNE_LOCK_NAME */
    bool held, exclusive, lost;     /* (under lock_mu) */
    double renewed;                 /* monotonic time the last successful (re)lock was sent */
    char *cookie;                   /* "<random hex> <info>": list_lockers shows cookies */
    char *desc;
} held_lock;

struct aput;

typedef struct rados_be {
    bk_backend base;
    rados_t cluster;
    rados_ioctx_t io;               /* main pool + namespace */
    rados_ioctx_t data_io;          /* data pool + namespace, or io */
    char *data_pool;                /* NULL: data in the main pool */
    int timeout;                    /* seconds */
    double stalled_since;           /* monotonic time of the last timeout, 0 = healthy (mu) */
    uint64_t max_object;            /* osd_max_object_size */
    uint64_t max_write;             /* osd_max_write_size, bytes */
    uint64_t data_align;            /* append alignment of the data pool (EC), 0 = none */

    /* asynchronous puts; and, under mu too, the catalogs' state below */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int window, inflight;
    struct aput *deferred;          /* puts whose catalog entry the caller's thread adds */

    /* catalogs (under mu) */
    int gen[BK_OBJ_TYPE_COUNT];     /* current generation of each catalog, -1: not read yet */
    uint64_t shard_split;           /* ARCA_RADOS_SHARD_SPLIT */
    char nonce[17];                 /* this handle's part of its intents' keys */
    uint64_t intent_seq;
    char **resolved;                /* keys of intents whose operation is over, to remove */
    size_t nresolved, resolved_cap;
    uint64_t scans;                 /* scans of the pool (bk_rados_scan) */
    bool layout_ok;                 /* catalog layout 2 seen or made (under the lock calls) */

    /* the repository lock, its gate and the prune lock, renewed by one thread while held */
    pthread_mutex_t lock_mu;
    pthread_cond_t lock_cond;       /* CLOCK_MONOTONIC */
    pthread_t renew_thread;
    bool renewing, renew_stop;
    int lock_duration;              /* seconds */
    held_lock repo_lock, gate_lock, prune_lock;
} rados_be;

static inline rados_be *downcast(bk_backend *be)
{
    return (rados_be *)be;
}

/* ---- names ------------------------------------------------------------------------------- */

static inline bool has_catalog(bk_obj_type t)
{
    return t == BK_OBJ_KEY || t == BK_OBJ_DATA || t == BK_OBJ_INDEX || t == BK_OBJ_SNAPSHOT;
}

static inline int oid_of(bk_obj_type t, const char *name, char *out, size_t n)
{
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return -EINVAL;
    int k;
    if (t == BK_OBJ_CONFIG)
        k = snprintf(out, n, "config");
    else if (t == BK_OBJ_DATA || t == BK_OBJ_STATUS || has_catalog(t))
        k = snprintf(out, n, "%s/%s", bk_obj_type_name(t), name);
    else
        return -EINVAL;
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static inline rados_ioctx_t io_for(rados_be *b, bk_obj_type t)
{
    return t == BK_OBJ_DATA ? b->data_io : b->io;
}

/* ---- retries and the fail-fast gate (backend_rados.c) ----------------------------------- */

/* After a failed attempt: pause and return true if another attempt fits before deadline. */
bool bk_rados_may_retry(int r, double deadline, int *attempt);
double bk_rados_deadline(rados_be *b);
/* -ETIMEDOUT once an operation of this handle timed out, else 0. */
int bk_rados_gate(rados_be *b);
/* Record what the cluster's answer r says about it; returns r. */
int bk_rados_note(rados_be *b, int r);

/* ---- object I/O (rados_io.c) --------------------------------------------------------------- */

typedef int (*scan_fn)(const char *oid, uint64_t size, void *ctx);

/* Every object of the namespace of io whose name starts with prefix (NULL: every object): a
 * walk through the whole pool, counted in b->scans. */
int bk_rados_scan(rados_be *b, rados_ioctx_t io, const char *prefix, scan_fn fn, void *ctx);
int bk_rados_remove_object(rados_ioctx_t io, const char *oid);
int bk_rados_get(bk_backend *be, bk_obj_type t, const char *name, uint64_t off, size_t len,
                 bk_buf *out);
int bk_rados_stat(bk_backend *be, bk_obj_type t, const char *name, uint64_t *ret);
int bk_rados_put(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n);
int bk_rados_put_async(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n,
                       bk_put_done_fn done, void *ctx);
int bk_rados_flush(bk_backend *be);
int bk_rados_remove(bk_backend *be, bk_obj_type t, const char *name);

/* ---- catalogs (rados_catalog.c) -------------------------------------------------------------- */

/* Add the entry of an object just written (rebuilding a lost catalog from a scan), or remove
 * the entry of an object about to be removed (-ENOENT: none, which is fine). */
int bk_rados_catalog_add(rados_be *b, bk_obj_type t, const char *name, uint64_t size,
                         double deadline);
int bk_rados_catalog_remove(rados_be *b, bk_obj_type t, const char *name, double deadline);
/* The write op that adds the entry (for an asynchronous put), on the shard named in oid; NULL
 * when out of memory or when the catalog's generation is not known yet. */
rados_write_op_t bk_rados_catalog_add_op(rados_be *b, bk_obj_type t, const char *name,
                                         uint64_t size, char oid[OID_MAX]);
/* Before writing many objects of type t asynchronously: read what the adds need (the
 * catalog's generation), and see whether the shard of name is full. */
int bk_rados_catalog_prepare(rados_be *b, bk_obj_type t, const char *name);

/* Intents: before an object of a catalogued type is written or removed, a key naming it goes
 * into PENDING_OID; once the operation is over (entry added, or object removed) the key is
 * dropped (in batches).  A key left by a crash names an object that may be out of its
 * catalog: remove_strays deals with it under the exclusive lock. */
int bk_rados_intent_add(rados_be *b, bk_obj_type t, const char *name, bool removal,
                        double deadline, char key[OID_MAX]);
rados_write_op_t bk_rados_intent_add_op(rados_be *b, bk_obj_type t, const char *name,
                                        char key[OID_MAX]);
void bk_rados_intent_done(rados_be *b, const char *key);
int bk_rados_intents_flush(rados_be *b);
/* The same, once a batch has gathered (from the caller's thread only). */
void bk_rados_intents_flush_some(rados_be *b);

/* Catalogs of a new repository (init): empty, stale ones of an earlier repository dropped. */
int bk_rados_catalogs_init(rados_be *b);
/* Layout 1 to 2 (the caller holds the exclusive lock and the fence): the pack catalog from a
 * scan, index objects and snapshots out of their catalogs marked as strays. */
int bk_rados_migrate(rados_be *b);
/* Does the pack catalog exist (layout 2)? */
int bk_rados_layout2(rados_be *b, bool *ret);
int bk_rados_list(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx);
int bk_rados_rebuild_catalogs(bk_backend *be);
int bk_rados_remove_strays(bk_backend *be, size_t *ret_removed);
int bk_rados_scan_orphans(bk_backend *be, bk_list_fn fn, void *ctx);

/* ---- inside the catalogs (rados_catalog.c, rados_intent.c, rados_rebuild.c) ---------------- */

struct entry {
    char *name;
    uint64_t size;
    int gen;                        /* the generation whose shard holds it */
};

struct entries {
    struct entry *v;
    size_t n, cap;
};

int bk_rados_entries_push(struct entries *e, const char *name, uint64_t size, int gen);
void bk_rados_entries_free(struct entries *e);
void bk_rados_entries_sort(struct entries *e);
struct entry *bk_rados_entries_find(const struct entries *e, const char *name);   /* sorted e */

/* Shard names: generation 0 is catalog.<type>, generation g catalog.<type>.<g hex digits>. */
void bk_rados_shard_name(bk_obj_type t, int g, const char *prefix, char *out, size_t n);
void bk_rados_shard_for(bk_obj_type t, int g, const char *name, char *out, size_t n);
void bk_rados_shard_nth(bk_obj_type t, int g, unsigned k, char *out, size_t n);
unsigned bk_rados_shards_in(int g);
/* The current generation of catalog t (read now); *ret_missing: no generation-0 shard. */
int bk_rados_gen_read(rados_be *b, bk_obj_type t, int *ret, bool *ret_missing);
void bk_rados_gen_forget(rados_be *b, bk_obj_type t);
/* Stat (or create) every shard of generations g0..g1; *ret_all: all of them exist. */
int bk_rados_shards_do(rados_be *b, bk_obj_type t, int g0, int g1, bool create, bool *ret_all);
int bk_rados_shard_write(rados_be *b, const char *oid, bool create, struct entry *set, size_t nset,
                         char **rm, size_t nrm, bool clear);
typedef int (*entry_fn)(const char *name, uint64_t size, int gen, void *ctx);
int bk_rados_shard_read(rados_be *b, const char *oid, int gen, entry_fn fn, void *ctx,
                        bool *ret_missing);
/* The whole catalog t, sorted; *ret_missing: a shard of it is missing. */
int bk_rados_catalog_read(rados_be *b, bk_obj_type t, struct entries *ret, bool *ret_missing);
int bk_rados_catalog_has(rados_be *b, bk_obj_type t, const char *name, bool *ret, bool *ret_lost);
int bk_rados_catalog_grow(rados_be *b, bk_obj_type t, int from);

struct bk_rados_scan_all_s {
    struct entries found[BK_OBJ_TYPE_COUNT];
    bool data_elsewhere;            /* data/ objects are in the data pool, scanned apart */
};
/* Every catalogued object (only < 0) or those of type only, sorted per type. */
int bk_rados_scan_all(rados_be *b, int only, struct bk_rados_scan_all_s *s);
void bk_rados_scan_all_free(struct bk_rados_scan_all_s *s);
/* Make catalog t list exactly found (sorted); rebuild catalog only (< 0: all) from a scan. */
int bk_rados_catalog_sync(rados_be *b, bk_obj_type t, struct entries *found);
int bk_rados_rebuild(rados_be *b, int only);

struct pending {
    char **keys;
    size_t n, cap;
};
int bk_rados_pending_read(rados_be *b, struct pending *p);
void bk_rados_pending_free(struct pending *p);
/* "type/name nonce.seq" -> type and name; false if it names nothing catalogued. */
bool bk_rados_intent_parse(const char *key, bk_obj_type *ret_t, char name[OID_MAX]);

/* ---- locks (rados_lock.c) ------------------------------------------------------------------- */

int bk_rados_lock_duration(void);
/* 0 if l is not held or still ours (renewing it now if renewals are late), -ENOLCK if lost. */
int bk_rados_lock_check(rados_be *b, held_lock *l);
/* Before a write (removal false) or a removal of an object of type t. */
int bk_rados_lock_guard(rados_be *b, bk_obj_type t, bool removal);
int bk_rados_lock_release(rados_be *b, held_lock *l);
int bk_rados_lock(bk_backend *be, bool exclusive, const char *info);
int bk_rados_unlock(bk_backend *be);
int bk_rados_lock_prune(bk_backend *be, bool acquire);
int bk_rados_lock_holders(bk_backend *be, bk_buf *out);
int bk_rados_clean_locks(bk_backend *be, size_t *ret_removed);
int bk_rados_break_locks(bk_backend *be, size_t *ret_broken);
/* Is the fence up (an exclusive lock FENCE_LOCK_NAME without duration, FENCE_COOKIE)? */
int bk_rados_fence_present(rados_be *b, bool *ret);
/* Put the fence up: -EBUSY while an older arca holds FENCE_LOCK_NAME. */
int bk_rados_fence(rados_be *b);

#endif
