/* fuzz-tree.c - bk_tree_decode (and bk_clist_decode, for list blobs) on arbitrary bytes;
 * what decodes must encode again, and the re-encoding must be a fixed point
 * (decode(encode(t)) encodes to the same bytes). */
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void clist(const uint8_t *data, size_t size)
{
    bk_content *v = NULL, *w = NULL;
    size_t n = 0, m = 0;
    if (bk_clist_decode(data, size, 0, 0, &v, &n) == 0) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += v[i].len;
        bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
        if (bk_clist_encode(v, n, &a) < 0 || bk_clist_decode(a.data, a.len, bytes, (uint32_t)n, &w, &m) < 0 ||
            m != n || bk_clist_encode(w, m, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
            __builtin_trap();
        bk_buf_free(&a);
        bk_buf_free(&b);
    }
    free(v);
    free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == BK_CLIST_MAGIC) {
        clist(data, size);
        return 0;
    }
    bk_tree t, t2;
    if (bk_tree_decode(data, size, &t) < 0)
        return 0;
    bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
    if (bk_tree_encode(t.nodes, t.n, &a) < 0)
        __builtin_trap();   /* a decoded tree is always encodable */
    if (bk_tree_decode(a.data, a.len, &t2) < 0 || t2.n != t.n)
        __builtin_trap();
    if (bk_tree_encode(t2.nodes, t2.n, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
        __builtin_trap();
    for (size_t i = 0; i < t.n; i++)
        if (bk_tree_find(&t, t.nodes[i].name, t.nodes[i].name_len) != &t.nodes[i])
            __builtin_trap();
    bk_buf_free(&a);
    bk_buf_free(&b);
    bk_tree_free(&t2);
    bk_tree_free(&t);
    return 0;
}
