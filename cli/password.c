/* password.c - passphrases: from a file, a command, or a prompt on the terminal; never from
 * the command line.  Kept in locked memory (sodium_malloc) and wiped after use. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define PASS_MAX 4096

void cli_password_free(char *p, size_t len)
{
    (void)len;
    sodium_free(p);   /* wipes */
}

/* The first line of what fd gives (without the newline). */
static int read_line(int fd, char *buf, size_t *ret_len)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t k = read(fd, &ch, 1);
        if (k < 0 && errno == EINTR && !bk_interrupted())
            continue;
        if (k < 0)
            return -errno;
        if (k == 0 || ch == '\n')
            break;
        if (n + 1 >= PASS_MAX)
            return -E2BIG;
        buf[n++] = ch;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = 0;
    *ret_len = n;
    return 0;
}

static int from_file(cli *c, const char *path, char *buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_err(c, "cannot read passphrase file %s: %s", path, strerror(errno));
        return EXIT_FATAL;
    }
    int r = read_line(fd, buf, len);
    close(fd);
    if (r == -E2BIG) {
        cli_err(c, "the passphrase in %s is longer than %d bytes", path, PASS_MAX - 1);
        return EXIT_FATAL;
    }
    if (r < 0) {
        cli_err(c, "cannot read passphrase file %s: %s", path, strerror(-r));
        return EXIT_FATAL;
    }
    return 0;
}

static int from_command(cli *c, const char *cmd, const char *what, char *buf, size_t *len)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return EXIT_FATAL;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return EXIT_FATAL;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);   /* ignored by arca, not by the command */
        dup2(p[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    int r = read_line(p[0], buf, len);
    /* drain so the command does not die of SIGPIPE */
    char tmp[256];
    while (read(p[0], tmp, sizeof(tmp)) > 0)
        ;
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (r == -E2BIG) {
        cli_err(c, "the passphrase from %s is longer than %d bytes", what, PASS_MAX - 1);
        return EXIT_FATAL;
    }
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_err(c, "%s failed", what);
        return EXIT_FATAL;
    }
    return 0;
}

/* 0, -ENXIO when there is no terminal, or read_line's error */
static int prompt(cli *c, const char *question, char *buf, size_t *len)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -ENXIO;
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, question, strlen(question)) < 0) {
        /* nothing useful to do */
    }
    int r = read_line(fd, buf, len);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    close(fd);
    return r;
}

int cli_password_get(cli *c, int kind, char **ret, size_t *ret_len)
{
    bool new_password = kind == PASS_NEW, source = kind == PASS_SOURCE;
    bool confirm = kind == PASS_INIT || kind == PASS_NEW;
    char *buf = sodium_malloc(PASS_MAX);
    if (!buf) {
        cli_err(c, "out of memory");
        return EXIT_FATAL;
    }
    size_t len = 0;
    int e = 0;
    const char *file = new_password ? c->new_password_file
                       : source ? c->from.password_file : c->password_file;
    if (!file)
        file = getenv(new_password ? "ARCA_NEW_PASSWORD_FILE"
                      : source ? "ARCA_FROM_PASSWORD_FILE" : "ARCA_PASSWORD_FILE");
    const char *cmd_var = source ? "ARCA_FROM_PASSWORD_COMMAND" : "ARCA_PASSWORD_COMMAND";
    const char *cmd = new_password ? NULL : source && c->from.password_command
                      ? c->from.password_command : getenv(cmd_var);
    if (source && c->from.password_command)
        cmd_var = "--from-password-command";
    if (file && *file) {
        e = from_file(c, file, buf, &len);
    } else if (cmd && *cmd) {
        e = from_command(c, cmd, cmd_var, buf, &len);
    } else {
        cli_progress_done(c);
        const char *q = source ? "source repository passphrase: "
                        : confirm ? "new passphrase: " : "passphrase: ";
        int r = prompt(c, q, buf, &len);
        if (r < 0 && cli_signal_caught()) {
            e = cli_exit_code(-EINTR);   /* interrupted: main says so */
        } else if (r == -ENXIO) {
            if (source)
                cli_err(c, "no passphrase for the source repository: use --from-password-file, "
                           "--from-password-command, ARCA_FROM_PASSWORD_FILE or "
                           "ARCA_FROM_PASSWORD_COMMAND (there is no terminal to ask)");
            else
                cli_err(c, "no passphrase: use --password-file, ARCA_PASSWORD_FILE or "
                           "ARCA_PASSWORD_COMMAND (there is no terminal to ask)");
            e = EXIT_FATAL;
        } else if (r == -E2BIG) {
            cli_err(c, "the passphrase is longer than %d bytes", PASS_MAX - 1);
            e = EXIT_FATAL;
        } else if (r < 0) {
            cli_err(c, "cannot read the passphrase: %s", strerror(-r));
            e = EXIT_FATAL;
        } else if (confirm) {
            char *again = sodium_malloc(PASS_MAX);
            size_t alen = 0;
            if (!again || prompt(c, "repeat new passphrase: ", again, &alen) < 0) {
                e = cli_exit_code(-EINTR);
                if (!cli_signal_caught())
                    cli_err(c, "cannot read the passphrase again");
            } else if (alen != len || sodium_memcmp(again, buf, len) != 0) {
                cli_err(c, "the passphrases do not match");
                e = EXIT_FATAL;
            }
            sodium_free(again);
        }
    }
    if (e == 0 && len == 0) {
        cli_err(c, "empty passphrase refused");
        e = EXIT_FATAL;
    }
    if (e) {
        sodium_free(buf);
        return e;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}
