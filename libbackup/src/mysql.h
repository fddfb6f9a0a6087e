/* mysql.h - MySQL/MariaDB dumps: run mariadb-dump (one consistent transaction for all
 * databases), split its output into one file per database, and load such files back. */
#ifndef BK_MYSQL_H
#define BK_MYSQL_H

#include "cdc.h"

#define BK_MYSQL_CHUNK_AVG (8u << 10)   /* the dump profile: tests/bench/dumps.sh */
#define BK_MYSQL_DIR "mysql"

typedef struct bk_mysql_conf {
    char *defaults_file;
    char *dump_command;          /* replaces mariadb-dump/mysqldump (a shell command) */
    char *client_command;        /* replaces mariadb/mysql */
    char **databases;            /* empty: every database but the system schemas */
    size_t ndatabases;
} bk_mysql_conf;

void bk_mysql_conf_free(bk_mysql_conf *c);

/* Dump into file nodes (one per database, named bk_mysql_file_name(db)), chunked with ch
 * into w.  tick is called now and then.  On failure the message (with the dump program's
 * stderr) is on the repository handle. */
int bk_mysql_dump(bk_repo *repo, const bk_mysql_conf *conf, const bk_chunker *ch, bk_writer *w,
                  void (*tick)(void *), void *tick_ctx, bk_tree *ret) BK_MUST_CHECK;

#endif
