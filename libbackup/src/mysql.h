/* mysql.h - MySQL/MariaDB dumps: run mariadb-dump (one consistent transaction for all
 * databases), split its output into one file per database, and load such files back. */
#ifndef BK_MYSQL_H
#define BK_MYSQL_H

#include "cdc.h"

#define BK_MYSQL_CHUNK_AVG (8u << 10)   /* the dump profile: tests/bench/dumps.sh */
#define BK_MYSQL_DIR "mysql"
#define BK_BINLOG_DIR "mysql-binlog"
#define BK_PHYSICAL_DIR "mysql-physical"
#define BK_PHYSICAL_FILE "backup.xbstream"
#define BK_PHYSICAL_CHUNK_AVG (64u << 10)   /* measured: docs/mysql.md */

typedef struct bk_mysql_conf {
    char *defaults_file;
    char *dump_command;          /* replaces mariadb-dump/mysqldump (a shell command) */
    char *client_command;        /* replaces mariadb/mysql */
    char *backup_command;        /* replaces mariadb-backup (--mysql-physical) */
    char **databases;            /* empty: every database but the system schemas */
    size_t ndatabases;
} bk_mysql_conf;

void bk_mysql_conf_free(bk_mysql_conf *c);

/* argv for a helper program: the given shell command (args become its "$@"), else the
 * first of names (NULL-terminated) found in PATH; --defaults-file=F first if F.  Free it
 * with bk_mysql_argv_free. */
int bk_mysql_argv(bk_repo *repo, const char *command, const char *const *names,
                  const char *defaults_file, char **args, size_t nargs, char ***ret) BK_MUST_CHECK;
void bk_mysql_argv_free(char **v);

/* bk_proc_start, and "cannot run <argv[0]>: ..." on the handle when it fails. */
struct bk_proc;
int bk_mysql_start(bk_repo *repo, struct bk_proc *p, char *const argv[], bool want_in,
                   bool want_out) BK_MUST_CHECK;

/* Read a helper's output to its end, each piece (up to 1 MiB) to fn; the interrupt is
 * checked and tick called between pieces.  0, fn's error, or a read error (said: "cannot
 * read <what>"). */
int bk_mysql_read_output(bk_repo *repo, struct bk_proc *p, const char *what,
                         int (*fn)(void *ctx, const uint8_t *p, size_t n), void *ctx,
                         void (*tick)(void *), void *tick_ctx) BK_MUST_CHECK;

/* Where a dump is in the server's binary log (NULL, 0 when the server has none, or is not
 * MariaDB). */
typedef struct bk_mysql_pos {
    char *binlog_file;
    uint64_t binlog_pos;
    char *gtid;
} bk_mysql_pos;
void bk_mysql_pos_free(bk_mysql_pos *p);

/* Dump into file nodes (one per database, named bk_mysql_file_name(db)), chunked with ch
 * into w, and say where in the binary log the dump's transaction is (*ret_pos: free it).
 * tick is called now and then.  On failure the message (with the dump program's stderr)
 * is on the repository handle. */
int bk_mysql_dump(bk_repo *repo, const bk_mysql_conf *conf, const bk_chunker *ch, bk_writer *w,
                  void (*tick)(void *), void *tick_ctx, bk_tree *ret,
                  bk_mysql_pos *ret_pos) BK_MUST_CHECK;

/* Archive the binary logs: those the server closed (every one but the current, after a
 * FLUSH BINARY LOGS with flush) that archived (the files of the last archive, and known,
 * their descriptions) does not have, fetched with mariadb-binlog --read-from-remote-server
 * --raw and chunked with ch into w.  *ret gets the files of the new archive (the old ones
 * and the new), *ret_list their descriptions (oldest first), *ret_gap the names of those
 * purged from the server before they were archived ("a..b", or NULL).  -EALREADY (with a
 * message) when the server closed none since. */
int bk_mysql_binlogs(bk_repo *repo, const bk_mysql_conf *conf, bool flush, const bk_tree *archived,
                     const bk_binlog *known, size_t nknown, const bk_chunker *ch, bk_writer *w,
                     bk_tree *ret, bk_binlog **ret_list, size_t *ret_n, char **ret_gap) BK_MUST_CHECK;
void bk_binlogs_free(bk_binlog *v, size_t n);

/* A physical backup: mariadb-backup --backup --stream=xbstream, its stream chunked with ch
 * into w as one file node (BK_PHYSICAL_FILE), with the binary log position the backup
 * recorded (*ret_pos; NULL, 0 when the server keeps no binary log).  The run fails when the
 * program fails or its stream is not whole (physical.c). */
int bk_mysql_physical(bk_repo *repo, const bk_mysql_conf *conf, const bk_chunker *ch, bk_writer *w,
                      void (*tick)(void *), void *tick_ctx, bk_tree *ret,
                      bk_mysql_pos *ret_pos) BK_MUST_CHECK;
int bk_binlogs_dup(const bk_binlog *v, size_t n, bk_binlog **ret) BK_MUST_CHECK;

#endif
