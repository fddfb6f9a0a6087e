/* cache.h - the local cache: copies of immutable repository objects (index objects,
 * snapshots, tree blobs), still sealed, under $XDG_CACHE_HOME/arca/<repository id>/ (or
 * --cache-dir), so that repeated runs do not read them from the store again.  It is only a
 * cache: every copy is checked as the original would be (its name is the hash of its
 * bytes, its seal authenticates), and deleting it changes nothing but speed. */
#ifndef BK_CACHE_H
#define BK_CACHE_H

#include "repo.h"

/* The cached stored bytes of t/name into out (appended): 0, or -ENOENT when not cached (or
 * the cache is off). */
int bk_cache_get(bk_repo *repo, const char *kind, const char *name, bk_buf *out);
/* A copy of an object named by the hash of its content (index objects, snapshots), whose
 * content matches its name, even when the handle does not use the cache otherwise (check,
 * repair): what a damaged original can be mended from.  -ENOENT none, -EBADMSG damaged. */
int bk_cache_get_copy(bk_repo *repo, const char *kind, const char *name, bk_buf *out);
/* Keep a copy (best effort: failures only cost speed). */
void bk_cache_put(bk_repo *repo, const char *kind, const char *name, const void *p, size_t n);
/* Is there a copy of kind/name of size bytes (a stat, not read)?  Drop one (damaged). */
bool bk_cache_has(bk_repo *repo, const char *kind, const char *name, uint64_t size);
void bk_cache_drop(bk_repo *repo, const char *kind, const char *name);
/* The path of a file of this repository's cache (its directory made), or NULL when the
 * cache is off or cannot be had. */
char *bk_cache_file(bk_repo *repo, const char *name);
/* Remove the copies of kind whose names are not in keep (ids): objects that are gone. */
void bk_cache_retain(bk_repo *repo, const char *kind, const bk_idmap *keep);
/* fn(name) for every file of kind whose name is an id (best effort: none when the cache is
 * off). */
void bk_cache_each(bk_repo *repo, const char *kind, void (*fn)(const char *name, void *ctx), void *ctx);

#endif
