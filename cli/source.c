/* source.c - the source repository of init --from-repo and copy: its own location,
 * passphrase and Ceph settings (--from-*, ARCA_FROM_*), not the destination's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_from_opt(cli *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_FROM_REPO: c->from.repo = arg; return 0;
    case OPT_FROM_PASSWORD_FILE: c->from.password_file = arg; return 0;
    case OPT_FROM_PASSWORD_COMMAND: c->from.password_command = arg; return 0;
    case OPT_FROM_CEPH_CONF: c->from.ceph_conf = arg; return 0;
    case OPT_FROM_CEPH_ID: c->from.ceph_id = arg; return 0;
    case OPT_FROM_KEYRING: c->from.keyring = arg; return 0;
    case OPT_FROM_CEPH_SNAP: c->from.ceph_snap = arg; return 0;
    }
    return 1;
}

static const char *option_or_env(const char *opt, const char *var)
{
    const char *v = opt ? opt : getenv(var);
    return v && *v ? v : NULL;
}

const char *cli_from_location(cli *c)
{
    return option_or_env(c->from.repo, "ARCA_FROM_REPOSITORY");
}

/* The source handle's warnings say whose they are. */
static void source_log(bk_log_level level, const char *msg, void *userdata)
{
    char line[1024];
    snprintf(line, sizeof(line), "source repository: %s", msg);
    cli_log(level, line, userdata);
}

static int source_fail(cli *c, int r)
{
    if (cli_signal_caught())
        return cli_exit_code(r);
    const char *msg = bk_repo_errmsg(c->src);
    cli_err(c, "source repository: %s", msg && *msg ? msg : strerror(-r));
    return r == -ENOENT ? EXIT_NO_REPO : cli_exit_code(r);
}

int cli_open_source(cli *c)
{
    const char *loc = cli_from_location(c);
    if (!loc)
        return cli_usage(c, "no source repository given: use --from-repo REPO or set "
                            "ARCA_FROM_REPOSITORY");
    bk_repo *r = c->src = cli_repo_handle(c, source_log);
    if (!r)
        return EXIT_FATAL;
    const char *conf = option_or_env(c->from.ceph_conf, "ARCA_FROM_CEPH_CONF");
    const char *id = option_or_env(c->from.ceph_id, "ARCA_FROM_CEPH_ID");
    const char *keyring = option_or_env(c->from.keyring, "ARCA_FROM_KEYRING");
    if (conf)
        bk_repo_set_str(r, BK_REPO_CEPH_CONF, conf);
    if (id)
        bk_repo_set_str(r, BK_REPO_CEPH_ID, id);
    if (keyring)
        bk_repo_set_str(r, BK_REPO_CEPH_KEYRING, keyring);
    /* a pool snapshot: read-only, no lock (a repository as it was before an attack) */
    const char *snap = option_or_env(c->from.ceph_snap, "ARCA_FROM_CEPH_SNAP");
    if (snap)
        bk_repo_set_str(r, BK_REPO_CEPH_SNAP, snap);
    if (c->no_lock)
        bk_repo_set_int(r, BK_REPO_READ_ONLY, 1);
    char *pass;
    size_t len;
    int e = cli_password_get(c, PASS_SOURCE, &pass, &len);
    if (e)
        return e;
    int k = bk_repo_open(r, loc, pass, len);
    cli_password_free(pass, len);
    if (k == 0 && bk_repo_backup_only(r)) {
        cli_err(c, "source repository: this passphrase opens a backup-only key slot, which "
                   "cannot read what the repository holds: copying needs a full key");
        return EXIT_BACKUP_ONLY;
    }
    if (k == 0 && !c->no_lock)
        k = bk_repo_lock(r, false);
    return k < 0 ? source_fail(c, k) : EXIT_OK;
}
