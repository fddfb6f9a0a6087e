/* cmd-key.c - arca key list|add|remove|passwd: passphrase slots. */
#include <string.h>
#include <time.h>

#include "cli.h"

static int key_list(cli *c)
{
    bk_key_info *v;
    size_t n;
    int r = bk_key_list(c->repo, &v, &n);
    if (r < 0)
        return cli_fail(c, r);
    json_t *arr = c->json ? json_array() : NULL;
    if (!arr)
        printf(" %-10s %-20s %-16s %-16s %s\n", "ID", "Created", "User", "Host", "Kind");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        time_t t = (time_t)v[i].created;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        char kind[300];
        snprintf(kind, sizeof(kind), "%s%s%s", v[i].backup_only ? "backup-only" : "full",
                 v[i].backup_host[0] ? " as " : "", v[i].backup_host);
        if (arr) {
            json_t *k = json_pack("{s:s, s:b, s:b, s:I, s:s, s:s, s:s}", "id", v[i].id,
                                  "current", v[i].current, "damaged", v[i].damaged,
                                  "created", (json_int_t)v[i].created, "username", v[i].user,
                                  "host", v[i].host, "kind",
                                  v[i].damaged ? "unknown" : v[i].backup_only ? "backup-only" : "full");
            if (v[i].backup_only)
                json_object_set_new(k, "backup_host", json_string(v[i].backup_host));
            json_array_append_new(arr, k);
        } else if (v[i].damaged) {
            printf(" %-10.8s %-20s (damaged: arca key remove %.8s)\n", v[i].id, "-", v[i].id);
        } else {
            printf("%c%-10.8s %-20s %-16s %-16s %s\n", v[i].current ? '*' : ' ', v[i].id, when,
                   v[i].user, v[i].host, kind);
        }
    }
    if (arr)
        cli_json_print(arr);
    free(v);
    return EXIT_OK;
}

struct key_opts {
    bool backup_only;
    const char *host;
};

static int key_new(cli *c, bool passwd, const struct key_opts *o)
{
    char *pass;
    size_t len;
    int e = cli_password_get(c, PASS_NEW, &pass, &len);
    if (e)
        return e;
    char id[BK_ID_HEX];
    int r = passwd ? bk_key_passwd(c->repo, pass, len, id)
            : o->backup_only ? bk_key_add_backup_only(c->repo, pass, len, o->host, id)
            : bk_key_add(c->repo, pass, len, id);
    cli_password_free(pass, len);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json)
        cli_json_print(json_pack("{s:s, s:s, s:b}", "id", id, "kind",
                                 o->backup_only ? "backup-only" : "full", "changed", 1));
    else if (o->backup_only) {
        bool as = o->host && *o->host;
        cli_info(c, "added backup-only key %.8s%s%s%s\n", id, as ? " (it may back up as host " : "",
                 as ? o->host : "", as ? ")" : "");
    } else {
        cli_info(c, "%s key %.8s\n", passwd ? "changed passphrase: new" : "added", id);
    }
    return EXIT_OK;
}

enum { O_BACKUP_ONLY = 1 };
static const struct option opts[] = {
    { "backup-only", no_argument, NULL, O_BACKUP_ONLY },
    { "host", required_argument, NULL, 'H' },
    { 0 },
};

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct key_opts *o = ctx;
    if (opt == O_BACKUP_ONLY)
        o->backup_only = true;
    else if (opt == 'H')
        o->host = arg;
    else
        return cli_usage(c, "unknown option");
    return 0;
}

static int run(cli *c, int argc, char **argv)
{
    int first;
    struct key_opts o = { 0 };
    int e = cli_parse(c, argc, argv, "", opts, on_opt, &o, &first);
    if (e)
        return e;
    if (first >= argc)
        return cli_usage(c, "usage: key list|add|remove ID|passwd");
    const char *sub = argv[first];
    int nargs = argc - first - 1;
    bool ok = (strcmp(sub, "list") == 0 && nargs == 0) || (strcmp(sub, "add") == 0 && nargs == 0) ||
              (strcmp(sub, "passwd") == 0 && nargs == 0) || (strcmp(sub, "remove") == 0 && nargs == 1);
    if (!ok)
        return cli_usage(c, "usage: key list|add|remove ID|passwd");
    if ((o.backup_only || o.host) && strcmp(sub, "add") != 0)
        return cli_usage(c, "--backup-only and --host go with key add");
    if (o.host && !o.backup_only)
        return cli_usage(c, "--host goes with --backup-only (the host that key may back up as)");
    if ((e = cli_open(c, strcmp(sub, "list") == 0 ? 0 : 2)))
        return e;
    if (strcmp(sub, "list") == 0)
        return key_list(c);
    if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0)
        return key_new(c, strcmp(sub, "passwd") == 0, &o);
    int r = bk_key_remove(c->repo, argv[first + 1]);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json)
        cli_json_print(json_pack("{s:s, s:b}", "removed", argv[first + 1], "changed", 1));
    else
        cli_info(c, "removed key %s\n", argv[first + 1]);
    return EXIT_OK;
}

const command cmd_key = {
    "key", run, "key list | key add [--backup-only [--host H]] | key remove ID | key passwd",
    "Manage the passphrase slots of the repository.  A full slot opens the master key; a\n"
    "backup-only slot can add backups and nothing else (docs/security.md).\n"
    "  list        the slots and their kinds; * marks the one that opened the repository\n"
    "  add         add a slot for a new passphrase (--new-password-file, ARCA_NEW_PASSWORD_FILE\n"
    "              or a prompt)\n"
    "  remove ID   remove a slot (not the current one, never the last)\n"
    "  passwd      replace the current slot's passphrase\n\n"
    "Options:\n"
    "      --backup-only          key add: a slot that can run backup only: what it writes\n"
    "                             only a full key reads; it cannot read, forget or prune\n"
    "      --host H               with --backup-only: it may back up as host H only\n",
    .opts = opts, .words = "list add remove passwd",
};
