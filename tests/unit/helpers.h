/* helpers.h - shared by the unit tests and the golden vector generator: a stable
 * pseudo-random generator, the fixed structures the golden vectors encode, and access to
 * the files in tests/data. */
#ifndef BK_TEST_HELPERS_H
#define BK_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "index.h"
#include "repo.h"
#include "snapshot.h"
#include "tree.h"

/* The golden master key is the bytes 0x00..0x1f; the golden key slot's passphrase: */
#define TH_GOLDEN_PASS "correct horse battery staple"
#define TH_GOLDEN_KDF_OPS 1
#define TH_GOLDEN_KDF_MEM 8192
#define TH_GOLDEN_TIME 1764073811   /* 2025-11-25T12:30:11Z */

/* splitmix64: the pseudo-random stream behind every generated input, fixed forever
 * because golden vectors depend on it. */
uint64_t th_rand(uint64_t *state);
void th_fill(uint8_t *p, size_t n, uint64_t seed);
void th_id(bk_id *id, uint64_t seed);

void th_golden_master(uint8_t out[BK_KEY_LEN]);
bk_keys *th_golden_keys(void);   /* aborts the test program if it fails */
void th_chunker_seed(uint8_t out[32]);

/* Read tests/data/NAME; returns 0 or a negative errno. */
int th_read_data(const char *name, uint8_t **ret, size_t *ret_len);
/* Read a text file of decimal numbers (one per line, '#' starts a comment). */
int th_read_numbers(const char *name, uint64_t **ret, size_t *ret_n);

/* Fixed structures of the golden vectors.  Free with bk_tree_free, bk_index_obj_free,
 * bk_snapshot_free. */
void th_golden_tree(bk_tree *t);
void th_golden_tree_fflags(bk_tree *t);
void th_golden_index(bk_index_obj *o);
bk_snapshot *th_golden_snapshot(void);
void th_golden_config(bk_config *c);

/* The config document that bk_repo_init writes for c's parameters, with the repository's
 * random id replaced by c->id (made in a temporary local repository).  0 or -errno. */
int th_repo_config_plain(const bk_config *c, uint8_t **ret, size_t *ret_len);

/* The blobs of the golden pack: plaintext i (0 <= i < TH_PACK_BLOBS) and its kind. */
#define TH_PACK_BLOBS 3
void th_pack_blob(size_t i, uint8_t **ret, size_t *ret_len, uint8_t *ret_kind);

/* Deep comparisons (true when equal). */
bool th_node_equal(const bk_node *a, const bk_node *b);
bool th_tree_equal(const bk_tree *a, const bk_tree *b);
bool th_index_obj_equal(const bk_index_obj *a, const bk_index_obj *b);
bool th_snapshot_equal(const bk_snapshot *a, const bk_snapshot *b);

/* A new repository at loc for tests: no cache, the cheapest key derivation, two threads,
 * packs of pack_size bytes (0: the default).  Aborts the test program if it fails. */
bk_repo *th_new_repo(const char *loc, const char *pass, uint32_t pack_size);

/* A repository of th_new_repo at BASE/repo, BASE a new temporary directory.
 * th_repo_dir_free frees the repository and removes BASE. */
typedef struct th_repo_dir {
    char *base;
    char loc[4096];
    bk_repo *repo;
} th_repo_dir;
void th_repo_dir_new(th_repo_dir *d, const char *pass, uint32_t pack_size);
void th_repo_dir_free(th_repo_dir *d);

/* Store n data blobs in r through one bk_writer: gen(i, buf, ud), called for i = 0 .. n-1
 * in that order, writes blob i's plaintext (at most max bytes) to buf and returns its
 * length.  ids[i] gets blob i's id and ent[i] its index entry.  Aborts if it fails. */
typedef size_t th_blob_gen(size_t i, uint8_t *buf, void *ud);
void th_write_blobs(bk_repo *r, size_t n, size_t max, th_blob_gen *gen, void *ud,
                    bk_id *ids, bk_index_entry *ent);

/* The id (hex) of r's pack number pack (aborts if there is none), and the file of the
 * pack of that id in the local repository at loc. */
void th_pack_hex(bk_repo *r, uint32_t pack, char hex[BK_ID_HEX]);
void th_pack_path(const char *loc, const char *hex, char *out, size_t n);

/* A temporary directory (mkdtemp) and its recursive removal. */
char *th_tmpdir(void);
void th_rmrf(const char *path);

#endif
