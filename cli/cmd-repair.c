/* cmd-repair.c - arca repair: rebuild what can be rebuilt from what is left. */
#include <string.h>

#include "cli.h"

enum { O_READ_DATA = 1, O_FORGET };

static const struct option opts[] = {
    { "read-data", no_argument, NULL, O_READ_DATA },
    { "forget", no_argument, NULL, O_FORGET },
    { "dry-run", no_argument, NULL, 'n' },
    { 0 },
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    bk_repair_opts *o = ctx;
    switch (opt) {
    case O_READ_DATA: o->read_data = true; return 0;
    case O_FORGET: o->forget = true; return 0;
    case 'n': o->dry_run = true; return 0;
    }
    return cli_usage(c, "unknown option");
}

static json_t *stats_json(const bk_repair_stats *s, const bk_repair_opts *o, bool changed)
{
    return json_pack("{s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                     "s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                     "dry_run", o->dry_run, "changed", changed,
                     "config_rewritten", s->config_rewritten,
                     "packs", (json_int_t)s->packs, "packs_read", (json_int_t)s->packs_read,
                     "packs_damaged", (json_int_t)s->packs_damaged,
                     "packs_rewritten", (json_int_t)s->packs_rewritten,
                     "packs_missing", (json_int_t)s->packs_missing,
                     "packs_unindexed", (json_int_t)s->packs_unindexed,
                     "blobs_corrupt", (json_int_t)s->blobs_corrupt,
                     "blobs_salvaged", (json_int_t)s->blobs_salvaged,
                     "blobs_lost", (json_int_t)s->blobs_lost,
                     "trees_from_cache", (json_int_t)s->trees_from_cache,
                     "blobs_indexed", (json_int_t)s->blobs_indexed,
                     "index_damaged", (json_int_t)s->index_damaged,
                     "index_rewritten", s->index_rewritten,
                     "snapshots", (json_int_t)s->snapshots,
                     "snapshots_damaged", (json_int_t)s->snapshots_damaged,
                     "snapshots_restored", (json_int_t)s->snapshots_restored,
                     "snapshots_repaired", (json_int_t)s->snapshots_repaired,
                     "snapshots_forgotten", (json_int_t)s->snapshots_forgotten,
                     "files_lost", (json_int_t)s->files_lost,
                     "dirs_lost", (json_int_t)s->dirs_lost,
                     "duration", s->duration);
}

static int run(cli *c, int argc, char **argv)
{
    bk_repair_opts o = { 0 };
    int first;
    int e = cli_parse(c, argc, argv, "n", opts, on_opt, &o, &first);
    if (e)
        return e;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "config") == 0)
            o.what |= BK_REPAIR_CONFIG;
        else if (strcmp(argv[i], "index") == 0 || strcmp(argv[i], "packs") == 0)
            o.what |= BK_REPAIR_INDEX;
        else if (strcmp(argv[i], "snapshots") == 0)
            o.what |= BK_REPAIR_SNAPSHOTS;
        else
            return cli_usage(c, "repair what? '%s' (config, index, packs, snapshots)", argv[i]);
    }
    /* nothing named: config and index, and a report (only) of the snapshots that name lost
     * data, since a backup of the same sources may still store it again */
    bool all = !o.what;
    if (all)
        o.what = BK_REPAIR_CONFIG | BK_REPAIR_INDEX;
    if (o.forget && !(o.what & BK_REPAIR_SNAPSHOTS))
        return cli_usage(c, "--forget goes with repair snapshots");
    c->allow_no_config = (o.what & BK_REPAIR_CONFIG) != 0;
    cli_default_lock_wait(c, 60 * 1000);
    if ((e = cli_open(c, o.dry_run ? OPEN_SHARED : OPEN_EXCLUSIVE)))
        return e;
    bk_repair_stats st;
    int r = bk_repair(c->repo, &o, &st);
    if (r == 0 && all) {
        bk_repair_opts so = { .what = BK_REPAIR_SNAPSHOTS, .dry_run = true };
        bk_repair_stats ss;
        r = bk_repair(c->repo, &so, &ss);
        st.snapshots = ss.snapshots;
        st.snapshots_damaged = ss.snapshots_damaged;
        st.files_lost = ss.files_lost;
        st.dirs_lost = ss.dirs_lost;
        if (r == 0 && (ss.snapshots_repaired || ss.snapshots_damaged))
            cli_err(c, "%llu snapshot%s name lost data: run a backup of the same sources (it stores "
                    "again what is still there), then arca repair snapshots",
                    (unsigned long long)(ss.snapshots_repaired + ss.snapshots_damaged),
                    ss.snapshots_repaired + ss.snapshots_damaged == 1 ? "" : "s");
    }
    if (r < 0)
        return cli_fail(c, r);
    uint64_t unrepaired = st.snapshots_damaged - st.snapshots_restored - st.snapshots_forgotten;
    bool any_lost = st.blobs_lost || st.files_lost || st.dirs_lost || unrepaired;
    bool changed = !o.dry_run && (st.config_rewritten || st.index_rewritten ||
                                  st.snapshots_restored || st.snapshots_repaired ||
                                  st.snapshots_forgotten);
    if (c->json) {
        cli_json_print(stats_json(&st, &o, changed));
    } else {
        const char *would = o.dry_run ? "would be " : "";
        cli_info(c, "%llu packs examined (%llu read whole): %llu damaged, %llu missing, %llu in no "
                 "index\n", (unsigned long long)st.packs, (unsigned long long)st.packs_read,
                 (unsigned long long)st.packs_damaged, (unsigned long long)st.packs_missing,
                 (unsigned long long)st.packs_unindexed);
        cli_info(c, "index: %s; %llu blobs salvaged, %llu lost\n",
                 st.index_rewritten ? (o.dry_run ? "would be rebuilt" : "rebuilt") : "intact",
                 (unsigned long long)st.blobs_salvaged, (unsigned long long)st.blobs_lost);
        cli_info(c, "%llu snapshots: %llu %ssaved again, %llu damaged (%llu %sput back, %llu "
                 "%sremoved); %llu files and %llu directories lost\n",
                 (unsigned long long)st.snapshots, (unsigned long long)st.snapshots_repaired, would,
                 (unsigned long long)st.snapshots_damaged, (unsigned long long)st.snapshots_restored,
                 would, (unsigned long long)st.snapshots_forgotten, would,
                 (unsigned long long)st.files_lost, (unsigned long long)st.dirs_lost);
    }
    if (any_lost) {
        cli_err(c, "some data is lost (named above)%s", st.blobs_lost ? ": run a backup of the "
                "same sources, which stores again what is still there" : "");
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

const command cmd_repair = {
    "repair", run, "repair [config|index|packs|snapshots]... [--read-data] [--forget] [--dry-run]",
    "Rebuild what can be rebuilt from what is left.  Nothing named: config and index, and\n"
    "a report of the snapshots that name lost data (a backup may still store it again).\n"
    "  config     make a lost or damaged config again (from the snapshots' chunker profile)\n"
    "  index      rebuild the index from the packs' headers; copy the intact blobs of damaged\n"
    "  (packs)    packs into new ones; blobs that are gone are no longer indexed, so the next\n"
    "             backup stores them again\n"
    "  snapshots  put back damaged snapshot objects from the local cache; save again, tagged\n"
    "             repaired, the snapshots whose files or directories lost data (named)\n"
    "Takes the exclusive lock.  Exit status 3: done, but some data is lost.\n\n"
    "Options:\n"
    "      --read-data            decrypt and re-hash every blob of every pack\n"
    "      --forget               remove the snapshots that were saved again, and damaged\n"
    "                             snapshot objects that cannot be put back\n"
    "  -n, --dry-run              report what would be done, change nothing\n",
    .opts = opts, .words = "config index packs snapshots",
};
