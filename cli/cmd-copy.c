/* cmd-copy.c - arca copy: copy snapshots from another repository into -r REPO. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct option opts[] = {
    FROM_OPTIONS,
    FILTER_OPTIONS,
    { "dry-run", no_argument, NULL, 'n' },
    { 0 },
};

struct copy_opts {
    cli_filter f;
    bool dry_run;
};

struct copy_out {
    cli *c;
    json_t *list;                /* --json */
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct copy_opts *o = ctx;
    if (cli_from_opt(c, opt, arg) == 0 || cli_filter_opt(&o->f, opt, arg) == 0)
        return 0;
    if (opt == 'n') {
        o->dry_run = true;
        return 0;
    }
    return cli_usage(c, "unknown option");
}

static void describe(const bk_snapshot *s, char *out, size_t len)
{
    char t[48];
    bk_snapshot_time_str(s, t);
    size_t k = (size_t)snprintf(out, len, "(%s", s->host);
    for (size_t i = 0; i < s->npaths && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, " %s", s->paths[i]);
    if (k < len)
        snprintf(out + k, len - k, ", %.19s)", t);
}

static void on_snapshot(const bk_snapshot *s, const bk_id *dst, int status, void *ud)
{
    struct copy_out *out = ud;
    char src_hex[BK_ID_HEX], dst_hex[BK_ID_HEX] = "";
    bk_id_hex(&s->id, src_hex);
    if (dst)
        bk_id_hex(dst, dst_hex);
    static const char *const names[] = { "copied", "present", "would_copy" };
    if (out->list) {
        json_array_append_new(out->list, json_pack("{s:s, s:o, s:s}", "source", src_hex,
                                                   "destination", dst ? json_string(dst_hex) : json_null(),
                                                   "status", names[status]));
        return;
    }
    char what[512];
    describe(s, what, sizeof(what));
    if (status == BK_COPY_COPIED)
        cli_info(out->c, "snapshot %.8s %s copied as %.8s\n", src_hex, what, dst_hex);
    else if (status == BK_COPY_PRESENT)
        cli_info(out->c, "snapshot %.8s %s is in the destination already (as %.8s)\n", src_hex,
                 what, dst_hex);
    else
        cli_info(out->c, "snapshot %.8s %s would be copied\n", src_hex, what);
}

/* The snapshots to copy: those named (ids, prefixes, latest), else all that match. */
static int select_snapshots(cli *c, const struct copy_opts *o, int argc, char **argv, int first,
                            bk_snapshot ***ret, size_t *ret_n)
{
    bk_filter f = cli_filter_get(&o->f);
    if (first >= argc) {
        int r = bk_snapshots_list(c->src, &f, ret, ret_n);
        if (r < 0) {
            cli_err(c, "source repository: %s", bk_repo_errmsg(c->src));
            return cli_exit_code(r);
        }
        return EXIT_OK;
    }
    bk_snapshot **v = calloc((size_t)(argc - first), sizeof(*v));
    if (!v)
        return EXIT_FATAL;
    size_t n = 0;
    for (int i = first; i < argc; i++) {
        int r = bk_snapshot_find(c->src, argv[i], &f, &v[n]);
        if (r < 0) {
            cli_err(c, "source repository: %s", r == -ENOENT ? "no such snapshot" : bk_repo_errmsg(c->src));
            if (r == -ENOENT || r == -EINVAL)
                cli_err(c, "(snapshot '%s')", argv[i]);
            bk_snapshots_free(v, n);
            return r == -ENOENT || r == -EINVAL ? EXIT_FATAL : cli_exit_code(r);
        }
        n++;
    }
    *ret = v;
    *ret_n = n;
    return EXIT_OK;
}

static int run(cli *c, int argc, char **argv)
{
    struct copy_opts o = { 0 };
    int first;
    int e = cli_parse(c, argc, argv, "n", opts, on_opt, &o, &first);
    if (e)
        return e;
    if (!cli_from_location(c))
        return cli_usage(c, "copy needs the source repository: --from-repo REPO (or "
                            "ARCA_FROM_REPOSITORY)");
    /* the destination is written: always under a shared lock (--no-lock is the source's) */
    bool no_lock = c->no_lock;
    c->no_lock = false;
    e = cli_open(c, OPEN_SHARED);
    c->no_lock = no_lock;
    if (e)
        return e;
    if ((e = cli_open_source(c)))
        return e;
    if (strcmp(bk_repo_id(c->repo), bk_repo_id(c->src)) == 0)
        return cli_usage(c, "the source and the destination are the same repository");
    bk_snapshot **v = NULL;
    size_t n = 0;
    if ((e = select_snapshots(c, &o, argc, argv, first, &v, &n)))
        return e;
    struct copy_out out = { c, c->json ? json_array() : NULL };
    bk_copy_opts co = { .dry_run = o.dry_run, .on_snapshot = on_snapshot, .ud = &out };
    if (c->tty_err && c->verbosity >= 0 && !c->json) {
        co.progress = cli_progress;
        co.progress_ud = c;
        c->unit_one = "snapshot";
        c->unit_many = "snapshots";
    }
    bk_copy_stats st;
    int r = bk_copy(c->repo, c->src, v, n, &co, &st);
    cli_progress_done(c);
    bk_snapshots_free(v, n);
    cli_figure(c, "snapshots_copied", (double)st.snapshots_copied);
    cli_figure(c, "bytes_added", (double)(o.dry_run ? 0 : st.bytes_copied));
    if (r < 0) {
        json_decref(out.list);
        return cli_fail(c, r);
    }
    uint64_t todo = o.dry_run ? n - st.snapshots_present : st.snapshots_copied;
    if (c->json) {
        cli_json_print(json_pack("{s:b, s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                                 "dry_run", o.dry_run, "changed", st.snapshots_copied > 0,
                                 "keys_match", st.keys_match,
                                 "snapshots", out.list,
                                 "snapshots_copied", (json_int_t)st.snapshots_copied,
                                 "snapshots_present", (json_int_t)st.snapshots_present,
                                 "snapshots_to_copy", (json_int_t)(o.dry_run ? todo : 0),
                                 "blobs_copied", (json_int_t)st.blobs_copied,
                                 "bytes_copied", (json_int_t)st.bytes_copied,
                                 "bytes_read", (json_int_t)st.bytes_read,
                                 "duration", st.duration));
        return EXIT_OK;
    }
    if (!st.keys_match && todo)
        cli_info(c, "the repositories' keys differ: blobs %s decoded, given new ids and stored "
                    "again, and trees rewritten (init --from-repo --copy-chunker-params makes a "
                    "destination that takes them as stored)\n", o.dry_run ? "would be" : "were");
    char bytes[32];
    cli_format_bytes(st.bytes_copied, bytes, sizeof(bytes));
    cli_info(c, "%s %llu %s (%llu there already): %llu %s, %s\n",
             o.dry_run ? "would copy" : "copied", (unsigned long long)todo,
             cli_plural(todo, "snapshot", "snapshots"), (unsigned long long)st.snapshots_present,
             (unsigned long long)st.blobs_copied, cli_plural(st.blobs_copied, "blob", "blobs"), bytes);
    return EXIT_OK;
}

const command cmd_copy = {
    "copy", run, "copy --from-repo REPO [--from-password-file F] [--from-ceph-conf PATH]\n"
    "          [--host H] [--tag T] [--path P] [--dry-run] [ID|latest]...",
    "Copy snapshots (all, those that match the filters, or those named) from the source\n"
    "repository into -r REPO: each one the destination has no copy of, with the blobs it\n"
    "lacks.  A copy records the id of the snapshot it was made from, so a second run copies\n"
    "nothing, and copies of copies are recognised.  Between repositories that share their\n"
    "keys (a destination made by init from the source), blobs travel as stored; otherwise\n"
    "they are decoded, given the destination's ids and stored again.  The destination\n"
    "takes a shared lock;\n"
    "the source a shared lock too, or none with --no-lock (it is then only read: a read-only\n"
    "Ceph user will do).  Killed, it leaves both repositories consistent; run it again.\n\n"
    "Options:\n"
    FROM_HELP
    "      --host HOST            only snapshots of HOST (repeat for several)\n"
    "      --tag TAGS             only snapshots with all of TAGS (a,b); repeat for alternatives\n"
    "      --path PATH            only snapshots of PATH (repeat: all of them)\n"
    "  -n, --dry-run              say what would be copied, copy nothing\n",
    .opts = opts,
};
