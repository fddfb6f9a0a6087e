/* metrics.c - the node_exporter textfile that --metrics-file keeps (merged, replaced
 * atomically under an flock), and Nagios performance data.  The formatting and the merge
 * are pure; metrics_update does the file's I/O. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

/* HELP and TYPE of the families arca writes; others found in a file keep theirs. */
static const struct family {
    const char *name, *type, *help;
} families[] = {
    { "arca_last_success_timestamp_seconds", "gauge", "When the command last succeeded (Unix time)." },
    { "arca_last_run_timestamp_seconds", "gauge", "When the command last finished, successfully or not (Unix time)." },
    { "arca_duration_seconds", "gauge", "How long the last run took." },
    { "arca_exit_code", "gauge", "Exit status of the last run (0 success; see arca(1))." },
    { "arca_files_total", "counter", "Files saved by backup runs (new, changed and unchanged)." },
    { "arca_bytes_added_total", "counter", "Bytes added to the repository by backup runs." },
    { "arca_errors_total", "counter", "Entries backup could not read, problems check found." },
    { "arca_snapshots_removed_total", "counter", "Snapshots removed by forget runs." },
    { "arca_bytes_freed_total", "counter", "Bytes freed by prune runs." },
    { "arca_snapshots_copied_total", "counter", "Snapshots copied by copy runs." },
};

char *metrics_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\\' || *p == '"' || *p == '\n' ? 2 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '"') {
            *o++ = '\\';
            *o++ = *p;
        } else if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

char *metrics_labels(const char *repository, const char *command, const char *host,
                     const char *paths)
{
    char *r = metrics_escape(repository ? repository : ""), *c = metrics_escape(command ? command : ""),
         *h = metrics_escape(host ? host : ""), *p = metrics_escape(paths ? paths : ""), *out = NULL;
    if (r && c && h && p &&
        asprintf(&out, "repository=\"%s\",command=\"%s\",host=\"%s\",paths=\"%s\"", r, c, h, p) < 0)
        out = NULL;
    free(r);
    free(c);
    free(h);
    free(p);
    return out;
}

void metrics_number(double v, char *out, size_t len)
{
    if (isnan(v))
        snprintf(out, len, "NaN");
    else if (isinf(v))
        snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, len, "%.0f", v);
    else
        snprintf(out, len, "%.15g", v);
}

/* ---- the merge ------------------------------------------------------------------------------ */

typedef struct line {
    char *name;              /* family (metric name) */
    char *key;               /* name{labels}: the series */
    char *text;              /* the whole sample line */
} line;

typedef struct fam {
    char *name, *help, *type;    /* help, type: the file's lines, or NULL */
} fam;

typedef struct merge_state {
    line *lines;
    size_t nlines;
    fam *fams;
    size_t nfams;
} merge_state;

static fam *fam_get(merge_state *st, const char *name, size_t len)
{
    for (size_t i = 0; i < st->nfams; i++)
        if (strlen(st->fams[i].name) == len && memcmp(st->fams[i].name, name, len) == 0)
            return &st->fams[i];
    fam *nv = realloc(st->fams, (st->nfams + 1) * sizeof(*nv));
    if (!nv)
        return NULL;
    st->fams = nv;
    fam *f = &st->fams[st->nfams];
    memset(f, 0, sizeof(*f));
    if (!(f->name = strndup(name, len)))
        return NULL;
    st->nfams++;
    return f;
}

/* The end of a sample's series part ("name" or "name{...}"), or NULL when malformed. */
static const char *series_end(const char *s, size_t *ret_namelen)
{
    const char *p = s;
    while (*p && *p != '{' && *p != ' ' && *p != '\t')
        p++;
    *ret_namelen = (size_t)(p - s);
    if (*ret_namelen == 0)
        return NULL;
    if (*p != '{')
        return p;
    bool quoted = false;
    for (p++; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == '}')
            return p + 1;
    }
    return NULL;
}

/* After the series: blanks, a value, optionally a timestamp in milliseconds. */
static bool sample_value_ok(const char *p)
{
    if (*p != ' ' && *p != '\t')
        return false;
    char *end;
    strtod(p, &end);
    if (end == p)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end) {
        const char *q = end;
        strtoll(q, &end, 10);
        if (end == q)
            return false;
        while (*end == ' ' || *end == '\t')
            end++;
    }
    return *end == 0;
}

static int parse_old(merge_state *st, const char *old)
{
    const char *s = old;
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        char *l = strndup(s, len);
        if (!l)
            return -ENOMEM;
        s = nl ? nl + 1 : NULL;
        if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
            const char *n = l + 7;
            size_t nlen = strcspn(n, " ");
            fam *f = fam_get(st, n, nlen);
            if (!f) {
                free(l);
                return -ENOMEM;
            }
            char **slot = l[2] == 'H' ? &f->help : &f->type;
            free(*slot);
            *slot = l;
            continue;
        }
        size_t namelen;
        const char *end = l[0] && l[0] != '#' ? series_end(l, &namelen) : NULL;
        if (end && !sample_value_ok(end))
            end = NULL;
        if (!end) {   /* comments, blank and malformed lines go */
            free(l);
            continue;
        }
        line *nv = realloc(st->lines, (st->nlines + 1) * sizeof(*nv));
        if (!nv) {
            free(l);
            return -ENOMEM;
        }
        st->lines = nv;
        line *ln = &st->lines[st->nlines++];
        ln->text = l;
        ln->name = strndup(l, namelen);
        ln->key = strndup(l, (size_t)(end - l));
        if (!ln->name || !ln->key || !fam_get(st, l, namelen))
            return -ENOMEM;
    }
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(((const line *)a)->key, ((const line *)b)->key);
}

static int cmp_fam(const void *a, const void *b)
{
    return strcmp(((const fam *)a)->name, ((const fam *)b)->name);
}

static void state_free(merge_state *st)
{
    for (size_t i = 0; i < st->nlines; i++) {
        free(st->lines[i].name);
        free(st->lines[i].key);
        free(st->lines[i].text);
    }
    for (size_t i = 0; i < st->nfams; i++) {
        free(st->fams[i].name);
        free(st->fams[i].help);
        free(st->fams[i].type);
    }
    free(st->lines);
    free(st->fams);
}

/* The value of a sample line (after its series part), NaN when there is none. */
static double line_value(const line *ln)
{
    const char *p = ln->text + strlen(ln->key);
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

int metrics_merge(const char *old, const metric_sample *v, size_t n, char **ret)
{
    merge_state st = { 0 };
    int r = parse_old(&st, old);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char *key = NULL, num[64];
        if (asprintf(&key, "%s{%s}", v[i].name, v[i].labels) < 0) {
            r = -ENOMEM;
            break;
        }
        double val = v[i].value;
        line *ln = NULL;
        for (size_t k = 0; k < st.nlines && !ln; k++)
            if (strcmp(st.lines[k].key, key) == 0)
                ln = &st.lines[k];
        if (ln && v[i].add) {
            double before = line_value(ln);
            if (!isnan(before) && before >= 0)
                val += before;
        }
        metrics_number(val, num, sizeof(num));
        char *text = NULL;
        if (asprintf(&text, "%s %s", key, num) < 0) {
            free(key);
            r = -ENOMEM;
            break;
        }
        if (ln) {
            free(ln->text);
            ln->text = text;
            free(key);
            continue;
        }
        line *nv = realloc(st.lines, (st.nlines + 1) * sizeof(*nv));
        if (!nv || !fam_get(&st, v[i].name, strlen(v[i].name))) {
            free(key);
            free(text);
            r = -ENOMEM;
            break;
        }
        st.lines = nv;
        st.lines[st.nlines++] = (line){ strdup(v[i].name), key, text };
        if (!st.lines[st.nlines - 1].name)
            r = -ENOMEM;
    }
    if (r < 0) {
        state_free(&st);
        return r;
    }
    qsort(st.lines, st.nlines, sizeof(*st.lines), cmp_line);
    qsort(st.fams, st.nfams, sizeof(*st.fams), cmp_fam);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f) {
        state_free(&st);
        return -ENOMEM;
    }
    for (size_t i = 0; i < st.nfams; i++) {
        fam *fm = &st.fams[i];
        bool any = false;
        for (size_t k = 0; k < st.nlines && !any; k++)
            any = strcmp(st.lines[k].name, fm->name) == 0;
        if (!any)
            continue;   /* a family without samples: its HELP and TYPE go too */
        const struct family *known = NULL;
        for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++)
            if (strcmp(families[k].name, fm->name) == 0)
                known = &families[k];
        if (known)
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", known->name, known->help, known->name,
                    known->type);
        else {
            if (fm->help)
                fprintf(f, "%s\n", fm->help);
            if (fm->type)
                fprintf(f, "%s\n", fm->type);
        }
        for (size_t k = 0; k < st.nlines; k++)
            if (strcmp(st.lines[k].name, fm->name) == 0)
                fprintf(f, "%s\n", st.lines[k].text);
    }
    state_free(&st);
    if (fclose(f) != 0) {
        free(out);
        return -ENOMEM;
    }
    *ret = out;
    return 0;
}

/* ---- the file ----------------------------------------------------------------------------- */

static int read_all(const char *path, char **ret)
{
    *ret = NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int r = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0) {
            if (ferror(f))
                r = -EIO;
            break;
        }
    }
    fclose(f);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = 0;
    *ret = buf;
    return 0;
}

int metrics_update(const char *path, const metric_sample *v, size_t n)
{
    char *lockpath = NULL, *tmp = NULL, *old = NULL, *text = NULL;
    int lfd = -1, fd = -1, r = 0;
    if (asprintf(&lockpath, "%s.lock", path) < 0 || asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
        free(lockpath);
        return -ENOMEM;
    }
    lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
        r = -errno;
    if (r == 0)
        r = read_all(path, &old);
    if (r == 0)
        r = metrics_merge(old, v, n, &text);
    if (r == 0 && (fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        r = -errno;
    if (r == 0) {
        size_t len = strlen(text), off = 0;
        while (r == 0 && off < len) {
            ssize_t k = write(fd, text + off, len - off);
            if (k < 0 && errno != EINTR)
                r = -errno;
            else if (k > 0)
                off += (size_t)k;
        }
        /* node_exporter runs as another user: readable by all, as files made by hand are */
        if (r == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
            r = -errno;
        if (close(fd) < 0 && r == 0)
            r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
            r = -errno;
        if (r < 0)
            unlink(tmp);
    }
    if (lfd >= 0)
        close(lfd);   /* drops the flock */
    free(lockpath);
    free(tmp);
    free(old);
    free(text);
    return r;
}

/* ---- Nagios performance data --------------------------------------------------------------- */

int perfdata_append(char **out, const char *label, double value, const char *uom, double warn,
                    double crit, double min, double max)
{
    size_t ll = strlen(label);
    char *q = malloc(2 * ll + 1), *o = q;
    if (!q)
        return -ENOMEM;
    for (const char *p = label; *p; p++) {
        if (*p == '\'')
            *o++ = '\'';
        /* '=' ends a label: the one character it cannot hold; a control or '|' would
         * break the plugin's line */
        *o++ = *p == '=' ? '_' : (unsigned char)*p < 0x20 || *p == 0x7f || *p == '|' ? ' ' : *p;
    }
    *o = 0;
    char nums[5][64];
    const double d[5] = { value, warn, crit, min, max };
    for (int i = 0; i < 5; i++) {
        if (isnan(d[i]))
            nums[i][0] = 0;
        else
            metrics_number(d[i], nums[i], sizeof(nums[i]));
    }
    char *item = NULL;
    int k = asprintf(&item, "'%s'=%s%s;%s;%s;%s;%s", q, nums[0], uom ? uom : "", nums[1], nums[2],
                     nums[3], nums[4]);
    free(q);
    if (k < 0)
        return -ENOMEM;
    /* trailing empty fields may be left out */
    while (k > 0 && item[k - 1] == ';')
        item[--k] = 0;
    size_t have = *out ? strlen(*out) : 0;
    char *nv = realloc(*out, have + (size_t)k + 2);
    if (!nv) {
        free(item);
        return -ENOMEM;
    }
    if (have)
        nv[have++] = ' ';
    memcpy(nv + have, item, (size_t)k + 1);
    *out = nv;
    free(item);
    return 0;
}

/* ---- states ----------------------------------------------------------------------------------- */

const char *state_name(int state)
{
    static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
    return state >= 0 && state <= 3 ? names[state] : "UNKNOWN";
}

int state_of_age(double age, double warn, double crit)
{
    if (crit >= 0 && age > crit)
        return STATE_CRITICAL;
    if (warn >= 0 && age > warn)
        return STATE_WARNING;
    return STATE_OK;
}

void age_format(double secs, char *out, size_t len)
{
    long long s = secs < 0 ? 0 : (long long)(secs + 0.5);
    if (s < 60)
        snprintf(out, len, "%llds", s);
    else if (s < 3600)
        snprintf(out, len, "%lldm %llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, len, "%lldh %lldm", s / 3600, s / 60 % 60);
    else
        snprintf(out, len, "%lldd %lldh", s / 86400, s / 3600 % 24);
}
