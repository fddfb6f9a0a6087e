/* archiver.c - backup: walk the paths, chunk new and changed files, save blobs and one
 * tree per directory, then the snapshot.
 *
 * The walk is depth first in name order, with openat() below each directory's fd, so a
 * directory's tree is complete when its walk returns.  Metadata (xattrs, ACLs, names of
 * owner and group) comes from libarchive's archive_read_disk_entry_from_file().  Files
 * whose size, mtime, ctime and inode equal those in the parent snapshot are not read:
 * their content list is taken from the parent tree.  Chunk ids are computed here; only
 * new blobs go to the writer's worker threads. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cdc.h"
#include "match.h"
#include "mysql.h"
#include "readahead.h"
#include "scan.h"
#include "snapshot.h"
#include "snapsum.h"
#include "util.h"
#include "writer.h"

#define PROGRESS_INTERVAL 0.1

struct bk_backup {
    bk_repo *repo;
    char **paths, **tags, **excludes;
    size_t npaths, ntags, nexcludes;
    char *host, *parent_arg, *stdin_name;
    int64_t time;
    int32_t time_nsec, tz;
    bool time_set, tz_set, one_fs, dry_run, no_parent;
    int stdin_fd;
    uint32_t chunk_avg;
    bk_progress_fn progress;
    void *progress_ud;
    bk_item_error_fn item_error;
    void *item_ud;

    /* run state */
    bk_writer *w;
    bk_hashpool *hashpool;      /* hashes the chunks of a large file on several cores */
    bk_readahead *readahead;    /* reads the next files of a directory ahead (NULL: none) */
    bk_scan *scan;              /* totals for progress, when someone watches */
    struct archive *ard;
    bk_chunker stream_chunker;
    bool mysql_on;
    bk_mysql_conf mysql;
    bk_tree mysql_files;        /* the dump's files, made before the walk */
    bk_mysql_pos mysql_pos;     /* where the dump (or the physical backup) is in the binary log */
    bool physical_on;
    bk_tree physical_files;     /* the physical backup's stream, made before the walk */
    bool binlogs_on, binlog_flush;
    bk_tree binlog_files;       /* the archived binary logs (old and new), made before the walk */
    bk_binlog *binlogs;         /* their descriptions */
    size_t nbinlogs;
    char *binlog_gap;
    bk_summary sum;
    double t0, last_progress;
    const char *current;
    char *current_copy;         /* the file being read: its path is freed before later reports */
};

/* ---- options ------------------------------------------------------------------------------ */

int bk_backup_new(bk_backup **ret)
{
    bk_backup *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->stdin_fd = -1;
    *ret = b;
    return 0;
}

void bk_backup_free(bk_backup *b)
{
    if (!b)
        return;
    bk_strv_free(b->paths, b->npaths);
    bk_strv_free(b->tags, b->ntags);
    bk_strv_free(b->excludes, b->nexcludes);
    free(b->host);
    free(b->parent_arg);
    free(b->stdin_name);
    free(b->current_copy);
    bk_mysql_conf_free(&b->mysql);
    free(b);
}

static int add_exclude_file(bk_backup *b, const char *path)
{
    uint8_t *data;
    size_t len;
    int r = bk_read_file(path, &data, &len);
    if (r < 0)
        return r;
    char *s = (char *)data;
    for (size_t i = 0; r == 0 && i < len;) {
        size_t e = i;
        while (e < len && s[e] != '\n')
            e++;
        size_t end = e;
        while (end > i && (s[end - 1] == '\r' || s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        size_t start = i;
        while (start < end && (s[start] == ' ' || s[start] == '\t'))
            start++;
        if (end > start && s[start] != '#') {
            char *pat = strndup(s + start, end - start);
            r = pat ? bk_strv_push(&b->excludes, &b->nexcludes, pat) : -ENOMEM;
            free(pat);
        }
        i = e + 1;
    }
    free(data);
    return r;
}

int bk_backup_set_str(bk_backup *b, int option, const char *v)
{
    if (!v)
        return -EINVAL;
    switch (option) {
    case BK_BACKUP_PATH: return bk_strv_push(&b->paths, &b->npaths, v);
    case BK_BACKUP_TAG: return bk_strv_push(&b->tags, &b->ntags, v);
    case BK_BACKUP_EXCLUDE: return bk_strv_push(&b->excludes, &b->nexcludes, v);
    case BK_BACKUP_EXCLUDE_FILE: return add_exclude_file(b, v);
    case BK_BACKUP_HOST: free(b->host); return (b->host = strdup(v)) ? 0 : -ENOMEM;
    case BK_BACKUP_PARENT: free(b->parent_arg); return (b->parent_arg = strdup(v)) ? 0 : -ENOMEM;
    case BK_BACKUP_STDIN_NAME:
        free(b->stdin_name);
        return (b->stdin_name = strdup(v)) ? 0 : -ENOMEM;
    case BK_BACKUP_MYSQL_DATABASE: {
        /* "a,b" names two */
        char *copy = strdup(v), *save = NULL;
        int r = copy ? 0 : -ENOMEM;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && r == 0; t = strtok_r(NULL, ",", &save))
            r = bk_strv_push(&b->mysql.databases, &b->mysql.ndatabases, t);
        free(copy);
        return r;
    }
    case BK_BACKUP_MYSQL_DEFAULTS_FILE:
        free(b->mysql.defaults_file);
        return (b->mysql.defaults_file = strdup(v)) ? 0 : -ENOMEM;
    case BK_BACKUP_MYSQL_DUMP_COMMAND:
        free(b->mysql.dump_command);
        return (b->mysql.dump_command = strdup(v)) ? 0 : -ENOMEM;
    case BK_BACKUP_MYSQL_CLIENT_COMMAND:
        free(b->mysql.client_command);
        return (b->mysql.client_command = strdup(v)) ? 0 : -ENOMEM;
    case BK_BACKUP_MYSQL_BACKUP_COMMAND:
        free(b->mysql.backup_command);
        return (b->mysql.backup_command = strdup(v)) ? 0 : -ENOMEM;
    }
    return -EINVAL;
}

int bk_backup_set_int(bk_backup *b, int option, int64_t v)
{
    switch (option) {
    case BK_BACKUP_TIME: b->time = v; b->time_set = true; return 0;
    case BK_BACKUP_TIME_NSEC:
        if (v < 0 || v >= 1000000000) return -ERANGE;
        b->time_nsec = (int32_t)v; return 0;
    case BK_BACKUP_TZ_OFFSET:
        if (v < -86400 || v > 86400) return -ERANGE;
        b->tz = (int32_t)v; b->tz_set = true; return 0;
    case BK_BACKUP_ONE_FILE_SYSTEM: b->one_fs = v != 0; return 0;
    case BK_BACKUP_DRY_RUN: b->dry_run = v != 0; return 0;
    case BK_BACKUP_STDIN_FD: b->stdin_fd = (int)v; return 0;
    case BK_BACKUP_NO_PARENT: b->no_parent = v != 0; return 0;
    case BK_BACKUP_MYSQL: b->mysql_on = v != 0; return 0;
    case BK_BACKUP_MYSQL_BINLOGS: b->binlogs_on = v != 0; return 0;
    case BK_BACKUP_MYSQL_FLUSH: b->binlog_flush = v != 0; return 0;
    case BK_BACKUP_MYSQL_PHYSICAL: b->physical_on = v != 0; return 0;
    case BK_BACKUP_CHUNK_AVG:
        if (v < 256 || v > (BK_CHUNK_SIZE_LIMIT / 8) || (v & (v - 1)) != 0) return -ERANGE;
        b->chunk_avg = (uint32_t)v; return 0;
    }
    return -EINVAL;
}

void bk_backup_set_progress(bk_backup *b, bk_progress_fn fn, void *userdata)
{
    b->progress = fn;
    b->progress_ud = userdata;
}

void bk_backup_set_item_error(bk_backup *b, bk_item_error_fn fn, void *userdata)
{
    b->item_error = fn;
    b->item_ud = userdata;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void item_error(bk_backup *b, const char *path, int code, const char *what)
{
    b->sum.errors++;
    if (b->item_error) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-code));
        b->item_error(path, code, msg, b->item_ud);
    }
}

static void report(bk_backup *b, bool force)
{
    if (!b->progress)
        return;
    double now = bk_monotonic();
    if (!force && now - b->last_progress < PROGRESS_INTERVAL)
        return;
    b->last_progress = now;
    bk_writer_stats ws;
    bk_writer_stats_get(b->w, &ws);
    uint64_t files_total = 0, bytes_total = 0;
    bool scanned = false;
    if (b->scan)
        bk_scan_get(b->scan, &files_total, &bytes_total, &scanned);
    bk_progress p = {
        .files_total = scanned ? files_total : 0,
        .bytes_total = scanned ? bytes_total : 0,
        .files_done = b->sum.files_new + b->sum.files_changed + b->sum.files_unchanged,
        .bytes_done = b->sum.bytes_new + b->sum.bytes_changed + b->sum.bytes_unchanged,
        .bytes_added = ws.bytes_added,
        .errors = b->sum.errors,
        .current = b->current,
        .elapsed = now - b->t0,
    };
    b->progress(&p, b->progress_ud);
}

static bool excluded(const bk_backup *b, const char *path)
{
    return bk_match_exclude(b->excludes, b->nexcludes, path);
}

static uint8_t node_type(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return BK_NODE_FILE;
    case S_IFDIR: return BK_NODE_DIR;
    case S_IFLNK: return BK_NODE_SYMLINK;
    case S_IFIFO: return BK_NODE_FIFO;
    case S_IFCHR: return BK_NODE_CHARDEV;
    case S_IFBLK: return BK_NODE_BLOCKDEV;
    case S_IFSOCK: return BK_NODE_SOCKET;
    }
    return 0;
}

static int node_from_stat(bk_node *n, const char *name, size_t len, const struct stat *st)
{
    memset(n, 0, sizeof(*n));
    n->name = strndup(name, len);
    if (!n->name)
        return -ENOMEM;
    n->name_len = len;
    n->type = node_type(st->st_mode);
    n->mode = st->st_mode & 07777;
    n->uid = st->st_uid;
    n->gid = st->st_gid;
    n->size = n->type == BK_NODE_FILE || n->type == BK_NODE_SYMLINK ? (uint64_t)st->st_size : 0;
    n->mtime = st->st_mtim.tv_sec;
    n->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    n->ctime = st->st_ctim.tv_sec;
    n->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
    n->inode = st->st_ino;
    n->dev = st->st_dev;
    n->nlink = st->st_nlink;
    if (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV)
        n->rdev = st->st_rdev;
    return 0;
}

/* xattrs, ACLs, owner names; fd may be -1 (symlinks, devices): path is used then */
static int read_metadata(bk_backup *b, bk_node *n, const char *path, int fd, const struct stat *st)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -ENOMEM;
    archive_entry_copy_pathname(e, path);
    archive_entry_copy_sourcepath(e, path);
    int r = archive_read_disk_entry_from_file(b->ard, e, fd, st);
    if (r < ARCHIVE_WARN) {
        int err = archive_errno(b->ard);
        archive_entry_free(e);
        return err > 0 ? -err : -EIO;
    }
    unsigned long fset, fclear;
    archive_entry_fflags(e, &fset, &fclear);   /* FS_IOC_GETFLAGS, files and directories */
    n->fflags = (uint32_t)fset & BK_FFLAGS_KEPT;
    const char *u = archive_entry_uname(e), *g = archive_entry_gname(e);
    n->user = strdup(u ? u : "");
    n->group = strdup(g ? g : "");
    r = (!n->user || !n->group) ? -ENOMEM : 0;
    if (r == 0 && archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_POSIX1E) > 0) {
        n->acl_posix = archive_entry_acl_to_text(e, NULL, ARCHIVE_ENTRY_ACL_STYLE_EXTRA_ID |
                                                 ARCHIVE_ENTRY_ACL_STYLE_MARK_DEFAULT);
    }
    if (r == 0 && archive_entry_acl_count(e, ARCHIVE_ENTRY_ACL_TYPE_NFS4) > 0)
        n->acl_nfs4 = archive_entry_acl_to_text(e, NULL, ARCHIVE_ENTRY_ACL_STYLE_EXTRA_ID);
    size_t cnt = (size_t)archive_entry_xattr_reset(e);
    if (r == 0 && cnt > 0) {
        n->xattrs = calloc(cnt, sizeof(bk_xattr));
        if (!n->xattrs)
            r = -ENOMEM;
        const char *name;
        const void *val;
        size_t sz;
        while (r == 0 && n->nxattrs < cnt && archive_entry_xattr_next(e, &name, &val, &sz) == ARCHIVE_OK) {
            bk_xattr *x = &n->xattrs[n->nxattrs];
            x->name = strdup(name);
            x->value = malloc(sz ? sz : 1);
            if (!x->name || !x->value) {
                free(x->name);
                free(x->value);
                r = -ENOMEM;
                break;
            }
            memcpy(x->value, val, sz);
            x->len = sz;
            n->nxattrs++;
        }
    }
    archive_entry_free(e);
    return r;
}

/* ---- files -------------------------------------------------------------------------------------- */

static void tick(void *ctx)
{
    report(ctx, false);
}

/* Chunk what fd holds into n's content: a regular file of st's size (its holes skipped),
 * or a stream when st is NULL.  Read errors go to *io_err (and return 0). */
static int read_content(bk_backup *b, const bk_chunker *ch, int fd, const struct stat *st,
                        bk_node *n, int *io_err)
{
    bk_cdc c;
    bk_cdc_init(&c, ch, b->repo->keys, b->w);
    c.pool = b->hashpool;
    c.tick = tick;
    c.tick_ctx = b;
    int r = st ? bk_cdc_read_file(&c, fd, (uint64_t)st->st_size, io_err)
               : bk_cdc_read_fd(&c, fd, io_err);
    if (r == 0)
        r = bk_cdc_finish(&c, n);
    else if (r == 1)
        r = 0;
    else if (r == -EINTR)
        r = bk_repo_check_interrupt(b->repo);
    b->sum.bytes_read += c.bytes_read;
    bk_cdc_free(&c);
    return r;
}

/* Did the file change while it was read?  before: as it was when opened. */
static bool changed_while_read(int fd, const struct stat *before)
{
    struct stat after;
    return fstat(fd, &after) < 0 || after.st_size != before->st_size ||
           after.st_mtim.tv_sec != before->st_mtim.tv_sec ||
           after.st_mtim.tv_nsec != before->st_mtim.tv_nsec ||
           after.st_ctim.tv_sec != before->st_ctim.tv_sec ||
           after.st_ctim.tv_nsec != before->st_ctim.tv_nsec;
}

static bool pieces_known(bk_backup *b, const bk_content *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!c[i].hole && !bk_writer_has(b->w, &c[i].id))
            return false;
    return true;
}

/* Is every blob of the parent's node still stored (its lists, and what they list)?  The
 * lists are read one at a time. */
static bool content_known(bk_backup *b, const bk_node *n)
{
    if (!n->nlists)
        return pieces_known(b, n->content, n->ncontent);
    for (size_t i = 0; i < n->nlists; i++) {
        if (!bk_writer_has(b->w, &n->lists[i].id))
            return false;
        bk_content *v = NULL;
        size_t nv = 0;
        bool ok = bk_repo_load_clist(b->repo, &n->lists[i], &v, &nv) == 0 && pieces_known(b, v, nv);
        free(v);
        if (!ok) {
            bk_repo_clear_error(b->repo);   /* read again: the file is stored anew */
            return false;
        }
    }
    return true;
}

static bool unchanged(bk_backup *b, const bk_node *old, const struct stat *st)
{
    return bk_node_same_stat(old, st) && content_known(b, old);
}

/* A regular file: reuse the parent's node if unchanged, else read and chunk it.  A file
 * that cannot be read is reported and skipped (n->type stays 0). */
static int save_file(bk_backup *b, int dirfd, const char *name, const char *path,
                     const struct stat *st, const bk_node *old, bk_node *n)
{
    if (unchanged(b, old, st)) {
        /* ctime is equal, so owner, mode, xattrs and ACLs are too: keep the old node */
        int r = bk_node_copy(old, n);
        if (r == 0 && (r = bk_cdc_to_lists(b->repo->keys, b->w, n)) < 0)   /* a parent of before lists */
            bk_node_clear(n);
        if (r < 0)
            return r;
        n->dev = st->st_dev;
        n->nlink = st->st_nlink;
        b->sum.files_unchanged++;
        b->sum.bytes_unchanged += n->size;
        return 0;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        item_error(b, path, -errno, "cannot open");
        return 0;
    }
    struct stat st2;
    int r = 0, io_err = 0;
    const char *what = "cannot read";
    if (fstat(fd, &st2) < 0) {
        io_err = -errno;
    } else if (!S_ISREG(st2.st_mode)) {
        io_err = -EBUSY;
        what = "replaced while reading";
    } else if ((r = node_from_stat(n, name, strlen(name), &st2)) == 0 &&
               (r = read_metadata(b, n, path, fd, &st2)) < 0 && r != -ENOMEM) {
        io_err = r;
        r = 0;
        what = "cannot read metadata";
    }
    if (r == 0 && io_err == 0) {
        free(b->current_copy);
        b->current = b->current_copy = strdup(path);
        r = read_content(b, &b->repo->chunker, fd, &st2, n, &io_err);
    }
    /* The snapshot keeps what was read, with the times seen before reading, so that the
     * next backup reads the file again. */
    bool racy = r == 0 && io_err == 0 && changed_while_read(fd, &st2);
    close(fd);
    if (r < 0)
        return r;
    if (io_err) {
        item_error(b, path, io_err, what);
        bk_node_clear(n);
        return 0;
    }
    if (racy) {
        b->sum.files_changed_while_read++;
        if (b->item_error)
            b->item_error(path, 0, "changed while it was read (saved as read)", b->item_ud);
    }
    if (old && old->type == BK_NODE_FILE) {
        b->sum.files_changed++;
        b->sum.bytes_changed += n->size;
    } else {
        b->sum.files_new++;
        b->sum.bytes_new += n->size;
    }
    return 0;
}

/* ---- directories ------------------------------------------------------------------------------ */

static int save_dir(bk_backup *b, int fd, const char *path, const bk_node *old, dev_t root_dev,
                    bk_id *ret_tree);

static int save_tree(bk_backup *b, bk_tree *t, bk_id *ret)
{
    int r = bk_tree_sort(t);
    if (r < 0)
        return r;
    bk_buf buf = BK_BUF_INIT;
    r = bk_tree_encode(t->nodes, t->n, &buf);
    if (r == 0) {
        r = bk_blob_id(b->repo->keys, buf.data, buf.len, ret);
        if (r == 0)
            r = bk_writer_add(b->w, BK_KIND_TREE, ret, buf.data, buf.len);
        r = r < 0 ? r : 0;
    }
    bk_buf_free(&buf);
    return r;
}

static int load_old_tree(bk_backup *b, const bk_node *old, bk_tree *t)
{
    memset(t, 0, sizeof(*t));
    if (!old || old->type != BK_NODE_DIR || bk_id_is_zero(&old->subtree))
        return 0;
    int r = bk_repo_load_tree(b->repo, &old->subtree, t);
    if (r < 0) {
        /* an unreadable parent tree only costs speed */
        bk_repo_clear_error(b->repo);
        memset(t, 0, sizeof(*t));
    }
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    char *p = malloc(dl + nl + 2);
    if (p) {
        memcpy(p, dir, dl);
        if (!slash)
            p[dl++] = '/';
        memcpy(p + dl, name, nl + 1);
    }
    return p;
}

/* One entry of a real directory: fills n (type 0 if it is skipped). */
static int save_entry(bk_backup *b, int dirfd, const char *name, const char *path,
                      const bk_node *old, dev_t root_dev, bk_node *n)
{
    struct stat st;
    memset(n, 0, sizeof(*n));
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)   /* vanished since readdir: not an error */
            item_error(b, path, -errno, "cannot stat");
        return 0;
    }
    int r = 0;
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        return save_file(b, dirfd, name, path, &st, old, n);
    case S_IFDIR: {
        if ((r = node_from_stat(n, name, strlen(name), &st)) < 0)
            return r;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
        if (fd < 0 && errno == EPERM)
            fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            item_error(b, path, -errno, "cannot open directory");
            bk_node_clear(n);
            return 0;
        }
        r = read_metadata(b, n, path, fd, &st);
        if (r == 0) {
            if (b->one_fs && st.st_dev != root_dev) {
                bk_tree empty = { 0 };
                r = save_tree(b, &empty, &n->subtree);   /* a mount point: kept, not entered */
            } else {
                r = save_dir(b, fd, path, old, root_dev, &n->subtree);
            }
        }
        close(fd);
        return r;
    }
    case S_IFLNK: {
        if ((r = node_from_stat(n, name, strlen(name), &st)) < 0)
            return r;
        size_t cap = (size_t)st.st_size + 1;
        if (cap < 256)
            cap = 256;
        n->target = malloc(cap);
        if (!n->target)
            return -ENOMEM;
        ssize_t k = readlinkat(dirfd, name, n->target, cap);
        if (k < 0 || (size_t)k >= cap) {
            item_error(b, path, k < 0 ? -errno : -ENAMETOOLONG, "cannot read link");
            bk_node_clear(n);
            return 0;
        }
        n->target[k] = 0;
        n->target_len = (size_t)k;
        n->size = (uint64_t)k;
        r = read_metadata(b, n, path, -1, &st);
        break;
    }
    default:
        if ((r = node_from_stat(n, name, strlen(name), &st)) < 0)
            return r;
        if (!n->type) {
            bk_node_clear(n);
            return 0;
        }
        r = read_metadata(b, n, path, -1, &st);
        break;
    }
    if (r < 0 && r != -ENOMEM) {
        item_error(b, path, r, "cannot read metadata");
        bk_node_clear(n);
        return 0;
    }
    return r;
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return bk_name_cmp(x, strlen(x), y, strlen(y));
}

static int save_dir(bk_backup *b, int fd, const char *path, const bk_node *old, dev_t root_dev,
                    bk_id *ret_tree)
{
    int dfd = dup(fd);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    char **names = NULL;
    size_t n = 0;
    int r = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((r = bk_strv_push(&names, &n, de->d_name)) < 0)
            break;
    }
    if (r == 0 && errno)
        item_error(b, path, -errno, "cannot list directory");
    closedir(d);
    if (r < 0) {
        bk_strv_free(names, n);
        return r;
    }
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_names);

    bk_tree old_tree, t = { 0 };
    load_old_tree(b, old, &old_tree);
    b->sum.total_dirs++;
    /* on a disk, the next files are read while this one is chunked (not on tmpfs, where
     * the page cache is the storage) */
    struct statfs sf;
    bk_readahead *ra = b->readahead && n > 1 && fstatfs(fd, &sf) == 0 &&
                       sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC ? b->readahead : NULL;
    bk_readahead_set(ra, fd, names, n, &old_tree);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if ((r = bk_repo_check_interrupt(b->repo)) < 0)
            break;
        bk_readahead_at(ra, i);
        char *sub = join(path, names[i]);
        if (!sub) {
            r = -ENOMEM;
            break;
        }
        if (!excluded(b, sub)) {
            bk_node node;
            const bk_node *o = bk_tree_find(&old_tree, names[i], strlen(names[i]));
            r = save_entry(b, fd, names[i], sub, o, root_dev, &node);
            if (ra && node.type == BK_NODE_DIR) {   /* (its walk had the thread) */
                bk_readahead_set(ra, fd, names, n, &old_tree);
                bk_readahead_at(ra, i + 1);
            }
            if (r == 0 && node.type) {
                if (node.type == BK_NODE_FILE) {
                    b->sum.total_files++;
                    b->sum.total_bytes += node.size;
                }
                r = bk_tree_push(&t, &node);
            }
            bk_node_clear(&node);
            report(b, false);
        }
        free(sub);
    }
    bk_readahead_stop(ra);
    bk_strv_free(names, n);
    if (r == 0)
        r = save_tree(b, &t, ret_tree);
    if (r == 0) {
        if (!old)
            b->sum.dirs_new++;
        else if (old->type == BK_NODE_DIR && bk_id_cmp(&old->subtree, ret_tree) == 0)
            b->sum.dirs_unchanged++;
        else
            b->sum.dirs_changed++;
    }
    bk_tree_free(&t);
    bk_tree_free(&old_tree);
    return r;
}

/* ---- the top: the given paths under a root of virtual directories ------------------------ */

typedef enum vkind {
    VN_DIR = 0,                 /* a real directory above the given paths */
    VN_VDIR,                    /* a directory that exists only in the snapshot */
    VN_LEAF,                    /* a given path: saved with everything below it */
    VN_STREAM,                  /* the stdin stream */
    VN_MYSQL,                   /* the database dumps (b->mysql_files) */
    VN_BINLOGS,                 /* the archived binary logs (b->binlog_files) */
    VN_PHYSICAL,                /* the physical backup's stream (b->physical_files) */
} vkind;

typedef struct vnode {
    char *name;
    vkind kind;
    struct vnode *kids;
    size_t nkids;
} vnode;

static void vnode_free(vnode *v)
{
    for (size_t i = 0; i < v->nkids; i++)
        vnode_free(&v->kids[i]);
    free(v->kids);
    free(v->name);
}

static int vnode_add(vnode *root, const char *path, vkind kind)
{
    vnode *cur = root;
    const char *p = path;
    while (*p == '/')
        p++;
    if (!*p) {
        cur->kind = VN_LEAF;   /* "/" itself */
        return 0;
    }
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        vnode *next = NULL;
        for (size_t i = 0; i < cur->nkids; i++)
            if (strlen(cur->kids[i].name) == len && memcmp(cur->kids[i].name, p, len) == 0)
                next = &cur->kids[i];
        if (!next) {
            vnode *k = realloc(cur->kids, (cur->nkids + 1) * sizeof(*k));
            if (!k)
                return -ENOMEM;
            cur->kids = k;
            next = &cur->kids[cur->nkids++];
            memset(next, 0, sizeof(*next));
            next->name = strndup(p, len);
            if (!next->name)
                return -ENOMEM;
            next->kind = kind == VN_LEAF ? VN_DIR : VN_VDIR;
        }
        cur = next;
        p += len;
        while (*p == '/')
            p++;
    }
    cur->kind = kind;
    return 0;
}

/* Lexically normalise to an absolute path without ".", ".." or repeated slashes. */
static char *normalize_path(const char *in)
{
    char cwd[4096];
    size_t inlen = strlen(in);
    if (in[0] != '/' && !getcwd(cwd, sizeof(cwd)))
        return NULL;
    size_t cap = inlen + (in[0] != '/' ? strlen(cwd) : 0) + 3;
    char *src = malloc(cap), *out = malloc(cap);
    if (!src || !out) {
        free(src);
        free(out);
        return NULL;
    }
    if (in[0] == '/')
        snprintf(src, cap, "%s", in);
    else
        snprintf(src, cap, "%s/%s", cwd, in);
    size_t o = 0;
    for (char *p = src; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 1 && p[0] == '.') {
            /* skip */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            out[o++] = '/';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    free(src);
    return out;
}

static int save_vnode(bk_backup *b, vnode *v, const char *path, const bk_node *old, bk_node *n);

/* A file made from a stream: new, changed or unchanged against the parent's. */
static void count_stream(bk_backup *b, const bk_node *old, const bk_node *n)
{
    b->sum.total_files++;
    b->sum.total_bytes += n->size;
    if (old && bk_node_content_equal(old, n)) {
        b->sum.files_unchanged++;
        b->sum.bytes_unchanged += n->size;
    } else if (old && old->type == BK_NODE_FILE) {
        b->sum.files_changed++;
        b->sum.bytes_changed += n->size;
    } else {
        b->sum.files_new++;
        b->sum.bytes_new += n->size;
    }
}

/* The database dumps' (the binary logs', the physical backup's) directory: files made
 * before the walk. */
static int save_mysql(bk_backup *b, const bk_tree *files, const bk_node *old, bk_node *dir)
{
    bk_tree old_tree, t = { 0 };
    load_old_tree(b, old, &old_tree);
    int r = 0;
    for (size_t i = 0; r == 0 && i < files->n; i++) {
        bk_node n;
        r = bk_node_copy(&files->nodes[i], &n);
        if (r < 0)
            break;
        if (files != &b->binlog_files)   /* (a binary log keeps its last event's time) */
            n.mtime = n.ctime = dir->mtime;
        count_stream(b, bk_tree_find(&old_tree, n.name, n.name_len), &n);
        r = bk_tree_push(&t, &n);
        bk_node_clear(&n);
    }
    if (r == 0)
        r = save_tree(b, &t, &dir->subtree);
    bk_tree_free(&t);
    bk_tree_free(&old_tree);
    return r;
}

static int stream_file(bk_backup *b, const char *name, const bk_node *old, bk_node *n)
{
    int64_t t;
    int32_t ns, tz;
    bk_time_now(&t, &ns, &tz);
    /* the dump profile unless --chunk-size-avg, recorded as for the dumps */
    const bk_chunker *ch = &b->stream_chunker;
    int r = bk_node_made_file(n, name, (uint32_t)ch->avg);
    if (r < 0)
        return r;
    n->mtime = n->ctime = b->time_set ? b->time : t;
    b->current = name;
    int io_err = 0;
    r = read_content(b, ch, b->stdin_fd, NULL, n, &io_err);
    if (r < 0)
        return r;
    if (io_err)
        return bk_repo_error(b->repo, io_err, "cannot read the stream for %s: %s", name,
                             strerror(-io_err));
    count_stream(b, old, n);
    return 0;
}

/* A given path (leaf): stat it and save it with everything below. */
static int save_leaf(bk_backup *b, const char *path, const bk_node *old, bk_node *n)
{
    const char *slash = strrchr(path, '/');
    char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!dir)
        return -ENOMEM;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (dirfd < 0)
        return bk_repo_error(b->repo, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    int r = 0;
    if (fstatat(dirfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
        r = bk_repo_error(b->repo, -errno, "%s: %s", path, strerror(errno));
    if (r == 0)
        r = save_entry(b, dirfd, slash + 1, path, old, st.st_dev, n);
    if (r == 0 && n->type == BK_NODE_FILE) {
        b->sum.total_files++;
        b->sum.total_bytes += n->size;
    }
    close(dirfd);
    return r;
}

/* Intermediate directory of the given paths: its own metadata, only the given children. */
static int save_vnode(bk_backup *b, vnode *v, const char *path, const bk_node *old, bk_node *n)
{
    memset(n, 0, sizeof(*n));
    bk_tree old_tree, t = { 0 };
    struct stat st;
    int r = 0;
    if (v->name && v->kind == VN_DIR && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        r = node_from_stat(n, v->name, strlen(v->name), &st);
        if (r == 0)
            r = read_metadata(b, n, path, -1, &st);
    } else if (v->name) {
        int64_t now;
        int32_t ns, tz;
        bk_time_now(&now, &ns, &tz);
        n->name = strdup(v->name);
        n->user = strdup("");
        n->group = strdup("");
        if (!n->name || !n->user || !n->group)
            r = -ENOMEM;
        n->name_len = n->name ? strlen(n->name) : 0;
        n->type = BK_NODE_DIR;
        n->mode = 0755;
        n->uid = getuid();
        n->gid = getgid();
        n->mtime = n->ctime = b->time_set ? b->time : now;
    }
    if (r < 0)
        return r;
    if (v->kind == VN_MYSQL || v->kind == VN_BINLOGS || v->kind == VN_PHYSICAL)
        return save_mysql(b, v->kind == VN_MYSQL ? &b->mysql_files :
                             v->kind == VN_BINLOGS ? &b->binlog_files : &b->physical_files, old, n);
    load_old_tree(b, old, &old_tree);
    for (size_t i = 0; r == 0 && i < v->nkids; i++) {
        vnode *k = &v->kids[i];
        char *sub = join(path, k->name);
        if (!sub) {
            r = -ENOMEM;
            break;
        }
        const bk_node *o = bk_tree_find(&old_tree, k->name, strlen(k->name));
        bk_node node;
        memset(&node, 0, sizeof(node));
        if (k->kind == VN_STREAM)
            r = stream_file(b, k->name, o, &node);
        else if (k->kind == VN_LEAF)
            r = save_leaf(b, sub, o, &node);
        else
            r = save_vnode(b, k, sub, o, &node);
        if (r == 0 && node.type)
            r = bk_tree_push(&t, &node);
        bk_node_clear(&node);
        free(sub);
    }
    if (r == 0)
        r = save_tree(b, &t, &n->subtree);
    bk_tree_free(&t);
    bk_tree_free(&old_tree);
    return r;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* A backup adds without bound: its additions to the index go into runs on disk once the
 * RAM part holds ARCA_INDEX_SPILL entries (for tests and tuning; default 786,432, the most
 * a hash table of 2^20 slots holds: about 56 MiB). */
static void spill_setup(bk_repo *repo)
{
    size_t at = 786432;
    const char *e = getenv("ARCA_INDEX_SPILL");
    if (e && *e) {
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        if (!*end && v > 0)
            at = (size_t)v;
    }
    if (bk_index_spill_setup(&repo->index, getenv("TMPDIR"), at) < 0)
        bk_repo_log(repo, BK_LOG_WARNING, "out of memory: this run's additions to the index "
                    "stay in memory");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The parent: the newest snapshot of this host with the same paths: the one the last
 * backup here made (the parent hint), else picked from the summaries (no snapshot but
 * that one is read). */
static int find_parent(bk_backup *b, const char *host, char **paths, size_t npaths, bk_snapshot **ret)
{
    *ret = NULL;
    if (b->no_parent)
        return 0;
    bool backup_only = b->repo->keys->backup_only;
    if (b->parent_arg && backup_only)
        return bk_repo_error(b->repo, -EACCES, "a backup-only key cannot read snapshots: its "
                             "parent is the last backup this host recorded (no --parent)");
    if (b->parent_arg)
        return bk_snapshot_find(b->repo, b->parent_arg, NULL, ret);
    int r = bk_parent_hint_get(b->repo, host, paths, npaths, ret);
    if (r < 0 || *ret || backup_only)   /* (backup-only: its record, or no parent) */
        return r;
    bk_snapsum *v;
    size_t n;
    r = bk_snapsums_get(b->repo, &v, &n);
    if (r < 0)
        return r;
    for (size_t i = n; r == 0 && i-- > 0;) {
        if (strcmp(v[i].host, host) != 0 || !bk_strv_eq(v[i].paths, v[i].npaths, paths, npaths))
            continue;
        char hex[BK_ID_HEX];
        bk_id_hex(&v[i].id, hex);
        r = bk_repo_load_snapshot(b->repo, hex, ret);
        if (r == -ENOENT || r == -EBADMSG) {
            bk_repo_clear_error(b->repo);   /* gone or damaged since: no parent, read all */
            r = 0;
        }
        break;
    }
    bk_snapsums_free(v, n);
    return r;
}

int bk_backup_run(bk_backup *b, bk_repo *repo, bk_snapshot **ret_snap)
{
    b->repo = repo;
    if (b->npaths == 0 && !b->stdin_name && !b->mysql_on && !b->binlogs_on && !b->physical_on)
        return bk_repo_error(repo, -EINVAL, "nothing to back up: give paths, a stream or --mysql");
    if ((b->binlogs_on || b->physical_on) &&
        (b->npaths || b->stdin_name || b->mysql_on || (b->binlogs_on && b->physical_on)))
        return bk_repo_error(repo, -EINVAL, "%s in snapshots of their own (no paths, stream, "
                             "--mysql or other with them)", b->binlogs_on ? "binary logs are "
                             "archived" : "physical backups are made");
    if (b->stdin_name && b->stdin_fd < 0)
        b->stdin_fd = 0;
    int r = 0;
    b->t0 = bk_monotonic();
    memset(&b->sum, 0, sizeof(b->sum));

    /* normalised, sorted paths; a path under another given path is dropped */
    char **paths = NULL;
    size_t npaths = 0;
    for (size_t i = 0; r == 0 && i < b->npaths; i++) {
        char *p = normalize_path(b->paths[i]);
        if (!p)
            return bk_repo_error(repo, -ENOMEM, "cannot resolve %s", b->paths[i]);
        struct stat st;
        if (lstat(p, &st) < 0)
            r = bk_repo_error(repo, -errno, "%s: %s", b->paths[i], strerror(errno));
        else
            r = bk_strv_push(&paths, &npaths, p);
        free(p);
    }
    if (r == 0 && b->mysql_on)
        r = bk_strv_push(&paths, &npaths, "/" BK_MYSQL_DIR);
    if (r == 0 && b->binlogs_on)
        r = bk_strv_push(&paths, &npaths, "/" BK_BINLOG_DIR);
    if (r == 0 && b->physical_on)
        r = bk_strv_push(&paths, &npaths, "/" BK_PHYSICAL_DIR);
    char *stream_path = NULL;
    if (r == 0 && b->stdin_name) {
        char *abs = malloc(strlen(b->stdin_name) + 2);
        if (abs)
            sprintf(abs, "/%s", b->stdin_name);
        stream_path = abs ? normalize_path(abs) : NULL;
        free(abs);
        if (!stream_path || strcmp(stream_path, "/") == 0)
            r = bk_repo_error(repo, -EINVAL, "invalid stream name %s", b->stdin_name);
        else
            r = bk_strv_push(&paths, &npaths, stream_path);
    }
    if (r < 0) {
        bk_strv_free(paths, npaths);
        free(stream_path);
        return r;
    }
    if (npaths > 1)
        qsort(paths, npaths, sizeof(char *), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < npaths; i++) {
        bool covered = false;
        for (size_t j = 0; j < k && !covered; j++) {
            size_t l = strlen(paths[j]);
            covered = strcmp(paths[j], paths[i]) == 0 || strcmp(paths[j], "/") == 0 ||
                      (strncmp(paths[j], paths[i], l) == 0 && paths[i][l] == '/');
        }
        if (covered)
            free(paths[i]);
        else
            paths[k++] = paths[i];
    }
    npaths = k;
    /* made-up files (a stream, the dumps) must not overlap real paths */
    const char *made[2] = { stream_path, b->mysql_on ? "/" BK_MYSQL_DIR
                                         : b->binlogs_on ? "/" BK_BINLOG_DIR
                                         : b->physical_on ? "/" BK_PHYSICAL_DIR : NULL };
    for (size_t m = 0; r == 0 && m < 2; m++) {
        bool found = false;
        for (size_t i = 0; made[m] && i < npaths; i++)
            found |= strcmp(paths[i], made[m]) == 0;
        if (made[m] && !found)
            r = bk_repo_error(repo, -EINVAL, "%s overlaps another path to back up", made[m]);
    }
    if (r < 0) {
        bk_strv_free(paths, npaths);
        free(stream_path);
        return r;
    }

    char host[256];
    if (b->host)
        snprintf(host, sizeof(host), "%s", b->host);
    else
        bk_hostname(host, sizeof(host));
    const char *only = repo->keys->backup_only ? repo->keys->backup_host : "";
    if (*only && strcmp(host, only) != 0) {
        bk_strv_free(paths, npaths);
        free(stream_path);
        return bk_repo_error(repo, -EPERM, "this backup-only key may back up as host %s only, "
                             "not as %s", only, host);
    }

    vnode root = { 0 };
    bk_snapshot *parent = NULL, *snap = NULL;
    bk_node rootnode;
    memset(&rootnode, 0, sizeof(rootnode));
    for (size_t i = 0; r == 0 && i < npaths; i++) {
        vkind kind = VN_LEAF;
        if (stream_path && strcmp(stream_path, paths[i]) == 0)
            kind = VN_STREAM;
        else if (b->mysql_on && strcmp(paths[i], "/" BK_MYSQL_DIR) == 0)
            kind = VN_MYSQL;
        else if (b->binlogs_on && strcmp(paths[i], "/" BK_BINLOG_DIR) == 0)
            kind = VN_BINLOGS;
        else if (b->physical_on && strcmp(paths[i], "/" BK_PHYSICAL_DIR) == 0)
            kind = VN_PHYSICAL;
        r = vnode_add(&root, paths[i], kind);
    }
    free(stream_path);
    if (r == 0 && root.kind == VN_LEAF && (b->stdin_name || b->mysql_on || b->binlogs_on))
        r = bk_repo_error(repo, -EINVAL, "a backup of / cannot hold a stream or --mysql dumps too");
    /* streams and dumps: --chunk-size-avg, else the dump profile (a stream is most often
     * a dump: tests/bench/dumps.sh) */
    uint32_t stream_avg = b->chunk_avg ? b->chunk_avg :
                          b->mysql_on || b->stdin_name ? BK_MYSQL_CHUNK_AVG :
                          b->physical_on ? BK_PHYSICAL_CHUNK_AVG : 0;
    if (r == 0 && stream_avg)
        r = bk_repo_chunker_for(repo, stream_avg, &b->stream_chunker);
    const bk_chunker *stream_ch = stream_avg ? &b->stream_chunker : &repo->chunker;
    if (r == 0)
        r = find_parent(b, host, paths, npaths, &parent);
    if (r == 0 && b->progress && !b->stdin_name &&
        bk_scan_start(paths, npaths, b->excludes, b->nexcludes, b->one_fs, &b->scan) < 0)
        b->scan = NULL;   /* only the ETA is lost */
    if (r == 0)
        r = bk_writer_new(repo, b->dry_run, &b->w);
    if (r == 0)
        r = bk_hashpool_new(repo->keys, bk_repo_threads(repo) - 1, &b->hashpool);
    if (r == 0 && npaths)
        r = bk_readahead_new(&b->readahead);
    if (r == 0 && !b->dry_run)
        spill_setup(repo);
    if (r == 0) {
        b->ard = archive_read_disk_new();
        if (!b->ard)
            r = -ENOMEM;
        else
            archive_read_disk_set_standard_lookup(b->ard);
    }
    bk_node parent_root;
    memset(&parent_root, 0, sizeof(parent_root));
    if (parent) {
        parent_root.type = BK_NODE_DIR;
        parent_root.subtree = parent->tree;
    }
    if (r == 0 && b->binlogs_on) {
        /* what the last archive has: its files (from its tree) and their descriptions */
        bk_node dir;
        bk_tree archived = { 0 };
        bool have = parent && bk_repo_find_node(repo, &parent->tree, "/" BK_BINLOG_DIR, &dir) == 0;
        if (have) {
            have = dir.type == BK_NODE_DIR && bk_repo_load_tree(repo, &dir.subtree, &archived) == 0;
            bk_node_clear(&dir);
        }
        bk_repo_clear_error(repo);
        b->current = "binary logs";
        r = bk_mysql_binlogs(repo, &b->mysql, b->binlog_flush, have ? &archived : NULL,
                             parent ? parent->binlogs : NULL, parent ? parent->nbinlogs : 0,
                             &repo->chunker, b->w, &b->binlog_files, &b->binlogs, &b->nbinlogs,
                             &b->binlog_gap);
        bk_tree_free(&archived);
        if (r == 0 && b->binlog_gap) {
            char what[600];
            snprintf(what, sizeof(what), "the server purged %s before it was archived (no "
                     "replay across it)", b->binlog_gap);
            b->sum.errors++;
            if (b->item_error)
                b->item_error("/" BK_BINLOG_DIR, -ENODATA, what, b->item_ud);
        }
    }
    if (r == 0 && b->physical_on) {
        b->current = "mysql-physical";
        r = bk_mysql_physical(repo, &b->mysql, stream_ch, b->w, tick, b, &b->physical_files,
                              &b->mysql_pos);
    }
    if (r == 0 && b->mysql_on) {
        /* first, so that the databases are dumped as of the start of the run */
        b->current = "mysql";
        r = bk_mysql_dump(repo, &b->mysql, stream_ch, b->w, tick, b, &b->mysql_files, &b->mysql_pos);
    }
    if (r == 0) {
        if (root.kind == VN_LEAF) {
            /* "/" itself */
            int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) < 0)
                r = bk_repo_error(repo, -errno, "/: %s", strerror(errno));
            else
                r = save_dir(b, fd, "/", parent ? &parent_root : NULL, st.st_dev, &rootnode.subtree);
            if (fd >= 0)
                close(fd);
        } else {
            r = save_vnode(b, &root, "/", parent ? &parent_root : NULL, &rootnode);
        }
    }
    /* flush and index whatever was stored, even when the run failed: the next run
     * finds those blobs */
    if (b->w) {
        int rf = bk_writer_finish(b->w);
        if (r == 0)
            r = rf;
    }
    if (r == 0) {
        bk_writer_stats ws;
        bk_writer_stats_get(b->w, &ws);
        snap = calloc(1, sizeof(*snap));
        if (!snap)
            r = -ENOMEM;
        else {
            if (b->time_set) {
                snap->time = b->time;
                snap->time_nsec = b->time_nsec;
                snap->tz_offset = b->tz_set ? b->tz : 0;
                if (!b->tz_set) {
                    int64_t t;
                    int32_t ns, tz;
                    bk_time_now(&t, &ns, &tz);
                    snap->tz_offset = tz;
                }
            } else {
                bk_time_now(&snap->time, &snap->time_nsec, &snap->tz_offset);
            }
            char user[256];
            bk_username(user, sizeof(user));
            snap->host = strdup(host);
            snap->username = strdup(user);
            snap->program = strdup("arca " BK_VERSION_STRING);
            snap->has_key_slot = bk_id_parse(b->repo->key_id, &snap->key_slot) == 0;
            /* the dump's position in the binary log, for a replay from it (taken over) */
            snap->mysql_binlog_file = b->mysql_pos.binlog_file;
            snap->mysql_binlog_pos = b->mysql_pos.binlog_pos;
            snap->mysql_gtid = b->mysql_pos.gtid;
            memset(&b->mysql_pos, 0, sizeof(b->mysql_pos));
            snap->binlogs = b->binlogs;
            snap->nbinlogs = b->nbinlogs;
            snap->binlog_gap = b->binlog_gap;
            b->binlogs = NULL;
            b->nbinlogs = 0;
            b->binlog_gap = NULL;
            snap->uid = getuid();
            snap->gid = getgid();
            snap->paths = paths;
            snap->npaths = npaths;
            paths = NULL;
            npaths = 0;
            if (bk_strv_dup(b->tags, b->ntags, &snap->tags) == 0)
                snap->ntags = b->ntags;
            snap->tree = rootnode.subtree;
            if (parent) {
                snap->has_parent = true;
                snap->parent = parent->id;
            }
            /* record the streams' profile when streams are all there is */
            bool only_streams = (size_t)(b->stdin_name != NULL) + b->mysql_on + b->physical_on ==
                                snap->npaths;
            const bk_chunker *ch = only_streams ? stream_ch : &repo->chunker;
            snap->chunk_min = (uint32_t)ch->min;
            snap->chunk_avg = (uint32_t)ch->avg;
            snap->chunk_max = (uint32_t)ch->max;
            b->sum.blobs_added = ws.blobs_added;
            b->sum.bytes_added = ws.bytes_added;
            b->sum.bytes_added_raw = ws.bytes_added_raw;
            b->sum.duration = bk_monotonic() - b->t0;
            snap->has_summary = true;
            snap->summary = b->sum;
            if (!snap->host || !snap->username || !snap->program)
                r = -ENOMEM;
            if (r == 0 && !b->dry_run) {
                r = bk_repo_save_snapshot(repo, snap);
                if (r == 0 && repo->keys->backup_only) {
                    bk_own_parent_set(repo, snap);
                    bk_own_trees_retain(repo);
                } else if (r == 0) {
                    bk_parent_hint_set(repo, host, snap->paths, snap->npaths, &snap->id);
                }
                if (r == 0) {
                    char hex[BK_ID_HEX];
                    bk_id_hex(&snap->id, hex);
                    uint64_t size = 0;
                    if (bk_be_stat(repo->be, BK_OBJ_SNAPSHOT, hex, &size) == 0)
                        snap->summary.bytes_added += size;
                }
            }
        }
    }
    report(b, true);
    if (r < 0 && bk_repo_errcode(repo) == 0)
        bk_repo_error(repo, r, "backup failed: %s", strerror(-r));
    if (b->ard)
        archive_read_free(b->ard);
    b->ard = NULL;
    bk_writer_free(b->w);
    b->w = NULL;
    bk_hashpool_free(b->hashpool);
    b->hashpool = NULL;
    bk_readahead_free(b->readahead);
    b->readahead = NULL;
    bk_scan_free(b->scan);
    b->scan = NULL;
    bk_node_clear(&rootnode);
    bk_tree_free(&b->mysql_files);
    bk_tree_free(&b->physical_files);
    bk_mysql_pos_free(&b->mysql_pos);
    bk_tree_free(&b->binlog_files);
    bk_binlogs_free(b->binlogs, b->nbinlogs);
    b->binlogs = NULL;
    b->nbinlogs = 0;
    free(b->binlog_gap);
    b->binlog_gap = NULL;
    vnode_free(&root);
    bk_snapshot_free(parent);
    bk_strv_free(paths, npaths);
    if (r == 0 && ret_snap)
        *ret_snap = snap;
    else
        bk_snapshot_free(snap);
    return r;
}
