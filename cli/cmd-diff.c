/* cmd-diff.c - arca diff: what changed between two snapshots. */
#include <string.h>

#include "cli.h"

struct diff_ctx {
    json_t *arr;
    uint64_t added, removed, modified, meta, type;
};

static int on_diff(bk_diff_kind kind, const bk_node_info *a, const bk_node_info *b, void *ud)
{
    struct diff_ctx *d = ud;
    const bk_node_info *n = b ? b : a;
    switch (kind) {
    case BK_DIFF_ADDED: d->added++; break;
    case BK_DIFF_REMOVED: d->removed++; break;
    case BK_DIFF_MODIFIED: d->modified++; break;
    case BK_DIFF_META: d->meta++; break;
    case BK_DIFF_TYPE: d->type++; break;
    }
    if (d->arr) {
        static const char *names[] = { ['+'] = "added", ['-'] = "removed", ['M'] = "modified",
                                       ['U'] = "metadata", ['T'] = "type" };
        json_t *o = cli_node_json(n);
        json_object_set_new(o, "change", json_string(names[kind]));
        json_array_append_new(d->arr, o);
        return 0;
    }
    printf("%c    ", (char)kind);
    cli_print_path(stdout, n->path, n->path_len);
    putchar('\n');
    return cli_out_check();
}

static int run(cli *c, int argc, char **argv)
{
    cli_filter f = { 0 };
    int first;
    int e = cli_parse_filter(c, argc, argv, &f, &first);
    if (e)
        return e;
    if (argc - first != 2)
        return cli_usage(c, "usage: diff SNAPSHOT1 SNAPSHOT2");
    if ((e = cli_open(c, 0)))
        return e;
    bk_snapshot *a, *b;
    if ((e = cli_find_snapshot(c, argv[first], &f, &a)))
        return e;
    if ((e = cli_find_snapshot(c, argv[first + 1], &f, &b))) {
        bk_snapshot_free(a);
        return e;
    }
    struct diff_ctx d = { 0 };
    if (c->json)
        d.arr = json_array();
    int r = bk_diff(c->repo, a, b, on_diff, &d);
    bk_snapshot_free(a);
    bk_snapshot_free(b);
    if (r < 0) {
        json_decref(d.arr);
        return cli_fail(c, r);
    }
    if (c->json) {
        cli_json_print(json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "changes", d.arr, "stats",
                                 "added", (json_int_t)d.added, "removed", (json_int_t)d.removed,
                                 "modified", (json_int_t)d.modified, "metadata", (json_int_t)d.meta,
                                 "type", (json_int_t)d.type));
    } else {
        cli_info(c, "\n%llu added, %llu removed, %llu modified, %llu metadata only, %llu type changed\n",
                 (unsigned long long)d.added, (unsigned long long)d.removed,
                 (unsigned long long)d.modified, (unsigned long long)d.meta,
                 (unsigned long long)d.type);
    }
    return EXIT_OK;
}

const command cmd_diff = {
    "diff", run, "diff SNAPSHOT1 SNAPSHOT2",
    "Show added (+), removed (-), modified (M), metadata-only (U) and type-changed (T)\n"
    "entries.  Unchanged directories are skipped without reading them.\n",
    .opts = cli_filter_opts, .words = "latest",
};
