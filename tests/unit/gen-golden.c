/* gen-golden.c - writes the golden vectors of tests/data (see tests/data/README.md).
 * Run once, by hand, when the format changes on purpose: gen-golden tests/data.  Built
 * with the unit tests so that it keeps compiling; ctest does not run it. */
#include <stdio.h>
#include <stdlib.h>

#include "chunker.h"
#include "compress.h"
#include "helpers.h"
#include "pack.h"
#include "util.h"

static const char *outdir;

static void die(const char *what, int r)
{
    fprintf(stderr, "gen-golden: %s: %s\n", what, strerror(r < 0 ? -r : r));
    exit(1);
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path, errno);
    printf("wrote %s (%zu bytes)\n", path, n);
}

static void gen_plain(void)
{
    bk_buf b = BK_BUF_INIT;
    bk_tree t;
    th_golden_tree(&t);
    int r = bk_tree_encode(t.nodes, t.n, &b);
    if (r < 0)
        die("tree", r);
    write_file("tree.bin", b.data, b.len);
    bk_tree_free(&t);
    bk_buf_free(&b);

    th_golden_tree_fflags(&t);
    if ((r = bk_tree_encode(t.nodes, t.n, &b)) < 0)
        die("tree-fflags", r);
    write_file("tree-fflags.bin", b.data, b.len);
    bk_tree_free(&t);
    bk_buf_free(&b);

    bk_index_obj o;
    th_golden_index(&o);
    if ((r = bk_index_obj_encode(&o, &b)) < 0)
        die("index", r);
    write_file("index.bin", b.data, b.len);
    bk_index_obj_free(&o);
    bk_buf_free(&b);

    bk_snapshot *s = th_golden_snapshot();
    if ((r = bk_snapshot_encode(s, &b)) < 0)
        die("snapshot", r);
    write_file("snapshot.json", b.data, b.len);
    bk_snapshot_free(s);
    bk_buf_free(&b);

    bk_config c;
    uint8_t *p;
    size_t n;
    th_golden_config(&c);
    if ((r = th_repo_config_plain(&c, &p, &n)) < 0)
        die("config", r);
    write_file("config.json", p, n);
    free(p);
}

static void gen_chunks(const char *name, size_t size, uint64_t seed, size_t min, size_t avg,
                       size_t max)
{
    uint8_t key[32];
    bk_chunker c;
    th_chunker_seed(key);
    int r = bk_chunker_init(&c, key, min, avg, max);
    if (r < 0)
        die("chunker", r);
    uint8_t *data = malloc(size);
    if (!data)
        die("chunker", -ENOMEM);
    th_fill(data, size, seed);
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    fprintf(f, "# chunk lengths: gen-golden, chunker seed th_chunker_seed(), min %zu avg %zu "
            "max %zu,\n# input th_fill(%zu bytes, seed %llu)\n", min, avg, max, size,
            (unsigned long long)seed);
    for (size_t off = 0; off < size;) {
        size_t cut = bk_chunker_cut(&c, data + off, size - off);
        fprintf(f, "%zu\n", cut);
        off += cut;
    }
    fclose(f);
    write_file(name, txt, len);
    free(txt);
    free(data);
}

static void gen_keys(void)
{
    bk_keys *k = th_golden_keys();
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    char hex[2 * BK_KEY_LEN + 1];
    fprintf(f, "# subkeys derived from the golden master key 000102..1f, and ids\n");
    bk_hex(k->aead, BK_KEY_LEN, hex);
    fprintf(f, "aead %s\n", hex);
    bk_hex(k->id, BK_KEY_LEN, hex);
    fprintf(f, "id %s\n", hex);
    bk_hex(k->gear, BK_KEY_LEN, hex);
    fprintf(f, "gear %s\n", hex);
    bk_id id;
    if (bk_blob_id(k, "hello", 5, &id) < 0)
        die("blob id", -ENOMEM);
    bk_id_hex(&id, hex);
    fprintf(f, "blob-id-hello %s\n", hex);
    bk_hash("hello", 5, &id);
    bk_id_hex(&id, hex);
    fprintf(f, "hash-hello %s\n", hex);
    fclose(f);
    write_file("keys.txt", txt, len);
    free(txt);
    bk_keys_free(k);
}

static void gen_pack(void)
{
    bk_keys *k = th_golden_keys();
    bk_zctx *z = bk_zctx_new(3);
    bk_packer pk = { 0 };
    for (size_t i = 0; i < TH_PACK_BLOBS; i++) {
        uint8_t *p, kind;
        size_t n;
        th_pack_blob(i, &p, &n, &kind);
        bk_id id;
        if (bk_blob_id(k, p, n, &id) < 0)
            die("blob id", -ENOMEM);
        /* as the writer does: zstd when it shrinks the blob, raw otherwise */
        size_t cap = bk_compress_bound(n);
        uint8_t *zb = malloc(cap);
        size_t zn = bk_compress(z, zb, cap, p, n);
        const uint8_t *payload = zn ? zb : p;
        size_t plen = zn ? zn : n;
        uint8_t *dst;
        int r = bk_packer_reserve(&pk, kind, &id, plen + BK_SEAL_OVERHEAD, (uint32_t)n, &dst);
        if (r < 0)
            die("pack", r);
        bk_seal_to(k, (bk_kind)kind, &id, zn ? BK_ENC_ZSTD : BK_ENC_RAW, payload, plen, dst);
        free(zb);
        free(p);
    }
    bk_id pid;
    int r = bk_packer_finish(&pk, k, &pid);
    if (r < 0)
        die("pack", r);
    write_file("pack.bin", pk.data.data, pk.data.len);
    bk_packer_free(&pk);
    bk_zctx_free(z);

    bk_buf slot = BK_BUF_INIT;
    bk_kdf_params kdf = { TH_GOLDEN_KDF_OPS, TH_GOLDEN_KDF_MEM };
    r = bk_keyslot_create(k, TH_GOLDEN_PASS, strlen(TH_GOLDEN_PASS), &kdf, "golden-host",
                          "golden-user", TH_GOLDEN_TIME, &slot);
    if (r < 0)
        die("key slot", r);
    write_file("keyslot.json", slot.data, slot.len);
    bk_buf_free(&slot);
    bk_keys_free(k);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen-golden DIR (normally tests/data)\n");
        return 2;
    }
    outdir = argv[1];
    if (bk_library_init() < 0)
        die("libsodium", -EIO);
    gen_plain();
    gen_chunks("chunker-small.txt", 4 << 20, 42, 16 << 10, 64 << 10, 256 << 10);
    gen_chunks("chunker-default.txt", 24 << 20, 43, BK_CHUNK_MIN_DEFAULT, BK_CHUNK_AVG_DEFAULT,
               BK_CHUNK_MAX_DEFAULT);
    gen_keys();
    gen_pack();
    return 0;
}
