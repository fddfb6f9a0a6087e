/* target.c - look at and clean up the tree a restore writes over, without ever leaving it. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
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

bk_target_state bk_target_compare(int tfd, const char *rel, const bk_node *n, bool owner)
{
    int fd = bk_target_open(tfd, rel, O_PATH | O_NOFOLLOW);
    if (fd < 0)
        return BK_TARGET_ABSENT;
    struct stat st;
    bk_target_state s = BK_TARGET_CHANGED;
    if (fstat(fd, &st) < 0)
        s = BK_TARGET_ABSENT;
    else if (!same_type(st.st_mode, n->type))
        s = BK_TARGET_OTHER_TYPE;
    else if (n->type == BK_NODE_DIR)
        s = BK_TARGET_SAME;
    else if (n->type == BK_NODE_SYMLINK) {
        char buf[4096];
        ssize_t k = readlinkat(fd, "", buf, sizeof(buf));
        if (k >= 0 && (size_t)k == n->target_len && memcmp(buf, n->target, (size_t)k) == 0)
            s = BK_TARGET_SAME;
    } else {
        bool meta = (st.st_mode & 07777) == n->mode && st.st_mtim.tv_sec == n->mtime &&
                    (uint32_t)st.st_mtim.tv_nsec == n->mtime_nsec &&
                    (!owner || (st.st_uid == n->uid && st.st_gid == n->gid));
        if (n->type == BK_NODE_FILE)
            meta = meta && (uint64_t)st.st_size == n->size;
        else if (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV)
            meta = meta && (uint64_t)st.st_rdev == n->rdev;
        if (meta)
            s = BK_TARGET_SAME;
    }
    close(fd);
    return s;
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
        struct dirent *de;
        while (r == 0 && (errno = 0, de = readdir(d))) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                r = bk_target_remove(fd, de->d_name, dry, count);
        }
        if (r == 0 && errno)
            r = -errno;
        closedir(d);
        if (r < 0)
            return r;
        if (!dry && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
            return -errno;
    } else if (!dry && unlinkat(dirfd, name, 0) < 0) {
        return -errno;
    }
    (*count)++;
    return 0;
}
