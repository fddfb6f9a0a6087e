/* dump.c - stream one file's content, or a directory as a pax tar archive. */
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include "fetcher.h"
#include "restore.h"
#include "util.h"

static int write_zeros(int fd, uint64_t n)
{
    static const uint8_t zeros[65536];
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        int r = bk_write_full(fd, zeros, k);
        if (r < 0)
            return r;
        n -= k;
    }
    return 0;
}

/* Feed a file's content to sink(ctx, data, len) in order; holes as zeros. */
typedef int (*sink_fn)(void *ctx, const void *p, size_t n, bool hole);

static int feed(bk_repo *repo, bk_fetcher *f, const bk_node *n, sink_fn sink, void *ctx)
{
    for (size_t i = 0; i < n->ncontent; i++) {
        const bk_content *c = &n->content[i];
        if (c->hole) {
            int r = sink(ctx, NULL, c->len, true);
            if (r < 0) {
                bk_fetcher_skip(f, n->content, n->ncontent, i + 1, NULL);
                return r;
            }
            continue;
        }
        const uint8_t *data;
        size_t len;
        int r = bk_fetcher_get(f, &c->id, &data, &len);
        if (r == 0)
            r = sink(ctx, data, len, false);
        bk_fetcher_release(f, &c->id);
        if (r < 0) {
            bk_fetcher_skip(f, n->content, n->ncontent, i + 1, NULL);
            return r;
        }
    }
    return 0;
}

static int fd_sink(void *ctx, const void *p, size_t n, bool hole)
{
    int fd = *(int *)ctx;
    return hole ? write_zeros(fd, n) : bk_write_full(fd, p, n);
}

/* The reason libarchive failed to write (EPIPE when the reader went away). */
static int tar_errno(struct archive *a)
{
    int e = archive_errno(a);
    return e > 0 ? -e : -EIO;
}

struct tar_sink {
    struct archive *a;
    uint64_t off;
};

static int tar_sink(void *ctx, const void *p, size_t n, bool hole)
{
    struct tar_sink *t = ctx;
    static const uint8_t zeros[65536];
    while (n > 0) {
        size_t k = hole ? BK_MIN(n, sizeof(zeros)) : n;
        la_ssize_t w = archive_write_data(t->a, hole ? zeros : p, k);
        if (w < 0)
            return tar_errno(t->a);
        n -= k;
    }
    return 0;
}

static int dump_dir(bk_repo *repo, const bk_node *dir, const char *path, int fd)
{
    bk_plan plan;
    int r = bk_plan_build(repo, &dir->subtree, NULL, 0, NULL, 0, &plan);
    if (r < 0)
        return r;
    /* entry names: relative, starting with the directory's own name ("." for "/") */
    const char *base = strrchr(path, '/');
    base = (base && base[1]) ? base + 1 : ".";
    bk_fetcher *f = NULL;
    bk_idmap links;
    bk_idmap_init(&links, sizeof(size_t));
    r = bk_fetcher_new(repo, &f);
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_node *n = &plan.v[i].node;
        if (n->type != BK_NODE_FILE)
            continue;
        if (n->nlink > 1) {
            bk_id k = { { 0 } };
            memcpy(k.b, &n->dev, 8);
            memcpy(k.b + 8, &n->inode, 8);
            size_t *first;
            r = bk_idmap_put(&links, &k, (void **)&first);
            if (r < 0)
                break;
            if (r == 0) {
                plan.v[i].link_to = *first + 1;
                r = 0;
                continue;
            }
            *first = i;
            r = 0;
        }
        r = bk_plan_load_content(repo, &plan.v[i]);
        if (r == 0)
            r = bk_fetcher_plan(f, n->content, n->ncontent, NULL);
    }
    if (r == 0)
        r = bk_fetcher_start(f);
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    if (r == 0 && (!a || !e))
        r = -ENOMEM;
    if (r == 0 && (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
                   archive_write_open_fd(a, fd) != ARCHIVE_OK))
        r = bk_repo_error(repo, tar_errno(a), "cannot write tar: %s", archive_error_string(a));
    char *name = NULL;
    if (r == 0) {
        bk_node_to_entry(dir, base, e);
        if (archive_write_header(a, e) < ARCHIVE_WARN)
            r = bk_repo_error(repo, tar_errno(a), "cannot write tar: %s", archive_error_string(a));
    }
    for (size_t i = 0; r == 0 && i < plan.n; i++) {
        bk_plan_entry *pe = &plan.v[i];
        if (pe->node.type == BK_NODE_SOCKET) {
            /* tar has no sockets: left out, the rest goes on */
            bk_repo_log(repo, BK_LOG_WARNING, "%s%s: a socket, which tar cannot hold: not in "
                        "the archive", path[1] ? path : "", pe->path);
            continue;
        }
        if (pe->error) {   /* its content lists cannot be read: the archive would be wrong */
            r = bk_repo_error(repo, -EBADMSG, "%s%s: %s", path[1] ? path : "", pe->path, pe->error);
            break;
        }
        free(name);
        name = malloc(strlen(base) + pe->path_len + 1);
        if (!name) {
            r = -ENOMEM;
            break;
        }
        sprintf(name, "%s%s", base, pe->path);
        bk_node_to_entry(&pe->node, name, e);
        if (pe->link_to) {
            const bk_plan_entry *t = &plan.v[pe->link_to - 1];
            char *target = malloc(strlen(base) + t->path_len + 1);
            if (!target) {
                r = -ENOMEM;
                break;
            }
            sprintf(target, "%s%s", base, t->path);
            archive_entry_set_hardlink(e, target);
            archive_entry_set_size(e, 0);
            free(target);
        }
        int k = archive_write_header(a, e);
        if (k == ARCHIVE_FAILED) {
            /* this entry cannot be in a tar archive; the archive itself is fine */
            bk_repo_log(repo, BK_LOG_WARNING, "%s%s: not in the archive: %s", path[1] ? path : "",
                        pe->path, archive_error_string(a));
            if (pe->node.type == BK_NODE_FILE && !pe->link_to)
                bk_fetcher_skip(f, pe->node.content, pe->node.ncontent, 0, NULL);
            continue;
        }
        if (k < ARCHIVE_WARN) {
            r = bk_repo_error(repo, tar_errno(a), "cannot write tar: %s", archive_error_string(a));
            break;
        }
        if (pe->node.type == BK_NODE_FILE && !pe->link_to) {
            struct tar_sink ts = { a, 0 };
            r = feed(repo, f, &pe->node, tar_sink, &ts);
            if (r < 0 && bk_repo_errcode(repo) == 0)
                r = bk_repo_error(repo, r, "cannot write tar: %s", archive_error_string(a));
        }
    }
    free(name);
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && r == 0)
            r = bk_repo_error(repo, tar_errno(a), "cannot write tar: %s", archive_error_string(a));
        archive_write_free(a);
    }
    archive_entry_free(e);
    bk_fetcher_free(f);
    bk_idmap_free(&links);
    bk_plan_free(&plan);
    return r;
}

int bk_dump(bk_repo *repo, const bk_snapshot *snap, const char *path, int fd)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "dump");
    char *norm = bk_snapshot_path_normalize(path);
    if (!norm)
        return -ENOMEM;
    bk_node n;
    int r = bk_repo_find_node(repo, &snap->tree, norm, &n);
    if (r == -ENOENT || r == -ENOTDIR)
        r = bk_repo_error(repo, -ENOENT, "%s: not in snapshot", norm);
    if (r < 0) {
        free(norm);
        return r;
    }
    if (n.type == BK_NODE_DIR) {
        r = dump_dir(repo, &n, norm, fd);
    } else if (n.type == BK_NODE_FILE) {
        bk_fetcher *f = NULL;
        r = bk_repo_node_load_content(repo, &n);
        if (r == 0)
            r = bk_fetcher_new(repo, &f);
        if (r == 0) {
            r = bk_fetcher_plan(f, n.content, n.ncontent, NULL);
            if (r == 0)
                r = bk_fetcher_start(f);
            if (r == 0) {
                r = feed(repo, f, &n, fd_sink, &fd);
                if (r < 0 && bk_repo_errcode(repo) == 0)
                    r = bk_repo_error(repo, r, "cannot write %s: %s", norm, strerror(-r));
            }
            bk_fetcher_free(f);
        }
    } else {
        r = bk_repo_error(repo, -EINVAL, "%s is not a file or directory", norm);
    }
    bk_node_clear(&n);
    free(norm);
    return r;
}
