/* proc.c - helper processes. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

/* Of what a program says on stderr, the first bytes and the last (a long-winded program,
 * mariadb-backup, says what went wrong at the end), with "[...]" between them. */
static void keep_err(bk_proc *p, const char *b, size_t k)
{
    const size_t cap = sizeof(p->errbuf) - 1;
    if (p->errlen < BK_PROC_ERR_HEAD) {
        size_t h = BK_MIN(k, BK_PROC_ERR_HEAD - p->errlen);
        memcpy(p->errbuf + p->errlen, b, h);
        p->errlen += h;
        b += h;
        k -= h;
    }
    if (k <= cap - p->errlen) {
        memcpy(p->errbuf + p->errlen, b, k);
        p->errlen += k;
        return;
    }
    static const char cut[] = "\n[...]\n";
    const size_t keep = BK_PROC_ERR_HEAD + sizeof(cut) - 1;
    size_t tail = cap - keep;
    const char *old = p->errbuf + (p->errcut ? keep : BK_PROC_ERR_HEAD);
    size_t nold = (size_t)(p->errbuf + p->errlen - old);
    if (k >= tail) {
        memcpy(p->errbuf + keep, b + k - tail, tail);
    } else {
        size_t from_old = BK_MIN(nold, tail - k);
        memmove(p->errbuf + keep, old + nold - from_old, from_old);
        memcpy(p->errbuf + keep + from_old, b, k);
        tail = from_old + k;
    }
    memcpy(p->errbuf + BK_PROC_ERR_HEAD, cut, sizeof(cut) - 1);
    p->errlen = keep + tail;
    p->errcut = true;
}

static void *read_err(void *arg)
{
    bk_proc *p = arg;
    char buf[4096];
    for (;;) {
        ssize_t k = read(p->err, buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        keep_err(p, buf, (size_t)k);
    }
    p->errbuf[p->errlen] = 0;
    return NULL;
}

int bk_proc_start(bk_proc *p, char *const argv[], bool want_in, bool want_out)
{
    memset(p, 0, sizeof(*p));
    p->in = p->out = p->err = -1;
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    int r = 0;
    if ((want_in && pipe2(pin, O_CLOEXEC) < 0) || (want_out && pipe2(pout, O_CLOEXEC) < 0) ||
        pipe2(perr, O_CLOEXEC) < 0)
        r = -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (r == 0) {
        if (want_in)
            posix_spawn_file_actions_adddup2(&fa, pin[0], STDIN_FILENO);
        else
            posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (want_out)
            posix_spawn_file_actions_adddup2(&fa, pout[1], STDOUT_FILENO);
        else
            posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, perr[1], STDERR_FILENO);
        /* the child must not die of a SIGPIPE we ignore, nor inherit our mask */
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t none, dfl;
        sigemptyset(&none);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &dfl);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        int e = posix_spawnp(&p->pid, argv[0], &fa, &at, argv, environ);
        posix_spawnattr_destroy(&at);
        if (e != 0)
            r = -e;
    }
    posix_spawn_file_actions_destroy(&fa);
    if (pin[0] >= 0)
        close(pin[0]);
    if (pout[1] >= 0)
        close(pout[1]);
    if (perr[1] >= 0)
        close(perr[1]);
    if (r < 0) {
        if (pin[1] >= 0)
            close(pin[1]);
        if (pout[0] >= 0)
            close(pout[0]);
        if (perr[0] >= 0)
            close(perr[0]);
        return r;
    }
    p->in = want_in ? pin[1] : -1;
    p->out = want_out ? pout[0] : -1;
    p->err = perr[0];
    if (pthread_create(&p->err_thread, NULL, read_err, p) == 0)
        p->err_thread_running = true;
    return 0;
}

int bk_proc_wait(bk_proc *p, int *ret_status)
{
    if (p->in >= 0)
        close(p->in);
    if (p->out >= 0)
        close(p->out);
    p->in = p->out = -1;
    int status = 0, r = 0;
    while (waitpid(p->pid, &status, 0) < 0) {
        if (errno != EINTR) {
            r = -errno;
            break;
        }
    }
    if (p->err_thread_running)
        pthread_join(p->err_thread, NULL);
    p->err_thread_running = false;
    if (p->err >= 0)
        close(p->err);
    p->err = -1;
    if (ret_status)
        *ret_status = status;
    return r;
}

const char *bk_proc_stderr(bk_proc *p)
{
    while (p->errlen > 0 && (p->errbuf[p->errlen - 1] == '\n' || p->errbuf[p->errlen - 1] == ' '))
        p->errbuf[--p->errlen] = 0;
    return p->errbuf;
}

void bk_proc_status_str(int status, char *out, size_t n)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        snprintf(out, n, "%s", "");
    else if (WIFEXITED(status))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, n, "ended abnormally");
}

bool bk_proc_end(bk_proc *p, bool stop, char *how, size_t n)
{
    if (stop)
        kill(p->pid, SIGTERM);
    int status;
    bk_proc_wait(p, &status);
    bk_proc_status_str(status, how, n);
    return how[0] != '\0';
}

void bk_proc_last_error(bk_proc *p, const char **ret, int *ret_len)
{
    const char *err = bk_proc_stderr(p);
    const char *best = NULL, *last = err;
    int best_len = 0, last_len = 0;
    for (const char *s = err; *s;) {
        const char *e = strchrnul(s, '\n');
        int len = (int)(e - s);
        if (len > 0) {
            last = s;
            last_len = len;
            if (memmem(s, (size_t)len, "ERROR", 5) || memmem(s, (size_t)len, "Error", 5)) {
                best = s;
                best_len = len;
            }
        }
        s = *e ? e + 1 : e;
    }
    *ret = best ? best : last;
    *ret_len = best ? best_len : last_len;
}

bool bk_have_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
        if (access(buf, X_OK) == 0)
            return true;
        p += len;
        if (*p == ':')
            p++;
    }
    return false;
}
