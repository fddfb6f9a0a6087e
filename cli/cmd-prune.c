/* cmd-prune.c - arca prune: remove data no snapshot needs. */
#include <stdlib.h>

#include "cli.h"

enum { O_MAX_UNUSED = 1 };

static const struct option opts[] = {
    { "max-unused", required_argument, NULL, O_MAX_UNUSED },
    { "dry-run", no_argument, NULL, 'n' },
    { 0 },
};

struct prune_opts {
    bk_prune_opts po;
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct prune_opts *o = ctx;
    if (opt == 'n') {
        o->po.dry_run = true;
        return 0;
    }
    if (opt == O_MAX_UNUSED) {
        if (cli_parse_max_unused(arg, &o->po.max_unused) < 0)
            return cli_usage(c, "--max-unused: expected a percentage (5%%) or a fraction, got '%s'", arg);
        return 0;
    }
    return cli_usage(c, "unknown option");
}

int cli_prune_report(cli *c, const bk_prune_stats *st, bool dry_run, json_t **ret_json)
{
    bool changed = !dry_run && (st->bytes_freed > 0 || st->packs_deleted || st->packs_repacked ||
                                st->packs_unindexed || st->temp_files);
    if (ret_json) {
        *ret_json = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                              "s:I, s:I, s:I, s:f, s:f}",
                              "dry_run", dry_run, "changed", changed,
                              "packs", (json_int_t)st->packs, "blobs", (json_int_t)st->blobs,
                              "bytes", (json_int_t)st->bytes, "blobs_used", (json_int_t)st->blobs_used,
                              "bytes_used", (json_int_t)st->bytes_used,
                              "packs_deleted", (json_int_t)st->packs_deleted,
                              "packs_repacked", (json_int_t)st->packs_repacked,
                              "bytes_repacked", (json_int_t)st->bytes_repacked,
                              "packs_kept_late", (json_int_t)st->packs_kept_late,
                              "packs_unindexed", (json_int_t)st->packs_unindexed,
                              "temp_files", (json_int_t)st->temp_files,
                              "temp_bytes", (json_int_t)st->temp_bytes,
                              "bytes_freed", (json_int_t)st->bytes_freed,
                              "snapshots_during", (json_int_t)st->snapshots_during,
                              "duration", st->duration, "locked_duration", st->locked_duration);
        return EXIT_OK;
    }
    char total[32], used[32], freed[32];
    cli_format_bytes(st->bytes, total, sizeof(total));
    cli_format_bytes(st->bytes_used, used, sizeof(used));
    cli_format_bytes(st->bytes_freed, freed, sizeof(freed));
    cli_info(c, "%llu %s (%s), %s used by snapshots\n", (unsigned long long)st->packs,
             cli_plural(st->packs, "pack", "packs"), total, used);
    cli_info(c, "%s %llu %s, repack%s %llu, %llu packs and %llu temporary files left by "
             "interrupted runs: %s %s\n",
             dry_run ? "would delete" : "deleted", (unsigned long long)st->packs_deleted,
             cli_plural(st->packs_deleted, "pack", "packs"),
             dry_run ? "" : "ed", (unsigned long long)st->packs_repacked,
             (unsigned long long)st->packs_unindexed, (unsigned long long)st->temp_files,
             dry_run ? "would free" : "freed", freed);
    return EXIT_OK;
}

static int run(cli *c, int argc, char **argv)
{
    struct prune_opts o = { { 0.05, false } };
    int first;
    int e = cli_parse(c, argc, argv, "n", opts, on_opt, &o, &first);
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "prune takes no arguments");
    cli_default_lock_wait(c, 60 * 60 * 1000);   /* the commit waits for running backups */
    if ((e = cli_open(c, 0)))
        return e;
    bk_prune_stats st;
    int r = bk_prune(c->repo, &o.po, &st);
    if (r < 0)
        return cli_fail(c, r);
    json_t *j = NULL;
    cli_figure(c, "bytes_freed", o.po.dry_run ? 0 : (double)st.bytes_freed);
    cli_prune_report(c, &st, o.po.dry_run, c->json ? &j : NULL);
    if (j)
        cli_json_print(j);
    return EXIT_OK;
}

const command cmd_prune = {
    "prune", run, "prune [--max-unused LIMIT] [--dry-run]",
    "Remove packs no snapshot needs and repack packs that are mostly unused.  Plans\n"
    "without a lock; only the final step (new index, then deletions) takes the exclusive\n"
    "lock, which waits for running backups (--retry-lock) and honours their snapshots.\n\n"
    "Options:\n"
    "      --max-unused LIMIT     repack packs with more unused data than this (default 5%)\n"
    "  -n, --dry-run              show what would be freed\n",
    .opts = opts,
};
