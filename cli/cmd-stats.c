/* cmd-stats.c - arca stats: repository statistics. */
#include "cli.h"

static int run(cli *c, int argc, char **argv)
{
    int first;
    int e = cli_parse(c, argc, argv, "", NULL, NULL, NULL, &first);
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "stats takes no arguments");
    if ((e = cli_open(c, 0)))
        return e;
    bk_stats st;
    int r = bk_stats_get(c->repo, &st);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json) {
        cli_json_print(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                 "id", bk_repo_id(c->repo), "snapshots", (json_int_t)st.snapshots,
                                 "packs", (json_int_t)st.packs, "pack_bytes", (json_int_t)st.pack_bytes,
                                 "blobs", (json_int_t)st.blobs, "data_blobs", (json_int_t)st.data_blobs,
                                 "tree_blobs", (json_int_t)st.tree_blobs,
                                 "blob_bytes_raw", (json_int_t)st.blob_bytes_raw,
                                 "blob_bytes_stored", (json_int_t)st.blob_bytes_stored,
                                 "index_objects", (json_int_t)st.index_objects));
        return EXIT_OK;
    }
    char raw[32], stored[32], packs[32];
    cli_format_bytes(st.blob_bytes_raw, raw, sizeof(raw));
    cli_format_bytes(st.blob_bytes_stored, stored, sizeof(stored));
    cli_format_bytes(st.pack_bytes, packs, sizeof(packs));
    printf("repository %s\n", bk_repo_id(c->repo));
    printf("snapshots:      %llu\n", (unsigned long long)st.snapshots);
    printf("blobs:          %llu (%llu data, %llu tree)\n", (unsigned long long)st.blobs,
           (unsigned long long)st.data_blobs, (unsigned long long)st.tree_blobs);
    printf("unique data:    %s, stored as %s\n", raw, stored);
    printf("packs:          %llu, %s\n", (unsigned long long)st.packs, packs);
    printf("index objects:  %llu\n", (unsigned long long)st.index_objects);
    return EXIT_OK;
}

const command cmd_stats = {
    "stats", run, "stats",
    "Repository statistics: snapshots, unique blobs and their sizes before and after\n"
    "compression, packs.\n",
    .opts = NULL,
};
