/* escape.c - names from a snapshot shown on a terminal: what is not UTF-8, controls and
 * bidirectional overrides escaped, everything else as it is (see escape.h). */
#include "escape.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

size_t cli_utf8_decode(const char *s, size_t len, uint32_t *ret_cp)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (p[0] < 0x80) {
        *ret_cp = p[0];
        return 1;
    }
    size_t n;
    uint32_t cp, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2, cp = p[0] & 0x1f, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3, cp = p[0] & 0x0f, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4, cp = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;   /* a continuation byte, an overlong lead (c0, c1) or beyond U+10FFFF */
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *ret_cp = cp;
    return n;
}

bool cli_escape_char(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* ---- display width ------------------------------------------------------------------------ */

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!utf8_locale)
        utf8_locale = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

/* Without a UTF-8 locale: combining marks take nothing, the big CJK and emoji blocks two
 * columns, the rest one (never narrower than the terminal draws the common cases). */
static size_t approximate_width(uint32_t cp)
{
    if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200d) || cp == 0xfeff)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

size_t cli_char_width(uint32_t cp)
{
    if (cp >= 0x20 && cp < 0x7f)
        return 1;
    pthread_once(&utf8_once, utf8_locale_init);
    if (!utf8_locale)
        return approximate_width(cp);
    locale_t old = uselocale(utf8_locale);
    int w = wcwidth((wchar_t)cp);
    uselocale(old);
    return w < 0 ? 1 : (size_t)w;
}

size_t cli_text_width(const char *p, size_t len)
{
    size_t w = 0;
    while (len > 0) {
        uint32_t cp;
        size_t n = cli_utf8_decode(p, len, &cp);
        if (n == 0) {
            n = 1;
            w++;
        } else {
            w += cli_char_width(cp);
        }
        p += n;
        len -= n;
    }
    return w;
}

/* ---- escaping ----------------------------------------------------------------------------- */

size_t cli_escape_unit(const char *p, size_t len, char out[CLI_ESCAPE_UNIT_MAX],
                       size_t *ret_outlen, size_t *ret_width)
{
    uint32_t cp;
    size_t n = cli_utf8_decode(p, len, &cp);
    size_t olen;
    if (n == 0) {
        n = 1;
        olen = (size_t)snprintf(out, CLI_ESCAPE_UNIT_MAX, "\\x%02x", (unsigned char)p[0]);
    } else if (cp == '\\') {
        olen = 2;
        memcpy(out, "\\\\", 2);
    } else if (cp == '\n') {
        olen = 2;
        memcpy(out, "\\n", 2);
    } else if (cp < 0x20 || cp == 0x7f) {
        olen = (size_t)snprintf(out, CLI_ESCAPE_UNIT_MAX, "\\x%02x", (unsigned)cp);
    } else if (cli_escape_char(cp)) {
        olen = (size_t)snprintf(out, CLI_ESCAPE_UNIT_MAX, "\\u%04x", (unsigned)cp);
    } else {
        memcpy(out, p, n);
        olen = n;
        if (ret_width)
            *ret_width = cli_char_width(cp);
        *ret_outlen = olen;
        return n;
    }
    if (ret_width)
        *ret_width = olen;   /* escapes are ASCII */
    *ret_outlen = olen;
    return n;
}

typedef struct unit {
    size_t off, len, width;   /* in the escaped text */
} unit;

/* The escaped text and (when units is not NULL) where each unit starts. */
static char *escape_units(const char *p, size_t len, unit **ret_units, size_t *ret_n,
                          size_t *ret_width)
{
    char *out = malloc(len * 6 + 1);   /* a byte becomes at most "\xNN", 3 bytes "\uNNNN" */
    unit *u = ret_units ? malloc((len + 1) * sizeof(*u)) : NULL;
    if (!out || (ret_units && !u)) {
        free(out);
        free(u);
        return NULL;
    }
    size_t o = 0, n = 0, width = 0;
    while (len > 0) {
        size_t olen, w;
        size_t used = cli_escape_unit(p, len, out + o, &olen, &w);
        if (u)
            u[n++] = (unit){ o, olen, w };
        o += olen;
        width += w;
        p += used;
        len -= used;
    }
    out[o] = 0;
    if (ret_units) {
        *ret_units = u;
        *ret_n = n;
    }
    if (ret_width)
        *ret_width = width;
    return out;
}

char *cli_escape(const char *p, size_t len, size_t *ret_width)
{
    return escape_units(p, len, NULL, NULL, ret_width);
}

char *cli_escape_fit(const char *p, size_t len, size_t max_width, const char *ellipsis,
                     size_t *ret_width)
{
    unit *u;
    size_t n, width;
    char *full = escape_units(p, len, &u, &n, &width);
    if (!full)
        return NULL;
    if (width <= max_width) {
        free(u);
        if (ret_width)
            *ret_width = width;
        return full;
    }
    size_t elen = strlen(ellipsis), ew = cli_text_width(ellipsis, elen);
    char *out = NULL;
    if (max_width >= ew + 2) {
        /* the end of a path says most: it gets the larger half, and at least its last
         * unit; the start gets the rest, and what the start leaves goes to the end */
        size_t budget = max_width - ew, tail_max = budget - budget / 2;
        size_t t = n, tw = 0;
        while (t > 0 && (tw + u[t - 1].width <= tail_max ||
                         (t == n && u[t - 1].width < budget)))
            tw += u[--t].width;
        size_t h = 0, hw = 0;
        while (h < t && hw + u[h].width <= budget - tw)
            hw += u[h++].width;
        while (t > h && hw + tw + u[t - 1].width <= budget)
            tw += u[--t].width;
        if (h > 0 && t < n) {
            size_t hlen = u[h - 1].off + u[h - 1].len, toff = u[t].off;
            size_t tlen = u[n - 1].off + u[n - 1].len - toff;
            out = malloc(hlen + elen + tlen + 1);
            if (out) {
                memcpy(out, full, hlen);
                memcpy(out + hlen, ellipsis, elen);
                memcpy(out + hlen + elen, full + toff, tlen);
                out[hlen + elen + tlen] = 0;
                if (ret_width)
                    *ret_width = hw + ew + tw;
            }
        }
    }
    free(u);
    free(full);
    return out;
}
