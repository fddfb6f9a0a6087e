/* restwrite.c - the restore's writers: the content of files written by several threads.
 *
 * The restorer's thread walks the plan and begins each file (its temporary file, made in
 * its directory's fd by place.c).  The file's content is cut into pieces of at most
 * PIECE_BYTES, queued in plan order, and writer threads take the pieces in that order:
 * each gets its blobs from the fetcher (or from the file's old version) and pwrites them
 * at their offsets, so small files are written side by side and a large one by several
 * writers at once, out of order.  The writer that finishes a file's last piece gives it
 * its size and, with --verify, reads it back.  Files are committed (metadata, and the
 * rename over the final name of those made under a temporary one) on the restorer's
 * thread, in plan order, while their directory is the current one: before the plan moves
 * on to a directory, a hard link or another directory's entries, every queued file is
 * committed (bk_rw_must_drain), so a directory still gets its metadata after everything
 * that goes into it, and every safety property of place.c holds as it did with one
 * writer.  A file that fails is reported at its commit, in plan order, and its temporary
 * file removed; the final name keeps what it had.
 *
 * The fetcher hands blobs out in plan order and lets its workers run only a window ahead
 * of what has been consumed.  The writers stay close to that order: pieces are taken in
 * order, the oldest piece not finished is always in a writer's hands, and the blobs it
 * waits for are at or before the consumed count's frontier, which the fetcher never holds
 * back; later pieces wait for later blobs without holding up earlier ones.
 *
 * Sizes are set, not preallocated with fallocate: a fresh file reads as zeros where
 * nothing was written, so blocks of zeros are skipped and stay holes, which an allocation
 * up front would fill. */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restwrite.h"
#include "reuse.h"
#include "util.h"

#define PIECE_BYTES (8u << 20)
#define MAX_FILES 256          /* begun and not committed */
#define MAX_PIECES 512         /* queued and not taken */
#define WAKE_PIECES 8          /* small pieces queued before the writers are woken */
#define WAKE_BYTES (1u << 20)  /* a piece this big wakes them at once */

typedef struct rfile {
    bk_plan_entry *pe;
    bk_place_file pf;
    int oldfd;
    size_t pieces, done;       /* guarded by mu */
    bool complete;             /* every piece done, the size set and verified */
    int fail;                  /* 0; 1: not restored (code, msg); read by writers atomically */
    int code;
    char msg[1100];
    uint64_t end;              /* highest offset written, over the pieces (mu) */
    uint64_t written, reused;
} rfile;

typedef struct piece {
    rfile *f;
    size_t from, to;           /* content indices */
    uint64_t off;              /* file offset of content[from] */
} piece;

struct bk_rwriters {
    bk_rw_opts o;
    pthread_mutex_t mu;
    pthread_mutex_t load_mu;   /* the repository handle's blob loading (one zstd context) */
    pthread_cond_t work;       /* a piece was queued, or stop */
    pthread_cond_t changed;    /* a piece was taken or a file completed, or fatal */
    rfile *files[MAX_FILES];   /* ring: begun, in plan order */
    size_t fhead, flen;
    piece pieces[MAX_PIECES];  /* ring: not taken yet */
    size_t phead, plen;
    bool stop;
    int fatal;
    pthread_t th[64];
    int nth;
};

typedef struct wbuf {
    uint8_t *p;
    size_t cap;
} wbuf;

static int grow(wbuf *b, size_t len)
{
    if (b->cap >= len)
        return 0;
    uint8_t *n = realloc(b->p, len);
    if (!n)
        return -ENOMEM;
    b->p = n;
    b->cap = len;
    return 0;
}

static void fail_file(bk_rwriters *w, rfile *f, int code, const char *fmt, const char *why)
{
    pthread_mutex_lock(&w->mu);
    if (!f->fail) {
        f->code = code;
        snprintf(f->msg, sizeof(f->msg), fmt, why);
        __atomic_store_n(&f->fail, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&w->mu);
}

static bool failed(const rfile *f)
{
    return __atomic_load_n(&f->fail, __ATOMIC_ACQUIRE) != 0;
}

/* One chunk of a reused file: from the old local version if it still holds it, else from
 * the repository (the file changed since it was scanned).  *ret_free: to free after use. */
static int local_chunk(bk_rwriters *w, wbuf *b, rfile *f, size_t i, const uint8_t **ret,
                       uint8_t **ret_free, uint64_t *reused)
{
    const bk_content *c = &f->pe->node.content[i];
    bk_repo *repo = w->o.repo;
    *ret_free = NULL;
    if (grow(b, c->len) < 0)
        return -ENOMEM;
    if (f->oldfd >= 0 && bk_reuse_read(repo->keys, f->oldfd, f->pe->local[i], b->p, c->len,
                                       &c->id) == 0) {
        *reused += c->len;
        *ret = b->p;
        return 0;
    }
    size_t len;
    uint8_t *p;
    pthread_mutex_lock(&w->load_mu);
    int r = bk_repo_load_blob(repo, BK_KIND_DATA, &c->id, &p, &len);
    pthread_mutex_unlock(&w->load_mu);
    if (r < 0)
        return r;
    if (len != c->len) {
        free(p);
        return bk_repo_error(repo, -EBADMSG, "blob length differs from the tree's");
    }
    *ret = *ret_free = p;
    return 0;
}

/* The chunks of piece pc into the file.  0: written (or skipped: the file failed);
 * < 0: fatal (-ENOMEM, -EINTR).  Every planned use of the piece is released. */
static int write_piece(bk_rwriters *w, wbuf *b, const piece *pc, uint64_t *end)
{
    rfile *f = pc->f;
    const bk_plan_entry *pe = f->pe;
    const bk_node *n = &pe->node;
    bk_fetcher *fe = w->o.fetcher;
    bk_place_file pf = f->pf;   /* a copy: its own highest offset written (f->pf is only
                                 * written when the last piece is done) */
    uint64_t off = pc->off, written = 0, reused = 0;
    int r = 0;
    size_t i;
    for (i = pc->from; i < pc->to && !failed(f) && !__atomic_load_n(&w->fatal, __ATOMIC_RELAXED);
         i++) {
        const bk_content *c = &n->content[i];
        if (c->hole) {
            off += c->len;
            continue;
        }
        bool local = pe->local && pe->local[i] != BK_LOCAL_NONE;
        const uint8_t *data;
        uint8_t *to_free = NULL;
        size_t len = c->len;
        r = local ? local_chunk(w, b, f, i, &data, &to_free, &reused)
                  : bk_fetcher_get(fe, &c->id, &data, &len);
        if (r < 0) {
            if (!local)
                bk_fetcher_release(fe, &c->id);
            i++;
            if (r == -ENOMEM || r == -EINTR)
                break;   /* the whole run stops (the temporary file goes) */
            pthread_mutex_lock(&w->mu);
            const char *m = bk_repo_errmsg(w->o.repo);
            char why[1024];
            snprintf(why, sizeof(why), "%s", m && *m ? m : strerror(-r));
            bk_repo_clear_error(w->o.repo);
            pthread_mutex_unlock(&w->mu);
            fail_file(w, f, r, "not restored (the old version, if any, is kept): %s", why);
            r = 0;
            break;
        }
        int e = bk_place_file_write(&pf, off, data, len);
        if (local)
            free(to_free);
        else
            bk_fetcher_release(fe, &c->id);
        if (e < 0) {
            i++;
            fail_file(w, f, e, "cannot write (the old version, if any, is kept): %s",
                      strerror(-e));
            break;
        }
        off += len;
        written += len;
        __atomic_add_fetch(w->o.done_bytes, (uint64_t)len, __ATOMIC_RELAXED);
    }
    if (r == 0)
        bk_fetcher_skip(fe, n->content, pc->to, i, pe->local);
    pthread_mutex_lock(&w->mu);
    f->written += written;
    f->reused += reused;
    pthread_mutex_unlock(&w->mu);
    *end = pf.end;
    return r;
}

/* --verify: read the file back (its temporary file, before it is renamed into place) and
 * check every chunk against its id (holes: zeros) and the size. */
static int verify_fd(bk_rwriters *w, wbuf *b, int fd, const bk_plan_entry *pe)
{
    const bk_node *n = &pe->node;
    int r = 0;
    uint64_t off = 0;
    for (size_t i = 0; r == 0 && i < n->ncontent; i++) {
        const bk_content *c = &n->content[i];
        /* a hole (up to BK_HOLE_PIECE_MAX) is read back in steps of 1 MiB */
        size_t step = c->hole ? BK_MIN((size_t)c->len, (size_t)1 << 20) : c->len;
        if ((r = grow(b, step)) < 0)
            break;
        if (c->hole) {
            size_t got = 0;
            while (r == 0 && got < c->len) {
                ssize_t k = pread(fd, b->p, BK_MIN(c->len - got, step), (off_t)(off + got));
                if (k <= 0)
                    r = k < 0 ? -errno : -EBADMSG;
                else if (b->p[0] != 0 || memcmp(b->p, b->p + 1, (size_t)k - 1) != 0)
                    r = -EBADMSG;
                else
                    got += (size_t)k;
            }
        } else {
            r = bk_reuse_read(w->o.repo->keys, fd, off, b->p, c->len, &c->id);
        }
        off += c->len;
    }
    struct stat st;
    if (r == 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_size != n->size))
        r = -EBADMSG;
    return r;
}

/* The last piece is done: the file's size, and --verify.  No lock held. */
static int finish_file(bk_rwriters *w, wbuf *b, rfile *f)
{
    if (failed(f))
        return 0;
    f->pf.end = f->end;
    int e = bk_place_file_size(&f->pf);
    if (e < 0) {
        fail_file(w, f, e, "cannot write (the old version, if any, is kept): %s", strerror(-e));
        return 0;
    }
    if (!w->o.verify)
        return 0;
    int v = verify_fd(w, b, f->pf.fd, f->pe);
    if (v == -ENOMEM)
        return v;
    if (v < 0)
        fail_file(w, f, v, "%s", v == -EBADMSG ? "verification failed: what was written differs "
                                                 "from the snapshot (the old version, if any, is "
                                                 "kept)" : strerror(-v));
    return 0;
}

static void *writer_main(void *arg)
{
    bk_rwriters *w = arg;
    wbuf b = { 0 };
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->plen == 0)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        piece pc = w->pieces[w->phead];
        w->phead = (w->phead + 1) % MAX_PIECES;
        w->plen--;
        pthread_cond_broadcast(&w->changed);
        pthread_mutex_unlock(&w->mu);

        uint64_t end = 0;
        int r = write_piece(w, &b, &pc, &end);
        rfile *f = pc.f;
        pthread_mutex_lock(&w->mu);
        if (end > f->end)
            f->end = end;
        bool last = ++f->done == f->pieces;
        pthread_mutex_unlock(&w->mu);
        if (r == 0 && last)
            r = finish_file(w, &b, f);
        pthread_mutex_lock(&w->mu);
        if (r < 0 && !w->fatal)
            __atomic_store_n(&w->fatal, r, __ATOMIC_RELAXED);   /* the others skip what is left */
        if (last)
            f->complete = true;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->mu);
    free(b.p);
    return NULL;
}

int bk_rw_new(const bk_rw_opts *o, bk_rwriters **ret)
{
    bk_rwriters *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->o = *o;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->load_mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->changed, NULL);
    int want = BK_MAX(2, BK_MIN(o->threads, (int)(sizeof(w->th) / sizeof(w->th[0]))));
    for (; w->nth < want; w->nth++)
        if (pthread_create(&w->th[w->nth], NULL, writer_main, w) != 0) {
            bk_rw_free(w);
            return -EAGAIN;
        }
    *ret = w;
    return 0;
}

static const char *dir_of(const bk_plan_entry *pe, size_t *len)
{
    const char *s = strrchr(pe->path, '/');
    *len = s ? (size_t)(s - pe->path) : 0;
    return pe->path;
}

bool bk_rw_must_drain(const bk_rwriters *w, const bk_plan_entry *pe)
{
    if (!w || w->flen == 0)
        return false;
    if (pe->node.type == BK_NODE_DIR || pe->link_to)
        return true;
    size_t a, b;
    const char *x = dir_of(pe, &a);
    const char *y = dir_of(w->files[w->fhead]->pe, &b);
    return a != b || memcmp(x, y, a) != 0;
}

/* Wait for the oldest file and commit it (restorer's thread). */
static int commit_head(bk_rwriters *w)
{
    pthread_mutex_lock(&w->mu);
    rfile *f = w->files[w->fhead];
    if (!f->complete && w->plen > 0)
        pthread_cond_broadcast(&w->work);   /* what was queued without a wake-up */
    while (!f->complete && !w->fatal)
        pthread_cond_wait(&w->changed, &w->mu);
    int fatal = w->fatal;
    if (!fatal) {
        w->fhead = (w->fhead + 1) % MAX_FILES;
        w->flen--;
    }
    pthread_mutex_unlock(&w->mu);
    if (fatal)
        return fatal;
    if (f->oldfd >= 0)
        close(f->oldfd);
    w->o.st->bytes_written += f->written;
    w->o.st->bytes_reused += f->reused;
    int k;
    if (f->fail) {
        w->o.report(w->o.ud, f->pe->path, f->code, f->msg);
        bk_place_file_abort(&f->pf);
        k = 1;
    } else {
        k = bk_place_file_commit(&f->pf);
    }
    w->o.done(w->o.ud, f->pe, k);
    free(f);
    return k < 0 ? k : 0;
}

/* Queue a piece.  The writers are woken for a big one, or once WAKE_PIECES small ones wait
 * (one wake-up for a run of small files, not one each); whoever waits for them wakes them
 * first (commit_head, and here when the queue is full). */
static int push_piece(bk_rwriters *w, const piece *pc, bool big)
{
    pthread_mutex_lock(&w->mu);
    if (w->plen == MAX_PIECES)
        pthread_cond_broadcast(&w->work);
    while (w->plen == MAX_PIECES && !w->fatal)
        pthread_cond_wait(&w->changed, &w->mu);
    int r = w->fatal;
    if (!r) {
        w->pieces[(w->phead + w->plen) % MAX_PIECES] = *pc;
        w->plen++;
        if (w->plen >= WAKE_PIECES || big)
            pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    return r;
}

int bk_rw_add(bk_rwriters *w, bk_plan_entry *pe, const bk_place_file *pf, int oldfd)
{
    int r = 0;
    while (r == 0 && w->flen == MAX_FILES)
        r = commit_head(w);
    rfile *f = r == 0 ? calloc(1, sizeof(*f)) : NULL;
    if (!f) {
        if (oldfd >= 0)
            close(oldfd);
        bk_place_file tmp = *pf;
        bk_place_file_abort(&tmp);
        bk_fetcher_skip(w->o.fetcher, pe->node.content, pe->node.ncontent, 0, pe->local);
        return r < 0 ? r : -ENOMEM;
    }
    f->pe = pe;
    f->pf = *pf;
    f->oldfd = oldfd;
    /* the pieces: cut before a chunk that would pass PIECE_BYTES (holes count nothing) */
    const bk_node *n = &pe->node;
    size_t starts = 0;
    uint64_t acc = 0;
    for (size_t k = 0; k < n->ncontent; k++) {
        uint64_t cost = n->content[k].hole ? 0 : n->content[k].len;
        if (k == 0 || acc + cost > PIECE_BYTES) {
            starts++;
            acc = 0;
        }
        acc += cost;
    }
    f->pieces = BK_MAX(starts, (size_t)1);
    pthread_mutex_lock(&w->mu);
    w->files[(w->fhead + w->flen) % MAX_FILES] = f;
    w->flen++;
    pthread_mutex_unlock(&w->mu);
    piece pc = { f, 0, 0, 0 };
    uint64_t off = 0;
    acc = 0;
    for (size_t k = 0; r == 0 && k < n->ncontent; k++) {
        uint64_t cost = n->content[k].hole ? 0 : n->content[k].len;
        if (k > 0 && acc + cost > PIECE_BYTES) {
            pc.to = k;
            r = push_piece(w, &pc, acc >= WAKE_BYTES);
            pc.from = k;
            pc.off = off;
            acc = 0;
        }
        acc += cost;
        off += n->content[k].len;
    }
    pc.to = n->ncontent;
    if (r == 0)
        r = push_piece(w, &pc, acc >= WAKE_BYTES);
    return r;
}

int bk_rw_drain(bk_rwriters *w)
{
    int r = 0;
    while (r == 0 && w->flen > 0)
        r = commit_head(w);
    return r;
}

void bk_rw_free(bk_rwriters *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nth; i++)
        pthread_join(w->th[i], NULL);
    /* what was not committed: given up (a piece in a writer's hands was finished first) */
    for (; w->flen > 0; w->flen--, w->fhead = (w->fhead + 1) % MAX_FILES) {
        rfile *f = w->files[w->fhead];
        if (f->oldfd >= 0)
            close(f->oldfd);
        bk_place_file_abort(&f->pf);
        free(f);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->load_mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->changed);
    free(w);
}
