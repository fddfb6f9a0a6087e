/* repo.h - the repository handle: backend, keys, config, index, objects and blobs. */
#ifndef BK_REPO_H
#define BK_REPO_H

#include <pthread.h>
#include <stdbool.h>

#include "backend.h"
#include "backup.h"
#include "buf.h"
#include "chunker.h"
#include "compress.h"
#include "crypto.h"
#include "error.h"
#include "index.h"
#include "pack.h"
#include "tree.h"

#define BK_COMPRESSION_DEFAULT 3

typedef struct bk_config {
    int version;
    char id[BK_ID_HEX];
    uint32_t chunk_min, chunk_avg, chunk_max;
    uint32_t pack_size;
    int compression;
    int cipher;                        /* bk_cipher: what seals new objects */
    int id_hash;                       /* bk_id_hash: blob ids and object names */
    bool backup_only_keys;             /* it has backup-only key slots: index objects are
                                          sealed under the index key */
} bk_config;

/* The config document (plaintext) of c. */
int bk_config_encode(const bk_config *c, bk_buf *out) BK_MUST_CHECK;

/* Parse the config document (plaintext). */
int bk_config_decode(const uint8_t *p, size_t n, bk_config *c) BK_MUST_CHECK;

struct bk_repo {
    bk_error err;
    pthread_mutex_t err_lock;          /* err may be set from worker threads */
    bk_log_fn log;
    void *log_ud;

    /* options */
    char *cache_dir;
    bool no_cache;
    bk_backend_conf conf;
    bk_kdf_params kdf;
    uint32_t opt_pack_size, opt_chunk_min, opt_chunk_avg, opt_chunk_max;
    int opt_compression;               /* -1: default */
    int opt_cipher;                    /* -1: AES-256-GCM if the CPU can */
    int opt_id_hash;                   /* -1: HMAC-SHA-256 if the CPU has SHA extensions */
    int threads;
    int64_t lock_wait_ms;
    bool read_only;
    bool allow_no_config;              /* open a repository whose config is lost (repair) */

    /* state */
    char *location;
    bk_backend *be;
    bk_keys *keys;
    char key_id[BK_ID_HEX];            /* the slot that opened the repository */
    bk_config config;
    bk_chunker chunker;                /* file profile of this repository */
    bk_index index;
    bool index_loaded;
    bool locked;
    bool config_lost;                  /* opened with allow_no_config, and it was lost */
    void *remap_ctx;                   /* the index's hook for a damaged map (indexload.c) */
    size_t stale_locks_removed;        /* lock records of dead holders removed by bk_repo_lock */
    char **damaged_snapshots;          /* names the last listing left out as damaged */
    size_t ndamaged_snapshots;
    pthread_mutex_t zlock;
    bk_zctx *zctx;                     /* for the calling thread's loads (guarded by zlock) */
};

/* Store repo->config (create-exclusive: -EEXIST if there is one). */
int bk_repo_save_config(bk_repo *repo) BK_MUST_CHECK;

/* -EACCES, with the message that a backup-only key cannot do what (for the entry points that
 * read or remove what the repository holds). */
int bk_repo_need_full_key(bk_repo *repo, const char *what);

/* Record an error on the handle (thread-safe; the first one wins).  Returns code. */
int bk_repo_error(bk_repo *repo, int code, const char *fmt, ...) BK_PRINTF(3, 4);
void bk_repo_log(bk_repo *repo, bk_log_level level, const char *fmt, ...) BK_PRINTF(3, 4);

/* Seal (zstd if it helps) and store an object; content-addressed types get the hash of the
 * stored bytes as their name (*ret_id).  CONFIG is stored under "config". */
int bk_repo_save_object(bk_repo *repo, bk_obj_type t, bk_kind kind, const void *plain, size_t n,
                        bk_id *ret_id) BK_MUST_CHECK;
/* Load, verify (name = hash of content), unseal and decompress an object. */
int bk_repo_load_object(bk_repo *repo, bk_obj_type t, bk_kind kind, const char *name,
                        uint8_t **ret, size_t *ret_len) BK_MUST_CHECK;
/* Open a sealed object already fetched (stored bytes). */
int bk_repo_open_object(bk_repo *repo, bk_kind kind, const uint8_t *stored, size_t n,
                        bk_zctx *z, uint8_t **ret, size_t *ret_len) BK_MUST_CHECK;

/* -EINTR (with the message "interrupted") once bk_interrupt() was called, else 0: long
 * loops call it at points where stopping leaves what a crash there would. */
int bk_repo_check_interrupt(bk_repo *repo) BK_MUST_CHECK;
/* Tests of crash consistency: the process kills itself (SIGKILL) at the point name when
 * $ARCA_TEST_KILL_AT says so. */
void bk_kill_point(const char *name);

/* Make repo->index ready for lookups (once): the mapped file of the local cache, brought
 * up to date (indexload.c). */
int bk_repo_load_index(bk_repo *repo) BK_MUST_CHECK;
/* Forget repo->index (the next bk_repo_load_index reads what the repository has now). */
void bk_repo_index_reset(bk_repo *repo);
/* The index as the repository has it now, with every entry in the map (positions for
 * prune's bitmaps): the map is made again when the RAM part would not be empty or packs
 * are dead. */
int bk_repo_load_index_full(bk_repo *repo) BK_MUST_CHECK;
/* Read into the RAM part the index objects that appeared since the index was loaded
 * (*ret_new, may be NULL, counts them); the map and its positions stay. */
int bk_repo_index_refresh(bk_repo *repo, size_t *ret_new) BK_MUST_CHECK;

/* Decode a sealed blob (stored bytes) into dst (raw_len bytes) and check its id.
 * -EBADMSG if it does not authenticate, decompress, or hash to id. */
int bk_blob_decode(const bk_keys *k, bk_zctx *z, uint8_t kind, const bk_id *id, const uint8_t *stored,
                   size_t stored_len, uint8_t *dst, size_t raw_len) BK_MUST_CHECK;
/* Fetch and decode one blob through the index (allocates *ret). */
int bk_repo_load_blob(bk_repo *repo, uint8_t kind, const bk_id *id, uint8_t **ret,
                      size_t *ret_len) BK_MUST_CHECK;
int bk_repo_load_tree(bk_repo *repo, const bk_id *id, bk_tree *ret) BK_MUST_CHECK;
/* A file whose content is in list blobs gets its pieces loaded into n->content (its lists
 * stay, and are what it encodes as); nothing to do for others.  Errors name the list. */
int bk_repo_node_load_content(bk_repo *repo, bk_node *n) BK_MUST_CHECK;
/* The first of pieces v[0..n) whose data blob is not in the index (holes are none), or
 * NULL. */
const bk_content *bk_repo_missing_piece(bk_repo *repo, const bk_content *v, size_t n);
/* The same for one list of n, its pieces appended to *v (of *nv). */
int bk_repo_load_clist(bk_repo *repo, const bk_clist *l, bk_content **v, size_t *nv) BK_MUST_CHECK;

/* Snapshots. */
int bk_repo_save_snapshot(bk_repo *repo, bk_snapshot *s) BK_MUST_CHECK;   /* sets s->id */
int bk_repo_load_snapshot(bk_repo *repo, const char *name, bk_snapshot **ret) BK_MUST_CHECK;

/* Wrap the master key for pass in a new key slot; *ret_id gets its name. */
int bk_repo_write_key_slot(bk_repo *repo, const char *pass, size_t passlen,
                           char ret_id[BK_ID_HEX]) BK_MUST_CHECK;

/* The prune lock (waits like bk_repo_lock). */
int bk_repo_lock_prune(bk_repo *repo, bool acquire) BK_MUST_CHECK;

/* The chunker a file was cut with: the repository's file profile for avg 0, else the
 * stream profile of that average (min avg/2, max 8 avg), as bk_node.chunk_avg records. */
int bk_repo_chunker_for(const bk_repo *repo, uint32_t avg, bk_chunker *ret) BK_MUST_CHECK;

/* Threads to use for CPU work. */
int bk_repo_threads(const bk_repo *repo);
/* Threads that read and decode packs (restore, check --read-data): the worker threads and
 * the store's extra readers. */
int bk_repo_readers(const bk_repo *repo);

/* Resolve an absolute path inside a snapshot to its node (the root is a pseudo directory
 * node whose subtree is the snapshot's tree).  -ENOENT if absent. */
int bk_repo_find_node(bk_repo *repo, const bk_id *root, const char *path, bk_node *ret) BK_MUST_CHECK;

#endif
