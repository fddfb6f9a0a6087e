/* reuse.c - find a snapshot file's chunks in the old local version of that file. */
#include <unistd.h>

#include "fetcher.h"
#include "idmap.h"
#include "reuse.h"
#include "util.h"

int bk_reuse_scan(const bk_chunker *ch, const bk_keys *k, int fd, const bk_node *n,
                  uint64_t *ret_local, uint64_t *ret_bytes)
{
    *ret_bytes = 0;
    for (size_t i = 0; i < n->ncontent; i++)
        ret_local[i] = BK_LOCAL_NONE;
    /* wanted ids -> 1 + local offset (0: not found yet) */
    bk_idmap want;
    bk_idmap_init(&want, sizeof(uint64_t));
    size_t nwant = 0;
    int r = 0;
    for (size_t i = 0; r >= 0 && i < n->ncontent; i++) {
        void *v;
        if (!n->content[i].hole && (r = bk_idmap_put(&want, &n->content[i].id, &v)) == 1)
            nwant++;
    }
    size_t cap = 2 * ch->max;
    uint8_t *buf = r < 0 || nwant == 0 ? NULL : malloc(cap);
    if (r >= 0 && nwant > 0 && !buf)
        r = -ENOMEM;
    size_t start = 0, end = 0, found = 0;
    uint64_t pos = 0;             /* file offset of buf[start] */
    bool eof = buf == NULL;
    r = r < 0 ? r : 0;
    while (r == 0 && found < nwant && (!eof || start < end)) {
        if (!eof && end - start < ch->max) {
            if (start > 0) {
                memmove(buf, buf + start, end - start);
                end -= start;
                start = 0;
            }
            ssize_t got = read(fd, buf + end, cap - end);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                r = -errno;
            else if (got == 0)
                eof = true;
            else
                end += (size_t)got;
            continue;
        }
        size_t cut = bk_chunker_cut(ch, buf + start, end - start);
        bk_id id;
        if ((r = bk_blob_id(k, buf + start, cut, &id)) < 0)
            break;
        uint64_t *at = bk_idmap_get(&want, &id);
        if (at && *at == 0) {
            *at = pos + 1;
            found++;
        }
        start += cut;
        pos += cut;
    }
    for (size_t i = 0; i < n->ncontent; i++) {
        const uint64_t *at = n->content[i].hole ? NULL : bk_idmap_get(&want, &n->content[i].id);
        if (at && *at) {
            ret_local[i] = *at - 1;
            *ret_bytes += n->content[i].len;
        }
    }
    free(buf);
    bk_idmap_free(&want);
    return r;
}

int bk_reuse_read(const bk_keys *k, int fd, uint64_t off, uint8_t *buf, size_t len, const bk_id *id)
{
    size_t got;
    int r = bk_pread_full(fd, buf, len, off, &got);
    if (r < 0)
        return r;
    if (got < len)
        return -EBADMSG;   /* the file shrank */
    bk_id h;
    if ((r = bk_blob_id(k, buf, len, &h)) < 0)
        return r;
    return memcmp(h.b, id->b, sizeof(h.b)) == 0 ? 0 : -EBADMSG;
}
