/* test-xbstream.c - streams built chunk by chunk as mariadb-backup writes them (payload
 * chunks, end chunks, the redo log beside a table, the binary log position file), fed in
 * pieces of every size: the position read back, and every way a stream can be broken
 * (cut inside a header or a payload, a file not ended, a bad magic, an unknown type, a
 * malformed position) refused; an empty file is an end chunk alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xbstream.h"

typedef struct stream {
    uint8_t b[8192];
    size_t n;
} stream;

static void put(stream *s, const void *p, size_t n)
{
    assert_true(s->n + n <= sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void put_le(stream *s, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(s, &c, 1);
    }
}

static void head(stream *s, char type, const char *path)
{
    put(s, "XBSTCK01", 8);
    put(s, "\0", 1);
    put(s, &type, 1);
    put_le(s, strlen(path), 4);
    put(s, path, strlen(path));
}

static void payload(stream *s, const char *path, uint64_t off, const char *data)
{
    head(s, 'P', path);
    put_le(s, strlen(data), 8);
    put_le(s, off, 8);
    put_le(s, 0x12345678, 4);   /* (checksums are mbstream's to check) */
    put(s, data, strlen(data));
}

static void end(stream *s, const char *path)
{
    head(s, 'E', path);
}

/* a backup: a table in two chunks with the redo log between them, then the position */
static void backup(stream *s, const char *info)
{
    s->n = 0;
    payload(s, "shop/t.ibd", 0, "page one ");
    payload(s, "ib_logfile0", 0, "redo");
    payload(s, "shop/t.ibd", 9, "page two");
    end(s, "shop/t.ibd");
    end(s, "mysql/general_log.CSV");   /* an empty file */
    if (info) {
        payload(s, "xtrabackup_binlog_info", 0, info);
        end(s, "xtrabackup_binlog_info");
    }
    end(s, "ib_logfile0");
}

static int feed(const stream *s, size_t len, size_t piece, bk_xbs_pos *pos, bool *has)
{
    bk_xbs x;
    bk_xbs_init(&x);
    int r = 0;
    for (size_t at = 0; r == 0 && at < len; at += piece)
        r = bk_xbs_feed(&x, s->b + at, len - at < piece ? len - at : piece);
    if (r == 0)
        r = bk_xbs_finish(&x, pos, has);
    bk_xbs_free(&x);
    return r;
}

static void position(void **state)
{
    (void)state;
    stream s;
    backup(&s, "binlog.000042\t987654\t0-1-77,1-2-5\n");
    for (size_t piece = 1; piece <= s.n; piece++) {
        bk_xbs_pos pos;
        bool has;
        assert_int_equal(feed(&s, s.n, piece, &pos, &has), 0);
        assert_true(has);
        assert_string_equal(pos.file, "binlog.000042");
        assert_int_equal(pos.pos, 987654);
        assert_string_equal(pos.gtid, "0-1-77,1-2-5");
    }
    /* MySQL's form, without a GTID; the newer file name */
    backup(&s, "mysql-bin.000003\t385");
    bk_xbs_pos pos;
    bool has;
    assert_int_equal(feed(&s, s.n, s.n, &pos, &has), 0);
    assert_true(has);
    assert_string_equal(pos.file, "mysql-bin.000003");
    assert_int_equal(pos.pos, 385);
    assert_string_equal(pos.gtid, "");
    s.n = 0;
    payload(&s, "mariadb_backup_binlog_info", 0, "binlog.000007\t4\t");
    end(&s, "mariadb_backup_binlog_info");
    assert_int_equal(feed(&s, s.n, 3, &pos, &has), 0);
    assert_true(has);
    assert_string_equal(pos.file, "binlog.000007");
    /* no binary log on the server: no position, and no error */
    backup(&s, NULL);
    assert_int_equal(feed(&s, s.n, 5, &pos, &has), 0);
    assert_false(has);
}

static void broken(void **state)
{
    (void)state;
    stream s;
    bk_xbs_pos pos;
    bool has;
    backup(&s, "binlog.000042\t987654\t0-1-77\n");
    /* cut anywhere but at a chunk boundary after the last end: not whole */
    for (size_t len = 0; len < s.n; len++) {
        int r = feed(&s, len, 1, &pos, &has);
        if (r != -EPIPE && r != -EBADMSG)
            fail_msg("a stream cut at %zu of %zu: %d", len, s.n, r);
    }
    /* a bad magic, an unknown type, a path too long */
    stream b = s;
    b.b[3] = 'X';
    assert_int_equal(feed(&b, b.n, b.n, &pos, &has), -EBADMSG);
    b = s;
    b.b[9] = 'S';
    assert_int_equal(feed(&b, b.n, b.n, &pos, &has), -EBADMSG);
    b = s;
    b.b[12] = 1;   /* path length 65546 */
    assert_int_equal(feed(&b, b.n, b.n, &pos, &has), -EBADMSG);
    /* a file begun, never ended */
    b.n = 0;
    payload(&b, "shop/t.ibd", 0, "x");
    assert_int_equal(feed(&b, b.n, b.n, &pos, &has), -EPIPE);
    /* nothing at all */
    assert_int_equal(feed(&b, 0, 1, &pos, &has), -EBADMSG);
    /* a malformed position, or one out of order */
    static const char *const bad[] = { "binlog.000042", "\t12\t0-1-2", "binlog.000042\tx\t",
                                       "binlog.000042\t12\t0-1-2\nmore", "" };
    for (size_t i = 0; bad[i][0]; i++) {
        backup(&b, bad[i]);
        if (feed(&b, b.n, b.n, &pos, &has) != -EPROTO)
            fail_msg("position %zu taken: %s", i, bad[i]);
    }
    b.n = 0;
    payload(&b, "xtrabackup_binlog_info", 5, "binlog.000001\t4");
    end(&b, "xtrabackup_binlog_info");
    assert_int_equal(feed(&b, b.n, b.n, &pos, &has), -EBADMSG);
}

/* a real stream's first chunks (tests/fuzz/corpus/xbstream/small.xb, cut from
 * mariadb-backup 10.11's output) */
static void real(void **state)
{
    (void)state;
    FILE *f = fopen(BK_TEST_DATA_DIR "/../fuzz/corpus/xbstream/small.xb", "rb");
    assert_non_null(f);
    stream s;
    s.n = fread(s.b, 1, sizeof(s.b), f);
    fclose(f);
    bk_xbs_pos pos;
    bool has;
    assert_int_equal(feed(&s, s.n, 100, &pos, &has), 0);
    assert_true(has);
    assert_string_equal(pos.file, "binlog.000001");
    assert_int_equal(pos.pos, 871);
    assert_string_equal(pos.gtid, "0-1-3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(position),
        cmocka_unit_test(broken),
        cmocka_unit_test(real),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
