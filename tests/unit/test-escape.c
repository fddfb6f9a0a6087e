/* test-escape.c - how names from a snapshot are shown on a terminal (cli/escape.h): valid
 * UTF-8 as it is; bytes that are not UTF-8, controls and bidi overrides escaped; the
 * middle of a long name cut out without splitting a unit; display widths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "escape.h"

/* the escaped form of a byte string (sizeof - 1 keeps embedded NULs out of the way) */
static void expect(const char *in, size_t len, const char *want, size_t want_width)
{
    size_t w = 12345;
    char *got = cli_escape(in, len, &w);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(w, want_width);
    free(got);
}
#define EXPECT(in, want, width) expect(in, sizeof(in) - 1, want, width)

static void test_valid_utf8_as_is(void **state)
{
    EXPECT("", "", 0);
    EXPECT("/etc/hosts", "/etc/hosts", 10);
    EXPECT("caf\xc3\xa9", "caf\xc3\xa9", 4);                      /* é, two bytes */
    EXPECT("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac", 4);   /* 日本: wide */
    EXPECT("e\xcc\x81", "e\xcc\x81", 1);                          /* e + combining acute */
    EXPECT("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 2);            /* U+1F600, 4 bytes */
    EXPECT("a b-c_d.e~", "a b-c_d.e~", 10);
    EXPECT("\xef\xbf\xbd", "\xef\xbf\xbd", 1);                    /* U+FFFD itself is fine */
    EXPECT("\xe2\x80\x8d", "\xe2\x80\x8d", 0);                    /* ZWJ (emoji sequences) */
}

static void test_not_utf8_as_hex(void **state)
{
    EXPECT("caf\xe9", "caf\\xe9", 7);                 /* Latin-1 */
    EXPECT("\xff\xfe", "\\xff\\xfe", 8);
    EXPECT("\x80", "\\x80", 4);                       /* a lone continuation byte */
    EXPECT("\xc0\xaf", "\\xc0\\xaf", 8);              /* overlong '/' */
    EXPECT("\xe0\x80\xaf", "\\xe0\\x80\\xaf", 12);    /* overlong, 3 bytes */
    EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80", 12);    /* a surrogate */
    EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", 16);   /* above U+10FFFF */
    EXPECT("\xe2\x80", "\\xe2\\x80", 8);              /* cut short at the end */
    EXPECT("\xe2\x80x", "\\xe2\\x80x", 9);            /* cut short before ASCII */
    EXPECT("\xc3\xc3\xa9", "\\xc3\xc3\xa9", 5);       /* resynchronises on the next byte */
}

static void test_controls_escaped(void **state)
{
    EXPECT("a\nb", "a\\nb", 4);
    EXPECT("a\\b", "a\\\\b", 4);                      /* backslash: the escapes stay unambiguous */
    EXPECT("\t", "\\x09", 4);
    EXPECT("\r", "\\x0d", 4);
    EXPECT("\x1b[2J", "\\x1b[2J", 7);                  /* a terminal escape */
    EXPECT("\x7f", "\\x7f", 4);
    EXPECT("\xc2\x85", "\\u0085", 6);                 /* NEL, a C1 control */
    EXPECT("\xc2\x9b", "\\u009b", 6);                 /* CSI */
    EXPECT("\xc2\xa0", "\xc2\xa0", 1);                /* no-break space: printable */
}

static void test_bidi_escaped(void **state)
{
    /* the "Trojan Source" characters: embeddings, overrides, isolates, marks */
    EXPECT("\xe2\x80\xaa", "\\u202a", 6);
    EXPECT("\xe2\x80\xab", "\\u202b", 6);
    EXPECT("\xe2\x80\xac", "\\u202c", 6);
    EXPECT("\xe2\x80\xad", "\\u202d", 6);
    EXPECT("invoice\xe2\x80\xae" "fdp.exe", "invoice\\u202efdp.exe", 20);
    EXPECT("\xe2\x81\xa6", "\\u2066", 6);
    EXPECT("\xe2\x81\xa7", "\\u2067", 6);
    EXPECT("\xe2\x81\xa8", "\\u2068", 6);
    EXPECT("\xe2\x81\xa9", "\\u2069", 6);
    EXPECT("\xe2\x80\x8e", "\\u200e", 6);
    EXPECT("\xe2\x80\x8f", "\\u200f", 6);
    EXPECT("\xd8\x9c", "\\u061c", 6);
    EXPECT("\xe2\x80\xa8", "\\u2028", 6);             /* line separator */
    EXPECT("\xe2\x80\xa9", "\\u2029", 6);             /* paragraph separator */
    /* neighbours that are fine */
    EXPECT("\xe2\x80\xa6", "\xe2\x80\xa6", 1);        /* … */
    EXPECT("\xe2\x81\xb0", "\xe2\x81\xb0", 1);        /* ⁰ */
    assert_true(cli_escape_char(0x202e));
    assert_false(cli_escape_char(0x202f));
    assert_false(cli_escape_char(0x2065));
    assert_false(cli_escape_char(0x206a));
}

static void test_embedded_nul(void **state)
{
    /* names hold no NUL, but link targets and messages are given with a length */
    expect("a\0b", 3, "a\\x00b", 6);
}

static void test_unit(void **state)
{
    char out[CLI_ESCAPE_UNIT_MAX];
    size_t olen, w;
    assert_int_equal(cli_escape_unit("\xe6\x97\xa5x", 4, out, &olen, &w), 3);
    assert_int_equal(olen, 3);
    assert_int_equal(w, 2);
    assert_memory_equal(out, "\xe6\x97\xa5", 3);
    assert_int_equal(cli_escape_unit("\xe9x", 2, out, &olen, NULL), 1);
    assert_int_equal(olen, 4);
    assert_memory_equal(out, "\\xe9", 4);
}

static void fit(const char *in, size_t max, const char *want, size_t want_width)
{
    size_t w = 12345;
    char *got = cli_escape_fit(in, strlen(in), max, "\xe2\x80\xa6", &w);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(w, want_width);
    assert_true(w <= max);
    free(got);
}

static void test_fit(void **state)
{
    fit("/etc/hosts", 10, "/etc/hosts", 10);
    fit("/etc/hosts", 20, "/etc/hosts", 10);
    /* 9 columns: 1 for the ellipsis, 4 before it, 4 after it */
    fit("/etc/hosts", 9, "/etc\xe2\x80\xa6osts", 9);
    fit("/etc/hosts", 8, "/et\xe2\x80\xa6osts", 8);   /* the end gets the larger half */
    fit("/etc/hosts", 3, "/\xe2\x80\xa6s", 3);
    fit("/etc/hosts", 2, NULL, 0);                   /* no room */
    /* an escape is never split: "\xe9" is 4 columns or nothing */
    fit("ab\xe9" "cdefgh", 8, "ab\xe2\x80\xa6" "defgh", 8);
    fit("abcdef\xe9", 8, "abc\xe2\x80\xa6" "\\xe9", 8);
    fit("abcdef\xe9", 7, "ab\xe2\x80\xa6" "\\xe9", 7);
    fit("abcdef\xe9", 6, "a\xe2\x80\xa6" "\\xe9", 6);
    fit("abcdef\xe9", 5, NULL, 0);                 /* no room for \xe9 and a start */
    /* a wide character is never split either, and counts two */
    fit("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x96\x87", 7,
        "\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6\xe6\x96\x87", 7);
    /* the ellipsis may be plain dots */
    size_t w;
    char *s = cli_escape_fit("/var/lib/something/long", 23, 12, "...", &w);
    assert_non_null(s);
    assert_string_equal(s, "/var.../long");
    assert_int_equal(w, 12);
    free(s);
}

static void test_width(void **state)
{
    assert_int_equal(cli_char_width('a'), 1);
    assert_int_equal(cli_char_width(0xe9), 1);
    assert_int_equal(cli_char_width(0x65e5), 2);     /* 日 */
    assert_int_equal(cli_char_width(0x301), 0);      /* combining acute */
    assert_int_equal(cli_char_width(0xff21), 2);     /* fullwidth A */
    assert_int_equal(cli_text_width("abc", 3), 3);
    assert_int_equal(cli_text_width("\xe6\x97\xa5" "a", 4), 3);
    assert_int_equal(cli_text_width("\xe9", 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_utf8_as_is),
        cmocka_unit_test(test_not_utf8_as_hex),
        cmocka_unit_test(test_controls_escaped),
        cmocka_unit_test(test_bidi_escaped),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_unit),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
