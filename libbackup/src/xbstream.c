/* xbstream.c - follow an xbstream (mariadb-backup's archive format) as it passes.
 *
 * A stream is a sequence of chunks, each with its own header (little-endian):
 *   "XBSTCK01"  flags:1  type:1  path_len:4  path
 *   type 'P' (payload): payload_len:8  offset:8  checksum:4  payload
 *   type 'E' (end of the file named by path): nothing more
 * mariadb-backup writes the files one after the other (the redo log beside them), each as
 * payload chunks and one end chunk.  Nothing is decoded beyond what the header says; the
 * payloads' checksums are mbstream's to verify when it extracts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xbstream.h"

static const char magic[8] = { 'X', 'B', 'S', 'T', 'C', 'K', '0', '1' };

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

void bk_xbs_init(bk_xbs *x)
{
    memset(x, 0, sizeof(*x));
    x->hneed = 14;
}

void bk_xbs_free(bk_xbs *x)
{
    for (size_t i = 0; i < x->nopen; i++)
        free(x->open[i]);
    x->nopen = 0;
}

static bool is_info(const char *path)
{
    return strcmp(path, "xtrabackup_binlog_info") == 0 ||
           strcmp(path, "mariadb_backup_binlog_info") == 0;
}

static int fail(bk_xbs *x, int e)
{
    x->err = e;
    x->err_at = x->offset;
    return e;
}

/* the header is whole: note the file, set up its payload */
static int on_header(bk_xbs *x)
{
    uint8_t type = x->hdr[9];
    uint32_t plen = le32(x->hdr + 10);
    char path[BK_XBS_PATH_MAX + 1];
    memcpy(path, x->hdr + 14, plen);
    path[plen] = 0;
    if (plen == 0 || strlen(path) != plen)
        return fail(x, -EBADMSG);
    size_t at = 0;
    while (at < x->nopen && strcmp(x->open[at], path) != 0)
        at++;
    x->chunks++;
    if (type == 'E') {
        if (at < x->nopen) {   /* (an empty file has its end chunk alone) */
            free(x->open[at]);
            x->open[at] = x->open[--x->nopen];
        }
        x->files++;
        x->hneed = 14;
        x->hlen = 0;
        return 0;
    }
    const uint8_t *q = x->hdr + 14 + plen;
    uint64_t len = le64(q), off = le64(q + 8);
    if (at == x->nopen) {
        if (x->nopen == BK_XBS_OPEN_MAX)
            return fail(x, -EBADMSG);
        if (!(x->open[x->nopen] = strdup(path)))
            return fail(x, -ENOMEM);
        x->nopen++;
    }
    x->in_info = is_info(path);
    if (x->in_info) {
        /* the position file is small and written at once: keep its bytes in order */
        if (off != x->info_len || len > BK_XBS_INFO_MAX - x->info_len)
            return fail(x, -EBADMSG);
    }
    x->left = len;
    x->hneed = 14;
    x->hlen = 0;
    return 0;
}

int bk_xbs_feed(bk_xbs *x, const uint8_t *p, size_t n)
{
    if (x->err)
        return x->err;
    while (n) {
        if (x->left) {
            size_t k = x->left < n ? (size_t)x->left : n;
            if (x->in_info) {
                memcpy(x->info + x->info_len, p, k);
                x->info_len += k;
            }
            x->left -= k;
            x->consumed += k;
            p += k;
            n -= k;
            continue;
        }
        if (x->hlen == 0)
            x->offset = x->consumed;   /* a chunk begins */
        size_t k = x->hneed - x->hlen < n ? x->hneed - x->hlen : n;
        memcpy(x->hdr + x->hlen, p, k);
        x->hlen += k;
        x->consumed += k;
        p += k;
        n -= k;
        if (x->hlen < x->hneed)
            break;
        if (x->hneed == 14) {
            uint8_t type = x->hdr[9];
            uint32_t plen = le32(x->hdr + 10);
            if (memcmp(x->hdr, magic, sizeof(magic)) != 0 || (type != 'P' && type != 'E') ||
                plen > BK_XBS_PATH_MAX)
                return fail(x, -EBADMSG);
            x->hneed = 14 + plen + (type == 'P' ? 20 : 0);
            if (x->hlen < x->hneed)
                continue;
        }
        int r = on_header(x);
        if (r < 0)
            return r;
    }
    return 0;
}

/* "binlog.000042\t1234\t0-1-77\n": the gtid may be missing (no GTID yet) or empty */
static int parse_info(const char *s, bk_xbs_pos *ret)
{
    memset(ret, 0, sizeof(*ret));
    const char *tab = strchr(s, '\t');
    if (!tab || tab == s || (size_t)(tab - s) >= sizeof(ret->file))
        return -EBADMSG;
    memcpy(ret->file, s, (size_t)(tab - s));
    const char *q = tab + 1, *e = q;
    while (*e >= '0' && *e <= '9')
        e++;
    if (e == q || e - q > 19)
        return -EBADMSG;
    ret->pos = strtoull(q, NULL, 10);
    if (*e == '\t') {
        q = e + 1;
        size_t l = strcspn(q, "\r\n");
        if (l >= sizeof(ret->gtid))
            return -EBADMSG;
        memcpy(ret->gtid, q, l);
        e = q + l;
    }
    while (*e == '\r' || *e == '\n')
        e++;
    return *e ? -EBADMSG : 0;
}

int bk_xbs_finish(bk_xbs *x, bk_xbs_pos *ret, bool *ret_has)
{
    if (ret_has)
        *ret_has = false;
    if (x->err)
        return x->err;
    if (x->left || x->hlen || x->nopen)
        return -EPIPE;
    if (x->files == 0)
        return -EBADMSG;
    if (x->info_len == 0)
        return 0;
    x->info[x->info_len] = 0;
    bk_xbs_pos pos;
    if (strlen(x->info) != x->info_len || parse_info(x->info, &pos) < 0)
        return -EPROTO;
    if (ret)
        *ret = pos;
    if (ret_has)
        *ret_has = true;
    return 0;
}
