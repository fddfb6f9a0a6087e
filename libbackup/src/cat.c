/* cat.c - one repository object, decrypted, for inspection: config, key slots, snapshots,
 * index objects, pack headers and tree blobs as JSON, data blobs as their raw bytes. */
#include <jansson.h>

#include "repo.h"
#include "snapshot.h"
#include "util.h"

struct prefix_find {
    const char *prefix;
    size_t len;
    char found[BK_ID_HEX];
    int matches;
};

static int match_prefix(const char *name, uint64_t size, void *ctx)
{
    struct prefix_find *pf = ctx;
    if (strncmp(name, pf->prefix, pf->len) == 0 && pf->matches++ == 0)
        snprintf(pf->found, sizeof(pf->found), "%s", name);
    return 0;
}

/* A full object name from an id or a unique prefix of one (listing type t). */
static int resolve(bk_repo *repo, bk_obj_type t, const char *arg, char out[BK_ID_HEX])
{
    size_t len = strlen(arg);
    if (len < 4 || len > 64 || !bk_is_hex(arg, len))
        return bk_repo_error(repo, -EINVAL, "%s: not an id (give at least 4 hex digits)", arg);
    if (len == 64) {
        memcpy(out, arg, BK_ID_HEX);
        return 0;
    }
    struct prefix_find pf = { arg, len, "", 0 };
    int r = bk_be_list(repo->be, t, match_prefix, &pf);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot list %s: %s", bk_obj_type_name(t), strerror(-r));
    if (pf.matches != 1)
        return bk_repo_error(repo, -ENOENT, "%s: %s %s/", arg, pf.matches ? "ambiguous in" :
                             "no such object in", bk_obj_type_name(t));
    memcpy(out, pf.found, BK_ID_HEX);
    return 0;
}

static json_t *id_json(const bk_id *id)
{
    char hex[BK_ID_HEX];
    bk_id_hex(id, hex);
    return json_string(hex);
}

static json_t *entries_json(const bk_pack_entry *e, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:o, s:s, s:I, s:I, s:I}", "id", id_json(&e[i].id),
                                           "type", e[i].kind == BK_KIND_TREE ? "tree" : "data",
                                           "offset", (json_int_t)e[i].offset,
                                           "stored_length", (json_int_t)e[i].stored_len,
                                           "length", (json_int_t)e[i].raw_len));
    return a;
}

static json_t *index_json(const bk_index_obj *o)
{
    json_t *sup = json_array(), *packs = json_array();
    for (size_t i = 0; i < o->nsupersedes; i++)
        json_array_append_new(sup, id_json(&o->supersedes[i]));
    for (size_t i = 0; i < o->npacks; i++)
        json_array_append_new(packs, json_pack("{s:o, s:o}", "id", id_json(&o->packs[i].id),
                                               "blobs", entries_json(o->packs[i].blobs,
                                                                     o->packs[i].n)));
    return json_pack("{s:o, s:o}", "supersedes", sup, "packs", packs);
}

/* o[key] = the bytes as a string when they are UTF-8, else o[key_hex] = their hex. */
static void set_bytes(json_t *o, const char *key, const char *p, size_t n)
{
    json_t *s = json_stringn(p, n);
    if (s) {
        json_object_set_new(o, key, s);
        return;
    }
    char *hex = malloc(2 * n + 1), k[32];
    if (!hex)
        return;
    bk_hex(p, n, hex);
    snprintf(k, sizeof(k), "%s_hex", key);
    json_object_set_new(o, k, json_string(hex));
    free(hex);
}

static json_t *content_json(const bk_content *v, size_t n)
{
    json_t *c = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(c, v[k].hole ? json_pack("{s:I}", "hole", (json_int_t)v[k].len)
                                           : json_pack("{s:o, s:I}", "id", id_json(&v[k].id),
                                                       "length", (json_int_t)v[k].len));
    return c;
}

static json_t *tree_json(const bk_tree *t)
{
    static const char *const types[] = { "?", "file", "dir", "symlink", "fifo", "chardev",
                                         "blockdev", "socket" };
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->n; i++) {
        const bk_node *n = &t->nodes[i];
        json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:I, s:I}", "type", types[n->type < 8 ? n->type : 0], "mode", (int)n->mode,
                              "uid", (int)n->uid, "gid", (int)n->gid, "size", (json_int_t)n->size,
                              "mtime", (json_int_t)n->mtime);
        set_bytes(o, "name", n->name, n->name_len);
        if (n->type == BK_NODE_DIR)
            json_object_set_new(o, "subtree", id_json(&n->subtree));
        if (n->type == BK_NODE_SYMLINK)
            set_bytes(o, "target", n->target, n->target_len);
        if (n->ncontent)
            json_object_set_new(o, "content", content_json(n->content, n->ncontent));
        if (n->nlists) {
            json_t *c = json_array();
            for (size_t k = 0; k < n->nlists; k++)
                json_array_append_new(c, json_pack("{s:o, s:I, s:I}", "id", id_json(&n->lists[k].id),
                                                   "bytes", (json_int_t)n->lists[k].bytes,
                                                   "pieces", (json_int_t)n->lists[k].pieces));
            json_object_set_new(o, "content_lists", c);
        }
        json_array_append_new(a, o);
    }
    return a;
}

static int json_out(bk_repo *repo, json_t *j, uint8_t **ret, size_t *ret_len)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!s)
        return bk_repo_error(repo, -ENOMEM, "out of memory");
    *ret_len = strlen(s);
    *ret = (uint8_t *)s;
    return 0;
}

int bk_cat(bk_repo *repo, const char *type, const char *id, uint8_t **ret, size_t *ret_len)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "cat");
    char name[BK_ID_HEX];
    bk_id bid;
    int r;
    if (strcmp(type, "config") == 0)
        return bk_repo_load_object(repo, BK_OBJ_CONFIG, BK_KIND_CONFIG, "config", ret, ret_len);
    if (!id)
        return bk_repo_error(repo, -EINVAL, "cat %s needs an id", type);
    if (strcmp(type, "key") == 0 || strcmp(type, "snapshot") == 0 || strcmp(type, "index") == 0 ||
        strcmp(type, "pack") == 0) {
        bk_obj_type t = type[0] == 'k' ? BK_OBJ_KEY : type[0] == 's' ? BK_OBJ_SNAPSHOT :
                        type[0] == 'i' ? BK_OBJ_INDEX : BK_OBJ_DATA;
        if ((r = resolve(repo, t, id, name)) < 0)
            return r;
        if (t == BK_OBJ_KEY) {   /* key slots are not sealed: the JSON as stored */
            bk_buf b = BK_BUF_INIT;
            r = bk_be_get(repo->be, t, name, 0, 0, &b);
            if (r < 0) {
                bk_buf_free(&b);
                return bk_repo_error(repo, r, "cannot read keys/%s: %s", name, strerror(-r));
            }
            *ret = b.data;
            *ret_len = b.len;
            return 0;
        }
        if (t == BK_OBJ_SNAPSHOT)
            return bk_repo_load_object(repo, t, BK_KIND_SNAPSHOT, name, ret, ret_len);
        if (t == BK_OBJ_INDEX) {
            uint8_t *p;
            size_t n;
            bk_index_obj o;
            if ((r = bk_repo_load_object(repo, t, BK_KIND_INDEX, name, &p, &n)) < 0)
                return r;
            r = bk_index_obj_decode(p, n, &o);
            free(p);
            if (r < 0)
                return bk_repo_error(repo, r, "index/%s is malformed", name);
            json_t *j = index_json(&o);
            bk_index_obj_free(&o);
            return json_out(repo, j, ret, ret_len);
        }
        /* a pack: its header */
        uint64_t size;
        bk_buf b = BK_BUF_INIT;
        bk_pack_entry *e = NULL;
        size_t ne = 0, need = 0;
        r = bk_be_stat(repo->be, BK_OBJ_DATA, name, &size);
        size_t tail = (size_t)BK_MIN(size, (uint64_t)65536);
        if (r == 0)
            r = bk_be_get(repo->be, BK_OBJ_DATA, name, size - tail, tail, &b);
        if (r == 0)
            r = bk_pack_parse_header(repo->keys, b.data, b.len, size, &e, &ne, &need);
        if (r == -EAGAIN) {
            b.len = 0;
            r = bk_be_get(repo->be, BK_OBJ_DATA, name, size - need, need, &b);
            if (r == 0)
                r = bk_pack_parse_header(repo->keys, b.data, b.len, size, &e, &ne, &need);
        }
        bk_buf_free(&b);
        if (r < 0)
            return bk_repo_error(repo, r, "data/%s: %s", name, r == -EBADMSG ?
                                 "the pack header is corrupt" : strerror(-r));
        json_t *j = json_pack("{s:s, s:I, s:o}", "id", name, "size", (json_int_t)size, "blobs",
                              entries_json(e, ne));
        free(e);
        return json_out(repo, j, ret, ret_len);
    }
    bool tree = strcmp(type, "tree") == 0;
    if (!tree && strcmp(type, "blob") != 0)
        return bk_repo_error(repo, -EINVAL, "cat: unknown type '%s' (config, key, snapshot, "
                             "index, pack, tree, blob)", type);
    if (bk_id_parse(id, &bid) < 0)
        return bk_repo_error(repo, -EINVAL, "%s: not a blob id (64 hex digits)", id);
    uint8_t *p;
    size_t n;
    if ((r = bk_repo_load_blob(repo, tree ? BK_KIND_TREE : BK_KIND_DATA, &bid, &p, &n)) < 0)
        return r;
    if (!tree) {
        *ret = p;
        *ret_len = n;
        return 0;
    }
    if (n > 0 && p[0] == BK_CLIST_MAGIC) {   /* a list blob of a file's content */
        bk_content *v = NULL;
        size_t nv = 0;
        r = bk_clist_decode(p, n, 0, 0, &v, &nv);
        free(p);
        json_t *j = r == 0 ? json_pack("{s:o}", "content", content_json(v, nv)) : NULL;
        free(v);
        if (r < 0)
            return bk_repo_error(repo, r, "content list %s is malformed", id);
        return json_out(repo, j, ret, ret_len);
    }
    bk_tree t;
    r = bk_tree_decode(p, n, &t);
    free(p);
    if (r < 0)
        return bk_repo_error(repo, r, "tree %s is malformed", id);
    json_t *j = tree_json(&t);
    bk_tree_free(&t);
    return json_out(repo, j, ret, ret_len);
}
