/* cmd-version.c - arca version: the version, and with --json what the build holds. */
#include "cli.h"

int cli_print_version(cli *c)
{
    bk_build_info b;
    bk_build_info_get(&b);
    if (!c->json) {
        printf("arca %s (repository format %d)\n", b.version, b.format_version);
        if (c->verbosity > 0)
            printf("RADOS %s; libsodium %s, libcrypto %s, zstd %s, libarchive %s, jansson %s%s%s\n",
                   b.rados ? "on" : "off", b.libsodium, b.libcrypto, b.zstd, b.libarchive,
                   b.jansson, b.rados ? ", librados " : "", b.librados);
        return EXIT_OK;
    }
    json_t *j = json_pack("{s:s, s:i, s:{s:b}, s:{s:s, s:s, s:s, s:s, s:s, s:o}}",
                          "version", b.version, "format_version", b.format_version,
                          "features", "rados", b.rados,
                          "libraries", "libsodium", b.libsodium, "libcrypto", b.libcrypto,
                          "zstd", b.zstd,
                          "libarchive", b.libarchive, "jansson", b.jansson,
                          "librados", b.rados ? json_string(b.librados) : json_null());
    cli_json_print(j);
    return EXIT_OK;
}

static int run(cli *c, int argc, char **argv)
{
    int first;
    int e = cli_parse(c, argc, argv, "", NULL, NULL, NULL, &first);
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "version takes no arguments");
    return cli_print_version(c);
}

const command cmd_version = {
    "version", run, "version",
    "Print the version of arca and of the repository format it writes; with -v also\n"
    "the libraries it runs with.  With --json: version, format_version, features (rados:\n"
    "whether it was built with Ceph RADOS support) and libraries (libsodium, zstd,\n"
    "libarchive, jansson, librados: their versions, librados null without RADOS).\n"
    "--version, before or after any command, does the same.\n",
    .opts = NULL,
};
