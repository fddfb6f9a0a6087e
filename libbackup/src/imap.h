/* imap.h - the blob index as a sorted file that is memory-mapped: what a run looks blob ids
 * up in, kept in the local cache so that a run reads the repository's index objects only
 * when they are new, and keeps in RAM only what it adds (docs/scale.md).
 *
 * The file holds the entries of a set of index objects ("covered" objects): a header, a
 * fan-out table over the first two bytes of the ids, the covered objects (each with the
 * range of pack numbers it lists), the pack table, and the entries sorted by (id, pack):
 * fixed-width, host byte order (the cache is this machine's).  The header's checksum
 * covers the small parts (fan-out, objects, block checksums) and is checked at open; every
 * 64 KiB block of the pack table and the entries has a checksum, checked when a lookup
 * first touches it, so a damaged file is found and rebuilt, never believed, and opening
 * it costs the same whatever its size. */
#ifndef BK_IMAP_H
#define BK_IMAP_H

#include <stdbool.h>

#include "index.h"

/* One entry as stored: the blob id, then the fields of a bk_index_entry, in its layout. */
typedef struct bk_imap_entry {
    bk_id id;
    bk_index_entry e;
} bk_imap_entry;

/* A covered index object and the pack numbers [first_pack, first_pack + npacks) it lists. */
typedef struct bk_imap_object {
    bk_id id;
    uint32_t first_pack, npacks;
} bk_imap_object;

typedef struct bk_imap {
    int fd;
    uint8_t *base;
    size_t size;
    const bk_imap_object *objects;
    const bk_id *packs;
    const bk_imap_entry *entries;
    const uint64_t *fanout;      /* 65537 positions */
    const uint8_t *sums;         /* 16 bytes per block */
    uint64_t n;                  /* entries */
    uint32_t npacks, nobjects;
    uint8_t *checked;            /* a bit per block: checksum seen good */
    size_t nblocks;
    unsigned window;             /* entries a lookup reads around its guess */
    bool damaged;                /* a block did not match its checksum */
} bk_imap;

/* Map path.  -ENOENT none, -EBADMSG not a valid index file (its header, fan-out or
 * object table do not check). */
int bk_imap_open(const char *path, bk_imap *ret) BK_MUST_CHECK;
void bk_imap_close(bk_imap *m);
/* The position of the first entry for id (entries with the same id follow it) and, if ret
 * is not NULL, the entry; or -ENOENT.  -EBADMSG if the part of the file the search touched
 * is damaged (m->damaged is set).  Lookups read the file (pread), not the mapping, so that
 * a walk over every id does not make the whole file resident in the process. */
int bk_imap_find(bk_imap *m, const bk_id *id, uint64_t *ret_pos, bk_imap_entry *ret) BK_MUST_CHECK;
/* Entry i, and pack number no's id, read and checked as a lookup reads them.  -EBADMSG if
 * damaged or out of range. */
int bk_imap_entry_at(bk_imap *m, uint64_t i, bk_imap_entry *ret) BK_MUST_CHECK;
int bk_imap_pack_at(bk_imap *m, uint32_t no, bk_id *ret) BK_MUST_CHECK;
/* Check the blocks that hold entries [from, to) (for callers that read entries directly:
 * iteration).  -EBADMSG if one is damaged. */
int bk_imap_check_range(bk_imap *m, uint64_t from, uint64_t to) BK_MUST_CHECK;

/* Check the blocks that hold the pack ids [from, to): the pack table is checked as it is
 * used, like the entries (a lookup checks the pack of what it finds).  -EBADMSG if one is
 * damaged. */
int bk_imap_check_packs(bk_imap *m, uint32_t from, uint32_t to) BK_MUST_CHECK;

/* Give back the pages of the file this process holds resident (they stay in the page
 * cache): what a scan through the mapping calls now and then, so that its resident memory
 * stays bounded whatever the size of the index. */
void bk_imap_trim(bk_imap *m);

/* Building one: the entries of the covered objects go, as they come, into partition files
 * by their first byte (so memory stays bounded by the largest partition), then each
 * partition is sorted into the file, which replaces path atomically. */
typedef struct bk_imap_builder bk_imap_builder;

int bk_imap_builder_new(const char *path, bk_imap_builder **ret) BK_MUST_CHECK;
/* The next covered index object; then its packs, each followed by its blobs. */
int bk_imap_builder_object(bk_imap_builder *b, const bk_id *id) BK_MUST_CHECK;
int bk_imap_builder_pack(bk_imap_builder *b, const bk_id *pack) BK_MUST_CHECK;
int bk_imap_builder_blob(bk_imap_builder *b, const bk_pack_entry *e) BK_MUST_CHECK;
/* An entry as it is, pack number included (for files of no objects and no pack table, whose
 * entries name another table's packs: the runs of indexrun.c). */
int bk_imap_builder_entry(bk_imap_builder *b, const bk_imap_entry *x) BK_MUST_CHECK;
/* Write the file and rename it over path; ret (may be NULL) gets it opened, before the
 * rename: another process may put its own file at path at any time. */
int bk_imap_builder_finish(bk_imap_builder *b, bk_imap *ret) BK_MUST_CHECK;
/* Removes the temporary files of an unfinished build. */
void bk_imap_builder_free(bk_imap_builder *b);

#endif
