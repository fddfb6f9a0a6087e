/* pack.h - pack objects: sealed blobs, then a sealed header listing them, then the
 * header's length (le32).  Encoding and parsing only; no I/O. */
#ifndef BK_PACK_H
#define BK_PACK_H

#include "buf.h"
#include "crypto.h"

#define BK_PACK_ENTRY_SIZE (1 + 4 + 4 + BK_ID_LEN)
#define BK_PACK_HEADER_VERSION 1
#define BK_PACK_SIZE_DEFAULT (16u << 20)
#define BK_PACK_SIZE_MIN (1u << 20)
#define BK_PACK_SIZE_MAX (1u << 30)
/* Enough for a pack's header in the common case (one ranged read). */
#define BK_PACK_TAIL_GUESS (64u << 10)

typedef struct bk_pack_entry {
    bk_id id;
    uint8_t kind;            /* BK_KIND_DATA or BK_KIND_TREE */
    uint32_t offset;         /* of the sealed blob in the pack */
    uint32_t stored_len;     /* sealed length */
    uint32_t raw_len;        /* plaintext length */
} bk_pack_entry;

typedef struct bk_packer {
    bk_buf data;
    bk_pack_entry *entries;
    size_t n, cap;
} bk_packer;

/* Append one sealed blob. */
int bk_packer_add(bk_packer *p, uint8_t kind, const bk_id *id, const void *sealed, size_t len,
                  uint32_t raw_len) BK_MUST_CHECK;
/* Reserve room for a sealed blob of len bytes and record it; the caller writes the box to
 * the returned pointer (valid until the next call). */
int bk_packer_reserve(bk_packer *p, uint8_t kind, const bk_id *id, size_t len, uint32_t raw_len,
                      uint8_t **ret_dst) BK_MUST_CHECK;
/* Seal and append the header; *ret_id = hash of the pack bytes (its name). */
int bk_packer_finish(bk_packer *p, const bk_keys *k, bk_id *ret_id) BK_MUST_CHECK;
void bk_packer_reset(bk_packer *p);
void bk_packer_free(bk_packer *p);

/* Parse a pack's header from its last tail_len bytes (pack_size in all).  If the tail is
 * too short, returns -EAGAIN and *ret_need is how many tail bytes are needed.  Checks that
 * the blobs tile the pack exactly.  -EBADMSG on anything malformed. */
int bk_pack_parse_header(const bk_keys *k, const uint8_t *tail, size_t tail_len, uint64_t pack_size,
                         bk_pack_entry **ret, size_t *ret_n, size_t *ret_need) BK_MUST_CHECK;
/* Decode a header's plaintext (what the sealed box holds): version, count, entries.
 * body_size is the size of the pack before the header box, which the blobs must tile
 * exactly.  -EBADMSG on anything malformed.  Separate from the unsealing so that it can
 * be fuzzed. */
int bk_pack_header_decode(const uint8_t *plain, size_t n, uint64_t body_size, bk_pack_entry **ret,
                          size_t *ret_n) BK_MUST_CHECK;
/* Check that a whole pack decodes: header parses and every blob authenticates. */
int bk_pack_verify(const bk_keys *k, const uint8_t *pack, size_t len) BK_MUST_CHECK;

#endif
