/* restorer.c - restore a snapshot (or part of it) into a directory.
 *
 * Plan: walk the snapshot's trees, keep the entries the includes and excludes select
 * (with the directories above them), and plan every content blob with the fetcher, which
 * then fetches each pack once, in parallel, ahead of the writer.  Over an existing target,
 * look first (what is unchanged, what can be taken from old versions, what --delete
 * removes).  Write: entries in tree order through place.c, which creates every name in its
 * directory's fd (never through a symlink, never outside the target), files under a
 * temporary name renamed into place once complete, and directories' metadata after their
 * content; the files' content is written by several writer threads (restwrite.c).  One restore at a time per target (flock on the target directory). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher.h"
#include "match.h"
#include "place.h"
#include "restore.h"
#include "restwrite.h"
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
    bool dry_run, del, verify, no_owner, numeric_ids;
    bk_progress_fn progress;
    void *progress_ud;
    bk_item_error_fn item_error;
    void *item_ud;
};

int bk_restore_new(bk_repo *repo, const bk_snapshot *snap, bk_restore **ret)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "restore");
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
    case BK_RESTORE_NUMERIC_IDS: r->numeric_ids = v != 0; return 0;
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
    e->error = NULL;
    int r = bk_node_copy(n, &e->node);
    if (r < 0) {
        free(e->path);
        return r;
    }
    p->n++;
    return 0;
}

int bk_plan_load_content(bk_repo *repo, bk_plan_entry *e)
{
    if (e->error)
        return 0;
    int r = bk_repo_node_load_content(repo, &e->node);
    if (r < 0 && r != -ENOMEM && r != -EINTR) {
        const char *m = bk_repo_errmsg(repo);
        e->error = strdup(m && *m ? m : strerror(-r));
        bk_repo_clear_error(repo);
        r = e->error ? 0 : -ENOMEM;
    }
    return r;
}

void bk_plan_free(bk_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
        free(p->v[i].local);
        free(p->v[i].error);
        bk_node_clear(&p->v[i].node);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

static void plan_pop(bk_plan *p)
{
    p->n--;
    free(p->v[p->n].path);
    free(p->v[p->n].error);
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
            if (e == -EROFS)
                r = bk_repo_error(rs->repo, e, "cannot write into %s%s: %s", rs->target,
                                  path, strerror(-e));
            else if (e < 0)
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

/* While looking at the target, the directories on the way to the current entry, in plan
 * order: each level's fd, or -1 if it is not there (nor anything below it). */
typedef struct look_level {
    int fd;
    size_t path_len;
} look_level;

typedef struct look {
    look_level *v;
    size_t n, cap;
} look;

#define LOOK_MAX_OPEN 256   /* deeper, entries are taken as absent: written anew, correctly */

static int look_push(look *lk, int fd, size_t path_len)
{
    if (lk->n == lk->cap) {
        size_t cap = lk->cap ? lk->cap * 2 : 32;
        look_level *v = realloc(lk->v, cap * sizeof(*v));
        if (!v) {
            if (fd >= 0)
                close(fd);
            return -ENOMEM;
        }
        lk->v = v;
        lk->cap = cap;
    }
    if (fd >= 0 && lk->n >= LOOK_MAX_OPEN) {
        close(fd);
        fd = -1;
    }
    lk->v[lk->n++] = (look_level){ fd, path_len };
    return 0;
}

/* The fd of the directory that holds pe (-1: not there), leaving the ones that do not. */
static int look_parent(look *lk, const bk_plan_entry *pe)
{
    while (lk->n > 1) {
        look_level *t = &lk->v[lk->n - 1];
        if (pe->path_len > t->path_len && pe->path[t->path_len] == '/')
            break;   /* plan order: the top holds pe if its path is a prefix of pe's */
        if (t->fd >= 0)
            close(t->fd);
        lk->n--;
    }
    const char *slash = strrchr(pe->path, '/');
    look_level *t = &lk->v[lk->n - 1];
    return slash && (size_t)(slash - pe->path) == t->path_len ? t->fd : -1;
}

static void look_free(look *lk)
{
    for (size_t k = 1; k < lk->n; k++)
        if (lk->v[k].fd >= 0)
            close(lk->v[k].fd);
    free(lk->v);
}

/* Decide, entry by entry, what the target already has: unchanged entries are skipped, the
 * old versions of changed files are scanned for chunks to reuse, and with --delete what
 * is in the way or not in the snapshot goes (before anything is written, so that the
 * times of directories are restored last). */
static int inspect_target(bk_restore *rs, bk_plan *plan, int tfd, bk_owners *owners,
                          bk_restore_stats *st)
{
    bk_repo *repo = rs->repo;
    bool owner = geteuid() == 0 && !rs->no_owner;
    int r = 0;
    if (rs->del && rs->nincludes == 0 && deletable(rs->snap, ""))
        r = delete_extra(rs, tfd, "", &rs->snap->tree, st);
    look lk = { 0 };
    if (r == 0)
        r = look_push(&lk, tfd, 0);
    for (size_t i = 0; r == 0 && i < plan->n; i++) {
        bk_plan_entry *pe = &plan->v[i];
        const bk_node *n = &pe->node;
        int dirfd = look_parent(&lk, pe);
        const char *name = strrchr(pe->path, '/') + 1;
        struct stat sb;
        uid_t uid;
        gid_t gid;
        bk_owners_map(owners, n, &uid, &gid);
        bk_target_state ts = dirfd < 0 ? BK_TARGET_ABSENT
                                       : bk_target_compare_at(dirfd, name, n, owner, uid, gid, &sb);
        /* (above the snapshot's paths nothing is removed: a /lib -> usr/lib symlink of the
         * target where the snapshot has a directory stays, and the restore below it fails) */
        if (ts == BK_TARGET_OTHER_TYPE && rs->del && deletable(rs->snap, pe->path)) {
            int e = bk_target_remove(dirfd, name, rs->dry_run, &st->deleted);
            if (e == -EROFS) {
                r = bk_repo_error(repo, e, "cannot write into %s: %s", rs->target, strerror(-e));
                break;
            }
            if (e < 0)
                report_item(rs, st, pe->path, e, strerror(-e));
            ts = BK_TARGET_ABSENT;
        }
        pe->existed = ts == BK_TARGET_SAME || ts == BK_TARGET_CHANGED;
        if (pe->existed) {
            pe->disk_dev = sb.st_dev;
            pe->disk_ino = sb.st_ino;
        }
        if (ts == BK_TARGET_OTHER_TYPE && !deletable(rs->snap, pe->path)) {
            /* not ours to replace: leave it, and what is below fails to restore */
            pe->skip = true;
            if (n->type == BK_NODE_DIR)
                r = look_push(&lk, -1, pe->path_len);
            continue;
        }
        if (n->type == BK_NODE_DIR) {
            int fd = -1;
            if (ts == BK_TARGET_SAME)
                fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0 && rs->del && pe->full && deletable(rs->snap, pe->path))
                r = delete_extra(rs, fd, pe->path, &n->subtree, st);
            if (r == 0)
                r = look_push(&lk, fd, pe->path_len);
            else if (fd >= 0)
                close(fd);
            continue;
        }
        if (pe->link_to) {
            /* a hard link is in place when both names are the same inode */
            const bk_plan_entry *first = &plan->v[pe->link_to - 1];
            pe->skip = ts == BK_TARGET_SAME || ts == BK_TARGET_CHANGED ?
                       first->existed && first->skip && first->disk_dev == pe->disk_dev &&
                       first->disk_ino == pe->disk_ino : false;
            continue;
        }
        if (ts == BK_TARGET_SAME) {
            pe->skip = true;
            continue;
        }
        if (ts == BK_TARGET_CHANGED && (r = bk_plan_load_content(repo, pe)) < 0)
            break;
        if (ts != BK_TARGET_CHANGED || n->type != BK_NODE_FILE || n->ncontent == 0)
            continue;
        bk_chunker ch;
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
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
    if (lk.n > 0)
        lk.v[0].fd = -1;   /* the target's fd is the caller's */
    look_free(&lk);
    return r;
}

/* One restore at a time: an exclusive flock on the target directory, waited for up to the
 * repository's lock wait.  File systems without flock (some network ones) go unlocked. */
static int lock_target(bk_restore *rs, int tfd)
{
    bk_repo *repo = rs->repo;
    double deadline = bk_monotonic() + (double)repo->lock_wait_ms / 1000.0;
    bool said = false;
    for (;;) {
        if (flock(tfd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            bk_repo_log(repo, BK_LOG_WARNING, "cannot lock %s (%s): another restore into it "
                        "would not be kept out", rs->target, strerror(errno));
            return 0;
        }
        if (bk_monotonic() >= deadline)
            return bk_repo_error(repo, -EBUSY, "another arca restore is writing into %s",
                                 rs->target);
        if (!said) {
            bk_repo_log(repo, BK_LOG_WARNING, "another arca restore is writing into %s: "
                        "waiting up to %.0f s", rs->target, (double)repo->lock_wait_ms / 1000.0);
            said = true;
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* Does the directory fd hold nothing?  (Read from its start, and put back there.) */
static bool dir_empty(int fd)
{
    char buf[1024];
    bool empty = true;
    ssize_t k = getdents64(fd, buf, sizeof(buf));
    for (ssize_t off = 0; k > 0 && off < k && empty;) {
        const struct dirent64 *d = (const struct dirent64 *)(buf + off);
        off += d->d_reclen;
        empty = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
    }
    if (k > 0 && empty)
        empty = getdents64(fd, buf, sizeof(buf)) == 0;   /* (only . and .. in the first read) */
    (void)lseek(fd, 0, SEEK_SET);
    return k >= 0 && empty;
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct run_ctx {
    bk_restore *rs;
    bk_restore_stats *st;
    uint64_t nfs4;
} run_ctx;

/* bk_place_report_fn and bk_rw_report_fn: count and name */
static void on_report(void *ud, const char *path, int code, const char *msg)
{
    run_ctx *c = ud;
    report_item(c->rs, c->st, path, code, msg);
}

/* bk_rw_done_fn: a file committed (or not) */
static void on_file_done(void *ud, const bk_plan_entry *pe, int k)
{
    run_ctx *c = ud;
    c->st->files_restored += k == 0;
    c->nfs4 += k == 0 && pe->node.acl_nfs4;
}

/* A regular file: its temporary file begun here, its content queued for the writers,
 * which take it from the fetcher (or its old version); renamed into place when it is
 * committed.  0 queued (counted at its commit), 1 not restored (reported), < 0 fatal. */
static int start_file(run_ctx *c, bk_fetcher *f, bk_rwriters *rw, bk_place *pl, size_t i,
                      bk_plan_entry *pe)
{
    const bk_node *n = &pe->node;
    if (pe->error) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "not restored (the old version, if any, is kept): %s", pe->error);
        report_item(c->rs, c->st, pe->path, -EBADMSG, msg);
        bk_fetcher_skip(f, n->content, n->ncontent, 0, pe->local);
        return 1;
    }
    int oldfd = pe->local ? bk_place_open_old(pl, i) : -1;
    bk_place_file pf;
    int k = bk_place_file_begin(pl, i, &pf);
    if (k != 0) {
        if (oldfd >= 0)
            close(oldfd);
        bk_fetcher_skip(f, n->content, n->ncontent, 0, pe->local);
        return k;
    }
    return bk_rw_add(rw, pe, &pf, oldfd);
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
    bk_owners *owners = NULL;
    if (r == 0)
        r = bk_owners_new(rs->numeric_ids, &owners);

    /* the target: made if missing (not for a dry run), locked, looked at if it was there */
    int tfd = -1;
    bool fresh = false;
    if (r == 0) {
        tfd = open(rs->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0 && errno != ENOENT)
            r = bk_repo_error(repo, -errno, "cannot open %s: %s", rs->target, strerror(errno));
    }
    if (r == 0 && tfd < 0 && !rs->dry_run) {
        fresh = mkdir(rs->target, 0700) == 0;
        if (!fresh && errno != EEXIST)
            r = bk_repo_error(repo, -errno, "cannot create %s: %s", rs->target, strerror(errno));
        else if ((tfd = open(rs->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            r = bk_repo_error(repo, -errno, "cannot open %s: %s", rs->target, strerror(errno));
    }
    if (r == 0 && tfd >= 0 && !rs->dry_run)
        r = lock_target(rs, tfd);
    /* an empty target is as one made: nothing to look at, nothing in the way */
    bool empty = fresh || (r == 0 && tfd >= 0 && dir_empty(tfd));
    if (r == 0 && tfd >= 0 && !empty)
        r = inspect_target(rs, &plan, tfd, owners, &st);

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
        r = bk_plan_load_content(repo, pe);
        if (r == 0)
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

    bk_place *pl = NULL;
    run_ctx ctx = { .rs = rs, .st = &st };
    bk_place_opts po = { .target = rs->target, .root_tree = &rs->snap->tree, .owners = owners,
                         .owner = geteuid() == 0 && !rs->no_owner, .readable = rs->verify,
                         .fresh = fresh, .empty = empty };
    if (r == 0)
        r = bk_place_new(repo, tfd, &plan, &po, on_report, &ctx, &pl);
    uint64_t done_bytes = 0, done_files = 0;
    bk_rwriters *rw = NULL;
    if (r == 0) {
        bk_rw_opts ro = { .repo = repo, .fetcher = f, .verify = rs->verify,
                          .threads = bk_repo_threads(repo), .done_bytes = &done_bytes,
                          .st = &st, .done = on_file_done, .report = on_report, .ud = &ctx };
        r = bk_rw_new(&ro, &rw);
    }
    for (size_t i = 0; r == 0 && i <= plan.n; i++) {
        if ((r = bk_repo_check_interrupt(repo)) < 0)
            break;
        bk_plan_entry *pe = i < plan.n ? &plan.v[i] : NULL;
        if (pe && pe->skip && pe->node.type != BK_NODE_DIR) {
            st.files_unchanged += pe->node.type == BK_NODE_FILE && !pe->link_to;
            continue;
        }
        /* the files begun are committed before the plan leaves their directory */
        if ((!pe || bk_rw_must_drain(rw, pe)) && (r = bk_rw_drain(rw)) < 0)
            break;
        if (!pe) {
            if (rs->progress) {
                bk_progress p = { .files_done = done_files, .files_total = total_files,
                                  .bytes_done = done_bytes, .bytes_total = total_bytes,
                                  .errors = st.errors, .elapsed = bk_monotonic() - t0 };
                rs->progress(&p, rs->progress_ud);
            }
            break;
        }
        bk_node *n = &pe->node;
        bool file = n->type == BK_NODE_FILE && !pe->link_to;
        int k = bk_place_enter(pl, i);
        if (k == 0) {
            switch (n->type) {
            case BK_NODE_DIR:
                k = bk_place_dir(pl, i);
                st.dirs += k == 0 && !pe->existed;
                break;
            case BK_NODE_FILE:
                if (file) {
                    k = start_file(&ctx, f, rw, pl, i, pe);
                    break;   /* counted when committed */
                }
                k = bk_place_link(pl, i, pe->link_to - 1);
                st.files_restored += k == 0;
                break;
            default:
                k = bk_place_node(pl, i);
                st.others += k == 0;
                break;
            }
            ctx.nfs4 += k == 0 && !file && n->acl_nfs4;
        } else if (k > 0 && file) {
            bk_fetcher_skip(f, n->content, n->ncontent, 0, pe->local);
        }
        if (k < 0) {
            r = k;
            break;
        }
        done_files += file;
        if (rs->progress && bk_monotonic() - last >= 0.1) {
            last = bk_monotonic();
            bk_progress p = { .files_done = done_files, .files_total = total_files,
                              .bytes_done = __atomic_load_n(&done_bytes, __ATOMIC_RELAXED),
                              .bytes_total = total_bytes, .errors = st.errors,
                              .current = pe->path, .elapsed = last - t0 };
            rs->progress(&p, rs->progress_ud);
        }
    }
    bk_rw_free(rw);   /* before the directories close: what was not committed goes */
    if (pl) {
        int e = bk_place_finish(pl);
        if (r == 0)
            r = e;
        bk_place_free(pl);
    }
    if (r == 0 && ctx.nfs4)
        bk_repo_log(repo, BK_LOG_WARNING, "%llu entries have NFSv4 ACLs, which are not restored",
                    (unsigned long long)ctx.nfs4);
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
    bk_owners_free(owners);
    bk_idmap_free(&links.map);
    bk_plan_free(&plan);
    st.duration = bk_monotonic() - t0;
    if (ret_stats)
        *ret_stats = st;
    return r;
}
