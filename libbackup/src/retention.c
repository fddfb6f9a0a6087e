/* retention.c - forget policies: group snapshots, then keep per policy (pure). */
#include <stdio.h>
#include <time.h>

#include "snapshot.h"
#include "util.h"

/* local (snapshot's own offset) calendar from seconds since the epoch */
static void civil(int64_t t, int64_t *ret_days, int *y, int *m)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    *ret_days = days;
    /* Howard Hinnant's civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (mm <= 2));
    *m = (int)mm;
}

enum { B_HOUR, B_DAY, B_WEEK, B_MONTH, B_YEAR, B_COUNT };

static int64_t bucket(const bk_snapshot *s, int kind)
{
    int64_t local = s->time + s->tz_offset, days;
    int y, m;
    civil(local, &days, &y, &m);
    switch (kind) {
    case B_HOUR: return local >= 0 ? local / 3600 : -((-local + 3599) / 3600);
    case B_DAY: return days;
    case B_WEEK: {
        /* ISO weeks start on Monday; 1970-01-01 was a Thursday */
        int64_t wd = ((days + 3) % 7 + 7) % 7;
        return days - wd;
    }
    case B_MONTH: return (int64_t)y * 12 + m;
    case B_YEAR: return y;
    }
    return 0;
}

static const char *const bucket_reason[B_COUNT] = {
    "hourly snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot",
};

static bool has_all_tags(const bk_snapshot *s, const char *group)
{
    const char *groups[1] = { group };
    bk_filter f = { .tag_groups = groups, .ntag_groups = 1 };
    return bk_snapshot_match(s, &f);
}

static int add_reason(bk_forget_item *it, const char *reason)
{
    it->keep = true;
    return bk_strv_push(&it->reasons, &it->nreasons, reason);
}

static bool policy_empty(const bk_policy *p)
{
    return !p->keep_last && !p->keep_hourly && !p->keep_daily && !p->keep_weekly &&
           !p->keep_monthly && !p->keep_yearly && !p->keep_within.years && !p->keep_within.months &&
           !p->keep_within.days && !p->keep_within.hours && !p->nkeep_tags;
}

/* as restic's forget: counts of -1 (all) or more, no negative durations */
static bool policy_valid(const bk_policy *p)
{
    return p->keep_last >= -1 && p->keep_hourly >= -1 && p->keep_daily >= -1 &&
           p->keep_weekly >= -1 && p->keep_monthly >= -1 && p->keep_yearly >= -1 &&
           p->keep_within.years >= 0 && p->keep_within.months >= 0 && p->keep_within.days >= 0 &&
           p->keep_within.hours >= 0;
}

static int apply_policy(bk_forget_group *g, const bk_policy *p)
{
    int counts[B_COUNT] = { p->keep_hourly, p->keep_daily, p->keep_weekly, p->keep_monthly,
                            p->keep_yearly };
    bool have_last[B_COUNT] = { false };
    int64_t last[B_COUNT] = { 0 };
    int keep_last = p->keep_last;
    /* keep_within: everything after newest minus the duration, in calendar terms */
    bool within = p->keep_within.years || p->keep_within.months || p->keep_within.days ||
                  p->keep_within.hours;
    int64_t boundary = 0;
    int32_t boundary_nsec = 0;
    char within_reason[96] = "";
    if (within && g->n) {
        const bk_snapshot *newest = g->items[0].snap;
        time_t t = (time_t)(newest->time + newest->tz_offset);
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_year -= p->keep_within.years;
        tm.tm_mon -= p->keep_within.months;
        tm.tm_mday -= p->keep_within.days;
        tm.tm_hour -= p->keep_within.hours;
        boundary = (int64_t)timegm(&tm) - newest->tz_offset;
        boundary_nsec = newest->time_nsec;
        snprintf(within_reason, sizeof(within_reason), "within %dy%dm%dd%dh", p->keep_within.years,
                 p->keep_within.months, p->keep_within.days, p->keep_within.hours);
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < g->n; i++) {
        bk_forget_item *it = &g->items[i];
        const bk_snapshot *s = it->snap;
        if (keep_last != 0) {
            r = add_reason(it, "last snapshot");
            if (keep_last > 0)
                keep_last--;
        }
        for (int k = 0; r == 0 && k < B_COUNT; k++) {
            if (counts[k] == 0)
                continue;
            int64_t b = bucket(s, k);
            if (have_last[k] && last[k] == b)
                continue;   /* a newer snapshot already stands for this bucket */
            have_last[k] = true;
            last[k] = b;
            r = add_reason(it, bucket_reason[k]);
            if (counts[k] > 0)
                counts[k]--;
        }
        /* strictly after the boundary, as restic's cur.Time.After(t) */
        if (r == 0 && within &&
            (s->time > boundary || (s->time == boundary && s->time_nsec > boundary_nsec)))
            r = add_reason(it, within_reason);
        for (size_t t = 0; r == 0 && t < p->nkeep_tags; t++) {
            if (has_all_tags(s, p->keep_tags[t])) {
                char why[300];
                snprintf(why, sizeof(why), "has tag %s", p->keep_tags[t]);
                r = add_reason(it, why);
            }
        }
    }
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool in_group(const bk_forget_group *g, const bk_snapshot *s, unsigned by, char **tags, size_t ntags)
{
    if ((by & BK_GROUP_HOST) && strcmp(g->host, s->host) != 0)
        return false;
    if ((by & BK_GROUP_PATHS) && !bk_strv_eq(g->paths, g->npaths, s->paths, s->npaths))
        return false;
    if ((by & BK_GROUP_TAGS) && !bk_strv_eq(g->tags, g->ntags, tags, ntags))
        return false;
    return true;
}

static int newest_first(const void *a, const void *b)
{
    const bk_forget_item *x = a, *y = b;
    if (x->snap->time != y->snap->time)
        return x->snap->time > y->snap->time ? -1 : 1;
    if (x->snap->time_nsec != y->snap->time_nsec)
        return x->snap->time_nsec > y->snap->time_nsec ? -1 : 1;
    return -bk_id_cmp(&x->snap->id, &y->snap->id);
}

int bk_forget_plan(bk_snapshot **v, size_t n, const bk_policy *p, unsigned group_by,
                   bk_forget_group **ret, size_t *ret_n)
{
    bk_forget_group *groups = NULL;
    size_t ng = 0;
    int r = policy_empty(p) || !policy_valid(p) ? -EINVAL : 0;
    for (size_t i = 0; i < n; i++) {
        bk_snapshot *s = v[i];
        if (r < 0) {
            bk_snapshot_free(s);
            continue;
        }
        /* paths and tags compare as sets */
        if (s->npaths > 1)
            qsort(s->paths, s->npaths, sizeof(char *), cmp_str);
        char **tags = NULL;
        size_t ntags = 0;
        r = bk_strv_dup(s->tags, s->ntags, &tags);
        ntags = r == 0 ? s->ntags : 0;
        if (ntags > 1)
            qsort(tags, ntags, sizeof(char *), cmp_str);
        bk_forget_group *g = NULL;
        for (size_t k = 0; r == 0 && k < ng && !g; k++)
            if (in_group(&groups[k], s, group_by, tags, ntags))
                g = &groups[k];
        if (r == 0 && !g) {
            bk_forget_group *ngv = realloc(groups, (ng + 1) * sizeof(*ngv));
            if (!ngv) {
                r = -ENOMEM;
            } else {
                groups = ngv;
                g = &groups[ng++];
                memset(g, 0, sizeof(*g));
                if (group_by & BK_GROUP_HOST)
                    g->host = strdup(s->host);
                if (group_by & BK_GROUP_PATHS && bk_strv_dup(s->paths, s->npaths, &g->paths) == 0)
                    g->npaths = s->npaths;
                if (group_by & BK_GROUP_TAGS) {
                    g->tags = tags;
                    g->ntags = ntags;
                    tags = NULL;
                    ntags = 0;
                }
            }
        }
        bk_strv_free(tags, ntags);
        if (r == 0) {
            bk_forget_item *items = realloc(g->items, (g->n + 1) * sizeof(*items));
            if (!items) {
                r = -ENOMEM;
            } else {
                g->items = items;
                memset(&items[g->n], 0, sizeof(items[0]));
                items[g->n++].snap = s;
                s = NULL;
            }
        }
        bk_snapshot_free(s);
    }
    free(v);
    for (size_t k = 0; r == 0 && k < ng; k++) {
        if (groups[k].n > 1)
            qsort(groups[k].items, groups[k].n, sizeof(bk_forget_item), newest_first);
        r = apply_policy(&groups[k], p);
    }
    if (r < 0) {
        bk_forget_groups_free(groups, ng);
        return r;
    }
    *ret = groups;
    *ret_n = ng;
    return 0;
}

void bk_forget_groups_free(bk_forget_group *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++) {
        free(g[i].host);
        bk_strv_free(g[i].paths, g[i].npaths);
        bk_strv_free(g[i].tags, g[i].ntags);
        for (size_t j = 0; j < g[i].n; j++) {
            bk_snapshot_free(g[i].items[j].snap);
            bk_strv_free(g[i].items[j].reasons, g[i].items[j].nreasons);
        }
        free(g[i].items);
    }
    free(g);
}
