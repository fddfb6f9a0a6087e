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
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher.h"
#include "match.h"
#include "restore.h"
#include "snapshot.h"
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

/* ---- run ------------------------------------------------------------------------------------ */

static void report_item(bk_restore *rs, bk_restore_stats *st, const char *path, int code,
                        const char *msg)
{
    st->errors++;
    if (rs->item_error)
        rs->item_error(path, code, msg, rs->item_ud);
}

static int write_content(bk_restore *rs, bk_fetcher *f, struct archive *a, const bk_plan_entry *pe,
                         bk_restore_stats *st, uint64_t *done_bytes)
{
    const bk_node *n = &pe->node;
    uint64_t off = 0;
    for (size_t i = 0; i < n->ncontent; i++) {
        const bk_content *c = &n->content[i];
        if (c->hole) {
            off += c->len;
            continue;
        }
        const uint8_t *data;
        size_t len;
        int r = bk_fetcher_get(f, &c->id, &data, &len);
        if (r < 0) {
            bk_fetcher_release(f, &c->id);
            bk_fetcher_skip(f, n->content, n->ncontent, i + 1);
            report_item(rs, st, pe->path, r, bk_repo_errmsg(rs->repo));
            bk_repo_clear_error(rs->repo);
            return 1;
        }
        la_ssize_t w = archive_write_data_block(a, data, len, (la_int64_t)off);
        bk_fetcher_release(f, &c->id);
        if (w < ARCHIVE_OK) {
            bk_fetcher_skip(f, n->content, n->ncontent, i + 1);
            report_item(rs, st, pe->path, -EIO, archive_error_string(a));
            return w == ARCHIVE_FATAL ? -EIO : 1;
        }
        off += len;
        st->bytes_written += len;
        *done_bytes += len;
    }
    return 0;
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

    uint64_t total_bytes = 0, total_files = 0;
    bk_fetcher *f = NULL;
    linkmap links;
    bk_idmap_init(&links.map, sizeof(size_t));
    r = bk_fetcher_new(repo, &f);
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_node *n = &plan.v[i].node;
        if (n->type != BK_NODE_FILE)
            continue;
        if (n->nlink > 1) {
            bk_id k;
            size_t *first;
            link_key(n, &k);
            r = bk_idmap_put(&links.map, &k, (void **)&first);
            if (r < 0)
                break;
            if (r == 0) {
                plan.v[i].link_to = *first + 1;   /* restored as a hard link */
                r = 0;
                continue;
            }
            *first = i;
            r = 0;
        }
        total_files++;
        total_bytes += n->size;
        r = bk_fetcher_plan(f, n->content, n->ncontent);
    }
    if (r == 0 && rs->dry_run) {
        st.files_restored = total_files;
        for (size_t i = 0; i < plan.n; i++)
            st.dirs += plan.v[i].node.type == BK_NODE_DIR;
        st.bytes_written = total_bytes;
        goto out;
    }
    if (r == 0)
        r = bk_fetcher_start(f);

    int oldcwd = -1, tfd = -1;
    struct archive *a = NULL;
    struct archive_entry *e = NULL;
    if (r == 0) {
        if (mkdir(rs->target, 0700) < 0 && errno != EEXIST)
            r = bk_repo_error(repo, -errno, "cannot create %s: %s", rs->target, strerror(errno));
    }
    if (r == 0) {
        oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        tfd = open(rs->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0 || fchdir(tfd) < 0)
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
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_plan_entry *pe = &plan.v[i];
        bk_node *n = &pe->node;
        const char *rel = pe->path + 1;   /* relative to the target */
        bk_node_to_entry(n, rel, e);
        bool linked = pe->link_to > 0;
        if (linked) {
            archive_entry_set_hardlink(e, plan.v[pe->link_to - 1].path + 1);
            archive_entry_set_size(e, 0);
        }
        int w = archive_write_header(a, e);
        if (w == ARCHIVE_FATAL) {
            r = bk_repo_error(repo, -EIO, "%s: %s", pe->path, archive_error_string(a));
            break;
        }
        bool wrote = w >= ARCHIVE_WARN;
        if (w < ARCHIVE_WARN) {
            report_item(rs, &st, pe->path, -EIO, archive_error_string(a));
        } else if (w == ARCHIVE_WARN) {
            bk_repo_log(repo, BK_LOG_WARNING, "%s: %s", pe->path, archive_error_string(a));
        }
        if (n->type == BK_NODE_FILE && !linked) {
            if (wrote) {
                int c = write_content(rs, f, a, pe, &st, &done_bytes);
                if (c < 0) {
                    r = bk_repo_error(repo, c, "%s: cannot write", pe->path);
                    break;
                }
                wrote = c == 0;
            } else {
                bk_fetcher_skip(f, n->content, n->ncontent, 0);
            }
            done_files++;
        }
        if (wrote) {
            w = archive_write_finish_entry(a);
            if (w < ARCHIVE_WARN)
                report_item(rs, &st, pe->path, -EIO, archive_error_string(a));
            else if (n->type == BK_NODE_FILE)
                st.files_restored++;
            else if (n->type == BK_NODE_DIR)
                st.dirs++;
            else
                st.others++;
        }
        if (rs->progress && (bk_monotonic() - last >= 0.1 || i + 1 == plan.n)) {
            last = bk_monotonic();
            bk_progress p = { .files_done = done_files, .files_total = total_files,
                              .bytes_done = done_bytes, .bytes_total = total_bytes,
                              .errors = st.errors, .current = pe->path, .elapsed = last - t0 };
            rs->progress(&p, rs->progress_ud);
        }
    }
    if (a) {
        if (archive_write_close(a) < ARCHIVE_WARN && r == 0)
            report_item(rs, &st, rs->target, -EIO, archive_error_string(a));
        archive_write_free(a);
    }
    archive_entry_free(e);
    if (oldcwd >= 0) {
        if (fchdir(oldcwd) < 0 && r == 0)
            r = -errno;
        close(oldcwd);
    }
    if (tfd >= 0)
        close(tfd);
out:
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
