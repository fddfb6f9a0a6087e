/* meta.h - metadata as the restoring system needs it: owners' names to local ids, and
 * POSIX ACLs from libarchive's text form (as trees store them) to the kernel's xattrs. */
#ifndef BK_META_H
#define BK_META_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "tree.h"

/* The local id of a named ACL entry or owner: is_group, the name stored (may be ""), the
 * id stored. */
typedef uint32_t (*bk_id_fn)(void *ud, bool is_group, const char *name, uint32_t id);

/* Build the values of system.posix_acl_access and system.posix_acl_default from a POSIX.1e
 * ACL in libarchive's text form (as trees store it).  mode supplies the owner, group and
 * other entries the text lacks.  access is left empty when the text has no extended access
 * entries (the mode says it all), def when it has no default entries.  ids maps names to
 * local ids (NULL: the stored ids).  -EINVAL if the text does not parse. */
int bk_acl_xattrs(const char *text, uint32_t mode, bk_id_fn ids, void *ud, bk_buf *access,
                  bk_buf *def) BK_MUST_CHECK;

/* Owners as restored: a user or group name that exists here gives its local id, otherwise
 * (or with numeric_ids) the stored id is used.  Each name is looked up once. */
typedef struct bk_owners bk_owners;
int bk_owners_new(bool numeric_ids, bk_owners **ret) BK_MUST_CHECK;
void bk_owners_free(bk_owners *o);
void bk_owners_map(bk_owners *o, const bk_node *n, uid_t *ret_uid, gid_t *ret_gid);
/* A bk_id_fn over a bk_owners (ud). */
uint32_t bk_owners_id(void *ud, bool is_group, const char *name, uint32_t id);

#endif
