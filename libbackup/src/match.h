/* match.h - include and exclude patterns for paths (backup, restore, dump). */
#ifndef BK_MATCH_H
#define BK_MATCH_H

#include <stdbool.h>
#include <stddef.h>

// An exclude pattern without '/' matches the last path component ("*.tmp"); one that
// starts with '/' matches the whole absolute path ("/var/cache/*"); any other matches the
// tail of the path from a component boundary ("cache/*.bin").  Globs as fnmatch(3) with
// FNM_PATHNAME ('*' does not cross '/').
bool bk_match_exclude(char *const *patterns, size_t n, const char *path);

/* Includes select paths inside a snapshot: a path matches when it is an include, lies
 * below one, or an include glob matches it or one of its parents. */
bool bk_match_include(char *const *patterns, size_t n, const char *path);
/* Whether a directory may contain matches below it (it is a parent of an include, or
 * some include is a glob that may match deeper). */
bool bk_match_include_below(char *const *patterns, size_t n, const char *dir);

#endif
