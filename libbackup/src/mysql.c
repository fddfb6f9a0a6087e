/* mysql.c - database dumps in, database dumps out.
 *
 * One mariadb-dump run with --single-transaction dumps every selected database from the
 * same InnoDB snapshot; sqlsplit.c cuts its output into a file per database.  The run
 * fails - and no snapshot is written - when the dump program cannot start, exits
 * non-zero, is killed, or its output ends without the footer it always writes. */
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "binlog.h"
#include "snapshot.h"
#include "fetcher.h"
#include "mysql.h"
#include "restore.h"
#include "proc.h"
#include "sqlsplit.h"
#include "util.h"

/* flags that make dumps consistent and stable from night to night (docs/mysql.md) */
static const char *const dump_flags[] = {
    "--single-transaction", "--quick", "--routines", "--events", "--triggers", "--hex-blob",
    "--skip-dump-date", "--skip-comments", "--order-by-primary", NULL,
};

static const char *const system_schemas[] = {
    "information_schema", "performance_schema", "mysql", "sys", NULL,
};

void bk_mysql_conf_free(bk_mysql_conf *c)
{
    free(c->defaults_file);
    free(c->dump_command);
    free(c->client_command);
    free(c->backup_command);
    bk_strv_free(c->databases, c->ndatabases);
    memset(c, 0, sizeof(*c));
}

/* (mysql.h)  MariaDB's programs take --defaults-file only as their first option. */
int bk_mysql_argv(bk_repo *repo, const char *command, const char *const *names,
                  const char *defaults_file, char **args, size_t nargs, char ***ret)
{
    char **v = NULL;
    size_t n = 0;
    int r = 0;
    if (command) {
        char *script = malloc(strlen(command) + 16);
        if (!script)
            return -ENOMEM;
        sprintf(script, "exec %s \"$@\"", command);
        r = bk_strv_push(&v, &n, "/bin/sh");
        if (r == 0) r = bk_strv_push(&v, &n, "-c");
        if (r == 0) r = bk_strv_push(&v, &n, script);
        if (r == 0) r = bk_strv_push(&v, &n, "sh");
        free(script);
    } else {
        const char *found = NULL;
        for (const char *const *p = names; *p && !found; p++)
            if (bk_have_program(*p))
                found = *p;
        if (!found)
            return bk_repo_error(repo, -ENOENT, "neither %s nor %s is installed (install "
                                 "%s, or give the command)", names[0], names[1],
                                 strcmp(names[0], "mariadb-backup") == 0 ||
                                 strcmp(names[0], "mbstream") == 0 ? "mariadb-backup"
                                                                   : "mariadb-client");
        r = bk_strv_push(&v, &n, found);
    }
    if (r == 0 && defaults_file) {
        char *opt = malloc(strlen(defaults_file) + 20);
        if (!opt)
            r = -ENOMEM;
        else {
            sprintf(opt, "--defaults-file=%s", defaults_file);
            r = bk_strv_push(&v, &n, opt);
            free(opt);
        }
    }
    for (size_t i = 0; r == 0 && i < nargs; i++)
        r = bk_strv_push(&v, &n, args[i]);
    char **nv = r == 0 ? realloc(v, (n + 1) * sizeof(char *)) : NULL;
    if (!nv) {
        bk_strv_free(v, n);
        return r < 0 ? r : -ENOMEM;
    }
    nv[n] = NULL;
    *ret = nv;
    return 0;
}

void bk_mysql_argv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static const char *const client_names[] = { "mariadb", "mysql", NULL };
static const char *const dump_names[] = { "mariadb-dump", "mysqldump", NULL };

/* Run the client with --execute=sql; its output into out.  0, or -EIO (with what it said,
 * for what, on the handle). */
static int client_query(bk_repo *repo, const bk_mysql_conf *conf, const char *sql, const char *what,
                        bk_buf *out)
{
    char *q = NULL;
    if (asprintf(&q, "--execute=%s", sql) < 0)
        return -ENOMEM;
    char *args[] = { "--batch", "--skip-column-names", q };
    char **argv;
    int r = bk_mysql_argv(repo, conf->client_command, client_names, conf->defaults_file, args, 3, &argv);
    free(q);
    if (r < 0)
        return r;
    bk_proc p;
    r = bk_mysql_start(repo, &p, argv, false, true);
    if (r < 0) {
        bk_mysql_argv_free(argv);
        return r;
    }
    char buf[4096];
    for (;;) {
        ssize_t k = read(p.out, buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || bk_buf_append(out, buf, (size_t)k) < 0)
            break;
    }
    char how[128];
    if (bk_proc_end(&p, false, how, sizeof(how)))
        r = bk_repo_error(repo, -EIO, "cannot %s: %s %s: %s", what, argv[0], how, bk_proc_stderr(&p));
    bk_mysql_argv_free(argv);
    return r;
}

/* Does the server write a binary log, and is it MariaDB?  Then the dump records its
 * position in it (--master-data=2 --gtid: MariaDB takes it from the dump's own consistent
 * snapshot, with no global lock and no RELOAD privilege; MySQL's mysqldump would take a
 * global read lock, so it is left alone).  Unknown (the query failed): no. */
static bool binlog_positions(bk_repo *repo, const bk_mysql_conf *conf)
{
    bk_buf out = BK_BUF_INIT;
    int r = client_query(repo, conf, "SELECT @@log_bin, VERSION()", "ask the server", &out);
    bool yes = r == 0 && out.len > 2 && out.data[0] == '1' && out.data[1] == '\t' &&
               memmem(out.data, out.len, "MariaDB", 7) != NULL;
    if (r < 0)
        bk_repo_clear_error(repo);   /* the dump says what is wrong, if anything is */
    bk_buf_free(&out);
    return yes;
}

/* The first column of each line of a client's --batch output (none for empty ones),
 * without those of skip (may be NULL). */
static int first_column(const bk_buf *out, const char *const *skip, char ***ret, size_t *ret_n)
{
    char **v = NULL;
    size_t n = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < out->len;) {
        size_t e = i, t;
        while (e < out->len && out->data[e] != '\n')
            e++;
        for (t = i; t < e && out->data[t] != '\t'; t++)
            ;
        char *name = t > i ? strndup((char *)out->data + i, t - i) : NULL;
        bool skipped = false;
        for (const char *const *s = skip; name && s && *s; s++)
            skipped |= strcmp(name, *s) == 0;
        r = t > i && !name ? -ENOMEM : name && !skipped ? bk_strv_push(&v, &n, name) : 0;
        free(name);
        i = e + 1;
    }
    if (r < 0) {
        bk_strv_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static int list_databases(bk_repo *repo, const bk_mysql_conf *conf, char ***ret, size_t *ret_n)
{
    bk_buf out = BK_BUF_INIT;
    int r = client_query(repo, conf, "SHOW DATABASES", "list the databases", &out);
    if (r == 0) {
        char **v = NULL;
        size_t n = 0;
        r = first_column(&out, system_schemas, &v, &n);
        if (r == 0 && n == 0)
            r = bk_repo_error(repo, -ENOENT, "the server has no databases to back up (system "
                              "schemas are left out unless named with --databases)");
        if (r == 0) {
            *ret = v;
            *ret_n = n;
        } else {
            bk_strv_free(v, n);
        }
    }
    bk_buf_free(&out);
    return r;
}

/* ---- dump ------------------------------------------------------------------------------- */

typedef struct dump_ctx {
    bk_repo *repo;
    const bk_chunker *ch;
    bk_writer *w;
    char **names;                /* one cdc per database, in first-seen order */
    bk_cdc *cdcs;
    size_t n;
    void (*tick)(void *);
    void *tick_ctx;
} dump_ctx;

static bk_cdc *cdc_for(dump_ctx *d, const char *db)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->names[i], db) == 0)
            return &d->cdcs[i];
    bk_cdc *v = realloc(d->cdcs, (d->n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    d->cdcs = v;
    size_t n = d->n;
    if (bk_strv_push(&d->names, &n, db) < 0)
        return NULL;
    bk_cdc_init(&d->cdcs[d->n], d->ch, d->repo->keys, d->w);
    return &d->cdcs[d->n++];
}

static int on_data(void *ctx, const char *db, const uint8_t *p, size_t n)
{
    dump_ctx *d = ctx;
    bk_cdc *c = cdc_for(d, db);
    return c ? bk_cdc_write(c, p, n) : -ENOMEM;
}

static int on_section_end(void *ctx, const char *db)
{
    /* cut here and free the buffer: only one database's buffer is ever held */
    dump_ctx *d = ctx;
    bk_cdc *c = cdc_for(d, db);
    return c ? bk_cdc_flush(c) : -ENOMEM;
}

int bk_mysql_start(bk_repo *repo, bk_proc *p, char *const argv[], bool want_in, bool want_out)
{
    int r = bk_proc_start(p, argv, want_in, want_out);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot run %s: %s", argv[0], strerror(-r));
    return 0;
}

int bk_mysql_read_output(bk_repo *repo, bk_proc *p, const char *what,
                         int (*fn)(void *ctx, const uint8_t *p, size_t n), void *ctx,
                         void (*tick)(void *), void *tick_ctx)
{
    uint8_t *buf = malloc(1 << 20);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    while (r == 0) {
        ssize_t k = read(p->out, buf, 1 << 20);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = bk_repo_error(repo, -errno, "cannot read %s: %s", what, strerror(errno));
            break;
        }
        if (k == 0)
            break;
        r = fn(ctx, buf, (size_t)k);
        if (r == 0)
            r = bk_repo_check_interrupt(repo);
        if (tick)
            tick(tick_ctx);
    }
    free(buf);
    return r;
}

static int split_feed(void *ctx, const uint8_t *p, size_t n)
{
    return bk_sqlsplit_feed(ctx, p, n);
}

int bk_mysql_dump(bk_repo *repo, const bk_mysql_conf *conf, const bk_chunker *ch, bk_writer *w,
                  void (*tick)(void *), void *tick_ctx, bk_tree *ret, bk_mysql_pos *ret_pos)
{
    memset(ret, 0, sizeof(*ret));
    memset(ret_pos, 0, sizeof(*ret_pos));
    char **dbs = NULL;
    size_t ndbs = 0;
    int r = 0;
    if (conf->ndatabases) {
        r = bk_strv_dup(conf->databases, conf->ndatabases, &dbs);
        ndbs = r == 0 ? conf->ndatabases : 0;
    } else {
        r = list_databases(repo, conf, &dbs, &ndbs);
    }
    if (r < 0)
        return r;

    size_t nflags = 0;
    while (dump_flags[nflags])
        nflags++;
    char **args = calloc(nflags + 3 + ndbs, sizeof(char *));
    char **argv = NULL;
    if (!args)
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < nflags; i++)
        args[i] = (char *)dump_flags[i];
    if (r == 0 && binlog_positions(repo, conf)) {
        args[nflags++] = "--master-data=2";
        args[nflags++] = "--gtid";
    }
    if (r == 0) {
        args[nflags] = "--databases";
        for (size_t i = 0; i < ndbs; i++)
            args[nflags + 1 + i] = dbs[i];
        r = bk_mysql_argv(repo, conf->dump_command, dump_names, conf->defaults_file, args,
                      nflags + 1 + ndbs, &argv);
    }
    free(args);
    bk_proc p;
    bool started = false;
    if (r == 0) {
        r = bk_mysql_start(repo, &p, argv, false, true);
        started = r == 0;
    }
    dump_ctx d = { repo, ch, w, NULL, NULL, 0, tick, tick_ctx };
    static const bk_sqlsplit_ops ops = { on_data, on_section_end };
    bk_sqlsplit split;
    bk_sqlsplit_init(&split, &ops, &d);
    if (started)
        r = bk_mysql_read_output(repo, &p, "the dump", split_feed, &split, tick, tick_ctx);
    int split_end = r == 0 && started ? bk_sqlsplit_finish(&split) : 0;
    if (started) {
        char how[128];
        bk_proc_end(&p, r < 0, how, sizeof(how));
        const char *err = bk_proc_stderr(&p);
        if (r == 0 && how[0])
            r = bk_repo_error(repo, -EIO, "the dump failed: %s %s%s%s", argv[0], how,
                              *err ? ": " : "", err);
        else if (r == 0 && split_end == -EPIPE)
            r = bk_repo_error(repo, -EPIPE, "the dump was cut short (no closing statements); %s%s",
                              *err ? "dump program said: " : "", err);
        else if (r == 0 && split_end < 0)
            r = bk_repo_error(repo, split_end, "the dump's output is not what %s writes", argv[0]);
        else if (r < 0 && bk_repo_errcode(repo) == 0)
            r = bk_repo_error(repo, r, "the dump failed: %s%s%s", strerror(-r), *err ? ": " : "", err);
    }
    if (r == 0) {   /* (taken over from the splitter) */
        ret_pos->binlog_file = split.binlog_file;
        ret_pos->binlog_pos = split.binlog_pos;
        ret_pos->gtid = split.gtid;
        split.binlog_file = split.gtid = NULL;
    }
    for (size_t i = 0; r == 0 && i < d.n; i++) {
        bk_node n;
        memset(&n, 0, sizeof(n));
        char *name = bk_mysql_file_name(d.names[i]);
        r = name ? bk_node_made_file(&n, name, (uint32_t)ch->avg) : -ENOMEM;
        free(name);
        if (r == 0)
            r = bk_cdc_finish(&d.cdcs[i], &n);
        if (r == 0)
            r = bk_tree_push(ret, &n);
        bk_node_clear(&n);
    }
    for (size_t i = 0; i < d.n; i++)
        bk_cdc_free(&d.cdcs[i]);
    free(d.cdcs);
    bk_strv_free(d.names, d.n);
    bk_sqlsplit_free(&split);
    bk_mysql_argv_free(argv);
    bk_strv_free(dbs, ndbs);
    if (r < 0) {
        bk_tree_free(ret);
        bk_mysql_pos_free(ret_pos);
    }
    return r;
}

void bk_mysql_pos_free(bk_mysql_pos *p)
{
    free(p->binlog_file);
    free(p->gtid);
    memset(p, 0, sizeof(*p));
}

/* ---- restore ---------------------------------------------------------------------------- */

static int load_one(bk_repo *repo, const bk_node *file, const char *db, const bk_mysql_target *t,
                    char *msg, size_t msglen)
{
    char **argv;
    int r = bk_mysql_argv(repo, t->client_command, client_names, t->defaults_file, NULL, 0, &argv);
    if (r < 0) {
        snprintf(msg, msglen, "%s", bk_repo_errmsg(repo));
        return r;
    }
    bk_proc p;
    r = bk_proc_start(&p, argv, true, false);
    if (r < 0) {
        snprintf(msg, msglen, "cannot run %s: %s", argv[0], strerror(-r));
        bk_mysql_argv_free(argv);
        return r;
    }
    bk_fetcher *f = NULL;
    r = bk_fetcher_new(repo, &f);
    if (r == 0)
        r = bk_fetcher_plan(f, file->content, file->ncontent, NULL);
    if (r == 0)
        r = bk_fetcher_start(f);
    int write_err = 0;
    for (size_t i = 0; r == 0 && i < file->ncontent; i++) {
        const bk_content *c = &file->content[i];
        if (c->hole) {
            static const uint8_t zeros[4096];
            for (uint32_t left = c->len; left > 0 && !write_err;) {
                uint32_t k = BK_MIN(left, (uint32_t)sizeof(zeros));
                write_err = bk_write_full(p.in, zeros, k);
                left -= k;
            }
            continue;
        }
        const uint8_t *data;
        size_t len;
        r = bk_fetcher_get(f, &c->id, &data, &len);
        if (r == 0 && !write_err)
            write_err = bk_write_full(p.in, data, len);
        bk_fetcher_release(f, &c->id);
        if (r < 0)
            bk_fetcher_skip(f, file->content, file->ncontent, i + 1, NULL);
    }
    bk_fetcher_free(f);
    char how[128];
    bk_proc_end(&p, false, how, sizeof(how));
    if (r < 0)
        snprintf(msg, msglen, "%s", bk_repo_errmsg(repo));
    else if (how[0] || write_err)
        snprintf(msg, msglen, "%s %s: %s", argv[0], how[0] ? how : "stopped reading",
                 bk_proc_stderr(&p));
    else
        snprintf(msg, msglen, "loaded");
    if (r == 0 && (how[0] || write_err))
        r = -EIO;
    bk_mysql_argv_free(argv);
    (void)db;
    return r;
}

int bk_mysql_restore(bk_repo *repo, const bk_snapshot *snap, const bk_mysql_target *t,
                     bk_mysql_report_fn report, void *userdata)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "restore --mysql");
    bk_node dir;
    int r = bk_repo_find_node(repo, &snap->tree, "/" BK_MYSQL_DIR, &dir);
    if (r == -ENOENT || (r == 0 && dir.type != BK_NODE_DIR)) {
        bk_node_clear(&dir);
        return bk_repo_error(repo, -ENOENT, "the snapshot holds no database dumps (/%s)", BK_MYSQL_DIR);
    }
    if (r < 0)
        return r;
    bk_tree files;
    r = bk_repo_load_tree(repo, &dir.subtree, &files);
    bk_node_clear(&dir);
    if (r < 0)
        return r;
    /* every requested database must be there before anything is loaded */
    for (size_t i = 0; r == 0 && i < t->ndatabases; i++) {
        char *name = bk_mysql_file_name(t->databases[i]);
        if (!name)
            r = -ENOMEM;
        else if (!bk_tree_find(&files, name, strlen(name)))
            r = bk_repo_error(repo, -ENOENT, "the snapshot has no dump of database %s", t->databases[i]);
        free(name);
    }
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);   /* a client that dies must not kill us */
    int first_err = 0;
    size_t loaded = 0;
    for (size_t i = 0; r == 0 && i < files.n; i++) {
        bk_node *n = &files.nodes[i];
        char *db = n->type == BK_NODE_FILE ? bk_mysql_db_name(n->name) : NULL;
        bool want = db && t->ndatabases == 0;
        for (size_t j = 0; db && j < t->ndatabases; j++)
            want |= strcmp(db, t->databases[j]) == 0;
        if (want) {
            char msg[BK_PROC_ERR_MAX + 256];
            /* a dump's pieces in list blobs: loaded for this dump, and let go after it */
            int e = bk_repo_node_load_content(repo, n);
            if (e < 0)
                snprintf(msg, sizeof(msg), "%s", bk_repo_errmsg(repo));
            else
                e = load_one(repo, n, db, t, msg, sizeof(msg));
            if (n->nlists) {
                free(n->content);
                n->content = NULL;
                n->ncontent = 0;
            }
            bk_repo_clear_error(repo);
            if (report)
                report(db, e, msg, userdata);
            if (e < 0 && !first_err) {
                first_err = e;
                bk_repo_error(repo, e, "database %s: %s", db, msg);
            }
            loaded += e == 0;
        }
        free(db);
    }
    sigaction(SIGPIPE, &old, NULL);
    bk_tree_free(&files);
    if (r < 0)
        return r;
    if (first_err)
        return first_err;
    return loaded ? 0 : bk_repo_error(repo, -ENOENT, "the snapshot holds no database dumps");
}

/* ---- binary logs --------------------------------------------------------------------------- */

static const char *const binlog_names[] = { "mariadb-binlog", "mysqlbinlog", NULL };

void bk_binlogs_free(bk_binlog *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].first_gtid);
        free(v[i].last_gtid);
    }
    free(v);
}

static int binlog_copy(const bk_binlog *s, bk_binlog *d)
{
    *d = *s;
    d->name = strdup(s->name);
    d->first_gtid = s->first_gtid ? strdup(s->first_gtid) : NULL;
    d->last_gtid = s->last_gtid ? strdup(s->last_gtid) : NULL;
    if (!d->name || (s->first_gtid && !d->first_gtid) || (s->last_gtid && !d->last_gtid)) {
        free(d->name);
        free(d->first_gtid);
        free(d->last_gtid);
        memset(d, 0, sizeof(*d));
        return -ENOMEM;
    }
    return 0;
}

int bk_binlogs_dup(const bk_binlog *v, size_t n, bk_binlog **ret)
{
    *ret = NULL;
    if (n == 0)
        return 0;
    bk_binlog *d = calloc(n, sizeof(*d));
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (binlog_copy(&v[i], &d[i]) < 0) {
            bk_binlogs_free(d, i);
            return -ENOMEM;
        }
    *ret = d;
    return 0;
}

/* "binlog.000042" -> 42 and the length of "binlog."; -1 if it has no such number. */
static long long binlog_number(const char *name, size_t *ret_stem)
{
    const char *dot = strrchr(name, '.');
    if (!dot || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1))
        return -1;
    *ret_stem = (size_t)(dot + 1 - name);
    return strtoll(dot + 1, NULL, 10);
}

/* Fetch one closed log into dir, describe it, chunk it into a file node. */
static int fetch_binlog(bk_repo *repo, const bk_mysql_conf *conf, const char *dir, const char *name,
                        const bk_chunker *ch, bk_writer *w, bk_node *ret_node, bk_binlog *ret_info)
{
    char *rf = NULL, *path = NULL;
    if (asprintf(&rf, "--result-file=%s/", dir) < 0 || asprintf(&path, "%s/%s", dir, name) < 0) {
        free(rf);
        return -ENOMEM;
    }
    char *args[] = { "--read-from-remote-server", "--raw", rf, (char *)name };
    char **argv = NULL;
    int r = bk_mysql_argv(repo, NULL, binlog_names, conf->defaults_file, args, 4, &argv);
    free(rf);
    bk_proc p;
    if (r == 0)
        r = bk_mysql_start(repo, &p, argv, false, true);
    if (r == 0) {
        char buf[4096];
        while (read(p.out, buf, sizeof(buf)) > 0)
            ;
        char how[128];
        if (bk_proc_end(&p, false, how, sizeof(how)))
            r = bk_repo_error(repo, -EIO, "cannot fetch the binary log %s: %s %s: %s", name,
                              argv[0], how, bk_proc_stderr(&p));
    }
    if (argv)
        bk_mysql_argv_free(argv);
    int fd = r == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (r == 0 && (fd < 0 || fstat(fd, &st) < 0))
        r = bk_repo_error(repo, -errno, "cannot read the fetched binary log %s: %s", name, strerror(errno));
    uint8_t *map = NULL;
    if (r == 0 && st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            r = bk_repo_error(repo, -errno, "cannot map the binary log %s: %s", name, strerror(errno));
        }
    }
    bk_binlog_info info;
    if (r == 0 && bk_binlog_scan(map, (size_t)st.st_size, &info) < 0)
        r = bk_repo_error(repo, -EBADMSG, "%s, as %s gave it, is not a binary log", name, binlog_names[0]);
    if (r == 0 && !info.closed)
        r = bk_repo_error(repo, -EAGAIN, "the binary log %s does not end with a rotation: it is "
                          "still being written, not archived", name);
    if (map)
        munmap(map, (size_t)st.st_size);
    bk_cdc cdc;
    bk_cdc_init(&cdc, ch, repo->keys, w);
    int io_err = 0;
    if (r == 0 && lseek(fd, 0, SEEK_SET) == 0) {
        r = bk_cdc_read_file(&cdc, fd, (uint64_t)st.st_size, &io_err);
        if (r == 1)
            r = bk_repo_error(repo, -io_err, "cannot read the fetched binary log %s: %s", name,
                              strerror(io_err));
    }
    memset(ret_node, 0, sizeof(*ret_node));
    if (r == 0 && (r = bk_node_made_file(ret_node, name, 0)) == 0)   /* (the file profile, ch) */
        ret_node->mtime = ret_node->ctime = info.last_time;
    if (r == 0)
        r = bk_cdc_finish(&cdc, ret_node);
    bk_cdc_free(&cdc);
    if (fd >= 0)
        close(fd);
    unlink(path);
    free(path);
    if (r == 0) {
        bk_binlog b = { (char *)name, (uint64_t)st.st_size, info.first_time, info.last_time,
                        info.first_gtid[0] ? info.first_gtid : NULL,
                        info.last_gtid[0] ? info.last_gtid : NULL };
        r = binlog_copy(&b, ret_info);
    }
    if (r < 0)
        bk_node_clear(ret_node);
    return r;
}

int bk_mysql_binlogs(bk_repo *repo, const bk_mysql_conf *conf, bool flush, const bk_tree *archived,
                     const bk_binlog *known, size_t nknown, const bk_chunker *ch, bk_writer *w,
                     bk_tree *ret, bk_binlog **ret_list, size_t *ret_n, char **ret_gap)
{
    memset(ret, 0, sizeof(*ret));
    *ret_list = NULL;
    *ret_n = 0;
    *ret_gap = NULL;
    bk_buf out = BK_BUF_INIT;
    int r = flush ? client_query(repo, conf, "FLUSH BINARY LOGS", "rotate the binary log", &out) : 0;
    out.len = 0;
    if (r == 0)
        r = client_query(repo, conf, "SHOW BINARY LOGS", "list the binary logs", &out);
    char **names = NULL;
    size_t nnames = 0;
    if (r == 0)
        r = first_column(&out, NULL, &names, &nnames);
    bk_buf_free(&out);
    if (r == 0 && nnames == 0)
        r = bk_repo_error(repo, -ENOENT, "the server keeps no binary log (log_bin is off): "
                          "nothing to archive");
    /* what the last archive has: its files, and the highest number among them */
    long long last = -1;
    size_t stem = 0;
    const char *last_name = NULL;
    for (size_t i = 0; archived && i < archived->n; i++) {
        size_t s;
        long long k = binlog_number(archived->nodes[i].name, &s);
        if (k > last) {
            last = k;
            stem = s;
            last_name = archived->nodes[i].name;
        }
    }
    /* the current log (the last listed) is still being written */
    size_t closed = nnames ? nnames - 1 : 0, nnew = 0;
    for (size_t i = 0; r == 0 && i < closed; i++)
        nnew += !(archived && bk_tree_find(archived, names[i], strlen(names[i])));
    if (r == 0 && nnew == 0)
        r = bk_repo_error(repo, -EALREADY, "no binary log was closed since the last archived one "
                          "(%s; the server writes %s)", last_name ? last_name : "none",
                          nnames ? names[nnames - 1] : "none");
    /* a gap: logs between the last archived one and the oldest the server has */
    size_t s0;
    long long oldest = r == 0 ? binlog_number(names[0], &s0) : -1;
    if (r == 0 && last >= 0 && oldest > last + 1 && s0 == stem &&
        asprintf(ret_gap, "%.*s%06lld..%.*s%06lld", (int)stem, names[0], last + 1, (int)stem,
                 names[0], oldest - 1) < 0)
        r = -ENOMEM;
    char tmpl[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpl, sizeof(tmpl), "%s/arca-binlog-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    bool made = r == 0 && mkdtemp(tmpl) != NULL;
    if (r == 0 && !made)
        r = bk_repo_error(repo, -errno, "cannot make a directory in %s: %s", tmpl, strerror(errno));
    bk_binlog *list = calloc(nknown + nnew + 1, sizeof(*list));
    size_t nlist = 0;
    if (r == 0 && !list)
        r = -ENOMEM;
    /* the archive: what it had (with what was known of it), then the new ones in order */
    for (size_t i = 0; r == 0 && archived && i < archived->n; i++) {
        bk_node n;
        if ((r = bk_node_copy(&archived->nodes[i], &n)) < 0)
            break;
        r = bk_tree_push(ret, &n);
        bk_node_clear(&n);
        for (size_t k = 0; r == 0 && k < nknown; k++)
            if (strcmp(known[k].name, archived->nodes[i].name) == 0)
                r = binlog_copy(&known[k], &list[nlist++]);
    }
    for (size_t i = 0; r == 0 && i < closed; i++) {
        if (archived && bk_tree_find(archived, names[i], strlen(names[i])))
            continue;
        bk_node n;
        r = fetch_binlog(repo, conf, tmpl, names[i], ch, w, &n, &list[nlist]);
        if (r == 0) {
            nlist++;
            r = bk_tree_push(ret, &n);
        }
        bk_node_clear(&n);
        if (r == 0)
            r = bk_repo_check_interrupt(repo);
    }
    if (made)
        rmdir(tmpl);
    bk_strv_free(names, nnames);
    if (r == 0)
        r = bk_tree_sort(ret);
    if (r < 0) {
        bk_tree_free(ret);
        bk_binlogs_free(list, nlist);
        free(*ret_gap);
        *ret_gap = NULL;
        return r;
    }
    *ret_list = list;
    *ret_n = nlist;
    return 0;
}

/* ---- to a point in time ------------------------------------------------------------------- */

void bk_mysql_pitr_free(bk_mysql_pitr *p)
{
    bk_snapshot_free(p->dump);
    bk_snapshot_free(p->archive);
    bk_strv_free(p->binlogs, p->nbinlogs);
    free(p->until_gtid);
    free(p->stop_gtid);
    memset(p, 0, sizeof(*p));
}

static bool has_path(const bk_snapshot *s, const char *path)
{
    for (size_t i = 0; i < s->npaths; i++)
        if (strcmp(s->paths[i], path) == 0)
            return true;
    return false;
}

/* "domain-server-seq" */
static bool gtid_parse(const char *s, size_t len, uint32_t *domain, uint32_t *server, uint64_t *seq)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    unsigned long long d, sv, n;
    int used = 0;
    if (sscanf(buf, "%llu-%llu-%llu%n", &d, &sv, &n, &used) != 3 || (size_t)used != len ||
        strspn(buf, "0123456789-") != len || d > UINT32_MAX || sv > UINT32_MAX)
        return false;
    *domain = (uint32_t)d;
    *server = (uint32_t)sv;
    *seq = n;
    return true;
}

bool bk_mysql_gtid_valid(const char *gtid)
{
    uint32_t d, s;
    uint64_t n;
    return gtid_parse(gtid, strlen(gtid), &d, &s, &n) && n > 0;
}

/* the sequence number of domain in a GTID position ("0-1-5,1-2-77"); 0 if it has none */
static uint64_t gtid_seq_in(const char *list, uint32_t domain)
{
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        uint32_t d, s;
        uint64_t n;
        if (gtid_parse(p, len, &d, &s, &n) && d == domain)
            return n;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* does the full backup come before the stop (a time, or a GTID of domain d, seq q)? */
static bool before_stop(const bk_snapshot *s, int64_t until, bool by_gtid, uint32_t d, uint64_t q)
{
    return by_gtid ? gtid_seq_in(s->mysql_gtid, d) < q : s->time < until;
}

int bk_mysql_pitr_plan(bk_repo *repo, const bk_filter *filter, const bk_snapshot *base,
                       int64_t until, const char *until_gtid, bk_mysql_pitr *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "restore --mysql --until");
    uint32_t gd = 0, gs = 0;
    uint64_t gq = 0;
    bool by_gtid = until_gtid != NULL;
    if (by_gtid && (!gtid_parse(until_gtid, strlen(until_gtid), &gd, &gs, &gq) || gq == 0))
        return bk_repo_error(repo, -EINVAL, "invalid GTID %s (expected domain-server-sequence, "
                             "e.g. 0-1-1234)", until_gtid);
    bk_snapshot **v;
    size_t n;
    int r = bk_snapshots_list(repo, filter, &v, &n);
    if (r < 0)
        return r;
    /* the newest full backup before until with a position; the newest archive (it holds
     * every log archived before it too) */
    const bk_snapshot *dump = base, *arch = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!base && v[i]->mysql_binlog_file && has_path(v[i], "/" BK_MYSQL_DIR) &&
            before_stop(v[i], until, by_gtid, gd, gq))
            dump = v[i];
        if (v[i]->nbinlogs && has_path(v[i], "/" BK_BINLOG_DIR))
            arch = v[i];
    }
    char when[128], id[BK_ID_HEX];
    if (by_gtid)
        snprintf(when, sizeof(when), "GTID %s", until_gtid);
    else
        bk_time_format(until, 0, 0, when);
    bool physical = base && has_path(base, "/" BK_PHYSICAL_DIR);
    if (base)
        bk_id_hex(&base->id, id);
    if (!dump)
        r = bk_repo_error(repo, -ENOENT, "no --mysql backup with a binary log position was made "
                          "before %s", when);
    else if (base && !physical && !has_path(base, "/" BK_MYSQL_DIR))
        r = bk_repo_error(repo, -ENOENT, "snapshot %.8s is no full backup of a database server "
                          "(--mysql or --mysql-physical)", id);
    else if (base && !base->mysql_binlog_file)
        r = bk_repo_error(repo, -ENOENT, "snapshot %.8s recorded no binary log position (the "
                          "server kept no binary log)", id);
    else if (base && !before_stop(base, until, by_gtid, gd, gq))
        r = bk_repo_error(repo, -ENOENT, "snapshot %.8s was made after %s", id, when);
    else if (!arch)
        r = bk_repo_error(repo, -ENOENT, "no binary logs are archived (backup --mysql-binlogs)");
    size_t at = 0;
    if (r == 0) {
        while (at < arch->nbinlogs && strcmp(arch->binlogs[at].name, dump->mysql_binlog_file) != 0)
            at++;
        if (at == arch->nbinlogs)
            r = bk_repo_error(repo, -ENOENT, "the binary log %s, where the backup of %.19s stands, "
                              "is not archived", dump->mysql_binlog_file, when);
    }
    /* from there, each next log while the one before ended before until; no gaps */
    for (size_t i = at; r == 0 && i < arch->nbinlogs; i++) {
        const bk_binlog *b = &arch->binlogs[i];
        if (i > at) {
            size_t s0, s1;
            long long k0 = binlog_number(arch->binlogs[i - 1].name, &s0);
            long long k1 = binlog_number(b->name, &s1);
            if (k1 != k0 + 1 || s0 != s1)
                r = bk_repo_error(repo, -ENOENT, "binary logs between %s and %s are not archived "
                                  "(purged before they were): no replay across them",
                                  arch->binlogs[i - 1].name, b->name);
        }
        if (r == 0)
            r = bk_strv_push(&ret->binlogs, &ret->nbinlogs, b->name);
        uint32_t ld = 0, ls;
        uint64_t lq = 0;
        bool reaches = by_gtid ? b->last_gtid && gtid_parse(b->last_gtid, strlen(b->last_gtid),
                                                            &ld, &ls, &lq) && ld == gd && lq + 1 >= gq
                               : b->last_time >= until;
        if (r == 0 && reaches)
            break;   /* it reaches until */
        if (r == 0 && i + 1 == arch->nbinlogs)
            r = bk_repo_error(repo, -ENOENT, "the archived binary logs end at %s (%s): archive "
                              "the newer ones (backup --mysql-binlogs --flush) for a restore to %s",
                              b->name, by_gtid ? "its last transaction" : b->last_time ?
                              "its last event" : "no event", when);
    }
    if (r == 0 && (r = bk_snapshot_dup(dump, &ret->dump)) == 0)
        r = bk_snapshot_dup(arch, &ret->archive);
    if (r == 0) {
        ret->physical = physical;
        ret->start_pos = dump->mysql_binlog_pos;
        ret->until = by_gtid ? 0 : until;
        /* up to the transaction before the GTID (mariadb-binlog's stop is inclusive); none
         * when the backup is just before it */
        ret->nothing = by_gtid && gtid_seq_in(dump->mysql_gtid, gd) + 1 == gq;
        if (by_gtid && ((ret->until_gtid = strdup(until_gtid)) == NULL ||
                        asprintf(&ret->stop_gtid, "%u-%u-%llu", gd, gs,
                                 (unsigned long long)(gq - 1)) < 0))
            r = -ENOMEM;
    }
    bk_snapshots_free(v, n);   /* (dump, unless it is base, and arch were in it) */
    if (r < 0)
        bk_mysql_pitr_free(ret);
    return r;
}

/* mariadb-binlog [--database=db] --start-position=P --stop-datetime=T files... | client */
static int replay(bk_repo *repo, const bk_mysql_pitr *plan, const bk_mysql_target *t,
                  const char *dir, const char *db, char *msg, size_t msglen)
{
    char start[64], stop[64], dbopt[300];
    struct tm tm;
    time_t u = (time_t)plan->until;
    localtime_r(&u, &tm);   /* as mariadb-binlog reads it */
    snprintf(start, sizeof(start), "--start-position=%llu", (unsigned long long)plan->start_pos);
    if (plan->stop_gtid)
        snprintf(stop, sizeof(stop), "--stop-position=%s", plan->stop_gtid);
    else
        strftime(stop, sizeof(stop), "--stop-datetime=%Y-%m-%d %H:%M:%S", &tm);
    snprintf(dbopt, sizeof(dbopt), "--database=%s", db ? db : "");
    size_t na = 0;
    char **args = calloc(plan->nbinlogs + 4, sizeof(char *));
    char **paths = calloc(plan->nbinlogs, sizeof(char *));
    int r = args && paths ? 0 : -ENOMEM;
    if (r == 0) {
        args[na++] = start;
        args[na++] = stop;
        if (db)
            args[na++] = dbopt;
    }
    for (size_t i = 0; r == 0 && i < plan->nbinlogs; i++) {
        if (asprintf(&paths[i], "%s/%s", dir, plan->binlogs[i]) < 0) {
            paths[i] = NULL;
            r = -ENOMEM;
        } else {
            args[na++] = paths[i];
        }
    }
    char **bargv = NULL, **cargv = NULL;
    if (r == 0)
        r = bk_mysql_argv(repo, NULL, binlog_names, NULL, args, na, &bargv);
    if (r == 0)
        r = bk_mysql_argv(repo, t->client_command, client_names, t->defaults_file, NULL, 0, &cargv);
    bk_proc bp, cp;
    bool b_on = false, c_on = false;
    if (r == 0 && (r = bk_proc_start(&cp, cargv, true, false)) == 0)
        c_on = true;
    if (r == 0 && (r = bk_proc_start(&bp, bargv, false, true)) == 0)
        b_on = true;
    if (r < 0)
        snprintf(msg, msglen, "cannot start the replay: %s", strerror(-r));
    uint8_t *buf = r == 0 ? malloc(1 << 16) : NULL;
    while (r == 0 && buf) {
        ssize_t k = read(bp.out, buf, 1 << 16);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (bk_write_full(cp.in, buf, (size_t)k) < 0) {
            r = -EPIPE;   /* the client died: its message says why */
            break;
        }
    }
    free(buf);
    char how_b[128] = "", how_c[128] = "";
    if (b_on)
        bk_proc_end(&bp, r < 0, how_b, sizeof(how_b));
    if (c_on)
        bk_proc_end(&cp, false, how_c, sizeof(how_c));
    if (how_b[0]) {
        snprintf(msg, msglen, "%s %s: %s", bargv[0], how_b, bk_proc_stderr(&bp));
        r = -EIO;
    } else if (how_c[0] || r < 0) {
        if (c_on)
            snprintf(msg, msglen, "%s %s: %s", cargv[0], how_c[0] ? how_c : "stopped reading",
                     bk_proc_stderr(&cp));
        r = r < 0 ? r : -EIO;
    }
    bk_mysql_argv_free(bargv);
    bk_mysql_argv_free(cargv);
    for (size_t i = 0; paths && i < plan->nbinlogs; i++)
        free(paths[i]);
    free(paths);
    free(args);
    return r;
}

int bk_mysql_pitr_run(bk_repo *repo, const bk_mysql_pitr *plan, const bk_mysql_target *t,
                      bk_mysql_report_fn report, void *userdata)
{
    if (bk_repo_backup_only(repo))
        return bk_repo_need_full_key(repo, "restore --mysql --until");
    /* the logs first, into a directory of our own: a log that cannot be read stops the
     * restore before anything is loaded */
    char dir[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/arca-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return bk_repo_error(repo, -errno, "cannot make a directory in %s: %s", dir, strerror(errno));
    int r = 0;
    for (size_t i = 0; r == 0 && i < plan->nbinlogs; i++) {
        char *path = NULL, *in = NULL;
        if (asprintf(&path, "%s/%s", dir, plan->binlogs[i]) < 0 ||
            asprintf(&in, "/" BK_BINLOG_DIR "/%s", plan->binlogs[i]) < 0) {
            free(path);
            r = -ENOMEM;
            break;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            r = bk_repo_error(repo, -errno, "cannot write %s: %s", path, strerror(errno));
        else
            r = bk_dump(repo, plan->archive, in, fd);
        if (fd >= 0 && close(fd) < 0 && r == 0)
            r = bk_repo_error(repo, -errno, "cannot write %s: %s", path, strerror(errno));
        free(path);
        free(in);
    }
    /* the databases replayed: those asked for, else those the dump holds (the events of
     * others would meet tables the restore did not make) */
    char **dbs = NULL;
    size_t ndbs = 0;
    for (size_t i = 0; r == 0 && i < t->ndatabases; i++)
        r = bk_strv_push(&dbs, &ndbs, t->databases[i]);
    if (r == 0 && t->ndatabases == 0 && !plan->physical) {
        bk_node mdir;
        bk_tree files = { 0 };
        r = bk_repo_find_node(repo, &plan->dump->tree, "/" BK_MYSQL_DIR, &mdir);
        if (r == 0)
            r = mdir.type == BK_NODE_DIR ? bk_repo_load_tree(repo, &mdir.subtree, &files) : -ENOENT;
        bk_node_clear(&mdir);
        for (size_t i = 0; r == 0 && i < files.n; i++) {
            char *db = bk_mysql_db_name(files.nodes[i].name);
            r = db ? bk_strv_push(&dbs, &ndbs, db) : 0;
            free(db);
        }
        bk_tree_free(&files);
    }
    if (r == 0 && !plan->physical)
        r = bk_mysql_restore(repo, plan->dump, t, report, userdata);
    if (r == 0 && plan->physical && ndbs == 0)
        r = bk_strv_push(&dbs, &ndbs, "");   /* every database, in one replay */
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    for (size_t k = 0; r == 0 && !plan->nothing && k < ndbs; k++) {
        char msg[BK_PROC_ERR_MAX + 512] = "";
        const char *db = dbs[k][0] ? dbs[k] : NULL;
        int e = replay(repo, plan, t, dir, db, msg, sizeof(msg));
        if (e < 0 && report)
            report(db ? db : "binary logs", e, msg, userdata);
        if (e < 0)
            r = bk_repo_error(repo, e, "the replay of the binary logs%s%s failed: %s",
                              db ? " for " : "", db ? db : "", msg);
    }
    sigaction(SIGPIPE, &old, NULL);
    bk_strv_free(dbs, ndbs);
    for (size_t i = 0; i < plan->nbinlogs; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, plan->binlogs[i]) >= 0)
            unlink(path);
        free(path);
    }
    rmdir(dir);
    return r;
}
