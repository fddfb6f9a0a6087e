/* ls.c - listing and comparing snapshots tree by tree. */
#include <stdio.h>

#include "repo.h"
#include "restore.h"
#include "util.h"

typedef struct pathbuf {
    char *p;
    size_t len, cap;
} pathbuf;

static int path_push(pathbuf *pb, const char *name, size_t len, size_t *ret_old)
{
    *ret_old = pb->len;
    size_t need = pb->len + 1 + len + 1;
    if (need > pb->cap) {
        size_t cap = BK_MAX(need, pb->cap * 2);
        char *n = realloc(pb->p, cap);
        if (!n)
            return -ENOMEM;
        pb->p = n;
        pb->cap = cap;
    }
    if (pb->len == 0 || pb->p[pb->len - 1] != '/')
        pb->p[pb->len++] = '/';
    memcpy(pb->p + pb->len, name, len);
    pb->len += len;
    pb->p[pb->len] = 0;
    return 0;
}

static void path_pop(pathbuf *pb, size_t old)
{
    pb->len = old;
    pb->p[old] = 0;
}

static int emit(const bk_node *n, pathbuf *pb, bk_node_fn fn, void *ud)
{
    bk_node_info info;
    bk_node_info_fill(n, pb->p, pb->len, &info);
    return fn(&info, ud);
}

static int ls_tree(bk_repo *repo, const bk_id *id, pathbuf *pb, bool recursive, bk_node_fn fn,
                   void *ud)
{
    bk_tree t;
    int r = bk_repo_load_tree(repo, id, &t);
    if (r < 0)
        return r;
    for (size_t i = 0; r == 0 && i < t.n; i++) {
        const bk_node *n = &t.nodes[i];
        size_t old;
        if ((r = path_push(pb, n->name, n->name_len, &old)) < 0)
            break;
        r = emit(n, pb, fn, ud);
        if (r == 0 && recursive && n->type == BK_NODE_DIR)
            r = ls_tree(repo, &n->subtree, pb, true, fn, ud);
        path_pop(pb, old);
    }
    bk_tree_free(&t);
    return r;
}

int bk_ls(bk_repo *repo, const bk_snapshot *snap, const char *path, bool recursive, bk_node_fn fn,
          void *userdata)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "ls");
    char *norm = bk_snapshot_path_normalize(path ? path : "/");
    if (!norm)
        return -ENOMEM;
    bk_node n;
    int r = bk_repo_find_node(repo, &snap->tree, norm, &n);
    if (r == -ENOENT || r == -ENOTDIR) {
        r = bk_repo_error(repo, -ENOENT, "%s: not in snapshot", norm);
        free(norm);
        return r;
    }
    if (r < 0) {
        free(norm);
        return r;
    }
    pathbuf pb = { 0 };
    size_t old;
    bool root = strcmp(norm, "/") == 0;
    r = path_push(&pb, "", 0, &old);
    pb.len = 0;
    if (r == 0 && !root) {
        pb.len = 0;
        r = path_push(&pb, norm + 1, strlen(norm + 1), &old);
        if (r == 0)
            r = emit(&n, &pb, fn, userdata);
    }
    if (r == 0 && n.type == BK_NODE_DIR)
        r = ls_tree(repo, &n.subtree, &pb, recursive, fn, userdata);
    free(pb.p);
    bk_node_clear(&n);
    free(norm);
    return r;
}

/* ---- diff --------------------------------------------------------------------------------- */

static bool xattrs_equal(const bk_node *a, const bk_node *b)
{
    if (a->nxattrs != b->nxattrs)
        return false;
    for (size_t i = 0; i < a->nxattrs; i++)
        if (strcmp(a->xattrs[i].name, b->xattrs[i].name) != 0 || a->xattrs[i].len != b->xattrs[i].len ||
            memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].len) != 0)
            return false;
    return true;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool bk_node_meta_equal(const bk_node *a, const bk_node *b)
{
    return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->mtime == b->mtime &&
           a->mtime_nsec == b->mtime_nsec && str_eq(a->user, b->user) && str_eq(a->group, b->group) &&
           str_eq(a->acl_posix, b->acl_posix) && str_eq(a->acl_nfs4, b->acl_nfs4) &&
           a->fflags == b->fflags && xattrs_equal(a, b);
}

static bool pieces_equal(const bk_node *a, const bk_node *b)
{
    if (a->ncontent != b->ncontent)
        return false;
    for (size_t i = 0; i < a->ncontent; i++)
        if (a->content[i].len != b->content[i].len || a->content[i].hole != b->content[i].hole ||
            (!a->content[i].hole && bk_id_cmp(&a->content[i].id, &b->content[i].id) != 0))
            return false;
    return true;
}

bool bk_node_content_equal(const bk_node *a, const bk_node *b)
{
    if (a->type != b->type || a->size != b->size)
        return false;
    switch (a->type) {
    case BK_NODE_FILE:
        if (a->nlists || b->nlists) {
            /* lists are cut at fixed piece counts: the same pieces make the same lists */
            if (a->nlists != b->nlists)
                return false;
            for (size_t i = 0; i < a->nlists; i++)
                if (bk_id_cmp(&a->lists[i].id, &b->lists[i].id) != 0)
                    return false;
            return true;
        }
        return pieces_equal(a, b);
    case BK_NODE_SYMLINK:
        return a->target_len == b->target_len && memcmp(a->target, b->target, a->target_len) == 0;
    case BK_NODE_CHARDEV:
    case BK_NODE_BLOCKDEV:
        return a->rdev == b->rdev;
    case BK_NODE_DIR:
        return bk_id_cmp(&a->subtree, &b->subtree) == 0;
    }
    return true;
}

typedef struct diff_ctx {
    bk_repo *repo;
    bk_diff_fn fn;
    void *ud;
    pathbuf pb;
} diff_ctx;

static int report(diff_ctx *d, bk_diff_kind kind, const bk_node *a, const bk_node *b)
{
    bk_node_info ia, ib;
    if (a)
        bk_node_info_fill(a, d->pb.p, d->pb.len, &ia);
    if (b)
        bk_node_info_fill(b, d->pb.p, d->pb.len, &ib);
    return d->fn(kind, a ? &ia : NULL, b ? &ib : NULL, d->ud);
}

static int diff_trees(diff_ctx *d, const bk_id *a, const bk_id *b);

/* everything below a directory that exists on one side only */
static int diff_one_side(diff_ctx *d, const bk_id *tree, bool added)
{
    bk_tree t = { 0 };
    int r = bk_repo_load_tree(d->repo, tree, &t);
    for (size_t i = 0; r == 0 && i < t.n; i++) {
        size_t old;
        if ((r = path_push(&d->pb, t.nodes[i].name, t.nodes[i].name_len, &old)) < 0)
            break;
        r = report(d, added ? BK_DIFF_ADDED : BK_DIFF_REMOVED, added ? NULL : &t.nodes[i],
                   added ? &t.nodes[i] : NULL);
        if (r == 0 && t.nodes[i].type == BK_NODE_DIR)
            r = diff_one_side(d, &t.nodes[i].subtree, added);
        path_pop(&d->pb, old);
    }
    bk_tree_free(&t);
    return r;
}

/* Same content, also between a file with content lists and one without (a tree of an
 * older version): then the lists are read and the pieces compared. */
static int same_content(diff_ctx *d, bk_node *x, bk_node *y, bool *ret)
{
    if (x->type == BK_NODE_FILE && (x->nlists > 0) != (y->nlists > 0)) {
        int r = x->size == y->size ? bk_repo_node_load_content(d->repo, x->nlists ? x : y) : 0;
        *ret = x->size == y->size && pieces_equal(x, y);
        return r;
    }
    *ret = bk_node_content_equal(x, y);
    return 0;
}

static int diff_trees(diff_ctx *d, const bk_id *ida, const bk_id *idb)
{
    if (bk_id_cmp(ida, idb) == 0)
        return 0;
    bk_tree a, b;
    int r = bk_repo_load_tree(d->repo, ida, &a);
    if (r < 0)
        return r;
    r = bk_repo_load_tree(d->repo, idb, &b);
    if (r < 0) {
        bk_tree_free(&a);
        return r;
    }
    size_t i = 0, j = 0;
    bool same;
    while (r == 0 && (i < a.n || j < b.n)) {
        const bk_node *x = i < a.n ? &a.nodes[i] : NULL, *y = j < b.n ? &b.nodes[j] : NULL;
        int c = !x ? 1 : !y ? -1 : bk_name_cmp(x->name, x->name_len, y->name, y->name_len);
        const bk_node *n = c <= 0 ? x : y;
        size_t old;
        if ((r = path_push(&d->pb, n->name, n->name_len, &old)) < 0)
            break;
        if (c < 0) {
            r = report(d, BK_DIFF_REMOVED, x, NULL);
            if (r == 0 && x->type == BK_NODE_DIR)
                r = diff_one_side(d, &x->subtree, false);
            i++;
        } else if (c > 0) {
            r = report(d, BK_DIFF_ADDED, NULL, y);
            if (r == 0 && y->type == BK_NODE_DIR)
                r = diff_one_side(d, &y->subtree, true);
            j++;
        } else {
            if (x->type != y->type) {
                r = report(d, BK_DIFF_TYPE, x, y);
            } else if (x->type == BK_NODE_DIR) {
                if (!bk_node_meta_equal(x, y))
                    r = report(d, BK_DIFF_META, x, y);
                if (r == 0)
                    r = diff_trees(d, &x->subtree, &y->subtree);
            } else if ((r = same_content(d, &a.nodes[i], &b.nodes[j], &same)) == 0 && !same) {
                r = report(d, BK_DIFF_MODIFIED, x, y);
            } else if (r == 0 && !bk_node_meta_equal(x, y)) {
                r = report(d, BK_DIFF_META, x, y);
            }
            i++;
            j++;
        }
        path_pop(&d->pb, old);
    }
    bk_tree_free(&a);
    bk_tree_free(&b);
    return r;
}

int bk_diff(bk_repo *repo, const bk_snapshot *a, const bk_snapshot *b, bk_diff_fn fn, void *userdata)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "diff");
    diff_ctx d = { repo, fn, userdata, { 0 } };
    size_t old;
    int r = path_push(&d.pb, "", 0, &old);
    d.pb.len = 0;
    if (r == 0)
        r = diff_trees(&d, &a->tree, &b->tree);
    free(d.pb.p);
    return r;
}
