/* cmd-check.c - arca check: verify the repository. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { O_READ_DATA = 1, O_SUBSET, O_SCAN_ORPHANS };

static const struct option opts[] = {
    { "read-data", no_argument, NULL, O_READ_DATA },
    { "read-data-subset", required_argument, NULL, O_SUBSET },
    { "scan-orphans", no_argument, NULL, O_SCAN_ORPHANS },
    { 0 },
};

struct check_opts {
    unsigned flags;
    bk_check_subset subset;
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct check_opts *o = ctx;
    if (opt == O_READ_DATA) {
        o->flags |= BK_CHECK_READ_DATA;
        return 0;
    }
    if (opt == O_SCAN_ORPHANS) {
        o->flags |= BK_CHECK_SCAN_ORPHANS;
        return 0;
    }
    if (opt == O_SUBSET) {
        unsigned n, t;
        char tail;
        char *end;
        o->flags |= BK_CHECK_READ_DATA;
        if (sscanf(arg, "%u/%u%c", &n, &t, &tail) == 2 && n >= 1 && t >= 1 && n <= t) {
            o->subset.n = n;
            o->subset.t = t;
            return 0;
        }
        double pct = strtod(arg, &end);
        if (end != arg && strcmp(end, "%") == 0 && pct > 0 && pct <= 100) {
            o->subset.share = pct / 100;
            return 0;
        }
        return cli_usage(c, "--read-data-subset: expected n/t (e.g. 1/7) or a percentage (10%%)");
    }
    return cli_usage(c, "unknown option");
}

static int run(cli *c, int argc, char **argv)
{
    struct check_opts o = { 0 };
    int first;
    int e = cli_parse(c, argc, argv, "", opts, on_opt, &o, &first);
    unsigned flags = o.flags;
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "check takes no arguments");
    if ((e = cli_open(c, OPEN_READER)))
        return e;
    bk_check_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = bk_check(c->repo, flags, &o.subset, &res);
    if (r < 0)
        return cli_fail(c, r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* for arca status: the check ran to its end (with --no-lock there is no lock to write
     * under, so nothing is recorded) */
    bk_check_record rec = {
        .time = time(NULL),
        .read_data = flags & BK_CHECK_READ_DATA,
        .read_share = !(flags & BK_CHECK_READ_DATA) ? 0 : o.subset.t ? 1.0 / o.subset.t
                      : o.subset.share ? o.subset.share : 1,
        .errors = res.errors, .snapshots = res.snapshots, .packs = res.packs,
        .duration = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
    };
    gethostname(rec.host, sizeof(rec.host) - 1);
    if (!c->no_lock && bk_check_record_save(c->repo, &rec) < 0)
        cli_err(c, "warning: %s", bk_repo_errmsg(c->repo));
    cli_figure(c, "errors", (double)res.errors);
    cli_figure(c, "snapshots", (double)res.snapshots);
    if (c->json) {
        cli_json_print(json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", res.errors == 0,
                                 "orphans", (json_int_t)res.orphans,
                                 "packs_read", (json_int_t)res.packs_read,
                                 "errors", (json_int_t)res.errors,
                                 "snapshots", (json_int_t)res.snapshots,
                                 "trees", (json_int_t)res.trees, "blobs", (json_int_t)res.blobs,
                                 "packs", (json_int_t)res.packs,
                                 "index_objects", (json_int_t)res.index_objects,
                                 "bytes_read", (json_int_t)res.bytes_read));
    } else if (res.errors == 0) {
        cli_info(c, "no errors: %llu %s, %llu %s, %llu %s in %llu %s%s\n",
                 (unsigned long long)res.snapshots, cli_plural(res.snapshots, "snapshot", "snapshots"),
                 (unsigned long long)res.trees, cli_plural(res.trees, "tree", "trees"),
                 (unsigned long long)res.blobs, cli_plural(res.blobs, "blob", "blobs"),
                 (unsigned long long)res.packs, cli_plural(res.packs, "pack", "packs"),
                 flags & BK_CHECK_READ_DATA ? (o.subset.t || o.subset.share ? ", a subset of the data read and verified" : ", all data read and verified") : "");
    }
    if (res.orphans)
        cli_err(c, "warning: %llu %s in no catalog (see above)", (unsigned long long)res.orphans,
                cli_plural(res.orphans, "object is", "objects are"));
    if (res.errors) {
        cli_err(c, "%llu %s found", (unsigned long long)res.errors,
                cli_plural(res.errors, "error", "errors"));
        return EXIT_FATAL;
    }
    return EXIT_OK;
}

const command cmd_check = {
    "check", run, "check [--read-data | --read-data-subset n/t | --read-data-subset x%] [--scan-orphans]",
    "Check the repository's structure: every snapshot's trees and blobs are in the index,\n"
    "every indexed pack exists and its header agrees with the index.\n\n"
    "Options:\n"
    "      --read-data            also read every pack, decrypt and re-hash every blob\n"
    "      --read-data-subset n/t read the n-th of t parts of the packs (by pack id): a\n"
    "                             weekly job with 1/7 .. 7/7 reads everything once a week\n"
    "      --read-data-subset x%  read a random x% of the packs\n"
    "      --scan-orphans         RADOS: also walk the whole pool for objects of the\n"
    "                             repository that no catalog lists (costs what the pool\n"
    "                             holds; no other command scans the pool)\n",
    .opts = opts,
};
