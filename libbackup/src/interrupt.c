/* interrupt.c - a process-wide request to stop (SIGINT, SIGTERM), which long operations
 * honour at their next safe point. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "repo.h"

static atomic_int interrupted;

void bk_interrupt(void)
{
    atomic_store_explicit(&interrupted, 1, memory_order_relaxed);
}

void bk_interrupt_clear(void)
{
    atomic_store_explicit(&interrupted, 0, memory_order_relaxed);
}

bool bk_interrupted(void)
{
    return atomic_load_explicit(&interrupted, memory_order_relaxed) != 0;
}

int bk_repo_check_interrupt(bk_repo *repo)
{
    if (!bk_interrupted())
        return 0;
    return bk_repo_error(repo, -EINTR, "interrupted");
}

void bk_kill_point(const char *name)
{
    /* for the tests of crash consistency: die here, as kill -9 would */
    const char *at = getenv("ARCA_TEST_KILL_AT");
    if (at && strcmp(at, name) == 0)
        raise(SIGKILL);
}
