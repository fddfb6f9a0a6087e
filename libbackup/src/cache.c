/* cache.c - the local cache of immutable objects. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "idmap.h"
#include "util.h"

/* The cache directory of this repository and kind, created if missing; NULL when the
 * cache is off or cannot be had. */
static char *cache_path(bk_repo *repo, const char *kind, bool create)
{
    if (repo->no_cache || !repo->config.id[0])
        return NULL;
    const char *base = repo->cache_dir, *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *root = NULL;
    int k;
    if (base && *base)
        k = asprintf(&root, "%s", base);
    else if (xdg && *xdg)
        k = asprintf(&root, "%s/arca", xdg);
    else if (home && *home)
        k = asprintf(&root, "%s/.cache/arca", home);
    else
        return NULL;
    if (k < 0)
        return NULL;
    char *dir = NULL;
    if (asprintf(&dir, "%s/%s/%s", root, repo->config.id, kind) < 0)
        dir = NULL;
    if (dir && create) {
        /* each level in turn: the cache root may not exist yet */
        for (char *p = dir + 1; *p; p++) {
            if (*p != '/')
                continue;
            *p = 0;
            if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                *dir = 0;
            *p = '/';
        }
        if (!*dir || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
            free(dir);
            dir = NULL;
        }
    }
    free(root);
    return dir;
}

static bool valid_name(const char *name)
{
    bk_id id;
    return bk_id_parse(name, &id) == 0;
}

int bk_cache_get(bk_repo *repo, const char *kind, const char *name, bk_buf *out)
{
    if (!valid_name(name))
        return -ENOENT;
    char *dir = cache_path(repo, kind, false), *path = NULL;
    if (!dir || asprintf(&path, "%s/%s", dir, name) < 0) {
        free(dir);
        return -ENOENT;
    }
    free(dir);
    uint8_t *p;
    size_t n;
    int r = bk_read_file(path, &p, &n);
    free(path);
    if (r < 0)
        return -ENOENT;
    r = bk_buf_append(out, p, n);
    free(p);
    return r;
}

void bk_cache_put(bk_repo *repo, const char *kind, const char *name, const void *p, size_t n)
{
    if (!valid_name(name))
        return;
    /* the directories are made only when they are missing, not tried at every put (a
     * restore from a cold cache puts every tree it reads) */
    char *dir = cache_path(repo, kind, false), *path = NULL, *tmp = NULL;
    uint32_t rnd = randombytes_random();
    if (!dir || asprintf(&path, "%s/%s", dir, name) < 0)
        path = NULL;
    if (path && asprintf(&tmp, "%s/.tmp-%08x", dir, rnd) < 0)
        tmp = NULL;
    int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (fd < 0 && errno == ENOENT) {
        char *made = cache_path(repo, kind, true);
        if (made)
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        free(made);
    }
    free(dir);
    if (fd >= 0) {
        bool ok = bk_write_full(fd, p, n) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) < 0)
            unlink(tmp);
    }
    free(tmp);
    free(path);
}

bool bk_cache_has(bk_repo *repo, const char *kind, const char *name, uint64_t size)
{
    char *dir = cache_path(repo, kind, false), *path = NULL;
    struct stat st;
    bool have = dir && valid_name(name) && asprintf(&path, "%s/%s", dir, name) >= 0 &&
                stat(path, &st) == 0 && (uint64_t)st.st_size == size;
    free(path);
    free(dir);
    return have;
}

void bk_cache_drop(bk_repo *repo, const char *kind, const char *name)
{
    char *dir = cache_path(repo, kind, false), *path = NULL;
    if (dir && valid_name(name) && asprintf(&path, "%s/%s", dir, name) >= 0)
        unlink(path);
    free(path);
    free(dir);
}

void bk_cache_each(bk_repo *repo, const char *kind, void (*fn)(const char *name, void *ctx), void *ctx)
{
    char *dir = cache_path(repo, kind, false);
    DIR *d = dir ? opendir(dir) : NULL;
    if (d) {
        struct dirent *de;
        bk_id id;
        while ((de = readdir(d)))
            if (bk_id_parse(de->d_name, &id) == 0)
                fn(de->d_name, ctx);
        closedir(d);
    }
    free(dir);
}

void bk_cache_retain(bk_repo *repo, const char *kind, const bk_idmap *keep)
{
    char *dir = cache_path(repo, kind, false);
    DIR *d = dir ? opendir(dir) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            bk_id id;
            if (bk_id_parse(de->d_name, &id) == 0 && !bk_idmap_get(keep, &id))
                unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
    }
    free(dir);
}

int bk_cache_get_copy(bk_repo *repo, const char *kind, const char *name, bk_buf *out)
{
    bool off = repo->no_cache;
    repo->no_cache = false;   /* check and repair read the originals, not the copies */
    int r = bk_cache_get(repo, kind, name, out);
    repo->no_cache = off;
    if (r < 0)
        return r;
    /* copies of the repository's objects, under their names: the repository's function */
    bk_id want, got;
    r = bk_obj_hash(repo->keys, out->data, out->len, &got);
    if (r < 0) {
        out->len = 0;
        return r;
    }
    if (bk_id_parse(name, &want) < 0 || bk_id_cmp(&want, &got) != 0) {
        out->len = 0;
        return -EBADMSG;
    }
    return 0;
}

char *bk_cache_file(bk_repo *repo, const char *name)
{
    char *dir = cache_path(repo, ".", true), *path = NULL;
    if (dir && asprintf(&path, "%s/%s", dir, name) < 0)
        path = NULL;
    free(dir);
    return path;
}
