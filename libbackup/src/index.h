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

struct bk_imap;

/* The index a run consults: optionally a mapped file (imap.h) with what the index objects
 * of the repository said when it was made, and in RAM what has come since (new index
 * objects, what this run adds).  Pack numbers: the map's first, then the RAM part's. */
typedef struct bk_index {
    struct bk_imap *map;     /* or NULL */
    uint8_t *dead;           /* a bit per map pack: listed only by index objects now gone */
    uint32_t base;           /* map packs (the first RAM pack number) */
    bk_idmap blobs;          /* RAM part: blob id -> bk_index_entry */
    bk_idmap packmap;        /* RAM part: pack id -> uint32_t number */
    bk_id *packs;            /* RAM part: packs[no - base] */
    size_t npacks, packs_cap;
    /* Called when the map turns out damaged during a lookup: may replace idx->map (the old
     * one stays mapped until bk_index_free) and returns 0 to retry. */
    int (*remap)(struct bk_index *idx, void *ctx);
    void *remap_ctx;
    bk_idmap objects;        /* index objects whose entries are here (map and RAM part) */
    struct bk_imap **retired;
    size_t nretired;
    /* a backup's additions folded out of RAM (indexrun.c): sorted runs, oldest first */
    struct bk_imap **runs;
    size_t nruns;
    char *run_dir;           /* where runs are built */
    size_t spill_at;         /* RAM entries that make a run; 0: never */
} bk_index;

void bk_index_init(bk_index *idx);
void bk_index_free(bk_index *idx);
/* Use map (taken over) for the entries of the covered index objects; dead (taken over, may
 * be NULL): map packs to ignore.  The RAM part must be empty. */
void bk_index_set_map(bk_index *idx, struct bk_imap *map, uint8_t *dead);
int bk_index_add_pack(bk_index *idx, const bk_id *pack, uint32_t *ret_no) BK_MUST_CHECK;
/* Adds the blob unless it is known already (the first location wins). */
int bk_index_add(bk_index *idx, uint32_t packno, const bk_pack_entry *e) BK_MUST_CHECK;
/* The entry of blob id into *ret: true, or false if it is not known (or the map is damaged
 * and cannot be made again).  The map is read, not kept resident (imap.h). */
bool bk_index_lookup(bk_index *idx, const bk_id *id, bk_index_entry *ret);
/* The id of pack number no: 0, -ENOENT (no such number), -EBADMSG (damaged map). */
int bk_index_pack_id(bk_index *idx, uint32_t no, bk_id *ret) BK_MUST_CHECK;
/* The position in the map of the entry a lookup of id would return, if it is in the map
 * (not the RAM part), and (ret may be NULL) the entry: 0, -ENOENT, or -EBADMSG (damaged
 * map). */
int bk_index_map_find(bk_index *idx, const bk_id *id, uint64_t *ret_pos, bk_index_entry *ret) BK_MUST_CHECK;
/* Check the map's entries [from, to), and with packs its whole pack table, for callers that
 * read them directly (prune): a damaged part makes the map again (same entries at the same
 * positions, same pack numbers: idx->map changes) and is checked again.  0 or -EBADMSG. */
int bk_index_map_check(bk_index *idx, uint64_t from, uint64_t to, bool packs) BK_MUST_CHECK;
/* Fold the RAM part into a run on disk whenever it holds spill_at entries (for a backup,
 * which adds without bound; indexrun.c), each built in a new directory under tmpdir (NULL:
 * /tmp), gone once it is open.  Only for an index whose positions nobody uses (not prune's,
 * check's). */
int bk_index_spill_setup(bk_index *idx, const char *tmpdir, size_t spill_at) BK_MUST_CHECK;
/* After additions: a run of the RAM part if it holds spill_at entries.  0, or a negative
 * errno (the index still answers right: the RAM part is kept, or its run is complete). */
int bk_index_maybe_spill(bk_index *idx) BK_MUST_CHECK;
/* The entry of id in a run newer than run newer_than (0: any), if one has it. */
bool bk_index_run_lookup(bk_index *idx, const bk_id *id, size_t newer_than, bk_index_entry *ret);
void bk_index_runs_free(bk_index *idx);
/* Distinct blobs and packs (the map's live ones included). */
uint64_t bk_index_count(bk_index *idx);
uint64_t bk_index_npacks(const bk_index *idx);
/* Every distinct blob once: pos starts at 0; false at the end (or if the map is damaged,
 * then *ret_err is -EBADMSG). */
bool bk_index_next(bk_index *idx, uint64_t *pos, bk_id *ret_id, bk_index_entry *ret, int *ret_err);

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
