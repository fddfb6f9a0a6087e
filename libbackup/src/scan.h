/* scan.h - count what a backup will read, in a background thread, so that progress can
 * show a percentage and an ETA. */
#ifndef BK_SCAN_H
#define BK_SCAN_H

#include <stdbool.h>

#include "macro.h"

typedef struct bk_scan bk_scan;

/* Walk paths (absolute) like the backup does (excludes, one file system). */
int bk_scan_start(char *const *paths, size_t n, char *const *excludes, size_t nexcludes,
                  bool one_fs, bk_scan **ret) BK_MUST_CHECK;
/* Totals so far; *done once the walk finished. */
void bk_scan_get(bk_scan *s, uint64_t *files, uint64_t *bytes, bool *done);
/* Stop (if still running) and free. */
void bk_scan_free(bk_scan *s);

#endif
