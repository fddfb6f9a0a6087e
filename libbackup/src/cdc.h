/* cdc.h - turn a byte stream into a file's content list: chunk it, hash the chunks,
 * hand new ones to the writer, record holes for chunks of zeros. */
#ifndef BK_CDC_H
#define BK_CDC_H

#include "hashpool.h"
#include "tree.h"
#include "writer.h"

typedef struct bk_cdc {
    const bk_chunker *ch;
    const bk_keys *keys;
    bk_writer *w;
    bk_hashpool *pool;            /* hashes a buffer's chunks on several cores, or NULL */
    void (*tick)(void *ctx);      /* called now and then while reading (progress) */
    void *tick_ctx;
    uint8_t *buf;                 /* allocated on first use, released by flush */
    size_t cap, start, end;
    bk_content *content;          /* the pieces not yet in a list blob */
    size_t n, ncap;
    bk_clist *lists;              /* list blobs written (a file of many pieces) */
    size_t nlists, lcap;
    uint64_t size;                /* of the content so far, holes included */
    uint64_t bytes_read;          /* what was read: holes are not */
    bk_hash_item *items;          /* the chunks cut from the buffer, being hashed */
    bk_id *ids;                   /* their ids */
    size_t icap;
} bk_cdc;

/* Holes are recorded in pieces of at most this many bytes. */
#define BK_HOLE_PIECE_MAX (1u << 30)

void bk_cdc_init(bk_cdc *c, const bk_chunker *ch, const bk_keys *keys, bk_writer *w);
int bk_cdc_write(bk_cdc *c, const void *p, size_t n) BK_MUST_CHECK;
/* Read fd to its end.  Returns 0, a fatal error (< 0, from the writer; -EINTR after
 * bk_interrupt), or 1 when reading failed (*io_err says why): the source's problem, not
 * the run's. */
int bk_cdc_read_fd(bk_cdc *c, int fd, int *io_err) BK_MUST_CHECK;
/* Read a regular file of size bytes (as fstat saw it) to its end, skipping the holes of
 * a sparse file (SEEK_HOLE/SEEK_DATA) that are at least a minimal chunk long: they become
 * hole pieces without being read.  Returns as bk_cdc_read_fd. */
int bk_cdc_read_file(bk_cdc *c, int fd, uint64_t size, int *io_err) BK_MUST_CHECK;
/* Record len bytes of zeros that are not stored (cuts what is buffered first). */
int bk_cdc_hole(bk_cdc *c, uint64_t len) BK_MUST_CHECK;
/* Cut what is buffered now (the end of a section) and release the buffer; writing may
 * go on.  Cuts depend only on the content written between flushes. */
int bk_cdc_flush(bk_cdc *c) BK_MUST_CHECK;
/* A file node of more than BK_CLIST_PIECES pieces of its own (from a tree of an older
 * version) gets list blobs for them instead: the same lists a backup would cut. */
int bk_cdc_to_lists(const bk_keys *keys, bk_writer *w, bk_node *n) BK_MUST_CHECK;
/* The content goes to n: its pieces, or, past BK_CLIST_PIECES of them, the list blobs that
 * hold them (written as they fill, so that a file's pieces are in RAM a list at a time). */
/* Flush and move the content list into n (content, ncontent, size). */
int bk_cdc_finish(bk_cdc *c, bk_node *n) BK_MUST_CHECK;
void bk_cdc_free(bk_cdc *c);

#endif
