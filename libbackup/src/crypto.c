/* crypto.c - keys, blob ids, sealed boxes and Argon2id key slots (libsodium; SHA-256 and
 * HMAC-SHA-256 ids: libcrypto). */
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>        /* getauxval, and glibc's HWCAP_SHA2 */
#endif

#include "crypto.h"
#include "util.h"

int bk_crypto_init(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

static int derive(bk_keys *k)
{
    /* Subkeys are independent of each other: leaking the id key (say) says nothing about
     * the AEAD key.  crypto_kdf is BLAKE2b with a context and a subkey number. */
    static const char ctx[crypto_kdf_CONTEXTBYTES] = { 'a', 'r', 'c', 'a', 'k', 'e', 'y', 's' };
    if (crypto_kdf_derive_from_key(k->aead, sizeof(k->aead), 1, ctx, k->master) != 0 ||
        crypto_kdf_derive_from_key(k->id, sizeof(k->id), 2, ctx, k->master) != 0 ||
        crypto_kdf_derive_from_key(k->gear, sizeof(k->gear), 3, ctx, k->master) != 0 ||
        crypto_kdf_derive_from_key(k->aes, sizeof(k->aes), 4, ctx, k->master) != 0 ||
        crypto_kdf_derive_from_key(k->box_sk, sizeof(k->box_sk), 5, ctx, k->master) != 0 ||
        crypto_kdf_derive_from_key(k->index, sizeof(k->index), 6, ctx, k->master) != 0)
        return -EIO;
    /* every full key has the same key pair: the master's (X25519 clamps the secret) */
    if (crypto_scalarmult_base(k->box_pk, k->box_sk) != 0)
        return -EIO;
    return 0;
}

void bk_keys_backup_bundle(const bk_keys *full, uint8_t out[BK_BACKUP_KEYS_LEN])
{
    memcpy(out, full->id, BK_KEY_LEN);
    memcpy(out + BK_KEY_LEN, full->gear, BK_KEY_LEN);
    memcpy(out + 2 * BK_KEY_LEN, full->index, BK_KEY_LEN);
    memcpy(out + 3 * BK_KEY_LEN, full->box_pk, BK_KEY_LEN);
}

static bk_keys *keys_alloc(void)
{
    bk_keys *k = sodium_malloc(sizeof(*k));
    if (k)
        sodium_memzero(k, sizeof(*k));
    return k;
}

int bk_keys_new_random(bk_keys **ret)
{
    bk_keys *k = keys_alloc();
    if (!k)
        return -ENOMEM;
    randombytes_buf(k->master, sizeof(k->master));
    int r = derive(k);
    if (r < 0) {
        bk_keys_free(k);
        return r;
    }
    *ret = k;
    return 0;
}

int bk_keys_from_master(const uint8_t master[BK_KEY_LEN], bk_keys **ret)
{
    bk_keys *k = keys_alloc();
    if (!k)
        return -ENOMEM;
    memcpy(k->master, master, BK_KEY_LEN);
    int r = derive(k);
    if (r < 0) {
        bk_keys_free(k);
        return r;
    }
    *ret = k;
    return 0;
}

int bk_keys_from_backup_bundle(const uint8_t b[BK_BACKUP_KEYS_LEN], bk_keys **ret)
{
    bk_keys *k = keys_alloc();
    if (!k)
        return -ENOMEM;
    memcpy(k->id, b, BK_KEY_LEN);
    memcpy(k->gear, b + BK_KEY_LEN, BK_KEY_LEN);
    memcpy(k->index, b + 2 * BK_KEY_LEN, BK_KEY_LEN);
    memcpy(k->box_pk, b + 3 * BK_KEY_LEN, BK_KEY_LEN);
    k->backup_only = true;
    *ret = k;
    return 0;
}

static void hmac_free(bk_keys *k)
{
    /* libcrypto's SHA-256 contexts are wiped when freed (OPENSSL_clear_free) */
    EVP_MD_CTX_free(k->hmac_inner);
    EVP_MD_CTX_free(k->hmac_outer);
    EVP_MD_free(k->sha256);
    k->hmac_inner = k->hmac_outer = NULL;
    k->sha256 = NULL;
}

void bk_keys_free(bk_keys *k)
{
    if (k)
        hmac_free(k);
    sodium_free(k);   /* wipes the memory; NULL is fine */
}

bool bk_id_hash_sha_fast(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));   /* SHA-NI */
#elif defined(__aarch64__) && defined(HWCAP_SHA2)
    return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#else
    return false;
#endif
}

/* HMAC-SHA-256 (RFC 2104) with the 32-byte id key: the key is shorter than SHA-256's
 * 64-byte block, so it is zero-padded, and the states after the inner and outer pad blocks
 * are computed once here.  Each id then copies them (bk_blob_id): libcrypto's HMAC() and
 * EVP_Q_mac fetch the algorithm and hash both pads on every call (1.2 us for a 256-byte
 * tree blob, against 0.33 us; docs/performance.md), and one EVP_MAC_CTX per thread would
 * need a context per repository handle and thread. */
_Static_assert(BK_KEY_LEN <= 64, "the id key fits in one SHA-256 block");

static int hmac_setup(bk_keys *k)
{
    uint8_t pad[64];
    k->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!k->sha256)
        return -EIO;
    k->hmac_inner = EVP_MD_CTX_new();
    k->hmac_outer = EVP_MD_CTX_new();
    int ok = k->hmac_inner && k->hmac_outer;
    for (int outer = 0; ok && outer < 2; outer++) {
        memset(pad, outer ? 0x5c : 0x36, sizeof(pad));
        for (size_t i = 0; i < sizeof(k->id); i++)
            pad[i] ^= k->id[i];
        EVP_MD_CTX *c = outer ? k->hmac_outer : k->hmac_inner;
        ok = EVP_DigestInit_ex2(c, k->sha256, NULL) && EVP_DigestUpdate(c, pad, sizeof(pad));
    }
    sodium_memzero(pad, sizeof(pad));
    return ok ? 0 : -ENOMEM;
}

int bk_keys_set_id_hash(bk_keys *k, bk_id_hash h)
{
    hmac_free(k);
    k->id_hash = BK_ID_HASH_BLAKE2B;
    if (h == BK_ID_HASH_BLAKE2B)
        return 0;
    if (h != BK_ID_HASH_HMAC_SHA256)
        return -EINVAL;
    int r = hmac_setup(k);
    if (r < 0) {
        hmac_free(k);
        return r;
    }
    k->id_hash = h;
    return 0;
}

int bk_blob_id(const bk_keys *k, const void *p, size_t n, bk_id *ret)
{
    if (k->id_hash == BK_ID_HASH_BLAKE2B) {
        crypto_generichash(ret->b, BK_ID_LEN, p, n, k->id, sizeof(k->id));
        return 0;
    }
    uint8_t inner[32];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_MD_CTX_copy_ex(c, k->hmac_inner) && EVP_DigestUpdate(c, p, n) &&
             EVP_DigestFinal_ex(c, inner, NULL) && EVP_MD_CTX_copy_ex(c, k->hmac_outer) &&
             EVP_DigestUpdate(c, inner, sizeof(inner)) && EVP_DigestFinal_ex(c, ret->b, NULL);
    EVP_MD_CTX_free(c);
    sodium_memzero(inner, sizeof(inner));
    return ok ? 0 : -ENOMEM;
}

int bk_obj_hash(const bk_keys *k, const void *p, size_t n, bk_id *ret)
{
    if (k->id_hash == BK_ID_HASH_BLAKE2B) {
        bk_hash(p, n, ret);
        return 0;
    }
    return EVP_Digest(p, n, ret->b, NULL, k->sha256, NULL) ? 0 : -ENOMEM;
}

_Static_assert(sizeof(((bk_obj_hasher *)0)->b2) >= sizeof(crypto_generichash_state),
               "room for libsodium's BLAKE2b state");

int bk_obj_hasher_init(bk_obj_hasher *h, const bk_keys *k)
{
    h->k = k;
    h->sha = NULL;
    if (k->id_hash == BK_ID_HASH_BLAKE2B)
        return crypto_generichash_init((crypto_generichash_state *)h->b2, NULL, 0, BK_ID_LEN) == 0
                   ? 0 : -EIO;
    h->sha = EVP_MD_CTX_new();
    if (!h->sha || !EVP_DigestInit_ex2(h->sha, k->sha256, NULL)) {
        bk_obj_hasher_free(h);
        return -ENOMEM;
    }
    return 0;
}

int bk_obj_hasher_update(bk_obj_hasher *h, const void *p, size_t n)
{
    if (!h->sha)
        return crypto_generichash_update((crypto_generichash_state *)h->b2, p, n) == 0 ? 0 : -EIO;
    return EVP_DigestUpdate(h->sha, p, n) ? 0 : -ENOMEM;
}

int bk_obj_hasher_final(bk_obj_hasher *h, bk_id *ret)
{
    int r;
    if (!h->sha)
        r = crypto_generichash_final((crypto_generichash_state *)h->b2, ret->b, BK_ID_LEN) == 0
                ? 0 : -EIO;
    else
        r = EVP_DigestFinal_ex(h->sha, ret->b, NULL) ? 0 : -ENOMEM;
    bk_obj_hasher_free(h);
    return r;
}

void bk_obj_hasher_free(bk_obj_hasher *h)
{
    EVP_MD_CTX_free(h->sha);
    h->sha = NULL;
}

void bk_hash(const void *p, size_t n, bk_id *ret)
{
    crypto_generichash(ret->b, BK_ID_LEN, p, n, NULL, 0);
}

#define AD_MAX (4 + 3 + BK_ID_LEN)

static size_t make_ad(uint8_t ad[AD_MAX], bk_kind kind, uint8_t enc, const bk_id *ad_id)
{
    memcpy(ad, "arca", 4);
    ad[4] = BK_FORMAT_VERSION;
    ad[5] = (uint8_t)kind;
    ad[6] = enc;
    if (!ad_id)
        return 7;
    memcpy(ad + 7, ad_id->b, BK_ID_LEN);
    return AD_MAX;
}

bool bk_cipher_aes_available(void)
{
    return crypto_aead_aes256gcm_is_available() == 1;
}

/* The AES-256-GCM state of one box, and GCM's nonce, from the box's 24-byte nonce.  A
 * key of its own for each box: random 96-bit GCM nonces under one key are safe for about
 * 2^32 boxes, fewer than a repository may hold; 128 random bits of key input are not
 * exhausted. */
static void aes_box_key(const bk_keys *k, const uint8_t *nonce, crypto_aead_aes256gcm_state *st,
                        uint8_t gnonce[crypto_aead_aes256gcm_NPUBBYTES])
{
    uint8_t key[crypto_aead_aes256gcm_KEYBYTES];
    crypto_generichash(key, sizeof(key), nonce, 16, k->aes, sizeof(k->aes));
    crypto_aead_aes256gcm_beforenm(st, key);
    sodium_memzero(key, sizeof(key));
    memcpy(gnonce, nonce + 16, BK_NONCE_LEN - 16);
    memset(gnonce + BK_NONCE_LEN - 16, 0, crypto_aead_aes256gcm_NPUBBYTES - (BK_NONCE_LEN - 16));
}

/* The key of a box to the public key pk: from the shared secret and both public keys.
 * -EBADMSG when the shared secret is zero (epk of small order: not a box we wrote). */
static int pk_box_key(const uint8_t *shared_src_sk, const uint8_t *other_pk, const uint8_t *epk,
                      const uint8_t *pk, uint8_t key[BK_KEY_LEN])
{
    uint8_t shared[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(shared, shared_src_sk, other_pk) != 0)
        return -EBADMSG;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, BK_KEY_LEN);
    crypto_generichash_update(&st, (const uint8_t *)"arca-pk-box", 11);
    crypto_generichash_update(&st, shared, sizeof(shared));
    crypto_generichash_update(&st, epk, BK_KEY_LEN);
    crypto_generichash_update(&st, pk, BK_KEY_LEN);
    crypto_generichash_final(&st, key, BK_KEY_LEN);
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(&st, sizeof(st));
    return 0;
}

void bk_seal_pk_with(const bk_keys *k, bk_kind kind, const bk_id *ad_id, uint8_t enc,
                     const uint8_t esk[BK_KEY_LEN], const uint8_t nonce[BK_NONCE_LEN],
                     const void *payload, size_t n, uint8_t *dst)
{
    enc = (uint8_t)((enc & ~(BK_ENC_AES | BK_ENC_INDEX)) | BK_ENC_PK);
    uint8_t ad[AD_MAX], key[BK_KEY_LEN], epk[BK_KEY_LEN];
    size_t adlen = make_ad(ad, kind, enc, ad_id);
    crypto_scalarmult_base(epk, esk);
    if (pk_box_key(esk, k->box_pk, epk, k->box_pk, key) != 0)
        randombytes_buf(key, sizeof(key));   /* a small-order public key: nobody opens it */
    dst[0] = enc;
    memcpy(dst + 1, epk, BK_KEY_LEN);
    memcpy(dst + 1 + BK_KEY_LEN, nonce, BK_NONCE_LEN);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(dst + BK_PK_SEAL_HDR, &clen, payload, n, ad, adlen,
                                               NULL, dst + 1 + BK_KEY_LEN, key);
    sodium_memzero(key, sizeof(key));
}

void bk_seal_to(const bk_keys *k, bk_kind kind, const bk_id *ad_id, uint8_t enc,
                const void *payload, size_t n, uint8_t *dst)
{
    if (k->backup_only && !(enc & BK_ENC_INDEX)) {
        uint8_t esk[BK_KEY_LEN], nonce[BK_NONCE_LEN];
        randombytes_buf(esk, sizeof(esk));
        randombytes_buf(nonce, sizeof(nonce));
        bk_seal_pk_with(k, kind, ad_id, enc, esk, nonce, payload, n, dst);
        sodium_memzero(esk, sizeof(esk));
        return;
    }
    if (enc & BK_ENC_INDEX) {
        enc &= (uint8_t)~(BK_ENC_AES | BK_ENC_PK);
        uint8_t ad[AD_MAX];
        size_t adlen = make_ad(ad, kind, enc, ad_id);
        dst[0] = enc;
        randombytes_buf(dst + 1, BK_NONCE_LEN);
        unsigned long long clen;
        crypto_aead_xchacha20poly1305_ietf_encrypt(dst + BK_SEAL_HDR, &clen, payload, n, ad,
                                                   adlen, NULL, dst + 1, k->index);
        return;
    }
    if (k->cipher == BK_CIPHER_AES)
        enc |= BK_ENC_AES;
    uint8_t ad[AD_MAX];
    size_t adlen = make_ad(ad, kind, enc, ad_id);
    dst[0] = enc;
    randombytes_buf(dst + 1, BK_NONCE_LEN);
    unsigned long long clen;
    if (enc & BK_ENC_AES) {
        crypto_aead_aes256gcm_state st;
        uint8_t gnonce[crypto_aead_aes256gcm_NPUBBYTES];
        aes_box_key(k, dst + 1, &st, gnonce);
        crypto_aead_aes256gcm_encrypt_afternm(dst + BK_SEAL_HDR, &clen, payload, n, ad, adlen,
                                              NULL, gnonce, &st);
        sodium_memzero(&st, sizeof(st));
        return;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(dst + BK_SEAL_HDR, &clen, payload, n, ad, adlen,
                                               NULL, dst + 1, k->aead);
}

int bk_seal(const bk_keys *k, bk_kind kind, const bk_id *ad_id, uint8_t enc,
            const void *payload, size_t n, bk_buf *out)
{
    size_t over = bk_seal_overhead(k, enc);
    int r = bk_buf_reserve(out, n + over);
    if (r < 0)
        return r;
    bk_seal_to(k, kind, ad_id, enc, payload, n, out->data + out->len);
    out->len += n + over;
    return 0;
}

int bk_unseal(const bk_keys *k, bk_kind kind, const bk_id *ad_id, const void *box, size_t n,
              void *dst, uint8_t *ret_enc, size_t *ret_len)
{
    const uint8_t *b = box;
    if (n < BK_SEAL_OVERHEAD)
        return -EBADMSG;
    uint8_t ad[AD_MAX];
    size_t adlen = make_ad(ad, kind, b[0], ad_id);
    unsigned long long mlen;
    if (k->backup_only && !(b[0] & BK_ENC_INDEX))
        return -EACCES;   /* what only a full key opens */
    if ((b[0] & BK_ENC_PK) && (b[0] & (BK_ENC_AES | BK_ENC_INDEX)))
        return -EBADMSG;   /* no box of ours has both */
    if (b[0] & BK_ENC_PK) {
        if (n < BK_PK_SEAL_OVERHEAD)
            return -EBADMSG;
        uint8_t key[BK_KEY_LEN];
        if (pk_box_key(k->box_sk, b + 1, b + 1, k->box_pk, key) != 0)
            return -EBADMSG;
        int r = crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, b + BK_PK_SEAL_HDR,
                                                           n - BK_PK_SEAL_HDR, ad, adlen,
                                                           b + 1 + BK_KEY_LEN, key);
        sodium_memzero(key, sizeof(key));
        if (r != 0)
            return -EBADMSG;
    } else if (b[0] & BK_ENC_INDEX) {
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, b + BK_SEAL_HDR,
                                                       n - BK_SEAL_HDR, ad, adlen, b + 1,
                                                       k->index) != 0)
            return -EBADMSG;
    } else if (b[0] & BK_ENC_AES) {
        if (!bk_cipher_aes_available())
            return -ENOTSUP;
        crypto_aead_aes256gcm_state st;
        uint8_t gnonce[crypto_aead_aes256gcm_NPUBBYTES];
        aes_box_key(k, b + 1, &st, gnonce);
        int r = crypto_aead_aes256gcm_decrypt_afternm(dst, &mlen, NULL, b + BK_SEAL_HDR,
                                                      n - BK_SEAL_HDR, ad, adlen, gnonce, &st);
        sodium_memzero(&st, sizeof(st));
        if (r != 0)
            return -EBADMSG;
    } else if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, b + BK_SEAL_HDR,
                                                          n - BK_SEAL_HDR, ad, adlen, b + 1,
                                                          k->aead) != 0) {
        return -EBADMSG;
    }
    *ret_enc = b[0] & (uint8_t)~(BK_ENC_AES | BK_ENC_PK | BK_ENC_INDEX);
    *ret_len = (size_t)mlen;
    return 0;
}

/* ---- key slots ------------------------------------------------------------------------ */

#define SLOT_SALT_LEN crypto_pwhash_SALTBYTES

static int slot_kek(const char *pass, size_t passlen, const uint8_t *salt,
                    const bk_kdf_params *kdf, uint8_t *kek)
{
    if (kdf->opslimit < crypto_pwhash_OPSLIMIT_MIN || kdf->opslimit > crypto_pwhash_OPSLIMIT_MAX ||
        kdf->memlimit < crypto_pwhash_MEMLIMIT_MIN || kdf->memlimit > ((uint64_t)4 << 30))
        return -EBADMSG;
    if (crypto_pwhash(kek, BK_KEY_LEN, pass, passlen, salt, kdf->opslimit, (size_t)kdf->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM;   /* libsodium fails here only when it cannot get the memory */
    return 0;
}

/* The wrapped secret of a slot: the master (32 bytes), or a backup-only bundle, its host and
 * the config. */
#define SLOT_SECRET_MAX (BK_BACKUP_KEYS_LEN + 1 + 255 + sizeof(((bk_keys *)0)->backup_config))
#define SLOT_BOX_MAX (SLOT_SECRET_MAX + BK_SEAL_OVERHEAD)

static int slot_create(const uint8_t *secret, size_t slen, bool backup, const char *backup_host,
                       const char *pass, size_t passlen, const bk_kdf_params *kdf,
                       const char *host, const char *user, int64_t created, bk_buf *out)
{
    uint8_t salt[SLOT_SALT_LEN];
    uint8_t box[SLOT_BOX_MAX];
    size_t boxlen = slen + BK_SEAL_OVERHEAD;
    if (slen > SLOT_SECRET_MAX)
        return -EINVAL;
    randombytes_buf(salt, sizeof(salt));

    bk_keys *kek = keys_alloc();   /* only ->aead is used: the wrapping key */
    if (!kek)
        return -ENOMEM;
    int r = slot_kek(pass, passlen, salt, kdf, kek->aead);
    if (r < 0) {
        bk_keys_free(kek);
        return r;
    }
    bk_seal_to(kek, BK_KIND_KEY_SLOT, NULL, BK_ENC_RAW, secret, slen, box);
    bk_keys_free(kek);

    char salthex[2 * SLOT_SALT_LEN + 1], boxhex[2 * sizeof(box) + 1], when[48];
    bk_hex(salt, sizeof(salt), salthex);
    bk_hex(box, boxlen, boxhex);
    bk_time_format(created, 0, 0, when);
    json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
                          "version", BK_FORMAT_VERSION, "kdf", "argon2id13",
                          "opslimit", (json_int_t)kdf->opslimit, "memlimit", (json_int_t)kdf->memlimit,
                          "salt", salthex, "key", boxhex, "created", when,
                          "host", host ? host : "", "username", user ? user : "");
    if (o && backup &&
        (json_object_set_new(o, "kind", json_string("backup-only")) < 0 ||
         json_object_set_new(o, "backup_host", json_string(backup_host)) < 0)) {
        json_decref(o);
        o = NULL;
    }
    if (!o)
        return -ENOMEM;
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return -ENOMEM;
    r = bk_buf_append(out, s, strlen(s));
    if (r == 0)
        r = bk_buf_put_u8(out, '\n');
    free(s);
    return r;
}

int bk_keyslot_create(const bk_keys *k, const char *pass, size_t passlen, const bk_kdf_params *kdf,
                      const char *host, const char *user, int64_t created, bk_buf *out)
{
    if (k->backup_only)
        return -EPERM;   /* it has no master to wrap */
    return slot_create(k->master, BK_KEY_LEN, false, NULL, pass, passlen, kdf, host, user,
                       created, out);
}

int bk_keyslot_create_backup(const bk_keys *k, const char *backup_host, const uint8_t *config,
                             size_t config_len, const char *pass, size_t passlen,
                             const bk_kdf_params *kdf, const char *host, const char *user,
                             int64_t created, bk_buf *out)
{
    if (k->backup_only)
        return -EPERM;
    size_t hl = backup_host ? strlen(backup_host) : 0;
    if (hl > 255 || config_len > sizeof(k->backup_config))
        return -EINVAL;
    uint8_t *bundle = sodium_malloc(SLOT_SECRET_MAX);
    if (!bundle)
        return -ENOMEM;
    bk_keys_backup_bundle(k, bundle);
    size_t n = BK_BACKUP_KEYS_LEN;
    bundle[n++] = (uint8_t)hl;
    memcpy(bundle + n, backup_host ? backup_host : "", hl);
    n += hl;
    if (config_len)
        memcpy(bundle + n, config, config_len);
    n += config_len;
    int r = slot_create(bundle, n, true, backup_host ? backup_host : "", pass, passlen, kdf, host,
                        user, created, out);
    sodium_free(bundle);
    return r;
}

/* Parses a slot; on success fills info, salt and box (of *boxlen bytes, at most
 * SLOT_BOX_MAX). */
static int slot_parse(const void *slot, size_t n, bk_keyslot_info *info, uint8_t *salt,
                      uint8_t *box, size_t *boxlen)
{
    json_error_t jerr;
    json_t *o = json_loadb(slot, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return -EBADMSG;
    int r = -EBADMSG;
    json_int_t version, ops, mem;
    const char *kdf, *salthex, *boxhex, *created, *host = "", *user = "", *kind = "full";
    const char *bhost = "";
    if (json_unpack(o, "{s:I, s:s, s:I, s:I, s:s, s:s, s:s, s?s, s?s, s?s, s?s}", "version", &version,
                    "kdf", &kdf, "opslimit", &ops, "memlimit", &mem, "salt", &salthex,
                    "key", &boxhex, "created", &created, "host", &host, "username", &user,
                    "kind", &kind, "backup_host", &bhost) != 0)
        goto out;
    if (version != BK_FORMAT_VERSION) {
        r = -EPROTONOSUPPORT;
        goto out;
    }
    bool backup = strcmp(kind, "backup-only") == 0;
    if (!backup && strcmp(kind, "full") != 0) {
        r = -EPROTONOSUPPORT;   /* a kind of slot this version does not know */
        goto out;
    }
    if (strcmp(kdf, "argon2id13") != 0 || ops <= 0 || mem <= 0)
        goto out;
    /* the wrapped secret's size (a master, or a bundle and a host) is open's to check */
    size_t hexlen = strlen(boxhex), want = backup ? 0 : BK_KEY_LEN + BK_SEAL_OVERHEAD;
    if (box && (hexlen % 2 || hexlen / 2 > SLOT_BOX_MAX || (want && hexlen / 2 != want) ||
                (backup && hexlen / 2 < BK_BACKUP_KEYS_LEN + 1 + BK_SEAL_OVERHEAD)))
        goto out;
    if (salt && bk_unhex(salthex, salt, SLOT_SALT_LEN) < 0)
        goto out;
    if (box && bk_unhex(boxhex, box, hexlen / 2) < 0)
        goto out;
    if (boxlen)
        *boxlen = hexlen / 2;
    int32_t nsec, tz;
    if (bk_parse_time(created, &info->created, &nsec, &tz) < 0)
        goto out;
    info->kdf.opslimit = (uint64_t)ops;
    info->kdf.memlimit = (uint64_t)mem;
    snprintf(info->host, sizeof(info->host), "%s", host);
    snprintf(info->user, sizeof(info->user), "%s", user);
    info->backup_only = backup;
    snprintf(info->backup_host, sizeof(info->backup_host), "%s", bhost);
    r = 0;
out:
    json_decref(o);
    return r;
}

int bk_keyslot_parse_info(const void *slot, size_t n, bk_keyslot_info *ret)
{
    return slot_parse(slot, n, ret, NULL, NULL, NULL);
}

int bk_keyslot_open(const void *slot, size_t n, const char *pass, size_t passlen, bk_keys **ret)
{
    bk_keyslot_info info;
    uint8_t salt[SLOT_SALT_LEN], box[SLOT_BOX_MAX];
    size_t boxlen;
    int r = slot_parse(slot, n, &info, salt, box, &boxlen);
    if (r < 0)
        return r;
    bk_keys *kek = keys_alloc(), *k = NULL;
    uint8_t *secret = sodium_malloc(SLOT_BOX_MAX);   /* (room for the box: no overflow) */
    if (!kek || !secret) {
        r = -ENOMEM;
        goto out;
    }
    r = slot_kek(pass, passlen, salt, &info.kdf, kek->aead);
    if (r < 0)
        goto out;
    uint8_t enc;
    size_t len;
    if (bk_unseal(kek, BK_KIND_KEY_SLOT, NULL, box, boxlen, secret, &enc, &len) < 0 ||
        enc != BK_ENC_RAW) {
        r = -EKEYREJECTED;
        goto out;
    }
    if (!info.backup_only) {
        r = len == BK_KEY_LEN ? bk_keys_from_master(secret, &k) : -EBADMSG;
    } else if (len < BK_BACKUP_KEYS_LEN + 1 || len > SLOT_SECRET_MAX ||
               len - BK_BACKUP_KEYS_LEN - 1 < secret[BK_BACKUP_KEYS_LEN]) {
        r = -EBADMSG;
    } else if ((r = bk_keys_from_backup_bundle(secret, &k)) == 0) {
        size_t hl = secret[BK_BACKUP_KEYS_LEN], at = BK_BACKUP_KEYS_LEN + 1;
        size_t cl = len - at - hl;
        memcpy(k->backup_host, secret + at, hl);
        k->backup_host[hl] = 0;
        if (strlen(k->backup_host) != hl || cl > sizeof(k->backup_config))
            r = -EBADMSG;   /* a NUL inside the host; a config too long */
        else
            memcpy(k->backup_config, secret + at + hl, cl);
        k->backup_config_len = (uint32_t)cl;
    }
    if (r == 0) {
        *ret = k;
        k = NULL;
    }
out:
    bk_keys_free(kek);
    bk_keys_free(k);
    sodium_free(secret);
    return r;
}
