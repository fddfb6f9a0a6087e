/* cmd-unlock.c - arca unlock: clear locks left by processes that are gone (--force: all). */
#include "cli.h"

enum { O_FORCE = 1 };

static const struct option opts[] = {
    { "force", no_argument, NULL, O_FORCE },
    { 0 },
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    if (opt == O_FORCE) {
        *(bool *)ctx = true;
        return 0;
    }
    return cli_usage(c, "unknown option");
}

static int run(cli *c, int argc, char **argv)
{
    int first;
    bool force = false;
    int e = cli_parse(c, argc, argv, "", opts, on_opt, &force, &first);
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "unlock takes no arguments");
    if ((e = cli_open(c, 0)))
        return e;
    size_t removed = 0;
    char *live = NULL;
    int r = bk_repo_clean_locks(c->repo, &removed, &live);
    if (r < 0)
        return cli_fail(c, r);
    size_t broken = 0;
    if (force && live && *live) {
        free(live);
        live = NULL;
        if ((r = bk_repo_break_locks(c->repo, &broken)) < 0)
            return cli_fail(c, r);
        size_t more = 0;
        if ((r = bk_repo_clean_locks(c->repo, &more, &live)) < 0)   /* what is left */
            return cli_fail(c, r);
        removed += more;
    }
    if (c->json) {
        cli_json_print(json_pack("{s:I, s:I, s:s, s:b}", "removed", (json_int_t)removed,
                                 "broken", (json_int_t)broken, "held_by", live ? live : "",
                                 "changed", removed + broken > 0));
    } else {
        cli_info(c, "removed %zu stale %s\n", removed, cli_plural(removed, "lock", "locks"));
        if (broken)
            cli_info(c, "broke %zu %s of holders that may be alive (blocklisted first)\n",
                     broken, cli_plural(broken, "lock", "locks"));
        if (live && *live)
            printf("still held (their holders are alive): %s\n", live);
    }
    free(live);
    return EXIT_OK;
}

const command cmd_unlock = {
    "unlock", run, "unlock [--force]",
    "Remove locks whose holder is gone.  Locks of live processes stay: they are listed.\n"
    "Locks lapse by themselves when their holder dies (local: the kernel drops them;\n"
    "RADOS: they expire unless renewed), so this only tidies up.\n\n"
    "Options:\n"
    "      --force   RADOS: break the locks of holders that may be alive too (a stalled\n"
    "                process, another host), blocklisting each first so that it can no\n"
    "                longer write (needs the mon cap \"allow command \\\"osd blocklist\\\"\");\n"
    "                local locks are the kernel's and go only with their holders\n",
    .opts = opts,
};
