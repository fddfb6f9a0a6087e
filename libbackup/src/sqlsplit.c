/* sqlsplit.c - per-database files out of one dump stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlsplit.h"
#include "util.h"

#define FOOTER_FIRST "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;"
#define FOOTER_LAST "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;"
#define MAX_LINE_MARKER 8192   /* marker lines are short; longer lines are data */

void bk_sqlsplit_init(bk_sqlsplit *s, const bk_sqlsplit_ops *ops, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->ctx = ctx;
}

void bk_sqlsplit_free(bk_sqlsplit *s)
{
    bk_buf_free(&s->line);
    bk_buf_free(&s->header);
    bk_buf_free(&s->footer);
    bk_strv_free(s->dbs, s->ndbs);
    s->dbs = NULL;
    s->ndbs = 0;
    free(s->binlog_file);
    free(s->gtid);
    s->binlog_file = s->gtid = NULL;
}

static bool starts(const uint8_t *p, size_t n, const char *prefix)
{
    size_t l = strlen(prefix);
    return n >= l && memcmp(p, prefix, l) == 0;
}

/* the first `quoted` identifier in the line (backticks doubled inside) */
static char *identifier(const uint8_t *p, size_t n)
{
    const uint8_t *q = memchr(p, '`', n);
    if (!q)
        return NULL;
    size_t i = (size_t)(q - p) + 1;
    bk_buf out = BK_BUF_INIT;
    for (; i < n; i++) {
        if (p[i] == '`') {
            if (i + 1 < n && p[i + 1] == '`') {
                if (bk_buf_put_u8(&out, '`') < 0)
                    break;
                i++;
                continue;
            }
            if (out.len == 0 || bk_buf_put_u8(&out, 0) < 0)
                break;
            return (char *)bk_buf_detach(&out, NULL);
        }
        if (p[i] == 0 || bk_buf_put_u8(&out, p[i]) < 0)
            break;
    }
    bk_buf_free(&out);
    return NULL;
}

static int switch_to(bk_sqlsplit *s, const uint8_t *line, size_t n)
{
    char *db = identifier(line, n);
    if (!db)
        return -EBADMSG;
    if (s->current && strcmp(s->current, db) == 0) {
        free(db);
        return 0;
    }
    int r = 0;
    if (s->current)
        r = s->ops->section_end(s->ctx, s->current);
    char *known = NULL;
    for (size_t i = 0; i < s->ndbs; i++)
        if (strcmp(s->dbs[i], db) == 0)
            known = s->dbs[i];
    if (r == 0 && !known) {
        r = bk_strv_push(&s->dbs, &s->ndbs, db);
        if (r == 0) {
            known = s->dbs[s->ndbs - 1];
            r = s->ops->data(s->ctx, known, s->header.data ? s->header.data : (const uint8_t *)"",
                             s->header.len);
        }
    }
    free(db);
    s->current = known;
    return r;
}

/* The value between the quotes after prefix in line p (of n bytes), which ends in rest:
 * allocated, or NULL (not such a line, or no room). */
static char *quoted_after(const uint8_t *p, size_t n, const char *prefix, const char *rest,
                          const char **ret_after)
{
    size_t pl = strlen(prefix);
    if (n <= pl || memcmp(p, prefix, pl) != 0)
        return NULL;
    const uint8_t *q = memchr(p + pl, '\'', n - pl);
    if (!q || q == p + pl)
        return NULL;
    size_t len = (size_t)(q - (p + pl)), rl = strlen(rest);
    if ((size_t)(p + n - (q + 1)) < rl || memcmp(q + 1, rest, rl) != 0 || len > 1024)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (p[pl + i] < 0x20 || p[pl + i] == '\\')
            return NULL;
    if (ret_after)
        *ret_after = (const char *)q + 1 + rl;
    return strndup((const char *)p + pl, len);
}

/* The lines of --master-data=2 and --gtid (comments, in the header and at the end). */
static void note_position(bk_sqlsplit *s, const uint8_t *p, size_t n)
{
    const char *after;
    char *v = quoted_after(p, n, "-- CHANGE MASTER TO MASTER_LOG_FILE='", ", MASTER_LOG_POS=", &after);
    if (v) {
        char *end;
        unsigned long long pos = strtoull(after, &end, 10);
        if (end != after && *end == ';' && !s->binlog_file) {
            s->binlog_file = v;
            s->binlog_pos = pos;
            v = NULL;
        }
        free(v);
        return;
    }
    v = quoted_after(p, n, "-- SET GLOBAL gtid_slave_pos='", ";\n", NULL);
    if (v && !s->gtid)
        s->gtid = v;
    else
        free(v);
}

static int line_done(bk_sqlsplit *s, const uint8_t *p, size_t n)
{
    bool marker_ok = n <= MAX_LINE_MARKER;
    if (marker_ok && !s->in_delimiter && n > 3 && p[0] == '-' && p[1] == '-')
        note_position(s, p, n);
    if (s->phase == 2)
        return bk_buf_append(&s->footer, p, n);
    if (s->phase == 0) {
        if (!(marker_ok && starts(p, n, "CREATE DATABASE ")))
            return bk_buf_append(&s->header, p, n);
        s->phase = 1;
    }
    int r = 0;
    if (s->in_delimiter) {
        if (marker_ok && starts(p, n, "DELIMITER ;\n"))
            s->in_delimiter = false;
    } else if (marker_ok && starts(p, n, "DELIMITER ;;")) {
        s->in_delimiter = true;
    } else if (marker_ok && (starts(p, n, "CREATE DATABASE ") || starts(p, n, "USE `"))) {
        r = switch_to(s, p, n);
    } else if (marker_ok && starts(p, n, FOOTER_FIRST)) {
        s->phase = 2;
        if (s->current)
            r = s->ops->section_end(s->ctx, s->current);
        s->current = NULL;
        return r < 0 ? r : bk_buf_append(&s->footer, p, n);
    }
    if (r == 0 && !s->current)
        r = -EBADMSG;
    if (r == 0)
        r = s->ops->data(s->ctx, s->current, p, n);
    return r;
}

int bk_sqlsplit_feed(bk_sqlsplit *s, const uint8_t *p, size_t n)
{
    int r = s->error;
    while (r == 0 && n > 0) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) + 1 : n;
        if (s->passthrough) {
            /* the rest of a long data line (an extended INSERT) */
            r = s->ops->data(s->ctx, s->current, p, take);
            if (nl)
                s->passthrough = false;
        } else if (nl && s->line.len == 0) {
            r = line_done(s, p, take);   /* a whole line in place */
        } else {
            r = bk_buf_append(&s->line, p, take);
            if (r == 0 && nl) {
                r = line_done(s, s->line.data, s->line.len);
                s->line.len = 0;
            } else if (r == 0 && s->line.len > MAX_LINE_MARKER && s->phase == 1 &&
                       s->current && !s->in_delimiter) {
                /* too long for a marker: data, passed on without keeping the line */
                r = s->ops->data(s->ctx, s->current, s->line.data, s->line.len);
                s->line.len = 0;
                s->passthrough = true;
            }
        }
        p += take;
        n -= take;
    }
    s->error = r;
    return r;
}

int bk_sqlsplit_finish(bk_sqlsplit *s)
{
    if (s->error)
        return s->error;
    int r = 0;
    if (s->line.len > 0) {
        /* no newline at the very end: treat it as a line */
        r = line_done(s, s->line.data, s->line.len);
        s->line.len = 0;
    }
    if (r < 0)
        return r;
    if (s->ndbs == 0)
        return -EBADMSG;
    /* the footer must be complete: the dump was not cut short */
    const char *f = (const char *)s->footer.data;
    size_t fl = s->footer.len;
    while (fl > 0 && (f[fl - 1] == '\n' || f[fl - 1] == '\r'))
        fl--;
    size_t ll = strlen(FOOTER_LAST);
    if (s->phase != 2 || fl < ll || memcmp(f + fl - ll, FOOTER_LAST, ll) != 0)
        return -EPIPE;
    for (size_t i = 0; r == 0 && i < s->ndbs; i++)
        r = s->ops->data(s->ctx, s->dbs[i], s->footer.data, s->footer.len);
    return r;
}

char *bk_mysql_file_name(const char *db)
{
    bk_buf b = BK_BUF_INIT;
    int r = 0;
    for (const char *p = db; r == 0 && *p; p++) {
        if (*p == '/' || *p == '%') {
            char esc[4];
            snprintf(esc, sizeof(esc), "%%%02X", (unsigned char)*p);
            r = bk_buf_append(&b, esc, 3);
        } else {
            r = bk_buf_put_u8(&b, (uint8_t)*p);
        }
    }
    if (r == 0)
        r = bk_buf_append(&b, ".sql", 5);
    if (r < 0) {
        bk_buf_free(&b);
        return NULL;
    }
    return (char *)bk_buf_detach(&b, NULL);
}

char *bk_mysql_db_name(const char *file)
{
    size_t len = strlen(file);
    if (len <= 4 || strcmp(file + len - 4, ".sql") != 0)
        return NULL;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len - 4; i++) {
        unsigned v;
        if (file[i] == '%' && i + 2 < len - 4 && sscanf(file + i + 1, "%2X", &v) == 1) {
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = file[i];
        }
    }
    out[o] = 0;
    return out;
}
