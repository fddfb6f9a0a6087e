/* progress.c - a status line on stderr while long work runs, only on a terminal. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_progress(const bk_progress *p, void *userdata)
{
    cli *c = userdata;
    if (!c->tty_err || c->verbosity < 0 || c->json)
        return;
    char done[32], total[32], rate[32], elapsed[32], eta[48] = "";
    cli_format_bytes(p->bytes_done, done, sizeof(done));
    double r = p->elapsed > 0 ? (double)p->bytes_done / p->elapsed : 0;
    cli_format_bytes((uint64_t)r, rate, sizeof(rate));
    cli_format_duration(p->elapsed, elapsed, sizeof(elapsed));
    char line[512];
    if (p->bytes_total > 0) {
        cli_format_bytes(p->bytes_total, total, sizeof(total));
        if (r > 0 && p->bytes_total > p->bytes_done) {
            char t[32];
            cli_format_duration((double)(p->bytes_total - p->bytes_done) / r, t, sizeof(t));
            snprintf(eta, sizeof(eta), " ETA %s", t);
        }
        double pct = 100.0 * (double)p->bytes_done / (double)p->bytes_total;
        snprintf(line, sizeof(line), "[%s] %5.1f%%  %llu/%llu files  %s/%s  %s/s%s%s", elapsed,
                 pct > 100 ? 100 : pct, (unsigned long long)p->files_done,
                 (unsigned long long)p->files_total, done, total, rate, eta,
                 p->errors ? "  (errors)" : "");
    } else {
        snprintf(line, sizeof(line), "[%s] %llu files  %s  %s/s%s", elapsed,
                 (unsigned long long)p->files_done, done, rate, p->errors ? "  (errors)" : "");
    }
    fprintf(stderr, "\r\033[K%s", line);
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
