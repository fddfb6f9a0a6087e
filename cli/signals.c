/* signals.c - how arca ends when it is told to stop, or when its output goes away.
 *
 * SIGINT, SIGTERM and SIGHUP ask the library to stop at its next safe point
 * (bk_interrupt); the command then unwinds as after an error, so that its locks are
 * released, and arca exits with 128 + the signal's number after one line "interrupted".
 * A second signal ends it at once.  SIGPIPE is ignored, so that a reader that goes away
 * (`arca ls ... | head -1`) shows up as EPIPE: arca then stops quietly, releases its
 * locks, and dies of SIGPIPE as other tools in a pipeline do. */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
    if (caught) {
        static const char msg[] = "arca: interrupted again: exiting at once\n";
        ssize_t k = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)k;
        _exit(128 + sig);
    }
    caught = sig;
    bk_interrupt();
}

void cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: a read of a pipe or a terminal that blocks must return (EINTR) so
     * that the interruption is noticed */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int cli_signal_caught(void)
{
    return caught;
}

bool cli_stdout_gone(void)
{
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return false;
    struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

void cli_die_of_sigpipe(void)
{
    signal(SIGPIPE, SIG_DFL);
    raise(SIGPIPE);
    _exit(128 + SIGPIPE);   /* not reached */
}
