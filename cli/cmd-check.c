/* cmd-check.c - arca check: verify the repository. */
#include "cli.h"

enum { O_READ_DATA = 1 };

static const struct option opts[] = {
    { "read-data", no_argument, NULL, O_READ_DATA },
    { 0 },
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    if (opt == O_READ_DATA) {
        *(unsigned *)ctx |= BK_CHECK_READ_DATA;
        return 0;
    }
    return cli_usage(c, "unknown option");
}

static int run(cli *c, int argc, char **argv)
{
    unsigned flags = 0;
    int first;
    int e = cli_parse(c, argc, argv, "", opts, on_opt, &flags, &first);
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "check takes no arguments");
    if ((e = cli_open(c, 1)))
        return e;
    bk_check_result res;
    int r = bk_check(c->repo, flags, &res);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json) {
        cli_json_print(json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", res.errors == 0,
                                 "errors", (json_int_t)res.errors,
                                 "snapshots", (json_int_t)res.snapshots,
                                 "trees", (json_int_t)res.trees, "blobs", (json_int_t)res.blobs,
                                 "packs", (json_int_t)res.packs,
                                 "index_objects", (json_int_t)res.index_objects,
                                 "bytes_read", (json_int_t)res.bytes_read));
    } else if (res.errors == 0) {
        cli_info(c, "no errors: %llu snapshots, %llu trees, %llu blobs in %llu packs%s\n",
                 (unsigned long long)res.snapshots, (unsigned long long)res.trees,
                 (unsigned long long)res.blobs, (unsigned long long)res.packs,
                 flags & BK_CHECK_READ_DATA ? ", all data read and verified" : "");
    }
    if (res.errors) {
        cli_err(c, "%llu errors found", (unsigned long long)res.errors);
        return EXIT_FATAL;
    }
    return EXIT_OK;
}

const command cmd_check = {
    "check", run, "check [--read-data]",
    "Check the repository's structure: every snapshot's trees and blobs are in the index,\n"
    "every indexed pack exists and its header agrees with the index.\n\n"
    "Options:\n"
    "      --read-data            also read every pack, decrypt and re-hash every blob\n",
};
