/* progress.c - a status line on stderr while long work runs, only on a terminal.  It never
 * gets wider than the terminal (a wrapped line leaves a fragment behind at every update):
 * the figures that matter least are dropped first, and the file being read is shown,
 * escaped and shortened in the middle, in what room is left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"

/* Columns the line may use: one less than the terminal's, so that the cursor never waits
 * in the last column (terminals differ in when they wrap from there).  Read at every
 * update, so a resized window (SIGWINCH) is honoured at the next one. */
static size_t line_width(void)
{
    struct winsize ws;
    size_t cols = 80;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        cols = ws.ws_col;
    } else {
        const char *env = getenv("COLUMNS");
        long v = env ? strtol(env, NULL, 10) : 0;
        if (v > 0 && v < 10000)
            cols = (size_t)v;
    }
    return cols > 1 ? cols - 1 : 1;
}

/* "…" where the locale says the terminal speaks UTF-8, else three dots. */
static const char *ellipsis(void)
{
    static const char *e;
    if (!e) {
        const char *v = getenv("LC_ALL");
        if (!v || !*v)
            v = getenv("LC_CTYPE");
        if (!v || !*v)
            v = getenv("LANG");
        bool utf8 = v && (strcasestr(v, "utf-8") || strcasestr(v, "utf8"));
        e = utf8 ? "\xe2\x80\xa6" : "...";
    }
    return e;
}

#define NPIECES 7

void cli_progress(const bk_progress *p, void *userdata)
{
    cli *c = userdata;
    if (!c->tty_err || c->verbosity < 0 || c->json || c->log_json)
        return;
    /* the figures, in the order they are shown; rank says which go first when the line
     * is too narrow for all (0 stays longest) */
    char piece[NPIECES][64];
    static const int rank[NPIECES] = { 0, 1, 2, 4, 6, 5, 3 };
    for (size_t i = 0; i < NPIECES; i++)
        piece[i][0] = 0;
    char done[32], total[32], rate[32], elapsed[32];
    const char *one = c->unit_one ? c->unit_one : "file", *many = c->unit_many ? c->unit_many : "files";
    cli_format_bytes(p->bytes_done, done, sizeof(done));
    double r = p->elapsed > 0 ? (double)p->bytes_done / p->elapsed : 0;
    cli_format_bytes((uint64_t)r, rate, sizeof(rate));
    cli_format_duration(p->elapsed, elapsed, sizeof(elapsed));
    snprintf(piece[0], sizeof(piece[0]), "[%s]", elapsed);
    if (p->bytes_total > 0) {
        double pct = 100.0 * (double)p->bytes_done / (double)p->bytes_total;
        snprintf(piece[1], sizeof(piece[1]), "%5.1f%%", pct > 100 ? 100 : pct);
        snprintf(piece[2], sizeof(piece[2]), "%llu/%llu %s", (unsigned long long)p->files_done,
                 (unsigned long long)p->files_total, cli_plural(p->files_total, one, many));
        cli_format_bytes(p->bytes_total, total, sizeof(total));
        snprintf(piece[3], sizeof(piece[3]), "%s/%s", done, total);
        if (r > 0 && p->bytes_total > p->bytes_done) {
            char t[32];
            cli_format_duration((double)(p->bytes_total - p->bytes_done) / r, t, sizeof(t));
            snprintf(piece[5], sizeof(piece[5]), "ETA %s", t);
        }
    } else {
        snprintf(piece[2], sizeof(piece[2]), "%llu %s", (unsigned long long)p->files_done,
                 cli_plural(p->files_done, one, many));
        snprintf(piece[3], sizeof(piece[3]), "%s", done);
    }
    snprintf(piece[4], sizeof(piece[4]), "%s/s", rate);
    if (p->errors)
        snprintf(piece[6], sizeof(piece[6]), "(errors)");

    size_t width = line_width();
    bool shown[NPIECES] = { false };
    size_t used = 0;
    for (int want = 0; want < NPIECES; want++)
        for (size_t i = 0; i < NPIECES; i++) {
            size_t len = strlen(piece[i]);
            if (rank[i] != want || len == 0)
                continue;
            size_t need = len + (used ? 2 : 0);
            if (used + need <= width) {
                shown[i] = true;
                used += need;
            }
        }
    char line[512];
    size_t n = 0;
    for (size_t i = 0; i < NPIECES; i++)
        if (shown[i])
            n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", n ? "  " : "", piece[i]);
    if (n == 0) {
        /* narrower than the elapsed time: as much of it as fits (ASCII, one column each) */
        n = strlen(piece[0]) < width ? strlen(piece[0]) : width;
        memcpy(line, piece[0], n);
    }
    line[n] = 0;
    fprintf(stderr, "\r\033[K%s", line);

    /* the current file, when at least a dozen columns are left for it */
    if (p->current && *p->current && width >= n + 2 + 12) {
        size_t w;
        char *cur = cli_escape_fit(p->current, strlen(p->current), width - n - 2, ellipsis(), &w);
        if (cur)
            fprintf(stderr, "  %s", cur);
        free(cur);
    }
    fflush(stderr);
    c->progress_shown = true;
}

void cli_progress_done(cli *c)
{
    if (c && c->progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        c->progress_shown = false;
    }
}
