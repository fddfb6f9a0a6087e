/* util.c - hex, time and string helpers; public id helpers. */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const char hexdig[] = "0123456789abcdef";

void bk_hex(const void *p, size_t n, char *out)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[b[i] >> 4];
        out[2 * i + 1] = hexdig[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int bk_unhex(const char *s, void *out, size_t n)
{
    uint8_t *b = out;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]);
        if (hi < 0)
            return -EINVAL;
        int lo = hexval(s[2 * i + 1]);
        if (lo < 0)
            return -EINVAL;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    return s[2 * n] == 0 ? 0 : -EINVAL;
}

void bk_id_hex(const bk_id *id, char out[BK_ID_HEX])
{
    bk_hex(id->b, BK_ID_LEN, out);
}

int bk_id_parse(const char *hex, bk_id *ret)
{
    return bk_unhex(hex, ret->b, BK_ID_LEN);
}

bool bk_id_is_zero(const bk_id *id)
{
    for (size_t i = 0; i < BK_ID_LEN; i++)
        if (id->b[i])
            return false;
    return true;
}

int bk_id_cmp(const bk_id *a, const bk_id *b)
{
    return memcmp(a->b, b->b, BK_ID_LEN);
}

void bk_time_format(int64_t t, int32_t nsec, int32_t tz, char out[48])
{
    time_t local = (time_t)(t + tz);
    struct tm tm;
    gmtime_r(&local, &tm);
    int off = tz < 0 ? -tz : tz;
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%09d%c%02d:%02d",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)nsec, tz < 0 ? '-' : '+', off / 3600 % 100, off / 60 % 60);
    snprintf(out, 48, "%.47s", tmp);
}

static int32_t local_offset(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return (int32_t)tm.tm_gmtoff;
}

void bk_time_now(int64_t *ret_t, int32_t *ret_nsec, int32_t *ret_tz)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ret_t = ts.tv_sec;
    *ret_nsec = (int32_t)ts.tv_nsec;
    *ret_tz = local_offset(ts.tv_sec);
}

double bk_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int digits(const char **s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (c - '0');
    }
    *s += n;
    *ret = v;
    return 0;
}

/* days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int bk_parse_time(const char *s, int64_t *ret_time, int32_t *ret_nsec, int32_t *ret_tz)
{
    int Y, M, D, h = 0, m = 0, sec = 0;
    int32_t nsec = 0;
    const char *p = s;
    if (digits(&p, 4, &Y) < 0 || *p++ != '-' || digits(&p, 2, &M) < 0 || *p++ != '-' ||
        digits(&p, 2, &D) < 0)
        return -EINVAL;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &m) < 0)
            return -EINVAL;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec) < 0)
                return -EINVAL;
            if (*p == '.') {
                p++;
                int n = 0;
                while (*p >= '0' && *p <= '9') {
                    if (n < 9) {
                        nsec = nsec * 10 + (*p - '0');
                        n++;
                    }
                    p++;
                }
                if (n == 0)
                    return -EINVAL;
                while (n++ < 9)
                    nsec *= 10;
            }
        }
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -EINVAL;
    int64_t t = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec;
    int32_t tz;
    if (*p == 'Z' || *p == 'z') {
        tz = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
            return -EINVAL;
        tz = sign * (oh * 3600 + om * 60);
    } else if (*p == 0) {
        /* local time: the offset that applies at that moment */
        struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                         .tm_min = m, .tm_sec = sec, .tm_isdst = -1 };
        time_t lt = mktime(&tm);
        if (lt == (time_t)-1)
            return -EINVAL;
        *ret_time = lt;
        *ret_nsec = nsec;
        *ret_tz = local_offset(lt);
        return 0;
    } else {
        return -EINVAL;
    }
    if (*p != 0)
        return -EINVAL;
    *ret_time = t - tz;
    *ret_nsec = nsec;
    *ret_tz = tz;
    return 0;
}

char *bk_strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool bk_strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

void bk_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int bk_strv_push(char ***v, size_t *n, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return -ENOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(char *));
    if (!nv) {
        free(d);
        return -ENOMEM;
    }
    nv[(*n)++] = d;
    *v = nv;
    return 0;
}

int bk_strv_dup(char *const *v, size_t n, char ***ret)
{
    char **out = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (bk_strv_push(&out, &k, v[i]) < 0) {
            bk_strv_free(out, k);
            return -ENOMEM;
        }
    *ret = out;
    return 0;
}

void bk_hostname(char *out, size_t n)
{
    if (gethostname(out, n) != 0 || !out[0])
        snprintf(out, n, "localhost");
    out[n - 1] = 0;
}

void bk_pid_namespace(char *out, size_t n)
{
    char link[64];
    ssize_t k = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
    if (k <= 0) {
        out[0] = 0;
        return;
    }
    link[k] = 0;
    snprintf(out, n, "(%s)", link);
}

void bk_process_id(char *out, size_t n)
{
    char user[128], host[256], ns[80];
    bk_username(user, sizeof(user));
    bk_hostname(host, sizeof(host));
    bk_pid_namespace(ns, sizeof(ns));
    snprintf(out, n, "%s@%s pid %d%s%s", user, host, (int)getpid(), ns[0] ? " " : "", ns);
}

void bk_username(char *out, size_t n)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
        snprintf(out, n, "%s", res->pw_name);
    else
        snprintf(out, n, "%u", (unsigned)getuid());
}

/* The loop of bk_read_full and bk_pread_full: read (with pread at off + got if pos) until
 * n bytes or the end of the file, again after EINTR.  On an error *ret_got still says how
 * many bytes arrived. */
static int read_loop(int fd, void *buf, size_t n, bool pos, uint64_t off, size_t *ret_got)
{
    size_t got = 0;
    while (got < n) {
        uint8_t *p = (uint8_t *)buf + got;
        ssize_t k = pos ? pread(fd, p, n - got, (off_t)(off + got)) : read(fd, p, n - got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *ret_got = got;
            return -errno;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    *ret_got = got;
    return 0;
}

int bk_read_full(int fd, void *buf, size_t n, size_t *ret_got)
{
    return read_loop(fd, buf, n, false, 0, ret_got);
}

int bk_pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *ret_got)
{
    return read_loop(fd, buf, n, true, off, ret_got);
}

int bk_write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int bk_read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int r = 0;
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t got, want = cap - len;
        r = bk_read_full(fd, buf + len, want, &got);
        len += got;
        if (r < 0 || got < want)
            break;   /* bk_read_full stops short only at the end: no read to see it again */
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}
