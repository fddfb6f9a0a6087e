/* cdc.c - content-defined chunking of a stream into blobs. */
#include <fcntl.h>
#include <unistd.h>

#include "cdc.h"

void bk_cdc_init(bk_cdc *c, const bk_chunker *ch, const bk_keys *keys, bk_writer *w)
{
    memset(c, 0, sizeof(*c));
    c->ch = ch;
    c->keys = keys;
    c->w = w;
}

void bk_cdc_free(bk_cdc *c)
{
    free(c->buf);
    free(c->content);
    c->buf = NULL;
    c->content = NULL;
    c->n = c->ncap = 0;
}

static int ensure_buf(bk_cdc *c)
{
    if (c->buf)
        return 0;
    c->cap = 2 * c->ch->max;
    c->buf = malloc(c->cap);
    c->start = c->end = 0;
    return c->buf ? 0 : -ENOMEM;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int grow(bk_cdc *c)
{
    if (c->n == c->ncap) {
        size_t nc = c->ncap ? c->ncap * 2 : 16;
        bk_content *v = realloc(c->content, nc * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->content = v;
        c->ncap = nc;
    }
    return 0;
}

static int emit(bk_cdc *c, const uint8_t *p, size_t n)
{
    int r = grow(c);
    if (r < 0)
        return r;
    bk_content *e = &c->content[c->n];
    memset(e, 0, sizeof(*e));
    e->len = (uint32_t)n;
    if (all_zero(p, n)) {
        e->hole = true;   /* restored as a hole: sparse files stay sparse */
    } else {
        bk_blob_id(c->keys, p, n, &e->id);
        r = bk_writer_add(c->w, BK_KIND_DATA, &e->id, p, n);
        if (r < 0)
            return r;
    }
    c->n++;
    c->size += n;
    return 0;
}

/* Cut and emit chunks; keep the tail until there is a full max's worth, or at the end. */
static int process(bk_cdc *c, bool all)
{
    while (c->end > c->start && (all || c->end - c->start >= c->ch->max)) {
        size_t cut = bk_chunker_cut(c->ch, c->buf + c->start, c->end - c->start);
        int r = emit(c, c->buf + c->start, cut);
        if (r < 0)
            return r;
        c->start += cut;
    }
    if (c->start == c->end) {
        c->start = c->end = 0;
    } else if (c->start > 0 && c->cap - c->end < c->ch->max) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    return 0;
}

int bk_cdc_write(bk_cdc *c, const void *p, size_t n)
{
    int r = ensure_buf(c);
    const uint8_t *s = p;
    while (r == 0 && n > 0) {
        size_t k = BK_MIN(n, c->cap - c->end);
        memcpy(c->buf + c->end, s, k);
        c->end += k;
        s += k;
        n -= k;
        r = process(c, false);
    }
    return r;
}

/* Read up to limit bytes from fd's offset (to the end with UINT64_MAX). */
static int read_some(bk_cdc *c, int fd, uint64_t limit, int *io_err)
{
    int r = ensure_buf(c);
    if (r < 0)
        return r;
    while (limit > 0) {
        if (bk_interrupted())
            return -EINTR;
        size_t want = (size_t)BK_MIN((uint64_t)(c->cap - c->end), limit);
        ssize_t k = read(fd, c->buf + c->end, want);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *io_err = -errno;
            return 1;
        }
        if (k == 0)
            return 0;
        limit -= (uint64_t)k;
        c->end += (size_t)k;
        c->bytes_read += (uint64_t)k;
        r = process(c, false);
        if (r < 0)
            return r;
        if (c->tick)
            c->tick(c->tick_ctx);
    }
    return 0;
}

int bk_cdc_read_fd(bk_cdc *c, int fd, int *io_err)
{
    return read_some(c, fd, UINT64_MAX, io_err);
}

int bk_cdc_hole(bk_cdc *c, uint64_t len)
{
    int r = bk_cdc_flush(c);
    while (r == 0 && len > 0) {
        size_t n = (size_t)BK_MIN(len, (uint64_t)BK_HOLE_PIECE_MAX);
        if ((r = grow(c)) < 0)
            break;
        bk_content *e = &c->content[c->n++];
        memset(e, 0, sizeof(*e));
        e->len = (uint32_t)n;
        e->hole = true;
        c->size += n;
        len -= n;
    }
    return r;
}

/* Read from pos (the reads are sequential, so that the file's offset shows the progress). */
static int read_at(bk_cdc *c, int fd, off_t pos, uint64_t limit, int *io_err)
{
    if (lseek(fd, pos, SEEK_SET) < 0) {
        *io_err = -errno;
        return 1;
    }
    return read_some(c, fd, limit, io_err);
}

int bk_cdc_read_file(bk_cdc *c, int fd, uint64_t size, int *io_err)
{
    /* holes shorter than a minimal chunk are read (as zeros, which costs no disk I/O):
     * skipping them would cut chunks that small */
    off_t min_hole = (off_t)BK_MAX(c->ch->min, (size_t)4096);
    off_t pos = 0, scan = 0, end = (off_t)size;
    for (;;) {
        off_t hs = lseek(fd, scan, SEEK_HOLE);
        if (hs < 0 || hs >= end)
            break;   /* no hole before the end (or no SEEK_HOLE here): read the rest */
        off_t he = lseek(fd, hs, SEEK_DATA);
        if (he < 0 || he > end)
            he = end;   /* ENXIO: a hole up to the end */
        if (he - hs >= min_hole) {
            uint64_t before = c->bytes_read;
            int r = read_at(c, fd, pos, (uint64_t)(hs - pos), io_err);
            if (r != 0)
                return r;
            if (c->bytes_read - before < (uint64_t)(hs - pos))
                return 0;   /* the file shrank: it ends here */
            if ((r = bk_cdc_hole(c, (uint64_t)(he - hs))) < 0)
                return r;
            pos = he;
        }
        if (he >= end)
            break;
        scan = he;
    }
    /* the rest, to the end of the file, even if it grew meanwhile */
    return read_at(c, fd, pos, UINT64_MAX, io_err);
}

int bk_cdc_flush(bk_cdc *c)
{
    if (!c->buf)
        return 0;
    int r = process(c, true);
    free(c->buf);
    c->buf = NULL;
    return r;
}

int bk_cdc_finish(bk_cdc *c, bk_node *n)
{
    int r = bk_cdc_flush(c);
    if (r < 0)
        return r;
    n->content = c->content;
    n->ncontent = c->n;
    n->size = c->size;
    c->content = NULL;
    c->n = c->ncap = 0;
    return 0;
}
