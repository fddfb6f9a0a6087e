/* cmd-restore.c - arca restore: write a snapshot (or part of it) into a directory. */
#include <string.h>

#include "cli.h"

enum { O_TARGET = 1, O_INCLUDE, O_EXCLUDE, O_DELETE, O_VERIFY, O_NO_OWNER, O_NUMERIC_IDS, O_MYSQL,
       O_DATABASES, O_MYSQL_DEFAULTS, O_MYSQL_CLIENT, O_UNTIL, O_MYSQL_PHYSICAL, O_MYSQL_BACKUP, O_UNTIL_GTID };

static const struct option opts[] = {
    FILTER_OPTIONS,
    { "target", required_argument, NULL, O_TARGET },
    { "include", required_argument, NULL, O_INCLUDE },
    { "exclude", required_argument, NULL, O_EXCLUDE },
    { "dry-run", no_argument, NULL, 'n' },
    { "delete", no_argument, NULL, O_DELETE },
    { "verify", no_argument, NULL, O_VERIFY },
    { "no-owner", no_argument, NULL, O_NO_OWNER },
    { "numeric-ids", no_argument, NULL, O_NUMERIC_IDS },
    { "mysql", no_argument, NULL, O_MYSQL },
    { "databases", required_argument, NULL, O_DATABASES },
    { "mysql-defaults-file", required_argument, NULL, O_MYSQL_DEFAULTS },
    { "mysql-client-command", required_argument, NULL, O_MYSQL_CLIENT },
    { "until", required_argument, NULL, O_UNTIL },
    { "until-gtid", required_argument, NULL, O_UNTIL_GTID },
    { "mysql-physical", no_argument, NULL, O_MYSQL_PHYSICAL },
    { "mysql-backup-command", required_argument, NULL, O_MYSQL_BACKUP },
    { 0 },
};

struct restore_opts {
    cli_filter f;
    const char *target;
    const char *inc[256], *exc[256];
    size_t ninc, nexc;
    bool dry_run, del, verify, no_owner, numeric_ids, mysql, physical;
    const char *dbs[256];
    size_t ndbs;
    const char *mysql_defaults, *mysql_client, *mysql_backup;
    bool until_set, until_time;
    int64_t until;
    const char *until_gtid;
    char *dbs_copy[256];
    size_t ncopies;
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct restore_opts *o = ctx;
    if (cli_filter_opt(&o->f, opt, arg) == 0)
        return 0;
    switch (opt) {
    case O_TARGET: o->target = arg; return 0;
    case O_INCLUDE:
        if (o->ninc == 256) return cli_usage(c, "too many --include");
        o->inc[o->ninc++] = arg;
        return 0;
    case O_EXCLUDE:
        if (o->nexc == 256) return cli_usage(c, "too many --exclude");
        o->exc[o->nexc++] = arg;
        return 0;
    case 'n': o->dry_run = true; return 0;
    case O_DELETE: o->del = true; return 0;
    case O_VERIFY: o->verify = true; return 0;
    case O_NO_OWNER: o->no_owner = true; return 0;
    case O_NUMERIC_IDS: o->numeric_ids = true; return 0;
    case O_MYSQL: o->mysql = true; return 0;
    case O_DATABASES: {
        char *copy = strdup(arg), *save = NULL;
        if (!copy || o->ncopies == 256)
            return cli_usage(c, "too many --databases");
        o->dbs_copy[o->ncopies++] = copy;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (o->ndbs == 256)
                return cli_usage(c, "too many databases");
            o->dbs[o->ndbs++] = t;
        }
        return 0;
    }
    case O_MYSQL_DEFAULTS: o->mysql_defaults = arg; return 0;
    case O_MYSQL_CLIENT: o->mysql_client = arg; return 0;
    case O_MYSQL_PHYSICAL: o->physical = true; return 0;
    case O_MYSQL_BACKUP: o->mysql_backup = arg; return 0;
    case O_UNTIL: {
        int32_t ns, tz;
        if (bk_parse_time(arg, &o->until, &ns, &tz) < 0)
            return cli_usage(c, "--until: expected \"YYYY-MM-DD HH:MM:SS\" or RFC 3339, got '%s'", arg);
        o->until_set = o->until_time = true;
        return 0;
    }
    case O_UNTIL_GTID:
        if (!bk_mysql_gtid_valid(arg))
            return cli_usage(c, "--until-gtid: expected domain-server-sequence (e.g. 0-1-1234), "
                             "got '%s'", arg);
        o->until_gtid = arg;
        o->until_set = true;
        return 0;
    }
    return cli_usage(c, "unknown option");
}

struct db_report {
    cli *c;
    json_t *arr;
    size_t failed;
};

static void on_db(const char *db, int result, const char *message, void *ud)
{
    struct db_report *d = ud;
    d->failed += result < 0;
    if (d->arr) {
        json_array_append_new(d->arr, json_pack("{s:s, s:b, s:s}", "database", db, "ok",
                                                result == 0, "message", message));
    } else if (result < 0) {
        cli_err(d->c, "database %s: %s", db, message);
    } else {
        cli_info(d->c, "database %s: loaded\n", db);
    }
}

/* restore --mysql --until TIME: the plan (said, or printed for a dry run), then the run */
static int restore_until(cli *c, struct restore_opts *o, const char *snap_arg)
{
    bk_filter f = cli_filter_get(&o->f);
    bk_snapshot *base = NULL;
    int r = snap_arg ? cli_find_snapshot(c, snap_arg, &o->f, &base) : 0;
    if (r)
        return r;
    bk_mysql_pitr plan;
    r = bk_mysql_pitr_plan(c->repo, &f, base, o->until, o->until_gtid, &plan);
    bk_snapshot_free(base);
    if (r < 0)
        return cli_fail(c, r);
    char id[BK_ID_HEX], aid[BK_ID_HEX], when[48], until[48], until_txt[160];
    bk_id_hex(&plan.dump->id, id);
    bk_id_hex(&plan.archive->id, aid);
    bk_snapshot_time_str(plan.dump, when);
    if (o->until_gtid) {
        snprintf(until_txt, sizeof(until_txt), "GTID %s (not included)", o->until_gtid);
    } else {
        bk_snapshot u = { .time = o->until };
        bk_snapshot_time_str(&u, until);
        snprintf(until_txt, sizeof(until_txt), "%.19s", until);
    }
    json_t *pj = NULL;
    if (c->json) {
        json_t *logs = json_array();
        for (size_t i = 0; i < plan.nbinlogs; i++)
            json_array_append_new(logs, json_string(plan.binlogs[i]));
        pj = json_pack("{s:s, s:s, s:b, s:s, s:o, s:I, s:s}", "snapshot", id, "snapshot_time",
                       when, "physical", plan.physical, "archive", aid, "binlogs", logs,
                       "start_position", (json_int_t)plan.start_pos, o->until_gtid ? "until_gtid"
                       : "until", o->until_gtid ? o->until_gtid : until);
    } else if (o->dry_run || c->verbosity >= 0) {
        FILE *out = o->dry_run ? stdout : NULL;
        char line[1024];
        int k = plan.physical
            ? snprintf(line, sizeof(line), "%s the server restored from the physical backup "
                       "%.8s (as of %.19s, %s:%llu): replay %s", o->dry_run ? "would replay onto"
                       : "replaying onto", id, when, plan.binlogs[0],
                       (unsigned long long)plan.start_pos, plan.binlogs[0])
            : snprintf(line, sizeof(line), "%s snapshot %.8s (the databases as of %.19s, %s:%llu), "
                       "then replay %s", o->dry_run ? "would load" : "loading", id, when,
                       plan.binlogs[0], (unsigned long long)plan.start_pos, plan.binlogs[0]);
        if (plan.nbinlogs > 1 && k > 0 && (size_t)k < sizeof(line))
            snprintf(line + k, sizeof(line) - (size_t)k, " to %s", plan.binlogs[plan.nbinlogs - 1]);
        if (out)
            fprintf(out, "%s up to %s%s\n", line, until_txt, plan.nothing ? " (nothing to "
                    "replay: the backup is just before it)" : "");
        else
            cli_info(c, "%s up to %s%s\n", line, until_txt, plan.nothing ? " (nothing to "
                     "replay: the backup is just before it)" : "");
    }
    if (o->dry_run) {
        if (pj)
            cli_json_print(json_pack("{s:b, s:o}", "dry_run", 1, "plan", pj));
        bk_mysql_pitr_free(&plan);
        return EXIT_OK;
    }
    bk_mysql_target t = { o->mysql_defaults, o->mysql_client, o->dbs, o->ndbs, NULL };
    struct db_report d = { c, c->json ? json_array() : NULL, 0 };
    r = bk_mysql_pitr_run(c->repo, &plan, &t, on_db, &d);
    bool physical = plan.physical;
    bk_mysql_pitr_free(&plan);
    if (d.arr)
        cli_json_print(json_pack("{s:b, s:o, s:o, s:b, s:b}", "dry_run", 0, "plan", pj,
                                 "databases", d.arr, "ok", r == 0, "changed",
                                 json_array_size(d.arr) > d.failed || (physical && r == 0)));
    if (r < 0 && !d.failed)
        return cli_fail(c, r);
    return r < 0 ? EXIT_FATAL : EXIT_OK;
}

static int restore_mysql(cli *c, struct restore_opts *o, const char *snap_arg)
{
    bk_snapshot *s;
    int e = cli_find_snapshot(c, snap_arg, &o->f, &s);
    if (e)
        return e;
    bk_mysql_target t = { o->mysql_defaults, o->mysql_client, o->dbs, o->ndbs, NULL };
    struct db_report d = { c, c->json ? json_array() : NULL, 0 };
    int r = bk_mysql_restore(c->repo, s, &t, on_db, &d);
    bk_snapshot_free(s);
    if (d.arr)
        cli_json_print(json_pack("{s:o, s:b, s:b}", "databases", d.arr, "ok", r == 0, "changed",
                                 json_array_size(d.arr) > d.failed));
    if (r < 0 && !d.failed)
        return cli_fail(c, r);   /* failed before loading anything */
    return r < 0 ? EXIT_FATAL : EXIT_OK;
}

/* restore SNAPSHOT --mysql-physical --target DIR: extracted and prepared */
static int restore_physical(cli *c, struct restore_opts *o, const char *snap_arg)
{
    bk_snapshot *s;
    int e = cli_find_snapshot(c, snap_arg, &o->f, &s);
    if (e)
        return e;
    bk_mysql_target t = { o->mysql_defaults, NULL, NULL, 0, o->mysql_backup };
    int r = bk_mysql_physical_restore(c->repo, s, o->target, &t);
    char id[BK_ID_HEX], when[48];
    bk_id_hex(&s->id, id);
    bk_snapshot_time_str(s, when);
    if (r == 0 && c->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:b}", "snapshot", id, "snapshot_time",
                              when, "target", o->target, "prepared", 1, "changed", 1);
        if (s->mysql_binlog_file) {
            json_object_set_new(j, "binlog_file", json_string(s->mysql_binlog_file));
            json_object_set_new(j, "binlog_pos", json_integer((json_int_t)s->mysql_binlog_pos));
            if (s->mysql_gtid)
                json_object_set_new(j, "gtid", json_string(s->mysql_gtid));
        }
        cli_json_print(j);
    } else if (r == 0) {
        cli_info(c, "Restored the physical backup %.8s (%.19s) into %s, prepared\n", id, when,
                 o->target);
        if (s->mysql_binlog_file)
            cli_info(c, "Its binary log position: %s:%llu%s%s (to go on to a later time, start "
                     "a server on it and run: arca restore %.8s --mysql --until TIME)\n",
                     s->mysql_binlog_file, (unsigned long long)s->mysql_binlog_pos,
                     s->mysql_gtid ? ", GTID " : "", s->mysql_gtid ? s->mysql_gtid : "", id);
    }
    bk_snapshot_free(s);
    return r < 0 ? cli_fail(c, r) : EXIT_OK;
}

static int run(cli *c, int argc, char **argv)
{
    struct restore_opts o = { 0 };
    int first;
    int e = cli_parse(c, argc, argv, "n", opts, on_opt, &o, &first);
    if (e == 0 && o.physical) {
        if (o.mysql || o.until_set)
            e = cli_usage(c, "--mysql-physical restores a datadir; to replay the binary logs onto "
                          "it, start a server on it and run: restore SNAPSHOT --mysql --until TIME");
        else if (argc - first != 1 || !o.target)
            e = cli_usage(c, "usage: restore SNAPSHOT --mysql-physical --target DIR");
        else if (o.ninc || o.nexc || o.del || o.dry_run || o.verify || o.no_owner ||
                 o.numeric_ids || o.ndbs || o.mysql_client)
            e = cli_usage(c, "--mysql-physical restores the whole datadir: no --include, "
                          "--exclude, --delete, --dry-run, --verify, --no-owner, --numeric-ids, "
                          "--databases or --mysql-client-command");
        else if ((e = cli_open(c, OPEN_READER)) == 0)
            e = restore_physical(c, &o, argv[first]);
        for (size_t i = 0; i < o.ncopies; i++)
            free(o.dbs_copy[i]);
        return e;
    }
    if (e == 0 && o.mysql_backup)
        e = cli_usage(c, "--mysql-backup-command goes with --mysql-physical");
    if (e == 0 && o.until_set) {
        if (!o.mysql || argc - first > 1)
            e = cli_usage(c, "--until goes with --mysql: restore [SNAPSHOT] --mysql --until TIME");
        else if (o.until_gtid && o.until_time)
            e = cli_usage(c, "--until or --until-gtid, not both");
        else if (o.target || o.ninc || o.nexc || o.del || o.verify || o.no_owner || o.numeric_ids)
            e = cli_usage(c, "--mysql loads into the server: no --target, --include, --exclude, "
                          "--delete, --verify, --no-owner or --numeric-ids");
        else if ((e = cli_open(c, OPEN_READER)) == 0)
            e = restore_until(c, &o, argc > first ? argv[first] : NULL);
        for (size_t i = 0; i < o.ncopies; i++)
            free(o.dbs_copy[i]);
        return e;
    }
    if (e == 0 && argc - first != 1)
        e = cli_usage(c, "usage: restore SNAPSHOT --target DIR | restore SNAPSHOT --mysql | "
                      "restore [SNAPSHOT] --mysql --until TIME | "
                      "restore SNAPSHOT --mysql-physical --target DIR");
    if (e == 0 && !o.mysql && (o.ndbs || o.mysql_defaults || o.mysql_client))
        e = cli_usage(c, "--databases and --mysql-* options go with --mysql");
    if (e == 0 && o.mysql) {
        if (o.target || o.ninc || o.nexc || o.del || o.dry_run || o.verify || o.no_owner ||
            o.numeric_ids)
            e = cli_usage(c, "--mysql loads into the server: no --target, --include, --exclude, "
                          "--delete, --dry-run, --verify, --no-owner or --numeric-ids (see what "
                          "a snapshot holds with 'arca ls SNAPSHOT /mysql')");
        else if ((e = cli_open(c, OPEN_READER)) == 0)
            e = restore_mysql(c, &o, argv[first]);
    }
    if (e || o.mysql) {
        for (size_t i = 0; i < o.ncopies; i++)
            free(o.dbs_copy[i]);
        return e;
    }
    if (!o.target)
        return cli_usage(c, "--target DIR is required");
    if ((e = cli_open(c, OPEN_READER)))
        return e;
    bk_snapshot *s;
    if ((e = cli_find_snapshot(c, argv[first], &o.f, &s)))
        return e;
    bk_restore *r;
    int rc = bk_restore_new(c->repo, s, &r);
    bk_snapshot_free(s);
    if (rc < 0)
        return cli_fail(c, rc);
    bk_restore_set_str(r, BK_RESTORE_TARGET, o.target);
    for (size_t i = 0; i < o.ninc; i++)
        bk_restore_set_str(r, BK_RESTORE_INCLUDE, o.inc[i]);
    for (size_t i = 0; i < o.nexc; i++)
        bk_restore_set_str(r, BK_RESTORE_EXCLUDE, o.exc[i]);
    bk_restore_set_int(r, BK_RESTORE_DRY_RUN, o.dry_run);
    bk_restore_set_int(r, BK_RESTORE_DELETE, o.del);
    bk_restore_set_int(r, BK_RESTORE_VERIFY, o.verify);
    bk_restore_set_int(r, BK_RESTORE_NO_OWNER, o.no_owner);
    bk_restore_set_int(r, BK_RESTORE_NUMERIC_IDS, o.numeric_ids);
    bk_restore_set_progress(r, cli_progress, c);
    bk_restore_set_item_error(r, cli_item_error, c);
    bk_restore_stats st;
    rc = bk_restore_run(r, &st);
    bk_restore_free(r);
    cli_progress_done(c);
    if (rc < 0)
        return cli_fail(c, rc);
    if (c->json) {
        json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                              "dry_run", o.dry_run,
                              "files_restored", (json_int_t)st.files_restored,
                              "files_unchanged", (json_int_t)st.files_unchanged,
                              "dirs", (json_int_t)st.dirs, "others", (json_int_t)st.others,
                              "deleted", (json_int_t)st.deleted,
                              "bytes_written", (json_int_t)st.bytes_written,
                              "bytes_fetched", (json_int_t)st.bytes_fetched,
                              "bytes_reused", (json_int_t)st.bytes_reused,
                              "packs_fetched", (json_int_t)st.packs_fetched,
                              "errors", (json_int_t)st.errors, "duration", st.duration);
        json_object_set_new(j, "changed", json_boolean(!o.dry_run && (st.files_restored ||
                                                                       st.deleted || st.dirs || st.others)));
        cli_json_print(j);
    } else {
        char w[32], f[32], dur[32];
        cli_format_bytes(st.bytes_written, w, sizeof(w));
        cli_format_bytes(st.bytes_fetched, f, sizeof(f));
        cli_format_duration(st.duration, dur, sizeof(dur));
        char u[32];
        cli_format_bytes(st.bytes_reused, u, sizeof(u));
        cli_info(c, "%s %llu files, %llu directories, %llu others (%s written, %s fetched, "
                 "%s reused from local files) in %s\n",
                 o.dry_run ? "Would restore" : "Restored",
                 (unsigned long long)st.files_restored, (unsigned long long)st.dirs,
                 (unsigned long long)st.others, w, f, u, dur);
        if (st.files_unchanged || st.deleted)
            cli_info(c, "%llu files already up to date, %llu entries %s\n",
                     (unsigned long long)st.files_unchanged, (unsigned long long)st.deleted,
                     o.dry_run ? "would be deleted" : "deleted");
    }
    if (st.errors) {
        cli_err(c, "%llu %s: not everything was restored (see above)",
                (unsigned long long)st.errors, cli_plural(st.errors, "error", "errors"));
        return EXIT_FATAL;
    }
    return EXIT_OK;
}

const command cmd_restore = {
    "restore", run, "restore SNAPSHOT --target DIR [--include PATH] [--exclude PATTERN] |\n"
    "       restore SNAPSHOT --mysql [--databases A,B] [--mysql-defaults-file F] |\n"
    "       restore [SNAPSHOT] --mysql --until TIME|--until-gtid GTID [--databases A,B] [--dry-run]\n"
    "               [--mysql-defaults-file F] |\n"
    "       restore SNAPSHOT --mysql-physical --target DIR [--mysql-defaults-file F]",
    "Restore a snapshot, or the parts selected by --include, into DIR (created if\n"
    "missing) with owners (as root), modes, times, xattrs, ACLs, file flags, hard links,\n"
    "sockets and holes.\n"
    "Over an existing tree, entries that match the snapshot (files: size, mtime, mode,\n"
    "owner) are left alone, and a changed file takes every chunk its old version still\n"
    "has from the local disk, fetching only the rest; each file is written under a\n"
    "temporary name and renamed into place.  An interrupted restore can be run again.\n"
    "One restore at a time per DIR: another one fails with exit 11 (--retry-lock waits).\n\n"
    "Options:\n"
    "      --target DIR           where to restore (required)\n"
    "      --include PATH         restore only PATH (or a glob) and what is below it (repeat)\n"
    "      --exclude PATTERN      skip matching entries (repeat)\n"
    "  -n, --dry-run              say what would be written, fetched and deleted; change nothing\n"
    "      --delete               remove what the snapshot does not have (rollback to its\n"
    "                             exact state; never follows symlinks out of DIR)\n"
    "      --verify               read every restored file back and check it\n"
    "      --no-owner             do not restore owners even as root\n"
    "      --numeric-ids          owners by the uid/gid stored, ignoring names (by\n"
    "                             default a user or group name that exists here gives\n"
    "                             its local id, as with tar; other owners keep their ids)\n"
    "      --host/--tag/--path    filters for 'latest'\n"
    "      --mysql                load the snapshot's database dumps into the server (each\n"
    "                             creates its database if missing), reporting per database\n"
    "      --databases A,B        only these databases\n"
    "      --mysql-defaults-file F  client option file (user, password, socket)\n"
    "      --mysql-client-command CMD  instead of mariadb/mysql (a shell command)\n"
    "      --until TIME           with --mysql: the newest dump before TIME (or SNAPSHOT), then\n"
    "                             the archived binary logs replayed from its position up to\n"
    "                             TIME (\"YYYY-MM-DD HH:MM:SS\" or RFC 3339); --dry-run prints\n"
    "                             the plan.  SNAPSHOT a physical backup: only the replay, into\n"
    "                             the server started on the datadir restored from it\n"
    "      --until-gtid GTID      as --until, up to the transaction before GTID (D-S-N)\n"
    "      --mysql-physical       extract the snapshot's physical backup into DIR (new or\n"
    "                             empty) and prepare it with mariadb-backup: a datadir\n"
    "      --mysql-backup-command CMD  instead of mariadb-backup (a shell command)\n",
    .opts = opts, .words = "latest",
};
