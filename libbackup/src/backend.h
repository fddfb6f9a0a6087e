/* backend.h - the storage vtable.  A repository is a set of named objects of a few types;
 * a backend stores them (local directory, RADOS pool).  A new store is one file that
 * fills a bk_backend_ops table. */
#ifndef BK_BACKEND_H
#define BK_BACKEND_H

#include <stdbool.h>

#include "buf.h"
#include "error.h"

typedef enum bk_obj_type {
    BK_OBJ_CONFIG = 0,
    BK_OBJ_KEY,
    BK_OBJ_DATA,
    BK_OBJ_INDEX,
    BK_OBJ_SNAPSHOT,
    BK_OBJ_LOCK,
    BK_OBJ_STATUS,               /* status/<name>: records of runs (check), no catalog */
    BK_OBJ_TYPE_COUNT
} bk_obj_type;

const char *bk_obj_type_name(bk_obj_type t);   /* "config", "keys", "data", ... */

typedef struct bk_backend bk_backend;
typedef int (*bk_list_fn)(const char *name, uint64_t size, void *ctx);
/* Completion of an asynchronous put: 0, or a negative errno (-ETIMEDOUT: outcome unknown). */
typedef void (*bk_put_done_fn)(int result, void *ctx);

/* Connection settings shared by backends (the repository options). */
typedef struct bk_backend_conf {
    const char *ceph_conf, *ceph_id, *ceph_name, *keyring, *data_pool;
    const char *ceph_snap;       /* read the pools as of this pool snapshot (read-only) */
    int ceph_timeout;            /* seconds, 0 = default */
    int ceph_inflight;           /* 0 = default */
} bk_backend_conf;

/* Temporary objects younger than this (seconds) may belong to a running write. */
#define BK_TEMP_MIN_AGE 3600

typedef struct bk_backend_ops {
    const char *scheme;
    /* Readers to run beyond one per CPU: where a read waits on the network, more of them
     * in flight keep the CPUs busy.  0 where reads are the CPU's work (a local disk). */
    int extra_readers;
    /* Create-exclusive write of a whole object: -EEXIST if the name exists. */
    int (*put)(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n);
    /* Start a put; done runs later in any thread, exactly once, also when the put cannot
     * be started (then possibly before put_async returns, which returns that same error).
     * May block while too many are in flight.  NULL: the caller uses put. */
    int (*put_async)(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n,
                     bk_put_done_fn done, void *ctx);
    /* Wait until every started put completed (their done callbacks ran). */
    int (*flush)(bk_backend *be);
    /* Append [off, off+len) of an object to out; len 0 = to the end.  -ENOENT if missing,
     * -ENODATA if the object is shorter than asked. */
    int (*get)(bk_backend *be, bk_obj_type t, const char *name, uint64_t off, size_t len, bk_buf *out);
    int (*stat)(bk_backend *be, bk_obj_type t, const char *name, uint64_t *ret_size);
    /* -ENOENT if missing. */
    int (*remove)(bk_backend *be, bk_obj_type t, const char *name);
    /* fn once per object of type t (any order).  A non-zero return of fn stops the listing
     * and is returned (a positive one means "found, stop"). */
    int (*list)(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx);
    /* As list, but fn may be given BK_SIZE_UNKNOWN for the size: for callers that want the
     * names only (a local directory of 10^5 snapshots is otherwise a stat per name).  NULL:
     * list does it. */
    int (*list_names)(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx);
    /* Repository lock (one per handle); info describes the holder for other processes.
     * -EBUSY if held in a conflicting mode by a live holder; the caller retries, and calls
     * unlock when it gives up (an exclusive taker may keep newcomers out while it waits).
     * The lock lapses when the process dies. */
    int (*lock)(bk_backend *be, bool exclusive, const char *info);
    int (*unlock)(bk_backend *be);
    /* Take (or release) the prune lock: one prune at a time, whatever else runs.
     * -EBUSY if another prune holds it.  NULL: prunes are not kept apart. */
    int (*lock_prune)(bk_backend *be, bool acquire);
    /* Remove lock records of holders that are gone; *ret_removed counts them.  NULL:
     * nothing to clean (the store drops dead holders' locks itself). */
    int (*clean_locks)(bk_backend *be, size_t *ret_removed);
    /* Describe current holders (for messages); appends text to out. */
    int (*lock_holders)(bk_backend *be, bk_buf *out);
    /* Break every other holder's lock record, dead or alive (arca unlock --force); one that
     * may be alive is fenced off first (RADOS: its client blocklisted, so that it cannot
     * write any more).  -EPERM/-EACCES when the store does not let us fence it off (then
     * its lock stays).  NULL: the store's locks cannot be broken (local: the kernel's). */
    int (*break_locks)(bk_backend *be, size_t *ret_broken);
    /* Largest object and single write the store accepts (0 = no limit). */
    uint64_t (*max_object_size)(bk_backend *be);
    /* Stores that keep listings apart from the objects (RADOS catalogs): rescan the
     * objects and make the listings match them, after a crash between writing an object
     * and listing it.  NULL when listings cannot drift (local). */
    int (*rebuild_catalogs)(bk_backend *be);
    /* Stores with catalogs: remove the objects that a writer which died (or timed out)
     * between storing and cataloguing them, or between uncataloguing and removing them,
     * left out of their catalog (they are known without a scan: RADOS intents).  Needs the
     * exclusive lock.  NULL when listings cannot drift. */
    int (*remove_strays)(bk_backend *be, size_t *ret_removed);
    /* Stores with catalogs: fn("type/name", size) for every object that no catalog lists and
     * no running write or removal explains (check --scan-orphans): the one operation that
     * walks the whole store.  NULL when listings cannot drift. */
    int (*scan_orphans)(bk_backend *be, bk_list_fn fn, void *ctx);
    /* How many walks through the whole store (not just this repository) this handle made:
     * RADOS pool scans.  NULL where listing costs what the repository holds (local). */
    uint64_t (*scans)(bk_backend *be);
    /* Temporary objects of writes that never finished (a killed writer's), at least
     * min_age seconds old: counted, and removed when remove is set (the caller holds the
     * exclusive lock).  NULL when the store leaves none. */
    int (*temp_files)(bk_backend *be, int64_t min_age, bool remove, uint64_t *ret_n,
                      uint64_t *ret_bytes);
    void (*close)(bk_backend *be);
} bk_backend_ops;

struct bk_backend {
    const bk_backend_ops *ops;
    char *location;              /* for messages */
};

/* Open the backend for location ("rados:pool/ns" or a path).  create makes the layout
 * (for init).  Errors are explained in err. */
int bk_backend_open(const char *location, const bk_backend_conf *conf, bool create,
                    bk_error *err, bk_backend **ret) BK_MUST_CHECK;
void bk_backend_close(bk_backend *be);

int bk_backend_local_open(const char *path, bool create, bk_error *err, bk_backend **ret);
int bk_backend_rados_open(const char *spec, const bk_backend_conf *conf, bool create,
                          bk_error *err, bk_backend **ret);

/* Dispatch helpers. */
static inline int bk_be_put(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n)
{
    return be->ops->put(be, t, name, p, n);
}
static inline int bk_be_get(bk_backend *be, bk_obj_type t, const char *name, uint64_t off,
                            size_t len, bk_buf *out)
{
    return be->ops->get(be, t, name, off, len, out);
}
static inline int bk_be_stat(bk_backend *be, bk_obj_type t, const char *name, uint64_t *ret)
{
    return be->ops->stat(be, t, name, ret);
}
static inline int bk_be_remove(bk_backend *be, bk_obj_type t, const char *name)
{
    return be->ops->remove(be, t, name);
}
static inline int bk_be_list(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx)
{
    return be->ops->list(be, t, fn, ctx);
}
#define BK_SIZE_UNKNOWN UINT64_MAX
static inline int bk_be_list_names(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx)
{
    return (be->ops->list_names ? be->ops->list_names : be->ops->list)(be, t, fn, ctx);
}

#endif
