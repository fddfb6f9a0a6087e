/* imap.c - the sorted, memory-mapped blob index file (imap.h). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "imap.h"
#include "util.h"

#define MAGIC "ARCAIMP1"
#define VERSION 2                /* 2: the pack table under the block checksums only */
#define ENDIAN 0x01020304u
#define HEADER_SIZE 4096
#define FANOUT 65536
#define BLOCK (64u << 10)
#define SUM_LEN 16               /* the block checksums, and the header's (32 bytes), are
                                    BLAKE2b whatever the repository's id function: the file
                                    is this machine's alone (a damaged one is rebuilt from
                                    the index objects), no other reader needs to agree */
#define PARTS 256
#define WINDOW_MAX 256           /* entries a lookup reads at once: 13 KB */
#define PART_BUF 512             /* entries buffered per partition before a write */

_Static_assert(sizeof(bk_index_entry) == 20, "bk_index_entry has the layout of the file");
_Static_assert(sizeof(bk_imap_entry) == 52, "entries are 52 bytes");
_Static_assert(sizeof(bk_imap_object) == 40, "objects are 40 bytes");

typedef struct header {
    char magic[8];
    uint32_t version, endian, entry_size, block_size;
    uint64_t n;
    uint32_t npacks, nobjects;
    uint64_t off_fanout, off_objects, off_packs, off_entries, off_sums, size;
    uint8_t sum[32];             /* of the header (sum zeroed), fan-out, objects, sums */
} header;

/* ---- reading ---------------------------------------------------------------------------- */

static void head_sum(const uint8_t *base, const header *h, uint8_t out[32])
{
    crypto_generichash_state st;
    header copy = *h;
    memset(copy.sum, 0, sizeof(copy.sum));
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)&copy, sizeof(copy));
    crypto_generichash_update(&st, base + h->off_fanout, (FANOUT + 1) * sizeof(uint64_t));
    crypto_generichash_update(&st, base + h->off_objects, (size_t)h->nobjects * sizeof(bk_imap_object));
    crypto_generichash_update(&st, base + h->off_sums, (size_t)(h->size - h->off_sums));
    crypto_generichash_final(&st, out, 32);
}

int bk_imap_open(const char *path, bk_imap *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < HEADER_SIZE) {
        close(fd);
        return -EBADMSG;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = -errno;
        close(fd);
        return e;
    }
    const header *h = (const header *)base;
    if (memcmp(h->magic, MAGIC, 8) == 0 && h->version != VERSION) {
        munmap(base, size);   /* another version's: made again, without a word */
        close(fd);
        return -ENOENT;
    }
    /* every count bounded by the size before anything is computed from it */
    bool ok = memcmp(h->magic, MAGIC, 8) == 0 && h->version == VERSION && h->endian == ENDIAN &&
              h->entry_size == sizeof(bk_imap_entry) && h->block_size == BLOCK &&
              h->size == size && h->n <= size / sizeof(bk_imap_entry) &&
              h->npacks <= size / sizeof(bk_id) && h->nobjects <= size / sizeof(bk_imap_object);
    uint64_t entries_end = 0, nblocks = 0;
    if (ok) {
        entries_end = h->off_entries + h->n * sizeof(bk_imap_entry);
        ok = h->off_fanout == HEADER_SIZE &&
             h->off_objects == h->off_fanout + (FANOUT + 1) * sizeof(uint64_t) &&
             h->off_packs == h->off_objects + (uint64_t)h->nobjects * sizeof(bk_imap_object) &&
             h->off_entries == h->off_packs + (uint64_t)h->npacks * sizeof(bk_id) &&
             h->off_sums == entries_end && h->off_sums <= size;
    }
    if (ok) {
        nblocks = (entries_end - h->off_packs + BLOCK - 1) / BLOCK;
        ok = h->off_sums + nblocks * SUM_LEN == size;
    }
    if (ok) {
        uint8_t sum[32];
        head_sum(base, h, sum);
        ok = sodium_memcmp(sum, h->sum, 32) == 0;
    }
    const uint64_t *fanout = (const uint64_t *)(base + h->off_fanout);
    for (size_t i = 0; ok && i < FANOUT; i++)
        ok = fanout[i] <= fanout[i + 1];
    ok = ok && fanout[0] == 0 && fanout[FANOUT] == h->n;
    const bk_imap_object *objects = (const bk_imap_object *)(base + h->off_objects);
    for (uint32_t i = 0; ok && i < h->nobjects; i++)
        ok = (uint64_t)objects[i].first_pack + objects[i].npacks <= h->npacks;
    if (!ok) {
        munmap(base, size);
        close(fd);
        return -EBADMSG;
    }
    ret->checked = calloc(nblocks / 8 + 1, 1);
    if (!ret->checked) {
        munmap(base, size);
        close(fd);
        return -ENOMEM;
    }
    ret->fd = fd;
    ret->base = base;
    ret->size = size;
    ret->fanout = fanout;
    ret->objects = objects;
    ret->packs = (const bk_id *)(base + h->off_packs);
    ret->entries = (const bk_imap_entry *)(base + h->off_entries);
    ret->sums = base + h->off_sums;
    ret->n = h->n;
    ret->npacks = h->npacks;
    ret->nobjects = h->nobjects;
    ret->nblocks = (size_t)nblocks;
    /* a lookup's window (bk_imap_find): three standard deviations of where an id of a
     * fan-out range of the mean size lies, either side, and a little */
    uint64_t mean = h->n / FANOUT, root = 0;
    while ((root + 1) * (root + 1) <= mean)
        root++;
    ret->window = (unsigned)BK_MAX(16, BK_MIN(WINDOW_MAX, 3 * root + 8));
    return 0;
}

void bk_imap_close(bk_imap *m)
{
    if (!m || !m->base)
        return;
    munmap(m->base, m->size);
    close(m->fd);
    free(m->checked);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

/* len bytes at off of the file.  Lookups read the file with pread, not through the
 * mapping: a page they touch stays in the page cache, shared and given back under
 * pressure, and out of this process's resident set (a fault maps a whole folio around a
 * page, and a walk over every id would make all of a large file resident).  A file cut
 * short under the process (it never is, but for damage) reads as damaged, where the
 * mapping would raise SIGBUS. */
static int read_at(const bk_imap *m, uint64_t off, void *buf, size_t len)
{
    size_t got;
    int r = bk_pread_full(m->fd, buf, len, off, &got);
    return r < 0 ? r : got < len ? -EBADMSG : 0;
}

/* The block b (of the packs and entries) is what its checksum says.  The bit is set with
 * an atomic or: lookups may come from several threads. */
static bool block_ok(bk_imap *m, size_t b)
{
    uint8_t bit = (uint8_t)(1u << (b & 7));
    if (__atomic_load_n(&m->checked[b / 8], __ATOMIC_RELAXED) & bit)
        return true;
    const header *h = (const header *)m->base;
    uint64_t start = h->off_packs + (uint64_t)b * BLOCK;
    uint64_t end = BK_MIN(start + BLOCK, h->off_entries + m->n * sizeof(bk_imap_entry));
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SUM_LEN);
    uint8_t chunk[16384];
    for (uint64_t off = start; off < end; off += sizeof(chunk)) {
        size_t len = (size_t)BK_MIN((uint64_t)sizeof(chunk), end - off);
        if (read_at(m, off, chunk, len) < 0) {
            m->damaged = true;
            return false;
        }
        crypto_generichash_update(&st, chunk, len);
    }
    uint8_t sum[SUM_LEN];
    crypto_generichash_final(&st, sum, SUM_LEN);
    if (sodium_memcmp(sum, m->sums + b * SUM_LEN, SUM_LEN) != 0) {
        m->damaged = true;
        return false;
    }
    __atomic_fetch_or(&m->checked[b / 8], bit, __ATOMIC_RELAXED);
    return true;
}

static bool bytes_ok(bk_imap *m, uint64_t off, uint64_t len)
{
    const header *h = (const header *)m->base;
    if (len == 0)
        return true;
    size_t first = (size_t)((off - h->off_packs) / BLOCK), last = (size_t)((off + len - 1 - h->off_packs) / BLOCK);
    for (size_t b = first; b <= last; b++)
        if (!block_ok(m, b))
            return false;
    return true;
}

static bool entry_ok(bk_imap *m, uint64_t i)
{
    const header *h = (const header *)m->base;
    return bytes_ok(m, h->off_entries + i * sizeof(bk_imap_entry), sizeof(bk_imap_entry));
}

int bk_imap_check_range(bk_imap *m, uint64_t from, uint64_t to)
{
    const header *h = (const header *)m->base;
    if (to <= from)
        return 0;
    return bytes_ok(m, h->off_entries + from * sizeof(bk_imap_entry),
                    (to - from) * sizeof(bk_imap_entry)) ? 0 : -EBADMSG;
}

int bk_imap_check_packs(bk_imap *m, uint32_t from, uint32_t to)
{
    const header *h = (const header *)m->base;
    if (to <= from)
        return 0;
    return bytes_ok(m, h->off_packs + (uint64_t)from * sizeof(bk_id),
                    (uint64_t)(to - from) * sizeof(bk_id)) ? 0 : -EBADMSG;
}

int bk_imap_entry_at(bk_imap *m, uint64_t i, bk_imap_entry *ret)
{
    if (i >= m->n || !entry_ok(m, i))
        return -EBADMSG;
    const header *h = (const header *)m->base;
    return read_at(m, h->off_entries + i * sizeof(bk_imap_entry), ret, sizeof(*ret));
}

int bk_imap_pack_at(bk_imap *m, uint32_t no, bk_id *ret)
{
    if (no >= m->npacks || bk_imap_check_packs(m, no, no + 1) < 0)
        return -EBADMSG;
    const header *h = (const header *)m->base;
    return read_at(m, h->off_packs + (uint64_t)no * sizeof(bk_id), ret, sizeof(*ret));
}

/* Entries [a, b) (at most WINDOW_MAX) into v, checked. */
static int read_entries(bk_imap *m, uint64_t a, uint64_t b, bk_imap_entry *v)
{
    const header *h = (const header *)m->base;
    uint64_t off = h->off_entries + a * sizeof(bk_imap_entry), len = (b - a) * sizeof(bk_imap_entry);
    if (!bytes_ok(m, off, len))
        return -EBADMSG;
    return read_at(m, off, v, (size_t)len);
}

/* The first of v[0, k) not below id. */
static size_t lower_bound(const bk_imap_entry *v, size_t k, const bk_id *id)
{
    size_t a = 0, b = k;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (memcmp(v[mid].id.b, id->b, BK_ID_LEN) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

int bk_imap_find(bk_imap *m, const bk_id *id, uint64_t *ret_pos, bk_imap_entry *ret)
{
    if (!m->base || m->n == 0)
        return -ENOENT;
    unsigned p = (unsigned)id->b[0] << 8 | id->b[1];
    uint64_t lo = m->fanout[p], hi = m->fanout[p + 1];
    bk_imap_entry v[WINDOW_MAX];
    int r;
    /* The first entry not below id is in [lo, hi], and the entries before lo are below it.
     * Ids are keyed hashes, uniform in their range: the next four bytes say where in it id
     * lies, give or take sqrt(n) / 2 entries.  One read of a window around that guess
     * finds it nearly always; if not, the window narrows the range. */
    if (hi - lo > m->window) {
        uint64_t frac = (uint64_t)id->b[2] << 24 | (uint64_t)id->b[3] << 16 | (uint64_t)id->b[4] << 8 | id->b[5];
        uint64_t guess = lo + (uint64_t)(((unsigned __int128)(hi - lo) * frac) >> 32);
        uint64_t a = guess - lo > m->window / 2 ? guess - m->window / 2 : lo;
        uint64_t b = BK_MIN(hi, a + m->window);
        a = b - m->window;
        if ((r = read_entries(m, a, b, v)) < 0)
            return r;
        if (memcmp(v[b - a - 1].id.b, id->b, BK_ID_LEN) < 0) {
            lo = b;
        } else if (a > lo && memcmp(v[0].id.b, id->b, BK_ID_LEN) >= 0) {
            hi = a + 1;
        } else {
            lo = a;
            hi = b;
            goto found;
        }
    }
    while (hi - lo > WINDOW_MAX) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((r = bk_imap_entry_at(m, mid, &v[0])) < 0)
            return r;
        if (memcmp(v[0].id.b, id->b, BK_ID_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid + 1;   /* mid may be the first entry for id */
    }
    if (lo == hi)
        return -ENOENT;
    if ((r = read_entries(m, lo, hi, v)) < 0)
        return r;
found:;
    size_t k = lower_bound(v, (size_t)(hi - lo), id);
    if (k == hi - lo || memcmp(v[k].id.b, id->b, BK_ID_LEN) != 0)
        return -ENOENT;
    *ret_pos = lo + k;
    if (ret)
        *ret = v[k];
    return 0;
}

void bk_imap_trim(bk_imap *m)
{
    if (m && m->base)
        madvise(m->base, m->size, MADV_DONTNEED);
}

/* ---- building ----------------------------------------------------------------------------- */

struct bk_imap_builder {
    char *path;
    char *part_path[PARTS];
    int part_fd[PARTS];
    bk_imap_entry *buf[PARTS];
    size_t nbuf[PARTS];
    uint64_t part_n[PARTS];
    char *packs_path;
    int packs_fd;
    bk_imap_object *objects;
    size_t nobjects, objects_cap;
    uint32_t npacks;
    uint64_t n;
    bool have_pack;
};

static int temp_file(const char *path, const char *what, char **ret_path)
{
    if (asprintf(ret_path, "%s.%s-XXXXXX", path, what) < 0) {
        *ret_path = NULL;
        return -ENOMEM;
    }
    int fd = mkostemp(*ret_path, O_CLOEXEC);
    if (fd < 0) {
        int e = -errno;
        free(*ret_path);
        *ret_path = NULL;
        return e;
    }
    return fd;
}

int bk_imap_builder_new(const char *path, bk_imap_builder **ret)
{
    bk_imap_builder *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < PARTS; i++)
        b->part_fd[i] = -1;
    b->packs_fd = -1;
    b->path = strdup(path);
    int r = b->path ? 0 : -ENOMEM;
    if (r == 0 && (b->packs_fd = temp_file(path, "packs", &b->packs_path)) < 0)
        r = b->packs_fd;
    if (r < 0) {
        bk_imap_builder_free(b);
        return r;
    }
    *ret = b;
    return 0;
}

int bk_imap_builder_object(bk_imap_builder *b, const bk_id *id)
{
    if (b->nobjects == b->objects_cap) {
        size_t cap = b->objects_cap ? b->objects_cap * 2 : 256;
        bk_imap_object *v = realloc(b->objects, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        b->objects = v;
        b->objects_cap = cap;
    }
    b->objects[b->nobjects++] = (bk_imap_object){ *id, b->npacks, 0 };
    b->have_pack = false;
    return 0;
}

int bk_imap_builder_pack(bk_imap_builder *b, const bk_id *pack)
{
    if (b->nobjects == 0 || b->npacks == UINT32_MAX)
        return -EINVAL;
    int r = bk_write_full(b->packs_fd, pack->b, BK_ID_LEN);
    if (r < 0)
        return r;
    b->npacks++;
    b->objects[b->nobjects - 1].npacks++;
    b->have_pack = true;
    return 0;
}

static int flush_part(bk_imap_builder *b, size_t p)
{
    if (b->nbuf[p] == 0)
        return 0;
    if (b->part_fd[p] < 0) {
        char what[16];
        snprintf(what, sizeof(what), "part%02zx", p);
        if ((b->part_fd[p] = temp_file(b->path, what, &b->part_path[p])) < 0)
            return b->part_fd[p];
    }
    int r = bk_write_full(b->part_fd[p], b->buf[p], b->nbuf[p] * sizeof(bk_imap_entry));
    b->nbuf[p] = 0;
    return r;
}

int bk_imap_builder_entry(bk_imap_builder *b, const bk_imap_entry *x)
{
    size_t p = x->id.b[0];
    if (!b->buf[p] && !(b->buf[p] = malloc(PART_BUF * sizeof(bk_imap_entry))))
        return -ENOMEM;
    b->buf[p][b->nbuf[p]++] = *x;
    b->part_n[p]++;
    b->n++;
    return b->nbuf[p] == PART_BUF ? flush_part(b, p) : 0;
}

int bk_imap_builder_blob(bk_imap_builder *b, const bk_pack_entry *e)
{
    if (!b->have_pack)
        return -EINVAL;
    bk_imap_entry x;
    memset(&x, 0, sizeof(x));   /* the padding too: the file is checksummed */
    x.id = e->id;
    x.e.pack = b->npacks - 1;
    x.e.offset = e->offset;
    x.e.stored_len = e->stored_len;
    x.e.raw_len = e->raw_len;
    x.e.kind = e->kind;
    return bk_imap_builder_entry(b, &x);
}

/* Sequential output with a checksum per block from a given offset on. */
typedef struct out {
    int fd;
    uint64_t pos, sum_from;
    crypto_generichash_state st;
    uint64_t in_block;
    uint8_t *sums;
    size_t nsums, sums_cap;
} out;

static int out_block_end(out *o)
{
    if (o->nsums == o->sums_cap) {
        size_t cap = o->sums_cap ? o->sums_cap * 2 : 1024;
        uint8_t *v = realloc(o->sums, cap * SUM_LEN);
        if (!v)
            return -ENOMEM;
        o->sums = v;
        o->sums_cap = cap;
    }
    crypto_generichash_final(&o->st, o->sums + o->nsums * SUM_LEN, SUM_LEN);
    o->nsums++;
    o->in_block = 0;
    crypto_generichash_init(&o->st, NULL, 0, SUM_LEN);
    return 0;
}

static int out_write(out *o, const void *p, size_t n)
{
    int r = bk_write_full(o->fd, p, n);
    if (r < 0)
        return r;
    const uint8_t *s = p;
    size_t left = n;
    while (o->pos >= o->sum_from && left > 0) {
        size_t k = (size_t)BK_MIN((uint64_t)left, BLOCK - o->in_block);
        crypto_generichash_update(&o->st, s, k);
        o->in_block += k;
        s += k;
        left -= k;
        if (o->in_block == BLOCK && (r = out_block_end(o)) < 0)
            return r;
    }
    o->pos += n;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const bk_imap_entry *x = a, *y = b;
    int c = memcmp(x->id.b, y->id.b, BK_ID_LEN);
    if (c)
        return c;
    return x->e.pack < y->e.pack ? -1 : x->e.pack > y->e.pack;
}

int bk_imap_builder_finish(bk_imap_builder *b, bk_imap *ret)
{
    int r = 0;
    for (size_t p = 0; r == 0 && p < PARTS; p++)
        r = flush_part(b, p);
    if (r < 0)
        return r;
    char *tmp = NULL;
    int fd = temp_file(b->path, "new", &tmp);
    if (fd < 0)
        return fd;
    header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.endian = ENDIAN;
    h.entry_size = sizeof(bk_imap_entry);
    h.block_size = BLOCK;
    h.n = b->n;
    h.npacks = b->npacks;
    h.nobjects = (uint32_t)b->nobjects;
    h.off_fanout = HEADER_SIZE;
    h.off_objects = h.off_fanout + (FANOUT + 1) * sizeof(uint64_t);
    h.off_packs = h.off_objects + (uint64_t)h.nobjects * sizeof(bk_imap_object);
    h.off_entries = h.off_packs + (uint64_t)h.npacks * sizeof(bk_id);
    h.off_sums = h.off_entries + h.n * sizeof(bk_imap_entry);
    uint64_t *fanout = calloc(FANOUT + 1, sizeof(uint64_t));
    out o = { .fd = fd, .pos = h.off_objects, .sum_from = h.off_packs };
    crypto_generichash_init(&o.st, NULL, 0, SUM_LEN);
    if (!fanout)
        r = -ENOMEM;
    if (r == 0 && lseek(fd, (off_t)h.off_objects, SEEK_SET) < 0)
        r = -errno;
    if (r == 0)
        r = out_write(&o, b->objects, b->nobjects * sizeof(bk_imap_object));
    /* the pack table, as it was written */
    if (r == 0 && lseek(b->packs_fd, 0, SEEK_SET) < 0)
        r = -errno;
    uint8_t copy[64 << 10];
    for (uint64_t left = (uint64_t)b->npacks * BK_ID_LEN; r == 0 && left > 0;) {
        size_t got = 0;
        r = bk_read_full(b->packs_fd, copy, (size_t)BK_MIN(left, (uint64_t)sizeof(copy)), &got);
        if (r == 0 && got == 0)
            r = -EIO;
        if (r == 0)
            r = out_write(&o, copy, got);
        left -= got;
    }
    /* each partition, sorted */
    for (size_t p = 0; r == 0 && p < PARTS; p++) {
        if (b->part_n[p] == 0)
            continue;
        size_t n = (size_t)b->part_n[p];
        bk_imap_entry *v = malloc(n * sizeof(*v));
        size_t got = 0;
        if (!v)
            r = -ENOMEM;
        else if (lseek(b->part_fd[p], 0, SEEK_SET) < 0)
            r = -errno;
        else if ((r = bk_read_full(b->part_fd[p], v, n * sizeof(*v), &got)) == 0 &&
                 got != n * sizeof(*v))
            r = -EIO;
        if (r == 0) {
            qsort(v, n, sizeof(*v), entry_cmp);
            for (size_t i = 0; i < n; i++)
                fanout[((unsigned)v[i].id.b[0] << 8 | v[i].id.b[1]) + 1]++;
            r = out_write(&o, v, n * sizeof(*v));
        }
        free(v);
        close(b->part_fd[p]);
        b->part_fd[p] = -1;
        unlink(b->part_path[p]);
    }
    if (r == 0 && o.in_block > 0)
        r = out_block_end(&o);
    if (r == 0) {
        for (size_t i = 1; i <= FANOUT; i++)
            fanout[i] += fanout[i - 1];
        h.size = h.off_sums + o.nsums * SUM_LEN;
        r = bk_write_full(fd, o.sums, o.nsums * SUM_LEN);
    }
    if (r == 0 && (pwrite(fd, fanout, (FANOUT + 1) * sizeof(uint64_t), (off_t)h.off_fanout) !=
                   (ssize_t)((FANOUT + 1) * sizeof(uint64_t))))
        r = -EIO;
    /* the header's checksum is over what is written now: map it back to compute it */
    uint8_t *base = MAP_FAILED;
    if (r == 0 && pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        r = -EIO;
    if (r == 0 && (base = mmap(NULL, (size_t)h.size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        r = -errno;
    if (r == 0) {
        head_sum(base, &h, h.sum);
        munmap(base, (size_t)h.size);
        if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
            r = -EIO;
    }
    if (close(fd) < 0 && r == 0)
        r = -errno;
    bool opened = false;
    if (r == 0 && ret)
        opened = (r = bk_imap_open(tmp, ret)) == 0;
    if (r == 0 && rename(tmp, b->path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        if (opened)
            bk_imap_close(ret);
    }
    free(tmp);
    free(fanout);
    free(o.sums);
    return r;
}

void bk_imap_builder_free(bk_imap_builder *b)
{
    if (!b)
        return;
    for (size_t p = 0; p < PARTS; p++) {
        if (b->part_fd[p] >= 0)
            close(b->part_fd[p]);
        if (b->part_path[p])
            unlink(b->part_path[p]);
        free(b->part_path[p]);
        free(b->buf[p]);
    }
    if (b->packs_fd >= 0)
        close(b->packs_fd);
    if (b->packs_path)
        unlink(b->packs_path);
    free(b->packs_path);
    free(b->objects);
    free(b->path);
    free(b);
}
