/* cmd-dump.c - arca dump: one file to standard output, or a directory as tar. */
#include <unistd.h>

#include "cli.h"

static int run(cli *c, int argc, char **argv)
{
    cli_filter f = { 0 };
    int first;
    int e = cli_parse_filter(c, argc, argv, &f, &first);
    if (e)
        return e;
    if (argc - first != 2)
        return cli_usage(c, "usage: dump SNAPSHOT PATH");
    if ((e = cli_open(c, OPEN_READER)))
        return e;
    bk_snapshot *s;
    if ((e = cli_find_snapshot(c, argv[first], &f, &s)))
        return e;
    fflush(stdout);
    int r = bk_dump(c->repo, s, argv[first + 1], STDOUT_FILENO);
    bk_snapshot_free(s);
    if (r < 0)
        return cli_fail(c, r);
    return EXIT_OK;
}

const command cmd_dump = {
    "dump", run, "dump SNAPSHOT PATH",
    "Write the content of the file PATH to standard output, or, if PATH is a directory,\n"
    "a tar (pax) archive of it with full metadata (sockets, which tar cannot hold, are\n"
    "left out with a warning).\n",
    .opts = cli_filter_opts, .words = "latest",
};
