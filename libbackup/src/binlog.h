/* binlog.h - what a MariaDB/MySQL binary log file holds, read from its event headers: the
 * times of its first and last events, its first and last GTIDs (MariaDB's GTID events),
 * and whether it was closed (it ends with a rotate or stop event).  Pure: bytes in. */
#ifndef BK_BINLOG_H
#define BK_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct bk_binlog_info {
    int64_t first_time, last_time;   /* seconds since the epoch, of the events (0: none) */
    char first_gtid[64], last_gtid[64];   /* "domain-server-seq", or "" */
    uint64_t events;
    bool closed;                     /* the last event rotates to the next file, or stops */
} bk_binlog_info;

/* -EBADMSG if p (n bytes) is not a binary log: the magic, then events whose sizes add up
 * (a log cut short in the middle of an event is not one either). */
int bk_binlog_scan(const uint8_t *p, size_t n, bk_binlog_info *ret) BK_MUST_CHECK;

#endif
