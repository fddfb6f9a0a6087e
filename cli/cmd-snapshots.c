/* cmd-snapshots.c - arca snapshots: list snapshots. */
#include <string.h>

#include "cli.h"

static int run(cli *c, int argc, char **argv)
{
    cli_filter f = { 0 };
    int first;
    int e = cli_parse_filter(c, argc, argv, &f, &first);
    if (e)
        return e;
    if (first < argc)
        return cli_usage(c, "snapshots takes no arguments");
    if ((e = cli_open(c, 0)))
        return e;
    bk_filter bf = cli_filter_get(&f);
    bk_snapshot **v;
    size_t n;
    int r = bk_snapshots_list(c->repo, &bf, &v, &n);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, cli_snapshot_json(v[i]));
        cli_json_print(a);
    } else {
        printf("%-8s  %-25s  %-16s  %-20s  %s\n", "ID", "Time", "Host", "Tags", "Paths");
        printf("------------------------------------------------------------------------------------\n");
        for (size_t i = 0; i < n; i++) {
            char id[BK_ID_HEX], when[48], tags[256] = "";
            bk_id_hex(&v[i]->id, id);
            bk_snapshot_time_str(v[i], when);
            memmove(when + 19, when + 29, strlen(when + 29) + 1);   /* drop nanoseconds */
            for (size_t t = 0; t < v[i]->ntags; t++) {
                size_t l = strlen(tags);
                snprintf(tags + l, sizeof(tags) - l, "%s%s", t ? "," : "", v[i]->tags[t]);
            }
            printf("%.8s  %-25s  ", id, when);
            cli_print_field(stdout, v[i]->host, -16);   /* host and tags: anything --host and */
            fputs("  ", stdout);                         /* --tag were given, escaped */
            cli_print_field(stdout, tags, -20);
            fputs("  ", stdout);
            for (size_t p = 0; p < v[i]->npaths; p++) {
                if (p)
                    printf("\n%80s", "");
                cli_print_path(stdout, v[i]->paths[p], strlen(v[i]->paths[p]));
            }
            putchar('\n');
        }
        printf("%zu %s\n", n, cli_plural(n, "snapshot", "snapshots"));
    }
    bk_snapshots_free(v, n);
    size_t damaged = bk_snapshots_damaged(c->repo, NULL);
    if (damaged) {
        cli_err(c, "%zu damaged snapshot%s left out (see above)", damaged, damaged == 1 ? "" : "s");
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

const command cmd_snapshots = {
    "snapshots", run, "snapshots [--host HOST] [--tag TAG[,TAG]] [--path PATH]",
    "List the snapshots, oldest first.  A damaged snapshot object is named on standard\n"
    "error and left out (exit status 3).\n\n"
    "Options:\n"
    "      --host HOST            only snapshots of HOST (repeat for several)\n"
    "      --tag TAGS             only snapshots with all of TAGS (a,b); repeat for alternatives\n"
    "      --path PATH            only snapshots that include PATH\n",
    .opts = cli_filter_opts,
};
