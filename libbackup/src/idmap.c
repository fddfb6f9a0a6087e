/* idmap.c - linear probing; load factor at most 3/4.  Slot layout: id (32 bytes), value
 * (8-byte aligned), used flag. */
#include "idmap.h"

void bk_idmap_init(bk_idmap *m, size_t value_size)
{
    memset(m, 0, sizeof(*m));
    m->value_size = (value_size + 7) & ~(size_t)7;
    m->slot_size = BK_ID_LEN + m->value_size + 8;
}

void bk_idmap_free(bk_idmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static inline size_t home(const uint8_t *id, size_t cap)
{
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    return (size_t)h & (cap - 1);
}

static inline uint8_t *slot(const bk_idmap *m, size_t i)
{
    return m->slots + i * m->slot_size;
}

static inline bool used(const bk_idmap *m, const uint8_t *s)
{
    return s[BK_ID_LEN + m->value_size] != 0;
}

void *bk_idmap_get(const bk_idmap *m, const bk_id *id)
{
    if (m->count == 0)
        return NULL;
    for (size_t i = home(id->b, m->cap);; i = (i + 1) & (m->cap - 1)) {
        uint8_t *s = slot(m, i);
        if (!used(m, s))
            return NULL;
        if (memcmp(s, id->b, BK_ID_LEN) == 0)
            return s + BK_ID_LEN;
    }
}

static int grow(bk_idmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint8_t *ns = calloc(ncap, m->slot_size);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        uint8_t *s = slot(m, i);
        if (!used(m, s))
            continue;
        size_t j = home(s, ncap);
        while (ns[j * m->slot_size + BK_ID_LEN + m->value_size])
            j = (j + 1) & (ncap - 1);
        memcpy(ns + j * m->slot_size, s, m->slot_size);
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int bk_idmap_put(bk_idmap *m, const bk_id *id, void **ret_value)
{
    if ((m->count + 1) * 4 > m->cap * 3) {
        int r = grow(m);
        if (r < 0)
            return r;
    }
    for (size_t i = home(id->b, m->cap);; i = (i + 1) & (m->cap - 1)) {
        uint8_t *s = slot(m, i);
        if (!used(m, s)) {
            memcpy(s, id->b, BK_ID_LEN);
            memset(s + BK_ID_LEN, 0, m->value_size);
            s[BK_ID_LEN + m->value_size] = 1;
            m->count++;
            if (ret_value)
                *ret_value = s + BK_ID_LEN;
            return 1;
        }
        if (memcmp(s, id->b, BK_ID_LEN) == 0) {
            if (ret_value)
                *ret_value = s + BK_ID_LEN;
            return 0;
        }
    }
}

bool bk_idmap_remove(bk_idmap *m, const bk_id *id)
{
    if (m->count == 0)
        return false;
    size_t mask = m->cap - 1, i = home(id->b, m->cap);
    for (;; i = (i + 1) & mask) {
        uint8_t *s = slot(m, i);
        if (!used(m, s))
            return false;
        if (memcmp(s, id->b, BK_ID_LEN) == 0)
            break;
    }
    /* backward shift: an entry further along the run moves into the hole unless its home
     * lies cyclically in (hole, its slot], so that every entry stays reachable */
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        uint8_t *t = slot(m, j);
        if (!used(m, t))
            break;
        size_t h = home(t, m->cap);
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays)
            continue;
        memcpy(slot(m, i), t, m->slot_size);
        i = j;
    }
    slot(m, i)[BK_ID_LEN + m->value_size] = 0;
    m->count--;
    return true;
}

bool bk_idmap_next(const bk_idmap *m, size_t *pos, const bk_id **ret_id, void **ret_value)
{
    for (; *pos < m->cap; (*pos)++) {
        uint8_t *s = slot(m, *pos);
        if (used(m, s)) {
            (*pos)++;
            if (ret_id)
                *ret_id = (const bk_id *)s;
            if (ret_value)
                *ret_value = s + BK_ID_LEN;
            return true;
        }
    }
    return false;
}
