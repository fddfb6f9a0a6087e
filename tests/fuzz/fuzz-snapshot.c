/* fuzz-snapshot.c - bk_snapshot_decode on arbitrary bytes; what decodes must encode, and
 * the encoding must be a fixed point of decode + encode. */
#include <stdlib.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("TZ", "UTC", 1);   /* local times in documents parse the same on every run */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_snapshot *s, *s2, *dup;
    if (bk_snapshot_decode(data, size, &s) < 0)
        return 0;
    bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
    if (bk_snapshot_encode(s, &a) < 0)
        __builtin_trap();
    if (bk_snapshot_decode(a.data, a.len, &s2) < 0)
        __builtin_trap();
    if (bk_snapshot_encode(s2, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
        __builtin_trap();
    if (bk_snapshot_dup(s2, &dup) < 0)
        __builtin_trap();
    char when[48];
    bk_snapshot_time_str(dup, when);
    bk_filter f = { 0 };
    const char *tags[] = { "a,b", "" };
    f.tag_groups = tags;
    f.ntag_groups = 2;
    (void)bk_snapshot_match(dup, &f);
    bk_snapshot_free(dup);
    bk_snapshot_free(s2);
    bk_snapshot_free(s);
    bk_buf_free(&a);
    bk_buf_free(&b);
    return 0;
}
