/* target.c - look at and clean up the tree a restore writes over, without ever leaving it. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target.h"
#include "util.h"

int bk_target_open(int tfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, tfd, rel, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd < 0 ? -errno : (int)fd;
}

static bool same_type(mode_t m, uint8_t t)
{
    switch (t) {
    case BK_NODE_FILE: return S_ISREG(m);
    case BK_NODE_DIR: return S_ISDIR(m);
    case BK_NODE_SYMLINK: return S_ISLNK(m);
    case BK_NODE_FIFO: return S_ISFIFO(m);
    case BK_NODE_CHARDEV: return S_ISCHR(m);
    case BK_NODE_BLOCKDEV: return S_ISBLK(m);
    case BK_NODE_SOCKET: return S_ISSOCK(m);
    }
    return false;
}

bk_target_state bk_target_compare_at(int dirfd, const char *name, const bk_node *n, bool owner,
                                     uid_t uid, gid_t gid, struct stat *ret_st)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return BK_TARGET_ABSENT;
    if (ret_st)
        *ret_st = st;
    if (!same_type(st.st_mode, n->type))
        return BK_TARGET_OTHER_TYPE;
    if (n->type == BK_NODE_DIR)
        return BK_TARGET_SAME;
    if (n->type == BK_NODE_SYMLINK) {
        if ((uint64_t)st.st_size != n->target_len)
            return BK_TARGET_CHANGED;
        char small[4096], *buf = small;
        if (n->target_len >= sizeof(small) && !(buf = malloc(n->target_len + 1)))
            return BK_TARGET_CHANGED;
        ssize_t k = readlinkat(dirfd, name, buf, n->target_len + 1);
        bool same = k >= 0 && (size_t)k == n->target_len && memcmp(buf, n->target, (size_t)k) == 0;
        if (buf != small)
            free(buf);
        return same ? BK_TARGET_SAME : BK_TARGET_CHANGED;
    }
    bool meta = (st.st_mode & 07777) == n->mode && st.st_mtim.tv_sec == n->mtime &&
                (uint32_t)st.st_mtim.tv_nsec == n->mtime_nsec &&
                (!owner || (st.st_uid == uid && st.st_gid == gid));
    if (n->type == BK_NODE_FILE)
        meta = meta && (uint64_t)st.st_size == n->size;
    else if (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV)
        meta = meta && (uint64_t)st.st_rdev == n->rdev;
    return meta ? BK_TARGET_SAME : BK_TARGET_CHANGED;
}

int bk_target_unlock(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int f = 0, e = fstat(fd, &st) < 0 ? -errno : 0;
    if (e == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        e = -ENODATA;   /* flags only live on files and directories */
    if (e == 0 && ioctl(fd, FS_IOC_GETFLAGS, &f) < 0)
        e = errno == ENOTTY || errno == EOPNOTSUPP ? -ENODATA : -errno;
    if (e == 0 && !(f & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
        e = -ENODATA;   /* nothing to clear: the problem is elsewhere */
    if (e == 0) {
        f &= ~(FS_IMMUTABLE_FL | FS_APPEND_FL);
        if (ioctl(fd, FS_IOC_SETFLAGS, &f) < 0)
            e = -errno;
    }
    close(fd);
    return e;
}

/* unlinkat, clearing immutable/append-only flags (of the entry or of dirfd's directory,
 * given as parent in its own parent) when they are in the way */
static int unlink_one(int dirfd, const char *name, int flags)
{
    if (unlinkat(dirfd, name, flags) == 0)
        return 0;
    int e = -errno;
    if (e == -EPERM && bk_target_unlock(dirfd, name) == 0 && unlinkat(dirfd, name, flags) == 0)
        return 0;
    return e;
}

int bk_target_remove(int dirfd, const char *name, bool dry, uint64_t *count)
{
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return -EINVAL;   /* one name in dirfd, never a path */
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return -ENOMEM;
        }
        int r = 0;
        bool unlocked = false;
        struct dirent *de;
        while (r == 0 && (errno = 0, de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            r = bk_target_remove(fd, de->d_name, dry, count);
            if (r == -EPERM && !unlocked && !dry) {
                /* an immutable or append-only directory keeps its entries */
                unlocked = true;
                if (bk_target_unlock(dirfd, name) == 0)
                    r = bk_target_remove(fd, de->d_name, dry, count);
            }
        }
        if (r == 0 && errno)
            r = -errno;
        closedir(d);
        if (r < 0)
            return r;
        if (!dry && (r = unlink_one(dirfd, name, AT_REMOVEDIR)) < 0)
            return r;
    } else if (!dry) {
        int r = unlink_one(dirfd, name, 0);
        if (r < 0)
            return r;
    }
    (*count)++;
    return 0;
}
