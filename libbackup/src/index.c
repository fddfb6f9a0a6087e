/* index.c - blob index and index object encoding.
 * Index object plaintext: version (u8), uvarint count + ids of superseded index objects,
 * uvarint pack count, then per pack: id, uvarint blob count, per blob: kind (u8), uvarint
 * offset, uvarint stored length, uvarint raw length, blob id. */
#include "imap.h"
#include "index.h"

#define MAX_BLOBS_PER_PACK (1u << 24)

void bk_index_init(bk_index *idx)
{
    memset(idx, 0, sizeof(*idx));
    bk_idmap_init(&idx->blobs, sizeof(bk_index_entry));
    bk_idmap_init(&idx->packmap, sizeof(uint32_t));
    bk_idmap_init(&idx->objects, 0);
}

static void map_free(bk_imap *m)
{
    if (m) {
        bk_imap_close(m);
        free(m);
    }
}

void bk_index_free(bk_index *idx)
{
    bk_idmap_free(&idx->blobs);
    bk_idmap_free(&idx->packmap);
    bk_idmap_free(&idx->objects);
    free(idx->packs);
    map_free(idx->map);
    for (size_t i = 0; i < idx->nretired; i++)
        map_free(idx->retired[i]);
    free(idx->retired);
    free(idx->dead);
    bk_index_runs_free(idx);
    idx->packs = NULL;
    idx->npacks = idx->packs_cap = 0;
    idx->map = NULL;
    idx->retired = NULL;
    idx->nretired = 0;
    idx->dead = NULL;
    idx->base = 0;
}

void bk_index_set_map(bk_index *idx, bk_imap *map, uint8_t *dead)
{
    if (idx->map) {
        /* a scan may still be reading it (prune): unmapped at bk_index_free */
        bk_imap **v = realloc(idx->retired, (idx->nretired + 1) * sizeof(*v));
        if (v) {
            idx->retired = v;
            idx->retired[idx->nretired++] = idx->map;
        } else {
            map_free(idx->map);
        }
    }
    free(idx->dead);
    idx->map = map;
    idx->dead = dead;
    idx->base = map ? map->npacks : 0;
}

static bool dead_pack(const bk_index *idx, uint32_t no)
{
    return idx->dead && (idx->dead[no / 8] >> (no % 8) & 1);
}

/* The position of the first live entry for id in the map, and the entry: 0, -ENOENT,
 * -EBADMSG (damaged). */
static int map_pos(bk_index *idx, const bk_id *id, uint64_t *ret_pos, bk_imap_entry *ret)
{
    bk_imap *m = idx->map;
    uint64_t pos;
    bk_imap_entry e;
    int r = bk_imap_find(m, id, &pos, &e);
    for (uint64_t i = pos; r == 0; i++) {
        if (i > pos && (i >= m->n || (r = bk_imap_entry_at(m, i, &e)) < 0))
            break;
        if (memcmp(e.id.b, id->b, BK_ID_LEN) != 0)
            break;
        if (!dead_pack(idx, e.e.pack)) {
            /* the caller will want its pack's id: that part of the table is checked too */
            if (bk_imap_check_packs(m, e.e.pack, e.e.pack + 1) < 0)
                return -EBADMSG;
            *ret_pos = i;
            *ret = e;
            return 0;
        }
    }
    return r < 0 && r != -ENOENT ? -EBADMSG : -ENOENT;
}

/* map_pos, and once more if the map was damaged and could be made again. */
static int map_pos_retry(bk_index *idx, const bk_id *id, uint64_t *ret_pos, bk_imap_entry *ret)
{
    int r = map_pos(idx, id, ret_pos, ret);
    if (r == -EBADMSG && idx->remap && idx->remap(idx, idx->remap_ctx) == 0 && idx->map)
        r = map_pos(idx, id, ret_pos, ret);
    return r;
}

int bk_index_map_find(bk_index *idx, const bk_id *id, uint64_t *ret_pos, bk_index_entry *ret)
{
    if (!idx->map || bk_idmap_get(&idx->blobs, id) || bk_index_run_lookup(idx, id, 0, NULL))
        return -ENOENT;
    bk_imap_entry e;
    int r = map_pos_retry(idx, id, ret_pos, &e);
    if (r == 0 && ret)
        *ret = e.e;
    return r;
}

bool bk_index_lookup(bk_index *idx, const bk_id *id, bk_index_entry *ret)
{
    const bk_index_entry *e = bk_idmap_get(&idx->blobs, id);
    if (e) {
        *ret = *e;
        return true;
    }
    if (idx->nruns && bk_index_run_lookup(idx, id, 0, ret))
        return true;
    uint64_t pos;
    bk_imap_entry me;
    if (!idx->map || map_pos_retry(idx, id, &pos, &me) < 0)
        return false;   /* absent, or a damaged map that could not be made again */
    *ret = me.e;
    return true;
}

int bk_index_pack_id(bk_index *idx, uint32_t no, bk_id *ret)
{
    if (no >= idx->base) {
        if (no - idx->base >= idx->npacks)
            return -ENOENT;
        *ret = idx->packs[no - idx->base];
        return 0;
    }
    int r = bk_imap_pack_at(idx->map, no, ret);
    if (r == -EBADMSG && idx->remap && idx->remap(idx, idx->remap_ctx) == 0 && idx->map)
        r = bk_imap_pack_at(idx->map, no, ret);   /* the same pack numbers */
    return r;
}

uint64_t bk_index_npacks(const bk_index *idx)
{
    uint64_t n = idx->npacks;
    for (uint32_t i = 0; i < idx->base; i++)
        n += !dead_pack(idx, i);
    return n;
}

static int entry_and_pack_ok(bk_imap *m, uint64_t i)
{
    if (bk_imap_check_range(m, i, i + 1) < 0)
        return -EBADMSG;
    uint32_t no = m->entries[i].e.pack;
    return bk_imap_check_packs(m, no, no + 1);
}

int bk_index_map_check(bk_index *idx, uint64_t from, uint64_t to, bool packs)
{
    if (!idx->map)
        return 0;
    for (int attempt = 0;; attempt++) {
        bk_imap *m = idx->map;
        int r = bk_imap_check_range(m, from, BK_MIN(to, m->n));
        if (r == 0 && packs)
            r = bk_imap_check_packs(m, 0, m->npacks);
        if (r == 0 || attempt > 0 || !idx->remap || idx->remap(idx, idx->remap_ctx) < 0)
            return r;
    }
}

bool bk_index_next(bk_index *idx, uint64_t *pos, bk_id *ret_id, bk_index_entry *ret, int *ret_err)
{
    *ret_err = 0;
    /* the RAM part first (slot order), then the runs', then the map's entries: each id
     * once, live, and not in the RAM part (or a newer run) already */
    size_t p = (size_t)*pos;
    if (*pos < idx->blobs.cap) {
        const bk_id *id;
        void *v;
        if (bk_idmap_next(&idx->blobs, &p, &id, &v)) {
            *pos = p;
            *ret_id = *id;
            *ret = *(const bk_index_entry *)v;
            return true;
        }
        *pos = idx->blobs.cap;
    }
    /* then the runs, newest first: an id once, and not if a newer run or the RAM part has
     * it */
    uint64_t start = idx->blobs.cap;
    for (size_t k = idx->nruns; k-- > 0;) {
        bk_imap *run = idx->runs[k];
        if (*pos < start)
            *pos = start;
        for (uint64_t i = *pos - start; i < run->n; i++) {
            if (bk_imap_check_range(run, i, i + 1) < 0) {
                *ret_err = -EBADMSG;
                return false;
            }
            const bk_imap_entry *e = &run->entries[i];
            if ((i > 0 && memcmp(run->entries[i - 1].id.b, e->id.b, BK_ID_LEN) == 0) ||
                bk_idmap_get(&idx->blobs, &e->id) || bk_index_run_lookup(idx, &e->id, k + 1, NULL))
                continue;
            *pos = start + i + 1;
            *ret_id = e->id;
            *ret = e->e;
            return true;
        }
        start += run->n;
    }
    if (*pos < start)
        *pos = start;
    bk_imap *m = idx->map;
    for (uint64_t i = *pos - start; m && i < m->n; i++) {
        if ((i & 0x3ffff) == 0 && i)
            bk_imap_trim(m);   /* a scan need not keep what it has passed */
        if (entry_and_pack_ok(m, i) < 0) {
            /* made again, the map has the same entries in the same places: go on */
            if (!idx->remap || idx->remap(idx, idx->remap_ctx) < 0 || !(m = idx->map) ||
                entry_and_pack_ok(m, i) < 0) {
                *ret_err = -EBADMSG;
                return false;
            }
        }
        const bk_imap_entry *e = &m->entries[i];
        bool first = true;
        for (uint64_t k = i; k-- > 0 && memcmp(m->entries[k].id.b, e->id.b, BK_ID_LEN) == 0;)
            if (!dead_pack(idx, m->entries[k].e.pack))
                first = false;
        if (!first || dead_pack(idx, e->e.pack) || bk_idmap_get(&idx->blobs, &e->id) ||
            (idx->nruns && bk_index_run_lookup(idx, &e->id, 0, NULL)))
            continue;
        *pos = start + i + 1;
        *ret_id = e->id;
        *ret = e->e;
        return true;
    }
    return false;
}

uint64_t bk_index_count(bk_index *idx)
{
    if (!idx->map && !idx->nruns)
        return idx->blobs.count;
    uint64_t n = 0, pos = 0;
    bk_id id;
    bk_index_entry e;
    int err;
    while (bk_index_next(idx, &pos, &id, &e, &err))
        n++;
    return n;
}

int bk_index_add_pack(bk_index *idx, const bk_id *pack, uint32_t *ret_no)
{
    uint32_t *no;
    int r = bk_idmap_put(&idx->packmap, pack, (void **)&no);
    if (r < 0)
        return r;
    if (r == 0) {
        *ret_no = *no;
        return 0;
    }
    if (idx->base + idx->npacks >= UINT32_MAX)
        return -EOVERFLOW;
    if (idx->npacks == idx->packs_cap) {
        size_t cap = idx->packs_cap ? idx->packs_cap * 2 : 64;
        bk_id *p = realloc(idx->packs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;   /* the packmap entry stays, pointing at an unused number */
        idx->packs = p;
        idx->packs_cap = cap;
    }
    idx->packs[idx->npacks] = *pack;
    *no = idx->base + (uint32_t)idx->npacks;
    *ret_no = *no;
    idx->npacks++;
    return 0;
}

int bk_index_add(bk_index *idx, uint32_t packno, const bk_pack_entry *e)
{
    bk_index_entry *v;
    int r = bk_idmap_put(&idx->blobs, &e->id, (void **)&v);
    if (r <= 0)
        return r;
    v->pack = packno;
    v->offset = e->offset;
    v->stored_len = e->stored_len;
    v->raw_len = e->raw_len;
    v->kind = e->kind;
    return 0;
}


int bk_index_obj_encode(const bk_index_obj *o, bk_buf *out)
{
    int r = bk_buf_put_u8(out, BK_INDEX_VERSION);
    if (r == 0)
        r = bk_buf_put_uvarint(out, o->nsupersedes);
    for (size_t i = 0; r == 0 && i < o->nsupersedes; i++)
        r = bk_buf_append(out, o->supersedes[i].b, BK_ID_LEN);
    if (r == 0)
        r = bk_buf_put_uvarint(out, o->npacks);
    for (size_t i = 0; r == 0 && i < o->npacks; i++) {
        const bk_index_pack *p = &o->packs[i];
        r = bk_buf_append(out, p->id.b, BK_ID_LEN);
        if (r == 0)
            r = bk_buf_put_uvarint(out, p->n);
        for (size_t j = 0; r == 0 && j < p->n; j++) {
            const bk_pack_entry *e = &p->blobs[j];
            r = bk_buf_put_u8(out, e->kind);
            if (r == 0)
                r = bk_buf_put_uvarint(out, e->offset);
            if (r == 0)
                r = bk_buf_put_uvarint(out, e->stored_len);
            if (r == 0)
                r = bk_buf_put_uvarint(out, e->raw_len);
            if (r == 0)
                r = bk_buf_append(out, e->id.b, BK_ID_LEN);
        }
    }
    return r;
}

static int read_u32(bk_reader *rd, uint32_t *ret)
{
    uint64_t v;
    if (bk_read_uvarint(rd, &v) < 0 || v > UINT32_MAX)
        return -EBADMSG;
    *ret = (uint32_t)v;
    return 0;
}

static int read_id(bk_reader *rd, bk_id *ret)
{
    const uint8_t *p;
    if (bk_read_raw(rd, BK_ID_LEN, &p) < 0)
        return -EBADMSG;
    memcpy(ret->b, p, BK_ID_LEN);
    return 0;
}

int bk_index_obj_parse(const uint8_t *p, size_t n, const bk_index_visitor *v)
{
    bk_reader rd = bk_reader_make(p, n);
    uint8_t version;
    uint64_t count;
    if (bk_read_u8(&rd, &version) < 0)
        return -EBADMSG;
    if (version != BK_INDEX_VERSION)
        return -EPROTONOSUPPORT;
    if (bk_read_uvarint(&rd, &count) < 0 || count > rd.left / BK_ID_LEN)
        return -EBADMSG;
    for (uint64_t i = 0; i < count; i++) {
        bk_id id;
        if (read_id(&rd, &id) < 0)
            return -EBADMSG;
        int r = v->on_supersedes ? v->on_supersedes(&id, v->ctx) : 0;
        if (r < 0)
            return r;
    }
    uint64_t npacks;
    if (bk_read_uvarint(&rd, &npacks) < 0 || npacks > rd.left / (BK_ID_LEN + 1))
        return -EBADMSG;
    for (uint64_t i = 0; i < npacks; i++) {
        bk_id pack;
        uint64_t nblobs;
        if (read_id(&rd, &pack) < 0 || bk_read_uvarint(&rd, &nblobs) < 0 ||
            nblobs > MAX_BLOBS_PER_PACK || nblobs > rd.left / (BK_ID_LEN + 4))
            return -EBADMSG;
        int r = v->on_pack ? v->on_pack(&pack, (size_t)nblobs, v->ctx) : 0;
        if (r < 0)
            return r;
        for (uint64_t j = 0; j < nblobs; j++) {
            bk_pack_entry e;
            memset(&e, 0, sizeof(e));   /* its padding too: check writes entries to a file */
            if (bk_read_u8(&rd, &e.kind) < 0 || read_u32(&rd, &e.offset) < 0 ||
                read_u32(&rd, &e.stored_len) < 0 || read_u32(&rd, &e.raw_len) < 0 ||
                read_id(&rd, &e.id) < 0 || !bk_kind_is_blob(e.kind) ||
                e.stored_len < BK_SEAL_OVERHEAD || (uint64_t)e.offset + e.stored_len > UINT32_MAX)
                return -EBADMSG;
            r = v->on_blob ? v->on_blob(&e, v->ctx) : 0;
            if (r < 0)
                return r;
        }
    }
    return rd.left == 0 ? 0 : -EBADMSG;
}

static int dec_supersedes(const bk_id *id, void *ctx)
{
    bk_index_obj *o = ctx;
    bk_id *s = realloc(o->supersedes, (o->nsupersedes + 1) * sizeof(*s));
    if (!s)
        return -ENOMEM;
    s[o->nsupersedes++] = *id;
    o->supersedes = s;
    return 0;
}

static int dec_pack(const bk_id *pack, size_t nblobs, void *ctx)
{
    bk_index_obj *o = ctx;
    bk_index_pack *p = realloc(o->packs, (o->npacks + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    o->packs = p;
    p = &o->packs[o->npacks++];
    p->id = *pack;
    p->n = 0;
    p->blobs = malloc((nblobs ? nblobs : 1) * sizeof(*p->blobs));
    return p->blobs ? 0 : -ENOMEM;
}

static int dec_blob(const bk_pack_entry *e, void *ctx)
{
    bk_index_obj *o = ctx;
    bk_index_pack *p = &o->packs[o->npacks - 1];
    p->blobs[p->n++] = *e;
    return 0;
}

int bk_index_obj_decode(const uint8_t *p, size_t n, bk_index_obj *ret)
{
    memset(ret, 0, sizeof(*ret));
    bk_index_visitor v = { dec_supersedes, dec_pack, dec_blob, ret };
    int r = bk_index_obj_parse(p, n, &v);
    if (r < 0)
        bk_index_obj_free(ret);
    return r;
}

struct merge_ctx {
    bk_index *idx;
    uint32_t packno;
};

static int merge_pack(const bk_id *pack, size_t nblobs, void *ctx)
{
    struct merge_ctx *m = ctx;
    return bk_index_add_pack(m->idx, pack, &m->packno);
}

static int merge_blob(const bk_pack_entry *e, void *ctx)
{
    struct merge_ctx *m = ctx;
    return bk_index_add(m->idx, m->packno, e);
}

int bk_index_merge_plain(bk_index *idx, const uint8_t *p, size_t n)
{
    struct merge_ctx m = { idx, 0 };
    bk_index_visitor v = { NULL, merge_pack, merge_blob, &m };
    return bk_index_obj_parse(p, n, &v);
}

void bk_index_obj_free(bk_index_obj *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->npacks; i++)
        free(o->packs[i].blobs);
    free(o->packs);
    free(o->supersedes);
    memset(o, 0, sizeof(*o));
}
