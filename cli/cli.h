/* cli.h - what the arca commands share: the global options, the repository handle,
 * output helpers and exit codes. */
#ifndef ARCA_CLI_H
#define ARCA_CLI_H

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "backup.h"

/* Exit codes (documented in arca(1)). */
enum {
    EXIT_OK = 0,
    EXIT_FATAL = 1,
    EXIT_USAGE = 2,
    EXIT_PARTIAL = 3,        /* backup done, some files could not be read */
    EXIT_NO_REPO = 10,
    EXIT_LOCKED = 11,
    EXIT_WRONG_PASS = 12,
    EXIT_BACKUP_ONLY = 13,   /* a backup-only key, for a command that reads the repository */
};

typedef struct cli {
    const char *prog;
    const char *command;
    const char *repo_location;
    const char *password_file;
    const char *new_password_file;
    const char *cache_dir;
    bool no_cache;
    bool no_lock;
    bool allow_no_config;    /* repair: open a repository whose config is lost */
    const char *ceph_conf, *ceph_id, *ceph_name, *keyring, *data_pool;
    const char *ceph_snap;   /* --ceph-snap: a read-only view as of a pool snapshot */
    long ceph_timeout, ceph_inflight;
    long threads;
    long long retry_lock_ms;
    bool retry_lock_set;     /* --retry-lock given (else a command's default applies) */
    bool json;
    int verbosity;           /* -1 quiet, 0 default, 1+ verbose */
    bool tty_out, tty_err;   /* stdout / stderr are terminals */
    bool progress_shown;
    const char *unit_one, *unit_many;   /* what the progress line counts (default: files) */
    bk_repo *repo;
    /* monitoring: --metrics-file, --log-format json, and what the run reports to them */
    const char *metrics_file;
    bool log_json;
    double start_time;       /* wall clock, seconds since the epoch */
    const char *run_host;    /* backup: the host recorded, and its paths joined with ',' */
    char *run_paths;
    struct { const char *key; double value; } figures[16];
    size_t nfigures;
    /* init --from-repo, copy: the source repository (source.c) */
    struct {
        const char *repo, *password_file, *password_command, *ceph_conf, *ceph_id, *keyring;
        const char *ceph_snap;
    } from;
    bk_repo *src;
} cli;

typedef int (*cmd_fn)(cli *c, int argc, char **argv);

typedef struct command {
    const char *name;
    cmd_fn run;
    const char *synopsis;
    const char *help;        /* description and options */
    const struct option *opts;   /* its own options (zero-terminated), or NULL: for completion */
    const char *words;       /* what its first operand may be ("list add ..."), or NULL */
} command;

/* The commands, NULL-terminated; the global options, zero-terminated (main.c). */
extern const command *const commands[];
extern const struct option *const cli_global_opts;
extern const char *const cli_global_short;   /* getopt's string for them: "r:qvh" */

/* A figure of this run (files, bytes_added, errors, snapshots_removed, bytes_freed): in the
 * summary of --log-format json and, for the commands that write them, the metrics file. */
void cli_figure(cli *c, const char *key, double value);
/* At the end of a run (main): the summary line of --log-format json, the metrics file. */
void cli_run_report(cli *c, int rc);
/* --group-by LIST: host, paths, tags, or '' (forget, status).  0, or -1 if malformed. */
int cli_parse_group_by(const char *arg, unsigned *ret);

/* Print the version (with --json: the build's features and library versions). */
int cli_print_version(cli *c);

/* Print "arca: " + message to stderr. */
void cli_err(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: message, hint, returns EXIT_USAGE. */
int cli_usage(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Map a library error to an exit code after printing the handle's message. */
int cli_fail(cli *c, int code);
int cli_exit_code(int code);
/* Informational output: to stdout, only on a terminal or with -v, never with -q. */
void cli_info(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the repository given by -r/ARCA_REPOSITORY with the passphrase.  lock: 0 none,
 * 1 shared, 2 exclusive, 3 shared unless --no-lock (commands that only read: restore, dump,
 * check).  Returns an exit code (EXIT_OK on success). */
enum { OPEN_NO_LOCK = 0, OPEN_SHARED = 1, OPEN_EXCLUSIVE = 2, OPEN_READER = 3 };
int cli_open(cli *c, int lock);
/* After an open: EXIT_OK, or EXIT_BACKUP_ONLY (said) when a backup-only key opened the
 * repository and the command is not one such a key may run (backup). */
int cli_check_full_key(cli *c);
/* Commands that should wait for a lock by default (backup, prune) set this before
 * cli_open; --retry-lock overrides it. */
void cli_default_lock_wait(cli *c, long long ms);
/* Create a new handle with the global options applied (no open). */
int cli_new_repo(cli *c);
/* A handle with the options that are the same for either side of a copy (the cache,
 * --ceph-timeout, --threads, --retry-lock) and log as its messages' sink; NULL (said) if
 * out of memory. */
bk_repo *cli_repo_handle(cli *c, bk_log_fn log);

/* Passphrases (password.c): the result lives in locked memory; free with
 * cli_password_free. */
enum { PASS_EXISTING, PASS_INIT, PASS_NEW, PASS_SOURCE };
/* PASS_EXISTING: --password-file, ARCA_PASSWORD_FILE, ARCA_PASSWORD_COMMAND, prompt;
 * PASS_INIT: the same sources, a prompt asks twice; PASS_NEW: --new-password-file,
 * ARCA_NEW_PASSWORD_FILE, or a prompt that asks twice; PASS_SOURCE (the source repository
 * of init --from-repo and copy): --from-password-file, ARCA_FROM_PASSWORD_FILE,
 * --from-password-command, ARCA_FROM_PASSWORD_COMMAND, prompt. */
int cli_password_get(cli *c, int kind, char **ret, size_t *ret_len);
void cli_password_free(char *p, size_t len);

/* Parse the command's options together with the global ones.  opts ends with a zero
 * entry; handler is called for each command option (return non-zero = usage error).
 * On success *ret_optind is the index of the first operand in argv. */
typedef int (*opt_handler)(cli *c, int opt, const char *arg, void *ctx);
int cli_parse(cli *c, int argc, char **argv, const char *shortopts, const struct option *opts,
              opt_handler handler, void *ctx, int *ret_optind);

/* Values. */
int cli_parse_size(const char *s, uint64_t *ret);       /* 16M, 1G, 512k, 100 */
int cli_parse_duration(const char *s, long long *ret_ms); /* 30s, 5m, 2h, 1d, 100ms */
/* The word for a count of n: cli_plural(n, "entry", "entries"), so that "1 entry". */
const char *cli_plural(uint64_t n, const char *one, const char *many);
void cli_format_bytes(uint64_t n, char *out, size_t len);
void cli_format_duration(double secs, char *out, size_t len);

/* Snapshot filters from --host/--tag/--path. */
typedef struct cli_filter {
    const char *hosts[64];
    const char *paths[64];
    const char *tags[64];
    size_t nhosts, npaths, ntags;
} cli_filter;
int cli_filter_opt(cli_filter *f, int opt, const char *arg);   /* 0 handled, 1 not a filter option */
/* cli_parse for a command whose only options are --host/--tag/--path (cli_filter_opts). */
extern const struct option cli_filter_opts[];
int cli_parse_filter(cli *c, int argc, char **argv, cli_filter *f, int *first);
bk_filter cli_filter_get(const cli_filter *f);
/* Find a snapshot argument; prints the error.  Returns an exit code. */
int cli_find_snapshot(cli *c, const char *arg, const cli_filter *f, bk_snapshot **ret);

/* JSON helpers: print and free. */
void cli_json_print(json_t *j);
json_t *cli_snapshot_json(const bk_snapshot *s);
json_t *cli_summary_json(const bk_summary *s);
json_t *cli_node_json(const bk_node_info *n);

/* Progress line on stderr when it is a terminal (progress.c). */
void cli_progress(const bk_progress *p, void *userdata);
void cli_progress_done(cli *c);
void cli_item_error(const char *path, int code, const char *msg, void *userdata);
void cli_log(bk_log_level level, const char *msg, void *userdata);

/* "5%" or 0.05 */
int cli_parse_max_unused(const char *arg, double *ret);
/* Print (or, with ret_json, build) prune's figures. */
int cli_prune_report(cli *c, const bk_prune_stats *st, bool dry_run, json_t **ret_json);

/* Signals (signals.c): SIGINT/SIGTERM/SIGHUP interrupt the library, SIGPIPE is ignored. */
void cli_signals_install(void);
int cli_signal_caught(void);             /* the signal that interrupted us, or 0 */
bool cli_stdout_gone(void);              /* stdout is a pipe whose reader went away */
void cli_die_of_sigpipe(void) __attribute__((noreturn));
/* For callbacks that print: -EPIPE once stdout cannot be written (the walk stops). */
static inline int cli_out_check(void)
{
    return ferror(stdout) ? -EPIPE : 0;
}

/* Print a path or link target from a snapshot safely to f: bytes that are not UTF-8,
 * controls and bidirectional overrides escaped (escape.h), valid UTF-8 as it is. */
void cli_print_path(FILE *f, const char *p, size_t len);
/* The same for a string from a snapshot in a column: padded to width display columns, on
 * the left (width > 0, as %8s) or on the right (width < 0, as %-16s). */
void cli_print_field(FILE *f, const char *s, int width);

/* The source repository (source.c): --from-repo, --from-password-file,
 * --from-password-command, --from-ceph-conf, --from-ceph-id, --from-keyring, each with an
 * ARCA_FROM_* variable.  cli_from_opt: 0 handled, 1 not one of them. */
enum { OPT_FROM_REPO = 0x1000, OPT_FROM_PASSWORD_FILE, OPT_FROM_PASSWORD_COMMAND,
       OPT_FROM_CEPH_CONF, OPT_FROM_CEPH_ID, OPT_FROM_KEYRING, OPT_FROM_CEPH_SNAP };
#define FROM_OPTIONS \
    { "from-repo", required_argument, NULL, OPT_FROM_REPO }, \
    { "from-password-file", required_argument, NULL, OPT_FROM_PASSWORD_FILE }, \
    { "from-password-command", required_argument, NULL, OPT_FROM_PASSWORD_COMMAND }, \
    { "from-ceph-conf", required_argument, NULL, OPT_FROM_CEPH_CONF }, \
    { "from-ceph-id", required_argument, NULL, OPT_FROM_CEPH_ID }, \
    { "from-keyring", required_argument, NULL, OPT_FROM_KEYRING }, \
    { "from-ceph-snap", required_argument, NULL, OPT_FROM_CEPH_SNAP }
#define FROM_HELP \
    "      --from-repo REPO       the source repository ($ARCA_FROM_REPOSITORY)\n" \
    "      --from-password-file F its passphrase ($ARCA_FROM_PASSWORD_FILE)\n" \
    "      --from-password-command CMD\n" \
    "                             a command that prints it ($ARCA_FROM_PASSWORD_COMMAND)\n" \
    "      --from-ceph-conf PATH  its ceph.conf ($ARCA_FROM_CEPH_CONF; else Ceph's default)\n" \
    "      --from-ceph-id ID      its cephx user ($ARCA_FROM_CEPH_ID)\n" \
    "      --from-keyring PATH    its keyring ($ARCA_FROM_KEYRING)\n" \
    "      --from-ceph-snap NAME  read it as of this RADOS pool snapshot ($ARCA_FROM_CEPH_SNAP)\n"
int cli_from_opt(cli *c, int opt, const char *arg);
/* The source's location from --from-repo or ARCA_FROM_REPOSITORY, or NULL. */
const char *cli_from_location(cli *c);
/* Open the source into c->src: shared lock, or read-only and no lock with --no-lock or
 * --from-ceph-snap.
 * Errors say "source repository: ...".  Returns an exit code. */
int cli_open_source(cli *c);

#define FILTER_OPTIONS \
    { "host", required_argument, NULL, 'H' }, \
    { "tag", required_argument, NULL, 't' }, \
    { "path", required_argument, NULL, 'P' }

#endif
