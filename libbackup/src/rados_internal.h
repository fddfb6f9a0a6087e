/* rados_internal.h - what the parts of the RADOS backend share: the handle, object names,
 * the retry and fail-fast rules, and each part's entry points.
 *
 *   backend_rados.c  connection, timeouts, cluster limits, the fail-fast gate, open/close
 *   rados_io.c       object I/O: get, stat, put (synchronous and asynchronous), remove, scan
 *   rados_catalog.c  catalogs (omap listings of the object types), rebuild, strays
 *   rados_lock.c     the repository lock and the prune lock (cls lock), their renewal */
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
#define LOCK_NAME "arca"
#define PRUNE_LOCK_NAME "arca-prune"
#define LOCK_TAG "arca"
#define DATA_POOL_XATTR "arca.data_pool"
#define CATALOG_PREFIX "catalog."
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
    const char *name;               /* LOCK_NAME or PRUNE_LOCK_NAME */
    bool held, exclusive, lost;     /* (under lock_mu) */
    double renewed;                 /* monotonic time the last successful (re)lock was sent */
    char *cookie;                   /* "<random hex> <info>": list_lockers shows cookies */
    char *desc;
} held_lock;

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

    /* asynchronous puts */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int window, inflight;

    /* the repository lock and the prune lock, renewed by one thread while either is held */
    pthread_mutex_t lock_mu;
    pthread_cond_t lock_cond;       /* CLOCK_MONOTONIC */
    pthread_t renew_thread;
    bool renewing, renew_stop;
    int lock_duration;              /* seconds */
    held_lock repo_lock, prune_lock;
} rados_be;

static inline rados_be *downcast(bk_backend *be)
{
    return (rados_be *)be;
}

/* ---- names ------------------------------------------------------------------------------- */

static inline bool has_catalog(bk_obj_type t)
{
    return t == BK_OBJ_KEY || t == BK_OBJ_INDEX || t == BK_OBJ_SNAPSHOT;
}

static inline int oid_of(bk_obj_type t, const char *name, char *out, size_t n)
{
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return -EINVAL;
    int k;
    if (t == BK_OBJ_CONFIG)
        k = snprintf(out, n, "config");
    else if (t == BK_OBJ_DATA || has_catalog(t))
        k = snprintf(out, n, "%s/%s", bk_obj_type_name(t), name);
    else
        return -EINVAL;
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static inline void catalog_oid(bk_obj_type t, char *out, size_t n)
{
    snprintf(out, n, CATALOG_PREFIX "%s", bk_obj_type_name(t));
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

/* Every object of the namespace of io whose name starts with prefix (NULL: every object). */
int bk_rados_scan(rados_ioctx_t io, const char *prefix, scan_fn fn, void *ctx);
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

struct entry {
    char *name;
    uint64_t size;
};

int bk_rados_catalog_write(rados_be *b, bk_obj_type t, bool create, struct entry *set, size_t nset,
                           char **rm, size_t nrm, bool clear);
int bk_rados_catalog_add(rados_be *b, bk_obj_type t, const char *name, uint64_t size,
                         double deadline);
int bk_rados_catalog_remove(rados_be *b, bk_obj_type t, const char *name, double deadline);
/* Does catalog t list an object that exists? */
int bk_rados_catalog_live(rados_be *b, bk_obj_type t, bool *ret);
int bk_rados_list(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx);
int bk_rados_rebuild_catalogs(bk_backend *be);
int bk_rados_remove_strays(bk_backend *be, size_t *ret_removed);

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

#endif
