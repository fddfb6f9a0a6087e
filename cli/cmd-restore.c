/* cmd-restore.c - arca restore: write a snapshot (or part of it) into a directory. */
#include <string.h>

#include "cli.h"

enum { O_TARGET = 1, O_INCLUDE, O_EXCLUDE, O_DELETE, O_VERIFY, O_NO_OWNER };

static const struct option opts[] = {
    FILTER_OPTIONS,
    { "target", required_argument, NULL, O_TARGET },
    { "include", required_argument, NULL, O_INCLUDE },
    { "exclude", required_argument, NULL, O_EXCLUDE },
    { "dry-run", no_argument, NULL, 'n' },
    { "delete", no_argument, NULL, O_DELETE },
    { "verify", no_argument, NULL, O_VERIFY },
    { "no-owner", no_argument, NULL, O_NO_OWNER },
    { 0 },
};

struct restore_opts {
    cli_filter f;
    const char *target;
    const char *inc[256], *exc[256];
    size_t ninc, nexc;
    bool dry_run, del, verify, no_owner;
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
    }
    return cli_usage(c, "unknown option");
}

static int run(cli *c, int argc, char **argv)
{
    struct restore_opts o = { 0 };
    int first;
    int e = cli_parse(c, argc, argv, "n", opts, on_opt, &o, &first);
    if (e)
        return e;
    if (argc - first != 1)
        return cli_usage(c, "usage: restore SNAPSHOT --target DIR");
    if (!o.target)
        return cli_usage(c, "--target DIR is required");
    if ((e = cli_open(c, 1)))
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
        cli_info(c, "%s %llu files, %llu directories, %llu others (%s written, %s fetched) in %s\n",
                 o.dry_run ? "Would restore" : "Restored",
                 (unsigned long long)st.files_restored, (unsigned long long)st.dirs,
                 (unsigned long long)st.others, w, f, dur);
    }
    if (st.errors) {
        cli_err(c, "%llu entries could not be restored (see above)", (unsigned long long)st.errors);
        return EXIT_FATAL;
    }
    return EXIT_OK;
}

const command cmd_restore = {
    "restore", run, "restore SNAPSHOT --target DIR [--include PATH] [--exclude PATTERN]",
    "Restore a snapshot, or the parts selected by --include, into DIR (created if\n"
    "missing) with owners (as root), modes, times, xattrs, ACLs, hard links and holes.\n\n"
    "Options:\n"
    "      --target DIR           where to restore (required)\n"
    "      --include PATH         restore only PATH (or a glob) and what is below it (repeat)\n"
    "      --exclude PATTERN      skip matching entries (repeat)\n"
    "  -n, --dry-run              say what would be restored, write nothing\n"
    "      --no-owner             do not restore owners even as root\n"
    "      --host/--tag/--path    filters for 'latest'\n",
};
