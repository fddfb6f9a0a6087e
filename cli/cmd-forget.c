/* cmd-forget.c - arca forget: remove snapshots by policy; --prune to free space too. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { O_LAST = 1, O_HOURLY, O_DAILY, O_WEEKLY, O_MONTHLY, O_YEARLY, O_WITHIN, O_KEEP_TAG,
       O_GROUP_BY, O_PRUNE, O_MAX_UNUSED, O_KEY_SLOT };

static const struct option opts[] = {
    FILTER_OPTIONS,
    { "keep-last", required_argument, NULL, O_LAST },
    { "keep-hourly", required_argument, NULL, O_HOURLY },
    { "keep-daily", required_argument, NULL, O_DAILY },
    { "keep-weekly", required_argument, NULL, O_WEEKLY },
    { "keep-monthly", required_argument, NULL, O_MONTHLY },
    { "keep-yearly", required_argument, NULL, O_YEARLY },
    { "keep-within", required_argument, NULL, O_WITHIN },
    { "keep-tag", required_argument, NULL, O_KEEP_TAG },
    { "group-by", required_argument, NULL, O_GROUP_BY },
    { "dry-run", no_argument, NULL, 'n' },
    { "prune", no_argument, NULL, O_PRUNE },
    { "max-unused", required_argument, NULL, O_MAX_UNUSED },
    { "key-slot", required_argument, NULL, O_KEY_SLOT },
    { 0 },
};

struct forget_opts {
    cli_filter f;
    bk_policy p;
    const char *keep_tags[64];
    unsigned group_by;
    bool group_by_set;
    bool dry_run, prune;
    double max_unused;
    const char *key_slot;        /* --key-slot: every snapshot that slot wrote */
};

/* "1y5m7d2h", as restic's --keep-within */
static int parse_within(const char *s, bk_policy *p)
{
    if (!*s)
        return -1;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 100000)
            return -1;
        switch (*end) {
        case 'y': p->keep_within.years = (int)v; break;
        case 'm': p->keep_within.months = (int)v; break;
        case 'w': p->keep_within.days += 7 * (int)v; break;
        case 'd': p->keep_within.days += (int)v; break;
        case 'h': p->keep_within.hours = (int)v; break;
        default: return -1;
        }
        s = end + 1;
    }
    return 0;
}

int cli_parse_max_unused(const char *arg, double *ret)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || v < 0)
        return -1;
    if (strcmp(end, "%") == 0)
        v /= 100;
    else if (*end)
        return -1;
    if (v > 1)
        return -1;
    *ret = v;
    return 0;
}

static int on_opt(cli *c, int opt, const char *arg, void *ctx)
{
    struct forget_opts *o = ctx;
    if (cli_filter_opt(&o->f, opt, arg) == 0)
        return 0;
    int *count = NULL;
    switch (opt) {
    case O_LAST: count = &o->p.keep_last; break;
    case O_HOURLY: count = &o->p.keep_hourly; break;
    case O_DAILY: count = &o->p.keep_daily; break;
    case O_WEEKLY: count = &o->p.keep_weekly; break;
    case O_MONTHLY: count = &o->p.keep_monthly; break;
    case O_YEARLY: count = &o->p.keep_yearly; break;
    case O_WITHIN:
        if (parse_within(arg, &o->p) < 0)
            return cli_usage(c, "--keep-within: expected a duration like 2d, 1y6m, 12h, got '%s'", arg);
        return 0;
    case O_KEEP_TAG:
        if (o->p.nkeep_tags == 64)
            return cli_usage(c, "too many --keep-tag");
        o->keep_tags[o->p.nkeep_tags++] = arg;
        o->p.keep_tags = o->keep_tags;
        return 0;
    case O_GROUP_BY:
        o->group_by_set = true;
        if (cli_parse_group_by(arg, &o->group_by) < 0)
            return cli_usage(c, "--group-by: expected host, paths and/or tags, got '%s'", arg);
        return 0;
    case 'n': o->dry_run = true; return 0;
    case O_PRUNE: o->prune = true; return 0;
    case O_KEY_SLOT: {
        size_t len = strlen(arg);
        bool hex = len >= 4 && len < BK_ID_HEX;
        for (size_t i = 0; hex && i < len; i++)
            hex = isxdigit((unsigned char)arg[i]) && !isupper((unsigned char)arg[i]);
        if (!hex)
            return cli_usage(c, "--key-slot: expected a key slot id or a prefix of it (4 to 64 "
                                "hex digits, arca key list), got '%s'", arg);
        o->key_slot = arg;
        return 0;
    }
    case O_MAX_UNUSED:
        if (cli_parse_max_unused(arg, &o->max_unused) < 0)
            return cli_usage(c, "--max-unused: expected a percentage (5%%) or a fraction, got '%s'", arg);
        return 0;
    default:
        return cli_usage(c, "unknown option");
    }
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || end == arg || v < -1 || v > 1000000)
        return cli_usage(c, "expected a count (or -1 for all), got '%s'", arg);
    *count = (int)v;
    return 0;
}

static json_t *snap_brief(const bk_snapshot *s)
{
    char id[BK_ID_HEX], when[48];
    bk_id_hex(&s->id, id);
    bk_snapshot_time_str(s, when);
    return json_pack("{s:s, s:s#, s:s}", "id", id, "short_id", id, BK_SHORT_ID_LEN, "time", when);
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* "group: host H, paths P[, tags T]", names escaped as ls escapes them */
static void print_group(const char *host, char *const *paths, size_t npaths, char *const *tags,
                        size_t ntags, bool with_tags)
{
    fputs("group: host ", stdout);
    if (host)
        cli_print_path(stdout, host, strlen(host));
    else
        fputc('*', stdout);
    fputs(", paths", stdout);
    for (size_t k = 0; k < npaths; k++) {
        fputc(' ', stdout);
        cli_print_path(stdout, paths[k], strlen(paths[k]));
    }
    if (with_tags) {
        fputs(", tags", stdout);
        for (size_t k = 0; k < ntags; k++) {
            fputc(' ', stdout);
            cli_print_path(stdout, tags[k], strlen(tags[k]));
        }
    }
    fputc('\n', stdout);
}

static void print_item(const bk_snapshot *s, bool keep, char *const *reasons, size_t nreasons)
{
    char id[BK_ID_HEX], when[48];
    bk_id_hex(&s->id, id);
    bk_snapshot_time_str(s, when);
    memmove(when + 19, when + 29, strlen(when + 29) + 1);
    printf("  %s %.8s  %s", keep ? "keep  " : "remove", id, when);
    for (size_t k = 0; k < nreasons; k++)
        printf("%s%s", k ? ", " : "  ", reasons[k]);
    printf("\n");
}

static json_t *group_json(const char *host, char *const *paths, size_t npaths, char *const *tags,
                          size_t ntags, bool with_tags, json_t *keep, json_t *remove)
{
    json_t *gj = json_object();
    json_object_set_new(gj, "host", host ? json_string(host) : json_null());
    json_object_set_new(gj, "paths", paths ? strv_json(paths, npaths) : json_null());
    json_object_set_new(gj, "tags", with_tags ? strv_json(tags, ntags) : json_null());
    json_object_set_new(gj, "keep", keep);
    json_object_set_new(gj, "remove", remove);
    return gj;
}

/* After the snapshots are gone: the summary, then --prune (out: the --json document, which
 * this completes, prints and frees).  Returns the exit code. */
static int finish(cli *c, const struct forget_opts *o, json_t *out, size_t keep, size_t remove,
                  size_t removed, bool chatty, bool by_id)
{
    if (!out && chatty) {
        const char *what = cli_plural(remove + keep, "snapshot", "snapshots");
        if (by_id && o->dry_run)
            printf("would remove %zu %s\n", remove, what);
        else if (by_id)
            printf("removed %zu %s\n", removed, cli_plural(removed, "snapshot", "snapshots"));
        else if (o->dry_run)
            printf("would remove %zu of %zu %s\n", remove, remove + keep, what);
        else if (removed)
            printf("removed %zu of %zu %s\n", removed, remove + keep, what);
        else
            printf("nothing to remove: %zu %s kept\n", keep,
                   cli_plural(keep, "snapshot", "snapshots"));
    }
    bool changed = removed > 0;
    cli_figure(c, "snapshots_removed", o->dry_run ? 0 : (double)removed);
    json_t *prune_json = NULL;
    int rc = EXIT_OK;
    if (o->prune) {
        fflush(stdout);
        bk_prune_opts po = { o->max_unused, o->dry_run };
        bk_prune_stats st;
        int r = bk_prune(c->repo, &po, &st);
        if (r < 0) {
            json_decref(out);
            return cli_fail(c, r);
        }
        rc = cli_prune_report(c, &st, o->dry_run, out ? &prune_json : NULL);
        cli_figure(c, "bytes_freed", o->dry_run ? 0 : (double)st.bytes_freed);
        changed |= !o->dry_run && st.bytes_freed > 0;
    }
    if (out) {
        json_object_set_new(out, "kept", json_integer((json_int_t)keep));
        json_object_set_new(out, "removed", json_integer((json_int_t)(o->dry_run ? 0 : removed)));
        json_object_set_new(out, "would_remove", json_integer((json_int_t)remove));
        json_object_set_new(out, "dry_run", json_boolean(o->dry_run));
        json_object_set_new(out, "changed", json_boolean(changed));
        if (prune_json)
            json_object_set_new(out, "prune", prune_json);
        cli_json_print(out);
    }
    return rc;
}

static int by_time_desc(const void *a, const void *b)
{
    const bk_snapshot *x = *(bk_snapshot *const *)a, *y = *(bk_snapshot *const *)b;
    if (x->time != y->time)
        return x->time < y->time ? 1 : -1;
    if (x->time_nsec != y->time_nsec)
        return x->time_nsec < y->time_nsec ? 1 : -1;
    return bk_id_cmp(&x->id, &y->id);
}

static bool same_group(const bk_snapshot *a, const bk_snapshot *b)
{
    if (strcmp(a->host, b->host) != 0 || a->npaths != b->npaths)
        return false;
    for (size_t i = 0; i < a->npaths; i++)
        if (strcmp(a->paths[i], b->paths[i]) != 0)
            return false;
    return true;
}

/* forget ID...: exactly those snapshots.  Every argument is resolved first; one that
 * matches nothing (or several) fails the run before anything is removed. */
static int forget_ids(cli *c, const struct forget_opts *o, char **args, size_t nargs, bool chatty)
{
    bk_filter bf = cli_filter_get(&o->f);
    bk_snapshot **v = calloc(nargs, sizeof(*v));
    if (!v)
        return cli_fail(c, -ENOMEM);
    size_t n = 0, ndamaged = 0;
    bk_id *damaged = calloc(nargs, sizeof(*damaged));   /* objects that do not even decode */
    if (!damaged) {
        free(v);
        return cli_fail(c, -ENOMEM);
    }
    int rc = EXIT_OK;
    for (size_t i = 0; i < nargs; i++) {
        bk_snapshot *s;
        bk_repo_clear_error(c->repo);
        int r = bk_snapshot_find(c->repo, args[i], &bf, &s);
        if (r == -EBADMSG && strcmp(args[i], "latest") != 0) {
            /* a damaged snapshot object: it is removed by its (unique) id prefix */
            const char *const *names;
            size_t nd = bk_snapshots_damaged(c->repo, &names), hits = 0;
            for (size_t k = 0; k < nd; k++)
                if (strncmp(names[k], args[i], strlen(args[i])) == 0 &&
                    bk_id_parse(names[k], &damaged[ndamaged]) == 0)
                    hits++;
            if (hits == 1) {
                ndamaged++;
                bk_repo_clear_error(c->repo);
                continue;
            }
        }
        if (r < 0) {
            int e = cli_fail(c, r);
            if (!rc)
                rc = e;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = bk_id_cmp(&v[j]->id, &s->id) == 0;
        if (dup)
            bk_snapshot_free(s);
        else
            v[n++] = s;
    }
    if (rc) {
        cli_err(c, "nothing removed");
        bk_snapshots_free(v, n);
        free(damaged);
        return rc;
    }
    /* grouped as the default policy groups (host and paths), newest first */
    qsort(v, n, sizeof(*v), by_time_desc);
    size_t removed = 0;
    int r = 0;
    for (size_t i = 0; !o->dry_run && r == 0 && i < n + ndamaged; i++) {
        r = bk_snapshot_remove(c->repo, i < n ? &v[i]->id : &damaged[i - n]);
        if (r == -ENOENT) {   /* removed meanwhile by someone else: gone, as asked */
            bk_repo_clear_error(c->repo);
            r = 0;
        } else if (r == 0) {
            removed++;
        }
    }
    for (size_t i = 0; r == 0 && i < ndamaged; i++) {
        char hex[BK_ID_HEX];
        bk_id_hex(&damaged[i], hex);
        if (chatty && !c->json)
            printf("%s damaged snapshot %.8s\n", o->dry_run ? "would remove" : "removed", hex);
    }
    bool *done = calloc(n, sizeof(bool));
    if (!done) {
        bk_snapshots_free(v, n);
        return cli_fail(c, -ENOMEM);
    }
    json_t *out = c->json ? json_object() : NULL, *groups = out ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        json_t *rj = out ? json_array() : NULL;
        if (chatty && !out)
            print_group(v[i]->host, v[i]->paths, v[i]->npaths, NULL, 0, false);
        for (size_t j = i; j < n; j++) {
            if (done[j] || !same_group(v[i], v[j]))
                continue;
            done[j] = true;
            if (rj)
                json_array_append_new(rj, snap_brief(v[j]));
            else if (chatty)
                print_item(v[j], false, NULL, 0);
        }
        if (out)
            json_array_append_new(groups, group_json(v[i]->host, v[i]->paths, v[i]->npaths, NULL,
                                                     0, false, json_array(), rj));
    }
    free(done);
    bk_snapshots_free(v, n);
    if (out) {
        json_object_set_new(out, "groups", groups);
        json_t *dj = ndamaged ? json_array() : NULL;   /* damaged objects, when there are */
        for (size_t i = 0; i < ndamaged; i++) {
            char hex[BK_ID_HEX];
            bk_id_hex(&damaged[i], hex);
            json_array_append_new(dj, json_string(hex));
        }
        if (dj)
            json_object_set_new(out, "damaged", dj);
    }
    n += ndamaged;
    free(damaged);
    if (r < 0) {
        json_decref(out);
        return cli_fail(c, r);
    }
    return finish(c, o, out, 0, n, removed, chatty, true);
}

/* forget --key-slot ID: every snapshot (of the filters) that the slot wrote, as forget
 * with their ids would; none is no error (a second run removes nothing). */
static int forget_key_slot(cli *c, const struct forget_opts *o, bool chatty)
{
    bk_filter bf = cli_filter_get(&o->f);
    bk_snapshot **v;
    size_t n;
    int r = bk_snapshots_list(c->repo, &bf, &v, &n);
    if (r < 0)
        return cli_fail(c, r);
    char **ids = calloc(n ? n : 1, sizeof(*ids)), *hexes = malloc((n ? n : 1) * BK_ID_HEX);
    size_t k = 0;
    for (size_t i = 0; ids && hexes && i < n; i++) {
        char slot[BK_ID_HEX];
        if (!v[i]->has_key_slot)
            continue;
        bk_id_hex(&v[i]->key_slot, slot);
        if (strncmp(slot, o->key_slot, strlen(o->key_slot)) != 0)
            continue;
        ids[k] = hexes + k * BK_ID_HEX;
        bk_id_hex(&v[i]->id, ids[k++]);
    }
    bk_snapshots_free(v, n);
    int e;
    if (!ids || !hexes)
        e = cli_fail(c, -ENOMEM);
    else if (k == 0)
        e = finish(c, o, c->json ? json_pack("{s:[]}", "groups") : NULL, 0, 0, 0, chatty, true);
    else
        e = forget_ids(c, o, ids, k, chatty);
    free(ids);
    free(hexes);
    return e;
}

static int run(cli *c, int argc, char **argv)
{
    struct forget_opts o = { .group_by = BK_GROUP_HOST | BK_GROUP_PATHS, .max_unused = 0.05 };
    int first;
    int e = cli_parse(c, argc, argv, "n", opts, on_opt, &o, &first);
    if (e)
        return e;
    /* the table: on a terminal, with -v, or for a dry run; never for a quiet cron job */
    bool chatty = c->verbosity >= 0 && (c->tty_out || c->verbosity >= 1 || o.dry_run);
    bk_policy empty = { 0 };
    bool policy = memcmp(&o.p, &empty, sizeof(empty)) != 0;
    if (o.key_slot && (first < argc || policy || o.group_by_set))
        return cli_usage(c, "--key-slot removes every snapshot the slot wrote: give no snapshots "
                            "or policy with it");
    if (first < argc && (policy || o.group_by_set))
        return cli_usage(c, "give snapshots or a policy (--keep-*, --group-by), not both");
    if (first == argc && !policy && !o.key_slot)
        return cli_usage(c, "no policy given: nothing would be kept, so nothing is removed "
                            "(give --keep-last, --keep-daily, ..., or snapshot ids)");
    if (o.prune)
        cli_default_lock_wait(c, 60 * 60 * 1000);   /* prune's commit waits for backups */
    if ((e = cli_open(c, o.dry_run ? 0 : 1)))
        return e;
    if (first < argc)
        return forget_ids(c, &o, argv + first, (size_t)(argc - first), chatty);
    if (o.key_slot)
        return forget_key_slot(c, &o, chatty);
    bk_filter bf = cli_filter_get(&o.f);
    bk_snapshot **v;
    size_t n;
    int r = bk_snapshots_list(c->repo, &bf, &v, &n);
    if (r < 0)
        return cli_fail(c, r);
    bk_forget_group *g;
    size_t ng;
    r = bk_forget_plan(v, n, &o.p, o.group_by, &g, &ng);
    if (r < 0)
        return cli_fail(c, r);
    size_t remove = 0, keep = 0, removed = 0;
    for (size_t i = 0; i < ng; i++)
        for (size_t j = 0; j < g[i].n; j++) {
            remove += !g[i].items[j].keep;
            keep += g[i].items[j].keep;
        }
    if (!o.dry_run && remove)
        r = bk_forget_apply(c->repo, g, ng, &removed);
    json_t *out = c->json ? json_object() : NULL;
    json_t *groups = out ? json_array() : NULL;
    bool with_tags = o.group_by & BK_GROUP_TAGS;
    for (size_t i = 0; i < ng; i++) {
        if (out) {
            json_t *kj = json_array(), *rj = json_array();
            for (size_t j = 0; j < g[i].n; j++) {
                json_t *sj = snap_brief(g[i].items[j].snap);
                if (g[i].items[j].keep) {
                    json_object_set_new(sj, "reasons", strv_json(g[i].items[j].reasons, g[i].items[j].nreasons));
                    json_array_append_new(kj, sj);
                } else {
                    json_array_append_new(rj, sj);
                }
            }
            json_array_append_new(groups, group_json(g[i].host, g[i].paths, g[i].npaths, g[i].tags,
                                                     g[i].ntags, with_tags, kj, rj));
            continue;
        }
        if (!chatty)
            continue;
        print_group(g[i].host, g[i].paths, g[i].npaths, g[i].tags, g[i].ntags, with_tags);
        for (size_t j = 0; j < g[i].n; j++) {
            const bk_forget_item *it = &g[i].items[j];
            print_item(it->snap, it->keep, it->reasons, it->nreasons);
        }
    }
    bk_forget_groups_free(g, ng);
    if (out)
        json_object_set_new(out, "groups", groups);
    if (r < 0) {
        json_decref(out);
        return cli_fail(c, r);
    }
    return finish(c, &o, out, keep, remove, removed, chatty, false);
}

const command cmd_forget = {
    "forget", run, "forget --keep-... [--group-by host,paths,tags] [--prune] [--dry-run] |\n"
    "       forget SNAPSHOT... [--prune] [--dry-run] | forget --key-slot ID [--prune] [--dry-run]",
    "Remove the snapshots a policy does not keep (the data stays until prune).  Within\n"
    "each group the newest snapshot of each of the N newest hours, days, ISO weeks, months\n"
    "and years that have snapshots is kept; a snapshot kept for several reasons lists\n"
    "them all.  Running the same forget twice removes nothing the second time (\"changed\"\n"
    "is false in --json).\n\n"
    "With SNAPSHOT arguments (ids, unique prefixes, latest), exactly those are removed:\n"
    "all are looked up first, and one that matches no snapshot is an error (exit 1) that\n"
    "removes nothing, also when it was removed by an earlier run.\n\n"
    "With --key-slot ID (a slot of arca key list, or a unique prefix), every snapshot that\n"
    "slot wrote (backups, copies, repairs record theirs) is removed, of those the filters\n"
    "select: what a compromised host's key added.\n\n"
    "Options:\n"
    "      --keep-last N          the N newest (-1: all)\n"
    "      --keep-hourly N        the newest of each of the N newest hours with snapshots\n"
    "      --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N\n"
    "      --keep-within DUR      everything newer than the newest minus DUR (1y6m2d4h)\n"
    "      --keep-tag TAGS        snapshots with all of TAGS (a,b); repeat for alternatives\n"
    "      --group-by LIST        host,paths (default), any of host, paths, tags, or ''\n"
    "      --host/--tag/--path    only consider matching snapshots (with SNAPSHOT: for latest)\n"
    "      --key-slot ID          every snapshot written through that key slot\n"
    "  -n, --dry-run              show what would be removed\n"
    "      --prune                then run prune\n"
    "      --max-unused LIMIT     for --prune (default 5%)\n",
    .opts = opts, .words = "latest",
};
