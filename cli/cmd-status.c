/* cmd-status.c - arca status: a Nagios/Icinga plugin (Monitoring Plugins guidelines): one
 * line on stdout with performance data, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "metrics.h"

enum { O_WARNING = 1, O_CRITICAL, O_GROUP_BY, O_EXPECT_HOST, O_CHECK_WARNING, O_CHECK_CRITICAL,
       O_LOCK_WARNING, O_LOCK_CRITICAL };

static const struct option opts[] = {
    FILTER_OPTIONS,
    { "warning", required_argument, NULL, O_WARNING },
    { "critical", required_argument, NULL, O_CRITICAL },
    { "group-by", required_argument, NULL, O_GROUP_BY },
    { "expect-host", required_argument, NULL, O_EXPECT_HOST },
    { "check-warning", required_argument, NULL, O_CHECK_WARNING },
    { "check-critical", required_argument, NULL, O_CHECK_CRITICAL },
    { "lock-warning", required_argument, NULL, O_LOCK_WARNING },
    { "lock-critical", required_argument, NULL, O_LOCK_CRITICAL },
    { 0 },
};

struct status_opts {
    cli_filter f;
    unsigned group_by;
    double warn, crit, check_warn, check_crit, lock_warn, lock_crit;   /* seconds, -1 none */
    const char *expect[64];
    size_t nexpect;
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct status_opts *o = ctx;
    if (cli_filter_opt(&o->f, opt, arg) == 0)
        return 0;
    double *d = NULL;
    switch (opt) {
    case O_WARNING: d = &o->warn; break;
    case O_CRITICAL: d = &o->crit; break;
    case O_CHECK_WARNING: d = &o->check_warn; break;
    case O_CHECK_CRITICAL: d = &o->check_crit; break;
    case O_LOCK_WARNING: d = &o->lock_warn; break;
    case O_LOCK_CRITICAL: d = &o->lock_crit; break;
    case O_GROUP_BY:
        if (cli_parse_group_by(arg, &o->group_by) < 0)
            return cli_usage(c, "--group-by: expected host, paths and/or tags, got '%s'", arg);
        return 0;
    case O_EXPECT_HOST:
        if (o->nexpect == 64)
            return cli_usage(c, "too many --expect-host");
        o->expect[o->nexpect++] = arg;
        return 0;
    default:
        return cli_usage(c, "unknown option");
    }
    long long ms;
    if (cli_parse_duration(arg, &ms) < 0)
        return cli_usage(c, "invalid duration '%s' (e.g. 26h, 2d, 90m)", arg);
    *d = (double)ms / 1000;
    return 0;
}

/* What was found: each problem a sentence, the worst state, the performance data. */
typedef struct findings {
    int state;
    char *problems[STATE_UNKNOWN + 1];   /* "; "-joined sentences per state */
    char *perf;
    json_t *j;
} findings;

static void problem(findings *fd, int state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(findings *fd, int state, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        return;
    char **slot = &fd->problems[state];
    char *joined = NULL;
    if (*slot && asprintf(&joined, "%s; %s", *slot, s) >= 0) {
        free(*slot);
        free(s);
        *slot = joined;
    } else if (!*slot) {
        *slot = s;
    } else {
        free(s);
    }
    if (state > fd->state)
        fd->state = state;
}

/* "host web01 paths /etc,/srv tags a,b": the group as the line and perfdata name it */
static char *group_name(const bk_forget_group *g)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    const char *sep = "";
    if (g->host) {
        fprintf(f, "host %s", g->host);
        sep = " ";
    }
    if (g->paths) {
        fprintf(f, "%spaths ", sep);
        for (size_t i = 0; i < g->npaths; i++)
            fprintf(f, "%s%s", i ? "," : "", g->paths[i]);
        sep = " ";
    }
    if (g->tags) {
        fprintf(f, "%stags ", sep);
        for (size_t i = 0; i < g->ntags; i++)
            fprintf(f, "%s%s", i ? "," : "", g->tags[i]);
        if (!g->ntags)
            fputs("(none)", f);
        sep = " ";
    }
    if (!*sep)
        fputs("all snapshots", f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *num_or_null(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

/* Print the plugin's line (or the JSON document) and return its exit code. */
static int report(cli *c, findings *fd)
{
    char *summary = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&summary, &len);
    if (f) {
        const char *sep = "";
        for (int s = STATE_UNKNOWN; s >= STATE_WARNING; s--)
            if (fd->problems[s]) {
                fprintf(f, "%s%s", sep, fd->problems[s]);
                sep = "; ";
            }
        if (!*sep && fd->problems[STATE_OK])
            fputs(fd->problems[STATE_OK], f);
        if (fclose(f) != 0) {
            free(summary);
            summary = NULL;
        }
    }
    if (c->json) {
        json_t *j = fd->j ? fd->j : json_object();
        fd->j = NULL;
        json_object_set_new(j, "state", json_string(state_name(fd->state)));
        json_object_set_new(j, "exit_code", json_integer(fd->state));
        json_object_set_new(j, "summary", json_string(summary ? summary : ""));
        json_object_set_new(j, "perfdata", json_string(fd->perf ? fd->perf : ""));
        cli_json_print(j);
    } else {
        /* a plugin's output is one line: the names in it cannot break it */
        for (char *p = summary; p && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '|')
                *p = *p == '|' ? '/' : ' ';
        printf("ARCA %s - %s", state_name(fd->state), summary ? summary : "");
        if (fd->perf && *fd->perf)
            printf(" | %s", fd->perf);
        putchar('\n');
    }
    free(summary);
    return fd->state;
}

static void findings_free(findings *fd)
{
    for (int s = 0; s <= STATE_UNKNOWN; s++)
        free(fd->problems[s]);
    free(fd->perf);
    json_decref(fd->j);
}

/* A failure before anything could be judged: UNKNOWN with the reason. */
static int unknown(cli *c, findings *fd, const char *reason)
{
    for (int s = 0; s <= STATE_UNKNOWN; s++) {
        free(fd->problems[s]);
        fd->problems[s] = NULL;
    }
    free(fd->perf);
    fd->perf = NULL;
    fd->state = STATE_OK;
    problem(fd, STATE_UNKNOWN, "%s", reason);
    int rc = report(c, fd);
    findings_free(fd);
    return rc;
}

static void snapshots_check(cli *c, const struct status_opts *o, findings *fd, double now,
                            bk_forget_group *g, size_t ng, size_t nsnaps)
{
    json_t *groups = json_array();
    double oldest = -1;
    for (size_t i = 0; i < ng; i++) {
        const bk_snapshot *s = g[i].items[0].snap;   /* newest first */
        double age = now - ((double)s->time + s->time_nsec / 1e9);
        if (age < 0)
            age = 0;
        int st = state_of_age(age, o->warn, o->crit);
        char *name = group_name(&g[i]), when[48], a[32], lim[32];
        age_format(age, a, sizeof(a));
        if (st != STATE_OK) {
            age_format(st == STATE_CRITICAL ? o->crit : o->warn, lim, sizeof(lim));
            problem(fd, st, "%s: last backup %s ago (%s %s)", name ? name : "?", a,
                    st == STATE_CRITICAL ? "critical" : "warning", lim);
        }
        /* binary logs purged before they were archived: no replay across them */
        if (s->binlog_gap) {
            problem(fd, STATE_CRITICAL, "%s: binary logs %s were purged before they were "
                    "archived", name ? name : "?", s->binlog_gap);
            st = STATE_CRITICAL;
        }
        if (age > oldest)
            oldest = age;
        char *label = NULL;
        if (asprintf(&label, "%s age", name ? name : "?") >= 0)
            perfdata_append(&fd->perf, label, round(age), "s", o->warn < 0 ? NAN : o->warn,
                            o->crit < 0 ? NAN : o->crit, 0, NAN);
        free(label);
        char id[BK_ID_HEX];
        bk_id_hex(&s->id, id);
        bk_snapshot_time_str(s, when);
        json_t *gj = json_pack("{s:s?, s:o?, s:o?, s:s, s:s, s:s, s:I, s:f, s:s}", "host", g[i].host,
                               "paths", g[i].paths ? strv_json(g[i].paths, g[i].npaths) : NULL,
                               "tags", g[i].tags ? strv_json(g[i].tags, g[i].ntags) : NULL,
                               "name", name ? name : "", "latest_id", id, "latest_time", when,
                               "snapshots", (json_int_t)g[i].n, "age_seconds", age,
                               "state", state_name(st));
        json_array_append_new(groups, gj);
        free(name);
    }
    json_object_set_new(fd->j, "groups", groups);
    perfdata_append(&fd->perf, "groups", (double)ng, "", NAN, NAN, 0, NAN);
    perfdata_append(&fd->perf, "snapshots", (double)nsnaps, "", NAN, NAN, 0, NAN);
    char a[32];
    if (ng == 0 && !o->nexpect)
        problem(fd, STATE_CRITICAL, "no snapshots%s", o->f.nhosts || o->f.npaths || o->f.ntags
                                                          ? " match the filters" : "");
    else if (ng) {
        age_format(oldest, a, sizeof(a));
        problem(fd, STATE_OK, "%zu %s, %zu %s, the oldest latest backup %s ago", ng,
                cli_plural(ng, "group", "groups"), nsnaps, cli_plural(nsnaps, "snapshot", "snapshots"), a);
    }
    json_t *missing = json_array();
    for (size_t k = 0; k < o->nexpect; k++) {
        bool found = false;
        for (size_t i = 0; i < ng && !found; i++)
            for (size_t m = 0; m < g[i].n && !found; m++)
                found = g[i].items[m].snap->host && strcmp(g[i].items[m].snap->host, o->expect[k]) == 0;
        if (!found) {
            problem(fd, STATE_CRITICAL, "host %s: no snapshot", o->expect[k]);
            json_array_append_new(missing, json_string(o->expect[k]));
        }
    }
    json_object_set_new(fd->j, "missing_hosts", missing);
    (void)c;
}

static void check_check(cli *c, const struct status_opts *o, findings *fd, double now)
{
    bk_check_record ok, last;
    int r = bk_check_record_load(c->repo, true, &ok);
    int rl = bk_check_record_load(c->repo, false, &last);
    bool wanted = o->check_warn >= 0 || o->check_crit >= 0;
    char a[32], lim[32];
    if (r < 0 && r != -ENOENT) {
        problem(fd, wanted ? STATE_UNKNOWN : STATE_WARNING, "%s", bk_repo_errmsg(c->repo));
        bk_repo_clear_error(c->repo);
    }
    if (rl < 0 && rl != -ENOENT) {
        problem(fd, STATE_WARNING, "%s", bk_repo_errmsg(c->repo));
        bk_repo_clear_error(c->repo);
    }
    if (rl == 0 && last.errors && (r < 0 || last.time >= ok.time)) {
        age_format(now - (double)last.time, a, sizeof(a));
        problem(fd, STATE_CRITICAL, "the last check (%s ago) found %llu %s", a,
                (unsigned long long)last.errors, cli_plural(last.errors, "error", "errors"));
    }
    if (r == -ENOENT) {
        if (wanted)
            problem(fd, o->check_crit >= 0 ? STATE_CRITICAL : STATE_WARNING,
                    "no successful check recorded");
        json_object_set_new(fd->j, "check", json_null());
        return;
    }
    if (r < 0)
        return;
    double age = now - (double)ok.time;
    if (age < 0)
        age = 0;
    int st = state_of_age(age, o->check_warn, o->check_crit);
    age_format(age, a, sizeof(a));
    if (st != STATE_OK) {
        age_format(st == STATE_CRITICAL ? o->check_crit : o->check_warn, lim, sizeof(lim));
        problem(fd, st, "last successful check %s ago (%s %s)", a,
                st == STATE_CRITICAL ? "critical" : "warning", lim);
    }
    perfdata_append(&fd->perf, "check age", round(age), "s", o->check_warn < 0 ? NAN : o->check_warn,
                    o->check_crit < 0 ? NAN : o->check_crit, 0, NAN);
    json_object_set_new(fd->j, "check",
                        json_pack("{s:I, s:f, s:s, s:b, s:f, s:I, s:o, s:s}", "time", (json_int_t)ok.time,
                                  "age_seconds", age, "host", ok.host, "read_data", ok.read_data,
                                  "read_share", ok.read_share, "errors", (json_int_t)ok.errors,
                                  "last_errors", rl == 0 ? json_integer((json_int_t)last.errors) : json_null(),
                                  "state", state_name(st)));
}

static void locks_check(cli *c, const struct status_opts *o, findings *fd, double now)
{
    bk_lock_info *l = NULL;
    size_t n = 0;
    if (bk_repo_locks(c->repo, &l, &n) < 0) {
        problem(fd, o->lock_crit >= 0 || o->lock_warn >= 0 ? STATE_UNKNOWN : STATE_WARNING, "%s",
                bk_repo_errmsg(c->repo));
        bk_repo_clear_error(c->repo);
        return;
    }
    json_t *locks = json_array();
    double oldest = 0;
    for (size_t i = 0; i < n; i++) {
        double age = l[i].since ? now - (double)l[i].since : -1;
        int st = age < 0 ? STATE_OK : state_of_age(age, o->lock_warn, o->lock_crit);
        if (st != STATE_OK) {
            char a[32];
            age_format(age, a, sizeof(a));
            problem(fd, st, "a lock held for %s: %s", a, l[i].holder);
        }
        if (age > oldest)
            oldest = age;
        json_array_append_new(locks, json_pack("{s:s, s:b, s:o, s:s}", "holder", l[i].holder,
                                               "exclusive", l[i].exclusive, "age_seconds",
                                               num_or_null(age), "state", state_name(st)));
    }
    free(l);
    json_object_set_new(fd->j, "locks", locks);
    perfdata_append(&fd->perf, "locks", (double)n, "", NAN, NAN, 0, NAN);
    perfdata_append(&fd->perf, "lock age", round(oldest), "s", o->lock_warn < 0 ? NAN : o->lock_warn,
                    o->lock_crit < 0 ? NAN : o->lock_crit, 0, NAN);
}

static int run(cli *c, int argc, char **argv)
{
    struct status_opts o = { .group_by = BK_GROUP_HOST | BK_GROUP_PATHS, .warn = 26 * 3600,
                             .crit = 50 * 3600, .check_warn = -1, .check_crit = -1,
                             .lock_warn = -1, .lock_crit = -1 };
    findings fd = { .j = json_object() };
    int first;
    int e = cli_parse(c, argc, argv, "", opts, on_opt, &o, &first);
    if (e < 0) {
        findings_free(&fd);
        return e;   /* --help */
    }
    if (e == 0 && first < argc)
        e = cli_usage(c, "status takes no arguments");
    if (e == 0 && o.warn >= 0 && o.crit >= 0 && o.warn > o.crit)
        e = cli_usage(c, "--warning must not be longer than --critical");
    if (e)   /* the guidelines: a usage error is UNKNOWN too */
        return unknown(c, &fd, "usage error (see arca help status)");
    if ((e = cli_new_repo(c)))
        return unknown(c, &fd, "no repository given: use -r REPO or set ARCA_REPOSITORY");
    char *pass;
    size_t len;
    if ((e = cli_password_get(c, PASS_EXISTING, &pass, &len)))
        return unknown(c, &fd, "no passphrase (see above)");
    int r = bk_repo_open(c->repo, c->repo_location, pass, len);
    cli_password_free(pass, len);
    if (r < 0) {
        char *reason = NULL;
        const char *msg = bk_repo_errmsg(c->repo);
        if (!msg || !*msg)
            msg = strerror(-r);
        if (asprintf(&reason, "%s%s", r == -EKEYREJECTED || r == -ENOENT || !strncmp(msg, "cannot ", 7)
                                      ? "" : "cannot open the repository: ", msg) < 0)
            reason = NULL;
        int rc = unknown(c, &fd, reason ? reason : "cannot open the repository");
        free(reason);
        return rc;
    }
    if (bk_repo_backup_only(c->repo))
        return unknown(c, &fd, "a backup-only key cannot read the snapshots: status needs a full key");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    bk_filter bf = cli_filter_get(&o.f);
    bk_snapshot **v;
    size_t n;
    if ((r = bk_snapshots_list(c->repo, &bf, &v, &n)) < 0)
        return unknown(c, &fd, bk_repo_errmsg(c->repo));
    size_t damaged = bk_snapshots_damaged(c->repo, NULL);
    bk_policy keep_all = { .keep_last = -1 };
    bk_forget_group *g = NULL;
    size_t ng = 0;
    if ((r = bk_forget_plan(v, n, &keep_all, o.group_by, &g, &ng)) < 0)
        return unknown(c, &fd, "cannot group the snapshots");
    snapshots_check(c, &o, &fd, now, g, ng, n);
    bk_forget_groups_free(g, ng);
    if (damaged)
        problem(&fd, STATE_WARNING, "%zu damaged snapshot %s (see arca check)", damaged,
                cli_plural(damaged, "object", "objects"));
    check_check(c, &o, &fd, now);
    locks_check(c, &o, &fd, now);
    int rc = report(c, &fd);
    findings_free(&fd);
    return rc;
}

const command cmd_status = {
    "status", run,
    "status [--warning DUR] [--critical DUR] [--group-by LIST] [--expect-host HOST]...\n"
    "          [--check-warning DUR] [--check-critical DUR] [--lock-warning DUR]\n"
    "          [--lock-critical DUR] [--host HOST] [--tag TAG] [--path PATH]",
    "A Nagios/Icinga plugin: one line, 'ARCA OK - ...' (or WARNING, CRITICAL, UNKNOWN),\n"
    "then ' | ' and performance data; exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
    "(an unreachable repository, a wrong passphrase, a usage error).  Takes no lock and\n"
    "writes nothing.  Per group of snapshots, the age of the newest one; the last\n"
    "successful check that check recorded; the locks other processes hold.\n\n"
    "Options:\n"
    "      --warning DUR          WARNING when a group's newest snapshot is older (26h)\n"
    "      --critical DUR         CRITICAL when older than this (50h)\n"
    "      --group-by LIST        host,paths (default), any of host, paths, tags, or ''\n"
    "      --expect-host HOST     CRITICAL when HOST has no snapshot (repeat)\n"
    "      --check-warning DUR    WARNING when the last successful check is older, or none\n"
    "      --check-critical DUR   CRITICAL when older than this, or none recorded\n"
    "      --lock-warning DUR     WARNING when a lock is held longer\n"
    "      --lock-critical DUR    CRITICAL when a lock is held longer (a stuck job)\n"
    "      --host, --tag, --path  only these snapshots, as for snapshots\n"
    "Durations: 90s, 30m, 26h, 7d.  A last check that found errors is CRITICAL.\n",
    .opts = opts,
};
