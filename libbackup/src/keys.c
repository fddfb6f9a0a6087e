/* keys.c - key slots: list, add (full and backup-only), remove, change passphrase. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "repo.h"
#include "util.h"

struct key_list {
    bk_repo *repo;
    bk_key_info *v;
    size_t n;
};

static int list_one(const char *name, uint64_t size, void *ctx)
{
    struct key_list *kl = ctx;
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(kl->repo->be, BK_OBJ_KEY, name, 0, 0, &b);
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        bk_buf_free(&b);
        return r;
    }
    /* a slot is named by the hash of its content: one that does not match, or does not
     * parse, is damaged; it is listed (so that key remove can remove it) */
    bk_keyslot_info info;
    memset(&info, 0, sizeof(info));
    bk_id want, got;
    bk_hash(b.data, b.len, &got);   /* key slots keep BLAKE2b names (repo.c, object_name) */
    bool damaged = bk_id_parse(name, &want) < 0 || bk_id_cmp(&want, &got) != 0 ||
                   bk_keyslot_parse_info(b.data, b.len, &info) < 0;
    bk_buf_free(&b);
    bk_key_info *v = realloc(kl->v, (kl->n + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    kl->v = v;
    bk_key_info *k = &v[kl->n++];
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", name);
    k->current = strcmp(name, kl->repo->key_id) == 0;
    k->damaged = damaged;
    if (!damaged) {
        k->created = info.created;
        snprintf(k->host, sizeof(k->host), "%s", info.host);
        snprintf(k->user, sizeof(k->user), "%s", info.user);
        k->backup_only = info.backup_only;
        snprintf(k->backup_host, sizeof(k->backup_host), "%s", info.backup_host);
    }
    return 0;
}

static int by_created(const void *a, const void *b)
{
    const bk_key_info *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

int bk_key_list(bk_repo *repo, bk_key_info **ret, size_t *ret_n)
{
    struct key_list kl = { repo, NULL, 0 };
    int r = bk_be_list(repo->be, BK_OBJ_KEY, list_one, &kl);
    if (r < 0) {
        free(kl.v);
        return bk_repo_error(repo, r, "cannot list keys: %s", strerror(-r));
    }
    if (kl.n > 1)
        qsort(kl.v, kl.n, sizeof(*kl.v), by_created);
    *ret = kl.v;
    *ret_n = kl.n;
    return 0;
}

/* ---- backup-only slots ------------------------------------------------------------------- */

struct names {
    char (*v)[BK_ID_HEX];
    size_t n;
};

static int collect_name(const char *name, uint64_t size, void *ctx)
{
    struct names *nm = ctx;
    if (strlen(name) != BK_ID_HEX - 1)
        return 0;
    char (*v)[BK_ID_HEX] = realloc(nm->v, (nm->n + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    nm->v = v;
    memcpy(v[nm->n++], name, BK_ID_HEX);
    return 0;
}

static int note_superseded(const bk_id *id, void *ctx)
{
    return bk_idmap_put(ctx, id, NULL) < 0 ? -ENOMEM : 0;
}

/* The first byte of a stored object (its box's enc), or a negative errno. */
static int stored_enc(bk_repo *repo, bk_obj_type t, const char *name)
{
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(repo->be, t, name, 0, 1, &b);
    r = r < 0 ? r : b.len ? b.data[0] : -EBADMSG;
    bk_buf_free(&b);
    return r;
}

/* Seal every index object under the index key, so that backup-only keys can read what the
 * repository has (their deduplication): each one not so sealed is written again (a new
 * object: names are of the stored bytes), then removed; one that another index object
 * supersedes (a prune that was killed) is only removed, as that prune would have.  One
 * object at a time: memory is the list of names. */
static int reseal_index(bk_repo *repo)
{
    struct names nm = { NULL, 0 };
    bk_idmap superseded;
    bk_idmap_init(&superseded, 0);
    int r = bk_be_list(repo->be, BK_OBJ_INDEX, collect_name, &nm);
    if (r == -ENOENT)
        r = 0;
    bk_index_visitor v = { .on_supersedes = note_superseded, .ctx = &superseded };
    for (size_t i = 0; r == 0 && i < nm.n; i++) {
        uint8_t *p;
        size_t n;
        r = bk_repo_load_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, nm.v[i], &p, &n);
        if (r == -ENOENT) {   /* removed meanwhile (it cannot be: the lock is exclusive) */
            bk_repo_clear_error(repo);
            r = 0;
            continue;
        }
        if (r == 0) {
            r = bk_index_obj_parse(p, n, &v);
            free(p);
            if (r < 0)
                r = bk_repo_error(repo, r, "index/%s is malformed", nm.v[i]);
        }
    }
    for (size_t i = 0; r == 0 && i < nm.n; i++) {
        bk_id id;
        if (bk_id_parse(nm.v[i], &id) < 0)
            continue;
        bool gone = bk_idmap_get(&superseded, &id) != NULL;
        int enc = gone ? 0 : stored_enc(repo, BK_OBJ_INDEX, nm.v[i]);
        if (enc == -ENOENT)
            continue;
        if (enc < 0) {
            r = bk_repo_error(repo, enc, "cannot read index/%s: %s", nm.v[i], strerror(-enc));
            break;
        }
        if (!gone && (enc & BK_ENC_INDEX))
            continue;   /* sealed so already (an earlier run that was interrupted) */
        if (!gone) {
            uint8_t *p;
            size_t n;
            bk_id nid;
            r = bk_repo_load_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, nm.v[i], &p, &n);
            if (r == 0) {
                r = bk_repo_save_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, p, n, &nid);
                free(p);
            }
        }
        if (r == 0) {
            r = bk_be_remove(repo->be, BK_OBJ_INDEX, nm.v[i]);
            if (r == -ENOENT)
                r = 0;
            else if (r < 0)
                r = bk_repo_error(repo, r, "cannot remove index/%s: %s", nm.v[i], strerror(-r));
        }
        if (r == 0)
            r = bk_repo_check_interrupt(repo);
    }
    free(nm.v);
    bk_idmap_free(&superseded);
    bk_repo_index_reset(repo);   /* the names changed: the next load reads what is there */
    return r;
}

/* The config again, with the feature: remove, then store (a crash between leaves no config:
 * arca repair config makes it again, and this runs again). */
static int rewrite_config(bk_repo *repo)
{
    int r = bk_be_remove(repo->be, BK_OBJ_CONFIG, "config");
    if (r < 0 && r != -ENOENT)
        return bk_repo_error(repo, r, "cannot replace the config: %s", strerror(-r));
    return bk_repo_save_config(repo);
}

int bk_key_add_backup_only(bk_repo *repo, const char *pass, size_t passlen, const char *host,
                           char ret_id[BK_ID_HEX])
{
    if (!repo->keys)
        return bk_repo_error(repo, -EINVAL, "no open repository");
    if (repo->keys->backup_only)
        return bk_repo_error(repo, -EPERM, "a backup-only key cannot add key slots");
    if (host && strlen(host) > 255)
        return bk_repo_error(repo, -EINVAL, "host name too long (at most 255 bytes)");
    if (!repo->config.backup_only_keys) {
        repo->config.backup_only_keys = true;   /* what the index objects are sealed with */
        int r = reseal_index(repo);
        if (r == 0)
            r = rewrite_config(repo);
        if (r < 0)
            return r;
    }
    bk_buf conf = BK_BUF_INIT, slot = BK_BUF_INIT;
    char me[256], user[256];
    bk_hostname(me, sizeof(me));
    bk_username(user, sizeof(user));
    int r = bk_config_encode(&repo->config, &conf);
    if (r == 0)
        r = bk_keyslot_create_backup(repo->keys, host ? host : "", conf.data, conf.len, pass,
                                     passlen, &repo->kdf, me, user, time(NULL), &slot);
    bk_buf_free(&conf);
    if (r < 0) {
        bk_buf_free(&slot);
        return bk_repo_error(repo, r, "cannot create the key slot: %s", strerror(-r));
    }
    bk_id id;
    char hex[BK_ID_HEX];
    bk_hash(slot.data, slot.len, &id);
    bk_id_hex(&id, hex);
    r = bk_be_put(repo->be, BK_OBJ_KEY, hex, slot.data, slot.len);
    bk_buf_free(&slot);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot write keys/%s: %s", hex, strerror(-r));
    if (ret_id)
        memcpy(ret_id, hex, BK_ID_HEX);
    return 0;
}

int bk_key_add(bk_repo *repo, const char *pass, size_t passlen, char ret_id[BK_ID_HEX])
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "key add");
    char id[BK_ID_HEX];
    int r = bk_repo_write_key_slot(repo, pass, passlen, id);
    if (r == 0 && ret_id)
        memcpy(ret_id, id, BK_ID_HEX);
    return r;
}

static int resolve(bk_repo *repo, const char *prefix, char out[BK_ID_HEX])
{
    bk_key_info *v;
    size_t n;
    int r = bk_key_list(repo, &v, &n);
    if (r < 0)
        return r;
    size_t len = strlen(prefix), found = 0;
    for (size_t i = 0; i < n; i++)
        if (len > 0 && strncmp(v[i].id, prefix, len) == 0) {
            memcpy(out, v[i].id, BK_ID_HEX);
            found++;
        }
    size_t total = n;
    free(v);
    if (found == 0)
        return bk_repo_error(repo, -ENOENT, "no key %s", prefix);
    if (found > 1)
        return bk_repo_error(repo, -EINVAL, "key prefix %s is ambiguous", prefix);
    return total > 1 ? 0 : bk_repo_error(repo, -EPERM, "refusing to remove the last key");
}

int bk_key_remove(bk_repo *repo, const char *id)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "key remove");
    char full[BK_ID_HEX];
    int r = resolve(repo, id, full);
    if (r < 0)
        return r;
    if (strcmp(full, repo->key_id) == 0)
        return bk_repo_error(repo, -EPERM, "refusing to remove the key in use (open the "
                             "repository with another passphrase first)");
    r = bk_be_remove(repo->be, BK_OBJ_KEY, full);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot remove keys/%s: %s", full, strerror(-r));
    return 0;
}

int bk_key_passwd(bk_repo *repo, const char *pass, size_t passlen, char ret_id[BK_ID_HEX])
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "key passwd");
    char id[BK_ID_HEX];
    int r = bk_repo_write_key_slot(repo, pass, passlen, id);
    if (r < 0)
        return r;
    /* the new slot is written: only now may the old one go */
    r = bk_be_remove(repo->be, BK_OBJ_KEY, repo->key_id);
    if (r < 0 && r != -ENOENT)
        return bk_repo_error(repo, r, "new key %.8s added, but the old keys/%s could not be "
                             "removed: %s", id, repo->key_id, strerror(-r));
    memcpy(repo->key_id, id, BK_ID_HEX);
    if (ret_id)
        memcpy(ret_id, id, BK_ID_HEX);
    return 0;
}

static int count_object(const char *name, uint64_t size, void *ctx)
{
    (*(uint64_t *)ctx)++;
    return 0;
}

int bk_stats_get(bk_repo *repo, bk_stats *ret)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "stats");
    memset(ret, 0, sizeof(*ret));
    int r = bk_repo_load_index(repo);
    if (r < 0)
        return r;
    bk_snapshot **v;
    size_t n;
    r = bk_snapshots_list(repo, NULL, &v, &n);
    if (r < 0)
        return r;
    bk_snapshots_free(v, n);
    ret->snapshots = n;
    ret->packs = bk_index_npacks(&repo->index);
    uint64_t pos = 0;
    bk_id id;
    bk_index_entry e;
    while (bk_index_next(&repo->index, &pos, &id, &e, &r)) {
        ret->blobs++;
        ret->blob_bytes_raw += e.raw_len;
        ret->blob_bytes_stored += e.stored_len;
        if (e.kind == BK_KIND_TREE)
            ret->tree_blobs++;
        else
            ret->data_blobs++;
    }
    if (r < 0)
        return bk_repo_error(repo, r, "the local index cache is damaged: run the command again");
    ret->pack_bytes = ret->blob_bytes_stored;
    return bk_be_list(repo->be, BK_OBJ_INDEX, count_object, &ret->index_objects);
}
