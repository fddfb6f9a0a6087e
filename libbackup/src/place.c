/* place.c - put the entries of a restore plan in place beneath the target (see place.h).
 *
 * The stack of directories: level 0 is the target, level k the k-th directory on the way
 * to the current entry.  Each level keeps its fd (so that a name is one *at call away,
 * whatever the length of its path) and what new entries inherit from it: the group of a
 * setgid directory, a default ACL, file flags.  What a directory inherits is known without
 * asking when this run made it; a directory that was there is asked once, when the first
 * entry is written into it (which is also when the leftovers of a killed run are removed
 * and its immutable flag, as root, cleared). */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "place.h"
#include "target.h"
#include "util.h"

#define MAX_OPEN_LEVELS 256      /* deeper, only the current directory's fd stays open */
#define HIDE_MAX_ENTRIES 65536   /* a hidden directory holds at most this many entries */
#define HIDE_MAX_BYTES (1u << 30)    /* and this many bytes of files */
#define FFLAGS_EARLY (FS_NOCOW_FL | FS_COMPR_FL | FS_NOCOMP_FL)   /* set while still empty */
#define FFLAGS_INHERITED (BK_FFLAGS_KEPT & ~BK_FFLAGS_LOCKING)

#define ACL_ACCESS "system.posix_acl_access"
#define ACL_DEFAULT "system.posix_acl_default"

/* ---- zero blocks ------------------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

size_t bk_place_next_run(const uint8_t *p, size_t len, uint64_t off, size_t bs, size_t from,
                         size_t *ret_len)
{
    size_t start = len, i = from;
    while (i < len) {
        /* the piece from i to the next multiple of bs in file offsets */
        size_t end = BK_MIN(len, i + (bs - (size_t)((off + i) & (bs - 1))));
        bool zero = all_zero(p + i, end - i);
        if (start == len && !zero)
            start = i;
        else if (start != len && zero)
            break;
        i = end;
    }
    *ret_len = start == len ? 0 : i - start;
    return start;
}

/* ---- the handle ------------------------------------------------------------------------------ */

typedef struct level {
    int fd;                   /* -1: not open (evicted, or not in place) */
    size_t idx;               /* plan index of the directory; SIZE_MAX for the target */
    size_t path_len;          /* its path's length in the plan (0: the target) */
    bool failed;              /* not in place: nothing below it is */
    bool existed;             /* it was there before this run: st and flags say how */
    bool prepared;            /* ready for new entries */
    bool written;             /* something was created in or removed from it */
    bool chmod_needed;        /* its mode was changed to write into it */
    bool default_acl;         /* new entries inherit a default ACL */
    bool setgid;              /* setgid: new directories in it inherit the bit */
    bool flags_unlocked;      /* its immutable/append-only flags were cleared (the target) */
    bool hidden;              /* it or a directory above it has a temporary name: what is
                               * made in it gets its final name at once */
    char tmp[32];             /* made under this temporary name, renamed to its own when it
                               * is left ("": it has its own) */
    uint32_t flags;           /* its file flags now (FS_IOC_GETFLAGS) */
    gid_t new_gid;            /* the group new entries get */
    struct stat st;           /* existed: as found */
} level;

struct bk_place {
    bk_repo *repo;
    const bk_plan *plan;
    int tfd;
    bk_place_opts o;
    bk_place_report_fn report;
    void *ud;
    uid_t euid;
    gid_t egid;
    bool root;
    int umask;                /* the process's umask, or -1 if unknown */
    size_t bs;                /* block size for skipping zeros */
    level *lv;
    size_t nlv, cap, nopen;
    uint32_t tmp_base, tmp_seq;
    int fatal;                /* set once nothing more can be written (< 0) */
    size_t *late;             /* plan indices whose locking flags wait for the end */
    size_t nlate, late_cap;
    bk_buf acl_a, acl_d;      /* scratch */
};

static const bk_plan_entry *entry(const bk_place *p, size_t i)
{
    return &p->plan->v[i];
}

static const char *base_name(const bk_plan_entry *pe)
{
    const char *s = strrchr(pe->path, '/');
    return s ? s + 1 : pe->path;
}

static const char *level_path(const bk_place *p, const level *l)
{
    return l->idx == SIZE_MAX ? "" : entry(p, l->idx)->path;
}

/* What a directory is called on disk, for messages: TARGET/path. */
static void disk_name(const bk_place *p, const level *l, char *out, size_t n)
{
    const char *t = p->o.target ? p->o.target : ".";
    size_t tl = strlen(t);
    while (tl > 1 && t[tl - 1] == '/')
        tl--;
    snprintf(out, n, "%.*s%s", (int)tl, t, level_path(p, l));
}

static void warn(bk_place *p, const char *path, const char *what, int err)
{
    if (err == EROFS) {
        /* nothing more can be written: one message, and the restore stops */
        if (!p->fatal)
            p->fatal = bk_repo_error(p->repo, -EROFS, "cannot write into %s: %s",
                                     p->o.target ? p->o.target : ".", strerror(err));
        return;
    }
    bk_repo_log(p->repo, BK_LOG_WARNING, "%s: %s: %s", path, what, strerror(err));
}

static void report(bk_place *p, const char *path, int code, const char *fmt, ...) BK_PRINTF(4, 5);
static void report(bk_place *p, const char *path, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->report)
        p->report(p->ud, path, code, msg);
}

static int read_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    int m = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Umask: %o", (unsigned *)&m) == 1)
            break;
    fclose(f);
    return m >= 0 && m <= 0777 ? m : -1;
}

static int get_flags(int fd, uint32_t *ret)
{
    int v = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0)
        return -errno;
    *ret = (uint32_t)v;
    return 0;
}

static int set_flags(int fd, uint32_t v)
{
    int x = (int)v;
    return ioctl(fd, FS_IOC_SETFLAGS, &x) < 0 ? -errno : 0;
}

static int push_level(bk_place *p, level *l)
{
    if (p->nlv == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        level *v = realloc(p->lv, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        p->lv = v;
        p->cap = cap;
    }
    /* deep trees: keep the first levels and the current one open, close the one below */
    if (l->fd >= 0 && p->nopen >= MAX_OPEN_LEVELS && p->nlv > MAX_OPEN_LEVELS) {
        level *below = &p->lv[p->nlv - 1];
        if (below->fd >= 0) {
            close(below->fd);
            below->fd = -1;
            p->nopen--;
        }
    }
    p->lv[p->nlv++] = *l;
    p->nopen += l->fd >= 0;
    return 0;
}

/* The fd of level k, reopened name by name from the nearest open level above it if it was
 * closed (a hidden level by its temporary name).  -errno if it cannot be. */
static int level_fd(bk_place *p, size_t k)
{
    level *l = &p->lv[k];
    if (l->fd >= 0 || l->failed)
        return l->fd >= 0 ? l->fd : -ENOENT;
    size_t j = k;
    while (j > 0 && p->lv[j].fd < 0)
        j--;
    const char *path = level_path(p, l);
    size_t pos = p->lv[j].path_len;
    int fd = p->lv[j].fd;
    bool own = false;         /* fd was opened here (not a level's) */
    while (pos < l->path_len) {
        /* each level is one name below the one under it */
        const level *m = &p->lv[++j];
        const char *name = path + pos + 1;
        const char *end = memchr(name, '/', l->path_len - pos - 1);
        size_t nl = end ? (size_t)(end - name) : l->path_len - pos - 1;
        char *one = m->tmp[0] ? strdup(m->tmp) : strndup(name, nl);
        int nfd = one ? openat(fd, one, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        int e = one ? errno : ENOMEM;
        free(one);
        if (own)
            close(fd);
        if (nfd < 0)
            return -e;
        fd = nfd;
        own = true;
        pos += 1 + nl;
    }
    l->fd = fd;
    p->nopen++;
    return fd;
}

int bk_place_new(bk_repo *repo, int tfd, const bk_plan *plan, const bk_place_opts *o,
                 bk_place_report_fn rep, void *ud, bk_place **ret)
{
    bk_place *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->repo = repo;
    p->plan = plan;
    p->tfd = tfd;
    p->o = *o;
    p->report = rep;
    p->ud = ud;
    p->euid = geteuid();
    p->egid = getegid();
    p->root = p->euid == 0;
    p->umask = read_umask();
    randombytes_buf(&p->tmp_base, sizeof(p->tmp_base));
    level t = { .fd = tfd, .idx = SIZE_MAX, .existed = true, .prepared = o->fresh };
    if (fstat(tfd, &t.st) < 0) {
        int e = -errno;
        free(p);
        return e;
    }
    p->bs = 4096;
    if (t.st.st_blksize >= 512 && t.st.st_blksize <= 65536 &&
        (t.st.st_blksize & (t.st.st_blksize - 1)) == 0)
        p->bs = (size_t)t.st.st_blksize;
    t.new_gid = (t.st.st_mode & S_ISGID) ? t.st.st_gid : p->egid;
    t.setgid = (t.st.st_mode & S_ISGID) != 0;
    if (get_flags(tfd, &t.flags) < 0)
        t.flags = 0;
    t.default_acl = fgetxattr(tfd, ACL_DEFAULT, NULL, 0) > 0;
    int r = push_level(p, &t);
    if (r < 0) {
        free(p);
        return r;
    }
    p->nopen = 0;   /* the target's fd is borrowed: never closed, never counted */
    *ret = p;
    return 0;
}

void bk_place_free(bk_place *p)
{
    if (!p)
        return;
    for (size_t k = 1; k < p->nlv; k++)
        if (p->lv[k].fd >= 0)
            close(p->lv[k].fd);
    free(p->lv);
    free(p->late);
    bk_buf_free(&p->acl_a);
    bk_buf_free(&p->acl_d);
    free(p);
}

void bk_place_owner(bk_place *p, const bk_node *n, uid_t *ret_uid, gid_t *ret_gid)
{
    bk_owners_map(p->o.owners, n, ret_uid, ret_gid);
}

/* ---- metadata ---------------------------------------------------------------------------- */

/* The ACL xattrs of n into p->acl_a/acl_d (empty: none of that kind). */
static void build_acls(bk_place *p, const bk_plan_entry *pe)
{
    p->acl_a.len = p->acl_d.len = 0;
    const bk_node *n = &pe->node;
    if (!n->acl_posix)
        return;
    if (bk_acl_xattrs(n->acl_posix, n->mode, bk_owners_id, p->o.owners, &p->acl_a,
                      &p->acl_d) < 0) {
        p->acl_a.len = p->acl_d.len = 0;
        bk_repo_log(p->repo, BK_LOG_WARNING, "%s: the ACL in the snapshot does not parse: not "
                    "restored", pe->path);
    }
}

/* Which ACL xattrs fd has (one flistxattr; removing an absent ACL succeeds, so that
 * cannot tell).  When the list does not fit, both are taken to be there. */
static void acls_present(int fd, bool *ret_access, bool *ret_default)
{
    char buf[4096];
    ssize_t n = flistxattr(fd, buf, sizeof(buf));
    *ret_access = *ret_default = n < 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
        *ret_access |= strcmp(buf + i, ACL_ACCESS) == 0;
        *ret_default |= strcmp(buf + i, ACL_DEFAULT) == 0;
    }
}

/* Set one ACL xattr, or remove it if there is one (there): true if it changed. */
static bool put_acl(bk_place *p, int fd, const char *pname, const char *xname, const bk_buf *v,
                    bool there)
{
    if (v->len) {
        if (fsetxattr(fd, xname, v->data, v->len, 0) < 0)
            warn(p, pname, "cannot set the ACL", errno);
        return true;
    }
    if (there && fremovexattr(fd, xname) < 0 && errno != ENODATA)
        warn(p, pname, "cannot remove the ACL", errno);
    return there;
}

static void set_xattrs_fd(bk_place *p, int fd, const bk_plan_entry *pe)
{
    const bk_node *n = &pe->node;
    for (size_t i = 0; i < n->nxattrs; i++)
        if (fsetxattr(fd, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) < 0) {
            char what[300];
            snprintf(what, sizeof(what), "cannot set the extended attribute %s", n->xattrs[i].name);
            warn(p, pe->path, what, errno);
        }
}

/* Flags of a file or directory: set what n has and clear what it does not (of the kept
 * ones).  have: what it may have now (0: it has none, asking is not needed).  Locking
 * flags of files with several names wait for the end (a name cannot be added to an
 * immutable file). */
static void set_fflags(bk_place *p, int fd, size_t i, uint32_t have)
{
    const bk_plan_entry *pe = entry(p, i);
    uint32_t want = pe->node.fflags & BK_FFLAGS_KEPT;
    if (!want && !(have & BK_FFLAGS_KEPT))
        return;
    uint32_t cur = 0;
    int e = get_flags(fd, &cur);
    if (e < 0) {
        if (want)
            warn(p, pe->path, "cannot set the file flags", -e);
        return;
    }
    if (pe->node.type == BK_NODE_FILE && pe->node.nlink > 1 && (want & BK_FFLAGS_LOCKING)) {
        if (p->nlate == p->late_cap) {
            size_t cap = p->late_cap ? p->late_cap * 2 : 16;
            size_t *v = realloc(p->late, cap * sizeof(*v));
            if (v) {
                p->late = v;
                p->late_cap = cap;
            }
        }
        if (p->nlate < p->late_cap) {
            p->late[p->nlate++] = i;
            want &= ~BK_FFLAGS_LOCKING;
        }
    }
    uint32_t v = (cur & ~BK_FFLAGS_KEPT) | want;
    if (v != cur && (e = set_flags(fd, v)) < 0)
        warn(p, pe->path, "cannot set the file flags", -e);
}

/* Owner, xattrs, ACLs, mode and times of a new file or directory, on its fd.  parent: the
 * level it was made in; created_mode: its mode as made, or -1 if not known. */
static void meta_fd(bk_place *p, int fd, const bk_plan_entry *pe, const level *parent,
                    int created_mode, const struct stat *old)
{
    const bk_node *n = &pe->node;
    bool dir = n->type == BK_NODE_DIR;
    bool chmod = created_mode < 0 || (uint32_t)created_mode != n->mode;
    if (p->o.owner) {
        uid_t u;
        gid_t g;
        bk_place_owner(p, n, &u, &g);
        bool differ = old ? (old->st_uid != u || old->st_gid != g)
                          : (u != p->euid || g != parent->new_gid);
        if (differ) {
            if (fchown(fd, u, g) < 0)
                warn(p, pe->path, "cannot set the owner", errno);
            chmod = true;   /* a chown drops setuid and setgid bits */
        }
    }
    set_xattrs_fd(p, fd, pe);
    build_acls(p, pe);
    /* what is there: a new entry has inherited its directory's default ACL, if any */
    bool has_a = parent->default_acl, has_d = parent->default_acl && dir;
    if (old && !(p->acl_a.len && (p->acl_d.len || !dir)))
        acls_present(fd, &has_a, &has_d);
    chmod |= put_acl(p, fd, pe->path, ACL_ACCESS, &p->acl_a, has_a);
    if (dir)
        put_acl(p, fd, pe->path, ACL_DEFAULT, &p->acl_d, has_d);
    if (chmod && fchmod(fd, n->mode) < 0)
        warn(p, pe->path, "cannot set the mode", errno);
}

static void set_times_fd(bk_place *p, int fd, const bk_plan_entry *pe)
{
    const bk_node *n = &pe->node;
    struct timespec ts[2] = { { n->mtime, n->mtime_nsec }, { n->mtime, n->mtime_nsec } };
    if (futimens(fd, ts) < 0)
        warn(p, pe->path, "cannot set the times", errno);
}

/* ---- renaming into place --------------------------------------------------------------------- */

/* Rename tmp over name in dirfd.  0, or -errno with *ret_why saying what was in the way. */
static int rename_over(int dirfd, const char *tmp, const char *name, const char **ret_why)
{
    *ret_why = NULL;
    if (renameat(dirfd, tmp, dirfd, name) == 0)
        return 0;
    int e = -errno;
    if (e == -EISDIR || e == -ENOTEMPTY || e == -EEXIST) {
        /* a directory is in the way: an empty one goes, as with tar */
        if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 && renameat(dirfd, tmp, dirfd, name) == 0)
            return 0;
        *ret_why = "a directory that is not empty is in the way (--delete replaces it)";
        return e;
    }
    if (e == -EPERM) {
        int u = bk_target_unlock(dirfd, name);
        if (u == 0 && renameat(dirfd, tmp, dirfd, name) == 0)
            return 0;
        if (u != -ENODATA)
            *ret_why = "the entry there is immutable or append-only and was kept (chattr -i -a "
                       "it, or restore as root)";
        return e;
    }
    return e;
}

/* A temporary name in level k's directory: make(dirfd, tmp, ctx) creates it (-errno on
 * failure); tried with new names while it exists. */
typedef int (*make_fn)(bk_place *p, int dirfd, const char *tmp, void *ctx);

static int make_tmp(bk_place *p, int dirfd, char tmp[32], make_fn make, void *ctx)
{
    for (int tries = 0; tries < 100; tries++) {
        snprintf(tmp, 32, "%s%08x", BK_PLACE_TMP_PREFIX, p->tmp_base + p->tmp_seq++);
        int e = make(p, dirfd, tmp, ctx);
        if (e != -EEXIST)
            return e;
    }
    return -EEXIST;
}

/* ---- directories ---------------------------------------------------------------------------- */

/* A hidden directory, made under a temporary name, is complete: renamed to its own name
 * (never over anything: the target was empty).  If it cannot be, it goes with everything
 * below it (reported).  0 in place, 1 not. */
static int unhide(bk_place *p, level *l)
{
    const bk_plan_entry *pe = entry(p, l->idx);
    int dirfd = level_fd(p, p->nlv - 2);
    int e = dirfd < 0 ? dirfd : 0;
    if (e == 0 && renameat2(dirfd, l->tmp, dirfd, base_name(pe), RENAME_NOREPLACE) < 0) {
        e = -errno;
        if (e == -EINVAL && renameat(dirfd, l->tmp, dirfd, base_name(pe)) == 0)
            e = 0;   /* a file system without RENAME_NOREPLACE */
    }
    if (e < 0) {
        report(p, pe->path, e, "cannot put the directory in place (nothing below it is "
               "restored): %s", strerror(-e));
        uint64_t count = 0;
        if (dirfd >= 0)
            (void)bk_target_remove(dirfd, l->tmp, false, &count);
    }
    l->tmp[0] = 0;
    return e < 0;
}

/* Leave the top level: its metadata, after everything below it; a hidden directory is
 * renamed into place. */
static void leave(bk_place *p)
{
    level *l = &p->lv[p->nlv - 1];
    if (!l->failed && l->idx != SIZE_MAX) {
        const bk_plan_entry *pe = entry(p, l->idx);
        const bk_node *n = &pe->node;
        int fd = level_fd(p, p->nlv - 1);
        const level *parent = &p->lv[p->nlv - 2];
        if (fd < 0) {
            report(p, pe->path, fd, "cannot set its metadata: %s", strerror(-fd));
        } else {
            const struct stat *old = l->existed ? &l->st : NULL;
            int created = -1;
            if (old && !l->chmod_needed)
                created = (int)(old->st_mode & 07777);
            else if (!old && p->umask >= 0 && !parent->default_acl && !parent->setgid)
                /* as made: (mode | 0700) & ~umask (no setgid bit inherited, no default
                 * ACL): the chmod is needed only if that is not the snapshot's mode */
                created = (int)(((n->mode & 0777) | 0700) & ~(uint32_t)p->umask);
            meta_fd(p, fd, pe, parent, created, old);
            if (!old || l->written || old->st_mtim.tv_sec != n->mtime ||
                (uint32_t)old->st_mtim.tv_nsec != n->mtime_nsec)
                set_times_fd(p, fd, pe);
            if (!l->tmp[0] || unhide(p, l) == 0)
                set_fflags(p, fd, l->idx, l->flags);   /* (an immutable one cannot be renamed) */
        }
    }
    if (l->tmp[0] && l->idx != SIZE_MAX)
        (void)unhide(p, l);   /* not in place: what it holds is, still */
    if (l->fd >= 0 && l->idx != SIZE_MAX) {
        close(l->fd);
        p->nopen--;
    }
    p->nlv--;
}

/* A temporary name as make_tmp makes them (the prefix and 8 hex digits)? */
static bool tmp_name(const char *s)
{
    size_t plen = strlen(BK_PLACE_TMP_PREFIX);
    if (strncmp(s, BK_PLACE_TMP_PREFIX, plen) != 0 || strlen(s) != plen + 8)
        return false;
    for (s += plen; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* Leftovers of a killed restore in an existing directory: temporary names go, and so do
 * hidden directories (of a fresh target) with all they hold; another directory whose name
 * starts like a temporary one stays. */
static void remove_leftovers(bk_place *p, level *l, int fd)
{
    char buf[16384];
    char **names = NULL;
    size_t n = 0, cap = 0;
    const size_t plen = strlen(BK_PLACE_TMP_PREFIX);
    for (;;) {
        ssize_t k = getdents64(fd, buf, sizeof(buf));
        if (k <= 0)
            break;
        for (ssize_t off = 0; off < k;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (strncmp(d->d_name, BK_PLACE_TMP_PREFIX, plen) != 0 ||
                (d->d_type == DT_DIR && !tmp_name(d->d_name)))
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                char **v = realloc(names, nc * sizeof(*v));
                if (!v)
                    break;
                names = v;
                cap = nc;
            }
            if ((names[n] = strdup(d->d_name)))
                n++;
        }
    }
    /* a name of the snapshot's own that happens to look temporary stays */
    bk_tree t = { 0 };
    const bk_id *tree = l->idx == SIZE_MAX ? p->o.root_tree : &entry(p, l->idx)->node.subtree;
    bool known = n > 0 && tree && bk_repo_load_tree(p->repo, tree, &t) == 0;
    if (n > 0 && !known)
        bk_repo_clear_error(p->repo);
    for (size_t i = 0; i < n; i++) {
        uint64_t count = 0;
        if (known && !bk_tree_find(&t, names[i], strlen(names[i])) &&
            (tmp_name(names[i]) ? bk_target_remove(fd, names[i], false, &count) == 0 && count
                                : unlinkat(fd, names[i], 0) == 0))
            l->written = true;
        free(names[i]);
    }
    bk_tree_free(&t);
    free(names);
}

/* Make a level ready to receive new entries.  0, or 1 if it cannot (reported; the level
 * is failed), < 0 fatal. */
static int prepare(bk_place *p, size_t k, const char *path)
{
    level *l = &p->lv[k];
    if (l->prepared)
        return 0;
    l->prepared = l->written = true;
    if (!l->existed)
        return 0;
    int fd = level_fd(p, k);
    if (fd < 0) {
        l->failed = true;
        report(p, path, fd, "cannot open its directory: %s", strerror(-fd));
        return 1;
    }
    if (l->flags & BK_FFLAGS_LOCKING) {
        int e = set_flags(fd, l->flags & ~BK_FFLAGS_LOCKING);
        if (e < 0) {
            char d[4096];
            disk_name(p, l, d, sizeof(d));
            l->failed = true;
            report(p, path, e, "cannot write into %s: it is immutable or append-only (%s; "
                   "chattr -i -a it, or restore as root)", d, strerror(-e));
            return 1;
        }
        if (k == 0)
            l->flags_unlocked = true;   /* the target's own: put back at the end */
        else
            l->flags &= ~BK_FFLAGS_LOCKING;   /* the snapshot's are set when it is left */
    }
    if (!p->root && l->st.st_uid == p->euid && (l->st.st_mode & 0300) != 0300 && k > 0) {
        if (fchmod(fd, (l->st.st_mode & 07777) | 0700) == 0)
            l->chmod_needed = true;
    }
    l->default_acl = fgetxattr(fd, ACL_DEFAULT, NULL, 0) > 0;
    remove_leftovers(p, l, fd);
    return 0;
}

/* A failure to make something in level k: a read-only file system stops everything, a
 * directory that cannot be written fails the level (once), anything else only the entry.
 * Returns what the caller returns. */
static int make_failed(bk_place *p, size_t k, const char *path, const char *what, int e)
{
    level *l = &p->lv[k];
    char d[4096];
    disk_name(p, l, d, sizeof(d));
    if (e == -EROFS || (e == -EACCES && k == 0)) {
        /* the target itself cannot be written: one message for the whole restore */
        if (!p->fatal)
            p->fatal = bk_repo_error(p->repo, e, "cannot write into %s: %s", d, strerror(-e));
        return p->fatal;
    }
    if (e == -EACCES) {
        l->failed = true;
        report(p, path, e, "cannot write into %s: %s (nothing more is restored there)", d,
               strerror(-e));
        return 1;
    }
    report(p, path, e, "%s: %s", what, strerror(-e));
    return 1;
}

int bk_place_enter(bk_place *p, size_t i)
{
    if (p->fatal)
        return p->fatal;
    const bk_plan_entry *pe = entry(p, i);
    for (;;) {
        level *t = &p->lv[p->nlv - 1];
        if (p->nlv == 1 || (pe->path_len > t->path_len && pe->path[t->path_len] == '/' &&
                            memcmp(pe->path, level_path(p, t), t->path_len) == 0))
            break;
        leave(p);
    }
    level *t = &p->lv[p->nlv - 1];
    if (t->failed)
        return 1;   /* anywhere below a directory that is not in place: reported for it */
    const char *slash = strrchr(pe->path, '/');
    if (!slash || (size_t)(slash - pe->path) != t->path_len ||
        !bk_name_valid(slash + 1, strlen(slash + 1))) {
        report(p, pe->path, -EINVAL, "not restored: its directory is not in the snapshot");
        return 1;
    }
    int fd = level_fd(p, p->nlv - 1);
    if (fd < 0) {
        t->failed = true;
        report(p, pe->path, fd, "cannot open its directory: %s", strerror(-fd));
        return 1;
    }
    return 0;
}

/* Open what is at name in dirfd as a directory level (it existed). */
static int open_existing_dir(bk_place *p, int dirfd, const char *name, level *l)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &l->st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (get_flags(fd, &l->flags) < 0)
        l->flags = 0;
    l->fd = fd;
    l->existed = true;
    l->new_gid = (l->st.st_mode & S_ISGID) ? l->st.st_gid : p->egid;
    l->setgid = (l->st.st_mode & S_ISGID) != 0;
    return 0;
}

/* Is what plan entry i (a directory) holds small enough to be made hidden: at most
 * HIDE_MAX_ENTRIES entries and HIDE_MAX_BYTES?  A killed restore loses no more than that
 * (the next run removes the hidden directory; what was completed outside it is kept). */
static bool small_subtree(const bk_place *p, size_t i)
{
    const bk_plan_entry *d = entry(p, i);
    uint64_t bytes = 0;
    for (size_t k = i + 1; k < p->plan->n; k++) {
        const bk_plan_entry *e = entry(p, k);
        if (e->path_len <= d->path_len || e->path[d->path_len] != '/' ||
            memcmp(e->path, d->path, d->path_len) != 0)
            break;   /* plan order: what it holds follows it */
        if (k - i > HIDE_MAX_ENTRIES)
            return false;
        if (e->node.type == BK_NODE_FILE && (bytes += e->node.size) > HIDE_MAX_BYTES)
            return false;
    }
    return true;
}

static int make_dir_at(bk_place *p, int dirfd, const char *name, void *ctx)
{
    (void)p;
    const bk_node *n = ctx;
    return mkdirat(dirfd, name, (n->mode & 0777) | 0700) < 0 ? -errno : 0;
}

/* mkdir name in dirfd (level parent) and open it as a new level: it inherits what new
 * entries of parent do.  Writable by its owner until it is left.  In a target that was
 * empty a directory that is not below a hidden one, and holds little (small_subtree), is
 * made hidden, under a temporary name, and what goes into it under final names (nothing
 * of it is at its real path before it is complete). */
static int make_dir(bk_place *p, int dirfd, const char *name, const bk_node *n,
                    const level *parent, level *l)
{
    bool hide = p->o.empty && !parent->hidden && small_subtree(p, l->idx);
    int e = hide ? make_tmp(p, dirfd, l->tmp, make_dir_at, (void *)n)
                 : make_dir_at(p, dirfd, name, (void *)n);
    if (e < 0) {
        l->tmp[0] = 0;
        return e;
    }
    l->hidden = hide || parent->hidden;
    l->new_gid = parent->new_gid;
    l->default_acl = parent->default_acl;
    l->setgid = parent->setgid;   /* (taken to be set, a guess of its mode is not made) */
    l->flags = parent->flags & FFLAGS_INHERITED;
    l->prepared = true;
    l->fd = openat(dirfd, hide ? l->tmp : name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (l->fd >= 0)
        return 0;
    e = -errno;
    if (hide)
        (void)unlinkat(dirfd, l->tmp, AT_REMOVEDIR);
    l->tmp[0] = 0;
    return e;
}

int bk_place_dir(bk_place *p, size_t i)
{
    const bk_plan_entry *pe = entry(p, i);
    const char *name = base_name(pe);
    size_t k = p->nlv - 1;
    level *parent = &p->lv[k];
    int dirfd = level_fd(p, k);
    level l = { .fd = -1, .idx = i, .path_len = pe->path_len };
    int r = 0;
    if (pe->skip) {
        l.failed = true;
        report(p, pe->path, -ENOTDIR, "not restored, nor what is below it: something that is "
               "not a directory is in the way (and is not removed above the snapshot's paths)");
        r = 1;
    } else {
        int e = pe->existed ? open_existing_dir(p, dirfd, name, &l) : -ENOENT;
        bool opened = e != -ENOENT;   /* e is what opening the one there gave */
        if (e == -ENOENT) {
            if ((r = prepare(p, k, pe->path)) != 0)
                goto push;
            dirfd = level_fd(p, k);
            e = make_dir(p, dirfd, name, &pe->node, parent, &l);
            if (e == -EEXIST) {
                e = open_existing_dir(p, dirfd, name, &l);
                opened = true;
            }
        }
        if ((e == -ENOTDIR || e == -ELOOP) && !p->o.fresh) {
            opened = false;
            /* another type in the way (a file, a symlink): replaced, as by tar */
            if ((r = prepare(p, k, pe->path)) != 0)
                goto push;
            dirfd = level_fd(p, k);
            if (unlinkat(dirfd, name, 0) < 0 && errno == EPERM &&
                bk_target_unlock(dirfd, name) == 0)
                (void)unlinkat(dirfd, name, 0);
            e = make_dir(p, dirfd, name, &pe->node, parent, &l);
        }
        if (e < 0) {
            l.failed = true;
            if (e == -ENOTDIR || e == -ELOOP)
                report(p, pe->path, e, "not restored, nor what is below it: something that is "
                       "not a directory is in the way");
            else if (opened)
                report(p, pe->path, e, "cannot open the directory (nothing below it is "
                       "restored): %s", strerror(-e));
            else
                r = make_failed(p, k, pe->path, "cannot create the directory", e);
            if (r == 0)
                r = 1;
        }
    }
push:
    if (r != 0)
        l.failed = true;
    if (l.failed && l.fd >= 0) {
        close(l.fd);
        l.fd = -1;
    }
    int e = push_level(p, &l);
    if (e < 0) {
        if (l.fd >= 0)
            close(l.fd);
        return e;
    }
    return r;
}

/* ---- files ------------------------------------------------------------------------------------ */

static int make_file(bk_place *p, int dirfd, const char *tmp, void *ctx)
{
    const bk_node *n = ctx;
    int fd = openat(dirfd, tmp, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
                                    (p->o.readable ? O_RDWR : O_WRONLY), (n->mode & 0777) | 0600);
    return fd < 0 ? -errno : fd;
}

int bk_place_file_begin(bk_place *p, size_t i, bk_place_file *ret)
{
    const bk_plan_entry *pe = entry(p, i);
    size_t k = p->nlv - 1;
    memset(ret, 0, sizeof(*ret));
    ret->fd = -1;
    int r = prepare(p, k, pe->path);
    if (r != 0)
        return r;
    int dirfd = level_fd(p, k);
    /* in a hidden directory nothing is at the final name, nor can be seen there */
    ret->final = p->lv[k].hidden;
    int fd = ret->final ? make_file(p, dirfd, base_name(pe), (void *)&pe->node)
                        : make_tmp(p, dirfd, ret->tmp, make_file, (void *)&pe->node);
    if (fd < 0) {
        ret->final = false;
        return make_failed(p, k, pe->path, "cannot create", fd);
    }
    ret->p = p;
    ret->idx = i;
    ret->fd = fd;
    ret->dirfd = dirfd;
    uint32_t early = pe->node.fflags & FFLAGS_EARLY;
    if (early) {
        uint32_t cur = 0;
        int e = get_flags(fd, &cur);
        if (e == 0 && (cur | early) != cur)
            e = set_flags(fd, cur | early);
        if (e < 0)
            warn(p, pe->path, "cannot set the file flags", -e);
    }
    return 0;
}

int bk_place_file_write(bk_place_file *f, uint64_t off, const uint8_t *data, size_t len)
{
    size_t bs = f->p->bs, at = 0, n;
    while ((at = bk_place_next_run(data, len, off, bs, at, &n)) < len) {
        size_t done = 0;
        while (done < n) {
            ssize_t k = pwrite(f->fd, data + at + done, n - done, (off_t)(off + at + done));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return -errno;
            if (k == 0)
                return -EIO;
            done += (size_t)k;
        }
        at += n;
        if (off + at > f->end)
            f->end = off + at;
    }
    return 0;
}

void bk_place_file_abort(bk_place_file *f)
{
    if (f->fd < 0)
        return;
    close(f->fd);
    unlinkat(f->dirfd, f->final ? base_name(entry(f->p, f->idx)) : f->tmp, 0);
    f->fd = -1;
}

int bk_place_file_size(bk_place_file *f)
{
    uint64_t size = entry(f->p, f->idx)->node.size;
    if (f->end < size) {
        if (ftruncate(f->fd, (off_t)size) < 0)
            return -errno;
        f->end = size;
    }
    return 0;
}

int bk_place_file_commit(bk_place_file *f)
{
    bk_place *p = f->p;
    const bk_plan_entry *pe = entry(p, f->idx);
    const bk_node *n = &pe->node;
    const level *parent = &p->lv[p->nlv - 1];
    int e = bk_place_file_size(f);
    if (e < 0) {
        report(p, pe->path, e, "cannot write (the old version, if any, is kept): %s",
               strerror(-e));
        bk_place_file_abort(f);
        return 1;
    }
    /* as made: (mode | 0600) & ~umask, unless an inherited default ACL decided */
    int created = -1;
    if (p->umask >= 0 && !parent->default_acl)
        created = (int)(((n->mode & 0777) | 0600) & ~(uint32_t)p->umask);
    meta_fd(p, f->fd, pe, parent, created, NULL);
    set_times_fd(p, f->fd, pe);
    const char *why;
    e = f->final ? 0 : rename_over(f->dirfd, f->tmp, base_name(pe), &why);
    if (e < 0) {
        report(p, pe->path, e, "cannot put in place: %s", why ? why : strerror(-e));
        bk_place_file_abort(f);
        return 1;
    }
    set_fflags(p, f->fd, f->idx, parent->flags & FFLAGS_INHERITED);
    close(f->fd);
    f->fd = -1;
    return 0;
}

/* ---- symlinks, fifos, sockets, devices ------------------------------------------------------ */

static int make_node(bk_place *p, int dirfd, const char *tmp, void *ctx)
{
    (void)p;
    const bk_node *n = ctx;
    mode_t type = 0;
    switch (n->type) {
    case BK_NODE_SYMLINK:
        return symlinkat(n->target, dirfd, tmp) < 0 ? -errno : 0;
    case BK_NODE_FIFO: type = S_IFIFO; break;
    case BK_NODE_SOCKET: type = S_IFSOCK; break;
    case BK_NODE_CHARDEV: type = S_IFCHR; break;
    case BK_NODE_BLOCKDEV: type = S_IFBLK; break;
    default: return -EINVAL;
    }
    dev_t dev = (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV) ? (dev_t)n->rdev : 0;
    return mknodat(dirfd, tmp, type | (n->mode & 0777), dev) < 0 ? -errno : 0;
}

/* xattrs (and ACLs) of something that cannot be opened for reading: through an O_PATH fd
 * and its /proc/self/fd link, which leads to the entry itself, never where a symlink points. */
static void meta_path(bk_place *p, int dirfd, const char *tmp, const bk_plan_entry *pe,
                      const level *parent)
{
    const bk_node *n = &pe->node;
    bool symlink = n->type == BK_NODE_SYMLINK;
    build_acls(p, pe);
    bool acl_drop = parent->default_acl && !symlink && !p->acl_a.len;
    if (!n->nxattrs && !p->acl_a.len && !acl_drop)
        return;
    int fd = openat(dirfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        warn(p, pe->path, "cannot set the extended attributes", errno);
        return;
    }
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    for (size_t i = 0; i < n->nxattrs; i++)
        if (setxattr(link, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) < 0) {
            char what[300];
            snprintf(what, sizeof(what), "cannot set the extended attribute %s", n->xattrs[i].name);
            warn(p, pe->path, what, errno);
        }
    if (p->acl_a.len && setxattr(link, ACL_ACCESS, p->acl_a.data, p->acl_a.len, 0) < 0)
        warn(p, pe->path, "cannot set the ACL", errno);
    else if (acl_drop && removexattr(link, ACL_ACCESS) < 0 && errno != ENODATA)
        warn(p, pe->path, "cannot remove the ACL", errno);
    close(fd);
}

int bk_place_node(bk_place *p, size_t i)
{
    const bk_plan_entry *pe = entry(p, i);
    const bk_node *n = &pe->node;
    size_t k = p->nlv - 1;
    int r = prepare(p, k, pe->path);
    if (r != 0)
        return r;
    int dirfd = level_fd(p, k);
    const level *parent = &p->lv[k];
    char tmp_name[32];
    const char *tmp = parent->hidden ? base_name(pe) : tmp_name;   /* (as for files) */
    int e = parent->hidden ? make_node(p, dirfd, tmp, (void *)n)
                           : make_tmp(p, dirfd, tmp_name, make_node, (void *)n);
    if (e < 0) {
        const char *what = n->type == BK_NODE_SYMLINK ? "cannot create the symlink"
                                                      : "cannot create the node";
        if (e == -EPERM && (n->type == BK_NODE_CHARDEV || n->type == BK_NODE_BLOCKDEV))
            what = "cannot create the device node (only root can)";
        return make_failed(p, k, pe->path, what, e);
    }
    if (p->o.owner) {
        uid_t u;
        gid_t g;
        bk_place_owner(p, n, &u, &g);
        if ((u != p->euid || g != parent->new_gid) &&
            fchownat(dirfd, tmp, u, g, AT_SYMLINK_NOFOLLOW) < 0)
            warn(p, pe->path, "cannot set the owner", errno);
    }
    meta_path(p, dirfd, tmp, pe, parent);
    if (n->type != BK_NODE_SYMLINK && fchmodat(dirfd, tmp, n->mode, 0) < 0)
        warn(p, pe->path, "cannot set the mode", errno);
    struct timespec ts[2] = { { n->mtime, n->mtime_nsec }, { n->mtime, n->mtime_nsec } };
    if (utimensat(dirfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
        warn(p, pe->path, "cannot set the times", errno);
    if (parent->hidden)
        return 0;
    const char *why;
    e = rename_over(dirfd, tmp, base_name(pe), &why);
    if (e < 0) {
        unlinkat(dirfd, tmp, 0);
        report(p, pe->path, e, "cannot put in place: %s", why ? why : strerror(-e));
        return 1;
    }
    return 0;
}

/* ---- hard links --------------------------------------------------------------------------- */

typedef struct link_src {
    int dirfd;                /* the directory of the first name */
    const char *name;
} link_src;

static int make_link(bk_place *p, int dirfd, const char *tmp, void *ctx)
{
    (void)p;
    const link_src *src = ctx;
    return linkat(src->dirfd, src->name, dirfd, tmp, 0) < 0 ? -errno : 0;
}

int bk_place_link(bk_place *p, size_t i, size_t first)
{
    const bk_plan_entry *pe = entry(p, i), *fe = entry(p, first);
    size_t k = p->nlv - 1;
    int r = prepare(p, k, pe->path);
    if (r != 0)
        return r;
    int dirfd = level_fd(p, k);
    /* the directory of the first name: on the stack, or opened beneath the deepest level
     * that holds it (a hidden one has its temporary name, what is below it its own) */
    const char *oname = base_name(fe);
    size_t plen = (size_t)(oname - 1 - fe->path);
    int ofd = -ENOENT, close_fd = -1;
    for (size_t j = p->nlv; j-- > 0;) {
        const level *l = &p->lv[j];
        size_t ll = l->path_len;
        if (ll > plen || (ll < plen && fe->path[ll] != '/') ||
            memcmp(level_path(p, l), fe->path, ll) != 0)
            continue;
        if (l->failed)
            break;
        ofd = level_fd(p, j);
        if (ofd >= 0 && ll < plen) {
            char *rel = strndup(fe->path + ll + 1, plen - ll - 1);
            if (!rel)
                return -ENOMEM;
            ofd = close_fd = bk_target_open(ofd, rel, O_PATH | O_DIRECTORY);
            free(rel);
        }
        break;
    }
    int e = ofd < 0 ? ofd : 0;
    const char *name = base_name(pe);
    if (e == 0 && linkat(ofd, oname, dirfd, name, 0) < 0) {
        e = -errno;
        if (e == -EEXIST) {
            /* something is there: link under a temporary name, rename over it */
            char tmp[32];
            link_src src = { ofd, oname };
            e = make_tmp(p, dirfd, tmp, make_link, &src);
            if (e == 0) {
                const char *why;
                e = rename_over(dirfd, tmp, name, &why);
                if (e < 0) {
                    unlinkat(dirfd, tmp, 0);
                    if (close_fd >= 0)
                        close(close_fd);
                    report(p, pe->path, e, "cannot put in place: %s", why ? why : strerror(-e));
                    return 1;
                }
            }
        }
    }
    if (close_fd >= 0)
        close(close_fd);
    if (e == -ENOENT) {
        report(p, pe->path, e, "cannot link to %s: it was not restored", fe->path);
        return 1;
    }
    if (e < 0)
        return make_failed(p, k, pe->path, "cannot create the hard link", e);
    return 0;
}

/* ---- the end ------------------------------------------------------------------------------- */

int bk_place_open_old(bk_place *p, size_t i)
{
    const bk_plan_entry *pe = entry(p, i);
    int dirfd = level_fd(p, p->nlv - 1);
    if (dirfd < 0)
        return -1;
    int fd = openat(dirfd, base_name(pe), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    return fd;
}

int bk_place_finish(bk_place *p)
{
    while (p->nlv > 1)
        leave(p);
    for (size_t j = 0; j < p->nlate; j++) {
        const bk_plan_entry *pe = entry(p, p->late[j]);
        int fd = bk_target_open(p->tfd, pe->path + 1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
        uint32_t cur = 0;
        int e = fd < 0 ? fd : get_flags(fd, &cur);
        if (e == 0)
            e = set_flags(fd, (cur & ~BK_FFLAGS_KEPT) | (pe->node.fflags & BK_FFLAGS_KEPT));
        if (e < 0)
            warn(p, pe->path, "cannot set the file flags", -e);
        if (fd >= 0)
            close(fd);
    }
    p->nlate = 0;
    level *t = &p->lv[0];
    if (t->flags_unlocked) {
        int e = set_flags(p->tfd, t->flags);
        if (e < 0)
            warn(p, p->o.target ? p->o.target : ".", "cannot set the file flags again", -e);
        t->flags_unlocked = false;
    }
    return p->fatal;
}
