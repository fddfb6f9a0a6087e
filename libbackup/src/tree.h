/* tree.h - tree blobs: one per directory, its entries sorted by name.  Encoding and
 * decoding only; the decoder validates everything (names, order, sizes). */
#ifndef BK_TREE_H
#define BK_TREE_H

#include <stdbool.h>

#include "backup.h"
#include "buf.h"

#define BK_TREE_VERSION 1
/* Trees with a node whose content is in list blobs (below) are of version 2, which older
 * readers refuse: they would take such a file for an empty one. */
#define BK_TREE_VERSION_LISTS 2
/* A file of more pieces than this keeps its content list in list blobs of this many
 * pieces each (the last one fewer), not in its directory's tree: a tree stays small
 * however large its files are, and a run holds one list of a file at a time. */
#define BK_CLIST_PIECES 8192
/* The first byte of a list blob's plaintext (tree blobs start with their version). */
#define BK_CLIST_MAGIC 0x4c

/* The file flags (FS_IOC_GETFLAGS, as chattr sets them) that backups keep and restores
 * set: s u c S i a d A D t T j m C.  Others (extents, inline data, verity...) describe
 * how the file system stores the file and cannot be chosen. */
#define BK_FFLAGS_KEPT 0x0083c4ffu
/* immutable | append-only: set last, cleared (as root) where an old entry is replaced */
#define BK_FFLAGS_LOCKING 0x00000030u

typedef struct bk_xattr {
    char *name;
    uint8_t *value;
    size_t len;
} bk_xattr;

/* A piece of a file's content: a blob, or a run of zeros stored as nothing (hole). */
typedef struct bk_content {
    bk_id id;
    uint32_t len;
    bool hole;
} bk_content;

/* A list blob of a file's content: a tree-kind blob holding pieces of it, in order. */
typedef struct bk_clist {
    bk_id id;
    uint64_t bytes;              /* of the file's content it describes */
    uint32_t pieces;
} bk_clist;

typedef struct bk_node {
    char *name;                 /* NUL-terminated; never empty, '.', '..', or with '/' */
    size_t name_len;
    uint8_t type;               /* bk_node_type */
    uint32_t mode;              /* permission bits only (07777) */
    uint32_t uid, gid;
    char *user, *group;         /* "" if unknown */
    uint64_t size;
    int64_t mtime, ctime;       /* atime is not kept: reading files would change trees */
    uint32_t mtime_nsec, ctime_nsec;
    uint64_t inode, dev, nlink, rdev;
    char *target;               /* symlink target */
    size_t target_len;
    bk_xattr *xattrs;
    size_t nxattrs;
    char *acl_posix;            /* POSIX.1e ACL, libarchive text ("default:" marks), or NULL */
    char *acl_nfs4;             /* NFSv4 ACL, libarchive text, or NULL */
    uint32_t chunk_avg;         /* stream files: average chunk size used (0 = repository's) */
    uint32_t fflags;            /* file flags (Linux FS_IOC_GETFLAGS bits, BK_FFLAGS_KEPT) */
    bk_id subtree;              /* directories */
    bk_content *content;        /* regular files: the pieces, if not in lists (or loaded) */
    size_t ncontent;
    bk_clist *lists;            /* regular files: list blobs that hold the pieces, or none */
    size_t nlists;
} bk_node;   /* owns its strings and arrays */

typedef struct bk_tree {
    bk_node *nodes;
    size_t n, cap;
} bk_tree;

/* Compare names the way trees are sorted: bytewise, a prefix first. */
int bk_name_cmp(const char *a, size_t alen, const char *b, size_t blen);
bool bk_name_valid(const char *name, size_t len);

/* Encode nodes (must be sorted and unique; -EINVAL otherwise). */
int bk_tree_encode(const bk_node *nodes, size_t n, bk_buf *out) BK_MUST_CHECK;
/* Decode a tree blob's plaintext.  -EBADMSG for malformed or invalid trees. */
int bk_tree_decode(const uint8_t *p, size_t n, bk_tree *ret) BK_MUST_CHECK;
void bk_tree_free(bk_tree *t);
/* Binary search by name; NULL if absent. */
const bk_node *bk_tree_find(const bk_tree *t, const char *name, size_t len);

void bk_node_clear(bk_node *n);
/* A list blob's plaintext: BK_CLIST_MAGIC, uvarint count, the pieces as a tree node has
 * them.  Decoding appends to *v (of *n pieces), checks that there are `pieces` of them
 * making `bytes` bytes (pieces 0: no such check). */
int bk_clist_encode(const bk_content *c, size_t n, bk_buf *out) BK_MUST_CHECK;
int bk_clist_decode(const uint8_t *p, size_t len, uint64_t bytes, uint32_t pieces,
                    bk_content **v, size_t *n) BK_MUST_CHECK;
/* The number of pieces of a file's content (inline or in lists). */
uint64_t bk_node_pieces(const bk_node *n);

/* Append a node to a tree (takes over its contents). */
int bk_tree_push(bk_tree *t, bk_node *n) BK_MUST_CHECK;
/* Sort by name; -EEXIST if two nodes have the same name. */
int bk_tree_sort(bk_tree *t) BK_MUST_CHECK;
/* Deep copy of a node (strings and arrays owned by the copy). */
int bk_node_copy(const bk_node *src, bk_node *dst) BK_MUST_CHECK;
/* A file that arca makes (a stream, a dump, a binary log, a physical backup): mode 0600,
 * the process's owner (no names), times 0, chunk_avg as given (0: the repository's). */
int bk_node_made_file(bk_node *n, const char *name, uint32_t chunk_avg) BK_MUST_CHECK;
/* Same owner, mode, mtime, xattrs, ACLs and file flags. */
bool bk_node_meta_equal(const bk_node *a, const bk_node *b);
/* Same type and content (blob list, link target, device, subtree). */
bool bk_node_content_equal(const bk_node *a, const bk_node *b);
/* Fill the public view of a node. */
void bk_node_info_fill(const bk_node *n, const char *path, size_t path_len, bk_node_info *ret);

#endif
