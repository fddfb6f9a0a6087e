/* writer.c - the parallel blob writer.
 *
 * The caller (the archiver's thread) computes blob ids and checks for duplicates; only new
 * blobs are queued.  Workers compress, seal, and append to the open pack of the blob's
 * kind (data and tree blobs go to separate packs, so tree packs stay small and cacheable).
 * A worker that fills a pack finishes it (header, id), checks that it decodes, and stores
 * it, synchronously or through the backend's async put.  Completed packs are listed for
 * the next index object, which the caller's thread writes every FLUSH_PACKS packs and at
 * the end: packs before the index that names them, always. */
#include <pthread.h>

#include "util.h"
#include "snapsum.h"
#include "writer.h"

#define FLUSH_PACKS 64
#define FLUSH_BLOBS 100000

typedef struct job {
    uint8_t kind;
    bk_id id;
    uint8_t *data;
    size_t len;
} job;

typedef struct done_pack {
    bk_id id;
    bk_pack_entry *blobs;
    size_t n;
    uint64_t size;
} done_pack;

typedef struct pending_put {
    bk_writer *w;
    bk_packer pk;
    bk_id id;
} pending_put;

struct bk_writer {
    bk_repo *repo;
    bool dry_run;
    size_t pack_target;
    bk_idmap known;                 /* blobs added and not yet in an index object (caller's thread) */

    pthread_mutex_t mu;
    pthread_cond_t cond_work;       /* a job was queued or stop */
    pthread_cond_t cond_space;      /* queue space freed or a job finished */
    job *queue;
    size_t qcap, qhead, qlen;
    size_t qbytes, qbytes_max;
    size_t active;                  /* jobs taken by workers and not done */
    bool stop;
    int error;

    pthread_mutex_t pack_mu[2];     /* data, tree */
    bk_packer packs[2];

    /* completed uploads not yet in an index object (guarded by mu) */
    done_pack *done;
    size_t ndone, done_cap, done_blobs;
    size_t puts_inflight;

    bk_writer_stats stats;
    pthread_t *threads;
    int nthreads;
};

static void set_error(bk_writer *w, int r)
{
    pthread_mutex_lock(&w->mu);
    if (!w->error)
        w->error = r;
    pthread_cond_broadcast(&w->cond_space);
    pthread_mutex_unlock(&w->mu);
}

static int push_done(done_pack **v, size_t *n, size_t *cap, done_pack *d)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        done_pack *nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *d;
    return 0;
}

/* A pack reached the store: list it for the next index object (mu held by caller). */
static int pack_stored(bk_writer *w, const bk_id *id, bk_packer *pk)
{
    done_pack d = { *id, pk->entries, pk->n, pk->data.len };
    int r = push_done(&w->done, &w->ndone, &w->done_cap, &d);
    if (r < 0)
        return r;
    pk->entries = NULL;
    pk->n = pk->cap = 0;
    w->done_blobs += d.n;
    w->stats.packs++;
    w->stats.bytes_added += d.size;
    return 0;
}

static void put_done(int result, void *ctx)
{
    pending_put *pp = ctx;
    bk_writer *w = pp->w;
    char hex[BK_ID_HEX];
    bk_id_hex(&pp->id, hex);
    if (result < 0)
        bk_repo_error(w->repo, result, "cannot write data/%s: %s", hex, strerror(-result));
    pthread_mutex_lock(&w->mu);
    if (result == 0)
        result = pack_stored(w, &pp->id, &pp->pk);
    if (result < 0 && !w->error)
        w->error = result;
    w->puts_inflight--;
    pthread_cond_broadcast(&w->cond_space);
    pthread_mutex_unlock(&w->mu);
    bk_packer_free(&pp->pk);
    free(pp);
}

/* Finish a full pack and send it to the store.  Takes over pk's storage. */
static int store_pack(bk_writer *w, bk_packer *full)
{
    bk_repo *repo = w->repo;
    pending_put *pp = calloc(1, sizeof(*pp));
    if (!pp)
        return -ENOMEM;
    pp->w = w;
    pp->pk = *full;
    memset(full, 0, sizeof(*full));
    int r = bk_packer_finish(&pp->pk, repo->keys, &pp->id);
    char hex[BK_ID_HEX];
    bk_id_hex(&pp->id, hex);
    /* (a backup-only key cannot open what it sealed: only a full key's check can) */
    if (r == 0 && !repo->keys->backup_only &&
        bk_pack_verify(repo->keys, pp->pk.data.data, pp->pk.data.len) < 0)
        r = bk_repo_error(repo, -EIO, "pack %s does not decode after writing it in memory "
                          "(memory corruption?); not stored", hex);
    if (r < 0) {
        bk_packer_free(&pp->pk);
        free(pp);
        return r;
    }
    pthread_mutex_lock(&w->mu);
    w->puts_inflight++;
    pthread_mutex_unlock(&w->mu);
    if (w->dry_run) {
        put_done(0, pp);
        return 0;
    }
    bk_backend *be = repo->be;
    if (be->ops->put_async)
        return be->ops->put_async(be, BK_OBJ_DATA, hex, pp->pk.data.data, pp->pk.data.len,
                                  put_done, pp);
    r = be->ops->put(be, BK_OBJ_DATA, hex, pp->pk.data.data, pp->pk.data.len);
    put_done(r, pp);
    return r;
}

static int pack_index(uint8_t kind)
{
    return kind == BK_KIND_TREE ? 1 : 0;
}

/* Append a sealed blob to the open pack of its kind; store the pack when it is full. */
static int append_sealed(bk_writer *w, uint8_t kind, const bk_id *id, const uint8_t *sealed,
                         size_t len, uint32_t raw_len)
{
    int pi = pack_index(kind), r = 0;
    bk_packer full = { 0 };
    bool is_full = false;
    pthread_mutex_lock(&w->pack_mu[pi]);
    bk_packer *pk = &w->packs[pi];
    if (pk->data.cap == 0)
        r = bk_buf_reserve(&pk->data, w->pack_target + len + 4096);
    if (r == 0)
        r = bk_packer_add(pk, kind, id, sealed, len, raw_len);
    if (r == 0 && pk->data.len >= w->pack_target) {
        full = *pk;
        memset(pk, 0, sizeof(*pk));
        is_full = true;
    }
    pthread_mutex_unlock(&w->pack_mu[pi]);
    if (r == 0) {
        pthread_mutex_lock(&w->mu);
        w->stats.blobs_added++;
        w->stats.bytes_added_raw += raw_len;
        pthread_mutex_unlock(&w->mu);
    }
    if (r == 0 && is_full)
        r = store_pack(w, &full);
    return r;
}

int bk_writer_add_sealed(bk_writer *w, uint8_t kind, const bk_id *id, const void *sealed,
                         size_t len, uint32_t raw_len)
{
    int r = bk_idmap_put(&w->known, id, NULL);
    if (r <= 0)
        return r < 0 ? r : 1;
    pthread_mutex_lock(&w->mu);
    r = w->error;
    pthread_mutex_unlock(&w->mu);
    if (r == 0)
        r = append_sealed(w, kind, id, sealed, len, raw_len);
    if (r < 0)
        set_error(w, r);
    return r;
}

/* Compress a job's blob straight into the box it is sealed in, and seal it there (the
 * AEAD encrypts in place): one buffer per worker, no copy between them. */
static int process(bk_writer *w, bk_zctx *z, bk_buf *sealed, job *j)
{
    size_t cap = bk_compress_bound(j->len);
    const bk_keys *k = w->repo->keys;
    sealed->len = 0;
    int r = bk_buf_reserve(sealed, BK_MAX(cap, j->len) + bk_seal_overhead(k, 0));
    if (r < 0)
        return r;
    uint8_t *body = sealed->data + bk_seal_hdr(k, 0);
    size_t zn = bk_compress(z, body, cap, j->data, j->len);
    const uint8_t *payload = zn ? body : j->data;
    size_t plen = zn ? zn : j->len;
    bk_seal_to(k, (bk_kind)j->kind, &j->id, zn ? BK_ENC_ZSTD : BK_ENC_RAW, payload, plen,
               sealed->data);
    sealed->len = plen + bk_seal_overhead(k, 0);
    return append_sealed(w, j->kind, &j->id, sealed->data, sealed->len, (uint32_t)j->len);
}

static void *worker(void *arg)
{
    bk_writer *w = arg;
    bk_zctx *z = bk_zctx_new(w->repo->config.compression);
    bk_buf sealed = BK_BUF_INIT;
    if (!z)
        set_error(w, -ENOMEM);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->qlen == 0 && !w->stop)
            pthread_cond_wait(&w->cond_work, &w->mu);
        if (w->qlen == 0 && w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        job j = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qlen--;
        w->active++;
        bool skip = w->error != 0 || !z;
        pthread_mutex_unlock(&w->mu);

        int r = skip ? 0 : process(w, z, &sealed, &j);
        free(j.data);
        if (r < 0)
            set_error(w, r);
        pthread_mutex_lock(&w->mu);
        w->active--;
        w->qbytes -= j.len;
        pthread_cond_broadcast(&w->cond_space);
        pthread_mutex_unlock(&w->mu);
    }
    bk_buf_free(&sealed);
    bk_zctx_free(z);
    return NULL;
}

int bk_writer_new(bk_repo *repo, bool dry_run, bk_writer **ret)
{
    bk_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->repo = repo;
    w->dry_run = dry_run;
    w->pack_target = repo->config.pack_size;
    uint64_t maxobj = repo->be->ops->max_object_size(repo->be);
    if (maxobj && w->pack_target + repo->config.chunk_max + 65536 > maxobj)
        w->pack_target = (size_t)(maxobj > 2 * (uint64_t)repo->config.chunk_max
                                      ? maxobj - repo->config.chunk_max - 65536 : maxobj / 2);
    bk_idmap_init(&w->known, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->pack_mu[0], NULL);
    pthread_mutex_init(&w->pack_mu[1], NULL);
    pthread_cond_init(&w->cond_work, NULL);
    pthread_cond_init(&w->cond_space, NULL);
    w->nthreads = bk_repo_threads(repo);
    w->qcap = 4 * (size_t)w->nthreads + 16;
    w->qbytes_max = BK_MAX((size_t)8 << 20, 2 * (size_t)repo->config.chunk_max);
    w->queue = calloc(w->qcap, sizeof(job));
    w->threads = calloc((size_t)w->nthreads, sizeof(pthread_t));
    if (!w->queue || !w->threads) {
        bk_writer_free(w);
        return -ENOMEM;
    }
    int r = bk_repo_load_index(repo);
    if (r < 0) {
        bk_writer_free(w);
        return r;
    }
    for (int i = 0; i < w->nthreads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker, w) != 0) {
            w->nthreads = i;
            bk_writer_free(w);
            return -EAGAIN;
        }
    }
    *ret = w;
    return 0;
}

bool bk_writer_has(bk_writer *w, const bk_id *id)
{
    bk_index_entry e;
    return bk_index_lookup(&w->repo->index, id, &e) || bk_idmap_get(&w->known, id);
}

/* Write an index object for the packs stored so far (caller's thread). */
static int flush_index(bk_writer *w)
{
    pthread_mutex_lock(&w->mu);
    done_pack *v = w->done;
    size_t n = w->ndone;
    w->done = NULL;
    w->ndone = w->done_cap = w->done_blobs = 0;
    pthread_mutex_unlock(&w->mu);
    if (n == 0)
        return 0;
    int r = 0;
    if (!w->dry_run) {
        bk_index_obj o = { 0 };
        o.npacks = n;
        o.packs = calloc(n, sizeof(bk_index_pack));
        if (!o.packs)
            r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
            o.packs[i].id = v[i].id;
            o.packs[i].blobs = v[i].blobs;
            o.packs[i].n = v[i].n;
        }
        bk_buf b = BK_BUF_INIT;
        if (r == 0)
            r = bk_index_obj_encode(&o, &b);
        free(o.packs);
        bk_id id;
        if (r == 0)
            r = bk_repo_save_object(w->repo, BK_OBJ_INDEX, BK_KIND_INDEX, b.data, b.len, &id);
        size_t stored = b.len;   /* close enough: the index is compressed, this is its bound */
        bk_buf_free(&b);
        if (r == 0) {
            uint64_t size = stored;
            char hex[BK_ID_HEX];
            bk_id_hex(&id, hex);
            bk_be_stat(w->repo->be, BK_OBJ_INDEX, hex, &size);
            w->stats.bytes_added += size;
            w->stats.index_objects++;
            /* indexed now: the handle's index has it from here on (and knows the object, so
             * that a refresh does not read it again) */
            if (bk_idmap_put(&w->repo->index.objects, &id, NULL) < 0)
                r = -ENOMEM;
            for (size_t i = 0; r == 0 && i < n; i++) {
                uint32_t no;
                r = bk_index_add_pack(&w->repo->index, &v[i].id, &no);
                for (size_t j = 0; r == 0 && j < v[i].n; j++) {
                    r = bk_index_add(&w->repo->index, no, &v[i].blobs[j]);
                    /* the index answers for it from here: the writer's own set keeps
                     * only what is on its way, not every blob of the run */
                    bk_idmap_remove(&w->known, &v[i].blobs[j].id);
                }
            }
            size_t ram = w->repo->index.blobs.count;
            int rs = r == 0 ? bk_index_maybe_spill(&w->repo->index) : 0;
            if (rs == 0 && w->repo->index.blobs.count < ram)
                bk_repo_log(w->repo, BK_LOG_DEBUG, "index: %zu entries folded into a file (%zu %s)",
                            ram, w->repo->index.nruns, bk_plural(w->repo->index.nruns, "run", "runs"));
            if (rs < 0) {
                /* it still answers right; only RAM grows from here */
                bk_repo_log(w->repo, BK_LOG_WARNING, "cannot fold the index into a file in "
                            "%s: the rest of this run's additions stay in memory",
                            w->repo->index.run_dir);
                w->repo->index.spill_at = 0;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].blobs);
    free(v);
    return r;
}

int bk_writer_add(bk_writer *w, uint8_t kind, const bk_id *id, const void *p, size_t n)
{
    /* a backup-only key keeps its trees on the host: the next backup's parent (snapsum.h) */
    if (kind == BK_KIND_TREE && w->repo->keys->backup_only && !w->dry_run)
        bk_own_tree_put(w->repo, id, p, n);
    if (bk_writer_has(w, id))
        return 0;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p, n);
    int r = bk_idmap_put(&w->known, id, NULL);
    if (r < 0) {
        free(copy);
        return r;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->error && (w->qlen == w->qcap || (w->qbytes + n > w->qbytes_max && w->qbytes > 0)))
        pthread_cond_wait(&w->cond_space, &w->mu);
    r = w->error;
    if (r == 0) {
        job *j = &w->queue[(w->qhead + w->qlen) % w->qcap];
        j->kind = kind;
        j->id = *id;
        j->data = copy;
        j->len = n;
        w->qlen++;
        w->qbytes += n;
        pthread_cond_signal(&w->cond_work);
    }
    bool flush = w->ndone >= FLUSH_PACKS || w->done_blobs >= FLUSH_BLOBS;
    pthread_mutex_unlock(&w->mu);
    if (r < 0) {
        free(copy);
        return r;
    }
    if (flush) {
        r = flush_index(w);
        if (r < 0)
            return r;
    }
    return 1;
}

static void drain(bk_writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->qlen > 0 || w->active > 0)
        pthread_cond_wait(&w->cond_space, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static int wait_puts(bk_writer *w)
{
    bk_backend *be = w->repo->be;
    if (be->ops->flush && !w->dry_run) {
        int r = be->ops->flush(be);
        if (r < 0)
            set_error(w, r);
    }
    pthread_mutex_lock(&w->mu);
    while (w->puts_inflight > 0)
        pthread_cond_wait(&w->cond_space, &w->mu);
    int r = w->error;
    pthread_mutex_unlock(&w->mu);
    return r;
}

int bk_writer_finish(bk_writer *w)
{
    drain(w);
    int r = 0;
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&w->mu);
        r = w->error;
        pthread_mutex_unlock(&w->mu);
        if (r == 0 && w->packs[i].n > 0) {
            bk_packer full = w->packs[i];
            memset(&w->packs[i], 0, sizeof(w->packs[i]));
            r = store_pack(w, &full);
            if (r < 0)
                set_error(w, r);
        }
    }
    int rw = wait_puts(w);
    /* index what did reach the store, even after an error: the next run reuses it */
    int ri = flush_index(w);
    if (r == 0)
        r = rw;
    if (r == 0)
        r = ri;
    return r;
}

void bk_writer_stats_get(bk_writer *w, bk_writer_stats *ret)
{
    if (!w) {   /* a run that failed before it had a writer */
        memset(ret, 0, sizeof(*ret));
        return;
    }
    pthread_mutex_lock(&w->mu);
    *ret = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void bk_writer_free(bk_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    if (!w->error)
        w->error = -ECANCELED;   /* queued jobs are dropped */
    pthread_cond_broadcast(&w->cond_work);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    wait_puts(w);
    for (size_t i = 0; i < w->qlen; i++)
        free(w->queue[(w->qhead + i) % w->qcap].data);
    for (size_t i = 0; i < w->ndone; i++)
        free(w->done[i].blobs);
    free(w->done);
    bk_packer_free(&w->packs[0]);
    bk_packer_free(&w->packs[1]);
    bk_idmap_free(&w->known);
    free(w->queue);
    free(w->threads);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->pack_mu[0]);
    pthread_mutex_destroy(&w->pack_mu[1]);
    pthread_cond_destroy(&w->cond_work);
    pthread_cond_destroy(&w->cond_space);
    free(w);
}
