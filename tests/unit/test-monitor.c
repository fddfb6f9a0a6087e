/* test-monitor.c - the pure parts of the monitoring output (cli/metrics.h): label
 * escaping, merging a metrics file, Nagios performance data, states of ages; and the check
 * record's parser (libbackup). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup.h"
#include "metrics.h"

static void test_escape(void **state)
{
    (void)state;
    char *s = metrics_escape("a\"b\\c\nd");
    assert_string_equal(s, "a\\\"b\\\\c\\nd");
    free(s);
    s = metrics_labels("rados:backup/web01", "backup", "we\"b", "/etc,/srv");
    assert_string_equal(s, "repository=\"rados:backup/web01\",command=\"backup\",host=\"we\\\"b\","
                           "paths=\"/etc,/srv\"");
    free(s);
}

static void test_number(void **state)
{
    (void)state;
    char b[64];
    metrics_number(0, b, sizeof(b));
    assert_string_equal(b, "0");
    metrics_number(1234567890123.0, b, sizeof(b));
    assert_string_equal(b, "1234567890123");
    metrics_number(1.5, b, sizeof(b));
    assert_string_equal(b, "1.5");
    metrics_number(NAN, b, sizeof(b));
    assert_string_equal(b, "NaN");
}

static const char old_file[] =
    "# HELP arca_exit_code Exit status of the last run (0 success; see arca(1)).\n"
    "# TYPE arca_exit_code gauge\n"
    "arca_exit_code{repository=\"a\",command=\"backup\",host=\"h\",paths=\"/x\"} 0\n"
    "arca_exit_code{repository=\"b\",command=\"backup\",host=\"h\",paths=\"/x\"} 1\n"
    "# HELP arca_files_total Files.\n"
    "# TYPE arca_files_total counter\n"
    "arca_files_total{repository=\"a\",command=\"backup\",host=\"h\",paths=\"/x\"} 10\n"
    "# HELP other_metric Not ours.\n"
    "# TYPE other_metric gauge\n"
    "other_metric{x=\"a}b\"} 5\n"
    "garbage line without value\n"
    "# a comment\n";

static void test_merge(void **state)
{
    (void)state;
    const char *la = "repository=\"a\",command=\"backup\",host=\"h\",paths=\"/x\"";
    const char *lc = "repository=\"c\",command=\"check\",host=\"h\",paths=\"\"";
    metric_sample v[] = {
        { "arca_exit_code", la, 2, false },
        { "arca_files_total", la, 5, true },
        { "arca_exit_code", lc, 0, false },
        { "arca_files_total", lc, 7, true },
    };
    char *out = NULL;
    assert_int_equal(metrics_merge(old_file, v, 4, &out), 0);
    const char *want =
        "# HELP arca_exit_code Exit status of the last run (0 success; see arca(1)).\n"
        "# TYPE arca_exit_code gauge\n"
        "arca_exit_code{repository=\"a\",command=\"backup\",host=\"h\",paths=\"/x\"} 2\n"
        "arca_exit_code{repository=\"b\",command=\"backup\",host=\"h\",paths=\"/x\"} 1\n"
        "arca_exit_code{repository=\"c\",command=\"check\",host=\"h\",paths=\"\"} 0\n"
        "# HELP arca_files_total Files saved by backup runs (new, changed and unchanged).\n"
        "# TYPE arca_files_total counter\n"
        "arca_files_total{repository=\"a\",command=\"backup\",host=\"h\",paths=\"/x\"} 15\n"
        "arca_files_total{repository=\"c\",command=\"check\",host=\"h\",paths=\"\"} 7\n"
        "# HELP other_metric Not ours.\n"
        "# TYPE other_metric gauge\n"
        "other_metric{x=\"a}b\"} 5\n";
    assert_string_equal(out, want);
    /* merging again with nothing new changes nothing */
    char *again = NULL;
    assert_int_equal(metrics_merge(out, NULL, 0, &again), 0);
    assert_string_equal(again, want);
    free(again);
    free(out);
    /* from nothing */
    assert_int_equal(metrics_merge(NULL, v, 1, &out), 0);
    assert_string_equal(out, "# HELP arca_exit_code Exit status of the last run (0 success; see arca(1)).\n"
                             "# TYPE arca_exit_code gauge\n"
                             "arca_exit_code{repository=\"a\",command=\"backup\",host=\"h\",paths=\"/x\"} 2\n");
    free(out);
}

static void test_perfdata(void **state)
{
    (void)state;
    char *p = NULL;
    assert_int_equal(perfdata_append(&p, "host web01 age", 7200, "s", 93600, 180000, 0, NAN), 0);
    assert_string_equal(p, "'host web01 age'=7200s;93600;180000;0");
    assert_int_equal(perfdata_append(&p, "groups", 2, "", NAN, NAN, 0, NAN), 0);
    assert_string_equal(p, "'host web01 age'=7200s;93600;180000;0 'groups'=2;;;0");
    free(p);
    p = NULL;
    /* a quote doubled, '=' cannot be in a label */
    assert_int_equal(perfdata_append(&p, "it's a=b", 1.5, "s", NAN, 10, NAN, NAN), 0);
    assert_string_equal(p, "'it''s a_b'=1.5s;;10");
    free(p);
    p = NULL;
    assert_int_equal(perfdata_append(&p, "a\nb|c", 1, "", NAN, NAN, NAN, NAN), 0);
    assert_string_equal(p, "'a b c'=1");
    free(p);
    p = NULL;
    assert_int_equal(perfdata_append(&p, "x", 3, NULL, NAN, NAN, NAN, NAN), 0);
    assert_string_equal(p, "'x'=3");
    free(p);
}

static void test_states(void **state)
{
    (void)state;
    assert_int_equal(state_of_age(10, 26 * 3600, 50 * 3600), STATE_OK);
    assert_int_equal(state_of_age(26 * 3600, 26 * 3600, 50 * 3600), STATE_OK);   /* not above */
    assert_int_equal(state_of_age(26 * 3600 + 1, 26 * 3600, 50 * 3600), STATE_WARNING);
    assert_int_equal(state_of_age(50 * 3600 + 1, 26 * 3600, 50 * 3600), STATE_CRITICAL);
    assert_int_equal(state_of_age(1e9, -1, -1), STATE_OK);
    assert_int_equal(state_of_age(5, -1, 4), STATE_CRITICAL);
    assert_string_equal(state_name(STATE_UNKNOWN), "UNKNOWN");
    char b[32];
    age_format(40, b, sizeof(b));
    assert_string_equal(b, "40s");
    age_format(725, b, sizeof(b));
    assert_string_equal(b, "12m 5s");
    age_format(30 * 3600, b, sizeof(b));
    assert_string_equal(b, "1d 6h");
    age_format(5 * 3600 + 12 * 60, b, sizeof(b));
    assert_string_equal(b, "5h 12m");
}

static void test_check_record(void **state)
{
    (void)state;
    bk_check_record r;
    const char ok[] = "{\"duration\":0.5,\"errors\":0,\"host\":\"web01\",\"name\":\"check-ok\",\"packs\":3,"
                      "\"read_data\":true,\"read_share\":1,\"snapshots\":2,\"time\":1764680000,\"version\":1}";
    assert_int_equal(bk_check_record_parse("check-ok", (const uint8_t *)ok, sizeof(ok) - 1, &r), 0);
    assert_int_equal(r.time, 1764680000);
    assert_string_equal(r.host, "web01");
    assert_true(r.read_data);
    assert_int_equal(r.packs, 3);
    /* under the other name: refused (objects cannot be swapped) */
    assert_int_equal(bk_check_record_parse("check", (const uint8_t *)ok, sizeof(ok) - 1, &r), -EBADMSG);
    const char newer[] = "{\"version\":2}";
    assert_int_equal(bk_check_record_parse("check", (const uint8_t *)newer, sizeof(newer) - 1, &r),
                     -EPROTONOSUPPORT);
    const char bad_ok[] = "{\"duration\":0.5,\"errors\":1,\"host\":\"w\",\"name\":\"check-ok\",\"packs\":3,"
                          "\"read_data\":true,\"read_share\":1,\"snapshots\":2,\"time\":1,\"version\":1}";
    assert_int_equal(bk_check_record_parse("check-ok", (const uint8_t *)bad_ok, sizeof(bad_ok) - 1, &r),
                     -EBADMSG);
    const char *junk[] = { "", "[]", "{\"version\":1}", "{\"version\":1,\"version\":1}", "nul\0l" };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        assert_int_equal(bk_check_record_parse("check", (const uint8_t *)junk[i], strlen(junk[i]), &r),
                         -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),   cmocka_unit_test(test_number),
        cmocka_unit_test(test_merge),    cmocka_unit_test(test_perfdata),
        cmocka_unit_test(test_states),   cmocka_unit_test(test_check_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
