/* binlog.c - the event headers of a binary log (MariaDB's format 4: every server since
 * MySQL 5.0): a 4-byte magic, then events of a 19-byte header (timestamp u32, type u8,
 * server id u32, event size u32, next position u32, flags u16, little endian) and a body;
 * the size covers both (and a trailing CRC32 where checksums are on). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "binlog.h"

#define HEADER_LEN 19
#define EV_STOP 3
#define EV_ROTATE 4
#define EV_GTID 162                  /* MariaDB: seq_no u64, domain id u32, flags u8, ... */

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t u64(const uint8_t *p)
{
    return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
}

int bk_binlog_scan(const uint8_t *p, size_t n, bk_binlog_info *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (n < 4 || memcmp(p, "\xfe" "bin", 4) != 0)
        return -EBADMSG;
    uint8_t last_type = 0;
    for (size_t at = 4; at < n;) {
        if (n - at < HEADER_LEN)
            return -EBADMSG;
        const uint8_t *e = p + at;
        uint32_t when = u32(e), server = u32(e + 5), size = u32(e + 9);
        if (size < HEADER_LEN || size > n - at)
            return -EBADMSG;
        if (when) {
            if (!ret->first_time)
                ret->first_time = when;
            if (when > ret->last_time)
                ret->last_time = when;
        }
        if (e[4] == EV_GTID && size >= HEADER_LEN + 12) {
            char *dst = ret->first_gtid[0] ? ret->last_gtid : ret->first_gtid;
            snprintf(dst, sizeof(ret->first_gtid), "%u-%u-%llu", u32(e + HEADER_LEN + 8), server,
                     (unsigned long long)u64(e + HEADER_LEN));
            if (dst == ret->first_gtid)
                memcpy(ret->last_gtid, ret->first_gtid, sizeof(ret->last_gtid));
        }
        last_type = e[4];
        ret->events++;
        at += size;
    }
    ret->closed = last_type == EV_ROTATE || last_type == EV_STOP;
    return 0;
}
