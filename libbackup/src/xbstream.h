/* xbstream.h - what a mariadb-backup --stream=xbstream stream holds, read as it passes:
 * the chunks' structure (every chunk whole, every file ended), and the binary log position
 * the backup recorded (its file xtrabackup_binlog_info, or mariadb_backup_binlog_info).
 * Pure: bytes in, in pieces of any size. */
#ifndef BK_XBSTREAM_H
#define BK_XBSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define BK_XBS_PATH_MAX 512      /* mariadb-backup's FN_REFLEN */
#define BK_XBS_OPEN_MAX 64       /* files begun and not ended at once */
#define BK_XBS_INFO_MAX 1024

typedef struct bk_xbs {
    /* the chunk header being gathered: magic 8, flags 1, type 1, path length 4, path,
     * then (not for an end chunk) payload length 8, offset 8, checksum 4 */
    uint8_t hdr[14 + BK_XBS_PATH_MAX + 20];
    size_t hlen, hneed;
    uint64_t left;               /* payload bytes of the current chunk still to come */
    bool in_info;                /* the current payload is the binary log position's */
    char info[BK_XBS_INFO_MAX + 1];
    size_t info_len;
    char *open[BK_XBS_OPEN_MAX]; /* files with payload and no end chunk yet */
    size_t nopen;
    uint64_t chunks, files;      /* chunks read; files ended */
    uint64_t consumed, offset;   /* bytes fed; where the current chunk began */
    int err;                     /* sticky: the first error */
    uint64_t err_at;             /* the offset of the chunk it is in */
} bk_xbs;

/* The position read from the stream's binlog info ("file<TAB>pos[<TAB>gtid]"). */
typedef struct bk_xbs_pos {
    char file[256];
    uint64_t pos;
    char gtid[256];
} bk_xbs_pos;

void bk_xbs_init(bk_xbs *x);
/* -EBADMSG when the bytes are not an xbstream (a bad magic, an unknown chunk type, a path
 * too long, too many files open at once); the error sticks. */
int bk_xbs_feed(bk_xbs *x, const uint8_t *p, size_t n) BK_MUST_CHECK;
/* At the end: -EPIPE if the stream stops inside a chunk or with a file not ended,
 * -EBADMSG after an error or with no file at all, -EPROTO if its binary log position
 * (x->info) is malformed; 0 otherwise.  *ret (may be NULL) gets
 * the position, and *ret_has whether the stream had one. */
int bk_xbs_finish(bk_xbs *x, bk_xbs_pos *ret, bool *ret_has) BK_MUST_CHECK;
void bk_xbs_free(bk_xbs *x);

#endif
