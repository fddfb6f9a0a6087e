/* index.h - the in-memory blob index (blob id -> pack, offset, lengths) and the encoding
 * of write-once index objects. */
#ifndef BK_INDEX_H
#define BK_INDEX_H

#include "buf.h"
#include "idmap.h"
#include "pack.h"

#define BK_INDEX_VERSION 1

typedef struct bk_index_entry {
    uint32_t pack;           /* number in bk_index.packs */
    uint32_t offset;
    uint32_t stored_len;
    uint32_t raw_len;
    uint8_t kind;
} bk_index_entry;

typedef struct bk_index {
    bk_idmap blobs;          /* blob id -> bk_index_entry */
    bk_idmap packmap;        /* pack id -> uint32_t number */
    bk_id *packs;
    size_t npacks, packs_cap;
} bk_index;

void bk_index_init(bk_index *idx);
void bk_index_free(bk_index *idx);
int bk_index_add_pack(bk_index *idx, const bk_id *pack, uint32_t *ret_no) BK_MUST_CHECK;
/* Adds the blob unless it is known already (the first location wins). */
int bk_index_add(bk_index *idx, uint32_t packno, const bk_pack_entry *e) BK_MUST_CHECK;
const bk_index_entry *bk_index_lookup(const bk_index *idx, const bk_id *id);
static inline const bk_id *bk_index_pack_id(const bk_index *idx, uint32_t no)
{
    return &idx->packs[no];
}

/* One pack's entries in an index object. */
typedef struct bk_index_pack {
    bk_id id;
    bk_pack_entry *blobs;
    size_t n;
} bk_index_pack;

/* A decoded index object.  supersedes: index objects whose content this one replaces
 * (written by prune, so they can be removed). */
typedef struct bk_index_obj {
    bk_id *supersedes;
    size_t nsupersedes;
    bk_index_pack *packs;
    size_t npacks;
} bk_index_obj;

int bk_index_obj_encode(const bk_index_obj *o, bk_buf *out) BK_MUST_CHECK;
/* Callback parser: on_pack once per pack, then on_blob for each of its blobs. */
typedef struct bk_index_visitor {
    int (*on_supersedes)(const bk_id *id, void *ctx);
    int (*on_pack)(const bk_id *pack, size_t nblobs, void *ctx);
    int (*on_blob)(const bk_pack_entry *e, void *ctx);
    void *ctx;
} bk_index_visitor;
int bk_index_obj_parse(const uint8_t *p, size_t n, const bk_index_visitor *v) BK_MUST_CHECK;
int bk_index_obj_decode(const uint8_t *p, size_t n, bk_index_obj *ret) BK_MUST_CHECK;
/* Adds every pack and blob of a plaintext index object to idx. */
int bk_index_merge_plain(bk_index *idx, const uint8_t *p, size_t n) BK_MUST_CHECK;
void bk_index_obj_free(bk_index_obj *o);

#endif
