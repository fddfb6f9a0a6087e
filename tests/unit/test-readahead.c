/* test-readahead.c - the walk's read-ahead thread: of a directory's entries it opens the
 * regular files that the walk will read (not empty ones, not directories or symlinks, not
 * those unchanged since the parent snapshot), each once per set, and nothing after stop:
 * sets replaced, moved through and stopped many times over, their names freed at once
 * (the sanitizer build sees any use after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readahead.h"
#include "util.h"

static char dir[64];
static int dirfd_;

static void put(const char *name, const char *data)
{
    int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/arca-test-readahead-XXXXXX");
    assert_non_null(mkdtemp(dir));
    dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd_ >= 0);
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "f%02d", i);
        put(name, "some content to read ahead\n");
    }
    put("empty", "");
    assert_int_equal(mkdirat(dirfd_, "sub", 0755), 0);
    assert_int_equal(symlinkat("f00", dirfd_, "link"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "f%02d", i);
        unlinkat(dirfd_, name, 0);
    }
    unlinkat(dirfd_, "empty", 0);
    unlinkat(dirfd_, "link", 0);
    unlinkat(dirfd_, "sub", AT_REMOVEDIR);
    close(dirfd_);
    rmdir(dir);
    return 0;
}

static void names_of(char ***ret, size_t *ret_n)
{
    char **v = NULL;
    size_t n = 0;
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "f%02d", i);
        assert_int_equal(bk_strv_push(&v, &n, name), 0);
    }
    assert_int_equal(bk_strv_push(&v, &n, "empty"), 0);
    assert_int_equal(bk_strv_push(&v, &n, "sub"), 0);
    assert_int_equal(bk_strv_push(&v, &n, "link"), 0);
    *ret = v;
    *ret_n = n;
}

/* the parent snapshot's nodes of f00..f09, as they are on disk: unchanged */
static void old_tree(bk_tree *t)
{
    memset(t, 0, sizeof(*t));
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "f%02d", i);
        struct stat st;
        assert_int_equal(fstatat(dirfd_, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        bk_node n;
        memset(&n, 0, sizeof(n));
        n.name = strdup(name);
        n.name_len = strlen(name);
        n.type = BK_NODE_FILE;
        n.size = (uint64_t)st.st_size;
        n.mtime = st.st_mtim.tv_sec;
        n.mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
        n.ctime = st.st_ctim.tv_sec;
        n.ctime_nsec = (uint32_t)st.st_ctim.tv_nsec;
        n.inode = (uint64_t)st.st_ino;
        assert_int_equal(bk_tree_push(t, &n), 0);
        bk_node_clear(&n);
    }
    assert_int_equal(bk_tree_sort(t), 0);
}

/* waits (polling, at most a minute) for the thread to have opened want files */
static uint64_t wait_opened(bk_readahead *ra, uint64_t want)
{
    uint64_t n = 0;
    for (int i = 0; i < 60000 && (n = bk_readahead_opened(ra)) < want; i++)
        usleep(1000);
    return n;
}

static void opens_what_the_walk_reads(void **state)
{
    (void)state;
    bk_readahead *ra;
    assert_int_equal(bk_readahead_new(&ra), 0);
    assert_non_null(ra);
    char **names;
    size_t n;
    names_of(&names, &n);
    bk_tree old;
    old_tree(&old);
    bk_readahead_set(ra, dirfd_, names, n, &old);
    bk_readahead_at(ra, 0);
    assert_int_equal(wait_opened(ra, 10), 10);   /* f10..f19 */
    bk_readahead_stop(ra);
    usleep(20000);
    assert_int_equal(bk_readahead_opened(ra), 10);   /* nothing else: not empty, sub, link */
    /* with no parent snapshot, every non-empty file */
    bk_readahead_set(ra, dirfd_, names, n, NULL);
    bk_readahead_at(ra, 0);
    assert_int_equal(wait_opened(ra, 30), 30);
    bk_readahead_stop(ra);
    /* after stop, nothing more (the thread may have begun on a set before the walk's
     * position reached it, so only stop is a point where the count must hold) */
    bk_readahead_set(ra, dirfd_, names, n, NULL);
    bk_readahead_at(ra, n);
    bk_readahead_stop(ra);
    uint64_t stopped = bk_readahead_opened(ra);
    usleep(20000);
    assert_int_equal(bk_readahead_opened(ra), stopped);
    assert_true(stopped <= 50);
    bk_tree_free(&old);
    bk_strv_free(names, n);
    bk_readahead_free(ra);
    /* no thread: every call is a no-op */
    bk_readahead_set(NULL, dirfd_, names, 0, NULL);
    bk_readahead_at(NULL, 1);
    bk_readahead_stop(NULL);
    bk_readahead_free(NULL);
}

static void nothing_after_stop(void **state)
{
    (void)state;
    bk_readahead *ra;
    assert_int_equal(bk_readahead_new(&ra), 0);
    uint64_t seed = 7;
    for (int k = 0; k < 300; k++) {
        char **names;
        size_t n;
        names_of(&names, &n);
        bk_readahead_set(ra, dirfd_, names, n, NULL);
        size_t at = (size_t)(seed = seed * 6364136223846793005ull + 1) % (n + 1);
        bk_readahead_at(ra, at);
        if (k % 3 == 0) {   /* replaced while in use, as after a subdirectory's walk */
            char **again;
            size_t m;
            names_of(&again, &m);
            bk_readahead_set(ra, dirfd_, again, m, NULL);
            bk_readahead_at(ra, at / 2);
            bk_readahead_stop(ra);
            bk_strv_free(again, m);
        }
        bk_readahead_stop(ra);
        bk_strv_free(names, n);   /* at once: the thread must hold none of it */
    }
    bk_readahead_free(ra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_what_the_walk_reads),
        cmocka_unit_test(nothing_after_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
