/* fuzz-binlog.c - bk_binlog_scan on arbitrary bytes: a binary log's event headers as the
 * server (or mariadb-binlog) gives them; what scans has its times in order, its GTIDs
 * terminated, and at least one event counted for each 19 bytes it read. */
#include <string.h>

#include "binlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_binlog_info info;
    if (bk_binlog_scan(data, size, &info) < 0)
        return 0;
    if (info.first_time > info.last_time ||
        strnlen(info.first_gtid, sizeof(info.first_gtid)) == sizeof(info.first_gtid) ||
        strnlen(info.last_gtid, sizeof(info.last_gtid)) == sizeof(info.last_gtid) ||
        (size > 4 && info.events == 0) || info.events > size / 19 + 1 ||
        (info.first_gtid[0] && !info.last_gtid[0]))
        __builtin_trap();
    return 0;
}
