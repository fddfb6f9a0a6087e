/* pack.c - pack encoding and parsing. */
#include "pack.h"

static int add_entry(bk_packer *p, uint8_t kind, const bk_id *id, size_t len, uint32_t raw_len)
{
    if (p->data.len + len > UINT32_MAX)
        return -EFBIG;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        bk_pack_entry *e = realloc(p->entries, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        p->entries = e;
        p->cap = cap;
    }
    bk_pack_entry *e = &p->entries[p->n++];
    e->id = *id;
    e->kind = kind;
    e->offset = (uint32_t)p->data.len;
    e->stored_len = (uint32_t)len;
    e->raw_len = raw_len;
    return 0;
}

int bk_packer_reserve(bk_packer *p, uint8_t kind, const bk_id *id, size_t len, uint32_t raw_len,
                      uint8_t **ret_dst)
{
    int r = bk_buf_reserve(&p->data, len);
    if (r < 0)
        return r;
    r = add_entry(p, kind, id, len, raw_len);
    if (r < 0)
        return r;
    *ret_dst = p->data.data + p->data.len;
    p->data.len += len;
    return 0;
}

int bk_packer_add(bk_packer *p, uint8_t kind, const bk_id *id, const void *sealed, size_t len,
                  uint32_t raw_len)
{
    uint8_t *dst;
    int r = bk_packer_reserve(p, kind, id, len, raw_len, &dst);
    if (r == 0)
        memcpy(dst, sealed, len);
    return r;
}

int bk_packer_finish(bk_packer *p, const bk_keys *k, bk_id *ret_id)
{
    bk_buf hdr = BK_BUF_INIT;
    int r = bk_buf_reserve(&hdr, 5 + p->n * BK_PACK_ENTRY_SIZE);
    if (r < 0)
        return r;
    r = bk_buf_put_u8(&hdr, BK_PACK_HEADER_VERSION);
    if (r == 0)
        r = bk_buf_put_le32(&hdr, (uint32_t)p->n);
    for (size_t i = 0; r == 0 && i < p->n; i++) {
        const bk_pack_entry *e = &p->entries[i];
        r = bk_buf_put_u8(&hdr, e->kind);
        if (r == 0)
            r = bk_buf_put_le32(&hdr, e->stored_len);
        if (r == 0)
            r = bk_buf_put_le32(&hdr, e->raw_len);
        if (r == 0)
            r = bk_buf_append(&hdr, e->id.b, BK_ID_LEN);
    }
    size_t before = p->data.len;
    if (r == 0)
        r = bk_seal(k, BK_KIND_PACK_HEADER, NULL, BK_ENC_RAW, hdr.data, hdr.len, &p->data);
    if (r == 0)
        r = bk_buf_put_le32(&p->data, (uint32_t)(p->data.len - before));
    bk_buf_free(&hdr);
    if (r == 0)
        r = bk_obj_hash(k, p->data.data, p->data.len, ret_id);
    return r;
}

void bk_packer_reset(bk_packer *p)
{
    p->data.len = 0;
    p->n = 0;
}

void bk_packer_free(bk_packer *p)
{
    bk_buf_free(&p->data);
    free(p->entries);
    p->entries = NULL;
    p->n = p->cap = 0;
}

int bk_pack_header_decode(const uint8_t *plain, size_t n, uint64_t body_size, bk_pack_entry **ret,
                          size_t *ret_n)
{
    bk_reader rd = bk_reader_make(plain, n);
    uint8_t version;
    uint32_t count;
    bk_pack_entry *v = NULL;
    int r = -EBADMSG;
    if (bk_read_u8(&rd, &version) < 0 || version != BK_PACK_HEADER_VERSION ||
        bk_read_le32(&rd, &count) < 0 || (uint64_t)count * BK_PACK_ENTRY_SIZE != rd.left)
        goto out;
    v = malloc((count ? count : 1) * sizeof(*v));
    if (!v) {
        r = -ENOMEM;
        goto out;
    }
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *id;
        bk_read_u8(&rd, &v[i].kind);
        bk_read_le32(&rd, &v[i].stored_len);
        bk_read_le32(&rd, &v[i].raw_len);
        if (bk_read_raw(&rd, BK_ID_LEN, &id) < 0 || !bk_kind_is_blob(v[i].kind) ||
            v[i].stored_len < BK_SEAL_OVERHEAD)
            goto out;
        memcpy(v[i].id.b, id, BK_ID_LEN);
        v[i].offset = (uint32_t)off;
        off += v[i].stored_len;
        if (off > UINT32_MAX)
            goto out;
    }
    if (off != body_size)
        goto out;
    *ret = v;
    *ret_n = count;
    v = NULL;
    r = 0;
out:
    free(v);
    return r;
}

int bk_pack_parse_header(const bk_keys *k, const uint8_t *tail, size_t tail_len, uint64_t pack_size,
                         bk_pack_entry **ret, size_t *ret_n, size_t *ret_need)
{
    if (tail_len < 4 || tail_len > pack_size)
        return -EBADMSG;
    uint32_t hlen = bk_get_le32(tail + tail_len - 4);
    if (hlen < BK_SEAL_OVERHEAD + 5 || (uint64_t)hlen + 4 > pack_size)
        return -EBADMSG;
    if ((size_t)hlen + 4 > tail_len) {
        *ret_need = (size_t)hlen + 4;
        return -EAGAIN;
    }
    const uint8_t *box = tail + tail_len - 4 - hlen;
    uint8_t *plain = malloc(hlen);
    if (!plain)
        return -ENOMEM;
    uint8_t enc;
    size_t plen;
    int r = bk_unseal(k, BK_KIND_PACK_HEADER, NULL, box, hlen, plain, &enc, &plen);
    if (r < 0 || enc != BK_ENC_RAW)
        r = -EBADMSG;
    else
        r = bk_pack_header_decode(plain, plen, pack_size - hlen - 4, ret, ret_n);
    free(plain);
    return r;
}

int bk_pack_verify(const bk_keys *k, const uint8_t *pack, size_t len)
{
    bk_pack_entry *e;
    size_t n, need;
    int r = bk_pack_parse_header(k, pack, len, len, &e, &n, &need);
    if (r < 0)
        return r == -EAGAIN ? -EBADMSG : r;
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        maxlen = BK_MAX(maxlen, e[i].stored_len);
    uint8_t *tmp = malloc(maxlen ? maxlen : 1);
    if (!tmp) {
        free(e);
        return -ENOMEM;
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        uint8_t enc;
        size_t plen;
        if (bk_unseal(k, e[i].kind, &e[i].id, pack + e[i].offset, e[i].stored_len, tmp, &enc,
                      &plen) < 0 ||
            (enc == BK_ENC_RAW && plen != e[i].raw_len))
            r = -EBADMSG;
    }
    free(tmp);
    free(e);
    return r;
}
