/* fetcher.c - planned, parallel blob fetching.
 *
 * Planning assigns every distinct blob to the pack that holds it.  When planning is over,
 * each pack's blobs are sorted by offset and cut into segments, runs read with one request:
 * a run ends at a wide gap (RUN_GAP) and before it would read more than seg_stored bytes or
 * decode more than seg_raw (a larger blob is a segment of its own).  Segments are numbered
 * by their first use, and workers start them in that order.
 *
 * The window.  The frontier is the highest segment that the uses up to the consumer's next
 * one need.  A use is the first use of at most one segment, so the frontier moves up by at
 * most one per use, and no blob of a segment beyond it has had a use: what those segments
 * decoded is all still held.  A worker may start segment k if k <= frontier + 1, or if the
 * decoded bytes of the segments frontier + 1 .. k fit in the window.  The consumer never
 * waits for a segment that the window holds back: the blob it waits for is in a segment at
 * or below the frontier; segments start in order and one at or below the frontier (or just
 * above it) may always start; and the release that moves the frontier wakes the workers
 * that wait.  So the fetcher holds (decoded, or being decoded) at most
 *     max(window, one segment)              beyond the frontier
 *   + what segments at or below it still hold, not yet released:
 * when each blob is used once, in pack order, that is the segment being consumed; in
 * general also blobs kept for later uses (content used twice, packs used in turns).  Each
 * worker also has a read buffer of one segment's stored bytes. */
#include <pthread.h>
#include <time.h>

#include "fetcher.h"

#define RUN_GAP (256u << 10)            /* read across gaps smaller than this */
#define SEG_STORED ((uint64_t)2 << 20)   /* bytes read by one request, at most */
#define SEG_RAW ((uint64_t)2 << 20)      /* bytes decoded from one request, at most */

typedef struct blobinfo {
    uint32_t task;             /* the pack's task */
    uint32_t refs;             /* planned uses not yet released */
    uint64_t first_use;
    uint32_t offset, stored_len, raw_len;
    uint8_t kind;
    uint8_t state;             /* 0 waiting, 1 ready, 2 failed */
    bool charged;              /* raw_len is counted in held */
    int error;
    uint8_t *data;
} blobinfo;

typedef struct task {
    bk_id pack;
    bk_id *blobs;              /* sorted by offset once planning is over */
    size_t n, cap;
    bool started;
} task;

typedef struct segment {
    uint32_t task;
    uint32_t from, to;         /* its blobs: [from, to) of the task's */
    uint64_t first_use;
    uint64_t raw;              /* decoded bytes */
} segment;

struct bk_fetcher {
    bk_repo *repo;
    bk_idmap blobs;            /* id -> blobinfo */
    bk_idmap packtask;         /* pack id -> uint32 task number */
    task *tasks;
    size_t ntasks, tasks_cap;
    segment *segs;             /* by first use */
    uint64_t *cum;             /* cum[k]: decoded bytes of segments 0 .. k-1 */
    size_t nsegs;
    size_t nuses;

    pthread_mutex_t mu;
    pthread_cond_t ready;      /* a blob the consumer may wait for is there (or failed) */
    pthread_cond_t room;       /* a segment the window held back may start */
    int consumers_waiting;     /* consumers (the restore's writers) blocked in get */
    int workers_waiting;
    size_t next_seg;           /* next segment to start */
    size_t frontier;           /* the highest segment needed by uses up to the next one */
    size_t consumed;           /* uses released */
    uint64_t held;             /* decoded (or being decoded) bytes not yet freed */
    uint64_t window, seg_stored, seg_raw;
    bool stop;
    pthread_t *threads;
    int nthreads;
    bk_fetch_stats stats;
};

int bk_fetcher_new(bk_repo *repo, bk_fetcher **ret)
{
    int r = bk_repo_load_index(repo);
    if (r < 0)
        return r;
    bk_fetcher *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->repo = repo;
    bk_idmap_init(&f->blobs, sizeof(blobinfo));
    bk_idmap_init(&f->packtask, sizeof(uint32_t));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->ready, NULL);
    pthread_cond_init(&f->room, NULL);
    /* two segments per reader beyond the frontier: one being read, one waiting */
    f->window = 2 * (uint64_t)bk_repo_readers(repo) * SEG_RAW;
    f->seg_stored = SEG_STORED;
    f->seg_raw = SEG_RAW;
    *ret = f;
    return 0;
}

void bk_fetcher_set_limits(bk_fetcher *f, uint64_t window, uint64_t seg_stored, uint64_t seg_raw)
{
    f->window = window;
    f->seg_stored = seg_stored;
    f->seg_raw = seg_raw;
}

int bk_fetcher_plan_blob(bk_fetcher *f, const bk_id *id)
{
    blobinfo *bi;
    int r = bk_idmap_put(&f->blobs, id, (void **)&bi);
    if (r < 0)
        return r;
    if (r == 1) {
        bk_index_entry ent, *e = &ent;
        bk_id pack;
        if (!bk_index_lookup(&f->repo->index, id, e) ||
            bk_index_pack_id(&f->repo->index, e->pack, &pack) < 0) {
            char hex[BK_ID_HEX];
            bk_id_hex(id, hex);
            bi->state = 2;
            bi->error = -ENOENT;
            return bk_repo_error(f->repo, -ENOENT, "blob %s is not in the index: the "
                                 "repository is damaged (run arca check)", hex);
        }
        bi->offset = e->offset;
        bi->stored_len = e->stored_len;
        f->stats.bytes_planned += e->stored_len;
        bi->raw_len = e->raw_len;
        bi->kind = e->kind;
        bi->first_use = f->nuses;
        uint32_t *tno;
        r = bk_idmap_put(&f->packtask, &pack, (void **)&tno);
        if (r < 0)
            return r;
        if (r == 1) {
            if (f->ntasks == f->tasks_cap) {
                size_t cap = f->tasks_cap ? f->tasks_cap * 2 : 64;
                task *t = realloc(f->tasks, cap * sizeof(*t));
                if (!t)
                    return -ENOMEM;
                f->tasks = t;
                f->tasks_cap = cap;
            }
            memset(&f->tasks[f->ntasks], 0, sizeof(task));
            f->tasks[f->ntasks].pack = pack;
            *tno = (uint32_t)f->ntasks++;
        }
        task *t = &f->tasks[*tno];
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            bk_id *v = realloc(t->blobs, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            t->blobs = v;
            t->cap = cap;
        }
        t->blobs[t->n++] = *id;
        /* bi may have moved: look it up again */
        bi = bk_idmap_get(&f->blobs, id);
        bi->task = *tno;
    }
    if (bi->state == 2)
        return bi->error;
    bi->refs++;
    f->nuses++;
    return 0;
}

int bk_fetcher_plan(bk_fetcher *f, const bk_content *c, size_t n, const uint64_t *local)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].hole || (local && local[i] != BK_LOCAL_NONE))
            continue;
        int r = bk_fetcher_plan_blob(f, &c[i].id);
        if (r < 0)
            return r;
    }
    return 0;
}

static int by_offset(const void *a, const void *b, void *ctx)
{
    bk_fetcher *f = ctx;
    const blobinfo *x = bk_idmap_get(&f->blobs, a), *y = bk_idmap_get(&f->blobs, b);
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int by_first_use(const void *a, const void *b)
{
    const segment *x = a, *y = b;
    return x->first_use < y->first_use ? -1 : x->first_use > y->first_use;
}

static int push_segment(bk_fetcher *f, size_t *cap, const segment *s)
{
    if (f->nsegs == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        segment *v = realloc(f->segs, c * sizeof(*v));
        if (!v)
            return -ENOMEM;
        f->segs = v;
        *cap = c;
    }
    f->segs[f->nsegs++] = *s;
    return 0;
}

/* Cut every task into segments and number them by first use. */
static int make_segments(bk_fetcher *f)
{
    size_t cap = 0;
    for (size_t k = 0; k < f->ntasks; k++) {
        task *t = &f->tasks[k];
        if (t->n > 1)
            qsort_r(t->blobs, t->n, sizeof(bk_id), by_offset, f);
        for (size_t from = 0, to; from < t->n; from = to) {
            const blobinfo *first = bk_idmap_get(&f->blobs, &t->blobs[from]);
            uint64_t end = (uint64_t)first->offset + first->stored_len;
            segment s = { .task = (uint32_t)k, .from = (uint32_t)from,
                          .first_use = first->first_use, .raw = first->raw_len };
            for (to = from + 1; to < t->n; to++) {
                const blobinfo *next = bk_idmap_get(&f->blobs, &t->blobs[to]);
                uint64_t nend = (uint64_t)next->offset + next->stored_len;
                if ((uint64_t)next->offset > end + RUN_GAP || nend - first->offset > f->seg_stored ||
                    s.raw + next->raw_len > f->seg_raw)
                    break;
                end = nend;
                s.raw += next->raw_len;
                s.first_use = BK_MIN(s.first_use, next->first_use);
            }
            s.to = (uint32_t)to;
            if (push_segment(f, &cap, &s) < 0)
                return -ENOMEM;
        }
    }
    if (f->nsegs > 1)
        qsort(f->segs, f->nsegs, sizeof(segment), by_first_use);
    if (!(f->cum = malloc((f->nsegs + 1) * sizeof(*f->cum))))
        return -ENOMEM;
    f->cum[0] = 0;
    for (size_t k = 0; k < f->nsegs; k++)
        f->cum[k + 1] = f->cum[k] + f->segs[k].raw;
    return 0;
}

/* Decoded blobs of a run wait in a batch and are handed to the consumer together: one
 * lock and at most one wake-up per batch, not per blob (a pack of small files holds
 * thousands).  Small enough that the consumer never waits long for the first of them. */
#define BATCH_BLOBS 64
#define BATCH_BYTES (1u << 20)

typedef struct done_blob {
    const bk_id *id;
    uint8_t *data;
    int error;
} done_blob;

static void uncharge(bk_fetcher *f, blobinfo *bi)
{
    if (bi->charged) {
        f->held -= bi->raw_len;
        bi->charged = false;
    }
}

/* Publish a batch: under one lock, each blob becomes ready (or failed); one broadcast. */
static void publish(bk_fetcher *f, done_blob *b, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        blobinfo *bi = bk_idmap_get(&f->blobs, b[i].id);
        if (bi->refs == 0) {
            free(b[i].data);   /* skipped meanwhile */
            bi->state = 1;
            uncharge(f, bi);
        } else {
            bi->data = b[i].data;
            bi->state = b[i].error < 0 ? 2 : 1;
            bi->error = b[i].error;
            if (b[i].error < 0)
                uncharge(f, bi);
        }
    }
    if (f->consumers_waiting)
        pthread_cond_broadcast(&f->ready);
    pthread_mutex_unlock(&f->mu);
}

/* Fetch one segment, blobs [from, to) of a task, and decode them.  What a blob is
 * (offset, lengths, kind) does not change once planning is over, so it is read without
 * the lock; only state, data and refs are shared with the consumer. */
static int fetch_run(bk_fetcher *f, bk_zctx *z, task *t, size_t from, size_t to, bk_buf *buf)
{
    bk_repo *repo = f->repo;
    const blobinfo *first = bk_idmap_get(&f->blobs, &t->blobs[from]);
    const blobinfo *last = bk_idmap_get(&f->blobs, &t->blobs[to - 1]);
    uint64_t off = first->offset, end = (uint64_t)last->offset + last->stored_len;
    char pack[BK_ID_HEX];
    bk_id_hex(&t->pack, pack);
    buf->len = 0;
    int r = bk_be_get(repo->be, BK_OBJ_DATA, pack, off, (size_t)(end - off), buf);
    pthread_mutex_lock(&f->mu);
    f->stats.requests++;
    f->stats.bytes_fetched += r == 0 ? buf->len : 0;
    pthread_mutex_unlock(&f->mu);
    if (r < 0)
        return bk_repo_error(repo, r, "cannot read data/%s: %s", pack, strerror(-r));
    done_blob batch[BATCH_BLOBS];
    size_t nb = 0;
    uint64_t bytes = 0;
    for (size_t i = from; i < to; i++) {
        const blobinfo *info = bk_idmap_get(&f->blobs, &t->blobs[i]);
        uint8_t *data = malloc(info->raw_len ? info->raw_len : 1);
        int e = data ? 0 : -ENOMEM;
        if (e == 0)
            e = bk_blob_decode(repo->keys, z, info->kind, &t->blobs[i],
                               buf->data + (info->offset - off), info->stored_len, data,
                               info->raw_len);
        if (e < 0) {
            char hex[BK_ID_HEX];
            bk_id_hex(&t->blobs[i], hex);
            bk_repo_error(repo, e, "blob %s in data/%s is corrupt", hex, pack);
            free(data);
            data = NULL;
        }
        batch[nb++] = (done_blob){ &t->blobs[i], data, e };
        bytes += info->raw_len;
        if (nb == BATCH_BLOBS || bytes >= BATCH_BYTES || i + 1 == to) {
            publish(f, batch, nb);
            nb = 0;
            bytes = 0;
        }
    }
    return 0;
}

static void fail_run(bk_fetcher *f, task *t, size_t from, size_t to, int err)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = from; i < to; i++) {
        blobinfo *bi = bk_idmap_get(&f->blobs, &t->blobs[i]);
        bi->state = 2;
        bi->error = err;
        uncharge(f, bi);
    }
    pthread_cond_broadcast(&f->ready);
    pthread_mutex_unlock(&f->mu);
}

static bool may_start(bk_fetcher *f, size_t k)
{
    if (f->consumed >= f->nuses || k <= f->frontier + 1)
        return true;
    return f->cum[k + 1] - f->cum[f->frontier + 1] <= f->window;
}

static void *worker(void *arg)
{
    bk_fetcher *f = arg;
    bk_zctx *z = bk_zctx_new(0);
    bk_buf buf = BK_BUF_INIT;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (!f->stop && f->next_seg < f->nsegs && !may_start(f, f->next_seg)) {
            f->workers_waiting++;
            pthread_cond_wait(&f->room, &f->mu);
            f->workers_waiting--;
        }
        if (f->stop || f->next_seg >= f->nsegs) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        const segment *s = &f->segs[f->next_seg++];
        task *t = &f->tasks[s->task];
        f->stats.packs += !t->started;
        t->started = true;
        for (size_t i = s->from; i < s->to; i++)
            ((blobinfo *)bk_idmap_get(&f->blobs, &t->blobs[i]))->charged = true;
        f->held += s->raw;
        f->stats.held_max = BK_MAX(f->stats.held_max, f->held);
        pthread_mutex_unlock(&f->mu);

        int r = z ? fetch_run(f, z, t, s->from, s->to, &buf) : -ENOMEM;
        if (r < 0)
            fail_run(f, t, s->from, s->to, r);
    }
    bk_buf_free(&buf);
    bk_zctx_free(z);
    return NULL;
}

int bk_fetcher_start(bk_fetcher *f)
{
    /* the idmap must not grow while workers read it: planning is over */
    int r = make_segments(f);
    if (r < 0)
        return r;
    f->nthreads = bk_repo_readers(f->repo);
    f->threads = calloc((size_t)f->nthreads, sizeof(pthread_t));
    if (!f->threads)
        return -ENOMEM;
    for (int i = 0; i < f->nthreads; i++)
        if (pthread_create(&f->threads[i], NULL, worker, f) != 0) {
            f->nthreads = i;
            return -EAGAIN;
        }
    return 0;
}

int bk_fetcher_get(bk_fetcher *f, const bk_id *id, const uint8_t **ret, size_t *ret_len)
{
    pthread_mutex_lock(&f->mu);
    blobinfo *bi = bk_idmap_get(&f->blobs, id);
    if (!bi) {
        pthread_mutex_unlock(&f->mu);
        return -ENOENT;
    }
    int r = 0;
    while (bi->state == 0 && r == 0) {
        /* wake now and then to notice an interruption: a pack may take long to come */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        f->consumers_waiting++;
        pthread_cond_timedwait(&f->ready, &f->mu, &until);
        f->consumers_waiting--;
        if (bi->state == 0 && bk_interrupted())
            r = -EINTR;
    }
    if (r == 0)
        r = bk_interrupted() ? -EINTR : bi->state == 2 ? bi->error : 0;
    if (r == -EINTR) {
        pthread_mutex_unlock(&f->mu);
        *ret = NULL;
        *ret_len = 0;
        return bk_repo_check_interrupt(f->repo);
    }
    *ret = bi->data;
    *ret_len = bi->raw_len;
    pthread_mutex_unlock(&f->mu);
    return r;
}

void bk_fetcher_release(bk_fetcher *f, const bk_id *id)
{
    uint8_t *gone = NULL;
    pthread_mutex_lock(&f->mu);
    blobinfo *bi = bk_idmap_get(&f->blobs, id);
    if (bi && bi->refs > 0 && --bi->refs == 0 && bi->state == 1) {
        gone = bi->data;   /* freed outside the lock: the workers need it meanwhile */
        bi->data = NULL;
        uncharge(f, bi);
    }
    f->consumed++;
    size_t was = f->frontier;
    while (f->frontier + 1 < f->nsegs && f->segs[f->frontier + 1].first_use <= f->consumed)
        f->frontier++;
    /* wake the workers only when the window lets the next segment start */
    if (f->workers_waiting && (f->frontier != was || f->consumed >= f->nuses) &&
        f->next_seg < f->nsegs && may_start(f, f->next_seg))
        pthread_cond_broadcast(&f->room);
    pthread_mutex_unlock(&f->mu);
    free(gone);
}

void bk_fetcher_skip(bk_fetcher *f, const bk_content *c, size_t n, size_t from,
                     const uint64_t *local)
{
    for (size_t i = from; i < n; i++)
        if (!c[i].hole && !(local && local[i] != BK_LOCAL_NONE))
            bk_fetcher_release(f, &c[i].id);
}

void bk_fetcher_stats_get(bk_fetcher *f, bk_fetch_stats *ret)
{
    pthread_mutex_lock(&f->mu);
    f->stats.held = f->held;
    *ret = f->stats;
    pthread_mutex_unlock(&f->mu);
}

void bk_fetcher_free(bk_fetcher *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->room);
    pthread_cond_broadcast(&f->ready);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    free(f->threads);
    size_t pos = 0;
    void *v;
    while (bk_idmap_next(&f->blobs, &pos, NULL, &v))
        free(((blobinfo *)v)->data);
    bk_idmap_free(&f->blobs);
    bk_idmap_free(&f->packtask);
    for (size_t i = 0; i < f->ntasks; i++)
        free(f->tasks[i].blobs);
    free(f->tasks);
    free(f->segs);
    free(f->cum);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->ready);
    pthread_cond_destroy(&f->room);
    free(f);
}
