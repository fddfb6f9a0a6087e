/* cmd-ls.c - arca ls: list what a snapshot holds. */
#include <string.h>
#include <time.h>

#include "cli.h"

static const struct option opts[] = {
    FILTER_OPTIONS,
    { "long", no_argument, NULL, 'l' },
    { "recursive", no_argument, NULL, 'R' },
    { 0 },
};

struct ls_opts {
    cli_filter f;
    bool lng, recursive;
    cli *c;
    json_t *arr;
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct ls_opts *o = ctx;
    if (cli_filter_opt(&o->f, opt, arg) == 0)
        return 0;
    if (opt == 'l') {
        o->lng = true;
        return 0;
    }
    if (opt == 'R') {
        o->recursive = true;
        return 0;
    }
    return cli_usage(c, "unknown option");
}

static void mode_string(const bk_node_info *n, char out[11])
{
    static const char types[] = "?-dlpcbs";
    out[0] = types[n->type <= 7 ? n->type : 0];
    static const char rwx[] = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (n->mode & (0400u >> i)) ? rwx[i] : '-';
    if (n->mode & 04000) out[3] = (n->mode & 0100) ? 's' : 'S';
    if (n->mode & 02000) out[6] = (n->mode & 010) ? 's' : 'S';
    if (n->mode & 01000) out[9] = (n->mode & 01) ? 't' : 'T';
    out[10] = 0;
}

static int print_node(const bk_node_info *n, void *ud)
{
    struct ls_opts *o = ud;
    if (o->arr) {
        json_array_append_new(o->arr, cli_node_json(n));
        return 0;
    }
    if (o->lng) {
        char mode[11], when[32];
        mode_string(n, mode);
        time_t t = (time_t)n->mtime;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        /* an owner with no name (none on the machine backed up): its number, as ls -l */
        char uid[16], gid[16];
        snprintf(uid, sizeof(uid), "%u", (unsigned)n->uid);
        snprintf(gid, sizeof(gid), "%u", (unsigned)n->gid);
        printf("%s ", mode);
        cli_print_field(stdout, *n->user ? n->user : uid, 8);
        putchar(' ');
        cli_print_field(stdout, *n->group ? n->group : gid, 8);
        printf(" %12llu %s ", (unsigned long long)n->size, when);
    }
    cli_print_path(stdout, n->path, n->path_len);
    if (o->lng && n->link_target) {
        fputs(" -> ", stdout);
        cli_print_path(stdout, n->link_target, strlen(n->link_target));
    }
    putchar('\n');
    return cli_out_check();
}

static int run(cli *c, int argc, char **argv)
{
    struct ls_opts o = { .c = c };
    int first;
    int e = cli_parse(c, argc, argv, "lR", opts, on_opt, &o, &first);
    if (e)
        return e;
    if (first >= argc || argc - first > 2)
        return cli_usage(c, "usage: ls SNAPSHOT [PATH]");
    if ((e = cli_open(c, 0)))
        return e;
    bk_snapshot *s;
    if ((e = cli_find_snapshot(c, argv[first], &o.f, &s)))
        return e;
    const char *path = argc - first == 2 ? argv[first + 1] : "/";
    if (c->json)
        o.arr = json_array();
    int r = bk_ls(c->repo, s, path, o.recursive || argc - first == 1, print_node, &o);
    bk_snapshot_free(s);
    if (r < 0) {
        json_decref(o.arr);
        return cli_fail(c, r);
    }
    if (o.arr)
        cli_json_print(o.arr);
    return EXIT_OK;
}

const command cmd_ls = {
    "ls", run, "ls [-l] [-R] SNAPSHOT [PATH]",
    "List the entries of a snapshot: everything, or PATH and (for a directory) what it\n"
    "holds.  SNAPSHOT is an id, a unique prefix, or latest (with --host/--tag/--path).\n\n"
    "Options:\n"
    "  -l, --long                 mode, owner, size, time\n"
    "  -R, --recursive            everything below PATH\n",
    .opts = opts, .words = "latest",
};
