/* fuzz-checkrec.c - bk_check_record_parse on arbitrary bytes; what it accepts must be valid. */
#include <string.h>

#include "backup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_check_record rec;
    for (int ok = 0; ok < 2; ok++) {
        if (bk_check_record_parse(ok ? "check-ok" : "check", data, size, &rec) < 0)
            continue;
        if (rec.time < 0 || rec.read_share < 0 || rec.read_share > 1 || !(rec.duration >= 0) ||
            strnlen(rec.host, sizeof(rec.host)) == sizeof(rec.host) || (ok && rec.errors))
            __builtin_trap();
    }
    return 0;
}
