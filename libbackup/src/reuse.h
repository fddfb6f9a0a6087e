/* reuse.h - what a restore can take from the data already in its target: the old version
 * of a file is cut again with the chunker the snapshot used, each piece hashed with the
 * repository's keyed id, and every chunk of the snapshot's version found there is read
 * locally instead of fetched. */
#ifndef BK_REUSE_H
#define BK_REUSE_H

#include "chunker.h"
#include "crypto.h"
#include "tree.h"

/* Read fd (the local file) to its end, cut with ch and keyed with k.  For each of n's
 * content chunks, ret_local[i] (n->ncontent entries) = the offset in fd of identical data,
 * or BK_LOCAL_NONE (also for holes).  *ret_bytes: the bytes found.  A read error is
 * returned (< 0); what was found before it is still usable. */
int bk_reuse_scan(const bk_chunker *ch, const bk_keys *k, int fd, const bk_node *n,
                  uint64_t *ret_local, uint64_t *ret_bytes) BK_MUST_CHECK;

/* Read len bytes at off of fd into buf and check that they hash to id (keyed with k).
 * 0 if they do; -EBADMSG if the data changed; a read error otherwise. */
int bk_reuse_read(const bk_keys *k, int fd, uint64_t off, uint8_t *buf, size_t len,
                  const bk_id *id) BK_MUST_CHECK;

#endif
