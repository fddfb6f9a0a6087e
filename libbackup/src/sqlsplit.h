/* sqlsplit.h - split one mariadb-dump/mysqldump stream of several databases (one
 * consistent transaction) into one SQL file per database.  Pure: bytes in, callbacks out.
 *
 * The dump is a header (session settings), per database a section that starts with
 * "CREATE DATABASE ... `db`" and later ones that start with "USE `db`;" (views are dumped
 * after all tables), and a footer that restores the settings.  Each database's file is
 * header + its sections in order + footer, so it loads alone.  Lines between
 * "DELIMITER ;;" and "DELIMITER ;" (routine bodies) are never taken for markers. */
#ifndef BK_SQLSPLIT_H
#define BK_SQLSPLIT_H

#include <stdbool.h>

#include "buf.h"

typedef struct bk_sqlsplit_ops {
    /* Bytes of database db's file (the header is sent before its first section). */
    int (*data)(void *ctx, const char *db, const uint8_t *p, size_t n);
    /* The section of db ends (another starts, or the footer): a good place to cut. */
    int (*section_end)(void *ctx, const char *db);
} bk_sqlsplit_ops;

typedef struct bk_sqlsplit {
    const bk_sqlsplit_ops *ops;
    void *ctx;
    bk_buf line;            /* the current line, while it is incomplete */
    bk_buf header, footer;
    char **dbs;             /* databases seen, in order */
    size_t ndbs;
    char *current;          /* index into dbs, or NULL before the first section */
    int phase;              /* 0 header, 1 sections, 2 footer */
    bool in_delimiter;
    bool passthrough;       /* inside a long data line */
    int error;
    /* the dump's position in the binary log (--master-data=2, --gtid), where it says so:
     * "-- CHANGE MASTER TO MASTER_LOG_FILE='F', MASTER_LOG_POS=N;" and "-- SET GLOBAL
     * gtid_slave_pos='G';" (NULL / 0 when it does not) */
    char *binlog_file;
    uint64_t binlog_pos;
    char *gtid;
} bk_sqlsplit;

void bk_sqlsplit_init(bk_sqlsplit *s, const bk_sqlsplit_ops *ops, void *ctx);
int bk_sqlsplit_feed(bk_sqlsplit *s, const uint8_t *p, size_t n) BK_MUST_CHECK;
/* End of the stream: sends the footer to every database.  -EPIPE if the dump was cut
 * short (no complete footer), -EBADMSG if it held no database. */
int bk_sqlsplit_finish(bk_sqlsplit *s) BK_MUST_CHECK;
void bk_sqlsplit_free(bk_sqlsplit *s);

/* Database name <-> file name in the snapshot ("shop" <-> "shop.sql"; '/' and '%' are
 * percent-escaped).  Allocate. */
char *bk_mysql_file_name(const char *db);
char *bk_mysql_db_name(const char *file);

#endif
