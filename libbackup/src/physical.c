/* physical.c - physical backups of a MariaDB server: mariadb-backup's stream in, a
 * prepared datadir out.
 *
 * backup: `mariadb-backup --backup --stream=xbstream` (uncompressed, so that it
 * deduplicates) is chunked as one file, /mysql-physical/backup.xbstream; xbstream.c follows
 * the stream as it passes, for the binary log position the backup recorded and to tell a
 * whole stream from one cut short.  restore: the file into `mbstream -x -C DIR`, then
 * `mariadb-backup --prepare --target-dir=DIR`. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mysql.h"
#include "proc.h"
#include "restore.h"
#include "util.h"
#include "xbstream.h"

static const char *const backup_names[] = { "mariadb-backup", "mariabackup", NULL };
static const char *const mbstream_names[] = { "mbstream", "xbstream", NULL };

/* A directory of our own under $TMPDIR, removed with what is in it (flat). */
static int tmp_dir(bk_repo *repo, const char *what, char *buf, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, len, "%s/arca-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
    if (!mkdtemp(buf))
        return bk_repo_error(repo, -errno, "cannot make a directory in %s: %s", buf, strerror(errno));
    return 0;
}

static void tmp_dir_remove(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(path);
}

struct stream {
    bk_xbs xbs;
    bk_cdc cdc;
    int bad;   /* not an xbstream: read on, say so after the exit status */
};

static int on_stream(void *ctx, const uint8_t *p, size_t n)
{
    struct stream *s = ctx;
    if (!s->bad)
        s->bad = bk_xbs_feed(&s->xbs, p, n);
    return bk_cdc_write(&s->cdc, p, n);
}

int bk_mysql_physical(bk_repo *repo, const bk_mysql_conf *conf, const bk_chunker *ch, bk_writer *w,
                      void (*tick)(void *), void *tick_ctx, bk_tree *ret, bk_mysql_pos *ret_pos)
{
    memset(ret, 0, sizeof(*ret));
    memset(ret_pos, 0, sizeof(*ret_pos));
    char dir[4096], *target = NULL;
    int r = tmp_dir(repo, "mariadb-backup", dir, sizeof(dir));
    if (r < 0)
        return r;
    char **argv = NULL;
    if (asprintf(&target, "--target-dir=%s", dir) < 0)
        r = -ENOMEM;
    char *args[] = { "--backup", "--stream=xbstream", target };
    if (r == 0)
        r = bk_mysql_argv(repo, conf->backup_command, backup_names, conf->defaults_file, args, 3,
                          &argv);
    free(target);
    bk_proc p;
    bool started = false;
    if (r == 0) {
        r = bk_mysql_start(repo, &p, argv, false, true);
        started = r == 0;
    }
    struct stream s;
    bk_xbs_init(&s.xbs);
    bk_cdc_init(&s.cdc, ch, repo->keys, w);
    s.bad = 0;
    if (started)
        r = bk_mysql_read_output(repo, &p, "the backup stream", on_stream, &s, tick, tick_ctx);
    bk_xbs_pos pos;
    bool has_pos = false;
    if (started) {
        char how[128];
        bk_proc_end(&p, r < 0, how, sizeof(how));
        const char *err;
        int elen;
        bk_proc_last_error(&p, &err, &elen);
        int end = r == 0 && !how[0] ? (s.bad ? s.bad : bk_xbs_finish(&s.xbs, &pos, &has_pos)) : 0;
        if (r == 0 && how[0])
            r = bk_repo_error(repo, -EIO, "the physical backup failed: %s %s%s%.*s", argv[0], how,
                              elen ? ": " : "", elen, err);
        else if (end == -EPIPE)
            r = bk_repo_error(repo, -EPIPE, "the backup stream of %s was cut short (a chunk or "
                              "a file not ended)", argv[0]);
        else if (end == -EPROTO)
            r = bk_repo_error(repo, -EBADMSG, "the binary log position in the backup stream of "
                              "%s is malformed: '%.200s'", argv[0], s.xbs.info);
        else if (end < 0)
            r = bk_repo_error(repo, end, "what %s wrote is not an xbstream (at byte %llu, in "
                              "chunk %llu)", argv[0], (unsigned long long)s.xbs.err_at,
                              (unsigned long long)s.xbs.chunks + 1);
        else if (r < 0 && bk_repo_errcode(repo) == 0)
            r = bk_repo_error(repo, r, "the physical backup failed: %s", strerror(-r));
    }
    bk_xbs_free(&s.xbs);
    bk_node n;
    memset(&n, 0, sizeof(n));
    if (r == 0)
        r = bk_node_made_file(&n, BK_PHYSICAL_FILE, (uint32_t)ch->avg);
    if (r == 0)
        r = bk_cdc_finish(&s.cdc, &n);
    if (r == 0)
        r = bk_tree_push(ret, &n);
    bk_node_clear(&n);
    bk_cdc_free(&s.cdc);
    if (r == 0 && has_pos) {
        ret_pos->binlog_file = strdup(pos.file);
        ret_pos->binlog_pos = pos.pos;
        ret_pos->gtid = pos.gtid[0] ? strdup(pos.gtid) : NULL;
        if (!ret_pos->binlog_file || (pos.gtid[0] && !ret_pos->gtid))
            r = -ENOMEM;
    }
    bk_mysql_argv_free(argv);
    tmp_dir_remove(dir);
    if (r < 0) {
        bk_tree_free(ret);
        bk_mysql_pos_free(ret_pos);
    }
    return r;
}

/* ---- restore ---------------------------------------------------------------------------- */

/* The target: a new directory, or an empty one (a datadir is never restored over another) */
static int make_target(bk_repo *repo, const char *dir)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return bk_repo_error(repo, -errno, "cannot make %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return bk_repo_error(repo, -errno, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        return bk_repo_error(repo, -EEXIST, "%s is not empty: a physical backup is restored "
                             "into a new or empty directory", dir);
    return 0;
}

/* run argv (stdout to nothing), or feed it the snapshot's stream on stdin */
static int run_tool(bk_repo *repo, char **argv, const bk_snapshot *feed, const char *what)
{
    bk_proc p;
    int r = bk_mysql_start(repo, &p, argv, feed != NULL, false);
    if (r < 0)
        return r;
    int fr = 0;
    if (feed) {
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, &old);
        fr = bk_dump(repo, feed, "/" BK_PHYSICAL_DIR "/" BK_PHYSICAL_FILE, p.in);
        sigaction(SIGPIPE, &old, NULL);
    }
    char how[128];
    bool failed = bk_proc_end(&p, false, how, sizeof(how));
    const char *err;
    int elen;
    bk_proc_last_error(&p, &err, &elen);
    if (failed)
        return bk_repo_error(repo, -EIO, "%s failed: %s %s%s%.*s", what, argv[0], how,
                             elen ? ": " : "", elen, err);
    if (fr < 0)
        return fr;   /* (the repository's message) */
    return 0;
}

int bk_mysql_physical_restore(bk_repo *repo, const bk_snapshot *snap, const char *dir,
                              const bk_mysql_target *t)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "restore --mysql-physical");
    bk_node n;
    int r = bk_repo_find_node(repo, &snap->tree, "/" BK_PHYSICAL_DIR "/" BK_PHYSICAL_FILE, &n);
    bool is_file = r == 0 && n.type == BK_NODE_FILE;
    bk_node_clear(&n);
    if (r == -ENOENT || (r == 0 && !is_file))
        return bk_repo_error(repo, -ENOENT, "the snapshot holds no physical backup (/%s/%s)",
                             BK_PHYSICAL_DIR, BK_PHYSICAL_FILE);
    if (r < 0)
        return r;
    if ((r = make_target(repo, dir)) < 0)
        return r;
    char *c = NULL, *td = NULL;
    if (asprintf(&c, "--directory=%s", dir) < 0)
        c = NULL;
    if (asprintf(&td, "--target-dir=%s", dir) < 0)
        td = NULL;
    char *xargs[] = { "-x", c };
    char *pargs[] = { "--prepare", td };
    char **xargv = NULL, **pargv = NULL;
    r = c && td ? 0 : -ENOMEM;
    if (r == 0)
        r = bk_mysql_argv(repo, NULL, mbstream_names, NULL, xargs, 2, &xargv);
    if (r == 0)
        r = bk_mysql_argv(repo, t->backup_command, backup_names, t->defaults_file, pargs, 2, &pargv);
    if (r == 0)
        r = run_tool(repo, xargv, snap, "the extraction");
    if (r == 0)
        r = run_tool(repo, pargv, NULL, "the prepare");
    if (r < 0 && bk_repo_errcode(repo) == 0)
        r = bk_repo_error(repo, r, "the restore into %s failed: %s", dir, strerror(-r));
    bk_mysql_argv_free(xargv);
    bk_mysql_argv_free(pargv);
    free(c);
    free(td);
    return r;
}
