/* scan.c - the background counter for progress totals. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "match.h"
#include "scan.h"
#include "util.h"

struct bk_scan {
    char **paths, **excludes;
    size_t npaths, nexcludes;
    bool one_fs;
    pthread_t thread;
    atomic_uint_fast64_t files, bytes;
    atomic_bool done, stop;
};

static void walk(bk_scan *s, int dirfd, const char *path, dev_t dev, int depth)
{
    if (depth > 256 || atomic_load(&s->stop))
        return;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    while (!atomic_load(&s->stop) && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *sub = malloc(len);
        if (!sub)
            break;
        snprintf(sub, len, "%s%s%s", path, strcmp(path, "/") ? "/" : "", de->d_name);
        struct stat st;
        if (!bk_match_exclude(s->excludes, s->nexcludes, sub) &&
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISREG(st.st_mode)) {
                atomic_fetch_add(&s->files, 1);
                atomic_fetch_add(&s->bytes, (uint64_t)st.st_size);
            } else if (S_ISDIR(st.st_mode) && (!s->one_fs || st.st_dev == dev)) {
                int sfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd >= 0) {
                    walk(s, sfd, sub, dev, depth + 1);
                    close(sfd);
                }
            }
        }
        free(sub);
    }
    closedir(d);
}

static void *run(void *arg)
{
    bk_scan *s = arg;
    for (size_t i = 0; i < s->npaths && !atomic_load(&s->stop); i++) {
        struct stat st;
        if (lstat(s->paths[i], &st) < 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            atomic_fetch_add(&s->files, 1);
            atomic_fetch_add(&s->bytes, (uint64_t)st.st_size);
        } else if (S_ISDIR(st.st_mode)) {
            int fd = open(s->paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                walk(s, fd, s->paths[i], st.st_dev, 0);
                close(fd);
            }
        }
    }
    atomic_store(&s->done, true);
    return NULL;
}

int bk_scan_start(char *const *paths, size_t n, char *const *excludes, size_t nexcludes,
                  bool one_fs, bk_scan **ret)
{
    bk_scan *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    if (bk_strv_dup(paths, n, &s->paths) < 0 || bk_strv_dup(excludes, nexcludes, &s->excludes) < 0) {
        bk_strv_free(s->paths, n);
        free(s);
        return -ENOMEM;
    }
    s->npaths = n;
    s->nexcludes = nexcludes;
    s->one_fs = one_fs;
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        bk_strv_free(s->paths, n);
        bk_strv_free(s->excludes, nexcludes);
        free(s);
        return -EAGAIN;
    }
    *ret = s;
    return 0;
}

void bk_scan_get(bk_scan *s, uint64_t *files, uint64_t *bytes, bool *done)
{
    *files = atomic_load(&s->files);
    *bytes = atomic_load(&s->bytes);
    *done = atomic_load(&s->done);
}

void bk_scan_free(bk_scan *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    bk_strv_free(s->paths, s->npaths);
    bk_strv_free(s->excludes, s->nexcludes);
    free(s);
}
