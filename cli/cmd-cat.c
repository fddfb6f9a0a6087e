/* cmd-cat.c - arca cat: one repository object, decrypted, for inspection. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int run(cli *c, int argc, char **argv)
{
    int first;
    int e = cli_parse(c, argc, argv, "", NULL, NULL, NULL, &first);
    if (e)
        return e;
    int nargs = argc - first;
    bool config = nargs >= 1 && strcmp(argv[first], "config") == 0;
    if (nargs != (config ? 1 : 2))
        return cli_usage(c, "usage: cat config | cat key|snapshot|index|pack|tree|blob ID");
    if ((e = cli_open(c, OPEN_NO_LOCK)))
        return e;
    uint8_t *p;
    size_t n;
    int r = bk_cat(c->repo, argv[first], config ? NULL : argv[first + 1], &p, &n);
    if (r < 0)
        return r == -EINVAL ? cli_usage(c, "%s", bk_repo_errmsg(c->repo)) : cli_fail(c, r);
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(STDOUT_FILENO, p + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            free(p);
            cli_err(c, "cannot write to standard output: %s", strerror(errno));
            return EXIT_FATAL;
        }
        done += (size_t)k;
    }
    bool text = strcmp(argv[first], "blob") != 0;
    if (text && n && p[n - 1] != '\n')
        r = write(STDOUT_FILENO, "\n", 1) == 1 ? 0 : -errno;
    free(p);
    return r < 0 ? EXIT_FATAL : EXIT_OK;
}

const command cmd_cat = {
    "cat", run, "cat config | cat key|snapshot|index|pack|tree|blob ID",
    "Print one repository object, decrypted and checked: the config, a key slot, a\n"
    "snapshot document, an index object, a pack's header or a tree blob as JSON, a data\n"
    "blob as its raw bytes.  key, snapshot, index and pack take an id or a unique\n"
    "prefix; tree and blob a full blob id (as 'arca cat tree' and 'ls --json' show).\n"
    "For inspecting and debugging a repository; takes no lock.\n",
    .words = "config key snapshot index pack tree blob",
};
