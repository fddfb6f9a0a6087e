/* meta.c - metadata as the restoring system needs it: owners' names to local ids (looked
 * up once each), and POSIX ACLs from libarchive's text form to the kernel's xattr form. */
#include <archive.h>
#include <archive_entry.h>
#include <grp.h>
#include <pwd.h>

#include "meta.h"

/* ---- POSIX ACLs ------------------------------------------------------------------------ */

/* struct posix_acl_xattr_entry (linux/posix_acl_xattr.h): tags and the undefined id */
enum { X_USER_OBJ = 0x01, X_USER = 0x02, X_GROUP_OBJ = 0x04, X_GROUP = 0x08, X_MASK = 0x10,
       X_OTHER = 0x20 };
#define X_VERSION 2u
#define X_UNDEFINED_ID 0xffffffffu

typedef struct acl_ent {
    uint16_t tag, perm;
    uint32_t id;
} acl_ent;

static int acl_ent_cmp(const void *a, const void *b)
{
    const acl_ent *x = a, *y = b;
    if (x->tag != y->tag)
        return x->tag < y->tag ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static uint16_t xattr_tag(int tag)
{
    switch (tag) {
    case ARCHIVE_ENTRY_ACL_USER_OBJ: return X_USER_OBJ;
    case ARCHIVE_ENTRY_ACL_USER: return X_USER;
    case ARCHIVE_ENTRY_ACL_GROUP_OBJ: return X_GROUP_OBJ;
    case ARCHIVE_ENTRY_ACL_GROUP: return X_GROUP;
    case ARCHIVE_ENTRY_ACL_MASK: return X_MASK;
    case ARCHIVE_ENTRY_ACL_OTHER: return X_OTHER;
    }
    return 0;
}

/* One type's entries as an xattr value; an access ACL only if it is more than the mode. */
static int acl_build(struct archive_entry *e, int type, bk_id_fn ids, void *ud, bk_buf *out)
{
    acl_ent v[1024];
    size_t n = 0;
    bool extended = false, mask = false;
    uint16_t group_class = 0;
    int count = archive_entry_acl_reset(e, type);
    int t, perm, tag, id;
    const char *name;
    while (count > 0 && archive_entry_acl_next(e, type, &t, &perm, &tag, &id, &name) == ARCHIVE_OK) {
        uint16_t xt = xattr_tag(tag);
        if (!xt || n == BK_ELEMENTSOF(v))
            return -EINVAL;
        acl_ent *a = &v[n++];
        a->tag = xt;
        a->perm = (uint16_t)(perm & 7);
        a->id = X_UNDEFINED_ID;
        if (xt == X_USER || xt == X_GROUP) {
            if (id < 0)
                return -EINVAL;
            a->id = ids ? ids(ud, xt == X_GROUP, name ? name : "", (uint32_t)id) : (uint32_t)id;
        }
        extended |= xt == X_USER || xt == X_GROUP || xt == X_MASK;
        mask |= xt == X_MASK;
        if (xt == X_USER || xt == X_GROUP || xt == X_GROUP_OBJ)
            group_class |= a->perm;
    }
    if (n == 0 || (type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && !extended))
        return 0;
    if (!mask && (extended || type == ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) && n > 3) {
        /* named entries need a mask (the kernel refuses them without): as setfacl computes it */
        if (n == BK_ELEMENTSOF(v))
            return -EINVAL;
        v[n++] = (acl_ent){ X_MASK, group_class, X_UNDEFINED_ID };
    }
    qsort(v, n, sizeof(*v), acl_ent_cmp);
    uint8_t hdr[4];
    bk_put_le32(hdr, X_VERSION);
    int r = bk_buf_append(out, hdr, sizeof(hdr));
    for (size_t i = 0; r == 0 && i < n; i++) {
        uint8_t b[8];
        b[0] = (uint8_t)v[i].tag;
        b[1] = (uint8_t)(v[i].tag >> 8);
        b[2] = (uint8_t)v[i].perm;
        b[3] = (uint8_t)(v[i].perm >> 8);
        bk_put_le32(b + 4, v[i].id);
        r = bk_buf_append(out, b, sizeof(b));
    }
    return r;
}

int bk_acl_xattrs(const char *text, uint32_t mode, bk_id_fn ids, void *ud, bk_buf *access,
                  bk_buf *def)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -ENOMEM;
    archive_entry_set_perm(e, mode & 0777);   /* the owner/group/other entries the text lacks */
    int r = archive_entry_acl_from_text(e, text, ARCHIVE_ENTRY_ACL_TYPE_POSIX1E) == ARCHIVE_OK ? 0
                                                                                             : -EINVAL;
    if (r == 0)
        r = acl_build(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ids, ud, access);
    if (r == 0)
        r = acl_build(e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, ids, ud, def);
    archive_entry_free(e);
    return r;
}

/* ---- owners: names to local ids, looked up once each -------------------------------------- */

typedef struct name_ent {
    char *name;               /* NULL: free slot */
    uint32_t id;
    bool found;
} name_ent;

typedef struct name_cache {
    name_ent *v;
    size_t cap, n;            /* cap: a power of two */
} name_cache;

static uint64_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static name_ent *cache_slot(name_cache *c, const char *name)
{
    if (c->n * 2 >= c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        name_ent *nv = calloc(ncap, sizeof(*nv));
        if (!nv)
            return NULL;
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->v[i].name)
                continue;
            size_t j = name_hash(c->v[i].name) & (ncap - 1);
            while (nv[j].name)
                j = (j + 1) & (ncap - 1);
            nv[j] = c->v[i];
        }
        free(c->v);
        c->v = nv;
        c->cap = ncap;
    }
    size_t j = name_hash(name) & (c->cap - 1);
    while (c->v[j].name && strcmp(c->v[j].name, name) != 0)
        j = (j + 1) & (c->cap - 1);
    return &c->v[j];
}

static void cache_free(name_cache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        free(c->v[i].name);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static bool lookup_name(bool group, const char *name, uint32_t *ret)
{
    size_t cap = 16384;
    for (int tries = 0; tries < 6; tries++, cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            return false;
        int e;
        bool found = false;
        if (group) {
            struct group g, *res = NULL;
            e = getgrnam_r(name, &g, buf, cap, &res);
            if (e == 0 && res) {
                *ret = (uint32_t)g.gr_gid;
                found = true;
            }
        } else {
            struct passwd pw, *res = NULL;
            e = getpwnam_r(name, &pw, buf, cap, &res);
            if (e == 0 && res) {
                *ret = (uint32_t)pw.pw_uid;
                found = true;
            }
        }
        free(buf);
        if (e != ERANGE)
            return found;
    }
    return false;
}

struct bk_owners {
    bool numeric;
    name_cache users, groups;
};

int bk_owners_new(bool numeric_ids, bk_owners **ret)
{
    bk_owners *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->numeric = numeric_ids;
    *ret = o;
    return 0;
}

void bk_owners_free(bk_owners *o)
{
    if (!o)
        return;
    cache_free(&o->users);
    cache_free(&o->groups);
    free(o);
}

uint32_t bk_owners_id(void *ud, bool is_group, const char *name, uint32_t id)
{
    bk_owners *o = ud;
    if (o->numeric || !name || !*name)
        return id;
    name_cache *c = is_group ? &o->groups : &o->users;
    name_ent *s = cache_slot(c, name);
    if (!s)
        return id;   /* out of memory: the stored id is the documented fallback anyway */
    if (!s->name) {
        if (!(s->name = strdup(name)))
            return id;
        s->found = lookup_name(is_group, name, &s->id);
        c->n++;
    }
    return s->found ? s->id : id;
}

void bk_owners_map(bk_owners *o, const bk_node *n, uid_t *ret_uid, gid_t *ret_gid)
{
    *ret_uid = (uid_t)bk_owners_id(o, false, n->user, n->uid);
    *ret_gid = (gid_t)bk_owners_id(o, true, n->group, n->gid);
}
