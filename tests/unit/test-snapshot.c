/* test-snapshot.c - snapshot documents: golden vector, round trip with and without a
 * summary, filters (bk_snapshot_match), sorting, time formatting and parsing with
 * offsets, and malformed documents rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "helpers.h"
#include "snapshot.h"
#include "util.h"

static void test_golden(void **state)
{
    bk_snapshot *s = th_golden_snapshot(), *d;
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_snapshot_encode(s, &b), 0);
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("snapshot.json", &file, &len), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, file, len);
    assert_int_equal(bk_snapshot_decode(file, len, &d), 0);
    assert_true(th_snapshot_equal(s, d));
    char when[48];
    bk_snapshot_time_str(d, when);
    assert_string_equal(when, "2025-11-25T13:30:11.123456789+01:00");
    bk_snapshot_free(d);
    bk_snapshot_free(s);
    bk_snapshot_free(NULL);
    bk_buf_free(&b);
    free(file);
}

/* files_changed_while_read (arca 0.2) is written only when it is not 0, so that the
 * documents of earlier versions stay byte for byte what they were; absent reads as 0. */
static void test_changed_while_read(void **state)
{
    bk_snapshot *s = th_golden_snapshot(), *d;
    assert_int_equal(s->summary.files_changed_while_read, 0);
    s->summary.files_changed_while_read = 7;
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_snapshot_encode(s, &b), 0);
    assert_non_null(memmem(b.data, b.len, "\"files_changed_while_read\":7", 28));
    assert_int_equal(bk_snapshot_decode(b.data, b.len, &d), 0);
    assert_int_equal(d->summary.files_changed_while_read, 7);
    assert_true(th_snapshot_equal(s, d));
    bk_snapshot_free(d);
    s->summary.files_changed_while_read = 0;
    b.len = 0;
    assert_int_equal(bk_snapshot_encode(s, &b), 0);
    assert_null(memmem(b.data, b.len, "files_changed_while_read", 24));
    assert_null(memmem(b.data, b.len, "original", 8));
    /* the snapshot a repaired or copied one was made from */
    s->has_original = true;
    th_id(&s->original, 77);
    b.len = 0;
    assert_int_equal(bk_snapshot_encode(s, &b), 0);
    assert_non_null(memmem(b.data, b.len, "\"original\":\"", 12));
    assert_int_equal(bk_snapshot_decode(b.data, b.len, &d), 0);
    assert_true(th_snapshot_equal(s, d));
    bk_snapshot_free(d);
    /* the slot that wrote it, and a dump's position in the binary log */
    s->has_key_slot = true;
    th_id(&s->key_slot, 78);
    s->mysql_binlog_file = strdup("binlog.000007");
    s->mysql_binlog_pos = 1157;
    s->mysql_gtid = strdup("0-1-5,1-2-9");
    b.len = 0;
    assert_int_equal(bk_snapshot_encode(s, &b), 0);
    assert_non_null(memmem(b.data, b.len, "\"mysql\":{\"binlog_file\":\"binlog.000007\",\"binlog_pos\":1157,"
                                          "\"gtid\":\"0-1-5,1-2-9\"}", 71));
    assert_int_equal(bk_snapshot_decode(b.data, b.len, &d), 0);
    assert_true(th_snapshot_equal(s, d));
    bk_snapshot *e;
    assert_int_equal(bk_snapshot_dup(d, &e), 0);
    assert_true(th_snapshot_equal(s, e));
    bk_snapshot_free(e);
    bk_snapshot_free(d);
    bk_buf_free(&b);
    bk_snapshot_free(s);
}

static void test_round_trip_minimal(void **state)
{
    /* no parent, no summary, no tags, no paths; negative offset, no fraction */
    bk_snapshot s;
    memset(&s, 0, sizeof(s));
    s.time = -86400;   /* before the epoch */
    s.tz_offset = -(5 * 3600 + 30 * 60);
    th_id(&s.tree, 9);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_snapshot_encode(&s, &b), 0);
    bk_snapshot *d;
    assert_int_equal(bk_snapshot_decode(b.data, b.len, &d), 0);
    assert_true(th_snapshot_equal(&s, d));
    assert_false(d->has_parent);
    assert_false(d->has_summary);
    assert_int_equal(d->npaths, 0);
    assert_string_equal(d->host, "");
    char when[48];
    bk_snapshot_time_str(d, when);
    assert_string_equal(when, "1969-12-30T18:30:00.000000000-05:30");
    /* a deep copy */
    bk_snapshot *c;
    assert_int_equal(bk_snapshot_dup(d, &c), 0);
    assert_true(th_snapshot_equal(c, d));
    bk_snapshot_free(c);
    bk_snapshot_free(d);
    bk_buf_free(&b);

    bk_snapshot *g = th_golden_snapshot();
    assert_int_equal(bk_snapshot_dup(g, &c), 0);
    assert_true(th_snapshot_equal(c, g));
    assert_ptr_not_equal(c->paths, g->paths);
    bk_snapshot_free(g);
    bk_snapshot_free(c);
}

static bk_snapshot *snap(const char *host, const char *paths, const char *tags)
{
    bk_snapshot *s = calloc(1, sizeof(*s));
    s->host = strdup(host);
    char buf[256], *save;
    snprintf(buf, sizeof(buf), "%s", paths);
    for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
        assert_int_equal(bk_strv_push(&s->paths, &s->npaths, p), 0);
    snprintf(buf, sizeof(buf), "%s", tags);
    for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
        assert_int_equal(bk_strv_push(&s->tags, &s->ntags, p), 0);
    return s;
}

static void test_match(void **state)
{
    bk_snapshot *a = snap("alpha", "/etc /home", "daily web");
    bk_snapshot *b = snap("beta", "/etc", "");
    const char *hosts[] = { "beta", "gamma" };
    const char *paths[] = { "/etc", "/home" };
    const char *groups_and[] = { "daily,web" };
    const char *groups_or[] = { "weekly", "web" };
    const char *groups_none[] = { "" };
    const char *groups_miss[] = { "daily,weekly" };
    bk_filter f = { 0 };
    assert_true(bk_snapshot_match(a, NULL));
    assert_true(bk_snapshot_match(a, &f));   /* an empty filter matches everything */
    f.hosts = hosts;
    f.nhosts = 2;
    assert_false(bk_snapshot_match(a, &f));
    assert_true(bk_snapshot_match(b, &f));
    memset(&f, 0, sizeof(f));
    f.paths = paths;
    f.npaths = 2;   /* every path must be there */
    assert_true(bk_snapshot_match(a, &f));
    assert_false(bk_snapshot_match(b, &f));
    f.npaths = 1;
    assert_true(bk_snapshot_match(b, &f));
    memset(&f, 0, sizeof(f));
    f.tag_groups = groups_and;
    f.ntag_groups = 1;
    assert_true(bk_snapshot_match(a, &f));
    assert_false(bk_snapshot_match(b, &f));
    f.tag_groups = groups_or;
    f.ntag_groups = 2;
    assert_true(bk_snapshot_match(a, &f));
    f.tag_groups = groups_miss;
    f.ntag_groups = 1;
    assert_false(bk_snapshot_match(a, &f));
    f.tag_groups = groups_none;   /* "" selects untagged snapshots */
    assert_false(bk_snapshot_match(a, &f));
    assert_true(bk_snapshot_match(b, &f));
    /* all criteria together */
    f.hosts = hosts;
    f.nhosts = 1;
    f.paths = paths;
    f.npaths = 1;
    assert_true(bk_snapshot_match(b, &f));
    f.npaths = 2;
    assert_false(bk_snapshot_match(b, &f));
    /* a path filter is exact, not a prefix */
    const char *sub[] = { "/et" };
    memset(&f, 0, sizeof(f));
    f.paths = sub;
    f.npaths = 1;
    assert_false(bk_snapshot_match(a, &f));
    bk_snapshot_free(a);
    bk_snapshot_free(b);
}

static void test_sort(void **state)
{
    bk_snapshot *v[4];
    int64_t times[] = { 300, 100, 300, 200 };
    for (size_t i = 0; i < 4; i++) {
        v[i] = calloc(1, sizeof(bk_snapshot));
        v[i]->time = times[i];
        th_id(&v[i]->id, i);
    }
    v[2]->time_nsec = 5;
    bk_snapshots_sort(v, 4);
    assert_true(v[0]->time == 100 && v[1]->time == 200 && v[2]->time == 300 && v[3]->time == 300);
    assert_int_equal(v[3]->time_nsec, 5);
    for (size_t i = 0; i < 4; i++)
        bk_snapshot_free(v[i]);
}

static void test_time_format(void **state)
{
    char out[48];
    bk_time_format(0, 0, 0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000000000+00:00");
    bk_time_format(TH_GOLDEN_TIME, 1, 3600, out);
    assert_string_equal(out, "2025-11-25T13:30:11.000000001+01:00");
    bk_time_format(TH_GOLDEN_TIME, 999999999, -(9 * 3600 + 45 * 60), out);
    assert_string_equal(out, "2025-11-25T02:45:11.999999999-09:45");
    bk_time_format(951782400, 0, 14 * 3600, out);   /* 2000-02-29 00:00 UTC */
    assert_string_equal(out, "2000-02-29T14:00:00.000000000+14:00");
    bk_time_format(253402300799, 0, 0, out);
    assert_string_equal(out, "9999-12-31T23:59:59.000000000+00:00");
}

static void test_time_parse(void **state)
{
    int64_t t;
    int32_t ns, tz;
    assert_int_equal(bk_parse_time("2025-11-25T13:30:11.123456789+01:00", &t, &ns, &tz), 0);
    assert_true(t == TH_GOLDEN_TIME);
    assert_int_equal(ns, 123456789);
    assert_int_equal(tz, 3600);
    assert_int_equal(bk_parse_time("2025-11-25T12:30:11Z", &t, &ns, &tz), 0);
    assert_true(t == TH_GOLDEN_TIME);
    assert_int_equal(ns, 0);
    assert_int_equal(tz, 0);
    assert_int_equal(bk_parse_time("2025-11-25t02:45:11.5-09:45", &t, &ns, &tz), 0);
    assert_true(t == TH_GOLDEN_TIME);
    assert_int_equal(ns, 500000000);
    assert_int_equal(tz, -(9 * 3600 + 45 * 60));
    /* more than 9 fraction digits are cut, not rounded */
    assert_int_equal(bk_parse_time("2025-11-25T12:30:11.1234567899Z", &t, &ns, &tz), 0);
    assert_int_equal(ns, 123456789);
    assert_int_equal(bk_parse_time("1969-12-31T23:59:59Z", &t, &ns, &tz), 0);
    assert_true(t == -1);
    assert_int_equal(bk_parse_time("2000-02-29T00:00:00+00:00", &t, &ns, &tz), 0);
    assert_true(t == 951782400);
    /* local times: the test runs with TZ=UTC */
    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(bk_parse_time("2025-11-25 12:30", &t, &ns, &tz), 0);
    assert_true(t == TH_GOLDEN_TIME - 11);
    assert_int_equal(tz, 0);
    assert_int_equal(bk_parse_time("2025-11-25 12:30:11", &t, &ns, &tz), 0);
    assert_true(t == TH_GOLDEN_TIME);
    assert_int_equal(bk_parse_time("2025-11-25", &t, &ns, &tz), 0);
    assert_true(t == TH_GOLDEN_TIME - (12 * 3600 + 30 * 60 + 11));

    /* format and parse are inverse */
    const int32_t offsets[] = { 0, 3600, -3600, 19800, -34200, 50400, -43200 };
    for (size_t i = 0; i < BK_ELEMENTSOF(offsets); i++)
        for (int64_t when = -2000000000; when < 4000000000; when += 777777777) {
            char out[48];
            bk_time_format(when, 42, offsets[i], out);
            assert_int_equal(bk_parse_time(out, &t, &ns, &tz), 0);
            assert_true(t == when);
            assert_int_equal(ns, 42);
            assert_int_equal(tz, offsets[i]);
        }

    static const char *const bad[] = {
        "", "garbage", "2025", "2025-11", "2025-1-25", "2025-13-01", "2025-00-01",
        "2025-11-32", "2025-11-00", "2025-11-25T24:00", "2025-11-25T12:60",
        "2025-11-25T12:30:61Z", "2025-11-25T12", "2025-11-25T12:30:11.Z",
        "2025-11-25T12:30:11+0100", "2025-11-25T12:30:11+01", "2025-11-25T12:30:11+24:00",
        "2025-11-25T12:30:11+01:60", "2025-11-25T12:30:11Zjunk", "2025-11-25T12:30:11 Z",
        "2025-11-25X12:30", "+025-11-25", "２０２５-11-25",
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(bad); i++)
        if (bk_parse_time(bad[i], &t, &ns, &tz) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_rejects(void **state)
{
    bk_snapshot *d;
    uint8_t *file;
    size_t len;
    assert_int_equal(th_read_data("snapshot.json", &file, &len), 0);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(bk_snapshot_decode(file, cut, &d), -EBADMSG);
    free(file);

    const char *tree = "\"tree\":\"0000000000000000000000000000000000000000000000000000000000000000\"";
    char *doc;
    struct {
        const char *body;
        int want;
    } cases[] = {
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],%s}", 0 },
        { "{\"version\":2,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],%s}", -EPROTONOSUPPORT },
        { "{\"version\":\"1\",\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"yesterday\",\"host\":\"h\",\"paths\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"paths\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":7,\"paths\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":{},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[1],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"tags\":\"a\",%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"uid\":-1,%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"gid\":4294967296,%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"uid\":4294967295,%s}", 0 },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"parent\":\"00\",%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"chunker\":{\"min\":-1,\"avg\":1,\"max\":2},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"chunker\":{\"min\":1},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"summary\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"mysql\":{\"gtid\":\"0-1-2\"},%s}", 0 },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"mysql\":{\"binlog_pos\":4},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"mysql\":{\"binlog_file\":\"b\",\"binlog_pos\":-1},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"mysql\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"key_slot\":\"xy\",%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"summary\":{\"files_new\":-1},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"summary\":{\"files_new\":1.5},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"summary\":{\"duration\":\"1\"},%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],\"summary\":{\"duration\":3},%s}", 0 },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"host\":\"h\",\"paths\":[],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[\"a\\u0000b\"],%s}", -EBADMSG },
        { "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\",\"paths\":[],%s} {}", -EBADMSG },
        { "[%s]", -EBADMSG },
    };
    for (size_t i = 0; i < BK_ELEMENTSOF(cases); i++) {
        assert_true(asprintf(&doc, cases[i].body, tree) > 0);
        d = NULL;
        int r = bk_snapshot_decode((const uint8_t *)doc, strlen(doc), &d);
        if (r != cases[i].want)
            fail_msg("case %zu: %d, want %d: %s", i, r, cases[i].want, doc);
        bk_snapshot_free(d);
        free(doc);
    }
    /* a bad tree id */
    static const char bad_tree[] = "{\"version\":1,\"time\":\"2025-11-25T12:30:11Z\",\"host\":\"h\","
                                   "\"paths\":[],\"tree\":\"xyz\"}";
    assert_int_equal(bk_snapshot_decode((const uint8_t *)bad_tree, strlen(bad_tree), &d), -EBADMSG);
    static const uint8_t nul[] = "{\"version\":1\0}";
    assert_int_equal(bk_snapshot_decode(nul, sizeof(nul), &d), -EBADMSG);
    for (uint64_t s = 0; s < 500; s++) {
        uint8_t g[100];
        th_fill(g, sizeof(g), s);
        assert_int_equal(bk_snapshot_decode(g, s % sizeof(g), &d), -EBADMSG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_changed_while_read),
        cmocka_unit_test(test_round_trip_minimal),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
