/* escape.h - names from a snapshot shown on a terminal: bytes that are not UTF-8, control
 * characters and bidirectional or line-breaking format characters escaped, valid text as
 * it is.  Pure (no I/O, no dependence on the caller's locale), so the unit tests feed it
 * bytes. */
#ifndef ARCA_ESCAPE_H
#define ARCA_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest form of one unit: "\u202e" (6) or a 4-byte character. */
#define CLI_ESCAPE_UNIT_MAX 8

/* The character p starts with, when it is valid UTF-8 (shortest form, no surrogates, at
 * most U+10FFFF): its length (1 to 4) and *ret_cp.  0 when it is not. */
size_t cli_utf8_decode(const char *p, size_t len, uint32_t *ret_cp);

/* Whether a valid character is shown escaped: C0 and C1 controls, DEL, the bidirectional
 * marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069) and the line and paragraph separators (U+2028, U+2029). */
bool cli_escape_char(uint32_t cp);

/* Escape the first unit of p[0..len) (len > 0): one valid character, or one byte that does
 * not start one.  Its form goes to out (not NUL-terminated, *ret_outlen bytes): "\\" for a
 * backslash, "\n" for a newline, "\xNN" for any other byte below 0x20, DEL and every byte
 * that is not UTF-8, "\uNNNN" for the other characters cli_escape_char names, the bytes
 * themselves otherwise.  *ret_width (may be NULL) gets the columns it takes.  Returns the
 * input bytes used (at least 1). */
size_t cli_escape_unit(const char *p, size_t len, char out[CLI_ESCAPE_UNIT_MAX],
                       size_t *ret_outlen, size_t *ret_width);

/* The escaped form of p[0..len), NUL-terminated, malloc'd (NULL when out of memory);
 * *ret_width (may be NULL) gets its width in columns. */
char *cli_escape(const char *p, size_t len, size_t *ret_width);

/* The same, at most max_width columns wide: when the whole is wider, its middle is cut out
 * (between units, never inside an escape or a character) and replaced by ellipsis (UTF-8,
 * itself never escaped).  NULL when out of memory or when max_width leaves no room for
 * the ellipsis and a unit on each side of it. */
char *cli_escape_fit(const char *p, size_t len, size_t max_width, const char *ellipsis,
                     size_t *ret_width);

/* Columns a printable character takes on a UTF-8 terminal: wcwidth() in the C.UTF-8 locale
 * (0 for combining marks, 2 for wide characters), 1 for what it does not know. */
size_t cli_char_width(uint32_t cp);

/* Columns of a UTF-8 text that holds nothing cli_escape would change (an escaped text); a
 * byte that is not UTF-8 counts 1. */
size_t cli_text_width(const char *p, size_t len);

#endif
