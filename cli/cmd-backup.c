/* cmd-backup.c - arca backup: save paths or a stream as a new snapshot. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { O_TAG = 1, O_HOST, O_EXCLUDE, O_EXCLUDE_FILE, O_PARENT, O_FORCE, O_TIME, O_STDIN,
       O_STDIN_NAME, O_CHUNK_AVG, O_MYSQL, O_DATABASES, O_MYSQL_DEFAULTS, O_MYSQL_DUMP,
       O_MYSQL_CLIENT, O_MYSQL_BINLOGS, O_FLUSH, O_MYSQL_PHYSICAL, O_MYSQL_BACKUP };

static const struct option opts[] = {
    { "tag", required_argument, NULL, O_TAG },
    { "host", required_argument, NULL, O_HOST },
    { "exclude", required_argument, NULL, O_EXCLUDE },
    { "exclude-file", required_argument, NULL, O_EXCLUDE_FILE },
    { "one-file-system", no_argument, NULL, 'x' },
    { "parent", required_argument, NULL, O_PARENT },
    { "force", no_argument, NULL, O_FORCE },
    { "time", required_argument, NULL, O_TIME },
    { "dry-run", no_argument, NULL, 'n' },
    { "stdin", no_argument, NULL, O_STDIN },
    { "stdin-name", required_argument, NULL, O_STDIN_NAME },
    { "chunk-size-avg", required_argument, NULL, O_CHUNK_AVG },
    { "mysql", no_argument, NULL, O_MYSQL },
    { "databases", required_argument, NULL, O_DATABASES },
    { "mysql-defaults-file", required_argument, NULL, O_MYSQL_DEFAULTS },
    { "mysql-dump-command", required_argument, NULL, O_MYSQL_DUMP },
    { "mysql-client-command", required_argument, NULL, O_MYSQL_CLIENT },
    { "mysql-binlogs", no_argument, NULL, O_MYSQL_BINLOGS },
    { "flush", no_argument, NULL, O_FLUSH },
    { "mysql-physical", no_argument, NULL, O_MYSQL_PHYSICAL },
    { "mysql-backup-command", required_argument, NULL, O_MYSQL_BACKUP },
    { 0 },
};

struct backup_opts {
    bk_backup *b;
    bool stdin_mode, mysql, mysql_options, dump_options, binlogs, flush, physical, backup_command;
    const char *stdin_name;
    bool dry_run;
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct backup_opts *o = ctx;
    bk_backup *b = o->b;
    int r = 0;
    switch (opt) {
    case O_TAG: {
        /* "a,b" adds two tags */
        char *copy = strdup(arg), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save))
            r = bk_backup_set_str(b, BK_BACKUP_TAG, t);
        free(copy);
        break;
    }
    case O_HOST: c->run_host = arg; r = bk_backup_set_str(b, BK_BACKUP_HOST, arg); break;
    case O_EXCLUDE: r = bk_backup_set_str(b, BK_BACKUP_EXCLUDE, arg); break;
    case O_EXCLUDE_FILE:
        r = bk_backup_set_str(b, BK_BACKUP_EXCLUDE_FILE, arg);
        if (r < 0) {
            cli_err(c, "cannot read exclude file %s: %s", arg, strerror(-r));
            return EXIT_USAGE;
        }
        break;
    case 'x': r = bk_backup_set_int(b, BK_BACKUP_ONE_FILE_SYSTEM, 1); break;
    case O_PARENT: r = bk_backup_set_str(b, BK_BACKUP_PARENT, arg); break;
    case O_FORCE: r = bk_backup_set_int(b, BK_BACKUP_NO_PARENT, 1); break;
    case O_TIME: {
        int64_t t;
        int32_t ns, tz;
        if (bk_parse_time(arg, &t, &ns, &tz) < 0)
            return cli_usage(c, "--time: expected \"YYYY-MM-DD HH:MM:SS\" or RFC 3339, got '%s'", arg);
        bk_backup_set_int(b, BK_BACKUP_TIME, t);
        bk_backup_set_int(b, BK_BACKUP_TIME_NSEC, ns);
        r = bk_backup_set_int(b, BK_BACKUP_TZ_OFFSET, tz);
        break;
    }
    case 'n': o->dry_run = true; r = bk_backup_set_int(b, BK_BACKUP_DRY_RUN, 1); break;
    case O_STDIN: o->stdin_mode = true; break;
    case O_MYSQL: o->mysql = true; r = bk_backup_set_int(b, BK_BACKUP_MYSQL, 1); break;
    case O_DATABASES:
        o->mysql_options = o->dump_options = true;
        r = bk_backup_set_str(b, BK_BACKUP_MYSQL_DATABASE, arg);
        break;
    case O_MYSQL_DEFAULTS:
        o->mysql_options = true;
        r = bk_backup_set_str(b, BK_BACKUP_MYSQL_DEFAULTS_FILE, arg);
        break;
    case O_MYSQL_DUMP:
        o->mysql_options = o->dump_options = true;
        r = bk_backup_set_str(b, BK_BACKUP_MYSQL_DUMP_COMMAND, arg);
        break;
    case O_MYSQL_CLIENT:
        o->mysql_options = o->dump_options = true;
        r = bk_backup_set_str(b, BK_BACKUP_MYSQL_CLIENT_COMMAND, arg);
        break;
    case O_STDIN_NAME: o->stdin_name = arg; break;
    case O_MYSQL_BINLOGS: o->binlogs = true; r = bk_backup_set_int(b, BK_BACKUP_MYSQL_BINLOGS, 1); break;
    case O_FLUSH: o->flush = true; r = bk_backup_set_int(b, BK_BACKUP_MYSQL_FLUSH, 1); break;
    case O_MYSQL_PHYSICAL:
        o->physical = true;
        r = bk_backup_set_int(b, BK_BACKUP_MYSQL_PHYSICAL, 1);
        break;
    case O_MYSQL_BACKUP:
        o->backup_command = true;
        r = bk_backup_set_str(b, BK_BACKUP_MYSQL_BACKUP_COMMAND, arg);
        break;
    case O_CHUNK_AVG: {
        uint64_t v;
        if (cli_parse_size(arg, &v) < 0 || bk_backup_set_int(b, BK_BACKUP_CHUNK_AVG, (int64_t)v) < 0)
            return cli_usage(c, "--chunk-size-avg: expected a power of two from 256 to 8M, got '%s'", arg);
        return 0;
    }
    default:
        return cli_usage(c, "unknown option");
    }
    if (r < 0) {
        cli_err(c, "%s", strerror(-r));
        return EXIT_FATAL;
    }
    return 0;
}

static void print_summary(cli *c, const bk_snapshot *s, bool dry_run)
{
    const bk_summary *m = &s->summary;
    char added[32], total[32], dur[32];
    cli_format_bytes(m->bytes_added, added, sizeof(added));
    cli_format_bytes(m->total_bytes, total, sizeof(total));
    cli_format_duration(m->duration, dur, sizeof(dur));
    cli_info(c, "Files: %llu new, %llu changed, %llu unchanged\n",
             (unsigned long long)m->files_new, (unsigned long long)m->files_changed,
             (unsigned long long)m->files_unchanged);
    cli_info(c, "Dirs:  %llu new, %llu changed, %llu unchanged\n",
             (unsigned long long)m->dirs_new, (unsigned long long)m->dirs_changed,
             (unsigned long long)m->dirs_unchanged);
    cli_info(c, "%s %s to the repository (%llu %s, %s processed in %s)\n",
             dry_run ? "Would add" : "Added", added, (unsigned long long)m->total_files,
             cli_plural(m->total_files, "file", "files"), total, dur);
    if (!dry_run) {
        char id[BK_ID_HEX];
        bk_id_hex(&s->id, id);
        cli_info(c, "snapshot %.8s saved\n", id);
    }
}

/* The paths label of the metrics (and the log's summary): as given, made absolute where
 * they exist, the same whether the run succeeds or fails. */
static void run_paths(cli *c, const struct backup_opts *o, int n, char **v)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return;
    if (o->stdin_mode || o->stdin_name)
        fputs(o->stdin_name ? o->stdin_name : "stdin", f);
    for (int i = 0; i < n; i++) {
        char *abs = realpath(v[i], NULL);
        fprintf(f, "%s%s", i ? "," : "", abs ? abs : v[i]);
        free(abs);
    }
    if (o->mysql)
        fprintf(f, "%s/mysql", n ? "," : "");
    if (fclose(f) == 0) {
        free(c->run_paths);
        c->run_paths = out;
    } else {
        free(out);
    }
}

static int run(cli *c, int argc, char **argv)
{
    bk_backup *b = NULL;
    if (bk_backup_new(&b) < 0)
        return EXIT_FATAL;
    struct backup_opts o = { .b = b };
    int first;
    int e = cli_parse(c, argc, argv, "xn", opts, on_opt, &o, &first);
    if (e == 0 && (o.stdin_mode || o.stdin_name)) {
        if (first < argc) {
            e = cli_usage(c, "--stdin takes no paths");
        } else {
            bk_backup_set_str(b, BK_BACKUP_STDIN_NAME, o.stdin_name ? o.stdin_name : "stdin");
            bk_backup_set_int(b, BK_BACKUP_STDIN_FD, STDIN_FILENO);
        }
    } else if (e == 0 && (o.binlogs || o.physical) && (first < argc || o.mysql ||
                                                        (o.binlogs && o.physical))) {
        e = cli_usage(c, "%s makes a snapshot of its own: no paths, --mysql or other with it",
                      o.binlogs ? "--mysql-binlogs" : "--mysql-physical");
    } else if (e == 0 && first >= argc && !o.mysql && !o.binlogs && !o.physical) {
        e = cli_usage(c, "give the paths to back up (or --stdin, --mysql, --mysql-binlogs or "
                      "--mysql-physical)");
    }
    if (e == 0 && o.flush && !o.binlogs)
        e = cli_usage(c, "--flush goes with --mysql-binlogs");
    if (e == 0 && o.mysql_options && !o.mysql && !o.binlogs && !o.physical)
        e = cli_usage(c, "--databases and --mysql-* options go with --mysql");
    if (e == 0 && o.backup_command && !o.physical)
        e = cli_usage(c, "--mysql-backup-command goes with --mysql-physical");
    if (e == 0 && o.physical && o.dump_options)
        e = cli_usage(c, "--mysql-physical backs up the whole server: no --databases, "
                      "--mysql-dump-command or --mysql-client-command");
    for (int i = first; e == 0 && i < argc; i++)
        bk_backup_set_str(b, BK_BACKUP_PATH, argv[i]);
    if (e == 0)
        run_paths(c, &o, argc - first, argv + first);
    /* a prune's final step holds the exclusive lock briefly: wait for it, do not fail */
    cli_default_lock_wait(c, 10 * 60 * 1000);
    if (e == 0)
        e = cli_open(c, o.dry_run ? 0 : 1);
    if (e) {
        bk_backup_free(b);
        return e;
    }
    bk_backup_set_progress(b, cli_progress, c);
    bk_backup_set_item_error(b, cli_item_error, c);
    bk_snapshot *snap = NULL;
    int r = bk_backup_run(b, c->repo, &snap);
    bk_backup_free(b);
    cli_progress_done(c);
    if (r == -EALREADY && o.binlogs) {   /* nothing new: nothing added, and it says so */
        if (c->json)
            cli_json_print(json_pack("{s:n, s:n, s:b, s:b, s:s}", "snapshot_id", "short_id",
                                     "dry_run", o.dry_run, "changed", 0, "message",
                                     bk_repo_errmsg(c->repo)));
        else
            cli_info(c, "%s: nothing to archive\n", bk_repo_errmsg(c->repo));
        return EXIT_OK;
    }
    if (r < 0)
        return cli_fail(c, r);
    if (c->json) {
        char id[BK_ID_HEX];
        bk_id_hex(&snap->id, id);
        json_t *j = json_object();
        json_object_set_new(j, "snapshot_id", o.dry_run ? json_null() : json_string(id));
        json_object_set_new(j, "short_id", o.dry_run ? json_null() : json_stringn(id, 8));
        json_object_set_new(j, "dry_run", json_boolean(o.dry_run));
        json_object_set_new(j, "changed", json_boolean(!o.dry_run));
        json_object_set_new(j, "summary", cli_summary_json(&snap->summary));
        cli_json_print(j);
    } else {
        print_summary(c, snap, o.dry_run);
    }
    const bk_summary *m = &snap->summary;
    cli_figure(c, "files", (double)m->total_files);
    cli_figure(c, "bytes_added", (double)m->bytes_added);
    cli_figure(c, "errors", (double)m->errors);
    int rc = m->errors || m->files_changed_while_read ? EXIT_PARTIAL : EXIT_OK;
    if (m->errors)
        cli_err(c, "%llu %s not be read (see above); the snapshot holds the rest",
                (unsigned long long)m->errors, cli_plural(m->errors, "entry could", "entries could"));
    if (m->files_changed_while_read)
        cli_err(c, "%llu %s read (see above): the snapshot holds what was read",
                (unsigned long long)m->files_changed_while_read,
                cli_plural(m->files_changed_while_read, "file changed while it was",
                           "files changed while they were"));
    bk_snapshot_free(snap);
    return rc;
}

const command cmd_backup = {
    "backup", run, "backup [options] [PATH...] [--mysql] | backup --stdin [--stdin-name NAME] |\n"
    "       backup --mysql-binlogs [--flush] [--mysql-defaults-file F] |\n"
    "       backup --mysql-physical [--mysql-defaults-file F]",
    "Save files and directories (or a stream from standard input) as a new snapshot.\n"
    "Files unchanged since the parent snapshot (same host and paths) are not read again.\n\n"
    "Options:\n"
    "      --tag TAG              tag the snapshot (repeat, or a,b)\n"
    "      --host HOST            host name to record (default: this host)\n"
    "      --exclude PATTERN      skip matching entries (repeat): 'name-glob',\n"
    "                             '/absolute/glob', 'relative/glob'\n"
    "      --exclude-file FILE    patterns from FILE, one per line, # comments\n"
    "  -x, --one-file-system      do not cross into other file systems\n"
    "      --parent SNAPSHOT      compare with this snapshot instead of the latest\n"
    "      --force                read every file (no parent)\n"
    "      --time TIME            snapshot time (\"2024-01-31 23:00:00\" or RFC 3339)\n"
    "  -n, --dry-run              read and chunk, but write nothing\n"
    "      --stdin                back up standard input as one file\n"
    "      --stdin-name NAME      its name in the snapshot (default stdin), e.g. /db/x.sql\n"
    "      --chunk-size-avg SIZE  average chunk size for streams and dumps (power of 2,\n"
    "                             e.g. 64K; default 8K, the dump profile)\n"
    "      --mysql                dump MySQL/MariaDB databases into /mysql/<db>.sql, all from\n"
    "                             one transaction (with paths too, if given)\n"
    "      --databases A,B        which databases (default: all but the system schemas)\n"
    "      --mysql-defaults-file F  client option file with user, password, socket\n"
    "      --mysql-dump-command CMD  instead of mariadb-dump/mysqldump (a shell command)\n"
    "      --mysql-client-command CMD  instead of mariadb/mysql, to list databases\n"
    "      --mysql-binlogs        archive the binary logs the server closed since the last\n"
    "                             archived one, into /mysql-binlog/ (fetched with\n"
    "                             mariadb-binlog); nothing new: no snapshot\n"
    "      --flush                with --mysql-binlogs: rotate first (FLUSH BINARY LOGS), so\n"
    "                             that the log being written is archived too\n"
    "      --mysql-physical       a physical backup of the server on this host (mariadb-backup's\n"
    "                             xbstream) into /mysql-physical/backup.xbstream\n"
    "      --mysql-backup-command CMD  instead of mariadb-backup (a shell command)\n\n"
    "Exit status 3: the snapshot was saved, but some entries could not be read, or some\n"
    "files changed while they were read.\n",
    .opts = opts,
};
