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
    free(c->lists);
    free(c->items);
    free(c->ids);
    c->items = NULL;
    c->ids = NULL;
    c->icap = 0;
    c->buf = NULL;
    c->content = NULL;
    c->lists = NULL;
    c->n = c->ncap = c->nlists = c->lcap = 0;
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

/* Pieces v[0..n) into a list blob (a tree-kind blob: stored, cached and kept as trees
 * are), described in *l. */
static int store_list(const bk_keys *keys, bk_writer *w, const bk_content *v, size_t n,
                      bk_clist *l)
{
    bk_buf b = BK_BUF_INIT;
    int r = bk_clist_encode(v, n, &b);
    if (r == 0) {
        r = bk_blob_id(keys, b.data, b.len, &l->id);
        if (r == 0)
            r = bk_writer_add(w, BK_KIND_TREE, &l->id, b.data, b.len);
    }
    bk_buf_free(&b);
    if (r < 0)
        return r;
    l->bytes = 0;
    for (size_t i = 0; i < n; i++)
        l->bytes += v[i].len;
    l->pieces = (uint32_t)n;
    return 0;
}

static int push_list(bk_clist **v, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        bk_clist *nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    return 0;
}

/* The pieces so far into a list blob. */
static int spill(bk_cdc *c)
{
    int r = push_list(&c->lists, &c->nlists, &c->lcap);
    if (r == 0)
        r = store_list(c->keys, c->w, c->content, c->n, &c->lists[c->nlists]);
    if (r < 0)
        return r;
    c->nlists++;
    c->n = 0;
    return 0;
}

int bk_cdc_to_lists(const bk_keys *keys, bk_writer *w, bk_node *n)
{
    if (n->type != BK_NODE_FILE || n->nlists || n->ncontent <= BK_CLIST_PIECES)
        return 0;
    bk_clist *v = NULL;
    size_t nv = 0, cap = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n->ncontent; i += BK_CLIST_PIECES) {
        r = push_list(&v, &nv, &cap);
        if (r == 0)
            r = store_list(keys, w, n->content + i, BK_MIN(n->ncontent - i, (size_t)BK_CLIST_PIECES), &v[nv]);
        nv += r == 0;
    }
    if (r < 0) {
        free(v);
        return r;
    }
    free(n->content);
    n->content = NULL;
    n->ncontent = 0;
    n->lists = v;
    n->nlists = nv;
    return 0;
}

/* Before a piece is added: past BK_CLIST_PIECES pieces, those go to a list blob (so that
 * a file of at most that many keeps them inline, whatever made its node). */
static int room(bk_cdc *c)
{
    int r = c->n == BK_CLIST_PIECES ? spill(c) : 0;
    return r < 0 ? r : grow(c);
}

/* A chunk, hashed (id) or all zeros (NULL: restored as a hole, so sparse files stay
 * sparse), into the content list and, if new, to the writer. */
static int emit(bk_cdc *c, const uint8_t *p, size_t n, const bk_id *id)
{
    int r = room(c);
    if (r < 0)
        return r;
    bk_content *e = &c->content[c->n];
    memset(e, 0, sizeof(*e));
    e->len = (uint32_t)n;
    if (!id) {
        e->hole = true;
    } else {
        e->id = *id;
        r = bk_writer_add(c->w, BK_KIND_DATA, &e->id, p, n);
        if (r < 0)
            return r;
    }
    c->n++;
    c->size += n;
    return 0;
}

/* Cut the chunks of what is buffered, keeping the tail until there is a full max's worth
 * (or all of it, at the end); hash them together (on several cores, with a pool) and emit
 * them in order. */
static int process(bk_cdc *c, bool all)
{
    size_t n = 0, pos = c->start;
    while (c->end > pos && (all || c->end - pos >= c->ch->max)) {
        size_t cut = bk_chunker_cut(c->ch, c->buf + pos, c->end - pos);
        if (n == c->icap) {
            size_t cap = c->icap ? 2 * c->icap : 32;
            bk_hash_item *v = realloc(c->items, cap * sizeof(*v));
            if (v)
                c->items = v;
            bk_id *ids = v ? realloc(c->ids, cap * sizeof(*ids)) : NULL;
            if (!ids)
                return -ENOMEM;
            c->ids = ids;
            c->icap = cap;
        }
        c->items[n++] = (bk_hash_item){ c->buf + pos, cut, NULL };
        pos += cut;
    }
    /* chunks of zeros get no id: they are holes */
    for (size_t i = 0; i < n; i++)
        c->items[i].id = all_zero(c->items[i].p, c->items[i].n) ? NULL : &c->ids[i];
    int r = bk_hashpool_run(c->pool, c->keys, c->items, n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = emit(c, c->items[i].p, c->items[i].n, c->items[i].id);
        c->start += c->items[i].n;
    }
    if (r < 0)
        return r;
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
        if ((r = room(c)) < 0)
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
    if (r == 0 && c->nlists && c->n)
        r = spill(c);   /* the rest, so that the lists hold it all */
    if (r < 0)
        return r;
    if (c->nlists) {
        n->lists = c->lists;
        n->nlists = c->nlists;
        c->lists = NULL;
        c->nlists = c->lcap = 0;
    } else {
        n->content = c->content;
        n->ncontent = c->n;
        c->content = NULL;
        c->n = c->ncap = 0;
    }
    n->size = c->size;
    return 0;
}
