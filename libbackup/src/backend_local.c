/* backend_local.c - a repository in a local directory.
 * Layout: config, keys/<id>, data/<2 hex>/<id>, index/<id>, snapshots/<id>, locks/.
 * Writes go to a temporary file that is fsynced and then hard-linked to its name: link()
 * fails if the name exists, which makes every write create-exclusive and atomic. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "util.h"

typedef struct local_be {
    bk_backend base;
    int root;                    /* directory fd */
    int lock_fd;                 /* locks/lock, with OFD locks on its bytes */
    bool held, gate_held;
    int info_fd;                 /* locks/<name>, write-locked: who holds it */
    int prune_fd;                /* locks/lock with byte 2 locked by a running prune */
    char lock_info_name[80];
} local_be;

static local_be *downcast(bk_backend *be)
{
    return (local_be *)be;
}

#define TMP_PREFIX ".tmp-"

static int obj_path(bk_obj_type t, const char *name, char *out, size_t n)
{
    int k;
    if (t == BK_OBJ_CONFIG)
        k = snprintf(out, n, "config");
    else if (t == BK_OBJ_DATA)
        k = strlen(name) < 2 ? -1 : snprintf(out, n, "data/%.2s/%s", name, name);
    else
        k = snprintf(out, n, "%s/%s", bk_obj_type_name(t), name);
    if (k < 0 || (size_t)k >= n || !name[0] || strchr(name, '/') || name[0] == '.')
        return -EINVAL;
    return 0;
}

static int dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, n, ".");
        return 0;
    }
    snprintf(out, n, "%.*s", (int)(slash - path), path);
    return 0;
}

static int fsync_dir(int root, const char *dir)
{
    int fd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int local_put(bk_backend *be, bk_obj_type t, const char *name, const void *p, size_t n)
{
    local_be *l = downcast(be);
    char path[512], dir[512], tmp[600];
    int r = obj_path(t, name, path, sizeof(path));
    if (r < 0)
        return r;
    dir_of(path, dir, sizeof(dir));
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof(rnd));
    char rh[17];
    bk_hex(rnd, sizeof(rnd), rh);
    snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%s", dir, rh);

    int fd = openat(l->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0 && errno == ENOENT && (t == BK_OBJ_DATA || t == BK_OBJ_STATUS)) {
        /* the fan-out directory is made on first use, status/ too (older repositories) */
        if (mkdirat(l->root, dir, 0755) < 0 && errno != EEXIST)
            return -errno;
        fd = openat(l->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    }
    if (fd < 0)
        return -errno;
    r = bk_write_full(fd, p, n);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && linkat(l->root, tmp, l->root, path, 0) < 0)
        r = -errno;
    unlinkat(l->root, tmp, 0);
    if (r == 0)
        r = fsync_dir(l->root, dir);
    return r;
}

static int local_get(bk_backend *be, bk_obj_type t, const char *name, uint64_t off, size_t len,
                     bk_buf *out)
{
    local_be *l = downcast(be);
    char path[512];
    int r = obj_path(t, name, path, sizeof(path));
    if (r < 0)
        return r;
    int fd = openat(l->root, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (off > (uint64_t)st.st_size) {
        r = -ENODATA;
        goto out;
    }
    if (len == 0)
        len = (size_t)((uint64_t)st.st_size - off);
    else if (off + len > (uint64_t)st.st_size) {
        r = -ENODATA;
        goto out;
    }
    r = bk_buf_reserve(out, len);
    if (r < 0)
        goto out;
    size_t got;
    r = bk_pread_full(fd, out->data + out->len, len, off, &got);
    if (r == 0 && got < len)
        r = -ENODATA;
    if (r < 0)
        goto out;
    out->len += len;
out:
    close(fd);
    return r;
}

static int local_stat(bk_backend *be, bk_obj_type t, const char *name, uint64_t *ret)
{
    local_be *l = downcast(be);
    char path[512];
    int r = obj_path(t, name, path, sizeof(path));
    if (r < 0)
        return r;
    struct stat st;
    if (fstatat(l->root, path, &st, 0) < 0)
        return -errno;
    *ret = (uint64_t)st.st_size;
    return 0;
}

static int local_remove(bk_backend *be, bk_obj_type t, const char *name)
{
    local_be *l = downcast(be);
    char path[512], dir[512];
    int r = obj_path(t, name, path, sizeof(path));
    if (r < 0)
        return r;
    if (unlinkat(l->root, path, 0) < 0)
        return -errno;
    dir_of(path, dir, sizeof(dir));
    return fsync_dir(l->root, dir);
}

/* fn(name, size, mtime) for the regular files of dir: the objects (temp false), or the
 * temporary files that writes leave while they run (temp true).  With names, st is NULL
 * where the directory entry says it is a regular file (no stat). */
typedef int (*file_fn)(int dfd, const char *name, const struct stat *st, void *ctx);

static int walk_dir(int root, const char *dir, bool temp, bool names, file_fn fn, void *ctx)
{
    int fd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (errno = 0, de = readdir(d))) {
        bool is_temp = strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
        if (temp ? !is_temp : de->d_name[0] == '.')
            continue;   /* ".", "..", temporary files: not objects */
        if (names && de->d_type == DT_REG) {
            r = fn(dirfd(d), de->d_name, NULL, ctx);
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;   /* removed meanwhile */
            r = -errno;
            break;
        }
        if (S_ISREG(st.st_mode))
            r = fn(dirfd(d), de->d_name, &st, ctx);
    }
    if (r == 0 && errno)
        r = -errno;
    closedir(d);
    return r;
}

struct list_ctx {
    bk_list_fn fn;
    void *ctx;
};

static int list_one(int dfd, const char *name, const struct stat *st, void *ctx)
{
    struct list_ctx *l = ctx;
    return l->fn(name, st ? (uint64_t)st->st_size : BK_SIZE_UNKNOWN, l->ctx);
}

static int list_dir(int root, const char *dir, bool names, bk_list_fn fn, void *ctx)
{
    struct list_ctx l = { fn, ctx };
    return walk_dir(root, dir, false, names, list_one, &l);
}

static int list_objects(bk_backend *be, bk_obj_type t, bool names, bk_list_fn fn, void *ctx)
{
    local_be *l = downcast(be);
    if (t == BK_OBJ_CONFIG) {
        uint64_t size;
        int r = local_stat(be, t, "config", &size);
        if (r == -ENOENT)
            return 0;
        return r < 0 ? r : fn("config", size, ctx);
    }
    if (t != BK_OBJ_DATA)
        return list_dir(l->root, bk_obj_type_name(t), names, fn, ctx);
    for (unsigned i = 0; i < 256; i++) {
        char dir[16];
        snprintf(dir, sizeof(dir), "data/%02x", i);
        int r = list_dir(l->root, dir, names, fn, ctx);
        if (r != 0)
            return r;
    }
    return 0;
}

static int local_list(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx)
{
    return list_objects(be, t, false, fn, ctx);
}

static int local_list_names(bk_backend *be, bk_obj_type t, bk_list_fn fn, void *ctx)
{
    return list_objects(be, t, true, fn, ctx);
}

/* Locks: open-file-description locks on bytes of locks/lock, which the kernel drops when
 * the process dies, however it dies.  Byte 1 is the lock proper (shared or exclusive).
 * Byte 0 is a gate that gives writers preference: a shared taker passes it (a read lock
 * taken and dropped again), an exclusive taker closes it (write lock) and keeps it closed
 * while it waits for the shared holders to finish, so that a steady stream of backups
 * cannot starve a prune.  A small file locks/<random> describes the holder for messages;
 * the holder keeps it write-locked too, so a file whose lock can be taken belongs to a
 * dead process and is removed when seen. */
enum { BYTE_GATE = 0, BYTE_LOCK = 1, BYTE_PRUNE = 2 };

static int lock_byte(int fd, short type, off_t byte)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    return (errno == EAGAIN || errno == EACCES) ? -EBUSY : -errno;
}

static int try_lock(int fd, bool exclusive)
{
    return lock_byte(fd, exclusive ? F_WRLCK : F_RDLCK, 0);
}

static int local_lock(bk_backend *be, bool exclusive, const char *info)
{
    local_be *l = downcast(be);
    if (l->held)
        return -EALREADY;
    if (l->lock_fd < 0) {
        l->lock_fd = openat(l->root, "locks/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (l->lock_fd < 0)
            return -errno;
    }
    int fd = l->lock_fd, r;
    if (exclusive) {
        if (!l->gate_held) {
            if ((r = lock_byte(fd, F_WRLCK, BYTE_GATE)) < 0)
                return r;
            l->gate_held = true;   /* kept while we wait: no new shared holders */
        }
        if ((r = lock_byte(fd, F_WRLCK, BYTE_LOCK)) < 0)
            return r;
    } else {
        if ((r = lock_byte(fd, F_RDLCK, BYTE_GATE)) < 0)
            return r;
        r = lock_byte(fd, F_RDLCK, BYTE_LOCK);
        lock_byte(fd, F_UNLCK, BYTE_GATE);
        if (r < 0)
            return r;
    }
    l->held = true;
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof(rnd));
    char rh[17];
    bk_hex(rnd, sizeof(rnd), rh);
    snprintf(l->lock_info_name, sizeof(l->lock_info_name), "%s", rh);
    char path[128];
    snprintf(path, sizeof(path), "locks/%s", rh);
    int ifd = openat(l->root, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (ifd >= 0) {
        if (try_lock(ifd, true) == 0 && bk_write_full(ifd, info, strlen(info)) == 0) {
            l->info_fd = ifd;
        } else {
            unlinkat(l->root, path, 0);
            close(ifd);
            l->lock_info_name[0] = 0;
        }
    }
    return 0;
}

/* The prune lock (byte 2): one prune at a time; independent of the repository lock. */
static int local_lock_prune(bk_backend *be, bool acquire)
{
    local_be *l = downcast(be);
    if (!acquire) {
        if (l->prune_fd >= 0)
            close(l->prune_fd);
        l->prune_fd = -1;
        return 0;
    }
    if (l->prune_fd >= 0)
        return -EALREADY;
    int fd = openat(l->root, "locks/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int r = lock_byte(fd, F_WRLCK, BYTE_PRUNE);
    if (r < 0) {
        close(fd);
        return r;
    }
    l->prune_fd = fd;
    return 0;
}

static int local_unlock(bk_backend *be)
{
    local_be *l = downcast(be);
    if (l->lock_fd < 0)
        return 0;
    l->held = l->gate_held = false;
    if (l->lock_info_name[0]) {
        char path[128];
        snprintf(path, sizeof(path), "locks/%s", l->lock_info_name);
        unlinkat(l->root, path, 0);
        l->lock_info_name[0] = 0;
        close(l->info_fd);
        l->info_fd = -1;
    }
    close(l->lock_fd);   /* drops the OFD lock */
    l->lock_fd = -1;
    return 0;
}

struct holders_ctx {
    local_be *l;
    bk_buf *out;                 /* NULL: only clean */
    size_t removed;
};

static int holder_one(const char *name, uint64_t size, void *ctx)
{
    struct holders_ctx *h = ctx;
    if (strcmp(name, "lock") == 0 || strcmp(name, h->l->lock_info_name) == 0)
        return 0;
    char path[128];
    snprintf(path, sizeof(path), "locks/%s", name);
    int fd = openat(h->l->root, path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (try_lock(fd, true) == 0) {
        if (unlinkat(h->l->root, path, 0) == 0)   /* its holder is gone */
            h->removed++;
        close(fd);
        return 0;
    }
    if (!h->out) {
        close(fd);
        return 0;
    }
    char buf[512];
    size_t got = 0;
    bk_read_full(fd, buf, sizeof(buf) - 1, &got);
    close(fd);
    buf[got] = 0;
    if (h->out->len && bk_buf_append(h->out, "; ", 2) < 0)
        return -ENOMEM;
    return bk_buf_append(h->out, buf, strlen(buf));
}

static int local_lock_holders(bk_backend *be, bk_buf *out)
{
    struct holders_ctx h = { downcast(be), out, 0 };
    return list_dir(h.l->root, "locks", false, holder_one, &h);
}

static int local_clean_locks(bk_backend *be, size_t *ret_removed)
{
    struct holders_ctx h = { downcast(be), NULL, 0 };
    int r = list_dir(h.l->root, "locks", false, holder_one, &h);
    *ret_removed = h.removed;
    return r;
}

struct temp_ctx {
    int64_t before;              /* mtime limit */
    bool remove;
    uint64_t n, bytes;
};

static int temp_one(int dfd, const char *name, const struct stat *st, void *ctx)
{
    struct temp_ctx *t = ctx;
    if (st->st_mtim.tv_sec > t->before)
        return 0;   /* may be a write that is running */
    if (t->remove && unlinkat(dfd, name, 0) < 0)
        return errno == ENOENT ? 0 : -errno;
    t->n++;
    t->bytes += (uint64_t)st->st_size;
    return 0;
}

static int local_temp_files(bk_backend *be, int64_t min_age, bool remove, uint64_t *ret_n,
                            uint64_t *ret_bytes)
{
    local_be *l = downcast(be);
    struct temp_ctx t = { (int64_t)time(NULL) - min_age, remove, 0, 0 };
    static const char *const dirs[] = { ".", "keys", "index", "snapshots" };
    int r = 0;
    for (size_t i = 0; r == 0 && i < BK_ELEMENTSOF(dirs); i++)
        r = walk_dir(l->root, dirs[i], true, false, temp_one, &t);
    for (unsigned i = 0; r == 0 && i < 256; i++) {
        char dir[16];
        snprintf(dir, sizeof(dir), "data/%02x", i);
        r = walk_dir(l->root, dir, true, false, temp_one, &t);
    }
    *ret_n = t.n;
    *ret_bytes = t.bytes;
    return r;
}

static uint64_t local_max_object_size(bk_backend *be)
{
    return 0;
}

static void local_close(bk_backend *be)
{
    local_be *l = downcast(be);
    local_unlock(be);
    local_lock_prune(be, false);
    if (l->root >= 0)
        close(l->root);
    free(be->location);
    free(l);
}

static const bk_backend_ops local_ops = {
    .scheme = "local",
    .extra_readers = 0,
    .put = local_put,
    .put_async = NULL,
    .flush = NULL,
    .get = local_get,
    .stat = local_stat,
    .remove = local_remove,
    .list = local_list,
    .list_names = local_list_names,
    .lock = local_lock,
    .unlock = local_unlock,
    .lock_prune = local_lock_prune,
    .clean_locks = local_clean_locks,
    .lock_holders = local_lock_holders,
    .temp_files = local_temp_files,
    .max_object_size = local_max_object_size,
    .close = local_close,
};

static const char *const subdirs[] = { "keys", "data", "index", "snapshots", "locks" };

int bk_backend_local_open(const char *path, bool create, bk_error *err, bk_backend **ret)
{
    if (create) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return bk_error_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
    }
    int root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        int e = errno;
        /* a file where the directory should be, or a path through one, is no repository
         * either (-ENOENT: what every caller takes for "not there") */
        if (e == ENOTDIR && !create)
            return bk_error_set(err, -ENOENT, "no repository at %s (not a directory)", path);
        if (e == ENOTDIR)
            return bk_error_set(err, -ENOTDIR, "cannot create a repository at %s: not a "
                                "directory", path);
        if (e == ENOENT)
            return bk_error_set(err, -ENOENT, "no repository at %s", path);
        return bk_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    if (create) {
        for (size_t i = 0; i < BK_ELEMENTSOF(subdirs); i++)
            if (mkdirat(root, subdirs[i], 0700) < 0 && errno != EEXIST) {
                int e = errno;
                close(root);
                return bk_error_set(err, -e, "cannot create %s/%s: %s", path, subdirs[i], strerror(e));
            }
    }
    local_be *l = calloc(1, sizeof(*l));
    if (!l) {
        close(root);
        return -ENOMEM;
    }
    l->base.ops = &local_ops;
    l->base.location = strdup(path);
    l->root = root;
    l->lock_fd = -1;
    l->info_fd = -1;
    l->prune_fd = -1;
    *ret = &l->base;
    return 0;
}
