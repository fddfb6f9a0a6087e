/* readahead.c - a thread that reads the walk's next files into the page cache
 * (readahead.h). */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "readahead.h"

struct bk_readahead {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* the walk moved, a set changed, the thread let go */
    int dirfd;
    char *const *names;
    size_t n, next;             /* the set; the thread's next entry */
    _Atomic size_t at;          /* the walk's entry (set without the lock) */
    const bk_tree *old;
    bool busy;                  /* the thread is using the set's dirfd */
    _Atomic bool waiting;       /* the thread waits for the walk to move */
    bool quit;
    unsigned cached;            /* files in a row found in the page cache already */
    unsigned skip;              /* entries to pass over before the next probe */
    uint64_t opened;            /* files opened to be read ahead (for the tests) */
};

/* A tree already in the page cache (a backup just after another, a small tree) gains
 * nothing and pays four system calls a file: after each CACHED_RUN files in a row found
 * cached, the probes are half as many (one entry in 2, 4, ... SPARSE_MAX), until one is
 * not cached. */
#define CACHED_RUN 32
#define SPARSE_MAX 64

/* One entry: read it ahead if the walk will read it.  1 if it was in the page cache
 * already (its first byte), 0 if it was read ahead, -1 if it is not to be read. */
static int read_one(int dirfd, const char *name, const bk_tree *old)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size == 0)
        return -1;
    if (old && bk_node_same_stat(bk_tree_find(old, name, strlen(name)), &st))
        return -1;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME);
    if (fd < 0)
        return -1;   /* (the walk reports what it cannot open) */
    char c;
    struct iovec v = { &c, 1 };
    int cached = preadv2(fd, &v, 1, 0, RWF_NOWAIT) == 1;
    if (!cached) {
        size_t len = (uint64_t)st.st_size < BK_READAHEAD_FILE_MAX ? (size_t)st.st_size
                                                                   : BK_READAHEAD_FILE_MAX;
        (void)readahead(fd, 0, len);
    }
    close(fd);
    return cached;
}

static void *run(void *arg)
{
    bk_readahead *ra = arg;
    pthread_mutex_lock(&ra->lock);
    for (;;) {
        while (!ra->quit && (ra->next >= ra->n || ra->next >= atomic_load(&ra->at) + BK_READAHEAD_WINDOW)) {
            atomic_store(&ra->waiting, true);
            pthread_cond_wait(&ra->cond, &ra->lock);
            atomic_store(&ra->waiting, false);
        }
        if (ra->quit)
            break;
        size_t i = ra->next++;
        if (i < atomic_load(&ra->at))
            continue;   /* the walk is past it */
        if (ra->skip) {
            ra->skip--;
            continue;
        }
        /* the entry's name and the directory stay valid while busy: stop waits */
        ra->busy = true;
        int dirfd = ra->dirfd;
        const char *name = ra->names[i];
        const bk_tree *old = ra->old;
        pthread_mutex_unlock(&ra->lock);
        int k = read_one(dirfd, name, old);
        pthread_mutex_lock(&ra->lock);
        ra->opened += k >= 0;
        if (k == 0)
            ra->cached = 0;
        else if ((ra->cached += k == 1) >= CACHED_RUN)   /* (entries not read count too) */
            ra->skip = (ra->cached / CACHED_RUN >= 6 ? SPARSE_MAX : 1u << (ra->cached / CACHED_RUN)) - 1;
        ra->busy = false;
        pthread_cond_broadcast(&ra->cond);
    }
    pthread_mutex_unlock(&ra->lock);
    return NULL;
}

int bk_readahead_new(bk_readahead **ret)
{
    *ret = NULL;
    bk_readahead *ra = calloc(1, sizeof(*ra));
    if (!ra)
        return -ENOMEM;
    ra->dirfd = -1;
    pthread_mutex_init(&ra->lock, NULL);
    pthread_cond_init(&ra->cond, NULL);
    if (pthread_create(&ra->thread, NULL, run, ra) != 0) {
        pthread_cond_destroy(&ra->cond);
        pthread_mutex_destroy(&ra->lock);
        free(ra);
        return 0;   /* no thread: no read-ahead */
    }
    *ret = ra;
    return 0;
}

void bk_readahead_free(bk_readahead *ra)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->lock);
    ra->quit = true;
    pthread_cond_broadcast(&ra->cond);
    pthread_mutex_unlock(&ra->lock);
    pthread_join(ra->thread, NULL);
    pthread_cond_destroy(&ra->cond);
    pthread_mutex_destroy(&ra->lock);
    free(ra);
}

/* (with the lock) until the thread holds nothing of the current set */
static void let_go(bk_readahead *ra)
{
    ra->n = ra->next = 0;
    atomic_store(&ra->at, 0);
    ra->names = NULL;
    ra->old = NULL;
    ra->dirfd = -1;
    while (ra->busy)
        pthread_cond_wait(&ra->cond, &ra->lock);
}

void bk_readahead_set(bk_readahead *ra, int dirfd, char *const *names, size_t n,
                      const bk_tree *old)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->lock);
    let_go(ra);
    ra->dirfd = dirfd;
    ra->names = names;
    ra->old = old;
    ra->n = n;
    pthread_cond_broadcast(&ra->cond);
    pthread_mutex_unlock(&ra->lock);
}

void bk_readahead_at(bk_readahead *ra, size_t i)
{
    if (!ra)
        return;
    /* no lock for each entry, and a wake-up only when half the window is free (the lock
     * and a wake-up per entry cost more than read-ahead gains on a tree in the page
     * cache).  A thread about to wait may miss this one: the next entry wakes it. */
    atomic_store(&ra->at, i);
    if (!atomic_load(&ra->waiting))
        return;
    pthread_mutex_lock(&ra->lock);
    if (atomic_load(&ra->waiting) && ra->next < ra->n &&
        ra->next + BK_READAHEAD_WINDOW / 2 <= i + BK_READAHEAD_WINDOW)
        pthread_cond_broadcast(&ra->cond);
    pthread_mutex_unlock(&ra->lock);
}

void bk_readahead_stop(bk_readahead *ra)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->lock);
    let_go(ra);
    pthread_mutex_unlock(&ra->lock);
}

uint64_t bk_readahead_opened(bk_readahead *ra)
{
    if (!ra)
        return 0;
    pthread_mutex_lock(&ra->lock);
    uint64_t n = ra->opened;
    pthread_mutex_unlock(&ra->lock);
    return n;
}
