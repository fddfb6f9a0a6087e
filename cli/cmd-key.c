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
        printf(" %-10s %-20s %-16s %s\n", "ID", "Created", "User", "Host");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        time_t t = (time_t)v[i].created;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        if (arr)
            json_array_append_new(arr, json_pack("{s:s, s:b, s:b, s:I, s:s, s:s}", "id", v[i].id,
                                                 "current", v[i].current, "damaged", v[i].damaged,
                                                 "created", (json_int_t)v[i].created,
                                                 "username", v[i].user, "host", v[i].host));
        else if (v[i].damaged)
            printf(" %-10.8s %-20s (damaged: arca key remove %.8s)\n", v[i].id, "-", v[i].id);
        else
            printf("%c%-10.8s %-20s %-16s %s\n", v[i].current ? '*' : ' ', v[i].id, when,
                   v[i].user, v[i].host);
    }
    if (arr)
        cli_json_print(arr);
    free(v);
    return EXIT_OK;
}

static int key_new(cli *c, bool passwd)
{
    char *pass;
    size_t len;
    int e = cli_password_get(c, PASS_NEW, &pass, &len);
    if (e)
        return e;
    char id[BK_ID_HEX];
    int r = passwd ? bk_key_passwd(c->repo, pass, len, id) : bk_key_add(c->repo, pass, len, id);
    cli_password_free(pass, len);
    if (r < 0)
        return cli_fail(c, r);
    if (c->json)
        cli_json_print(json_pack("{s:s, s:b}", "id", id, "changed", 1));
    else
        cli_info(c, "%s key %.8s\n", passwd ? "changed passphrase: new" : "added", id);
    return EXIT_OK;
}

static int run(cli *c, int argc, char **argv)
{
    int first;
    int e = cli_parse(c, argc, argv, "", NULL, NULL, NULL, &first);
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
    if ((e = cli_open(c, strcmp(sub, "list") == 0 ? 0 : 2)))
        return e;
    if (strcmp(sub, "list") == 0)
        return key_list(c);
    if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0)
        return key_new(c, strcmp(sub, "passwd") == 0);
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
    "key", run, "key list | key add | key remove ID | key passwd",
    "Manage the passphrase slots of the repository.  Every slot opens the same master key.\n"
    "  list        the slots; * marks the one that opened the repository\n"
    "  add         add a slot for a new passphrase (--new-password-file, ARCA_NEW_PASSWORD_FILE\n"
    "              or a prompt)\n"
    "  remove ID   remove a slot (not the current one, never the last)\n"
    "  passwd      replace the current slot's passphrase\n",
    .words = "list add remove passwd",
};
