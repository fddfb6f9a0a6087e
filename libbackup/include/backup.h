/* backup.h - the public API of libbackup, the library behind the arca backup tool.
 *
 * Conventions: every function that can fail returns 0 or a negative errno; the message
 * that explains it is kept on the handle (bk_repo_errmsg).  The library never prints and
 * never exits.  Objects follow _new -> _set -> _run -> _free; _free(NULL) is a no-op.
 * Unless stated otherwise, a handle is used by one thread at a time; the library runs its
 * own worker threads internally.  Strings returned through structs are owned by the
 * struct and freed with it. */
#ifndef BACKUP_H
#define BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BK_API __attribute__((visibility("default")))
#define BK_WARN_UNUSED __attribute__((warn_unused_result))

#define BK_VERSION_STRING "0.1.0"
#define BK_FORMAT_VERSION 1

/* ---- ids ---------------------------------------------------------------------------- */

#define BK_ID_LEN 32
#define BK_ID_HEX 65          /* 64 hex digits and a NUL */
#define BK_SHORT_ID_LEN 8     /* hex digits shown by default */

typedef struct bk_id {
    uint8_t b[BK_ID_LEN];
} bk_id;

BK_API void bk_id_hex(const bk_id *id, char out[BK_ID_HEX]);
/* 64 hex digits; -EINVAL otherwise. */
BK_API int bk_id_parse(const char *hex, bk_id *ret);
BK_API bool bk_id_is_zero(const bk_id *id);
BK_API int bk_id_cmp(const bk_id *a, const bk_id *b);

/* ---- library ---------------------------------------------------------------------- */

/* Initialise libsodium; idempotent, thread-safe.  0 or a negative errno. */
BK_API int bk_library_init(void);
BK_API const char *bk_version(void);

/* Ask the operations running in this process to stop: at their next safe point they
 * return -EINTR ("interrupted"), leaving the repository as a crash at that point would
 * (which is always consistent), and the handles release their locks as usual when freed.
 * Async-signal-safe, for a SIGINT or SIGTERM handler.  Process-wide. */
BK_API void bk_interrupt(void);
BK_API bool bk_interrupted(void);
BK_API void bk_interrupt_clear(void);
/* How this library was built, and the versions of the libraries it runs with. */
typedef struct bk_build_info {
    const char *version;             /* BK_VERSION_STRING */
    int format_version;              /* the repository format it writes (BK_FORMAT_VERSION) */
    bool rados;                      /* built with the Ceph RADOS backend */
    char libsodium[32], zstd[32], libarchive[32], jansson[32];
    char libcrypto[32];              /* OpenSSL's, for the HMAC-SHA-256 id function */
    char librados[32];               /* "" without RADOS */
} bk_build_info;
BK_API void bk_build_info_get(bk_build_info *ret);

/* Cipher suites of a repository's sealed objects (docs/FORMAT.md, sealed boxes). */
typedef enum bk_cipher {
    BK_CIPHER_XCHACHA = 0,       /* XChaCha20-Poly1305-IETF */
    BK_CIPHER_AES = 1,           /* AES-256-GCM, a key per box (libsodium's: AES-NI) */
} bk_cipher;

/* Id functions of a repository: blob ids and the names of its objects (docs/FORMAT.md,
 * keys and identifiers). */
typedef enum bk_id_hash {
    BK_ID_HASH_BLAKE2B = 0,      /* keyed BLAKE2b-256 ids, BLAKE2b-256 names (libsodium) */
    BK_ID_HASH_HMAC_SHA256 = 1,  /* HMAC-SHA-256 ids, SHA-256 names (libcrypto: SHA-NI) */
} bk_id_hash;

typedef enum bk_log_level {
    BK_LOG_ERROR = 0,
    BK_LOG_WARNING = 1,
    BK_LOG_INFO = 2,
    BK_LOG_DEBUG = 3,
} bk_log_level;

typedef void (*bk_log_fn)(bk_log_level level, const char *msg, void *userdata);

/* ---- repository --------------------------------------------------------------------- */

typedef struct bk_repo bk_repo;

/* Options of a repository handle, set before init/open.  String options copy the value. */
enum bk_repo_option {
    BK_REPO_CACHE_DIR = 100,        /* str: cache directory (default $XDG_CACHE_HOME/arca) */
    BK_REPO_NO_CACHE = 101,         /* int: 1 = do not use a local cache */
    BK_REPO_CEPH_CONF = 200,        /* str: ceph.conf path */
    BK_REPO_CEPH_ID = 201,          /* str: cephx user without "client." */
    BK_REPO_CEPH_NAME = 202,        /* str: full entity name, "client.backup" */
    BK_REPO_CEPH_KEYRING = 203,     /* str: keyring path */
    BK_REPO_CEPH_TIMEOUT = 204,     /* int: seconds for mon/osd ops and connect */
    BK_REPO_CEPH_INFLIGHT = 205,    /* int: concurrent RADOS writes */
    BK_REPO_DATA_POOL = 206,        /* str: pool for pack objects (may be erasure coded) */
    BK_REPO_CEPH_SNAP = 207,        /* str: a read-only view of the repository as of this
                                       RADOS pool snapshot (of its pool, and of its data
                                       pool); implies READ_ONLY and NO_CACHE */
    BK_REPO_KDF_MEMORY = 300,       /* int: Argon2id memory for new key slots, bytes */
    BK_REPO_KDF_OPS = 301,          /* int: Argon2id passes for new key slots */
    BK_REPO_PACK_SIZE = 400,        /* int: pack target size, bytes (init stores it) */
    BK_REPO_COMPRESSION = 401,      /* int: zstd level, 0 = none (init stores it) */
    BK_REPO_CHUNK_MIN = 402,        /* int: chunker minimum (init) */
    BK_REPO_CHUNK_AVG = 403,        /* int: chunker average (init) */
    BK_REPO_CHUNK_MAX = 404,        /* int: chunker maximum (init) */
    BK_REPO_CIPHER = 405,           /* int: a bk_cipher, or -1 (default): AES-256-GCM where
                                       the CPU has AES-NI (init stores it) */
    BK_REPO_ID_HASH = 406,          /* int: a bk_id_hash, or -1 (default): HMAC-SHA-256 where
                                       the CPU has SHA extensions (init stores it) */
    BK_REPO_THREADS = 410,          /* int: worker threads (default: online CPUs) */
    BK_REPO_LOCK_WAIT = 500,        /* int: milliseconds to retry a held lock (default 0) */
    BK_REPO_READ_ONLY = 501,        /* int: 1 = never write (no lock objects either) */
    BK_REPO_ALLOW_NO_CONFIG = 502,  /* int: 1 = open even if the config is lost or damaged
                                       (defaults stand in; for bk_repair) */
};

BK_API bk_repo *bk_repo_new(void);
BK_API void bk_repo_free(bk_repo *repo);
BK_API int bk_repo_set_str(bk_repo *repo, int option, const char *value);
BK_API int bk_repo_set_int(bk_repo *repo, int option, int64_t value);
BK_API void bk_repo_set_log(bk_repo *repo, bk_log_fn fn, void *userdata);

/* location: a directory path, or "rados:POOL[/NAMESPACE]".  The passphrase is copied into
 * locked memory and wiped after use.
 * init: -EEXIST if a repository is there already.
 * open: -ENOENT no repository, -EKEYREJECTED wrong passphrase, -EPROTONOSUPPORT a format
 * this version does not know. */
BK_API int bk_repo_init(bk_repo *repo, const char *location, const char *pass, size_t passlen) BK_WARN_UNUSED;
BK_API int bk_repo_open(bk_repo *repo, const char *location, const char *pass, size_t passlen) BK_WARN_UNUSED;
/* The reason for the last failure ("" if none), and its code. */
BK_API const char *bk_repo_errmsg(const bk_repo *repo);
BK_API int bk_repo_errcode(const bk_repo *repo);
BK_API void bk_repo_clear_error(bk_repo *repo);
/* Repository id (64 hex digits) of an open repository. */
BK_API const char *bk_repo_id(const bk_repo *repo);

/* Locks: shared for backup/check/restore, exclusive for prune and key removal.  A lock
 * held by a live process gives -EBUSY (after BK_REPO_LOCK_WAIT ms of retrying); locks
 * whose holder died lapse by themselves.  Unlocking happens in bk_repo_free too. */
BK_API int bk_repo_lock(bk_repo *repo, bool exclusive) BK_WARN_UNUSED;
BK_API int bk_repo_unlock(bk_repo *repo);
/* Remove lock records of holders that are gone; *ret_live (may be NULL; free it) describes
 * the live holders. */
BK_API int bk_repo_clean_locks(bk_repo *repo, size_t *ret_removed, char **ret_live) BK_WARN_UNUSED;
/* Break every other holder's lock, dead or alive (arca unlock --force).  On RADOS a holder
 * that may be alive is blocklisted first (its client can then no longer write); -EPERM or
 * -EACCES when the Ceph user may not blocklist (its lock stays).  A local repository's locks
 * are the kernel's: nothing to break (0, *ret_broken 0). */
BK_API int bk_repo_break_locks(bk_repo *repo, size_t *ret_broken) BK_WARN_UNUSED;

/* ---- snapshots ---------------------------------------------------------------------- */

typedef struct bk_summary {
    uint64_t files_new, files_changed, files_unchanged;
    uint64_t dirs_new, dirs_changed, dirs_unchanged;
    uint64_t bytes_new, bytes_changed, bytes_unchanged;   /* file sizes by category */
    uint64_t bytes_read;           /* content actually read (unchanged files are skipped) */
    uint64_t blobs_added;          /* new blobs written */
    uint64_t bytes_added;          /* bytes added to the repository (packs, index, snapshot) */
    uint64_t bytes_added_raw;      /* plaintext size of the new blobs */
    uint64_t total_files, total_dirs, total_bytes;
    uint64_t errors;               /* entries that could not be read */
    uint64_t files_changed_while_read;   /* saved as read, but they changed meanwhile */
    double duration;               /* seconds */
} bk_summary;

/* A binary log file archived by backup --mysql-binlogs (under /mysql-binlog/). */
typedef struct bk_binlog {
    char *name;                    /* "binlog.000042" */
    uint64_t size;
    int64_t first_time, last_time; /* of its events, seconds since the epoch (0: none) */
    char *first_gtid, *last_gtid;  /* MariaDB GTIDs "domain-server-seq", or NULL */
} bk_binlog;

typedef struct bk_snapshot {
    bk_id id;
    int64_t time;                  /* seconds since the epoch */
    int32_t time_nsec;
    int32_t tz_offset;             /* seconds east of UTC at backup time */
    char *host;
    char *username;
    uint32_t uid, gid;
    char **paths;
    size_t npaths;
    char **tags;
    size_t ntags;
    bk_id tree;
    bool has_parent;
    bk_id parent;
    bool has_original;             /* made from another snapshot (repair, copy): its id */
    bk_id original;
    bool has_key_slot;             /* the key slot (its id) of the run that wrote it */
    bk_id key_slot;
    /* --mysql with the server's binary log on: the dump's position in it (NULL, 0 if not
     * known): the binlog file and offset, and the GTID position (MariaDB) */
    char *mysql_binlog_file;
    uint64_t mysql_binlog_pos;
    char *mysql_gtid;
    /* --mysql-binlogs: every binary log file archived under /mysql-binlog (oldest first),
     * and the names of those the server purged before they were archived ("a..b"), if
     * any */
    bk_binlog *binlogs;
    size_t nbinlogs;
    char *binlog_gap;
    uint32_t chunk_min, chunk_avg, chunk_max;   /* chunker parameters used */
    char *program;                 /* "arca 0.1.0" */
    bool has_summary;
    bk_summary summary;
} bk_snapshot;

/* Filters, as restic's: a snapshot matches when its host is one of hosts (if any), it
 * has every path of paths (if any), and one of the tag groups (each group: tags that must
 * all be present) matches (if any). */
typedef struct bk_filter {
    const char *const *hosts;
    size_t nhosts;
    const char *const *paths;
    size_t npaths;
    const char *const *tag_groups;  /* each entry "a,b" = a and b */
    size_t ntag_groups;
} bk_filter;

/* All snapshots, oldest first.  Free with bk_snapshots_free.  A damaged snapshot object
 * (it does not decrypt, match its name or parse) is left out with a warning through the
 * log; bk_snapshots_damaged tells which the last listing left out. */
BK_API int bk_snapshots_list(bk_repo *repo, const bk_filter *filter, bk_snapshot ***ret,
                             size_t *ret_n) BK_WARN_UNUSED;
/* The number of damaged snapshot objects the last listing left out; *ret_names (may be
 * NULL) gets their names (64 hex digits), valid until the next listing. */
BK_API size_t bk_snapshots_damaged(const bk_repo *repo, const char *const **ret_names);
BK_API void bk_snapshots_free(bk_snapshot **v, size_t n);
BK_API void bk_snapshot_free(bk_snapshot *s);
BK_API bool bk_snapshot_match(const bk_snapshot *s, const bk_filter *filter);
/* arg: a full id, a unique prefix (at least 4 hex digits), or "latest" (the newest that
 * matches filter).  -ENOENT none, -EINVAL ambiguous or malformed. */
BK_API int bk_snapshot_find(bk_repo *repo, const char *arg, const bk_filter *filter,
                            bk_snapshot **ret) BK_WARN_UNUSED;
/* RFC 3339 with nanoseconds and offset, "2026-11-25T12:30:11.123456789+01:00". */
BK_API void bk_snapshot_time_str(const bk_snapshot *s, char out[48]);
/* The snapshot's "mysql" member as it is stored (docs/FORMAT.md: binary log position,
 * archived logs), as JSON text to free; NULL if it has none (or out of memory). */
BK_API char *bk_snapshot_mysql_json(const bk_snapshot *s);
/* Parse "YYYY-MM-DD HH:MM[:SS]" (local time) or RFC 3339. */
BK_API int bk_parse_time(const char *s, int64_t *ret_time, int32_t *ret_nsec, int32_t *ret_tz);

/* ---- nodes (ls, diff) --------------------------------------------------------------- */

typedef enum bk_node_type {
    BK_NODE_FILE = 1,
    BK_NODE_DIR = 2,
    BK_NODE_SYMLINK = 3,
    BK_NODE_FIFO = 4,
    BK_NODE_CHARDEV = 5,
    BK_NODE_BLOCKDEV = 6,
    BK_NODE_SOCKET = 7,
} bk_node_type;

typedef struct bk_node_info {
    const char *path;              /* absolute path inside the snapshot, "/etc/hosts" */
    size_t path_len;               /* names may hold any byte but '/' and NUL */
    bk_node_type type;
    uint32_t mode;                 /* permission bits (07777) */
    uint32_t uid, gid;
    const char *user, *group;      /* may be "" */
    uint64_t size;
    int64_t mtime, ctime;
    uint32_t mtime_nsec, ctime_nsec;
    uint64_t inode, device, nlink, rdev;
    const char *link_target;       /* symlinks */
    size_t nxattrs;
    bool has_acl;
    const bk_id *subtree;          /* directories */
    size_t nchunks;                /* files: pieces of content (blobs and holes) */
    uint32_t fflags;               /* file flags as chattr sets them (Linux FS_*_FL bits) */
} bk_node_info;

typedef int (*bk_node_fn)(const bk_node_info *node, void *userdata);

/* List the snapshot's entries under path ("/" or NULL = everything).  recursive=false lists
 * the entry and, for a directory, its direct children. */
BK_API int bk_ls(bk_repo *repo, const bk_snapshot *snap, const char *path, bool recursive,
                 bk_node_fn fn, void *userdata) BK_WARN_UNUSED;

typedef enum bk_diff_kind {
    BK_DIFF_ADDED = '+',
    BK_DIFF_REMOVED = '-',
    BK_DIFF_MODIFIED = 'M',        /* content changed */
    BK_DIFF_META = 'U',            /* metadata only */
    BK_DIFF_TYPE = 'T',            /* file type changed */
} bk_diff_kind;

typedef int (*bk_diff_fn)(bk_diff_kind kind, const bk_node_info *old_node,
                          const bk_node_info *new_node, void *userdata);
/* Compares two snapshots tree by tree; identical subtrees are skipped without reading. */
BK_API int bk_diff(bk_repo *repo, const bk_snapshot *a, const bk_snapshot *b, bk_diff_fn fn,
                   void *userdata) BK_WARN_UNUSED;

/* ---- progress ----------------------------------------------------------------------- */

typedef struct bk_progress {
    uint64_t files_done, files_total;   /* total 0 when unknown */
    uint64_t bytes_done, bytes_total;
    uint64_t bytes_added;
    uint64_t errors;
    const char *current;                /* may be NULL */
    double elapsed;
} bk_progress;

typedef void (*bk_progress_fn)(const bk_progress *p, void *userdata);

/* A problem with one entry (unreadable file...): the run goes on, the entry is skipped.
 * code 0 is a warning about an entry that was saved (a file that changed while it was
 * read). */
typedef void (*bk_item_error_fn)(const char *path, int code, const char *msg, void *userdata);

/* ---- backup ------------------------------------------------------------------------- */

typedef struct bk_backup bk_backup;

enum bk_backup_option {
    BK_BACKUP_PATH = 100,           /* str, repeatable: file or directory to save */
    BK_BACKUP_TAG = 101,            /* str, repeatable */
    BK_BACKUP_HOST = 102,           /* str: host name recorded (default: this host) */
    BK_BACKUP_EXCLUDE = 103,        /* str, repeatable: glob pattern */
    BK_BACKUP_EXCLUDE_FILE = 104,   /* str, repeatable: file with one pattern per line */
    BK_BACKUP_PARENT = 105,         /* str: snapshot to compare with (id, prefix, latest) */
    BK_BACKUP_STDIN_NAME = 106,     /* str: name of the file made from the stdin stream */
    BK_BACKUP_TIME = 200,           /* int: snapshot time, seconds since the epoch */
    BK_BACKUP_TZ_OFFSET = 201,      /* int: seconds east of UTC recorded with the time */
    BK_BACKUP_ONE_FILE_SYSTEM = 202,/* int: 1 = stay on the file system of each path */
    BK_BACKUP_DRY_RUN = 203,        /* int: 1 = read and chunk, write nothing */
    BK_BACKUP_STDIN_FD = 204,       /* int: read the stream from this descriptor */
    BK_BACKUP_CHUNK_AVG = 205,      /* int: average chunk size for streams (power of 2) */
    BK_BACKUP_NO_PARENT = 206,      /* int: 1 = read every file */
    BK_BACKUP_TIME_NSEC = 207,      /* int */
    BK_BACKUP_MYSQL = 300,          /* int: 1 = dump MySQL/MariaDB databases to /mysql */
    BK_BACKUP_MYSQL_DATABASE = 301, /* str, repeatable: database to dump (default: all
                                       but the system schemas) */
    BK_BACKUP_MYSQL_DEFAULTS_FILE = 302, /* str: client option file (user, password, socket) */
    BK_BACKUP_MYSQL_DUMP_COMMAND = 303,  /* str: shell command instead of mariadb-dump */
    BK_BACKUP_MYSQL_CLIENT_COMMAND = 304,/* str: shell command instead of mariadb (listing) */
    BK_BACKUP_MYSQL_BINLOGS = 305,  /* int: 1 = archive the binary logs the server closed
                                       since the last archived one, into /mysql-binlog
                                       (bk_backup_run: -EALREADY when there is none) */
    BK_BACKUP_MYSQL_FLUSH = 306,    /* int: with BINLOGS, FLUSH BINARY LOGS first */
    BK_BACKUP_MYSQL_PHYSICAL = 307, /* int: 1 = a physical backup (mariadb-backup --stream=
                                       xbstream) into /mysql-physical/backup.xbstream */
    BK_BACKUP_MYSQL_BACKUP_COMMAND = 308, /* str: shell command instead of mariadb-backup */
};

/* A backup job is described first (options), then run against an open repository. */
BK_API int bk_backup_new(bk_backup **ret) BK_WARN_UNUSED;
BK_API void bk_backup_free(bk_backup *b);
BK_API int bk_backup_set_str(bk_backup *b, int option, const char *value);
BK_API int bk_backup_set_int(bk_backup *b, int option, int64_t value);
BK_API void bk_backup_set_progress(bk_backup *b, bk_progress_fn fn, void *userdata);
BK_API void bk_backup_set_item_error(bk_backup *b, bk_item_error_fn fn, void *userdata);
/* Runs the backup (takes no lock: call bk_repo_lock first).  On success *ret_snap (may be
 * NULL) gets the snapshot written (or that would be written, with --dry-run).  Entries
 * that could not be read are reported through the item error callback and counted in
 * summary.errors, files that changed while they were read (size, mtime or ctime differ
 * after reading) in summary.files_changed_while_read; the run still succeeds.  The holes
 * of sparse files are found with SEEK_HOLE/SEEK_DATA and not read. */
BK_API int bk_backup_run(bk_backup *b, bk_repo *repo, bk_snapshot **ret_snap) BK_WARN_UNUSED;

/* ---- restore and dump ----------------------------------------------------------------- */

typedef struct bk_restore bk_restore;

enum bk_restore_option {
    BK_RESTORE_TARGET = 100,        /* str: directory to restore into */
    BK_RESTORE_INCLUDE = 101,       /* str, repeatable: path or glob inside the snapshot */
    BK_RESTORE_EXCLUDE = 102,       /* str, repeatable */
    BK_RESTORE_DRY_RUN = 200,       /* int */
    BK_RESTORE_DELETE = 201,        /* int: remove what the snapshot does not have */
    BK_RESTORE_VERIFY = 202,        /* int: re-read and compare after writing */
    BK_RESTORE_NO_OWNER = 203,      /* int: do not restore owners even as root */
    BK_RESTORE_NUMERIC_IDS = 204,   /* int: owners (and ACL entries) by the stored uid/gid;
                                     * default: a stored user/group name that exists here
                                     * gives its local id, else the stored id is used */
};

typedef struct bk_restore_stats {
    uint64_t files_restored, files_unchanged, dirs, others, deleted;
    uint64_t bytes_written, bytes_fetched, bytes_reused;
    uint64_t packs_fetched;
    uint64_t errors;
    double duration;
} bk_restore_stats;

BK_API int bk_restore_new(bk_repo *repo, const bk_snapshot *snap, bk_restore **ret) BK_WARN_UNUSED;
BK_API void bk_restore_free(bk_restore *r);
BK_API int bk_restore_set_str(bk_restore *r, int option, const char *value);
BK_API int bk_restore_set_int(bk_restore *r, int option, int64_t value);
BK_API void bk_restore_set_progress(bk_restore *r, bk_progress_fn fn, void *userdata);
BK_API void bk_restore_set_item_error(bk_restore *r, bk_item_error_fn fn, void *userdata);
BK_API int bk_restore_run(bk_restore *r, bk_restore_stats *ret_stats) BK_WARN_UNUSED;

/* One object, decrypted, for inspection (arca cat).  type: "config", "key", "snapshot",
 * "index" or "pack" (id: a full id or a unique prefix), "tree" or "blob" (id: a blob id).
 * *ret (malloc'd, *ret_len bytes): JSON, or a data blob's raw bytes.  Not thread-safe. */
BK_API int bk_cat(bk_repo *repo, const char *type, const char *id, uint8_t **ret,
                  size_t *ret_len) BK_WARN_UNUSED;

/* Write one file's content, or a directory as a pax tar stream, to fd. */
BK_API int bk_dump(bk_repo *repo, const bk_snapshot *snap, const char *path, int fd) BK_WARN_UNUSED;

/* ---- retention: forget and prune ---------------------------------------------------- */

/* A forget policy, restic's semantics: within each group the newest snapshot of each of
 * the N newest hours/days/ISO weeks/months/years that have snapshots is kept (-1: all of
 * them); keep_last keeps the N newest; keep_within keeps those made after the group's
 * newest minus that duration; keep_tags keeps snapshots that carry all the tags of one
 * entry ("a,b").  Time buckets use each snapshot's own UTC offset. */
typedef struct bk_policy {
    int keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
    struct {
        int years, months, days, hours;      /* calendar arithmetic, as restic's 1y2m3d4h */
    } keep_within;
    const char *const *keep_tags;
    size_t nkeep_tags;
} bk_policy;

enum { BK_GROUP_HOST = 1, BK_GROUP_PATHS = 2, BK_GROUP_TAGS = 4 };

typedef struct bk_forget_item {
    bk_snapshot *snap;               /* owned by the group */
    bool keep;
    char **reasons;                  /* why it is kept ("daily snapshot", ...) */
    size_t nreasons;
} bk_forget_item;

typedef struct bk_forget_group {
    char *host;                      /* the grouping values (NULL when not grouped by it) */
    char **paths, **tags;
    size_t npaths, ntags;
    bk_forget_item *items;           /* newest first */
    size_t n;
} bk_forget_group;

/* Decide (no I/O).  Takes over the snapshots in v (and frees v).  -EINVAL for an empty
 * policy. */
BK_API int bk_forget_plan(bk_snapshot **v, size_t n, const bk_policy *p, unsigned group_by,
                          bk_forget_group **ret, size_t *ret_n) BK_WARN_UNUSED;
BK_API void bk_forget_groups_free(bk_forget_group *g, size_t n);
/* Remove one snapshot (its data stays until bk_prune).  -ENOENT when it is not there (any
 * more).  Take a shared lock first, as for bk_forget_apply. */
BK_API int bk_snapshot_remove(bk_repo *repo, const bk_id *id) BK_WARN_UNUSED;
/* Remove the snapshots the plan does not keep; *ret_removed counts them.  Snapshots
 * already gone count as removed (running forget twice is safe). */
BK_API int bk_forget_apply(bk_repo *repo, const bk_forget_group *g, size_t n,
                           size_t *ret_removed) BK_WARN_UNUSED;

typedef struct bk_prune_opts {
    double max_unused;               /* repack packs with more unused than this share (0.05) */
    bool dry_run;                    /* plan and report, change nothing */
} bk_prune_opts;

typedef struct bk_prune_stats {
    uint64_t packs, blobs, bytes;            /* in the index before */
    uint64_t blobs_used, bytes_used;         /* what the snapshots need */
    uint64_t packs_deleted;                  /* nothing in them was used */
    uint64_t packs_repacked;                 /* used blobs copied to new packs, then deleted */
    uint64_t bytes_repacked;
    uint64_t packs_kept_late;                /* kept for snapshots written during the prune */
    uint64_t packs_unindexed;                /* packs no index listed (left by killed runs) */
    uint64_t temp_files, temp_bytes;         /* temporary objects of killed writes, removed */
    uint64_t bytes_freed;
    uint64_t snapshots_during;               /* snapshots written while it planned */
    double duration;
    double locked_duration;                  /* of it, under the exclusive lock (the commit) */
} bk_prune_stats;

/* Remove what no snapshot needs.  Plans without a lock, then takes the exclusive lock
 * (waiting up to BK_REPO_LOCK_WAIT for running backups) only to commit: new snapshots
 * are honoured, the new index is written before anything is deleted.  Running it twice
 * is safe; a killed prune leaves a valid repository and the next one finishes its work. */
BK_API int bk_prune(bk_repo *repo, const bk_prune_opts *opts, bk_prune_stats *ret) BK_WARN_UNUSED;

/* ---- copy ----------------------------------------------------------------------------- */

/* Make a repository at location whose master key (so its chunker secret and id key), chunk
 * sizes and id function are those of src (open): blobs then travel between them as stored,
 * and backups made into either deduplicate against copies.  The new repository has its own
 * id, passphrase (pass), pack size, compression and cipher (the handle's options). */
BK_API int bk_repo_init_from(bk_repo *repo, const char *location, const char *pass, size_t passlen,
                             const bk_repo *src) BK_WARN_UNUSED;
/* Have a and b (open) the same keys and id function? */
BK_API bool bk_repo_keys_match(const bk_repo *a, const bk_repo *b);

enum { BK_COPY_COPIED = 0, BK_COPY_PRESENT = 1, BK_COPY_WOULD_COPY = 2 };

typedef struct bk_copy_opts {
    bool dry_run;                    /* decide and count, store nothing */
    bk_progress_fn progress;         /* files: snapshots, bytes: read from the source */
    void *progress_ud;
    /* Once per source snapshot, oldest first: copied (dst_id: its copy), present (dst_id: the
     * copy the destination has), or would be copied (dry run; dst_id NULL). */
    void (*on_snapshot)(const bk_snapshot *src, const bk_id *dst_id, int status, void *ud);
    void *ud;
} bk_copy_opts;

typedef struct bk_copy_stats {
    bool keys_match;                 /* blobs travelled as stored */
    uint64_t snapshots_copied;       /* (dry run: 0) */
    uint64_t snapshots_present;      /* the destination had them already */
    uint64_t blobs_copied;           /* new in the destination (dry run: to copy; when the
                                        keys differ, the source blobs to read) */
    uint64_t bytes_copied;           /* stored bytes added: packs and index (dry run: of the
                                        blobs to copy) */
    uint64_t bytes_read;             /* from the source's packs */
    uint64_t trees_reused;           /* subtrees found complete in an earlier copy */
    double duration;
} bk_copy_stats;

/* Copy snapshots (of src, as bk_snapshots_list gives them) from src into dst: each one
 * whose copy dst does not have, with the blobs dst lacks.  A copy records the source's
 * original id (its own, or the one it was copied from) as its original; its parent is the
 * copy of the source's parent, if dst has it.  The caller holds a shared lock on dst and
 * on src, or opened src read-only (BK_REPO_READ_ONLY).  Errors are on dst's handle; those
 * of the source say so.  Interrupted or killed, it leaves dst consistent, and the next run
 * does not copy again what was stored and indexed. */
BK_API int bk_copy(bk_repo *dst, bk_repo *src, bk_snapshot *const *snaps, size_t n,
                   const bk_copy_opts *opts, bk_copy_stats *ret) BK_WARN_UNUSED;

/* ---- repair ------------------------------------------------------------------------- */

enum {
    BK_REPAIR_CONFIG = 1,            /* make a lost or damaged config again */
    BK_REPAIR_INDEX = 2,             /* rebuild the index from the packs; salvage damaged packs */
    BK_REPAIR_SNAPSHOTS = 4,         /* put back or drop damaged snapshot objects; save again
                                        the snapshots whose trees lost blobs */
    BK_REPAIR_ALL = 7,
};

typedef struct bk_repair_opts {
    unsigned what;                   /* BK_REPAIR_* */
    bool read_data;                  /* index: decrypt and re-hash every blob of every pack */
    bool forget;                     /* snapshots: remove what cannot be, or was, repaired */
    bool dry_run;                    /* report, change nothing */
} bk_repair_opts;

typedef struct bk_repair_stats {
    bool config_rewritten;
    uint64_t packs, packs_read;              /* packs whose header (whole pack) was read */
    uint64_t packs_damaged;                  /* damaged header or corrupt blobs */
    uint64_t packs_rewritten;                /* their good blobs copied, then removed */
    uint64_t packs_missing;                  /* indexed, not there */
    uint64_t packs_unindexed;                /* there, in no index */
    uint64_t blobs_corrupt, blobs_salvaged, blobs_lost, trees_from_cache;
    uint64_t blobs_indexed;                  /* in the new index */
    uint64_t index_damaged;                  /* index objects that could not be read */
    bool index_rewritten;
    uint64_t snapshots;                      /* snapshots examined */
    uint64_t snapshots_damaged;              /* objects that could not be read */
    uint64_t snapshots_restored;             /* put back from the local cache */
    uint64_t snapshots_repaired;             /* saved again without what was lost */
    uint64_t snapshots_forgotten;
    uint64_t files_lost, dirs_lost;          /* dropped from the repaired snapshots */
    double duration;
} bk_repair_stats;

/* Rebuild what can be rebuilt from what is left (see arca(1), repair).  Takes the prune
 * lock; the caller holds the exclusive lock (none for a dry run).  What is lost is named
 * through the log (warnings).  Opening a repository whose config is lost needs
 * BK_REPO_ALLOW_NO_CONFIG. */
BK_API int bk_repair(bk_repo *repo, const bk_repair_opts *opts, bk_repair_stats *ret) BK_WARN_UNUSED;

/* ---- databases ---------------------------------------------------------------------- */

typedef struct bk_mysql_target {
    const char *defaults_file;       /* client option file, or NULL */
    const char *client_command;      /* shell command instead of mariadb/mysql, or NULL */
    const char *const *databases;    /* which dumps to load; none = all in the snapshot */
    size_t ndatabases;
    const char *backup_command;      /* shell command instead of mariadb-backup, or NULL */
} bk_mysql_target;

/* Called once per database: result 0 or a negative errno, message the client's stderr. */
typedef void (*bk_mysql_report_fn)(const char *db, int result, const char *message, void *userdata);

/* Load the snapshot's database dumps (/mysql/<db>.sql) into a server by piping each into
 * the client.  Returns 0 when all loaded, else the first failure (the others are still
 * tried).  Ignores SIGPIPE while it runs. */
BK_API int bk_mysql_restore(bk_repo *repo, const bk_snapshot *snap, const bk_mysql_target *t,
                            bk_mysql_report_fn report, void *userdata) BK_WARN_UNUSED;

/* A physical backup (backup --mysql-physical) into dir, a new or empty directory: the
 * stream extracted (mbstream -x), then prepared (mariadb-backup --prepare, with
 * t->defaults_file and t->backup_command): a datadir a server can start on.  -EEXIST when
 * dir holds anything; on a failure later, dir keeps what was extracted. */
BK_API int bk_mysql_physical_restore(bk_repo *repo, const bk_snapshot *snap, const char *dir,
                                     const bk_mysql_target *t) BK_WARN_UNUSED;

/* A restore to a point in time: a full backup with a binary log position made before
 * until (base, a dump or a physical backup; NULL: the newest --mysql dump), and the
 * archived binary logs (backup --mysql-binlogs) that lead from its position to until.
 * With until_gtid ("0-1-1234"), until is that transaction (in its domain) instead of a
 * time: those before it are replayed, not it.  bk_mysql_pitr_plan only decides; -ENOENT (with the reason: no such
 * snapshot, a log that was not archived, logs that end before until) when there is no way. */
typedef struct bk_mysql_pitr {
    bk_snapshot *dump;               /* the full backup loaded first */
    bool physical;                   /* it is a physical backup: not loaded (the server
                                        runs on its datadir), only replayed onto */
    bk_snapshot *archive;            /* the archive the logs come from */
    char **binlogs;                  /* the logs replayed, in order (from the dump's) */
    size_t nbinlogs;
    uint64_t start_pos;              /* in the first */
    int64_t until;                   /* events before this second are replayed (or 0) */
    char *until_gtid;                /* or the transactions before this GTID (or NULL) */
    char *stop_gtid;                 /* the last one replayed: its domain, sequence - 1 */
    bool nothing;                    /* the backup is just before until_gtid: no replay */
} bk_mysql_pitr;

BK_API int bk_mysql_pitr_plan(bk_repo *repo, const bk_filter *filter, const bk_snapshot *base,
                              int64_t until, const char *until_gtid,
                              bk_mysql_pitr *ret) BK_WARN_UNUSED;
/* "domain-server-sequence", sequence > 0 */
BK_API bool bk_mysql_gtid_valid(const char *gtid);
/* Load the plan's dumps (not a physical backup's), then replay the logs into the server of
 * t (mariadb-binlog --start-position --stop-datetime | mariadb); one database at a time:
 * those of t->databases, else those the dump holds (all at once after a physical backup).  report as for bk_mysql_restore, with db "binary logs" for the replays. */
BK_API int bk_mysql_pitr_run(bk_repo *repo, const bk_mysql_pitr *plan, const bk_mysql_target *t,
                             bk_mysql_report_fn report, void *userdata) BK_WARN_UNUSED;
BK_API void bk_mysql_pitr_free(bk_mysql_pitr *p);

/* ---- check, stats, keys ----------------------------------------------------------------- */

enum bk_check_option {
    BK_CHECK_READ_DATA = 1,          /* decrypt and re-hash every blob */
    BK_CHECK_SCAN_ORPHANS = 2,       /* walk the store for objects no catalog lists (RADOS) */
};

/* Which packs --read-data reads: all, the n-th of t parts (by pack id), or a random share. */
typedef struct bk_check_subset {
    unsigned n, t;                   /* 1 <= n <= t; t = 0: not by parts */
    double share;                    /* 0 < share <= 1 when t = 0; 0: all */
} bk_check_subset;

typedef struct bk_check_result {
    uint64_t snapshots, trees, blobs, packs, index_objects;
    uint64_t errors;                 /* problems found (each reported through the log) */
    uint64_t bytes_read;
    uint64_t packs_read;             /* packs read whole (--read-data) */
    uint64_t orphans;                /* objects in no catalog (BK_CHECK_SCAN_ORPHANS) */
} bk_check_result;

/* Problems found are reported at BK_LOG_ERROR, naming the object; the function returns
 * 0 when it ran (inspect ret->errors) or a negative errno when it could not. */
BK_API int bk_check(bk_repo *repo, unsigned flags, const bk_check_subset *subset,
                    bk_check_result *ret) BK_WARN_UNUSED;

/* The record of a check run, kept in the repository (status/check: the last check that ran
 * to its end; status/check-ok: the last that found no errors), for monitoring (arca status).
 * docs/FORMAT.md, status records. */
typedef struct bk_check_record {
    int64_t time;                    /* when it finished, seconds since the epoch */
    char host[256];                  /* where it ran */
    bool read_data;                  /* data read and verified (all or a subset) */
    double read_share;               /* share of the packs read: 1 all, 0 none */
    uint64_t errors;                 /* problems found */
    uint64_t snapshots, packs;
    double duration;                 /* seconds */
} bk_check_record;

/* Store rec as status/check and, when it found no errors, as status/check-ok too (each
 * replaces the one before).  Needs a lock (shared is enough). */
BK_API int bk_check_record_save(bk_repo *repo, const bk_check_record *rec) BK_WARN_UNUSED;
/* Read status/check-ok (ok = true) or status/check.  -ENOENT when there is none (no check
 * ran since this version, or none succeeded); -EBADMSG damaged.  No lock needed. */
BK_API int bk_check_record_load(bk_repo *repo, bool ok, bk_check_record *ret) BK_WARN_UNUSED;
/* Parse a record's plaintext JSON (pure; what load uses; fuzzed).  name: "check" or
 * "check-ok", which the document must name.  -EBADMSG malformed, -EPROTONOSUPPORT a newer
 * version. */
BK_API int bk_check_record_parse(const char *name, const uint8_t *p, size_t n,
                                 bk_check_record *ret) BK_WARN_UNUSED;

/* A repository lock held by another process (arca status, arca unlock). */
typedef struct bk_lock_info {
    char holder[512];                /* "shared lock by USER@HOST pid N (...) since TIME" */
    bool exclusive;
    int64_t since;                   /* when it was taken, seconds since the epoch; 0 unknown */
} bk_lock_info;
/* The locks held by others (this handle's own excepted); *ret is malloc'd (free it), NULL
 * when there are none.  Takes no lock and removes nothing. */
BK_API int bk_repo_locks(bk_repo *repo, bk_lock_info **ret, size_t *ret_n) BK_WARN_UNUSED;

typedef struct bk_stats {
    uint64_t snapshots;
    uint64_t packs, pack_bytes;
    uint64_t blobs, blob_bytes_raw, blob_bytes_stored;
    uint64_t data_blobs, tree_blobs;
    uint64_t index_objects;
} bk_stats;
BK_API int bk_stats_get(bk_repo *repo, bk_stats *ret) BK_WARN_UNUSED;

typedef struct bk_key_info {
    char id[BK_ID_HEX];
    bool current;                    /* the slot that opened this handle */
    bool damaged;                    /* its content does not match its name, or does not parse
                                        (created, host, user are then unknown) */
    int64_t created;
    char host[256];
    char user[256];
    bool backup_only;                /* a backup-only slot (bk_key_add_backup_only) */
    char backup_host[256];           /* the host it may back up as ("" any) */
} bk_key_info;

BK_API int bk_key_list(bk_repo *repo, bk_key_info **ret, size_t *ret_n) BK_WARN_UNUSED;
/* Adds a slot for pass; *ret_id (may be NULL) gets its id. */
BK_API int bk_key_add(bk_repo *repo, const char *pass, size_t passlen, char ret_id[BK_ID_HEX]) BK_WARN_UNUSED;
/* Adds a backup-only slot for pass (docs/security.md): its holder can add backups (as host
 * only, unless host is NULL or "") and nothing that reads what the repository holds.  The
 * first one seals the index objects again under the index key and marks the config (the
 * caller holds the exclusive lock).  -EPERM from a backup-only key. */
BK_API int bk_key_add_backup_only(bk_repo *repo, const char *pass, size_t passlen, const char *host,
                                  char ret_id[BK_ID_HEX]) BK_WARN_UNUSED;
/* Was repo opened with a backup-only key? */
BK_API bool bk_repo_backup_only(const bk_repo *repo);
/* id or unique prefix; refuses to remove the current slot or the last one (-EPERM). */
BK_API int bk_key_remove(bk_repo *repo, const char *id) BK_WARN_UNUSED;
/* Replace the current slot by one for pass. */
BK_API int bk_key_passwd(bk_repo *repo, const char *pass, size_t passlen, char ret_id[BK_ID_HEX]) BK_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif
