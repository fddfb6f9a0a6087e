/* buf.h - growable byte buffer for encoders and a bounds-checked reader for parsers. */
#ifndef BK_BUF_H
#define BK_BUF_H

#include <stdbool.h>

#include "macro.h"

typedef struct bk_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} bk_buf;

#define BK_BUF_INIT { NULL, 0, 0 }

int bk_buf_reserve(bk_buf *b, size_t extra) BK_MUST_CHECK;
int bk_buf_append(bk_buf *b, const void *p, size_t n) BK_MUST_CHECK;
int bk_buf_put_u8(bk_buf *b, uint8_t v) BK_MUST_CHECK;
int bk_buf_put_le32(bk_buf *b, uint32_t v) BK_MUST_CHECK;
int bk_buf_put_le64(bk_buf *b, uint64_t v) BK_MUST_CHECK;
int bk_buf_put_uvarint(bk_buf *b, uint64_t v) BK_MUST_CHECK;
int bk_buf_put_svarint(bk_buf *b, int64_t v) BK_MUST_CHECK;
/* varint length followed by the bytes */
int bk_buf_put_bytes(bk_buf *b, const void *p, size_t n) BK_MUST_CHECK;
void bk_buf_free(bk_buf *b);
/* Hand the storage to the caller; the buffer becomes empty. */
uint8_t *bk_buf_detach(bk_buf *b, size_t *ret_len);

/* Reader over untrusted bytes: every getter fails with -EBADMSG instead of reading past
 * the end, and stays failed (so a parser may check once at the end). */
typedef struct bk_reader {
    const uint8_t *p;
    size_t left;
    int err;
} bk_reader;

static inline bk_reader bk_reader_make(const void *p, size_t n)
{
    bk_reader r = { p, n, 0 };
    return r;
}
int bk_read_u8(bk_reader *r, uint8_t *ret);
int bk_read_le32(bk_reader *r, uint32_t *ret);
int bk_read_le64(bk_reader *r, uint64_t *ret);
int bk_read_uvarint(bk_reader *r, uint64_t *ret);
int bk_read_svarint(bk_reader *r, int64_t *ret);
/* Points into the reader's memory; no copy. */
int bk_read_raw(bk_reader *r, size_t n, const uint8_t **ret);
int bk_read_bytes(bk_reader *r, const uint8_t **ret, size_t *ret_len);
/* Reads a varint length that is also bounded by max. */
int bk_read_len(bk_reader *r, size_t max, size_t *ret);

#endif
