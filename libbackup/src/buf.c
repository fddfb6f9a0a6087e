/* buf.c - growable buffer and bounds-checked reader. */
#include "buf.h"

int bk_buf_reserve(bk_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int bk_buf_append(bk_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int r = bk_buf_reserve(b, n);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int bk_buf_put_u8(bk_buf *b, uint8_t v) { return bk_buf_append(b, &v, 1); }

int bk_buf_put_le32(bk_buf *b, uint32_t v)
{
    uint8_t t[4];
    bk_put_le32(t, v);
    return bk_buf_append(b, t, 4);
}

int bk_buf_put_le64(bk_buf *b, uint64_t v)
{
    uint8_t t[8];
    bk_put_le64(t, v);
    return bk_buf_append(b, t, 8);
}

int bk_buf_put_uvarint(bk_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    return bk_buf_append(b, t, n);
}

int bk_buf_put_svarint(bk_buf *b, int64_t v)
{
    /* zigzag, as protobuf: small magnitudes of either sign stay short */
    return bk_buf_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int bk_buf_put_bytes(bk_buf *b, const void *p, size_t n)
{
    int r = bk_buf_put_uvarint(b, n);
    return r < 0 ? r : bk_buf_append(b, p, n);
}

void bk_buf_free(bk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *bk_buf_detach(bk_buf *b, size_t *ret_len)
{
    uint8_t *p = b->data;
    if (ret_len)
        *ret_len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

static int fail(bk_reader *r)
{
    r->err = -EBADMSG;
    r->left = 0;
    return -EBADMSG;
}

int bk_read_raw(bk_reader *r, size_t n, const uint8_t **ret)
{
    if (r->err || r->left < n)
        return fail(r);
    *ret = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

int bk_read_u8(bk_reader *r, uint8_t *ret)
{
    const uint8_t *p;
    if (bk_read_raw(r, 1, &p) < 0)
        return -EBADMSG;
    *ret = p[0];
    return 0;
}

int bk_read_le32(bk_reader *r, uint32_t *ret)
{
    const uint8_t *p;
    if (bk_read_raw(r, 4, &p) < 0)
        return -EBADMSG;
    *ret = bk_get_le32(p);
    return 0;
}

int bk_read_le64(bk_reader *r, uint64_t *ret)
{
    const uint8_t *p;
    if (bk_read_raw(r, 8, &p) < 0)
        return -EBADMSG;
    *ret = bk_get_le64(p);
    return 0;
}

int bk_read_uvarint(bk_reader *r, uint64_t *ret)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t c;
        if (bk_read_u8(r, &c) < 0)
            return -EBADMSG;
        if (shift == 63 && c > 1)
            return fail(r);
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return fail(r);
}

int bk_read_svarint(bk_reader *r, int64_t *ret)
{
    uint64_t u;
    if (bk_read_uvarint(r, &u) < 0)
        return -EBADMSG;
    *ret = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int bk_read_len(bk_reader *r, size_t max, size_t *ret)
{
    uint64_t v;
    if (bk_read_uvarint(r, &v) < 0)
        return -EBADMSG;
    if (v > max || v > r->left)
        return fail(r);
    *ret = (size_t)v;
    return 0;
}

int bk_read_bytes(bk_reader *r, const uint8_t **ret, size_t *ret_len)
{
    size_t n;
    if (bk_read_len(r, SIZE_MAX, &n) < 0)
        return -EBADMSG;
    *ret_len = n;
    return bk_read_raw(r, n, ret);
}
