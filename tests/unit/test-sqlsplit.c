/* test-sqlsplit.c - a mariadb-dump stream of two databases cut into one file each (header,
 * its sections, footer), fed in pieces of every size; the dump's binary log and GTID
 * position read from its --master-data=2 and --gtid comments, and nothing taken for them
 * that is not exactly such a line (inside a routine body, or malformed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sqlsplit.h"

#define HEADER "/*!40101 SET NAMES utf8mb4 */;\n" \
    "-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n" \
    "-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000042', MASTER_LOG_POS=987654321;\n\n"
#define SHOP "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;\n\nUSE `shop`;\n" \
    "INSERT INTO `t` VALUES (1),(2);\n" \
    "DELIMITER ;;\n-- SET GLOBAL gtid_slave_pos='9-9-9';\nBEGIN END ;;\nDELIMITER ;\n"
#define CRM "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `crm`;\n\nUSE `crm`;\n" \
    "INSERT INTO `c` VALUES (3);\n" \
    "-- SET GLOBAL gtid_slave_pos='0-1-5,1-2-77';\n"
#define FOOTER "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n" \
    "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n"

typedef struct out {
    char shop[4096], crm[4096];
} out;

static int on_data(void *ctx, const char *db, const uint8_t *p, size_t n)
{
    out *o = ctx;
    char *dst = strcmp(db, "shop") == 0 ? o->shop : strcmp(db, "crm") == 0 ? o->crm : NULL;
    if (!dst || strlen(dst) + n >= sizeof(o->shop))
        return -EINVAL;
    strncat(dst, (const char *)p, n);
    return 0;
}

static int on_end(void *ctx, const char *db)
{
    (void)ctx;
    (void)db;
    return 0;
}

static void positions(void **state)
{
    static const char dump[] = HEADER SHOP CRM FOOTER;
    static const bk_sqlsplit_ops ops = { on_data, on_end };
    for (size_t piece = 1; piece <= sizeof(dump); piece++) {
        out o = { "", "" };
        bk_sqlsplit s;
        bk_sqlsplit_init(&s, &ops, &o);
        for (size_t at = 0; at < sizeof(dump) - 1; at += piece) {
            size_t k = sizeof(dump) - 1 - at < piece ? sizeof(dump) - 1 - at : piece;
            assert_int_equal(bk_sqlsplit_feed(&s, (const uint8_t *)dump + at, k), 0);
        }
        assert_int_equal(bk_sqlsplit_finish(&s), 0);
        assert_string_equal(o.shop, HEADER SHOP FOOTER);
        assert_string_equal(o.crm, HEADER CRM FOOTER);
        assert_non_null(s.binlog_file);
        assert_string_equal(s.binlog_file, "binlog.000042");
        assert_int_equal(s.binlog_pos, 987654321);
        assert_non_null(s.gtid);   /* the one outside the routine body */
        assert_string_equal(s.gtid, "0-1-5,1-2-77");
        bk_sqlsplit_free(&s);
    }
}

static void no_positions(void **state)
{
    static const bk_sqlsplit_ops ops = { on_data, on_end };
    static const char *const bad[] = {
        "-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=;\n",
        "-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=12 ;\n",
        "-- CHANGE MASTER TO MASTER_LOG_FILE='', MASTER_LOG_POS=12;\n",
        "-- CHANGE MASTER TO MASTER_LOG_FILE='a\\'b', MASTER_LOG_POS=12;\n",
        "-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001' MASTER_LOG_POS=12;\n",
        "-- SET GLOBAL gtid_slave_pos='0-1-5'\n",
        "--  SET GLOBAL gtid_slave_pos='0-1-5';\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char dump[2048];
        snprintf(dump, sizeof(dump), "/*!40101 SET NAMES utf8mb4 */;\n%s%s%s", bad[i], SHOP, FOOTER);
        out o = { "", "" };
        bk_sqlsplit s;
        bk_sqlsplit_init(&s, &ops, &o);
        assert_int_equal(bk_sqlsplit_feed(&s, (const uint8_t *)dump, strlen(dump)), 0);
        assert_int_equal(bk_sqlsplit_finish(&s), 0);
        if (s.binlog_file || s.gtid)
            fail_msg("case %zu taken for a position: %s", i, bad[i]);
        bk_sqlsplit_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(positions),
        cmocka_unit_test(no_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
