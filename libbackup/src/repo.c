/* repo.c - repository handle: options, init/open, config, objects, index, blobs, locks. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "repo.h"
#include "snapsum.h"
#include "cache.h"
#include "snapshot.h"
#include "util.h"

/* ---- handle and options --------------------------------------------------------------- */

int bk_library_init(void)
{
    return bk_crypto_init();
}

const char *bk_version(void)
{
    return BK_VERSION_STRING;
}

bk_repo *bk_repo_new(void)
{
    if (bk_library_init() < 0)
        return NULL;
    bk_repo *repo = calloc(1, sizeof(*repo));
    if (!repo)
        return NULL;
    pthread_mutex_init(&repo->err_lock, NULL);
    pthread_mutex_init(&repo->zlock, NULL);
    repo->kdf.opslimit = BK_KDF_DEFAULT_OPS;
    repo->kdf.memlimit = BK_KDF_DEFAULT_MEM;
    repo->opt_compression = -1;
    repo->opt_cipher = -1;
    repo->opt_id_hash = -1;
    bk_index_init(&repo->index);
    return repo;
}

void bk_repo_free(bk_repo *repo)
{
    if (!repo)
        return;
    if (repo->be) {
        if (repo->be->ops->scans) {
            /* what tests read to see that no command but check --scan-orphans walks the pool */
            uint64_t n = repo->be->ops->scans(repo->be);
            bk_repo_log(repo, BK_LOG_DEBUG, "%s: %llu %s of the whole pool", repo->location,
                        (unsigned long long)n, bk_plural(n, "scan", "scans"));
        }
        bk_repo_unlock(repo);
        bk_backend_close(repo->be);
    }
    bk_keys_free(repo->keys);
    bk_repo_index_reset(repo);
    bk_strv_free(repo->damaged_snapshots, repo->ndamaged_snapshots);
    bk_zctx_free(repo->zctx);
    free(repo->cache_dir);
    free((char *)repo->conf.ceph_conf);
    free((char *)repo->conf.ceph_id);
    free((char *)repo->conf.ceph_name);
    free((char *)repo->conf.keyring);
    free((char *)repo->conf.data_pool);
    free((char *)repo->conf.ceph_snap);
    free(repo->location);
    pthread_mutex_destroy(&repo->err_lock);
    pthread_mutex_destroy(&repo->zlock);
    free(repo);
}

static int set_str(char **dst, const char *v)
{
    char *d = NULL;
    if (v && !(d = strdup(v)))
        return -ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

int bk_repo_set_str(bk_repo *repo, int option, const char *value)
{
    switch (option) {
    case BK_REPO_CACHE_DIR: return set_str(&repo->cache_dir, value);
    case BK_REPO_CEPH_CONF: return set_str((char **)&repo->conf.ceph_conf, value);
    case BK_REPO_CEPH_ID: return set_str((char **)&repo->conf.ceph_id, value);
    case BK_REPO_CEPH_NAME: return set_str((char **)&repo->conf.ceph_name, value);
    case BK_REPO_CEPH_KEYRING: return set_str((char **)&repo->conf.keyring, value);
    case BK_REPO_DATA_POOL: return set_str((char **)&repo->conf.data_pool, value);
    case BK_REPO_CEPH_SNAP:
        /* what the cache holds is of the repository as it is now, not as it was */
        repo->read_only = repo->no_cache = value != NULL;
        return set_str((char **)&repo->conf.ceph_snap, value);
    }
    return -EINVAL;
}

int bk_repo_set_int(bk_repo *repo, int option, int64_t v)
{
    switch (option) {
    case BK_REPO_NO_CACHE: repo->no_cache = v != 0; return 0;
    case BK_REPO_CEPH_TIMEOUT:
        if (v < 0 || v > 86400) return -ERANGE;
        repo->conf.ceph_timeout = (int)v; return 0;
    case BK_REPO_CEPH_INFLIGHT:
        if (v < 1 || v > 256) return -ERANGE;
        repo->conf.ceph_inflight = (int)v; return 0;
    case BK_REPO_KDF_MEMORY:
        if (v < (int64_t)crypto_pwhash_MEMLIMIT_MIN || v > ((int64_t)4 << 30)) return -ERANGE;
        repo->kdf.memlimit = (uint64_t)v; return 0;
    case BK_REPO_KDF_OPS:
        if (v < (int64_t)crypto_pwhash_OPSLIMIT_MIN || v > 100) return -ERANGE;
        repo->kdf.opslimit = (uint64_t)v; return 0;
    case BK_REPO_PACK_SIZE:
        if (v < BK_PACK_SIZE_MIN || v > BK_PACK_SIZE_MAX) return -ERANGE;
        repo->opt_pack_size = (uint32_t)v; return 0;
    case BK_REPO_COMPRESSION:
        if (v < 0 || v > 19) return -ERANGE;
        repo->opt_compression = (int)v; return 0;
    case BK_REPO_CIPHER:
        if (v < -1 || v > BK_CIPHER_AES) return -ERANGE;
        repo->opt_cipher = (int)v; return 0;
    case BK_REPO_ID_HASH:
        if (v < -1 || v > BK_ID_HASH_HMAC_SHA256) return -ERANGE;
        repo->opt_id_hash = (int)v; return 0;
    case BK_REPO_CHUNK_MIN:
    case BK_REPO_CHUNK_AVG:
    case BK_REPO_CHUNK_MAX:
        if (v < 64 || v > BK_CHUNK_SIZE_LIMIT) return -ERANGE;
        if (option == BK_REPO_CHUNK_MIN) repo->opt_chunk_min = (uint32_t)v;
        else if (option == BK_REPO_CHUNK_AVG) repo->opt_chunk_avg = (uint32_t)v;
        else repo->opt_chunk_max = (uint32_t)v;
        return 0;
    case BK_REPO_THREADS:
        if (v < 0 || v > 256) return -ERANGE;
        repo->threads = (int)v; return 0;
    case BK_REPO_LOCK_WAIT:
        if (v < 0) return -ERANGE;
        repo->lock_wait_ms = v; return 0;
    case BK_REPO_READ_ONLY: repo->read_only = v != 0; return 0;
    case BK_REPO_ALLOW_NO_CONFIG: repo->allow_no_config = v != 0; return 0;
    }
    return -EINVAL;
}

void bk_repo_set_log(bk_repo *repo, bk_log_fn fn, void *userdata)
{
    repo->log = fn;
    repo->log_ud = userdata;
}

const char *bk_repo_errmsg(const bk_repo *repo)
{
    return repo->err.msg;
}

int bk_repo_errcode(const bk_repo *repo)
{
    return repo->err.code;
}

void bk_repo_clear_error(bk_repo *repo)
{
    pthread_mutex_lock(&repo->err_lock);
    bk_error_clear(&repo->err);
    pthread_mutex_unlock(&repo->err_lock);
}

const char *bk_repo_id(const bk_repo *repo)
{
    return repo->config.id;
}

int bk_repo_error(bk_repo *repo, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&repo->err_lock);
    if (repo->err.code == 0) {
        repo->err.code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(repo->err.msg, sizeof(repo->err.msg), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&repo->err_lock);
    return code;
}

void bk_repo_log(bk_repo *repo, bk_log_level level, const char *fmt, ...)
{
    if (!repo->log)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    repo->log(level, msg, repo->log_ud);
}

int bk_repo_threads(const bk_repo *repo)
{
    if (repo->threads > 0)
        return repo->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int bk_repo_readers(const bk_repo *repo)
{
    return bk_repo_threads(repo) + repo->be->ops->extra_readers;
}

/* ---- objects ---------------------------------------------------------------------------- */

static bool content_addressed(bk_obj_type t)
{
    return t == BK_OBJ_DATA || t == BK_OBJ_INDEX || t == BK_OBJ_SNAPSHOT || t == BK_OBJ_KEY;
}

/* The name of a content-addressed object of type t: the hash of its stored bytes by the
 * repository's id function, but BLAKE2b for key slots, which are read before the config
 * says which function the repository uses. */
static int object_name(const bk_repo *repo, bk_obj_type t, const void *p, size_t n, bk_id *ret)
{
    if (t == BK_OBJ_KEY) {
        bk_hash(p, n, ret);
        return 0;
    }
    return bk_obj_hash(repo->keys, p, n, ret);
}

/* 1 if the content matches its name, 0 if not, or a negative errno. */
static int name_matches(const bk_repo *repo, bk_obj_type t, const char *name, const bk_buf *b)
{
    bk_id want, got;
    int r = object_name(repo, t, b->data, b->len, &got);
    if (r < 0)
        return r;
    return bk_id_parse(name, &want) == 0 && bk_id_cmp(&want, &got) == 0;
}

int bk_repo_save_object(bk_repo *repo, bk_obj_type t, bk_kind kind, const void *plain, size_t n,
                        bk_id *ret_id)
{
    size_t cap = bk_compress_bound(n);
    uint8_t *z = malloc(cap ? cap : 1);
    if (!z)
        return -ENOMEM;
    pthread_mutex_lock(&repo->zlock);
    size_t zn = repo->zctx ? bk_compress(repo->zctx, z, cap, plain, n) : 0;
    pthread_mutex_unlock(&repo->zlock);
    bk_buf box = BK_BUF_INIT;
    /* with backup-only keys about, index objects are what they read too */
    uint8_t sealing = t == BK_OBJ_INDEX && (repo->config.backup_only_keys || repo->keys->backup_only)
                      ? BK_ENC_INDEX : 0;
    int r = zn ? bk_seal(repo->keys, kind, NULL, BK_ENC_ZSTD | sealing, z, zn, &box)
               : bk_seal(repo->keys, kind, NULL, BK_ENC_RAW | sealing, plain, n, &box);
    free(z);
    if (r < 0)
        return r;
    bk_id id;
    char name[BK_ID_HEX];
    if (content_addressed(t)) {
        r = object_name(repo, t, box.data, box.len, &id);
        if (r < 0) {
            bk_buf_free(&box);
            return r;
        }
        bk_id_hex(&id, name);
    } else {
        memset(&id, 0, sizeof(id));
        snprintf(name, sizeof(name), "config");
    }
    r = bk_be_put(repo->be, t, name, box.data, box.len);
    bk_buf_free(&box);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot write %s/%s: %s", bk_obj_type_name(t), name,
                             strerror(-r));
    if (ret_id)
        *ret_id = id;
    return 0;
}

int bk_repo_open_object(bk_repo *repo, bk_kind kind, const uint8_t *stored, size_t n, bk_zctx *z,
                        uint8_t **ret, size_t *ret_len)
{
    if (n < BK_SEAL_OVERHEAD)
        return -EBADMSG;
    uint8_t *plain = malloc(n - BK_SEAL_OVERHEAD + 1);
    if (!plain)
        return -ENOMEM;
    uint8_t enc;
    size_t len;
    int r = bk_unseal(repo->keys, kind, NULL, stored, n, plain, &enc, &len);
    if (r == 0 && enc == BK_ENC_ZSTD) {
        uint8_t *out;
        size_t outlen;
        r = bk_decompress_alloc(z, plain, len, (size_t)1 << 32, &out, &outlen);
        free(plain);
        plain = r == 0 ? out : NULL;
        len = outlen;
    } else if (r == 0 && enc != BK_ENC_RAW) {
        r = -EBADMSG;
    }
    if (r < 0) {
        free(plain);
        return r;
    }
    *ret = plain;
    *ret_len = len;
    return 0;
}

int bk_repo_load_object(bk_repo *repo, bk_obj_type t, bk_kind kind, const char *name,
                        uint8_t **ret, size_t *ret_len)
{
    int ir = bk_repo_check_interrupt(repo);
    if (ir < 0)
        return ir;
    char what[BK_ID_HEX + 16];   /* for messages: "config", "index/<id>" */
    if (t == BK_OBJ_CONFIG)
        snprintf(what, sizeof(what), "config");
    else
        snprintf(what, sizeof(what), "%s/%.64s", bk_obj_type_name(t), name);
    bk_buf b = BK_BUF_INIT;
    /* index objects and snapshots are immutable and named by their hash: cacheable */
    bool cacheable = t == BK_OBJ_INDEX || t == BK_OBJ_SNAPSHOT;
    bool cached = cacheable && bk_cache_get(repo, bk_obj_type_name(t), name, &b) == 0;
    if (cached && name_matches(repo, t, name, &b) != 1) {
        b.len = 0;   /* a damaged copy: read the original */
        cached = false;
    }
    int r = cached ? 0 : bk_be_get(repo->be, t, name, 0, 0, &b);
    if (r < 0) {
        bk_buf_free(&b);
        return bk_repo_error(repo, r, "cannot read %s: %s", what, strerror(-r));
    }
    if (content_addressed(t) && (r = name_matches(repo, t, name, &b)) != 1) {
        bk_buf_free(&b);
        if (r < 0)
            return bk_repo_error(repo, r, "cannot hash %s: %s", what, strerror(-r));
        return bk_repo_error(repo, -EBADMSG, "%s is corrupt: its content does not match its "
                             "name", what);
    }
    if (cacheable && !cached)
        bk_cache_put(repo, bk_obj_type_name(t), name, b.data, b.len);
    bk_zctx *z = bk_zctx_new(0);
    r = z ? bk_repo_open_object(repo, kind, b.data, b.len, z, ret, ret_len) : -ENOMEM;
    bk_zctx_free(z);
    bk_buf_free(&b);
    if (r == -EBADMSG)
        return bk_repo_error(repo, r, "%s is corrupt: it does not decrypt", what);
    return r;
}

/* ---- config ------------------------------------------------------------------------------- */

/* Feature flags a repository may require; a reader refuses features it does not know.
 * "aes-256-gcm": new objects are sealed with AES-256-GCM (a version that cannot open
 * them must not write into the repository either).  "hmac-sha256": blob ids are
 * HMAC-SHA-256 and objects are named by SHA-256 (a version that knows only BLAKE2b would
 * find every name and id wrong). */
#define FEATURE_AES "aes-256-gcm"
#define FEATURE_HMAC_SHA256 "hmac-sha256"
/* "backup-only-keys": some key slots are backup-only; what they write is sealed to the
 * repository's public key and the index objects under the index key (docs/FORMAT.md), which
 * a version that does not know them would take for damage. */
#define FEATURE_BACKUP_ONLY "backup-only-keys"
static const char *const known_features[] = { FEATURE_AES, FEATURE_HMAC_SHA256,
                                              FEATURE_BACKUP_ONLY, NULL };

int bk_config_encode(const bk_config *c, bk_buf *out)
{
    json_t *features = json_array();
    if (!features ||
        (c->cipher == BK_CIPHER_AES &&
         json_array_append_new(features, json_string(FEATURE_AES)) < 0) ||
        (c->id_hash == BK_ID_HASH_HMAC_SHA256 &&
         json_array_append_new(features, json_string(FEATURE_HMAC_SHA256)) < 0) ||
        (c->backup_only_keys &&
         json_array_append_new(features, json_string(FEATURE_BACKUP_ONLY)) < 0)) {
        json_decref(features);
        return -ENOMEM;
    }
    json_t *o = json_pack("{s:i, s:s, s:o, s:{s:I, s:I, s:I}, s:I, s:i}", "version", c->version,
                          "id", c->id, "features", features, "chunker", "min", (json_int_t)c->chunk_min,
                          "avg", (json_int_t)c->chunk_avg, "max", (json_int_t)c->chunk_max,
                          "pack_size", (json_int_t)c->pack_size, "compression", c->compression);
    if (!o)
        return -ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return -ENOMEM;
    int r = bk_buf_append(out, s, strlen(s));
    free(s);
    return r;
}

int bk_config_decode(const uint8_t *p, size_t n, bk_config *c)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return -EBADMSG;
    json_int_t version, mn, av, mx, pack, comp;
    const char *id;
    json_t *features;
    int r = -EBADMSG;
    if (json_unpack(o, "{s:I, s:s, s:o, s:{s:I, s:I, s:I}, s:I, s:I}", "version", &version,
                    "id", &id, "features", &features, "chunker", "min", &mn, "avg", &av, "max",
                    &mx, "pack_size", &pack, "compression", &comp) != 0)
        goto out;
    if (version != BK_FORMAT_VERSION) {
        r = -EPROTONOSUPPORT;
        goto out;
    }
    if (!json_is_array(features))
        goto out;
    size_t i;
    json_t *f;
    int cipher = BK_CIPHER_XCHACHA, id_hash = BK_ID_HASH_BLAKE2B;
    bool backup_only = false;
    json_array_foreach(features, i, f) {
        bool known = false;
        for (const char *const *k = known_features; *k && json_is_string(f); k++)
            known |= strcmp(*k, json_string_value(f)) == 0;
        if (!known) {
            r = -EPROTONOSUPPORT;
            goto out;
        }
        if (strcmp(json_string_value(f), FEATURE_AES) == 0)
            cipher = BK_CIPHER_AES;
        if (strcmp(json_string_value(f), FEATURE_HMAC_SHA256) == 0)
            id_hash = BK_ID_HASH_HMAC_SHA256;
        if (strcmp(json_string_value(f), FEATURE_BACKUP_ONLY) == 0)
            backup_only = true;
    }
    if (strlen(id) != 64 || !bk_is_hex(id, 64) ||
        bk_chunker_check_params((size_t)mn, (size_t)av, (size_t)mx) < 0 ||
        pack < BK_PACK_SIZE_MIN || pack > BK_PACK_SIZE_MAX || comp < 0 || comp > 19)
        goto out;
    c->version = (int)version;
    memcpy(c->id, id, BK_ID_HEX);
    c->chunk_min = (uint32_t)mn;
    c->chunk_avg = (uint32_t)av;
    c->chunk_max = (uint32_t)mx;
    c->pack_size = (uint32_t)pack;
    c->compression = (int)comp;
    c->cipher = cipher;
    c->id_hash = id_hash;
    c->backup_only_keys = backup_only;
    r = 0;
out:
    json_decref(o);
    return r;
}

static int repo_setup(bk_repo *repo)
{
    /* (a backup-only key seals to the public key, XChaCha20: it needs no AES-NI) */
    if (repo->config.cipher == BK_CIPHER_AES && !repo->keys->backup_only && !bk_cipher_aes_available())
        return bk_repo_error(repo, -ENOTSUP, "this repository's objects are sealed with "
                             "AES-256-GCM, which this machine cannot use (libsodium's needs a CPU "
                             "with AES-NI and PCLMUL)");
    repo->keys->cipher = (bk_cipher)repo->config.cipher;
    int r = bk_keys_set_id_hash(repo->keys, (bk_id_hash)repo->config.id_hash);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot set up the repository's id function (%s): %s",
                             repo->config.id_hash == BK_ID_HASH_HMAC_SHA256 ? "HMAC-SHA-256"
                             : "BLAKE2b", strerror(-r));
    repo->zctx = bk_zctx_new(repo->config.compression);
    if (!repo->zctx)
        return -ENOMEM;
    r = bk_chunker_init(&repo->chunker, repo->keys->gear, repo->config.chunk_min,
                        repo->config.chunk_avg, repo->config.chunk_max);
    if (r < 0)
        return bk_repo_error(repo, r, "invalid chunker parameters");
    return 0;
}

/* ---- init and open ------------------------------------------------------------------------- */

static int connect_backend(bk_repo *repo, const char *location, bool create)
{
    if (repo->be)
        return bk_repo_error(repo, -EALREADY, "repository handle already open");
    if (set_str(&repo->location, location) < 0)
        return -ENOMEM;
    bk_error err = { 0 };
    int r = bk_backend_open(location, &repo->conf, create, &err, &repo->be);
    if (r < 0)
        return bk_repo_error(repo, r, "%s", err.msg[0] ? err.msg : strerror(-r));
    return 0;
}

int bk_repo_write_key_slot(bk_repo *repo, const char *pass, size_t passlen, char ret_id[BK_ID_HEX])
{
    char host[256], user[256];
    bk_hostname(host, sizeof(host));
    bk_username(user, sizeof(user));
    bk_buf slot = BK_BUF_INIT;
    int r = bk_keyslot_create(repo->keys, pass, passlen, &repo->kdf, host, user, time(NULL), &slot);
    if (r < 0) {
        bk_buf_free(&slot);
        return bk_repo_error(repo, r, "cannot create key slot: %s", strerror(-r));
    }
    bk_id id;
    bk_hash(slot.data, slot.len, &id);   /* BLAKE2b whatever the id function (object_name) */
    bk_id_hex(&id, ret_id);
    r = bk_be_put(repo->be, BK_OBJ_KEY, ret_id, slot.data, slot.len);
    bk_buf_free(&slot);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot write keys/%s: %s", ret_id, strerror(-r));
    return 0;
}

/* A new config: a random id, the parameters the handle's options ask for, else defaults. */
static void default_config(const bk_repo *repo, bk_config *c)
{
    c->version = BK_FORMAT_VERSION;
    uint8_t rid[BK_ID_LEN];
    randombytes_buf(rid, sizeof(rid));
    bk_hex(rid, sizeof(rid), c->id);
    c->chunk_min = repo->opt_chunk_min ? repo->opt_chunk_min : BK_CHUNK_MIN_DEFAULT;
    c->chunk_avg = repo->opt_chunk_avg ? repo->opt_chunk_avg : BK_CHUNK_AVG_DEFAULT;
    c->chunk_max = repo->opt_chunk_max ? repo->opt_chunk_max : BK_CHUNK_MAX_DEFAULT;
    c->pack_size = repo->opt_pack_size ? repo->opt_pack_size : BK_PACK_SIZE_DEFAULT;
    c->compression = repo->opt_compression >= 0 ? repo->opt_compression : BK_COMPRESSION_DEFAULT;
    c->cipher = repo->opt_cipher >= 0 ? repo->opt_cipher
                : bk_cipher_aes_available() ? BK_CIPHER_AES : BK_CIPHER_XCHACHA;
    c->id_hash = repo->opt_id_hash >= 0 ? repo->opt_id_hash
                 : bk_id_hash_sha_fast() ? BK_ID_HASH_HMAC_SHA256 : BK_ID_HASH_BLAKE2B;
}

int bk_repo_save_config(bk_repo *repo)
{
    bk_buf b = BK_BUF_INIT;
    int r = bk_config_encode(&repo->config, &b);
    if (r == 0)
        r = bk_repo_save_object(repo, BK_OBJ_CONFIG, BK_KIND_CONFIG, b.data, b.len, NULL);
    bk_buf_free(&b);
    return r;
}

static int found_one(const char *name, uint64_t size, void *ctx)
{
    snprintf(ctx, BK_ID_HEX + 16, "%s", name);
    return 1;   /* one is enough */
}

/* Without a config: does the location hold objects of a repository (a damaged one)?  The
 * name of one goes into what (e.g. "keys/3f2a..."); 0 if none, 1 if some. */
static int leftovers(bk_repo *repo, char what[BK_ID_HEX + 32])
{
    /* keys, snapshots and index objects (catalogs on RADOS: cheap); the packs only where
     * listing them costs no scan of a whole pool */
    static const bk_obj_type types[] = { BK_OBJ_KEY, BK_OBJ_SNAPSHOT, BK_OBJ_INDEX, BK_OBJ_DATA };
    bool rados = strncmp(repo->location, "rados:", 6) == 0;
    for (size_t i = 0; i < BK_ELEMENTSOF(types); i++) {
        if (types[i] == BK_OBJ_DATA && rados)
            break;
        char name[BK_ID_HEX + 16] = "";
        int r = bk_be_list(repo->be, types[i], found_one, name);
        if (r < 0 && r != -ENOENT)
            return r;
        if (name[0]) {
            snprintf(what, BK_ID_HEX + 32, "%s/%s", bk_obj_type_name(types[i]), name);
            return 1;
        }
    }
    return 0;
}

/* from: an open repository whose master key, chunk sizes and id function the new one
 * takes (bk_repo_init_from), or NULL. */
static int repo_init(bk_repo *repo, const char *location, const char *pass, size_t passlen,
                     const bk_repo *from)
{
    if (from && !from->keys)
        return bk_repo_error(repo, -EINVAL, "the repository to take the keys from is not open");
    if (from && from->keys->backup_only)
        return bk_repo_error(repo, -EACCES, "a backup-only key has no master key to give");
    int r = connect_backend(repo, location, true);
    if (r < 0)
        return r;
    uint64_t size;
    r = bk_be_stat(repo->be, BK_OBJ_CONFIG, "config", &size);
    if (r == 0)
        return bk_repo_error(repo, -EEXIST, "%s: a repository exists there already", location);
    if (r != -ENOENT)
        return bk_repo_error(repo, r, "%s: %s", location, strerror(-r));
    char what[BK_ID_HEX + 32];
    if ((r = leftovers(repo, what)) != 0)
        return r < 0 ? bk_repo_error(repo, r, "%s: %s", location, strerror(-r))
                     : bk_repo_error(repo, -EEXIST, "%s holds the objects of a repository (%s) "
                                     "whose config is missing: refusing to make a new one over "
                                     "them (see docs/operations.md, when something is damaged)",
                                     location, what);

    bk_config *c = &repo->config;
    default_config(repo, c);
    if (from) {
        c->chunk_min = from->config.chunk_min;
        c->chunk_avg = from->config.chunk_avg;
        c->chunk_max = from->config.chunk_max;
        c->id_hash = from->config.id_hash;
    }
    if (bk_chunker_check_params(c->chunk_min, c->chunk_avg, c->chunk_max) < 0)
        return bk_repo_error(repo, -EINVAL, "invalid chunk sizes %u/%u/%u (min < avg < max, "
                             "avg a power of two)", c->chunk_min, c->chunk_avg, c->chunk_max);
    if (c->cipher == BK_CIPHER_AES && !bk_cipher_aes_available())
        return bk_repo_error(repo, -ENOTSUP, "AES-256-GCM needs a CPU with AES-NI and PCLMUL "
                             "(libsodium's): this one has not; use XChaCha20-Poly1305");
    uint64_t maxobj = repo->be->ops->max_object_size(repo->be);
    if (maxobj && c->pack_size + (uint64_t)c->chunk_max + 65536 > maxobj)
        return bk_repo_error(repo, -EFBIG, "pack size %u is too large for this store "
                             "(largest object %llu bytes)", c->pack_size, (unsigned long long)maxobj);

    r = from ? bk_keys_from_master(from->keys->master, &repo->keys) : bk_keys_new_random(&repo->keys);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot create keys");
    r = bk_repo_write_key_slot(repo, pass, passlen, repo->key_id);
    if (r < 0)
        return r;
    r = repo_setup(repo);
    if (r < 0)
        return r;
    r = bk_repo_save_config(repo);
    if (r == -EEXIST)
        return bk_repo_error(repo, r, "%s: a repository exists there already", location);
    repo->index_loaded = true;   /* a new repository has an empty index */
    return r;
}

int bk_repo_init(bk_repo *repo, const char *location, const char *pass, size_t passlen)
{
    return repo_init(repo, location, pass, passlen, NULL);
}

int bk_repo_init_from(bk_repo *repo, const char *location, const char *pass, size_t passlen,
                      const bk_repo *src)
{
    return repo_init(repo, location, pass, passlen, src);
}

struct slot_try {
    bk_repo *repo;
    const char *pass;
    size_t passlen;
    int result;
    int slots;
    char damaged[BK_ID_HEX];     /* a slot whose content does not match its name */
};

static int try_slot(const char *name, uint64_t size, void *ctx)
{
    struct slot_try *st = ctx;
    bk_repo *repo = st->repo;
    if (size > 65536)
        return 0;
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(repo->be, BK_OBJ_KEY, name, 0, 0, &b);
    if (r < 0) {
        bk_buf_free(&b);
        if (r != -ENOENT)
            st->result = r;
        return 0;
    }
    st->slots++;
    /* slots are named by the hash of their content: a slot that does not match is damaged,
     * and a passphrase it does not take is no proof of a wrong one */
    bk_id want, got;
    bk_hash(b.data, b.len, &got);
    if (bk_id_parse(name, &want) < 0 || bk_id_cmp(&want, &got) != 0) {
        bk_buf_free(&b);
        bk_repo_log(repo, BK_LOG_WARNING, "key slot %.8s is damaged: its content does not "
                    "match its name", name);
        snprintf(st->damaged, sizeof(st->damaged), "%s", name);
        return 0;
    }
    r = bk_keyslot_open(b.data, b.len, st->pass, st->passlen, &repo->keys);
    bk_buf_free(&b);
    if (r == -EBADMSG) {
        bk_repo_log(repo, BK_LOG_WARNING, "key slot %.8s is damaged: it does not parse", name);
        snprintf(st->damaged, sizeof(st->damaged), "%s", name);
        return 0;
    }
    if (r == 0) {
        snprintf(repo->key_id, sizeof(repo->key_id), "%s", name);
        st->result = 0;
        return 1;   /* stop: found */
    }
    if (r == -ENOMEM)
        st->result = r;
    return 0;
}

struct id_hash_guess {
    bk_repo *repo;
    bk_obj_type type;
    int tries, result;
    int *id_hash;
};

static int guess_one(const char *name, uint64_t size, void *ctx)
{
    struct id_hash_guess *g = ctx;
    bk_id want, sha, b2;
    if (size > (64u << 20) || bk_id_parse(name, &want) < 0)
        return 0;
    bk_buf b = BK_BUF_INIT;
    int r = bk_be_get(g->repo->be, g->type, name, 0, 0, &b);
    if (r == 0) {
        bk_hash(b.data, b.len, &b2);
        r = bk_obj_hash(g->repo->keys, b.data, b.len, &sha);   /* the keys do SHA-256 here */
    }
    bk_buf_free(&b);
    if (r == -ENOENT)
        return 0;   /* removed meanwhile */
    if (r < 0) {
        g->result = r;
        return 1;
    }
    if (bk_id_cmp(&want, &sha) == 0 || bk_id_cmp(&want, &b2) == 0) {
        *g->id_hash = bk_id_cmp(&want, &sha) == 0 ? BK_ID_HASH_HMAC_SHA256 : BK_ID_HASH_BLAKE2B;
        return 1;
    }
    return ++g->tries >= 16;   /* damaged: another one, unless there are many */
}

/* Without a config (arca repair): the id function the repository's objects are named by,
 * seen in the first index object, snapshot or else pack whose name is the SHA-256 or the
 * BLAKE2b of its content; *ret stays (the default of new repositories) if there is none. */
static int stored_id_hash(bk_repo *repo, int *ret)
{
    int r = bk_keys_set_id_hash(repo->keys, BK_ID_HASH_HMAC_SHA256);
    int found = -1;
    static const bk_obj_type types[] = { BK_OBJ_INDEX, BK_OBJ_SNAPSHOT, BK_OBJ_DATA };
    for (size_t i = 0; r == 0 && found < 0 && i < BK_ELEMENTSOF(types); i++) {
        struct id_hash_guess g = { repo, types[i], 0, 0, &found };
        r = bk_be_list(repo->be, types[i], guess_one, &g);
        r = r == -ENOENT ? 0 : r < 0 ? r : g.result;
    }
    if (r == 0 && found >= 0)
        *ret = found;
    return r;
}

int bk_repo_open(bk_repo *repo, const char *location, const char *pass, size_t passlen)
{
    int r = connect_backend(repo, location, false);
    if (r < 0)
        return r;
    uint64_t size;
    r = bk_be_stat(repo->be, BK_OBJ_CONFIG, "config", &size);
    if (r == -ENOENT && repo->allow_no_config) {
        r = 0;   /* arca repair: the keys decide whether there is a repository */
    } else if (r == -ENOENT) {
        char what[BK_ID_HEX + 32];
        if ((r = leftovers(repo, what)) > 0)
            return bk_repo_error(repo, -EBADMSG, "%s: the repository is damaged: its config is "
                                 "missing, but it holds %s and more (see docs/operations.md, when "
                                 "something is damaged)", location, what);
        return bk_repo_error(repo, -ENOENT, "no repository at %s (run arca init)", location);
    }
    if (r < 0)
        return bk_repo_error(repo, r, "%s: %s", location, strerror(-r));

    struct slot_try st = { repo, pass, passlen, -EKEYREJECTED, 0, "" };
    r = bk_be_list(repo->be, BK_OBJ_KEY, try_slot, &st);
    if (r > 0)
        r = 0;
    if (r < 0)
        return bk_repo_error(repo, r, "%s: cannot list keys: %s", location, strerror(-r));
    if (!repo->keys) {
        if (st.damaged[0])
            return bk_repo_error(repo, -EBADMSG, "no intact key slot of %s opens with this "
                                 "passphrase, and key slot %.8s is damaged: if the passphrase "
                                 "was for that one, open the repository with the passphrase of "
                                 "another slot and add a new one (arca key add)", location,
                                 st.damaged);
        if (st.result == -EKEYREJECTED || st.slots > 0)
            return bk_repo_error(repo, -EKEYREJECTED, "wrong passphrase: no key slot of %s "
                                 "opens with it", location);
        return bk_repo_error(repo, st.result, "%s: cannot read key slots: %s", location,
                             strerror(-st.result));
    }
    uint8_t *plain;
    size_t len;
    if (repo->keys->backup_only) {
        /* it cannot open the config: its slot holds a copy (made when the slot was) */
        r = bk_config_decode(repo->keys->backup_config, repo->keys->backup_config_len, &repo->config);
        if (r == -EBADMSG)
            return bk_repo_error(repo, r, "%s: backup-only key slot %.8s holds no valid config",
                                 location, repo->key_id);
        if (r == 0)
            return repo_setup(repo);
    } else {
        r = bk_repo_load_object(repo, BK_OBJ_CONFIG, BK_KIND_CONFIG, "config", &plain, &len);
        if (r == 0) {
            r = bk_config_decode(plain, len, &repo->config);
            free(plain);
        }
    }
    if ((r == -ENOENT || r == -EBADMSG) && repo->allow_no_config) {
        /* lost or damaged: the defaults until arca repair config makes it again */
        bk_repo_clear_error(repo);
        repo->config_lost = true;
        default_config(repo, &repo->config);
        if ((r = stored_id_hash(repo, &repo->config.id_hash)) < 0)
            return bk_repo_error(repo, r, "%s: cannot read the index objects and snapshots: %s",
                                 location, strerror(-r));
        return repo_setup(repo);
    }
    if (r < 0 && r != -EBADMSG && r != -EPROTONOSUPPORT)
        return r;
    if (r == -EPROTONOSUPPORT)
        return bk_repo_error(repo, r, "%s: repository format or feature not supported by arca %s",
                             location, BK_VERSION_STRING);
    if (r < 0)
        return bk_repo_error(repo, r, "%s: config is malformed", location);
    return repo_setup(repo);
}

/* ---- blobs ----------------------------------------------------------------------------------- */

int bk_blob_decode(const bk_keys *k, bk_zctx *z, uint8_t kind, const bk_id *id, const uint8_t *stored,
                   size_t stored_len, uint8_t *dst, size_t raw_len)
{
    long long pl = bk_box_payload_len(stored, stored_len);
    if (pl < 0)
        return -EBADMSG;
    size_t plen = (size_t)pl;
    uint8_t enc;
    size_t len;
    int r;
    if ((stored[0] & ~(BK_ENC_AES | BK_ENC_PK | BK_ENC_INDEX)) == BK_ENC_RAW) {
        if (plen != raw_len)
            return -EBADMSG;
        r = bk_unseal(k, kind, id, stored, stored_len, dst, &enc, &len);
    } else {
        uint8_t *tmp = malloc(plen ? plen : 1);
        if (!tmp)
            return -ENOMEM;
        r = bk_unseal(k, kind, id, stored, stored_len, tmp, &enc, &len);
        if (r == 0)
            r = enc == BK_ENC_ZSTD ? bk_decompress(z, dst, raw_len, tmp, len) : -EBADMSG;
        free(tmp);
    }
    if (r < 0)   /* out of memory, or a key that may not open it, is no damage */
        return r == -ENOMEM || r == -EACCES ? r : -EBADMSG;
    bk_id got;
    if ((r = bk_blob_id(k, dst, raw_len, &got)) < 0)
        return r;
    return bk_id_cmp(&got, id) == 0 ? 0 : -EBADMSG;
}

int bk_repo_load_blob(bk_repo *repo, uint8_t kind, const bk_id *id, uint8_t **ret, size_t *ret_len)
{
    char hex[BK_ID_HEX], pack[BK_ID_HEX];
    if (repo->keys->backup_only) {
        /* its own trees, from the host's record of them (snapsum.h): nothing else */
        bk_id_hex(id, hex);
        int r = kind == BK_KIND_TREE ? bk_own_tree_get(repo, id, ret, ret_len) : -EACCES;
        if (r == -ENOENT)
            return bk_repo_error(repo, r, "tree %s is not in this host's record of its backups", hex);
        if (r == -EACCES)
            return bk_repo_error(repo, r, "a backup-only key cannot read data blob %s", hex);
        return r;
    }
    int r = bk_repo_load_index(repo);
    if (r == 0)
        r = bk_repo_check_interrupt(repo);
    if (r < 0)
        return r;
    bk_index_entry ent, *e = &ent;
    bk_id pid;
    bk_id_hex(id, hex);
    if (!bk_index_lookup(&repo->index, id, e) || e->kind != kind)
        return bk_repo_error(repo, -ENOENT, "%s blob %s is not in the index",
                             kind == BK_KIND_TREE ? "tree" : "data", hex);
    if ((r = bk_index_pack_id(&repo->index, e->pack, &pid)) < 0)
        return bk_repo_error(repo, r, "the local index file is damaged");
    bk_id_hex(&pid, pack);
    uint8_t *out = malloc(e->raw_len ? e->raw_len : 1);
    if (!out)
        return -ENOMEM;
    /* tree blobs are cached (sealed, checked by their seal and id like the original) */
    bk_buf b = BK_BUF_INIT;
    bool cached = kind == BK_KIND_TREE && bk_cache_get(repo, "trees", hex, &b) == 0;
    if (cached) {
        pthread_mutex_lock(&repo->zlock);
        r = bk_blob_decode(repo->keys, repo->zctx, kind, id, b.data, b.len, out, e->raw_len);
        pthread_mutex_unlock(&repo->zlock);
        if (r == 0) {
            bk_buf_free(&b);
            *ret = out;
            *ret_len = e->raw_len;
            return 0;
        }
        b.len = 0;   /* a damaged copy: read the original */
    }
    r = bk_be_get(repo->be, BK_OBJ_DATA, pack, e->offset, e->stored_len, &b);
    if (r < 0) {
        free(out);
        bk_buf_free(&b);
        return bk_repo_error(repo, r, "cannot read blob %s from data/%s: %s", hex, pack, strerror(-r));
    }
    pthread_mutex_lock(&repo->zlock);
    r = bk_blob_decode(repo->keys, repo->zctx, kind, id, b.data, b.len, out, e->raw_len);
    pthread_mutex_unlock(&repo->zlock);
    if (r == 0 && kind == BK_KIND_TREE)
        bk_cache_put(repo, "trees", hex, b.data, b.len);
    bk_buf_free(&b);
    if (r < 0) {
        free(out);
        return bk_repo_error(repo, r, "blob %s in data/%s is corrupt", hex, pack);
    }
    *ret = out;
    *ret_len = e->raw_len;
    return 0;
}

int bk_repo_load_tree(bk_repo *repo, const bk_id *id, bk_tree *ret)
{
    memset(ret, 0, sizeof(*ret));
    uint8_t *p;
    size_t n;
    int r = bk_repo_load_blob(repo, BK_KIND_TREE, id, &p, &n);
    if (r < 0)
        return r;
    r = bk_tree_decode(p, n, ret);
    free(p);
    if (r < 0) {
        char hex[BK_ID_HEX];
        bk_id_hex(id, hex);
        return bk_repo_error(repo, r, "tree %s is malformed", hex);
    }
    return 0;
}

const bk_content *bk_repo_missing_piece(bk_repo *repo, const bk_content *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].hole)
            continue;
        bk_index_entry e;
        if (!bk_index_lookup(&repo->index, &v[i].id, &e) || e.kind != BK_KIND_DATA)
            return &v[i];
    }
    return NULL;
}

int bk_repo_load_clist(bk_repo *repo, const bk_clist *l, bk_content **v, size_t *nv)
{
    uint8_t *p;
    size_t n;
    int r = bk_repo_load_blob(repo, BK_KIND_TREE, &l->id, &p, &n);
    if (r < 0)
        return r;
    r = bk_clist_decode(p, n, l->bytes, l->pieces, v, nv);
    free(p);
    if (r < 0) {
        char hex[BK_ID_HEX];
        bk_id_hex(&l->id, hex);
        return bk_repo_error(repo, r, "content list %s is malformed", hex);
    }
    return 0;
}

int bk_repo_node_load_content(bk_repo *repo, bk_node *n)
{
    if (n->type != BK_NODE_FILE || n->nlists == 0 || n->ncontent > 0)
        return 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n->nlists; i++)
        r = bk_repo_load_clist(repo, &n->lists[i], &n->content, &n->ncontent);
    if (r < 0) {
        free(n->content);
        n->content = NULL;
        n->ncontent = 0;
    }
    return r;
}

int bk_repo_find_node(bk_repo *repo, const bk_id *root, const char *path, bk_node *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->type = BK_NODE_DIR;
    ret->mode = 0755;
    ret->subtree = *root;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (ret->type != BK_NODE_DIR) {
            bk_node_clear(ret);
            return -ENOTDIR;
        }
        bk_tree t;
        bk_id sub = ret->subtree;
        bk_node_clear(ret);
        int r = bk_repo_load_tree(repo, &sub, &t);
        if (r < 0)
            return r;
        const bk_node *n = bk_tree_find(&t, p, len);
        r = n ? bk_node_copy(n, ret) : -ENOENT;
        bk_tree_free(&t);
        if (r < 0)
            return r;
        p += len;
    }
    return 0;
}

/* ---- snapshots --------------------------------------------------------------------------------- */

int bk_repo_save_snapshot(bk_repo *repo, bk_snapshot *s)
{
    bk_buf b = BK_BUF_INIT;
    int r = bk_snapshot_encode(s, &b);
    if (r == 0)
        r = bk_repo_save_object(repo, BK_OBJ_SNAPSHOT, BK_KIND_SNAPSHOT, b.data, b.len, &s->id);
    bk_buf_free(&b);
    return r;
}

int bk_repo_load_snapshot(bk_repo *repo, const char *name, bk_snapshot **ret)
{
    uint8_t *p;
    size_t n;
    int r = bk_repo_load_object(repo, BK_OBJ_SNAPSHOT, BK_KIND_SNAPSHOT, name, &p, &n);
    if (r < 0)
        return r;
    r = bk_snapshot_decode(p, n, ret);
    free(p);
    if (r < 0)
        return bk_repo_error(repo, r, "snapshots/%s is malformed", name);
    bk_id_parse(name, &(*ret)->id);
    return 0;
}

/* Load the snapshots of v (summaries) that match filter, oldest first. */
static int load_matching(bk_repo *repo, const bk_snapsum *v, size_t n, const bk_filter *filter,
                         bk_snapshot ***ret, size_t *ret_n)
{
    bk_snapshot **out = calloc(n + 1, sizeof(*out));
    size_t k = 0;
    int r = out ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (filter && !bk_snapsum_match(&v[i], filter))
            continue;
        char hex[BK_ID_HEX];
        bk_id_hex(&v[i].id, hex);
        r = bk_repo_load_snapshot(repo, hex, &out[k]);
        if (r == -ENOENT) {   /* forgotten meanwhile */
            bk_repo_clear_error(repo);
            r = 0;
            continue;
        }
        k += r == 0;
    }
    if (r < 0) {
        bk_snapshots_free(out, k);
        return r;
    }
    bk_snapshots_sort(out, k);
    *ret = out;
    *ret_n = k;
    return 0;
}

int bk_snapshots_list(bk_repo *repo, const bk_filter *filter, bk_snapshot ***ret, size_t *ret_n)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "snapshots");
    bk_snapsum *v;
    size_t n;
    int r = bk_snapsums_get(repo, &v, &n);
    if (r == 0)
        r = load_matching(repo, v, n, filter, ret, ret_n);
    if (r == 0)
        bk_snapsums_free(v, n);
    return r;
}

size_t bk_snapshots_damaged(const bk_repo *repo, const char *const **ret_names)
{
    if (ret_names)
        *ret_names = (const char *const *)repo->damaged_snapshots;
    return repo->ndamaged_snapshots;
}

int bk_snapshot_find(bk_repo *repo, const char *arg, const bk_filter *filter, bk_snapshot **ret)
{
    size_t len = strlen(arg);
    bool latest = strcmp(arg, "latest") == 0;
    if (!latest && (len < 4 || len > 64 || !bk_is_hex(arg, len)))
        return bk_repo_error(repo, -EINVAL, "%s: not a snapshot id (give an id, a prefix of at "
                             "least 4 hex digits, or latest)", arg);
    /* the summaries pick it; only that one is loaded */
    bk_snapsum *v;
    size_t n;
    int r = bk_snapsums_get(repo, &v, &n);
    if (r < 0)
        return r;
    const bk_snapsum *found = NULL;
    r = -ENOENT;
    for (size_t i = n; i-- > 0;) {
        if (latest) {
            if (filter && !bk_snapsum_match(&v[i], filter))
                continue;
            found = &v[i];
            r = 0;
            break;
        }
        char hex[BK_ID_HEX];
        bk_id_hex(&v[i].id, hex);
        if (strncmp(hex, arg, len) != 0)
            continue;
        if (found) {
            r = -EINVAL;
            break;
        }
        found = &v[i];
        r = 0;
    }
    if (r == 0) {
        char hex[BK_ID_HEX];
        bk_id_hex(&found->id, hex);
        r = bk_repo_load_snapshot(repo, hex, ret);
    }
    bk_snapsums_free(v, n);
    if (r == -ENOENT && bk_repo_errcode(repo) == 0)
        for (size_t i = 0; !latest && i < repo->ndamaged_snapshots; i++)
            if (strncmp(repo->damaged_snapshots[i], arg, len) == 0)
                return bk_repo_error(repo, -EBADMSG, "snapshot %s is damaged (see above)", arg);
    if (r == -EINVAL)
        return bk_repo_error(repo, r, "snapshot prefix %s is ambiguous", arg);
    if (r == -ENOENT && bk_repo_errcode(repo) == 0)
        return bk_repo_error(repo, r, latest ? "no snapshot matches" : "no snapshot %s", arg);
    return r;
}

/* ---- locks --------------------------------------------------------------------------------------- */

int bk_repo_lock(bk_repo *repo, bool exclusive)
{
    if (repo->read_only || repo->locked)
        return 0;
    char who[512], when[48], info[768];
    bk_process_id(who, sizeof(who));
    int64_t t;
    int32_t ns, tz;
    bk_time_now(&t, &ns, &tz);
    bk_time_format(t, 0, tz, when);
    snprintf(info, sizeof(info), "%s lock by %s since %s", exclusive ? "exclusive" : "shared",
             who, when);
    double deadline = bk_monotonic() + (double)repo->lock_wait_ms / 1000.0;
    bool cleaned = false;
    for (;;) {
        int r = repo->be->ops->lock(repo->be, exclusive, info);
        if (r != 0 && r != -EBUSY)
            return bk_repo_error(repo, r, "cannot lock the repository: %s", strerror(-r));
        /* records of holders known to be dead (killed processes) go when seen: after a
         * lock is taken, and before waiting for one, since they may be why it is held */
        size_t removed = 0;
        if (!cleaned && repo->be->ops->clean_locks &&
            repo->be->ops->clean_locks(repo->be, &removed) == 0 && removed > 0) {
            repo->stale_locks_removed += removed;
            bk_repo_log(repo, BK_LOG_INFO, "removed %zu stale %s of dead processes",
                        removed, bk_plural(removed, "lock", "locks"));
        }
        cleaned = true;
        if (r == 0) {
            repo->locked = true;
            return 0;
        }
        if (removed > 0)
            continue;
        if ((r = bk_repo_check_interrupt(repo)) < 0) {
            repo->be->ops->unlock(repo->be);   /* stop holding newcomers off */
            return r;
        }
        if (bk_monotonic() >= deadline) {
            repo->be->ops->unlock(repo->be);
            bk_buf h = BK_BUF_INIT;
            repo->be->ops->lock_holders(repo->be, &h);
            r = bk_repo_error(repo, -EBUSY, "repository is locked%s%.*s", h.len ? ": " : "",
                              (int)h.len, h.len ? (char *)h.data : "");
            bk_buf_free(&h);
            return r;
        }
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int bk_repo_clean_locks(bk_repo *repo, size_t *ret_removed, char **ret_live)
{
    bk_buf h = BK_BUF_INIT;
    size_t removed = 0;
    int r = repo->be->ops->clean_locks ? repo->be->ops->clean_locks(repo->be, &removed) : 0;
    if (r == 0)
        r = repo->be->ops->lock_holders(repo->be, &h);
    if (r == 0 && ret_live) {
        *ret_live = strndup(h.data ? (char *)h.data : "", h.len);
        if (!*ret_live)
            r = -ENOMEM;
    }
    bk_buf_free(&h);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot inspect the locks: %s", strerror(-r));
    *ret_removed = removed;
    return 0;
}

int bk_repo_break_locks(bk_repo *repo, size_t *ret_broken)
{
    *ret_broken = 0;
    if (!repo->be->ops->break_locks)
        return 0;   /* the kernel's locks (local): they go with their holders */
    size_t broken = 0;
    int r = repo->be->ops->break_locks(repo->be, &broken);
    *ret_broken = broken;
    if (r == -EPERM || r == -EACCES)
        return bk_repo_error(repo, r, "cannot break the locks of holders that may be alive: they "
                             "must be blocklisted first, and this Ceph user may not (its mon caps "
                             "need 'allow command \"osd blocklist\"', see docs/ceph.md); their "
                             "locks lapse by themselves once they stop renewing them");
    if (r < 0)
        return bk_repo_error(repo, r, "cannot break the locks: %s", strerror(-r));
    return 0;
}

int bk_repo_chunker_for(const bk_repo *repo, uint32_t avg, bk_chunker *ret)
{
    if (avg == 0) {
        *ret = repo->chunker;
        return 0;
    }
    return bk_chunker_init(ret, repo->keys->gear, avg / 2, avg, (size_t)avg * 8);
}

int bk_repo_lock_prune(bk_repo *repo, bool acquire)
{
    if (!repo->be->ops->lock_prune)
        return 0;
    if (!acquire)
        return repo->be->ops->lock_prune(repo->be, false);
    double deadline = bk_monotonic() + (double)repo->lock_wait_ms / 1000.0;
    for (;;) {
        int r = repo->be->ops->lock_prune(repo->be, true);
        if (r != -EBUSY)
            return r < 0 ? bk_repo_error(repo, r, "cannot take the prune lock: %s", strerror(-r)) : 0;
        if ((r = bk_repo_check_interrupt(repo)) < 0)
            return r;
        if (bk_monotonic() >= deadline)
            return bk_repo_error(repo, -EBUSY, "another prune is running");
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int bk_repo_unlock(bk_repo *repo)
{
    if (!repo->locked)
        return 0;
    repo->locked = false;
    return repo->be->ops->unlock(repo->be);
}

bool bk_repo_backup_only(const bk_repo *repo)
{
    return repo->keys && repo->keys->backup_only;
}

int bk_repo_need_full_key(bk_repo *repo, const char *what)
{
    return bk_repo_error(repo, -EACCES, "a backup-only key can add backups and nothing else: "
                         "%s needs a full key", what);
}
