/* snapshot.h - snapshot documents (JSON, sealed in snapshots/<id>). */
#ifndef BK_SNAPSHOT_H
#define BK_SNAPSHOT_H

#include "backup.h"
#include "buf.h"

/* Encode without the id (the id is the hash of the stored object). */
int bk_snapshot_encode(const bk_snapshot *s, bk_buf *out) BK_MUST_CHECK;
/* Decode a document; *ret is allocated.  -EBADMSG for malformed documents. */
int bk_snapshot_decode(const uint8_t *p, size_t n, bk_snapshot **ret) BK_MUST_CHECK;
/* Deep copy. */
int bk_snapshot_dup(const bk_snapshot *s, bk_snapshot **ret) BK_MUST_CHECK;
/* Sort newest last (time, then id). */
void bk_snapshots_sort(bk_snapshot **v, size_t n);

#endif
