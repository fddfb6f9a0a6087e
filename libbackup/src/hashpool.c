/* hashpool.c - the keyed ids of many chunks at once, on several cores.
 *
 * One batch at a time (the chunker's thread waits for it): the caller publishes it, the
 * helpers and the caller take items by a shared counter under the lock (an item is a
 * chunk of kilobytes to megabytes, so one lock per item costs nothing beside its hash),
 * and the caller returns once every item is done.  Batches of one item never wake
 * anybody: the small files of a tree cost what they cost without the pool. */
#include <pthread.h>

#include "hashpool.h"
#include "util.h"

struct bk_hashpool {
    const bk_keys *keys;
    pthread_mutex_t mu;
    pthread_cond_t work;        /* a batch was published, or stop */
    pthread_cond_t finished;    /* the batch's last item is done */
    bk_hash_item *v;
    size_t n, next, done;
    int error;                  /* the batch's first */
    bool stop;
    pthread_t *th;
    int nth;
};

/* Take and hash items until none is left to take (mu held on entry and on return). */
static void take(bk_hashpool *p)
{
    while (p->v && p->next < p->n) {
        bk_hash_item *it = &p->v[p->next++];
        pthread_mutex_unlock(&p->mu);
        int r = it->id ? bk_blob_id(p->keys, it->p, it->n, it->id) : 0;
        pthread_mutex_lock(&p->mu);
        if (r < 0 && !p->error)
            p->error = r;
        if (++p->done == p->n)
            pthread_cond_signal(&p->finished);
    }
}

static void *helper(void *arg)
{
    bk_hashpool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        take(p);
        if (!p->stop)
            pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int bk_hashpool_new(const bk_keys *keys, int threads, bk_hashpool **ret)
{
    bk_hashpool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->keys = keys;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finished, NULL);
    if (threads > 0 && !(p->th = calloc((size_t)threads, sizeof(pthread_t)))) {
        bk_hashpool_free(p);
        return -ENOMEM;
    }
    for (; p->nth < threads; p->nth++)
        if (pthread_create(&p->th[p->nth], NULL, helper, p) != 0)
            break;   /* fewer helpers: the caller does more */
    *ret = p;
    return 0;
}

int bk_hashpool_run(bk_hashpool *p, const bk_keys *keys, bk_hash_item *v, size_t n)
{
    if (!p || p->nth == 0 || n < 2) {
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++)
            if (v[i].id)
                r = bk_blob_id(keys, v[i].p, v[i].n, v[i].id);
        return r;
    }
    pthread_mutex_lock(&p->mu);
    p->v = v;
    p->n = n;
    p->next = p->done = 0;
    p->error = 0;
    pthread_cond_broadcast(&p->work);
    take(p);
    while (p->done < p->n)
        pthread_cond_wait(&p->finished, &p->mu);
    int r = p->error;
    p->v = NULL;
    p->n = p->next = p->done = 0;
    pthread_mutex_unlock(&p->mu);
    return r;
}

void bk_hashpool_free(bk_hashpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nth; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->finished);
    free(p);
}
