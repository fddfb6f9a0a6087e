/* proc.h - run a helper program (mariadb-dump, mariadb) with pipes, capturing its
 * standard error for messages. */
#ifndef BK_PROC_H
#define BK_PROC_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

#define BK_PROC_ERR_MAX 4096
#define BK_PROC_ERR_HEAD 1024     /* of a longer stderr, the first bytes and the last */

typedef struct bk_proc {
    pid_t pid;
    int in;                       /* write end of its stdin, or -1 */
    int out;                      /* read end of its stdout, or -1 */
    int err;                      /* read end of its stderr (the capture thread's) */
    pthread_t err_thread;
    bool err_thread_running;
    char errbuf[BK_PROC_ERR_MAX]; /* its stderr: the first and the last bytes */
    size_t errlen;
    bool errcut;                  /* errbuf holds "[...]" where bytes were left out */
} bk_proc;

/* Start argv[0] (searched in PATH).  want_in/want_out: give it pipes for stdin/stdout
 * (else /dev/null).  Its stderr is captured. */
int bk_proc_start(bk_proc *p, char *const argv[], bool want_in, bool want_out) BK_MUST_CHECK;
/* Close our pipe ends, wait for it; *ret_status as waitpid's.  Always frees resources. */
int bk_proc_wait(bk_proc *p, int *ret_status);
/* Its stderr, trimmed ("" if none). */
const char *bk_proc_stderr(bk_proc *p);
/* "exited with status 2", "killed by signal 9"; "" when it exited with 0. */
void bk_proc_status_str(int status, char *out, size_t n);
/* Wait for it (after a SIGTERM when stop: we stopped reading, it must not be left blocked
 * on a full pipe) and say how it ended into how, as bk_proc_status_str.  true if it failed. */
bool bk_proc_end(bk_proc *p, bool stop, char *how, size_t n);
/* Of its stderr (a tool's many lines of progress), the last line that says error, else its
 * last line: *ret and *ret_len (0 when it said nothing). */
void bk_proc_last_error(bk_proc *p, const char **ret, int *ret_len);
/* Is a program of that name in PATH? */
bool bk_have_program(const char *name);

#endif
