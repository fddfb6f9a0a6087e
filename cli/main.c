/* main.c - arca: the command table, global options, opening the repository, exit codes. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"

extern const command cmd_init, cmd_backup, cmd_snapshots, cmd_ls, cmd_diff, cmd_restore,
    cmd_dump, cmd_forget, cmd_prune, cmd_check, cmd_key, cmd_stats, cmd_unlock, cmd_cat,
    cmd_repair, cmd_version, cmd_completion, cmd_status, cmd_copy;

const command *const commands[] = {
    &cmd_init, &cmd_backup, &cmd_snapshots, &cmd_ls, &cmd_diff, &cmd_restore, &cmd_dump,
    &cmd_copy, &cmd_forget, &cmd_prune, &cmd_check, &cmd_status, &cmd_repair, &cmd_key, &cmd_stats, &cmd_unlock,
    &cmd_cat, &cmd_version, &cmd_completion, NULL,
};

enum {
    OPT_PASSWORD_FILE = 1000,
    OPT_NEW_PASSWORD_FILE,
    OPT_CACHE_DIR,
    OPT_NO_CACHE,
    OPT_NO_LOCK,
    OPT_CEPH_CONF,
    OPT_CEPH_ID,
    OPT_CEPH_NAME,
    OPT_KEYRING,
    OPT_CEPH_TIMEOUT,
    OPT_CEPH_INFLIGHT,
    OPT_DATA_POOL,
    OPT_JSON,
    OPT_RETRY_LOCK,
    OPT_THREADS,
    OPT_VERSION,
    OPT_METRICS_FILE,
    OPT_LOG_FORMAT,
    OPT_CEPH_SNAP,
};

static const struct option global_opts[] = {
    { "repo", required_argument, NULL, 'r' },
    { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
    { "new-password-file", required_argument, NULL, OPT_NEW_PASSWORD_FILE },
    { "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
    { "no-cache", no_argument, NULL, OPT_NO_CACHE },
    { "no-lock", no_argument, NULL, OPT_NO_LOCK },
    { "ceph-conf", required_argument, NULL, OPT_CEPH_CONF },
    { "ceph-id", required_argument, NULL, OPT_CEPH_ID },
    { "ceph-name", required_argument, NULL, OPT_CEPH_NAME },
    { "keyring", required_argument, NULL, OPT_KEYRING },
    { "ceph-timeout", required_argument, NULL, OPT_CEPH_TIMEOUT },
    { "ceph-inflight", required_argument, NULL, OPT_CEPH_INFLIGHT },
    { "data-pool", required_argument, NULL, OPT_DATA_POOL },
    { "ceph-snap", required_argument, NULL, OPT_CEPH_SNAP },
    { "json", no_argument, NULL, OPT_JSON },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "retry-lock", required_argument, NULL, OPT_RETRY_LOCK },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, OPT_VERSION },
    { "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { 0 },
};
#define GLOBAL_SHORT "r:qvh"
const struct option *const cli_global_opts = global_opts;
const char *const cli_global_short = GLOBAL_SHORT;

static const char global_help[] =
    "Global options (before or after the command):\n"
    "  -r, --repo REPO            repository: a directory, or rados:POOL[/NAMESPACE]\n"
    "                             (default: $ARCA_REPOSITORY)\n"
    "      --password-file FILE   read the passphrase from FILE ($ARCA_PASSWORD_FILE);\n"
    "                             or $ARCA_PASSWORD_COMMAND, or a prompt on a terminal\n"
    "      --new-password-file F  the new passphrase for key add, key passwd (init\n"
    "                             takes its passphrase like every command)\n"
    "                             ($ARCA_NEW_PASSWORD_FILE)\n"
    "      --cache-dir DIR        local cache of index, snapshot and tree objects\n"
    "                             ($ARCA_CACHE_DIR, else $XDG_CACHE_HOME/arca)\n"
    "      --no-cache             do not use the local cache\n"
    "      --no-lock              restore, dump, check: take no lock (a read-only cephx\n"
    "                             user; a prune running meanwhile may make them fail)\n"
    "      --ceph-conf FILE       ceph.conf ($CEPH_CONF); $CEPH_ARGS is honoured\n"
    "      --ceph-id ID           cephx user (without client.), --ceph-name NAME the full name\n"
    "      --keyring FILE         cephx keyring\n"
    "      --ceph-timeout SEC     limit for every cluster operation (default 30)\n"
    "      --ceph-inflight N      concurrent RADOS writes (default 8)\n"
    "      --data-pool POOL       pool for pack objects (e.g. erasure coded)\n"
    "      --ceph-snap NAME       read the repository as of RADOS pool snapshot NAME\n"
    "                             (snapshots, ls, diff, restore, dump, check, cat, stats,\n"
    "                             status; read-only, no cache)\n"
    "      --json                 machine-readable output\n"
    "  -q, --quiet                only errors\n"
    "  -v, --verbose              more output (repeat for more)\n"
    "      --retry-lock DURATION  wait up to DURATION for a lock (30s, 5m)\n"
    "      --threads N            worker threads (default: CPUs)\n"
    "      --metrics-file PATH    backup, copy, forget, prune, check: update node_exporter\n"
    "                             textfile metrics in PATH ($ARCA_METRICS_FILE)\n"
    "      --log-format FORMAT    text (default) or json: one JSON object per line on\n"
    "                             stderr, and a summary at the end ($ARCA_LOG_FORMAT)\n"
    "  -h, --help                 help\n";

static void usage_all(FILE *f)
{
    fprintf(f, "usage: arca [global options] COMMAND [options] [arguments]\n\n"
               "Encrypted, deduplicated backups into Ceph RADOS or a local directory.\n\n"
               "Commands:\n");
    for (const command *const *cmd = commands; *cmd; cmd++)
        fprintf(f, "  %s\n", (*cmd)->synopsis);
    fprintf(f, "  help [COMMAND]\n\n%s\n"
               "Exit status: 0 ok, 1 error, 2 usage, 3 backup with unreadable files,\n"
               "10 no repository, 11 locked, 12 wrong passphrase, 13 a backup-only key;\n"
               "status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.  See arca(1).\n",
            global_help);
}

static const command *find_command(const char *name)
{
    for (const command *const *cmd = commands; *cmd; cmd++)
        if (strcmp((*cmd)->name, name) == 0)
            return *cmd;
    return NULL;
}

static void command_help(const command *cmd, FILE *f)
{
    fprintf(f, "usage: arca %s\n\n%s\n%s", cmd->synopsis, cmd->help, global_help);
}

/* ---- messages ------------------------------------------------------------------------------ */

static const char *level_name(bk_log_level l)
{
    return l == BK_LOG_ERROR ? "error" : l == BK_LOG_WARNING ? "warning" : l == BK_LOG_INFO ? "info" : "debug";
}

/* --log-format json: a line of JSON for Filebeat (jansson escapes; invalid UTF-8 from a
 * snapshot's names becomes escaped text first, so that the line stays valid JSON). */
static void json_line(cli *c, const char *level, const char *msg, json_t *extra)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    char *safe = NULL;
    size_t safelen = 0;
    FILE *m = open_memstream(&safe, &safelen);
    if (m) {
        cli_print_path(m, msg, strlen(msg));
        if (fclose(m) != 0)
            safe = NULL;
    }
    const char *repo = c->repo_location ? c->repo_location : getenv("ARCA_REPOSITORY");
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:s}", "time", when, "level", level, "command",
                          c->command ? json_string(c->command) : json_null(), "repository",
                          repo && *repo ? json_string(repo) : json_null(), "message", safe ? safe : "");
    if (o && extra)
        json_object_update(o, extra);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (line) {
        flockfile(stderr);
        fputs(line, stderr);
        fputc('\n', stderr);
        funlockfile(stderr);
    }
    free(line);
    json_decref(o);
    free(safe);
}

/* Messages name paths from snapshots and carry the library's and other programs' words:
 * escaped as ls escapes names, so that none can move the cursor or reorder the line. */
static void vmsg(cli *c, const char *fmt, va_list ap)
{
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    if (n < 0)
        s = NULL;   /* undefined after a failure */
    if (c->log_json) {
        const char *m = s ? s : "";
        bool warn = strncmp(m, "warning: ", 9) == 0;
        json_line(c, warn ? "warning" : "error", warn ? m + 9 : m, NULL);
        free(s);
        return;
    }
    flockfile(stderr);   /* the library logs from its worker threads too: one line each */
    cli_progress_done(c);
    fputs("arca: ", stderr);
    if (s)
        cli_print_path(stderr, s, (size_t)n);
    fputc('\n', stderr);
    funlockfile(stderr);
    free(s);
}

void cli_err(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(c, fmt, ap);
    va_end(ap);
}

int cli_usage(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(c, fmt, ap);
    va_end(ap);
    if (c->log_json)
        return EXIT_USAGE;
    if (c->command)
        fprintf(stderr, "Try 'arca help %s'.\n", c->command);
    else
        fprintf(stderr, "Try 'arca help'.\n");
    return EXIT_USAGE;
}

void cli_info(cli *c, const char *fmt, ...)
{
    if (c->verbosity < 0 || (!c->tty_out && c->verbosity < 1))
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

int cli_exit_code(int code)
{
    if (cli_signal_caught())
        return 128 + cli_signal_caught();
    switch (code) {
    case 0: return EXIT_OK;
    case -EKEYREJECTED: return EXIT_WRONG_PASS;
    case -EBUSY: return EXIT_LOCKED;
    }
    return EXIT_FATAL;
}

int cli_fail(cli *c, int code)
{
    /* interrupted: main says so, once; the reader of our output went away: say nothing */
    if (cli_signal_caught() || (code == -EPIPE && cli_stdout_gone()))
        return cli_exit_code(code);
    const char *msg = c->repo ? bk_repo_errmsg(c->repo) : "";
    if (code == -EPIPE && ferror(stdout))
        msg = "cannot write output";
    if (!msg || !*msg)
        msg = strerror(-code);
    cli_err(c, "%s", msg);
    return cli_exit_code(code);
}

void cli_log(bk_log_level level, const char *msg, void *userdata)
{
    cli *c = userdata;
    if (level == BK_LOG_ERROR || (level == BK_LOG_WARNING && c->verbosity >= 0) ||
        (level == BK_LOG_INFO && c->verbosity >= 1) || c->verbosity >= 2) {
        if (c->log_json)
            json_line(c, level_name(level), msg, NULL);
        else
            cli_err(c, "%s%s", level == BK_LOG_WARNING ? "warning: " : "", msg);
    }
}

void cli_item_error(const char *path, int code, const char *msg, void *userdata)
{
    cli_err(userdata, "%s%s: %s", code == 0 ? "warning: " : "", path, msg);
}

/* ---- options -------------------------------------------------------------------------------- */

static int parse_long(cli *c, const char *name, const char *s, long min, long max, long *ret)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return cli_usage(c, "--%s: expected a number from %ld to %ld, got '%s'", name, min, max, s);
    *ret = v;
    return 0;
}

/* 0 handled, 1 not a global option, else an exit code */
static int global_opt(cli *c, int opt, const char *arg)
{
    long long ms;
    switch (opt) {
    case 'r': c->repo_location = arg; return 0;
    case OPT_PASSWORD_FILE: c->password_file = arg; return 0;
    case OPT_NEW_PASSWORD_FILE: c->new_password_file = arg; return 0;
    case OPT_CACHE_DIR: c->cache_dir = arg; return 0;
    case OPT_NO_CACHE: c->no_cache = true; return 0;
    case OPT_NO_LOCK: c->no_lock = true; return 0;
    case OPT_CEPH_CONF: c->ceph_conf = arg; return 0;
    case OPT_CEPH_ID: c->ceph_id = arg; return 0;
    case OPT_CEPH_NAME: c->ceph_name = arg; return 0;
    case OPT_KEYRING: c->keyring = arg; return 0;
    case OPT_CEPH_TIMEOUT: return parse_long(c, "ceph-timeout", arg, 1, 86400, &c->ceph_timeout);
    case OPT_CEPH_INFLIGHT: return parse_long(c, "ceph-inflight", arg, 1, 256, &c->ceph_inflight);
    case OPT_DATA_POOL: c->data_pool = arg; return 0;
    case OPT_CEPH_SNAP: c->ceph_snap = arg; return 0;
    case OPT_JSON: c->json = true; return 0;
    case 'q': c->verbosity = -1; return 0;
    case 'v': c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1; return 0;
    case OPT_RETRY_LOCK:
        if (cli_parse_duration(arg, &ms) < 0)
            return cli_usage(c, "--retry-lock: invalid duration '%s' (e.g. 30s, 5m, 1h)", arg);
        c->retry_lock_ms = ms;
        c->retry_lock_set = true;
        return 0;
    case OPT_THREADS: return parse_long(c, "threads", arg, 1, 256, &c->threads);
    case OPT_METRICS_FILE: c->metrics_file = arg; return 0;
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "json") != 0 && strcmp(arg, "text") != 0)
            return cli_usage(c, "--log-format: expected text or json, got '%s'", arg);
        c->log_json = strcmp(arg, "json") == 0;
        return 0;
    }
    return 1;
}

int cli_parse(cli *c, int argc, char **argv, const char *shortopts, const struct option *opts,
              opt_handler handler, void *ctx, int *ret_optind)
{
    size_t ng = sizeof(global_opts) / sizeof(global_opts[0]) - 1, nc = 0;
    while (opts && opts[nc].name)
        nc++;
    struct option *all = calloc(ng + nc + 1, sizeof(*all));
    char *sopts = malloc(strlen(shortopts) + sizeof(GLOBAL_SHORT) + 2);
    if (!all || !sopts) {
        free(all);
        free(sopts);
        return EXIT_FATAL;
    }
    memcpy(all, global_opts, ng * sizeof(*all));
    if (nc)
        memcpy(all + ng, opts, nc * sizeof(*all));
    sprintf(sopts, ":%s%s", GLOBAL_SHORT, shortopts);
    int ret = 0;
    bool version = false;
    optind = 1;
    opterr = 0;
    for (;;) {
        int longidx = -1;
        int opt = getopt_long(argc, argv, sopts, all, &longidx);
        if (opt == -1)
            break;
        if (opt == '?') {
            ret = optopt ? cli_usage(c, "unknown option -%c", optopt)
                         : cli_usage(c, "unknown option %s", argv[optind - 1]);
            break;
        }
        if (opt == ':') {
            ret = cli_usage(c, "option %s needs a value", argv[optind - 1]);
            break;
        }
        if (opt == 'h') {
            const command *cmd = find_command(c->command);
            if (cmd)
                command_help(cmd, stdout);
            ret = -1;   /* done, exit 0 */
            break;
        }
        if (opt == OPT_VERSION) {   /* after the other options, so that --json counts */
            version = true;
            continue;
        }
        int g = global_opt(c, opt, optarg);
        if (g == 0)
            continue;
        if (g != 1) {
            ret = g;
            break;
        }
        ret = handler ? handler(c, opt, optarg, ctx) : cli_usage(c, "unknown option");
        if (ret)
            break;
    }
    free(all);
    free(sopts);
    if (ret == 0 && version) {
        int e = cli_print_version(c);
        ret = e ? e : -1;
    }
    *ret_optind = optind;
    return ret;
}

/* ---- repository ------------------------------------------------------------------------------ */

bk_repo *cli_repo_handle(cli *c, bk_log_fn log)
{
    bk_repo *r = bk_repo_new();
    if (!r) {
        cli_err(c, "cannot initialise (out of memory, or libsodium failed)");
        return NULL;
    }
    bk_repo_set_log(r, log, c);
    const char *cache = c->cache_dir ? c->cache_dir : getenv("ARCA_CACHE_DIR");
    if (cache && *cache)
        bk_repo_set_str(r, BK_REPO_CACHE_DIR, cache);
    if (c->no_cache)
        bk_repo_set_int(r, BK_REPO_NO_CACHE, 1);
    if (c->ceph_timeout)
        bk_repo_set_int(r, BK_REPO_CEPH_TIMEOUT, c->ceph_timeout);
    if (c->threads)
        bk_repo_set_int(r, BK_REPO_THREADS, c->threads);
    if (c->retry_lock_ms)
        bk_repo_set_int(r, BK_REPO_LOCK_WAIT, c->retry_lock_ms);
    return r;
}

int cli_new_repo(cli *c)
{
    bk_repo *r = c->repo = cli_repo_handle(c, cli_log);
    if (!r)
        return EXIT_FATAL;
    if (c->allow_no_config)
        bk_repo_set_int(r, BK_REPO_ALLOW_NO_CONFIG, 1);
    const char *conf = c->ceph_conf ? c->ceph_conf : getenv("CEPH_CONF");
    if (conf)
        bk_repo_set_str(r, BK_REPO_CEPH_CONF, conf);
    if (c->ceph_id)
        bk_repo_set_str(r, BK_REPO_CEPH_ID, c->ceph_id);
    if (c->ceph_name)
        bk_repo_set_str(r, BK_REPO_CEPH_NAME, c->ceph_name);
    if (c->keyring)
        bk_repo_set_str(r, BK_REPO_CEPH_KEYRING, c->keyring);
    if (c->data_pool)
        bk_repo_set_str(r, BK_REPO_DATA_POOL, c->data_pool);
    if (c->ceph_snap) {
        /* a pool snapshot is read-only: the commands that only read */
        static const char *const readers[] = { "snapshots", "ls", "diff", "restore", "dump",
                                               "check", "cat", "stats", "status", NULL };
        bool ok = false;
        for (size_t i = 0; readers[i] && !ok; i++)
            ok = c->command && strcmp(c->command, readers[i]) == 0;
        if (!ok)
            return cli_usage(c, "--ceph-snap is a read-only view of the repository: for "
                                "snapshots, ls, diff, restore, dump, check, cat, stats and status, "
                                "not %s", c->command ? c->command : "this command");
        bk_repo_set_str(r, BK_REPO_CEPH_SNAP, c->ceph_snap);
        c->no_lock = true;   /* nothing can be written there, a lock neither */
    }
    if (c->ceph_inflight)
        bk_repo_set_int(r, BK_REPO_CEPH_INFLIGHT, c->ceph_inflight);
    if (!c->repo_location)
        c->repo_location = getenv("ARCA_REPOSITORY");
    if (!c->repo_location || !*c->repo_location) {
        cli_err(c, "no repository given: use -r REPO or set ARCA_REPOSITORY");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

void cli_default_lock_wait(cli *c, long long ms)
{
    if (!c->retry_lock_set)
        c->retry_lock_ms = ms;
}

int cli_check_full_key(cli *c)
{
    if (!bk_repo_backup_only(c->repo) || (c->command && strcmp(c->command, "backup") == 0))
        return EXIT_OK;
    cli_err(c, "this passphrase opens a backup-only key slot of %s: it can add backups (arca "
               "backup) and nothing that reads or removes what the repository holds; %s needs a "
               "full key", c->repo_location, c->command ? c->command : "this command");
    return EXIT_BACKUP_ONLY;
}

int cli_open(cli *c, int lock)
{
    int e = cli_new_repo(c);
    if (e)
        return e;
    char *pass;
    size_t len;
    e = cli_password_get(c, PASS_EXISTING, &pass, &len);
    if (e)
        return e;
    int r = bk_repo_open(c->repo, c->repo_location, pass, len);
    cli_password_free(pass, len);
    if (r == -ENOENT) {
        cli_err(c, "%s", bk_repo_errmsg(c->repo));
        return EXIT_NO_REPO;
    }
    if (r < 0)
        return cli_fail(c, r);
    if ((e = cli_check_full_key(c)))
        return e;
    if (lock == OPEN_READER)
        lock = c->no_lock ? OPEN_NO_LOCK : OPEN_SHARED;
    else if (c->no_lock && lock != OPEN_NO_LOCK)
        return cli_usage(c, "--no-lock is for commands that only read (restore, dump, check, "
                         "and those that take no lock anyway)");
    if (lock) {
        r = bk_repo_lock(c->repo, lock == OPEN_EXCLUSIVE);
        if (r < 0)
            return cli_fail(c, r);
    }
    return EXIT_OK;
}

/* ---- the end of a run: the log's summary, the metrics file ------------------------------------ */

static const struct {
    const char *figure, *metric;
} counters[] = {
    { "files", "arca_files_total" },
    { "bytes_added", "arca_bytes_added_total" },
    { "errors", "arca_errors_total" },
    { "snapshots_removed", "arca_snapshots_removed_total" },
    { "bytes_freed", "arca_bytes_freed_total" },
    { "snapshots_copied", "arca_snapshots_copied_total" },
};

static bool writes_metrics(const char *name)
{
    static const char *const which[] = { "backup", "copy", "forget", "prune", "check" };
    for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++)
        if (name && strcmp(name, which[i]) == 0)
            return true;
    return false;
}

void cli_run_report(cli *c, int rc)
{
    struct timespec t1;
    clock_gettime(CLOCK_REALTIME, &t1);
    double now = (double)t1.tv_sec + t1.tv_nsec / 1e9, duration = now - c->start_time;
    char host[256] = "";
    if (c->run_host)
        snprintf(host, sizeof(host), "%s", c->run_host);
    else
        gethostname(host, sizeof(host) - 1);
    if (c->log_json) {
        json_t *fig = json_object();
        for (size_t i = 0; i < c->nfigures; i++)
            json_object_set_new(fig, c->figures[i].key,
                                c->figures[i].value == (double)(json_int_t)c->figures[i].value
                                    ? json_integer((json_int_t)c->figures[i].value)
                                    : json_real(c->figures[i].value));
        json_object_set_new(fig, "exit_code", json_integer(rc));
        json_object_set_new(fig, "duration", json_real(duration));
        json_object_set_new(fig, "host", json_string(host));
        if (c->run_paths)
            json_object_set_new(fig, "paths", json_string(c->run_paths));
        json_t *extra = json_pack("{s:o}", "summary", fig);
        char msg[96];
        snprintf(msg, sizeof(msg), "%s %s (exit status %d)", c->command,
                 rc == 0 ? "succeeded" : rc == EXIT_PARTIAL ? "completed with warnings" : "failed", rc);
        json_line(c, rc == 0 ? "info" : rc == EXIT_PARTIAL ? "warning" : "error", msg, extra);
        json_decref(extra);
    }
    if (!c->metrics_file || !writes_metrics(c->command))
        return;
    const char *repo = c->repo_location ? c->repo_location : getenv("ARCA_REPOSITORY");
    char *labels = metrics_labels(repo, c->command, host, c->run_paths ? c->run_paths : "");
    if (!labels)
        return;
    metric_sample v[4 + sizeof(counters) / sizeof(counters[0])];
    size_t n = 0;
    bool ok = rc == EXIT_OK || rc == EXIT_PARTIAL;   /* a snapshot was saved */
    v[n++] = (metric_sample){ "arca_last_run_timestamp_seconds", labels, now, false };
    v[n++] = (metric_sample){ "arca_duration_seconds", labels, duration, false };
    v[n++] = (metric_sample){ "arca_exit_code", labels, rc, false };
    if (ok)
        v[n++] = (metric_sample){ "arca_last_success_timestamp_seconds", labels, now, false };
    for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++)
        for (size_t i = 0; i < c->nfigures; i++)
            if (strcmp(c->figures[i].key, counters[k].figure) == 0)
                v[n++] = (metric_sample){ counters[k].metric, labels, c->figures[i].value, true };
    int r = metrics_update(c->metrics_file, v, n);
    if (r < 0)
        cli_err(c, "warning: cannot update the metrics file %s: %s", c->metrics_file, strerror(-r));
    free(labels);
}

/* ---- main ------------------------------------------------------------------------------------ */

static int cmd_help(cli *c, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "help") != 0) {
        const command *cmd = find_command(argv[1]);
        if (!cmd)
            return cli_usage(c, "no command '%s'", argv[1]);
        command_help(cmd, stdout);
        return EXIT_OK;
    }
    usage_all(stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    cli c = { .prog = "arca" };
    /* Pack and chunk buffers of several MiB come and go all the time: keep them in the heap
     * rather than mapping and unmapping each (the page faults cost a third of a backup's or
     * a restore's time on these machines), at the price of a little more resident memory. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    cli_signals_install();
    c.tty_out = isatty(STDOUT_FILENO);
    c.tty_err = isatty(STDERR_FILENO);
    const char *lf = getenv("ARCA_LOG_FORMAT");
    if (lf && *lf && strcmp(lf, "json") != 0 && strcmp(lf, "text") != 0) {
        fprintf(stderr, "arca: ARCA_LOG_FORMAT: expected text or json, got '%s'\n", lf);
        return EXIT_USAGE;
    }
    c.log_json = lf && strcmp(lf, "json") == 0;
    c.metrics_file = getenv("ARCA_METRICS_FILE");
    if (c.metrics_file && !*c.metrics_file)
        c.metrics_file = NULL;
    if (bk_library_init() < 0) {
        cli_err(&c, "cannot initialise libsodium");
        return EXIT_FATAL;
    }
    /* global options before the command */
    int i = 1;
    const command *cmd = NULL;
    while (i < argc && argv[i][0] == '-' && argv[i][1]) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage_all(stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {   /* the version command, options after it too */
            cmd = &cmd_version;
            break;
        }
        /* parse exactly this option (and its value) with getopt */
        int sub_argc = 2;
        char *sub[4] = { argv[0], argv[i], NULL, NULL };
        const struct option *o = NULL;
        bool needs_value = false;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (o = global_opts; o->name; o++)
                if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
                    break;
            needs_value = o->name && o->has_arg == required_argument && !eq;
        } else {
            needs_value = a[1] == 'r' && a[2] == 0;
        }
        if (needs_value && i + 1 < argc) {
            sub[2] = argv[i + 1];
            sub_argc = 3;
        }
        c.command = NULL;
        int idx;
        int e = cli_parse(&c, sub_argc, sub, "", NULL, NULL, NULL, &idx);
        if (e)
            return e < 0 ? EXIT_OK : e;
        i += sub_argc - 1;
    }
    if (!cmd && i >= argc) {
        if (c.log_json)
            cli_err(&c, "no command given: see arca help");
        else
            usage_all(stderr);
        return EXIT_USAGE;
    }
    c.command = cmd ? cmd->name : argv[i];
    if (strcmp(c.command, "help") == 0)
        return cmd_help(&c, argc - i, argv + i);
    if (!cmd)
        cmd = find_command(c.command);
    if (!cmd) {
        cli_err(&c, "unknown command '%s'", c.command);
        if (!c.log_json)
            usage_all(stderr);
        return EXIT_USAGE;
    }
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    c.start_time = (double)t0.tv_sec + t0.tv_nsec / 1e9;
    int rc = cmd->run(&c, argc - i, argv + i);
    cli_progress_done(&c);
    bk_repo_free(c.repo);   /* releases the locks, whatever happened */
    bk_repo_free(c.src);
    c.repo = NULL;
    if (cli_signal_caught()) {
        cli_err(&c, "interrupted");
        rc = 128 + cli_signal_caught();
    } else {
        bool out_failed = fflush(stdout) != 0 || ferror(stdout);
        int out_errno = errno;
        if ((out_failed || rc != EXIT_OK) && cli_stdout_gone())
            cli_die_of_sigpipe();   /* quietly, as the other tools of a pipeline */
        if (out_failed && rc == EXIT_OK) {
            cli_err(&c, "cannot write output: %s", strerror(out_errno));
            rc = EXIT_FATAL;
        }
    }
    if (rc >= 0)   /* not --help, --version */
        cli_run_report(&c, rc);
    free(c.run_paths);
    return rc < 0 ? EXIT_OK : rc;
}
