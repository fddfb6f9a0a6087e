/* test-retention.c - forget policies (bk_forget_plan), restic's semantics: the snapshot
 * table and policies of restic's TestApplyPolicy (internal/restic/snapshot_policy_test.go,
 * expected sets as in its testdata/policy_keep_snapshots_* from before 0.16) plus more
 * combinations; ties; buckets in each snapshot's own UTC offset whatever TZ says;
 * --keep-within calendar arithmetic and its boundary; --keep-tag; grouping by host, paths
 * and tags; the reasons a snapshot is kept for; empty policy, empty input, bad values. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "helpers.h"
#include "snapshot.h"
#include "util.h"

/* ---- building snapshots -------------------------------------------------------------- */

/* days since 1970-01-01 of a proleptic Gregorian date (own code: no libc, no TZ) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD HH:MM:SS[.f]" read as a wall clock at UTC offset tz (seconds east) */
static int64_t wall(const char *s, int32_t tz, int32_t *ret_nsec)
{
    int y, mo, d, h, mi, sec, used = 0;
    assert_int_equal(sscanf(s, "%d-%d-%d %d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &used), 6);
    int32_t nsec = 0;
    if (s[used] == '.') {
        int32_t scale = 100000000;
        for (const char *p = s + used + 1; *p; p++, scale /= 10)
            nsec += (*p - '0') * scale;
    }
    if (ret_nsec)
        *ret_nsec = nsec;
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - tz;
}

/* the wall clock of s in its own offset, in the format wall() reads */
static void when(const bk_snapshot *s, char out[40])
{
    time_t t = (time_t)(s->time + s->tz_offset);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
    if (s->time_nsec) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%09d", (int)s->time_nsec);
        for (int i = 8; i > 0 && frac[i] == '0'; i--)
            frac[i] = 0;
        snprintf(out + n, 40 - n, ".%s", frac);
    }
}

static void split_push(char ***v, size_t *n, const char *list)
{
    if (!list)
        return;
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        assert_int_equal(bk_strv_push(v, n, p), 0);
}

/* Snapshot number idx (0..255): its id sorts after those of higher numbers, so among
 * snapshots with the same time the lower number counts as the newer one (restic: the
 * first in the list).  paths and tags are comma separated lists. */
static bk_snapshot *mk(unsigned idx, const char *at, int32_t tz, const char *host,
                       const char *paths, const char *tags)
{
    bk_snapshot *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->time = wall(at, tz, &s->time_nsec);
    s->tz_offset = tz;
    s->id.b[0] = (uint8_t)(0xff - idx);
    s->id.b[1] = (uint8_t)idx;
    s->host = strdup(host ? host : "host");
    s->username = strdup("user");
    split_push(&s->paths, &s->npaths, paths);
    split_push(&s->tags, &s->ntags, tags);
    return s;
}

static unsigned idx_of(const bk_forget_item *it)
{
    return it->snap->id.b[1];
}

/* the snapshots of one group by number, in the order the group lists them */
static void members(const bk_forget_group *g, bool kept_only, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!kept_only || g->items[i].keep)
            o += (size_t)snprintf(out + o, len - o, "%s%u", o ? " " : "", idx_of(&g->items[i]));
}

/* Each item is kept exactly when it has reasons; items are newest first. */
static void check_consistent(const bk_forget_group *g, size_t ng)
{
    for (size_t k = 0; k < ng; k++)
        for (size_t i = 0; i < g[k].n; i++) {
            const bk_forget_item *it = &g[k].items[i];
            assert_int_equal(it->keep, it->nreasons > 0);
            if (i == 0)
                continue;
            const bk_snapshot *a = g[k].items[i - 1].snap, *b = it->snap;
            assert_true(a->time > b->time || (a->time == b->time && a->time_nsec >= b->time_nsec));
        }
}

/* Plan over copies of the n snapshots in v (v is kept for another run). */
static int plan(bk_snapshot *const *v, size_t n, const bk_policy *p, unsigned by,
                bk_forget_group **ret, size_t *ret_n)
{
    bk_snapshot **copy = n ? calloc(n, sizeof(*copy)) : NULL;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(bk_snapshot_dup(v[i], &copy[i]), 0);
    int r = bk_forget_plan(copy, n, p, by, ret, ret_n);
    if (r == 0)
        check_consistent(*ret, *ret_n);
    return r;
}

static void free_all(bk_snapshot **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bk_snapshot_free(v[i]);
}

/* Plan one group (group_by 0) and return the kept snapshots' numbers, "3 1 0". */
static void kept_of(bk_snapshot *const *v, size_t n, const bk_policy *p, char *out, size_t len)
{
    bk_forget_group *g;
    size_t ng;
    assert_int_equal(plan(v, n, p, 0, &g, &ng), 0);
    assert_int_equal(ng, n ? 1 : 0);
    if (ng) {
        assert_int_equal(g[0].n, n);
        members(&g[0], true, out, len);
    } else {
        out[0] = 0;
    }
    bk_forget_groups_free(g, ng);
}

#define assert_kept(v, n, p, want)                                                         \
    do {                                                                                   \
        char got_[1024];                                                                   \
        kept_of(v, n, p, got_, sizeof(got_));                                              \
        assert_string_equal(got_, want);                                                   \
    } while (0)

static bool has_reason(const bk_forget_item *it, const char *r)
{
    for (size_t i = 0; i < it->nreasons; i++)
        if (strcmp(it->reasons[i], r) == 0)
            return true;
    return false;
}

static const bk_forget_item *find_item(const bk_forget_group *g, unsigned idx)
{
    for (size_t i = 0; i < g->n; i++)
        if (idx_of(&g->items[i]) == idx)
            return &g->items[i];
    fail_msg("snapshot %u is not in the group", idx);
    return NULL;
}

/* ---- restic's table ------------------------------------------------------------------ */

/* restic's testExpireSnapshots, in its order (which is not sorted); times are UTC. */
static const struct {
    const char *at, *tags, *paths;
} restic_snaps[] = {
    { "2014-09-01 10:20:30", NULL, NULL }, { "2014-09-02 10:20:30", NULL, NULL },
    { "2014-09-05 10:20:30", NULL, NULL }, { "2014-09-06 10:20:30", NULL, NULL },
    { "2014-09-08 10:20:30", NULL, NULL }, { "2014-09-09 10:20:30", NULL, NULL },
    { "2014-09-10 10:20:30", NULL, NULL }, { "2014-09-11 10:20:30", NULL, NULL },
    { "2014-09-20 10:20:30", NULL, NULL }, { "2014-09-22 10:20:30", NULL, NULL },
    { "2014-08-08 10:20:30", NULL, NULL }, { "2014-08-10 10:20:30", NULL, NULL },
    { "2014-08-12 10:20:30", NULL, NULL }, { "2014-08-13 10:20:30", NULL, NULL },
    { "2014-08-13 10:20:30.1", NULL, NULL }, { "2014-08-15 10:20:30", NULL, NULL },
    { "2014-08-18 10:20:30", NULL, NULL }, { "2014-08-20 10:20:30", NULL, NULL },
    { "2014-08-21 10:20:30", NULL, NULL }, { "2014-08-22 10:20:30", NULL, NULL },
    { "2014-10-01 10:20:30", "foo", NULL }, { "2014-10-02 10:20:30", "foo", NULL },
    { "2014-10-05 10:20:30", "foo", NULL }, { "2014-10-06 10:20:30", "foo", NULL },
    { "2014-10-08 10:20:30", "foo", NULL }, { "2014-10-09 10:20:30", "foo", NULL },
    { "2014-10-10 10:20:30", "foo", NULL }, { "2014-10-11 10:20:30", "foo", NULL },
    { "2014-10-20 10:20:30", "foo", NULL }, { "2014-10-22 10:20:30", "foo", NULL },
    { "2014-11-08 10:20:30", "foo", NULL }, { "2014-11-10 10:20:30", "foo", NULL },
    { "2014-11-12 10:20:30", "foo", NULL }, { "2014-11-13 10:20:30", "foo", NULL },
    { "2014-11-13 10:20:30.1", "bar", NULL }, { "2014-11-15 10:20:30", "foo,bar", NULL },
    { "2014-11-18 10:20:30", NULL, NULL }, { "2014-11-20 10:20:30", NULL, NULL },
    { "2014-11-21 10:20:30", NULL, NULL }, { "2014-11-22 10:20:30", NULL, NULL },
    { "2015-09-01 10:20:30", NULL, NULL }, { "2015-09-02 10:20:30", NULL, NULL },
    { "2015-09-05 10:20:30", NULL, NULL }, { "2015-09-06 10:20:30", NULL, NULL },
    { "2015-09-08 10:20:30", NULL, NULL }, { "2015-09-09 10:20:30", NULL, NULL },
    { "2015-09-10 10:20:30", NULL, NULL }, { "2015-09-11 10:20:30", NULL, NULL },
    { "2015-09-20 10:20:30", NULL, NULL }, { "2015-09-22 10:20:30", NULL, NULL },
    { "2015-08-08 10:20:30", NULL, NULL }, { "2015-08-10 10:20:30", NULL, NULL },
    { "2015-08-12 10:20:30", NULL, NULL }, { "2015-08-13 10:20:30", NULL, NULL },
    { "2015-08-13 10:20:30.1", NULL, NULL }, { "2015-08-15 10:20:30", NULL, NULL },
    { "2015-08-18 10:20:30", NULL, NULL }, { "2015-08-20 10:20:30", NULL, NULL },
    { "2015-08-21 10:20:30", NULL, NULL }, { "2015-08-22 10:20:30", NULL, NULL },
    { "2015-10-01 10:20:30", NULL, NULL }, { "2015-10-02 10:20:30", NULL, NULL },
    { "2015-10-05 10:20:30", NULL, NULL }, { "2015-10-06 10:20:30", NULL, NULL },
    { "2015-10-08 10:20:30", NULL, NULL }, { "2015-10-09 10:20:30", NULL, NULL },
    { "2015-10-10 10:20:30", NULL, NULL }, { "2015-10-11 10:20:30", NULL, NULL },
    { "2015-10-20 10:20:30", NULL, NULL }, { "2015-10-22 10:20:30", NULL, NULL },
    { "2015-10-22 10:20:30", NULL, NULL }, { "2015-10-22 10:20:30", "foo,bar", NULL },
    { "2015-10-22 10:20:30", "foo,bar", NULL },
    { "2015-10-22 10:20:30", "foo,bar", "path1,path2" },
    { "2015-11-08 10:20:30", NULL, NULL }, { "2015-11-10 10:20:30", NULL, NULL },
    { "2015-11-12 10:20:30", NULL, NULL }, { "2015-11-13 10:20:30", NULL, NULL },
    { "2015-11-13 10:20:30.1", NULL, NULL }, { "2015-11-15 10:20:30", NULL, NULL },
    { "2015-11-18 10:20:30", NULL, NULL }, { "2015-11-20 10:20:30", NULL, NULL },
    { "2015-11-21 10:20:30", NULL, NULL }, { "2015-11-22 10:20:30", NULL, NULL },
    { "2016-01-01 01:02:03", NULL, NULL }, { "2016-01-01 01:03:03", NULL, NULL },
    { "2016-01-01 07:08:03", NULL, NULL }, { "2016-01-03 07:02:03", NULL, NULL },
    { "2016-01-04 10:23:03", NULL, NULL }, { "2016-01-04 11:23:03", NULL, NULL },
    { "2016-01-04 12:23:03", NULL, NULL }, { "2016-01-04 12:24:03", NULL, NULL },
    { "2016-01-04 12:28:03", NULL, NULL }, { "2016-01-04 12:30:03", NULL, NULL },
    { "2016-01-04 16:23:03", NULL, NULL }, { "2016-01-05 09:02:03", NULL, NULL },
    { "2016-01-06 08:02:03", NULL, NULL }, { "2016-01-07 10:02:03", NULL, NULL },
    { "2016-01-08 20:02:03", NULL, NULL }, { "2016-01-09 21:02:03", NULL, NULL },
    { "2016-01-12 21:02:03", NULL, NULL }, { "2016-01-12 21:08:03", NULL, NULL },
    { "2016-01-18 12:02:03", NULL, NULL },
};
#define NRESTIC (sizeof(restic_snaps) / sizeof(restic_snaps[0]))

static void restic_table(bk_snapshot **v)
{
    for (unsigned i = 0; i < NRESTIC; i++)
        v[i] = mk(i, restic_snaps[i].at, 0, "host", restic_snaps[i].paths, restic_snaps[i].tags);
}

/* One policy over the whole table in one group.  The expected result is one of:
 * keep_from: every snapshot from the newest down to this time is kept, no older one;
 * n > 0: the kept snapshots, newest first; n < 0: the -n removed ones, newest first
 * (snapshots with the same time are interchangeable here). */
typedef struct table_case {
    const char *name;
    bk_policy p;
    const char *keep_from;
    int n;
    const char *list[40];
} table_case;

static const table_case table_cases[] = {
    { "keep-last 10",
      { .keep_last = 10 },
      "2016-01-04 12:30:03", 0, { NULL } },
    { "keep-last 15",
      { .keep_last = 15 },
      "2016-01-04 10:23:03", 0, { NULL } },
    { "keep-last 99",
      { .keep_last = 99 },
      "2014-08-13 10:20:30.1", 0, { NULL } },
    { "keep-last 200",
      { .keep_last = 200 },
      "2014-08-08 10:20:30", 0, { NULL } },
    { "keep-hourly 20",
      { .keep_hourly = 20 },
      NULL, 20, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03",
          "2016-01-05 09:02:03", "2016-01-04 16:23:03", "2016-01-04 12:30:03",
          "2016-01-04 11:23:03", "2016-01-04 10:23:03", "2016-01-03 07:02:03",
          "2016-01-01 07:08:03", "2016-01-01 01:03:03", "2015-11-22 10:20:30",
          "2015-11-21 10:20:30", "2015-11-20 10:20:30", "2015-11-18 10:20:30",
          "2015-11-15 10:20:30", "2015-11-13 10:20:30.1",
      } },
    { "keep-daily 3",
      { .keep_daily = 3 },
      NULL, 3, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
      } },
    { "keep-daily 10",
      { .keep_daily = 10 },
      NULL, 10, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03",
          "2016-01-05 09:02:03", "2016-01-04 16:23:03", "2016-01-03 07:02:03",
          "2016-01-01 07:08:03",
      } },
    { "keep-daily 30",
      { .keep_daily = 30 },
      NULL, 30, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03",
          "2016-01-05 09:02:03", "2016-01-04 16:23:03", "2016-01-03 07:02:03",
          "2016-01-01 07:08:03", "2015-11-22 10:20:30", "2015-11-21 10:20:30",
          "2015-11-20 10:20:30", "2015-11-18 10:20:30", "2015-11-15 10:20:30",
          "2015-11-13 10:20:30.1", "2015-11-12 10:20:30", "2015-11-10 10:20:30",
          "2015-11-08 10:20:30", "2015-10-22 10:20:30", "2015-10-20 10:20:30",
          "2015-10-11 10:20:30", "2015-10-10 10:20:30", "2015-10-09 10:20:30",
          "2015-10-08 10:20:30", "2015-10-06 10:20:30", "2015-10-05 10:20:30",
          "2015-10-02 10:20:30", "2015-10-01 10:20:30", "2015-09-22 10:20:30",
      } },
    { "keep-last 5 keep-daily 5",
      { .keep_last = 5, .keep_daily = 5 },
      "2016-01-07 10:02:03", 0, { NULL } },
    { "keep-last 2 keep-daily 10",
      { .keep_last = 2, .keep_daily = 10 },
      NULL, 10, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03",
          "2016-01-05 09:02:03", "2016-01-04 16:23:03", "2016-01-03 07:02:03",
          "2016-01-01 07:08:03",
      } },
    { "keep-weekly 2",
      { .keep_weekly = 2 },
      "2016-01-12 21:08:03", 0, { NULL } },
    { "keep-weekly 4",
      { .keep_weekly = 4 },
      NULL, 4, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-03 07:02:03",
      } },
    { "keep-daily 3 keep-weekly 4",
      { .keep_daily = 3, .keep_weekly = 4 },
      NULL, 4, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-03 07:02:03",
      } },
    { "keep-monthly 6",
      { .keep_monthly = 6 },
      NULL, 6, {
          "2016-01-18 12:02:03", "2015-11-22 10:20:30", "2015-10-22 10:20:30",
          "2015-09-22 10:20:30", "2015-08-22 10:20:30", "2014-11-22 10:20:30",
      } },
    { "keep-daily 2 keep-weekly 2 keep-monthly 6",
      { .keep_daily = 2, .keep_weekly = 2, .keep_monthly = 6 },
      NULL, 7, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2015-11-22 10:20:30",
          "2015-10-22 10:20:30", "2015-09-22 10:20:30", "2015-08-22 10:20:30",
          "2014-11-22 10:20:30",
      } },
    { "keep-yearly 10",
      { .keep_yearly = 10 },
      NULL, 3, {
          "2016-01-18 12:02:03", "2015-11-22 10:20:30", "2014-11-22 10:20:30",
      } },
    { "keep-daily 7 keep-weekly 2 keep-monthly 3 keep-yearly 10",
      { .keep_daily = 7, .keep_weekly = 2, .keep_monthly = 3, .keep_yearly = 10 },
      NULL, 10, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03",
          "2016-01-05 09:02:03", "2015-11-22 10:20:30", "2015-10-22 10:20:30",
          "2014-11-22 10:20:30",
      } },
    { "keep-tag foo",
      { .keep_tags = (const char *const[]){ "foo" }, .nkeep_tags = 1 },
      NULL, 18, {
          "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
          "2014-11-15 10:20:30", "2014-11-13 10:20:30", "2014-11-12 10:20:30",
          "2014-11-10 10:20:30", "2014-11-08 10:20:30", "2014-10-22 10:20:30",
          "2014-10-20 10:20:30", "2014-10-11 10:20:30", "2014-10-10 10:20:30",
          "2014-10-09 10:20:30", "2014-10-08 10:20:30", "2014-10-06 10:20:30",
          "2014-10-05 10:20:30", "2014-10-02 10:20:30", "2014-10-01 10:20:30",
      } },
    { "keep-tag foo,bar",
      { .keep_tags = (const char *const[]){ "foo,bar" }, .nkeep_tags = 1 },
      NULL, 4, {
          "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
          "2014-11-15 10:20:30",
      } },
    { "keep-tag foo keep-tag bar",
      { .keep_tags = (const char *const[]){ "foo", "bar" }, .nkeep_tags = 2 },
      NULL, 19, {
          "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
          "2014-11-15 10:20:30", "2014-11-13 10:20:30.1", "2014-11-13 10:20:30",
          "2014-11-12 10:20:30", "2014-11-10 10:20:30", "2014-11-08 10:20:30",
          "2014-10-22 10:20:30", "2014-10-20 10:20:30", "2014-10-11 10:20:30",
          "2014-10-10 10:20:30", "2014-10-09 10:20:30", "2014-10-08 10:20:30",
          "2014-10-06 10:20:30", "2014-10-05 10:20:30", "2014-10-02 10:20:30",
          "2014-10-01 10:20:30",
      } },
    { "keep-within 1d",
      { .keep_within = { 0, 0, 1, 0 } },
      "2016-01-18 12:02:03", 0, { NULL } },
    { "keep-within 2d",
      { .keep_within = { 0, 0, 2, 0 } },
      "2016-01-18 12:02:03", 0, { NULL } },
    { "keep-within 7d",
      { .keep_within = { 0, 0, 7, 0 } },
      "2016-01-12 21:02:03", 0, { NULL } },
    { "keep-within 1m",
      { .keep_within = { 0, 1, 0, 0 } },
      "2016-01-01 01:02:03", 0, { NULL } },
    { "keep-within 1m14d",
      { .keep_within = { 0, 1, 14, 0 } },
      "2016-01-01 01:02:03", 0, { NULL } },
    { "keep-within 1y1d1m",
      { .keep_within = { 1, 1, 1, 0 } },
      "2015-08-08 10:20:30", 0, { NULL } },
    { "keep-last 3",
      { .keep_last = 3 },
      "2016-01-12 21:02:03", 0, { NULL } },
    { "keep-yearly 2",
      { .keep_yearly = 2 },
      NULL, 2, {
          "2016-01-18 12:02:03", "2015-11-22 10:20:30",
      } },
    { "keep-last 3 keep-daily 3 keep-weekly 2 keep-monthly 6 keep-yearly 2",
      { .keep_last = 3, .keep_daily = 3, .keep_weekly = 2, .keep_monthly = 6, .keep_yearly = 2 },
      NULL, 9, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-12 21:02:03",
          "2016-01-09 21:02:03", "2015-11-22 10:20:30", "2015-10-22 10:20:30",
          "2015-09-22 10:20:30", "2015-08-22 10:20:30", "2014-11-22 10:20:30",
      } },
    { "keep-hourly -1",
      { .keep_hourly = -1 },
      NULL, -13, {
          "2016-01-12 21:02:03", "2016-01-04 12:28:03", "2016-01-04 12:24:03",
          "2016-01-04 12:23:03", "2016-01-01 01:02:03", "2015-11-13 10:20:30",
          "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
          "2015-10-22 10:20:30", "2015-08-13 10:20:30", "2014-11-13 10:20:30",
          "2014-08-13 10:20:30",
      } },
    { "keep-daily -1",
      { .keep_daily = -1 },
      NULL, -17, {
          "2016-01-12 21:02:03", "2016-01-04 12:30:03", "2016-01-04 12:28:03",
          "2016-01-04 12:24:03", "2016-01-04 12:23:03", "2016-01-04 11:23:03",
          "2016-01-04 10:23:03", "2016-01-01 01:03:03", "2016-01-01 01:02:03",
          "2015-11-13 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
          "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-08-13 10:20:30",
          "2014-11-13 10:20:30", "2014-08-13 10:20:30",
      } },
    { "keep-weekly -1",
      { .keep_weekly = -1 },
      NULL, 30, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
          "2016-01-03 07:02:03", "2015-11-22 10:20:30", "2015-11-15 10:20:30",
          "2015-11-08 10:20:30", "2015-10-22 10:20:30", "2015-10-11 10:20:30",
          "2015-10-02 10:20:30", "2015-09-22 10:20:30", "2015-09-20 10:20:30",
          "2015-09-11 10:20:30", "2015-09-06 10:20:30", "2015-08-22 10:20:30",
          "2015-08-15 10:20:30", "2015-08-08 10:20:30", "2014-11-22 10:20:30",
          "2014-11-15 10:20:30", "2014-11-08 10:20:30", "2014-10-22 10:20:30",
          "2014-10-11 10:20:30", "2014-10-05 10:20:30", "2014-09-22 10:20:30",
          "2014-09-20 10:20:30", "2014-09-11 10:20:30", "2014-09-06 10:20:30",
          "2014-08-22 10:20:30", "2014-08-15 10:20:30", "2014-08-10 10:20:30",
      } },
    { "keep-monthly -1",
      { .keep_monthly = -1 },
      NULL, 9, {
          "2016-01-18 12:02:03", "2015-11-22 10:20:30", "2015-10-22 10:20:30",
          "2015-09-22 10:20:30", "2015-08-22 10:20:30", "2014-11-22 10:20:30",
          "2014-10-22 10:20:30", "2014-09-22 10:20:30", "2014-08-22 10:20:30",
      } },
    { "keep-yearly -1",
      { .keep_yearly = -1 },
      NULL, 3, {
          "2016-01-18 12:02:03", "2015-11-22 10:20:30", "2014-11-22 10:20:30",
      } },
    { "keep-last -1",
      { .keep_last = -1 },
      "2014-08-08 10:20:30", 0, { NULL } },
    { "keep-within 6d9h",
      { .keep_within = { 0, 0, 6, 9 } },
      "2016-01-12 21:02:03", 0, { NULL } },
    { "keep-within 3h",
      { .keep_within = { 0, 0, 0, 3 } },
      "2016-01-18 12:02:03", 0, { NULL } },
    { "keep-within 5d15h (exact boundary)",
      { .keep_within = { 0, 0, 5, 15 } },
      "2016-01-12 21:08:03", 0, { NULL } },
    { "keep-tag foo keep-monthly 2 keep-within 7d",
      { .keep_monthly = 2, .keep_within = { 0, 0, 7, 0 }, .keep_tags = (const char *const[]){ "foo" }, .nkeep_tags = 1 },
      NULL, 22, {
          "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-12 21:02:03",
          "2015-11-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
          "2015-10-22 10:20:30", "2014-11-15 10:20:30", "2014-11-13 10:20:30",
          "2014-11-12 10:20:30", "2014-11-10 10:20:30", "2014-11-08 10:20:30",
          "2014-10-22 10:20:30", "2014-10-20 10:20:30", "2014-10-11 10:20:30",
          "2014-10-10 10:20:30", "2014-10-09 10:20:30", "2014-10-08 10:20:30",
          "2014-10-06 10:20:30", "2014-10-05 10:20:30", "2014-10-02 10:20:30",
          "2014-10-01 10:20:30",
      } },
};
#define NCASES (sizeof(table_cases) / sizeof(table_cases[0]))

static void check_table_result(const table_case *c, const bk_forget_group *g, size_t ng)
{
    assert_int_equal(ng, 1);
    assert_null(g->host);
    assert_null(g->paths);
    assert_null(g->tags);
    assert_int_equal(g->n, NRESTIC);
    int64_t from = 0;
    int32_t from_nsec = 0;
    if (c->keep_from)
        from = wall(c->keep_from, 0, &from_nsec);
    size_t nlist = (size_t)(c->n < 0 ? -c->n : c->n), k = 0;
    bool ok = true;
    for (size_t i = 0; i < g->n; i++) {
        const bk_forget_item *it = &g->items[i];
        char w[40];
        when(it->snap, w);
        if (c->keep_from) {
            bool want = it->snap->time > from ||
                        (it->snap->time == from && it->snap->time_nsec >= from_nsec);
            if (want != it->keep) {
                print_error("%s: %s %s, expected the opposite\n", c->name, w,
                            it->keep ? "kept" : "removed");
                ok = false;
            }
        } else if (it->keep == (c->n > 0)) {
            if (k >= nlist || strcmp(c->list[k], w) != 0) {
                print_error("%s: %s %s, expected %s\n", c->name, w, it->keep ? "kept" : "removed",
                            k < nlist ? c->list[k] : "no more");
                ok = false;
            }
            k++;
        }
    }
    if (!c->keep_from && k != nlist) {
        print_error("%s: %zu %s, expected %zu\n", c->name, k, c->n > 0 ? "kept" : "removed", nlist);
        ok = false;
    }
    assert_true(ok);
}

static void test_table_case(void **state)
{
    const table_case *c = *state;
    bk_snapshot *v[NRESTIC], *rev[NRESTIC];
    restic_table(v);
    for (size_t i = 0; i < NRESTIC; i++)
        rev[i] = v[NRESTIC - 1 - i];
    /* the same in restic's order and reversed */
    for (int pass = 0; pass < 2; pass++) {
        bk_forget_group *g;
        size_t ng;
        assert_int_equal(plan(pass ? rev : v, NRESTIC, &c->p, 0, &g, &ng), 0);
        check_table_result(c, g, ng);
        bk_forget_groups_free(g, ng);
    }
    free_all(v, NRESTIC);
}

/* The reasons restic lists for "keep-daily 7 keep-weekly 2 keep-monthly 3 keep-yearly 10",
 * in its order (testdata/policy_keep_snapshots_17). */
static void test_reasons_buckets(void **state)
{
    bk_snapshot *v[NRESTIC];
    restic_table(v);
    bk_policy p = { .keep_daily = 7, .keep_weekly = 2, .keep_monthly = 3, .keep_yearly = 10 };
    bk_forget_group *g;
    size_t ng;
    assert_int_equal(plan(v, NRESTIC, &p, 0, &g, &ng), 0);
    assert_int_equal(ng, 1);
    static const struct {
        unsigned idx;
        const char *reasons[4];
    } want[] = {
        { 102, { "daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot" } },
        { 101, { "daily snapshot", "weekly snapshot" } },
        { 99, { "daily snapshot" } },
        { 95, { "daily snapshot" } },
        { 83, { "monthly snapshot", "yearly snapshot" } },
        { 69, { "monthly snapshot" } },   /* the first of the five 2015-10-22 10:20:30 */
        { 39, { "yearly snapshot" } },
        { 70, { NULL } },                 /* its twins are not kept */
        { 73, { NULL } },
        { 100, { NULL } },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const bk_forget_item *it = find_item(&g[0], want[i].idx);
        size_t n = 0;
        while (n < 4 && want[i].reasons[n])
            n++;
        assert_int_equal(it->nreasons, n);
        assert_int_equal(it->keep, n > 0);
        for (size_t k = 0; k < n; k++)
            assert_string_equal(it->reasons[k], want[i].reasons[k]);
    }
    bk_forget_groups_free(g, ng);
    free_all(v, NRESTIC);
}

static bool has_reason_prefix(const bk_forget_item *it, const char *prefix)
{
    for (size_t i = 0; i < it->nreasons; i++)
        if (strncmp(it->reasons[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

/* A snapshot kept for several reasons lists all of them, of every kind. */
static void test_reasons_all_kinds(void **state)
{
    bk_snapshot *v[] = {
        mk(0, "2016-01-10 12:00:00", 0, NULL, "/", "foo"),
        mk(1, "2016-01-10 08:00:00", 0, NULL, "/", "bar"),
        mk(2, "2016-01-05 12:00:00", 0, NULL, "/", "foo,bar"),
        mk(3, "2015-12-01 12:00:00", 0, NULL, "/", NULL),
        mk(4, "2015-11-01 12:00:00", 0, NULL, "/", NULL),
    };
    const char *tags[] = { "foo", "bar" };
    bk_policy p = { .keep_last = 1, .keep_daily = 2, .keep_monthly = 2,
                    .keep_within = { .days = 2 }, .keep_tags = tags, .nkeep_tags = 2 };
    bk_forget_group *g;
    size_t ng;
    assert_int_equal(plan(v, 5, &p, 0, &g, &ng), 0);
    assert_int_equal(ng, 1);
    const bk_forget_item *it = find_item(&g[0], 0);
    assert_int_equal(it->nreasons, 5);
    assert_true(has_reason(it, "last snapshot"));
    assert_true(has_reason(it, "daily snapshot"));
    assert_true(has_reason(it, "monthly snapshot"));
    assert_true(has_reason_prefix(it, "within "));
    assert_true(has_reason(it, "has tag foo"));
    it = find_item(&g[0], 1);   /* same day as 0: only within and its tag */
    assert_int_equal(it->nreasons, 2);
    assert_true(has_reason_prefix(it, "within "));
    assert_true(has_reason(it, "has tag bar"));
    it = find_item(&g[0], 2);   /* both tag entries match */
    assert_int_equal(it->nreasons, 3);
    assert_true(has_reason(it, "daily snapshot"));
    assert_true(has_reason(it, "has tag foo"));
    assert_true(has_reason(it, "has tag bar"));
    it = find_item(&g[0], 3);
    assert_int_equal(it->nreasons, 1);
    assert_true(has_reason(it, "monthly snapshot"));
    it = find_item(&g[0], 4);
    assert_false(it->keep);
    assert_int_equal(it->nreasons, 0);
    bk_forget_groups_free(g, ng);
    free_all(v, 5);
}

/* Equal times: a later nanosecond is newer; then the greater id counts as the newer (an
 * order that does not depend on the listing).  A bucket keeps one of them only. */
static void test_ties(void **state)
{
    bk_snapshot *a = mk(0, "2016-01-01 10:00:00", 0, NULL, NULL, NULL);
    bk_snapshot *b = mk(1, "2016-01-01 10:00:00", 0, NULL, NULL, NULL);
    bk_snapshot *c = mk(2, "2016-01-01 10:00:00.000000001", 0, NULL, NULL, NULL);
    bk_snapshot *d = mk(3, "2016-01-01 09:00:00", 0, NULL, NULL, NULL);
    assert_true(bk_id_cmp(&a->id, &b->id) > 0);
    bk_snapshot *ab[] = { a, b }, *ba[] = { b, a };
    bk_policy p = { .keep_last = 1 };
    assert_kept(ab, 2, &p, "0");
    assert_kept(ba, 2, &p, "0");
    p = (bk_policy){ .keep_last = 2 };
    assert_kept(ba, 2, &p, "0 1");
    p = (bk_policy){ .keep_daily = 1 };
    assert_kept(ba, 2, &p, "0");
    p = (bk_policy){ .keep_hourly = -1 };
    assert_kept(ab, 2, &p, "0");
    p = (bk_policy){ .keep_within = { .hours = 1 } };   /* both are the newest */
    assert_kept(ba, 2, &p, "0 1");
    bk_snapshot *abc[] = { a, b, c }, *cba[] = { c, b, a };
    p = (bk_policy){ .keep_last = 1 };
    assert_kept(abc, 3, &p, "2");
    assert_kept(cba, 3, &p, "2");
    p = (bk_policy){ .keep_yearly = 5 };
    assert_kept(abc, 3, &p, "2");
    bk_snapshot *bda[] = { b, d, a };
    p = (bk_policy){ .keep_daily = 2 };
    assert_kept(bda, 3, &p, "0");
    p = (bk_policy){ .keep_hourly = 2 };
    assert_kept(bda, 3, &p, "0 3");
    /* the same instant, but different days where each was made: two daily snapshots */
    bk_snapshot *e = mk(4, "2016-01-02 01:00:00", 3600, NULL, NULL, NULL);
    bk_snapshot *f = mk(5, "2016-01-01 23:00:00", -3600, NULL, NULL, NULL);
    assert_int_equal(e->time, f->time);
    bk_snapshot *fe[] = { f, e };
    p = (bk_policy){ .keep_daily = -1 };
    assert_kept(fe, 2, &p, "4 5");
    p = (bk_policy){ .keep_last = 1 };
    assert_kept(fe, 2, &p, "4");
    bk_snapshot *all[] = { a, b, c, d, e, f };
    free_all(all, 6);
}

/* Buckets are the calendar where each snapshot was made (its recorded offset), as restic's
 * time.Time keeps its zone: neither UTC nor the zone of the machine running forget. */
static void tz_checks(void)
{
    bk_policy p;
    /* +01:00 just after midnight: the new local day, although UTC still says the old */
    bk_snapshot *d1[] = {
        mk(0, "2016-01-02 11:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-01-02 00:30:00", 3600, NULL, NULL, NULL),    /* 2016-01-01T23:30Z */
        mk(2, "2016-01-01 12:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_daily = 2 };
    assert_kept(d1, 3, &p, "0 2");   /* by UTC days it would be "0 1" */
    free_all(d1, 3);
    /* -05:00 late evening: still the old local day, although UTC is the next */
    bk_snapshot *d2[] = {
        mk(0, "2016-01-02 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-01-01 22:00:00", -5 * 3600, NULL, NULL, NULL),   /* 2016-01-02T03:00Z */
        mk(2, "2016-01-01 12:00:00", 0, NULL, NULL, NULL),
    };
    assert_kept(d2, 3, &p, "0 1");   /* by UTC days: "0 2" */
    free_all(d2, 3);
    /* ISO weeks start on Monday 2016-01-04; 2016-01-03 is in 2015-W53 */
    bk_snapshot *w[] = {
        mk(0, "2016-01-04 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-01-04 00:30:00", 3600, NULL, NULL, NULL),    /* Sunday in UTC */
        mk(2, "2016-01-03 12:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_weekly = 2 };
    assert_kept(w, 3, &p, "0 2");
    free_all(w, 3);
    /* months and years */
    bk_snapshot *m[] = {
        mk(0, "2016-01-15 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-01-01 00:30:00", 3600, NULL, NULL, NULL),    /* 2015-12-31T23:30Z */
        mk(2, "2015-12-31 12:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_monthly = 2 };
    assert_kept(m, 3, &p, "0 2");
    p = (bk_policy){ .keep_yearly = 2 };
    assert_kept(m, 3, &p, "0 2");
    free_all(m, 3);
    /* hours at +05:30: 16:40 and 16:10 local share an hour; 11:10Z and 10:40Z do not */
    bk_snapshot *h[] = {
        mk(0, "2016-01-01 16:40:00", 19800, NULL, NULL, NULL),
        mk(1, "2016-01-01 16:10:00", 19800, NULL, NULL, NULL),
        mk(2, "2016-01-01 15:20:00", 19800, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_hourly = 5 };
    assert_kept(h, 3, &p, "0 2");   /* by UTC hours: "0 1 2" */
    free_all(h, 3);
    /* order is by the instant, not by the wall clock */
    bk_snapshot *o[] = {
        mk(0, "2016-01-01 10:00:00", 36000, NULL, NULL, NULL),   /* 00:00Z */
        mk(1, "2016-01-01 05:00:00", 0, NULL, NULL, NULL),       /* 05:00Z */
    };
    p = (bk_policy){ .keep_last = 1 };
    assert_kept(o, 2, &p, "1");
    p = (bk_policy){ .keep_daily = 1 };
    assert_kept(o, 2, &p, "1");
    free_all(o, 2);
    /* keep-within counts calendar months where the newest was made: 2016-05-01 01:00+02:00
     * minus a month is 2016-04-01 01:00+02:00 (2016-03-31T23:00Z); in UTC it would be
     * 2016-04-30T23:00Z minus a month, 2016-03-30T23:00Z. */
    bk_snapshot *k[] = {
        mk(0, "2016-05-01 01:00:00", 7200, NULL, NULL, NULL),
        mk(1, "2016-04-01 01:00:01", 7200, NULL, NULL, NULL),
        mk(2, "2016-03-31 14:00:00", 7200, NULL, NULL, NULL),    /* 12:00Z */
        mk(3, "2016-04-01 00:30:00", 0, NULL, NULL, NULL),       /* another offset */
    };
    p = (bk_policy){ .keep_within = { .months = 1 } };
    assert_kept(k, 4, &p, "0 3 1");
    free_all(k, 4);
}

static void test_time_zones(void **state)
{
    static const char *const zones[] = {
        NULL, "UTC0", "<+14>-14", "<-12>12", "EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30",
    };
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        if (zones[i])
            assert_int_equal(setenv("TZ", zones[i], 1), 0);
        tzset();
        tz_checks();
    }
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
}

/* keep-within: calendar arithmetic as Go's AddDate (overflowing days roll over), relative
 * to the group's newest snapshot, and only what is strictly after the boundary. */
static void test_within(void **state)
{
    bk_policy p;
    /* 2016-03-31 minus a month is "2016-02-31", that is 2016-03-02 */
    bk_snapshot *m[] = {
        mk(0, "2016-03-31 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-03-02 12:00:01", 0, NULL, NULL, NULL),
        mk(2, "2016-03-02 12:00:00", 0, NULL, NULL, NULL),   /* the boundary itself */
        mk(3, "2016-03-01 12:00:00", 0, NULL, NULL, NULL),
        mk(4, "2016-02-29 12:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_within = { .months = 1 } };
    assert_kept(m, 5, &p, "0 1");
    p = (bk_policy){ .keep_within = { .days = 31 } };   /* 2016-02-29 12:00 */
    assert_kept(m, 5, &p, "0 1 2 3");
    p = (bk_policy){ .keep_within = { .days = 30, .hours = 1 } };   /* 2016-03-01 11:00 */
    assert_kept(m, 5, &p, "0 1 2 3");
    p = (bk_policy){ .keep_within = { .days = 29, .hours = 24 } };  /* 2016-03-01 12:00 */
    assert_kept(m, 5, &p, "0 1 2");
    free_all(m, 5);
    /* 2016-02-29 minus a year is "2015-02-29", that is 2015-03-01 */
    bk_snapshot *y[] = {
        mk(0, "2016-02-29 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2015-03-01 12:00:01", 0, NULL, NULL, NULL),
        mk(2, "2015-03-01 12:00:00", 0, NULL, NULL, NULL),
        mk(3, "2015-02-28 12:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_within = { .years = 1 } };
    assert_kept(y, 4, &p, "0 1");
    p = (bk_policy){ .keep_within = { .years = 1, .days = 1 } };   /* 2015-02-28 12:00 */
    assert_kept(y, 4, &p, "0 1 2");
    p = (bk_policy){ .keep_within = { .months = 12, .hours = 25 } };   /* 2015-02-28 11:00 */
    assert_kept(y, 4, &p, "0 1 2 3");
    free_all(y, 4);
    /* fractions of a second count: the boundary is 2016-01-01 00:00:00.5 */
    bk_snapshot *f[] = {
        mk(0, "2016-01-02 00:00:00.5", 0, NULL, NULL, NULL),
        mk(1, "2016-01-01 00:00:00.6", 0, NULL, NULL, NULL),
        mk(2, "2016-01-01 00:00:00.5", 0, NULL, NULL, NULL),
        mk(3, "2016-01-01 00:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_within = { .days = 1 } };
    assert_kept(f, 4, &p, "0 1");
    p = (bk_policy){ .keep_within = { .hours = 25 } };
    assert_kept(f, 4, &p, "0 1 2 3");
    free_all(f, 4);
    /* relative to the newest snapshot, not to now */
    bk_snapshot *old[] = {
        mk(0, "2001-05-10 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2001-05-09 13:00:00", 0, NULL, NULL, NULL),
        mk(2, "2001-05-07 12:00:00", 0, NULL, NULL, NULL),
    };
    p = (bk_policy){ .keep_within = { .days = 2 } };
    assert_kept(old, 3, &p, "0 1");
    p = (bk_policy){ .keep_within = { .years = 100 } };
    assert_kept(old, 3, &p, "0 1 2");
    free_all(old, 3);
}

/* ... and relative to the newest of each group */
static void test_within_per_group(void **state)
{
    bk_snapshot *v[] = {
        mk(0, "2016-01-10 12:00:00", 0, "a", "/", NULL),
        mk(1, "2016-01-08 12:00:00", 0, "a", "/", NULL),
        mk(2, "2015-06-10 12:00:00", 0, "b", "/", NULL),
        mk(3, "2015-06-09 18:00:00", 0, "b", "/", NULL),
        mk(4, "2015-06-01 00:00:00", 0, "b", "/", NULL),
    };
    bk_policy p = { .keep_within = { .days = 1 } };
    bk_forget_group *g;
    size_t ng;
    assert_int_equal(plan(v, 5, &p, BK_GROUP_HOST, &g, &ng), 0);
    assert_int_equal(ng, 2);
    char got[64];
    for (size_t i = 0; i < ng; i++) {
        members(&g[i], true, got, sizeof(got));
        assert_string_equal(got, strcmp(g[i].host, "a") == 0 ? "0" : "2 3");
    }
    bk_forget_groups_free(g, ng);
    free_all(v, 5);
}

/* keep-tag: all tags of one entry, entries are alternatives, "" = untagged; tags do not
 * use up the other counts. */
static void test_keep_tag(void **state)
{
    bk_snapshot *v[] = {
        mk(0, "2016-01-06 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-01-05 12:00:00", 0, NULL, NULL, "foo"),
        mk(2, "2016-01-04 12:00:00", 0, NULL, NULL, "foo,bar"),
        mk(3, "2016-01-03 12:00:00", 0, NULL, NULL, "bar"),
        mk(4, "2016-01-02 12:00:00", 0, NULL, NULL, "baz"),
        mk(5, "2016-01-01 12:00:00", 0, NULL, NULL, NULL),
    };
    static const struct {
        const char *tags[2];
        int last;
        const char *kept;
    } cases[] = {
        { { "foo,bar" }, 0, "2" },
        { { "bar,foo" }, 0, "2" },
        { { "foo" }, 0, "1 2" },
        { { "foo", "baz" }, 0, "1 2 4" },
        { { "foo,baz" }, 0, "" },
        { { "" }, 0, "0 5" },
        { { "nope" }, 0, "" },   /* a policy that keeps nothing: everything goes */
        { { "bar" }, 1, "0 2 3" },
        { { "foo" }, 2, "0 1 2" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bk_policy p = { .keep_last = cases[i].last, .keep_tags = cases[i].tags,
                        .nkeep_tags = cases[i].tags[1] ? 2 : 1 };
        assert_kept(v, 6, &p, cases[i].kept);
    }
    free_all(v, 6);
}

/* Counts go to buckets that have snapshots, newest first: gaps do not use them up.
 * Unlike restic 0.16 and later, the oldest snapshot is not kept additionally when counts
 * are left over. */
static void test_buckets_with_snapshots(void **state)
{
    bk_snapshot *v[] = {
        mk(0, "2016-01-20 12:00:00", 0, NULL, NULL, NULL),
        mk(1, "2016-01-10 12:00:00", 0, NULL, NULL, NULL),
        mk(2, "2016-01-01 12:00:00", 0, NULL, NULL, NULL),
        mk(3, "2015-12-01 12:00:00", 0, NULL, NULL, NULL),
    };
    bk_policy p = { .keep_daily = 3 };
    assert_kept(v, 4, &p, "0 1 2");
    p = (bk_policy){ .keep_weekly = 2 };
    assert_kept(v, 4, &p, "0 1");
    p = (bk_policy){ .keep_monthly = 5 };
    assert_kept(v, 4, &p, "0 3");
    p = (bk_policy){ .keep_yearly = 5 };
    assert_kept(v, 4, &p, "0 3");
    p = (bk_policy){ .keep_yearly = 1 };   /* restic >= 0.16 would also keep 3, the oldest */
    assert_kept(v, 4, &p, "0");
    p = (bk_policy){ .keep_daily = 1000000, .keep_last = INT_MAX };
    assert_kept(v, 4, &p, "0 1 2 3");
    free_all(v, 4);
}

/* ---- grouping -------------------------------------------------------------------------- */

typedef struct want_group {
    const char *host, *paths, *tags;   /* expected keys; NULL = not grouped by it */
    const char *members, *kept;        /* snapshot numbers, newest first */
} want_group;

static void join(char *const *v, size_t n, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "", v[i]);
}

static void check_groups(bk_snapshot *const *v, size_t n, unsigned by, const want_group *w,
                         size_t nw)
{
    bk_policy p = { .keep_last = 1 };
    bk_forget_group *g;
    size_t ng;
    assert_int_equal(plan(v, n, &p, by, &g, &ng), 0);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++) {
        const bk_forget_group *x = NULL;
        char buf[256];
        for (size_t k = 0; k < ng && !x; k++) {
            members(&g[k], false, buf, sizeof(buf));
            if (strcmp(buf, w[i].members) == 0)
                x = &g[k];
        }
        if (!x)
            fail_msg("group by %u: no group of %s", by, w[i].members);
        if (w[i].host)
            assert_string_equal(x->host, w[i].host);
        else
            assert_null(x->host);
        if (w[i].paths) {
            join(x->paths, x->npaths, buf, sizeof(buf));
            assert_string_equal(buf, w[i].paths);
        } else {
            assert_null(x->paths);
            assert_int_equal(x->npaths, 0);
        }
        if (w[i].tags) {
            join(x->tags, x->ntags, buf, sizeof(buf));
            assert_string_equal(buf, w[i].tags);
        } else {
            assert_null(x->tags);
            assert_int_equal(x->ntags, 0);
        }
        members(x, true, buf, sizeof(buf));
        assert_string_equal(buf, w[i].kept);
    }
    bk_forget_groups_free(g, ng);
}

static void test_grouping(void **state)
{
    bk_snapshot *v[] = {
        mk(0, "2016-01-01 12:00:00", 0, "a", "/etc,/home", "x"),
        mk(1, "2016-01-02 12:00:00", 0, "a", "/home,/etc", "x"),   /* paths are a set */
        mk(2, "2016-01-03 12:00:00", 0, "a", "/etc", "x,y"),
        mk(3, "2016-01-04 12:00:00", 0, "b", "/etc,/home", "y,x"), /* and so are tags */
        mk(4, "2016-01-05 12:00:00", 0, "b", "/etc", NULL),
        mk(5, "2016-01-06 12:00:00", 0, "a", "/etc", "y,x"),
    };
    const want_group none[] = { { NULL, NULL, NULL, "5 4 3 2 1 0", "5" } };
    check_groups(v, 6, 0, none, 1);
    const want_group host[] = {
        { "a", NULL, NULL, "5 2 1 0", "5" },
        { "b", NULL, NULL, "4 3", "4" },
    };
    check_groups(v, 6, BK_GROUP_HOST, host, 2);
    const want_group paths[] = {
        { NULL, "/etc,/home", NULL, "3 1 0", "3" },
        { NULL, "/etc", NULL, "5 4 2", "5" },
    };
    check_groups(v, 6, BK_GROUP_PATHS, paths, 2);
    const want_group tags[] = {
        { NULL, NULL, "x", "1 0", "1" },
        { NULL, NULL, "x,y", "5 3 2", "5" },
        { NULL, NULL, "", "4", "4" },
    };
    check_groups(v, 6, BK_GROUP_TAGS, tags, 3);
    const want_group host_paths[] = {
        { "a", "/etc,/home", NULL, "1 0", "1" },
        { "a", "/etc", NULL, "5 2", "5" },
        { "b", "/etc,/home", NULL, "3", "3" },
        { "b", "/etc", NULL, "4", "4" },
    };
    check_groups(v, 6, BK_GROUP_HOST | BK_GROUP_PATHS, host_paths, 4);
    const want_group host_tags[] = {
        { "a", NULL, "x", "1 0", "1" },
        { "a", NULL, "x,y", "5 2", "5" },
        { "b", NULL, "x,y", "3", "3" },
        { "b", NULL, "", "4", "4" },
    };
    check_groups(v, 6, BK_GROUP_HOST | BK_GROUP_TAGS, host_tags, 4);
    const want_group paths_tags[] = {
        { NULL, "/etc,/home", "x", "1 0", "1" },
        { NULL, "/etc", "x,y", "5 2", "5" },
        { NULL, "/etc,/home", "x,y", "3", "3" },
        { NULL, "/etc", "", "4", "4" },
    };
    check_groups(v, 6, BK_GROUP_PATHS | BK_GROUP_TAGS, paths_tags, 4);
    const want_group all[] = {
        { "a", "/etc,/home", "x", "1 0", "1" },
        { "a", "/etc", "x,y", "5 2", "5" },
        { "b", "/etc,/home", "x,y", "3", "3" },
        { "b", "/etc", "", "4", "4" },
    };
    check_groups(v, 6, BK_GROUP_HOST | BK_GROUP_PATHS | BK_GROUP_TAGS, all, 4);
    free_all(v, 6);
}

/* ---- no policy, no snapshots, bad values ------------------------------------------------ */

static bk_snapshot **three(void)
{
    bk_snapshot **v = calloc(3, sizeof(*v));
    v[0] = mk(0, "2016-01-03 12:00:00", 0, NULL, "/", NULL);
    v[1] = mk(1, "2016-01-02 12:00:00", 0, NULL, "/", NULL);
    v[2] = mk(2, "2016-01-01 12:00:00", 0, NULL, "/", NULL);
    return v;
}

/* An empty policy would keep nothing: -EINVAL (the CLI refuses it before; restic keeps
 * everything).  The snapshots are taken over all the same. */
static void test_empty_policy(void **state)
{
    bk_policy p = { 0 };
    bk_forget_group *g = NULL;
    size_t ng = 77;
    assert_int_equal(bk_forget_plan(three(), 3, &p, BK_GROUP_HOST, &g, &ng), -EINVAL);
    assert_null(g);
    assert_int_equal(ng, 77);
    const char *tags[] = { "foo" };
    p.keep_tags = tags;   /* an array of no entries is no policy either */
    assert_int_equal(bk_forget_plan(three(), 3, &p, 0, &g, &ng), -EINVAL);
    assert_int_equal(bk_forget_plan(NULL, 0, &p, 0, &g, &ng), -EINVAL);
    assert_null(g);
    assert_int_equal(ng, 77);
}

static void test_empty_input(void **state)
{
    bk_policy p = { .keep_last = 1 };
    bk_forget_group *g = (bk_forget_group *)&p;
    size_t ng = 77;
    assert_int_equal(bk_forget_plan(NULL, 0, &p, BK_GROUP_HOST | BK_GROUP_PATHS, &g, &ng), 0);
    assert_int_equal(ng, 0);
    bk_forget_groups_free(g, ng);
    bk_snapshot **v = malloc(sizeof(*v));   /* freed although empty */
    assert_int_equal(bk_forget_plan(v, 0, &p, 0, &g, &ng), 0);
    assert_int_equal(ng, 0);
    bk_forget_groups_free(g, ng);
}

/* Counts below -1 and negative durations are rejected, as restic's forget does; the
 * snapshots are taken over. */
static void test_invalid_values(void **state)
{
    const bk_policy bad[] = {
        { .keep_last = -2 },
        { .keep_hourly = -3 },
        { .keep_daily = INT_MIN },
        { .keep_weekly = -2 },
        { .keep_monthly = -100 },
        { .keep_yearly = -2 },
        { .keep_within = { .years = -1 } },
        { .keep_within = { .months = -1 } },
        { .keep_within = { .days = -1 } },
        { .keep_within = { .hours = -1 } },
        { .keep_daily = 3, .keep_within = { .days = 2, .hours = -48 } },
        { .keep_last = 1, .keep_yearly = -7 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bk_forget_group *g = NULL;
        size_t ng = 77;
        int r = bk_forget_plan(three(), 3, &bad[i], 0, &g, &ng);
        if (r == 0)
            bk_forget_groups_free(g, ng);
        if (r != -EINVAL)
            fail_msg("policy %zu: expected -EINVAL, got %d", i, r);
        assert_null(g);
        assert_int_equal(ng, 77);
    }
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_reasons_buckets),
        cmocka_unit_test(test_reasons_all_kinds),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_within),
        cmocka_unit_test(test_within_per_group),
        cmocka_unit_test(test_keep_tag),
        cmocka_unit_test(test_buckets_with_snapshots),
        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_empty_policy),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_invalid_values),
    };
    enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
    struct CMUnitTest tests[NCASES + NFIXED];
    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){ table_cases[i].name, test_table_case, NULL, NULL,
                                        (void *)&table_cases[i] };
    memcpy(tests + NCASES, fixed, sizeof(fixed));
    return _cmocka_run_group_tests("retention", tests, NCASES + NFIXED, NULL, NULL);
}
