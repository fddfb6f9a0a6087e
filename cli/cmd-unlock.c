/* cmd-unlock.c - arca unlock: clear locks left by processes that are gone. */
#include "cli.h"

static int run(cli *c, int argc, char **argv)
{
    int first;
    int e = cli_parse(c, argc, argv, "", NULL, NULL, NULL, &first);
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
    if (c->json) {
        cli_json_print(json_pack("{s:I, s:s, s:b}", "removed", (json_int_t)removed, "held_by",
                                 live ? live : "", "changed", removed > 0));
    } else {
        cli_info(c, "removed %zu stale %s\n", removed, cli_plural(removed, "lock", "locks"));
        if (live && *live)
            printf("still held (their holders are alive): %s\n", live);
    }
    free(live);
    return EXIT_OK;
}

const command cmd_unlock = {
    "unlock", run, "unlock",
    "Remove locks whose holder is gone.  Locks of live processes stay: they are listed.\n"
    "Locks lapse by themselves when their holder dies (local: the kernel drops them;\n"
    "RADOS: they expire unless renewed), so this only tidies up.\n",
    .opts = NULL,
};
