/* gen-index.c - for tests/bench/scale.sh only: adds NBLOBS made-up blobs to the index of a
 * repository, as index objects written the way a backup with the default chunker writes
 * them (1 MiB blobs, 16 to a 16 MiB pack, 64 packs per object), listing packs that do
 * not exist.  It lets the bench measure the commands that consult the index at 10^8
 * blobs without storing petabytes.  With NSNAPSHOTS, as many copies of the newest
 * snapshot follow, each of another host ("gen-host-N") and older, for the cost of many
 * snapshots.  Never point it at a repository that matters: check and prune of it find
 * the packs missing.
 *
 *   ARCA_PASSWORD_FILE=FILE gen-index REPOSITORY NBLOBS [NSNAPSHOTS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "index.h"
#include "repo.h"
#include "snapshot.h"

#define BLOBS_PER_PACK 16
#define PACKS_PER_OBJECT 64

static int read_pass(char *buf, size_t cap, size_t *ret_len)
{
    const char *file = getenv("ARCA_PASSWORD_FILE");
    if (!file)
        return -EINVAL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    *ret_len = (size_t)n;
    return 0;
}

static int write_object(bk_repo *repo, uint64_t *left)
{
    bk_index_pack packs[PACKS_PER_OBJECT];
    size_t npacks = 0;
    int r = 0;
    while (r == 0 && npacks < PACKS_PER_OBJECT && *left > 0) {
        bk_index_pack *p = &packs[npacks];
        p->n = *left < BLOBS_PER_PACK ? (size_t)*left : BLOBS_PER_PACK;
        p->blobs = calloc(p->n, sizeof(*p->blobs));
        if (!p->blobs) {
            r = -ENOMEM;
            break;
        }
        randombytes_buf(p->id.b, sizeof(p->id.b));
        uint32_t off = 0;
        for (size_t i = 0; i < p->n; i++) {
            bk_pack_entry *e = &p->blobs[i];
            randombytes_buf(e->id.b, sizeof(e->id.b));
            e->kind = BK_KIND_DATA;
            e->raw_len = 1u << 20;
            e->stored_len = (1u << 20) + 40;
            e->offset = off;
            off += e->stored_len;
        }
        *left -= p->n;
        npacks++;
    }
    bk_index_obj o = { NULL, 0, packs, npacks };
    bk_buf b = BK_BUF_INIT;
    if (r == 0)
        r = bk_index_obj_encode(&o, &b);
    if (r == 0)
        r = bk_repo_save_object(repo, BK_OBJ_INDEX, BK_KIND_INDEX, b.data, b.len, NULL);
    bk_buf_free(&b);
    for (size_t i = 0; i < npacks; i++)
        free(packs[i].blobs);
    return r;
}

static int copy_snapshots(bk_repo *repo, uint64_t n)
{
    bk_snapshot **v;
    size_t nv;
    int r = bk_snapshots_list(repo, NULL, &v, &nv);
    if (r < 0)
        return r;
    if (nv == 0 && n > 0)
        r = bk_repo_error(repo, -ENOENT, "no snapshot to copy");
    bk_snapshot *s = NULL;
    if (r == 0 && n > 0)
        r = bk_snapshot_dup(v[nv - 1], &s);
    char *host0 = s ? s->host : NULL;
    int64_t time0 = s ? s->time : 0;
    for (uint64_t i = 0; r == 0 && i < n; i++) {
        char host[64];
        snprintf(host, sizeof(host), "gen-host-%llu", (unsigned long long)i);
        s->host = host;
        s->time = time0 - 60 - (int64_t)i * 60;
        r = bk_repo_save_snapshot(repo, s);
    }
    if (s) {
        s->host = host0;
        bk_snapshot_free(s);
    }
    bk_snapshots_free(v, nv);
    return r;
}

static int number(const char *what, const char *arg, uint64_t *ret)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (errno || *end || end == arg || *arg == '-') {
        fprintf(stderr, "gen-index: %s: expected a number, got '%s'\n", what, arg);
        return -EINVAL;
    }
    *ret = n;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: ARCA_PASSWORD_FILE=FILE gen-index REPOSITORY NBLOBS [NSNAPSHOTS]\n");
        return 2;
    }
    uint64_t n, nsnap = 0;
    if (number("NBLOBS", argv[2], &n) < 0 || (argc == 4 && number("NSNAPSHOTS", argv[3], &nsnap) < 0))
        return 2;
    if (sodium_init() < 0)
        return 1;
    char pass[1024];
    size_t passlen = 0;
    int r = read_pass(pass, sizeof(pass), &passlen);
    if (r < 0) {
        fprintf(stderr, "gen-index: ARCA_PASSWORD_FILE: %s\n", strerror(-r));
        return 2;
    }
    bk_repo *repo = bk_repo_new();
    if (!repo)
        return 1;
    r = bk_repo_open(repo, argv[1], pass, passlen);
    sodium_memzero(pass, sizeof(pass));
    uint64_t left = n;
    while (r == 0 && left > 0)
        r = write_object(repo, &left);
    if (r == 0 && nsnap > 0)
        r = copy_snapshots(repo, nsnap);
    if (r < 0)
        fprintf(stderr, "gen-index: %s: %s\n", argv[1],
                bk_repo_errmsg(repo) ? bk_repo_errmsg(repo) : strerror(-r));
    bk_repo_free(repo);
    return r < 0 ? 1 : 0;
}
