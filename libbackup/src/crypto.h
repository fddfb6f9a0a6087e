/* crypto.h - repository keys, keyed blob ids, sealed (encrypted + authenticated) objects. */
#ifndef BK_CRYPTO_H
#define BK_CRYPTO_H

#include <stdbool.h>

#include "backup.h"
#include "buf.h"
#include "macro.h"

#define BK_KEY_LEN 32
#define BK_NONCE_LEN 24   /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define BK_TAG_LEN 16     /* crypto_aead_xchacha20poly1305_ietf_ABYTES */
#define BK_SEAL_OVERHEAD (1 + BK_NONCE_LEN + BK_TAG_LEN)

/* What a sealed box holds; part of the associated data, so a box of one kind never opens
 * as another (a tree blob cannot pose as a data blob, an index as a snapshot). */
typedef enum bk_kind {
    BK_KIND_DATA = 1,
    BK_KIND_TREE = 2,
    BK_KIND_CONFIG = 16,
    BK_KIND_INDEX = 17,
    BK_KIND_SNAPSHOT = 18,
    BK_KIND_PACK_HEADER = 19,
    BK_KIND_KEY_SLOT = 20,
    BK_KIND_LOCK = 21,
    BK_KIND_STATUS = 22,     /* status/<name> records (check) */
} bk_kind;

static inline bool bk_kind_is_blob(unsigned k) { return k == BK_KIND_DATA || k == BK_KIND_TREE; }

/* Payload encodings of a sealed box. */
enum { BK_ENC_RAW = 0, BK_ENC_ZSTD = 1 };

/* Can this machine use AES-256-GCM (libsodium's needs AES-NI and PCLMUL)?  (bk_cipher:
 * backup.h; bk_seal writes the keys' cipher, bk_unseal opens either: the box says which.) */
bool bk_cipher_aes_available(void);

/* Has this CPU the instructions that make SHA-256 fast (x86 SHA-NI, ARMv8 SHA2)?  The
 * default id function of new repositories (bk_id_hash: backup.h) depends on it; either
 * function works everywhere (libcrypto has a portable SHA-256). */
bool bk_id_hash_sha_fast(void);

/* The repository's secrets; lives in sodium_malloc'd, mlocked memory.  A full key has them
 * all, derived from the master; a backup-only key (backup_only) has only what adding
 * backups needs: the id key, the chunker's seed, the index key and the public half of the
 * repository's key pair, and what it seals opens with the secret half only. */
typedef struct bk_keys {
    uint8_t master[BK_KEY_LEN];   /* the only secret stored (wrapped) in full key slots */
    uint8_t aead[BK_KEY_LEN];     /* XChaCha20-Poly1305 */
    uint8_t id[BK_KEY_LEN];       /* the key of blob ids (keyed BLAKE2b or HMAC-SHA-256) */
    uint8_t gear[BK_KEY_LEN];     /* seed of the chunker's gear table */
    uint8_t aes[BK_KEY_LEN];      /* AES-256-GCM: the key of each box is derived from it */
    uint8_t box_sk[BK_KEY_LEN];   /* X25519 secret key of the repository's key pair */
    uint8_t box_pk[BK_KEY_LEN];   /* its public key */
    uint8_t index[BK_KEY_LEN];    /* XChaCha20-Poly1305 of the boxes backup-only keys read
                                     too (BK_ENC_INDEX) */
    bool backup_only;             /* no master, aead, aes, box_sk */
    char backup_host[256];        /* backup-only: the host it may back up as ("" any) */
    uint8_t backup_config[2048];  /* backup-only: the repository's config document, which */
    uint32_t backup_config_len;   /* it cannot open in the repository */
    bk_cipher cipher;             /* what bk_seal writes (the repository's config says) */
    bk_id_hash id_hash;           /* the repository's id function: set it with
                                     bk_keys_set_id_hash (the config says) */
    /* HMAC-SHA-256 only: SHA-256 after the one block of id key ^ ipad and of id key ^ opad
     * (RFC 2104), and SHA-256 itself; libcrypto's memory (freed, and wiped, by
     * bk_keys_free).  Read-only once set: threads copy them, never change them. */
    struct evp_md_ctx_st *hmac_inner, *hmac_outer;
    struct evp_md_st *sha256;
} bk_keys;

int bk_crypto_init(void);
/* New random master key (and derived subkeys). */
int bk_keys_new_random(bk_keys **ret);
/* Keys from a known master (key slot unwrap, tests). */
int bk_keys_from_master(const uint8_t master[BK_KEY_LEN], bk_keys **ret);
/* What a backup-only key slot wraps: the id key, the chunker seed, the index key and the
 * public key, in this order. */
#define BK_BACKUP_KEYS_LEN (4 * BK_KEY_LEN)
void bk_keys_backup_bundle(const bk_keys *full, uint8_t out[BK_BACKUP_KEYS_LEN]);
/* Backup-only keys from a bundle (cipher and id function: BLAKE2b, XChaCha20 until set). */
int bk_keys_from_backup_bundle(const uint8_t b[BK_BACKUP_KEYS_LEN], bk_keys **ret);
void bk_keys_free(bk_keys *k);
/* Choose the id function of bk_blob_id and bk_obj_hash (new keys: BLAKE2b); not while
 * other threads use the keys.  -ENOMEM, or -EIO if libcrypto has no SHA-256. */
int bk_keys_set_id_hash(bk_keys *k, bk_id_hash h) BK_MUST_CHECK;

/* Blob id of the plaintext, by the keys' id function: BLAKE2b-256 keyed with the id key,
 * or HMAC-SHA-256 with the id key.  Thread-safe (the keys are only read).  -ENOMEM if
 * libcrypto cannot allocate (HMAC-SHA-256). */
int bk_blob_id(const bk_keys *k, const void *p, size_t n, bk_id *ret) BK_MUST_CHECK;
/* Name of a content-addressed object of the repository (packs, index objects, snapshots),
 * by the keys' id function: unkeyed BLAKE2b-256 or SHA-256 of the stored bytes.  Also
 * what names their copies in the cache.  Thread-safe; -ENOMEM as bk_blob_id. */
int bk_obj_hash(const bk_keys *k, const void *p, size_t n, bk_id *ret) BK_MUST_CHECK;
/* The same name, of an object read in pieces: init, update for each piece in order,
 * final (which also releases it; so does bk_obj_hasher_free, to give up).  -ENOMEM. */
typedef struct bk_obj_hasher {
    const bk_keys *k;
    uint8_t b2[384] __attribute__((aligned(64)));   /* crypto_generichash_state */
    struct evp_md_ctx_st *sha;
} bk_obj_hasher;
int bk_obj_hasher_init(bk_obj_hasher *h, const bk_keys *k) BK_MUST_CHECK;
int bk_obj_hasher_update(bk_obj_hasher *h, const void *p, size_t n) BK_MUST_CHECK;
int bk_obj_hasher_final(bk_obj_hasher *h, bk_id *ret) BK_MUST_CHECK;
void bk_obj_hasher_free(bk_obj_hasher *h);
/* Unkeyed BLAKE2b-256, whatever the repository's id function: the names of key slots
 * (read before the config says which function the repository uses) and of local files
 * that only this machine reads. */
void bk_hash(const void *p, size_t n, bk_id *ret);

/* Sealed box: enc(1) || nonce(24) || ciphertext || tag(16), XChaCha20-Poly1305-IETF, or
 * AES-256-GCM when enc has BK_ENC_AES: then the box's key is BLAKE2b-256, keyed with the
 * AES key, of the nonce's first 16 bytes, and GCM's 12-byte nonce is the last 8 and four
 * zero bytes (each key seals one box).  enc says how the payload is encoded (raw, zstd)
 * and by which cipher; it is not secret but authenticated, as part of the associated data
 * "arca" || format version || kind || enc [|| blob id].  ad_id binds blobs to their id
 * (NULL for objects that are not blobs).  bk_unseal returns enc without the cipher bit. */
#define BK_ENC_AES 0x80
#define BK_SEAL_HDR (1 + BK_NONCE_LEN)
/* Sealed to the repository's public key (what backup-only keys write): enc || epk(32) ||
 * nonce(24) || ciphertext || tag(16), XChaCha20-Poly1305-IETF under BLAKE2b-256 of
 * "arca-pk-box" || X25519(esk, pk) || epk || pk, where epk is the public half of a key
 * pair made for this box alone (its secret half is forgotten): only the holder of the
 * repository's secret key (a full key) opens it, not the backup-only key that sealed it. */
#define BK_ENC_PK 0x40
/* Sealed with the index key (XChaCha20-Poly1305), which backup-only keys have: the boxes
 * they must read (index objects).  Layout as the plain box. */
#define BK_ENC_INDEX 0x20
#define BK_PK_SEAL_HDR (1 + BK_KEY_LEN + BK_NONCE_LEN)
#define BK_PK_SEAL_OVERHEAD (BK_PK_SEAL_HDR + BK_TAG_LEN)
/* The header and the whole overhead of the boxes bk_seal_to writes with k (and enc). */
static inline size_t bk_seal_hdr(const bk_keys *k, uint8_t enc)
{
    return k->backup_only && !(enc & BK_ENC_INDEX) ? BK_PK_SEAL_HDR : BK_SEAL_HDR;
}
static inline size_t bk_seal_overhead(const bk_keys *k, uint8_t enc)
{
    return bk_seal_hdr(k, enc) + BK_TAG_LEN;
}
/* The payload length of a box of n bytes by its enc byte, or -1 if it is too short. */
static inline long long bk_box_payload_len(const uint8_t *box, size_t n)
{
    size_t over = n && (box[0] & BK_ENC_PK) ? BK_PK_SEAL_OVERHEAD : BK_SEAL_OVERHEAD;
    return n < over ? -1 : (long long)(n - over);
}
/* Writes n + bk_seal_overhead(k, enc) bytes to dst: a box of the keys' cipher, or with
 * BK_ENC_INDEX in enc one under the index key, or, with backup-only keys and no
 * BK_ENC_INDEX, one sealed to the public key.  payload may be dst + bk_seal_hdr(k, enc)
 * (sealed in place). */
void bk_seal_to(const bk_keys *k, bk_kind kind, const bk_id *ad_id, uint8_t enc,
                const void *payload, size_t n, uint8_t *dst);
/* The box to the public key with a given ephemeral secret and nonce (golden vectors). */
void bk_seal_pk_with(const bk_keys *k, bk_kind kind, const bk_id *ad_id, uint8_t enc,
                     const uint8_t esk[BK_KEY_LEN], const uint8_t nonce[BK_NONCE_LEN],
                     const void *payload, size_t n, uint8_t *dst);
/* Appends the box to out. */
int bk_seal(const bk_keys *k, bk_kind kind, const bk_id *ad_id, uint8_t enc,
            const void *payload, size_t n, bk_buf *out) BK_MUST_CHECK;
/* Verifies and decrypts into dst (capacity n - BK_SEAL_OVERHEAD).  -EBADMSG if the box is
 * too short or does not authenticate (wrong key, kind, id, or a flipped bit); -EACCES if
 * these are backup-only keys and the box is not one under the index key. */
int bk_unseal(const bk_keys *k, bk_kind kind, const bk_id *ad_id, const void *box, size_t n,
              void *dst, uint8_t *ret_enc, size_t *ret_len) BK_MUST_CHECK;

/* Password hashing parameters of a key slot. */
typedef struct bk_kdf_params {
    uint64_t opslimit;
    uint64_t memlimit;
} bk_kdf_params;

/* 6 passes over 32 MiB: the same memory x passes (the cost of a guess on a GPU or ASIC) as
 * libsodium's "interactive" 2 x 64 MiB with a pass more, in a third less time than 3 x 64
 * MiB took, and half the peak memory of every run (docs/operations.md) */
#define BK_KDF_DEFAULT_OPS 6
#define BK_KDF_DEFAULT_MEM (32u << 20)

/* Key slot (JSON, stored unencrypted in keys/<id>): wraps the master key with a key derived
 * from a passphrase by Argon2id.  Encoding allocates *ret. */
int bk_keyslot_create(const bk_keys *k, const char *pass, size_t passlen, const bk_kdf_params *kdf,
                      const char *host, const char *user, int64_t created, bk_buf *out) BK_MUST_CHECK;
/* A backup-only slot: "kind": "backup-only", and the box wraps the bundle of the full keys
 * k (bk_keys_backup_bundle), the length (a byte) and bytes of backup_host (the one host it
 * may back up as, or "" for any; the slot also shows it as "backup_host"), and the
 * repository's config document (config, at most sizeof(backup_config) bytes). */
int bk_keyslot_create_backup(const bk_keys *k, const char *backup_host, const uint8_t *config,
                             size_t config_len, const char *pass, size_t passlen,
                             const bk_kdf_params *kdf, const char *host, const char *user,
                             int64_t created, bk_buf *out) BK_MUST_CHECK;
/* -EKEYREJECTED for a wrong passphrase, -EBADMSG for a malformed slot.  A backup-only
 * slot gives backup-only keys (with their backup_host). */
int bk_keyslot_open(const void *slot, size_t n, const char *pass, size_t passlen,
                    bk_keys **ret) BK_MUST_CHECK;
/* Parse the descriptive fields of a slot without the passphrase. */
typedef struct bk_keyslot_info {
    int64_t created;
    char host[256];
    char user[256];
    bk_kdf_params kdf;
    bool backup_only;
    char backup_host[256];       /* as the slot shows it (the box holds the binding one) */
} bk_keyslot_info;
int bk_keyslot_parse_info(const void *slot, size_t n, bk_keyslot_info *ret) BK_MUST_CHECK;

#endif
