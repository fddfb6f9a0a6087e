/* fuzz-xbstream.c - bk_xbs_feed/finish on arbitrary bytes, fed whole and again in pieces
 * of 7 bytes: mariadb-backup's stream as it passes into a backup.  Both ways must agree;
 * a position read has a file name, terminated strings, and came from a stream that ended
 * every file it began. */
#include <string.h>

#include "xbstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run(const uint8_t *data, size_t size, size_t piece, bk_xbs_pos *pos, bool *has)
{
    bk_xbs x;
    bk_xbs_init(&x);
    int r = 0;
    for (size_t at = 0; r == 0 && at < size; at += piece)
        r = bk_xbs_feed(&x, data + at, size - at < piece ? size - at : piece);
    if (r == 0)
        r = bk_xbs_finish(&x, pos, has);
    if (r == 0 && x.nopen)
        __builtin_trap();
    bk_xbs_free(&x);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_xbs_pos a, b;
    bool ha = false, hb = false;
    int ra = run(data, size, size ? size : 1, &a, &ha);
    int rb = run(data, size, 7, &b, &hb);
    if (ra != rb || ha != hb)
        __builtin_trap();
    if (ha && (!a.file[0] || strnlen(a.gtid, sizeof(a.gtid)) == sizeof(a.gtid) ||
               memcmp(&a, &b, sizeof(a)) != 0))
        __builtin_trap();
    return 0;
}
