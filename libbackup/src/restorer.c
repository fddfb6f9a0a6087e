/* restorer.c - restore a snapshot (or part of it) into a directory.
 *
 * Plan: walk the snapshot's trees, keep the entries the includes and excludes select
 * (with the directories above them), and plan every content blob with the fetcher, which
 * then fetches each pack once, in parallel, ahead of the writer.  Write: entries in tree
 * order through libarchive's archive_write_disk with the SECURE_* flags (no "..", no
 * absolute names, no writing through symlinks) and SAFE_WRITES (each file is written to a
 * temporary name and renamed into place); directory times and modes are fixed when the
 * archive is closed. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fetcher.h"
#include "match.h"
#include "restore.h"
#include "reuse.h"
#include "snapshot.h"
#include "target.h"
#include "util.h"

struct bk_restore {
    bk_repo *repo;
    bk_snapshot *snap;
    char *target;
    char **includes, **excludes;
    size_t nincludes, nexcludes;
    bool dry_run, del, verify, no_owner;
    bk_progress_fn progress;
    void *progress_ud;
    bk_item_error_fn item_error;
    void *item_ud;
};

int bk_restore_new(bk_repo *repo, const bk_snapshot *snap, bk_restore **ret)
{
    bk_restore *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->repo = repo;
    int e = bk_snapshot_dup(snap, &r->snap);
    if (e < 0) {
        free(r);
        return e;
    }
    *ret = r;
    return 0;
}

void bk_restore_free(bk_restore *r)
{
    if (!r)
        return;
    bk_snapshot_free(r->snap);
    free(r->target);
    bk_strv_free(r->includes, r->nincludes);
    bk_strv_free(r->excludes, r->nexcludes);
    free(r);
}

/* "/etc/ssh/" -> "/etc/ssh"; "etc" -> "/etc" */
char *bk_snapshot_path_normalize(const char *p)
{
    size_t len = strlen(p);
    char *out = malloc(len + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    if (p[0] != '/')
        out[o++] = '/';
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '/' && o > 0 && out[o - 1] == '/')
            continue;
        out[o++] = p[i];
    }
    while (o > 1 && out[o - 1] == '/')
        o--;
    out[o] = 0;
    return out;
}

int bk_restore_set_str(bk_restore *r, int option, const char *v)
{
    if (!v)
        return -EINVAL;
    char *norm;
    int e;
    switch (option) {
    case BK_RESTORE_TARGET:
        free(r->target);
        return (r->target = strdup(v)) ? 0 : -ENOMEM;
    case BK_RESTORE_INCLUDE:
        if (!(norm = bk_snapshot_path_normalize(v)))
            return -ENOMEM;
        e = bk_strv_push(&r->includes, &r->nincludes, norm);
        free(norm);
        return e;
    case BK_RESTORE_EXCLUDE:
        return bk_strv_push(&r->excludes, &r->nexcludes, v);
    }
    return -EINVAL;
}

int bk_restore_set_int(bk_restore *r, int option, int64_t v)
{
    switch (option) {
    case BK_RESTORE_DRY_RUN: r->dry_run = v != 0; return 0;
    case BK_RESTORE_DELETE: r->del = v != 0; return 0;
    case BK_RESTORE_VERIFY: r->verify = v != 0; return 0;
    case BK_RESTORE_NO_OWNER: r->no_owner = v != 0; return 0;
    }
    return -EINVAL;
}

void bk_restore_set_progress(bk_restore *r, bk_progress_fn fn, void *userdata)
{
    r->progress = fn;
    r->progress_ud = userdata;
}

void bk_restore_set_item_error(bk_restore *r, bk_item_error_fn fn, void *userdata)
{
    r->item_error = fn;
    r->item_ud = userdata;
}

/* ---- plan ---------------------------------------------------------------------------------- */

static int plan_push(bk_plan *p, const char *path, size_t plen, const bk_node *n)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        bk_plan_entry *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    bk_plan_entry *e = &p->v[p->n];
    e->path = malloc(plen + 1);
    if (!e->path)
        return -ENOMEM;
    memcpy(e->path, path, plen + 1);
    e->path_len = plen;
    e->link_to = 0;
    e->full = e->skip = e->existed = false;
    e->local = NULL;
    int r = bk_node_copy(n, &e->node);
    if (r < 0) {
        free(e->path);
        return r;
    }
    p->n++;
    return 0;
}

void bk_plan_free(bk_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
        free(p->v[i].local);
        bk_node_clear(&p->v[i].node);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

static void plan_pop(bk_plan *p)
{
    p->n--;
    free(p->v[p->n].path);
    bk_node_clear(&p->v[p->n].node);
}

static int collect(bk_repo *repo, const bk_id *tree, const char *prefix, bool all,
                   char *const *inc, size_t ninc, char *const *exc, size_t nexc, bk_plan *p)
{
    bk_tree t;
    int r = bk_repo_load_tree(repo, tree, &t);
    if (r < 0)
        return r;
    size_t plen = strlen(prefix);
    for (size_t i = 0; r == 0 && i < t.n; i++) {
        const bk_node *n = &t.nodes[i];
        size_t len = plen + 1 + n->name_len;
        char *path = malloc(len + 1);
        if (!path) {
            r = -ENOMEM;
            break;
        }
        memcpy(path, prefix, plen);
        path[plen] = '/';
        memcpy(path + plen + 1, n->name, n->name_len + 1);
        if (!bk_match_exclude(exc, nexc, path)) {
            bool sel = all || bk_match_include(inc, ninc, path);
            if (n->type == BK_NODE_DIR) {
                if (sel || bk_match_include_below(inc, ninc, path)) {
                    size_t pos = p->n;
                    r = plan_push(p, path, len, n);
                    if (r == 0)
                        p->v[pos].full = sel;
                    if (r == 0)
                        r = collect(repo, &n->subtree, path, sel, inc, ninc, exc, nexc, p);
                    if (r == 0 && !sel && p->n == pos + 1)
                        plan_pop(p);   /* nothing selected below */
                }
            } else if (sel) {
                r = plan_push(p, path, len, n);
            }
        }
        free(path);
    }
    bk_tree_free(&t);
    return r;
}

int bk_plan_build(bk_repo *repo, const bk_id *root, char *const *inc, size_t ninc,
                  char *const *exc, size_t nexc, bk_plan *ret)
{
    memset(ret, 0, sizeof(*ret));
    int r = collect(repo, root, "", ninc == 0, inc, ninc, exc, nexc, ret);
    if (r < 0)
        bk_plan_free(ret);
    return r;
}

/* ---- archive entries --------------------------------------------------------------------- */

static mode_t type_bits(uint8_t t)
{
    switch (t) {
    case BK_NODE_FILE: return AE_IFREG;
    case BK_NODE_DIR: return AE_IFDIR;
    case BK_NODE_SYMLINK: return AE_IFLNK;
    case BK_NODE_FIFO: return AE_IFIFO;
    case BK_NODE_CHARDEV: return AE_IFCHR;
    case BK_NODE_BLOCKDEV: return AE_IFBLK;
    case BK_NODE_SOCKET: return AE_IFSOCK;
    }
    return 0;
}

void bk_node_to_entry(const bk_node *n, const char *path, struct archive_entry *e)
{
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, path);
    archive_entry_set_filetype(e, type_bits(n->type));
    archive_entry_set_perm(e, n->mode);
    archive_entry_set_uid(e, n->uid);
    archive_entry_set_gid(e, n->gid);
    if (n->user && *n->user)
        archive_entry_copy_uname(e, n->user);
    if (n->group && *n->group)
        archive_entry_copy_gname(e, n->group);
    archive_entry_set_mtime(e, n->mtime, n->mtime_nsec);
    archive_entry_set_atime(e, n->mtime, n->mtime_nsec);   /* atime is not kept */
    archive_entry_set_ctime(e, n->ctime, n->ctime_nsec);
    archive_entry_set_size(e, n->type == BK_NODE_FILE ? (la_int64_t)n->size : 0);
    if (n->type == BK_NODE_SYMLINK)
        archive_entry_copy_symlink(e, n->target);
    if (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV)
        archive_entry_set_rdev(e, (dev_t)n->rdev);
    for (size_t i = 0; i < n->nxattrs; i++)
        archive_entry_xattr_add_entry(e, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len);
    if (n->acl_posix)
        archive_entry_acl_from_text(e, n->acl_posix, ARCHIVE_ENTRY_ACL_TYPE_POSIX1E);
    if (n->acl_nfs4)
        archive_entry_acl_from_text(e, n->acl_nfs4, ARCHIVE_ENTRY_ACL_TYPE_NFS4);
}

/* ---- hardlinks: (device, inode) of files with several links -> first path restored ---- */

typedef struct linkmap {
    bk_idmap map;      /* key: dev || inode in an id; value: index into the plan */
} linkmap;

static void link_key(const bk_node *n, bk_id *k)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->b, &n->dev, sizeof(n->dev));
    memcpy(k->b + 8, &n->inode, sizeof(n->inode));
    k->b[31] = 1;
}

/* ---- the existing target ------------------------------------------------------------------- */

static void report_item(bk_restore *rs, bk_restore_stats *st, const char *path, int code,
                        const char *msg)
{
    st->errors++;
    if (rs->item_error)
        rs->item_error(path, code, msg, rs->item_ud);
}

/* The directory that holds rel (tfd itself for a top-level name), and rel's last name. */
static int open_parent(int tfd, const char *rel, const char **ret_name)
{
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        *ret_name = rel;
        int fd = fcntl(tfd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    char *dir = strndup(rel, (size_t)(slash - rel));
    if (!dir)
        return -ENOMEM;
    int fd = bk_target_open(tfd, dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    *ret_name = slash + 1;
    return fd;
}

/* --delete: remove what a directory of the target holds that its snapshot tree does not
 * (nor the excludes protect).  dirfd is the directory, path its path in the snapshot. */
static int delete_extra(bk_restore *rs, int dirfd, const char *path, const bk_id *tree,
                        bk_restore_stats *st)
{
    bk_tree t;
    int r = bk_repo_load_tree(rs->repo, tree, &t);
    if (r < 0)
        return r;
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        bk_tree_free(&t);
        return -errno;
    }
    struct dirent *de;
    while (r == 0 && (errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || bk_tree_find(&t, name, strlen(name)))
            continue;
        char *full;
        if (asprintf(&full, "%s/%s", path, name) < 0) {
            r = -ENOMEM;
            break;
        }
        if (!bk_match_exclude(rs->excludes, rs->nexcludes, full)) {
            int e = bk_target_remove(dirfd, name, rs->dry_run, &st->deleted);
            if (e < 0)
                report_item(rs, st, full, e, strerror(-e));
        }
        free(full);
    }
    if (r == 0 && errno)
        r = -errno;
    closedir(d);
    bk_tree_free(&t);
    return r;
}

/* May --delete clean up the directory at path?  Only at or below the paths the snapshot
 * saved: the directories above them (restored to hold them) are shared with whatever else
 * the target holds, so that `--target / --delete` of a snapshot of /etc touches /etc only. */
static bool deletable(const bk_snapshot *s, const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < s->npaths; i++) {
        char *p = bk_snapshot_path_normalize(s->paths[i]);
        if (!p)
            return false;
        size_t k = strcmp(p, "/") == 0 ? 0 : strlen(p);
        bool below = n >= k && memcmp(path, p, k) == 0 && (path[k] == 0 || path[k] == '/');
        free(p);
        if (below)
            return true;
    }
    return false;
}

/* Decide, entry by entry, what the target already has: unchanged entries are skipped, the
 * old versions of changed files are scanned for chunks to reuse, and with --delete what
 * is in the way or not in the snapshot goes (before anything is written, so that the
 * times of directories are restored last). */
static int inspect_target(bk_restore *rs, bk_plan *plan, int tfd, bk_restore_stats *st)
{
    bk_repo *repo = rs->repo;
    bool owner = geteuid() == 0 && !rs->no_owner;
    int r = 0;
    if (rs->del && rs->nincludes == 0 && deletable(rs->snap, ""))
        r = delete_extra(rs, tfd, "", &rs->snap->tree, st);
    for (size_t i = 0; r == 0 && i < plan->n; i++) {
        bk_plan_entry *pe = &plan->v[i];
        const bk_node *n = &pe->node;
        const char *rel = pe->path + 1;
        bk_target_state ts = bk_target_compare(tfd, rel, n, owner);
        /* (above the snapshot's paths nothing is removed: a /lib -> usr/lib symlink of the
         * target where the snapshot has a directory stays, and the restore below it fails) */
        if (ts == BK_TARGET_OTHER_TYPE && rs->del && deletable(rs->snap, pe->path)) {
            const char *name;
            int dfd = open_parent(tfd, rel, &name);
            int e = dfd < 0 ? dfd : bk_target_remove(dfd, name, rs->dry_run, &st->deleted);
            if (dfd >= 0)
                close(dfd);
            if (e < 0)
                report_item(rs, st, pe->path, e, strerror(-e));
            ts = BK_TARGET_ABSENT;
        }
        pe->existed = ts == BK_TARGET_SAME || ts == BK_TARGET_CHANGED;
        if (ts == BK_TARGET_OTHER_TYPE && !deletable(rs->snap, pe->path)) {
            /* libarchive would replace it: leave it, and what is below fails to restore */
            pe->skip = true;
            continue;
        }
        if (n->type == BK_NODE_DIR) {
            if (ts == BK_TARGET_SAME && rs->del && pe->full && deletable(rs->snap, pe->path)) {
                int dfd = bk_target_open(tfd, rel, O_RDONLY | O_DIRECTORY);
                r = dfd < 0 ? 0 : delete_extra(rs, dfd, pe->path, &n->subtree, st);
                if (dfd >= 0)
                    close(dfd);
            }
            continue;
        }
        if (pe->link_to) {
            /* a hard link is in place when both names are the same inode */
            struct stat a, b;
            int fa = bk_target_open(tfd, rel, O_PATH | O_NOFOLLOW);
            int fb = bk_target_open(tfd, plan->v[pe->link_to - 1].path + 1, O_PATH | O_NOFOLLOW);
            pe->skip = fa >= 0 && fb >= 0 && fstat(fa, &a) == 0 && fstat(fb, &b) == 0 &&
                       a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
                       plan->v[pe->link_to - 1].skip;
            if (fa >= 0)
                close(fa);
            if (fb >= 0)
                close(fb);
            continue;
        }
        if (ts == BK_TARGET_SAME) {
            pe->skip = true;
            continue;
        }
        if (ts != BK_TARGET_CHANGED || n->type != BK_NODE_FILE || n->ncontent == 0)
            continue;
        bk_chunker ch;
        int fd = bk_target_open(tfd, rel, O_RDONLY | O_NOFOLLOW);
        if (fd < 0 || bk_repo_chunker_for(repo, n->chunk_avg, &ch) < 0) {
            if (fd >= 0)
                close(fd);
            continue;   /* nothing to reuse: fetch it all */
        }
        pe->local = malloc(n->ncontent * sizeof(*pe->local));
        uint64_t found = 0;
        if (!pe->local)
            r = -ENOMEM;
        else if (bk_reuse_scan(&ch, repo->keys, fd, n, pe->local, &found) < 0 || found == 0) {
            free(pe->local);   /* unreadable or nothing in common */
            pe->local = NULL;
        }
        close(fd);
    }
    return r;
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct writer_ctx {
    bk_restore *rs;
    bk_fetcher *f;
    struct archive *a;
    bk_restore_stats *st;
    uint64_t *done_bytes;
    uint8_t *buf;                /* for chunks read from the old local file */
    size_t cap;
} writer_ctx;

/* One chunk of a reused file: from the old local version if it still holds it, else from
 * the repository (the file changed since it was scanned).  *ret_free: to free after use. */
static int local_chunk(writer_ctx *w, int oldfd, const bk_plan_entry *pe, size_t i,
                       const uint8_t **ret, uint8_t **ret_free)
{
    const bk_content *c = &pe->node.content[i];
    *ret_free = NULL;
    if (w->cap < c->len) {
        uint8_t *b = realloc(w->buf, c->len);
        if (!b)
            return -ENOMEM;
        w->buf = b;
        w->cap = c->len;
    }
    if (oldfd >= 0 && bk_reuse_read(w->rs->repo->keys, oldfd, pe->local[i], w->buf, c->len,
                                    &c->id) == 0) {
        w->st->bytes_reused += c->len;
        *ret = w->buf;
        return 0;
    }
    size_t len;
    uint8_t *p;
    int r = bk_repo_load_blob(w->rs->repo, BK_KIND_DATA, &c->id, &p, &len);
    if (r < 0)
        return r;
    if (len != c->len) {
        free(p);
        return bk_repo_error(w->rs->repo, -EBADMSG, "blob length differs from the tree's");
    }
    *ret = *ret_free = p;
    return 0;
}

/* 0: written; 1: this file failed (reported); < 0: fatal. */
static int write_content(writer_ctx *w, const bk_plan_entry *pe, int oldfd)
{
    bk_restore *rs = w->rs;
    const bk_node *n = &pe->node;
    uint64_t off = 0;
    for (size_t i = 0; i < n->ncontent; i++) {
        const bk_content *c = &n->content[i];
        if (c->hole) {
            off += c->len;
            continue;
        }
        bool local = pe->local && pe->local[i] != BK_LOCAL_NONE;
        const uint8_t *data;
        uint8_t *to_free = NULL;
        size_t len = c->len;
        int r = local ? local_chunk(w, oldfd, pe, i, &data, &to_free)
                      : bk_fetcher_get(w->f, &c->id, &data, &len);
        if (r < 0) {
            if (!local)
                bk_fetcher_release(w->f, &c->id);
            bk_fetcher_skip(w->f, n->content, n->ncontent, i + 1, pe->local);
            if (r == -ENOMEM)
                return r;
            report_item(rs, w->st, pe->path, r, bk_repo_errmsg(rs->repo));
            bk_repo_clear_error(rs->repo);
            return 1;
        }
        la_ssize_t k = archive_write_data_block(w->a, data, len, (la_int64_t)off);
        if (local)
            free(to_free);
        else
            bk_fetcher_release(w->f, &c->id);
        if (k < ARCHIVE_OK) {
            bk_fetcher_skip(w->f, n->content, n->ncontent, i + 1, pe->local);
            report_item(rs, w->st, pe->path, -EIO, archive_error_string(w->a));
            return k == ARCHIVE_FATAL ? -EIO : 1;
        }
        off += len;
        w->st->bytes_written += len;
        *w->done_bytes += len;
    }
    return 0;
}

/* --verify: read the file back and check every chunk against its id (holes: zeros). */
static int verify_file(writer_ctx *w, int tfd, const bk_plan_entry *pe)
{
    const bk_node *n = &pe->node;
    int fd = bk_target_open(tfd, pe->path + 1, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return fd;
    int r = 0;
    uint64_t off = 0;
    for (size_t i = 0; r == 0 && i < n->ncontent; i++) {
        const bk_content *c = &n->content[i];
        if (w->cap < c->len) {
            uint8_t *b = realloc(w->buf, c->len);
            if (!b) {
                r = -ENOMEM;
                break;
            }
            w->buf = b;
            w->cap = c->len;
        }
        if (c->hole) {
            size_t got = 0;
            while (r == 0 && got < c->len) {
                ssize_t k = pread(fd, w->buf, c->len - got, (off_t)(off + got));
                if (k <= 0)
                    r = k < 0 ? -errno : -EBADMSG;
                else if (w->buf[0] != 0 || memcmp(w->buf, w->buf + 1, (size_t)k - 1) != 0)
                    r = -EBADMSG;
                else
                    got += (size_t)k;
            }
        } else {
            r = bk_reuse_read(w->rs->repo->keys, fd, off, w->buf, c->len, &c->id);
        }
        off += c->len;
    }
    struct stat st;
    if (r == 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_size != n->size))
        r = -EBADMSG;
    close(fd);
    return r;
}

/* After everything is written: what libarchive leaves as it was when a tree is restored
 * over an existing one.  A new entry inherits the default ACL of a directory that was
 * already there: drop ACLs the snapshot does not have (and restore the mode, whose group
 * bits the ACL mask set).  Directories that existed keep the times their changes gave them:
 * set the snapshot's. */
static void finish_metadata(bk_restore *rs, bk_plan *plan, int tfd, bool fresh,
                            bk_restore_stats *st)
{
    if (fresh)
        return;   /* all new: libarchive sets directory ACLs and times after their content */
    for (size_t i = 0; i < plan->n; i++) {
        bk_plan_entry *pe = &plan->v[i];
        const bk_node *n = &pe->node;
        bool dir = n->type == BK_NODE_DIR;
        if (pe->skip || pe->link_to || !(dir || n->type == BK_NODE_FILE))
            continue;
        int fd = bk_target_open(tfd, pe->path + 1, (dir ? O_DIRECTORY : 0) | O_RDONLY |
                                                     O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;   /* it failed earlier, and was reported then */
        int e = 0;
        if (!n->acl_posix) {
            bool had = fremovexattr(fd, "system.posix_acl_access") == 0;
            if (dir)
                had |= fremovexattr(fd, "system.posix_acl_default") == 0;
            if (had && fchmod(fd, n->mode) < 0)
                e = -errno;
        }
        if (dir && pe->existed) {
            struct timespec ts[2] = { { n->mtime, n->mtime_nsec }, { n->mtime, n->mtime_nsec } };
            if (futimens(fd, ts) < 0)
                e = -errno;
        }
        close(fd);
        if (e < 0)
            report_item(rs, st, pe->path, e, strerror(-e));
    }
}

int bk_restore_run(bk_restore *rs, bk_restore_stats *ret_stats)
{
    bk_repo *repo = rs->repo;
    bk_restore_stats st = { 0 };
    double t0 = bk_monotonic(), last = 0;
    if (!rs->target)
        return bk_repo_error(repo, -EINVAL, "no target directory given");
    bk_plan plan;
    int r = bk_plan_build(repo, &rs->snap->tree, rs->includes, rs->nincludes, rs->excludes,
                          rs->nexcludes, &plan);
    if (r < 0)
        return r;
    if (plan.n == 0 && rs->nincludes > 0) {
        bk_plan_free(&plan);
        return bk_repo_error(repo, -ENOENT, "nothing in the snapshot matches the includes");
    }

    /* hard links: every later name of a (device, inode) links to the first */
    linkmap links;
    bk_idmap_init(&links.map, sizeof(size_t));
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_node *n = &plan.v[i].node;
        if (n->type != BK_NODE_FILE || n->nlink <= 1)
            continue;
        bk_id k;
        size_t *first;
        link_key(n, &k);
        r = bk_idmap_put(&links.map, &k, (void **)&first);
        if (r == 0)
            plan.v[i].link_to = *first + 1;
        else if (r == 1)
            *first = i;
        r = r < 0 ? r : 0;
    }

    /* an existing target: what is there already, what is reusable, what goes */
    int tfd = open(rs->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool fresh = tfd < 0;
    if (tfd < 0 && errno != ENOENT)
        r = bk_repo_error(repo, -errno, "cannot open %s: %s", rs->target, strerror(errno));
    if (r == 0 && tfd >= 0)
        r = inspect_target(rs, &plan, tfd, &st);

    uint64_t total_bytes = 0, total_files = 0;
    bk_fetcher *f = NULL;
    if (r == 0)
        r = bk_fetcher_new(repo, &f);
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_plan_entry *pe = &plan.v[i];
        if (pe->node.type != BK_NODE_FILE || pe->link_to || pe->skip)
            continue;
        total_files++;
        total_bytes += pe->node.size;
        r = bk_fetcher_plan(f, pe->node.content, pe->node.ncontent, pe->local);
    }
    if (r == 0 && rs->dry_run) {
        bk_fetch_stats fs;
        bk_fetcher_stats_get(f, &fs);
        for (size_t i = 0; i < plan.n; i++) {
            const bk_plan_entry *pe = &plan.v[i];
            if (pe->node.type == BK_NODE_FILE && !pe->link_to)
                pe->skip ? st.files_unchanged++ : st.files_restored++;
            else if (pe->node.type == BK_NODE_DIR)
                st.dirs += !pe->existed;
            else
                st.others += !pe->skip;
            for (size_t k = 0; pe->local && k < pe->node.ncontent; k++)
                if (pe->local[k] != BK_LOCAL_NONE)
                    st.bytes_reused += pe->node.content[k].len;
        }
        st.bytes_written = total_bytes;
        st.bytes_fetched = fs.bytes_planned;
        bk_fetcher_free(f);
        f = NULL;
        goto out;
    }
    if (r == 0)
        r = bk_fetcher_start(f);

    int oldcwd = -1;
    struct archive *a = NULL;
    struct archive_entry *e = NULL;
    if (r == 0 && tfd < 0) {
        if (mkdir(rs->target, 0700) < 0 && errno != EEXIST)
            r = bk_repo_error(repo, -errno, "cannot create %s: %s", rs->target, strerror(errno));
        else if ((tfd = open(rs->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            r = bk_repo_error(repo, -errno, "cannot open %s: %s", rs->target, strerror(errno));
    }
    if (r == 0) {
        oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fchdir(tfd) < 0)
            r = bk_repo_error(repo, -errno, "cannot enter %s: %s", rs->target, strerror(errno));
    }
    if (r == 0) {
        a = archive_write_disk_new();
        e = archive_entry_new();
        if (!a || !e)
            r = -ENOMEM;
    }
    if (r == 0) {
        int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_ACL |
                    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                    ARCHIVE_EXTRACT_SAFE_WRITES;
        if (geteuid() == 0 && !rs->no_owner)
            flags |= ARCHIVE_EXTRACT_OWNER;
        archive_write_disk_set_options(a, flags);
        archive_write_disk_set_standard_lookup(a);
    }
    uint64_t done_bytes = 0, done_files = 0;
    writer_ctx w = { .rs = rs, .f = f, .a = a, .st = &st, .done_bytes = &done_bytes };
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_plan_entry *pe = &plan.v[i];
        bk_node *n = &pe->node;
        const char *rel = pe->path + 1;   /* relative to the target */
        bool linked = pe->link_to > 0;
        if (pe->skip) {
            st.files_unchanged += n->type == BK_NODE_FILE && !linked;
            continue;
        }
        /* the old version of a changed file, to take its unchanged chunks from: opened
         * before the new one is written (under a temporary name, renamed over it) */
        int oldfd = pe->local ? bk_target_open(tfd, rel, O_RDONLY | O_NOFOLLOW) : -1;
        bk_node_to_entry(n, rel, e);
        if (linked) {
            archive_entry_set_hardlink(e, plan.v[pe->link_to - 1].path + 1);
            archive_entry_set_size(e, 0);
        }
        int k = archive_write_header(a, e);
        if (k == ARCHIVE_FATAL) {
            if (oldfd >= 0)
                close(oldfd);
            r = bk_repo_error(repo, -EIO, "%s: %s", pe->path, archive_error_string(a));
            break;
        }
        bool wrote = k >= ARCHIVE_WARN;
        if (k < ARCHIVE_WARN)
            report_item(rs, &st, pe->path, -EIO, archive_error_string(a));
        else if (k == ARCHIVE_WARN)
            bk_repo_log(repo, BK_LOG_WARNING, "%s: %s", pe->path, archive_error_string(a));
        if (n->type == BK_NODE_FILE && !linked) {
            if (wrote) {
                int c = write_content(&w, pe, oldfd);
                if (c < 0) {
                    if (oldfd >= 0)
                        close(oldfd);
                    r = bk_repo_error(repo, c, "%s: cannot write", pe->path);
                    break;
                }
                wrote = c == 0;
            } else {
                bk_fetcher_skip(f, n->content, n->ncontent, 0, pe->local);
            }
            done_files++;
        }
        if (oldfd >= 0)
            close(oldfd);
        if (wrote) {
            k = archive_write_finish_entry(a);
            if (k < ARCHIVE_WARN)
                report_item(rs, &st, pe->path, -EIO, archive_error_string(a));
            else if (n->type == BK_NODE_FILE)
                st.files_restored++;
            else if (n->type == BK_NODE_DIR)
                st.dirs += !pe->existed;
            else
                st.others++;
            if (k >= ARCHIVE_WARN && rs->verify && n->type == BK_NODE_FILE && !linked) {
                int v = verify_file(&w, tfd, pe);
                if (v < 0)
                    report_item(rs, &st, pe->path, v,
                                v == -EBADMSG ? "verification failed: the file on disk differs "
                                                "from the snapshot" : strerror(-v));
            }
        }
        if (rs->progress && (bk_monotonic() - last >= 0.1 || i + 1 == plan.n)) {
            last = bk_monotonic();
            bk_progress p = { .files_done = done_files, .files_total = total_files,
                              .bytes_done = done_bytes, .bytes_total = total_bytes,
                              .errors = st.errors, .current = pe->path, .elapsed = last - t0 };
            rs->progress(&p, rs->progress_ud);
        }
    }
    free(w.buf);
    if (a) {
        if (archive_write_close(a) < ARCHIVE_WARN && r == 0)
            report_item(rs, &st, rs->target, -EIO, archive_error_string(a));
        archive_write_free(a);
    }
    if (r == 0)
        finish_metadata(rs, &plan, tfd, fresh, &st);
    archive_entry_free(e);
    if (oldcwd >= 0) {
        if (fchdir(oldcwd) < 0 && r == 0)
            r = -errno;
        close(oldcwd);
    }
out:
    if (tfd >= 0)
        close(tfd);
    if (f) {
        bk_fetch_stats fs;
        bk_fetcher_stats_get(f, &fs);
        st.bytes_fetched = fs.bytes_fetched;
        st.packs_fetched = fs.packs;
    }
    bk_fetcher_free(f);
    bk_idmap_free(&links.map);
    bk_plan_free(&plan);
    st.duration = bk_monotonic() - t0;
    if (ret_stats)
        *ret_stats = st;
    return r;
}
