/* test-match.c - exclude and include patterns, as match.h documents them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "match.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool ex(const char *pat, const char *path)
{
    char *v[] = { (char *)pat };
    return bk_match_exclude(v, 1, path);
}

static bool in(const char *pat, const char *path)
{
    char *v[] = { (char *)pat };
    return bk_match_include(v, 1, path);
}

static bool below(const char *pat, const char *dir)
{
    char *v[] = { (char *)pat };
    return bk_match_include_below(v, 1, dir);
}

static void test_exclude_basename(void **state)
{
    /* no '/': the last component */
    assert_true(ex("*.tmp", "/a/b/x.tmp"));
    assert_true(ex("*.tmp", "x.tmp"));
    assert_true(ex("*.tmp", "/.tmp"));
    assert_false(ex("*.tmp", "/a/x.tmp/y"));
    assert_false(ex("*.tmp", "/a/x.tmpl"));
    assert_true(ex("cache", "/home/u/cache"));
    assert_false(ex("cache", "/home/u/cache2"));
    assert_true(ex("?.o", "/src/a.o"));
    assert_false(ex("?.o", "/src/ab.o"));
    assert_true(ex("[ab].c", "/b.c"));
    assert_false(ex("[ab].c", "/c.c"));
}

static void test_exclude_absolute(void **state)
{
    /* leading '/': the whole path; '*' does not cross '/' */
    assert_true(ex("/var/cache/*", "/var/cache/apt"));
    assert_false(ex("/var/cache/*", "/var/cache/apt/archives"));
    assert_false(ex("/var/cache/*", "/x/var/cache/apt"));
    assert_false(ex("/var/cache/*", "/var/cache"));
    assert_true(ex("/var/cache", "/var/cache"));
    assert_false(ex("/var/cache", "/var/cache/apt"));   /* no implicit subtree */
    assert_true(ex("/home/*/.cache", "/home/alice/.cache"));
    assert_false(ex("/home/*/.cache", "/home/alice/x/.cache"));
}

static void test_exclude_relative(void **state)
{
    /* '/' inside: the tail of the path from a component boundary */
    assert_true(ex("cache/*.bin", "/home/u/cache/a.bin"));
    assert_true(ex("cache/*.bin", "cache/a.bin"));
    assert_false(ex("cache/*.bin", "/home/u/xcache/a.bin"));
    assert_false(ex("cache/*.bin", "/home/cache/sub/a.bin"));
    assert_true(ex("u/cache/*.bin", "/home/u/cache/a.bin"));
    assert_true(ex("home/u", "/home/u"));
    assert_false(ex("home/u", "/home/u/x"));
}

static void test_exclude_many(void **state)
{
    char *v[] = { "*.o", "/tmp/*", "build/out" };
    assert_true(bk_match_exclude(v, N(v), "/src/a.o"));
    assert_true(bk_match_exclude(v, N(v), "/tmp/x"));
    assert_true(bk_match_exclude(v, N(v), "/p/build/out"));
    assert_false(bk_match_exclude(v, N(v), "/src/a.c"));
    assert_false(bk_match_exclude(NULL, 0, "/src/a.o"));   /* none: nothing excluded */
}

static void test_include(void **state)
{
    assert_true(bk_match_include(NULL, 0, "/anything"));   /* none: everything */
    /* a plain path: itself and everything below it */
    assert_true(in("/etc", "/etc"));
    assert_true(in("/etc", "/etc/hosts"));
    assert_true(in("/etc", "/etc/ssh/sshd_config"));
    assert_true(in("/etc/", "/etc/hosts"));
    assert_false(in("/etc", "/etcetera"));
    assert_false(in("/etc", "/"));
    assert_false(in("/etc/ssh", "/etc"));
    assert_true(in("/", "/etc/hosts"));
    /* a glob: the path or one of its parents matches */
    assert_true(in("/home/*/docs", "/home/alice/docs"));
    assert_true(in("/home/*/docs", "/home/alice/docs/a/b.txt"));
    assert_false(in("/home/*/docs", "/home/alice/x/docs"));   /* '*' stays in a component */
    assert_false(in("/home/*/docs", "/home/alice"));
    assert_true(in("/etc/*.conf", "/etc/a.conf"));
    assert_false(in("/etc/*.conf", "/etc/sub/a.conf"));
    char *v[] = { "/srv", "/home/*/docs" };
    assert_true(bk_match_include(v, 2, "/srv/www"));
    assert_true(bk_match_include(v, 2, "/home/bob/docs/x"));
    assert_false(bk_match_include(v, 2, "/home/bob"));
}

static void test_include_below(void **state)
{
    assert_true(bk_match_include_below(NULL, 0, "/x"));
    /* the directory is a parent of an include */
    assert_true(below("/etc/ssh", "/"));
    assert_true(below("/etc/ssh", "/etc"));
    assert_true(below("/etc/ssh", "/etc/"));
    assert_true(below("/etc/ssh", "/etc/ssh"));
    assert_false(below("/etc/ssh", "/var"));
    assert_false(below("/etc/ssh", "/et"));
    assert_false(below("/etc/ssh", "/etc/ssh2"));
    /* a glob may match anywhere deeper */
    assert_true(below("/home/*/docs", "/var"));
    char *v[] = { "/a/b", "/c/d" };
    assert_true(bk_match_include_below(v, 2, "/c"));
    assert_false(bk_match_include_below(v, 2, "/e"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exclude_basename),
        cmocka_unit_test(test_exclude_absolute),
        cmocka_unit_test(test_exclude_relative),
        cmocka_unit_test(test_exclude_many),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_include_below),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
