#!/bin/bash
# MySQL/MariaDB: --mysql backups of two databases (with the dump's binary log and GTID
# position recorded), a second night with 1% of the rows changed, a restore of the first night into a fresh server compared table by table
# (CHECKSUM TABLE) and definition by definition; failures leave no snapshot.
# Needs a running server: MYSQL_DEFAULTS_FILE (scripts/test.sh starts one); a second,
# fresh server is started here for the restore.
source "$(dirname "$0")/lib.sh"
: "${MYSQL_DEFAULTS_FILE:?MYSQL_DEFAULTS_FILE must name the client config of the test server}"
SCRIPTS=$HERE/../../scripts
DB="arca_e2e_$$"
SRC=$MYSQL_DEFAULTS_FILE
sql() { mariadb --defaults-file="$1" -N -B -e "$2"; }
cleanup_mysql() {
    sql "$SRC" "DROP DATABASE IF EXISTS ${DB}_shop; DROP DATABASE IF EXISTS ${DB}_crm" || true
    [ -d "$T/mdb2" ] && "$SCRIPTS/mariadb-server.sh" stop "$T/mdb2" >/dev/null 2>&1 || true
}
# (cleanup looks at the exit status to keep the scratch of a failed run: give it the test's)
trap 'rc=$?; cleanup_mysql; set +e; (exit $rc); cleanup' EXIT

# two databases: integers, text, blobs, dates, a view, a trigger, a routine, an event
sql "$SRC" "
CREATE DATABASE ${DB}_shop; CREATE DATABASE ${DB}_crm;
USE ${DB}_shop;
CREATE TABLE orders (id INT PRIMARY KEY, customer INT NOT NULL, status VARCHAR(16), placed DATE,
                     amount DECIMAL(10,2), note TEXT, payload BLOB, updated DATETIME(6));
INSERT INTO orders SELECT seq, seq % 5000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'returned'),
    DATE('2024-01-01') + INTERVAL (seq % 700) DAY, (seq * 37 % 100000) / 100,
    CONCAT('order note ', seq, ' ', REPEAT('x', seq % 60)), UNHEX(SHA2(seq, 256)),
    TIMESTAMP('2024-06-01 12:00:00.123456') + INTERVAL seq SECOND FROM seq_1_to_150000;
CREATE TABLE items (order_id INT, line INT, sku CHAR(12), qty SMALLINT, PRIMARY KEY (order_id, line));
INSERT INTO items SELECT seq DIV 3, seq % 3, LPAD(HEX(seq), 12, '0'), seq % 7 FROM seq_1_to_90000;
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 900;
CREATE TRIGGER stamp BEFORE UPDATE ON orders FOR EACH ROW SET NEW.updated = NOW(6);
DELIMITER //
CREATE PROCEDURE total(IN c INT) BEGIN SELECT SUM(amount) FROM orders WHERE customer = c; END //
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN 2 * x //
DELIMITER ;
USE ${DB}_crm;
CREATE TABLE contacts (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100), born DATE, photo MEDIUMBLOB);
INSERT INTO contacts (name, born, photo) SELECT CONCAT('person ', seq), DATE('1950-01-01') + INTERVAL seq DAY,
    IF(seq % 10 = 0, RANDOM_BYTES(1024), NULL) FROM seq_1_to_20000;
CREATE TABLE empty_table (x INT);
"

state() {   # state DEFAULTS: checksums of every table and the definitions
    local f=$1
    for d in ${DB}_shop ${DB}_crm; do
        for t in $(sql "$f" "SELECT table_name FROM information_schema.tables WHERE table_schema='$d' AND table_type='BASE TABLE' ORDER BY 1"); do
            sql "$f" "CHECKSUM TABLE $d.$t EXTENDED"
        done
        sql "$f" "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema='$d' ORDER BY 1"
        sql "$f" "SELECT trigger_name, action_statement FROM information_schema.triggers WHERE trigger_schema='$d' ORDER BY 1"
        sql "$f" "SELECT routine_name, routine_type, routine_definition FROM information_schema.routines WHERE routine_schema='$d' ORDER BY 1"
    done
}

R=$(new_repo repo)
arca_init "$R" >/dev/null
snaps() { arca -r "$R" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# the binary log's position just before the dump (nothing writes in between): the snapshot
# records it (the test servers log; a server that does not, or MySQL, gives none)
pos=$(sql "$SRC" "SHOW MASTER STATUS" | cut -f1,2)
gtid=$(sql "$SRC" "SELECT @@gtid_binlog_pos")
[ -n "$pos" ] || fail "the test server writes no binary log (scripts/mariadb-server.sh)"
arca -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop,${DB}_crm" --tag night1 \
    --json > "$T/b1.json"
state "$SRC" > "$T/state1"
arca -r "$R" snapshots --json > "$T/pos.json"
[ "$(json_get "$T/pos.json" 'j[-1]["mysql"]["binlog_file"] + "\t" + str(j[-1]["mysql"]["binlog_pos"])')" = "$pos" ] ||
    fail "the recorded binlog position is not the dump's ($pos): $(json_get "$T/pos.json" 'j[-1].get("mysql")')"
[ "$(json_get "$T/pos.json" 'j[-1]["mysql"]["gtid"]')" = "$gtid" ] ||
    fail "the recorded GTID position is not the dump's ($gtid): $(json_get "$T/pos.json" 'j[-1].get("mysql")')"
size1=$(repo_size "$R")
arca -r "$R" ls latest /mysql > "$T/ls1"
grep -q "/mysql/${DB}_shop.sql$" "$T/ls1" && grep -q "/mysql/${DB}_crm.sql$" "$T/ls1" || fail "one file per database: $(cat "$T/ls1")"
arca -r "$R" snapshots --json > "$T/s1.json"
[ "$(json_get "$T/s1.json" 'j[0]["chunker"]["avg"]')" = 8192 ] || fail "dump chunking profile not recorded"

# the second night: 1% of the rows change (updates hit related rows), some are added
sql "$SRC" "
USE ${DB}_shop;
UPDATE ${DB}_shop.orders SET status = 'refunded', note = CONCAT(note, ' refunded') WHERE id BETWEEN 40001 AND 40750 OR id BETWEEN 120001 AND 120750;
INSERT INTO ${DB}_shop.orders (id, customer, status, placed, amount, note) SELECT 150000 + seq, 1, 'new', '2025-01-01', 1, 'late' FROM seq_1_to_300;
UPDATE ${DB}_crm.contacts SET name = CONCAT(name, ' jr') WHERE id BETWEEN 5000 AND 5200;"
arca -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop,${DB}_crm" --tag night2 \
    --json > "$T/b2.json"
size2=$(repo_size "$R")
growth=$((size2 - size1))
echo "  first night $size1 bytes, second night +$growth bytes" >&2
# with 1 MiB file chunks the second night costs about half the first; dump chunks keep it small
[ $((growth * 5)) -lt "$size1" ] || fail "second night added $growth bytes to $size1 (dump chunking lost?)"

# restore the first night into a fresh server: the same tables and definitions
MARIADB_QUIET=1 "$SCRIPTS/mariadb-server.sh" start "$T/mdb2" > "$T/mdb2.env"
DST=$T/mdb2/client.cnf
first=$(json_get "$T/s1.json" 'j[0]["short_id"]')
arca -r "$R" restore "$first" --mysql --mysql-defaults-file "$DST" --json > "$T/r.json"
[ "$(json_get "$T/r.json" 'j["ok"] and len(j["databases"]) == 2')" = True ] || fail "restore report: $(cat "$T/r.json")"
state "$DST" > "$T/state-restored"
diff "$T/state1" "$T/state-restored" || fail "restored databases differ from the first night"
# one database alone, over the existing one; dump | mariadb works too
arca -r "$R" restore latest --mysql --databases "${DB}_crm" --mysql-defaults-file "$DST" >/dev/null
arca -r "$R" dump latest "/mysql/${DB}_shop.sql" | mariadb --defaults-file="$DST"
[ "$(sql "$DST" "SELECT COUNT(*) FROM ${DB}_shop.orders WHERE status = 'refunded'")" = 1500 ] || fail "dump | mariadb"
expect_rc 1 arca -r "$R" restore latest --mysql --databases nosuchdb --mysql-defaults-file "$DST"
# a backup-only key backs up the databases too (docs/security.md); the full key restores them
printf 'database backups only\n' > "$T/pass-bo"
arca -r "$R" key add --backup-only --new-password-file "$T/pass-bo" >/dev/null
arca -r "$R" --password-file "$T/pass-bo" backup --mysql --mysql-defaults-file "$SRC" \
    --databases "${DB}_shop,${DB}_crm" --tag bo -q || fail "backup --mysql with a backup-only key"
state "$SRC" > "$T/state-bo"
arca -r "$R" restore latest --tag bo --mysql --mysql-defaults-file "$DST" >/dev/null ||
    fail "restore of the backup-only key's dumps"
state "$DST" > "$T/state-bo-restored"
diff "$T/state-bo" "$T/state-bo-restored" || fail "the backup-only key's dumps restored differ"

# failures: no snapshot, a clear message, exit 1
n=$(snaps)
printf '[client]\nsocket=%s\nuser=root\npassword=wrong\n' "$(sed -n 's/^socket=//p' "$SRC")" > "$T/wrong.cnf"
rc=0; arca -r "$R" backup --mysql --mysql-defaults-file "$T/wrong.cnf" 2> "$T/err1" || rc=$?
[ $rc = 1 ] && grep -qi "denied" "$T/err1" || fail "wrong password: exit $rc, $(cat "$T/err1")"
rc=0; PATH=/nonexistent "$ARCA" -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop" 2> "$T/err2" || rc=$?
[ $rc = 1 ] && grep -q "mariadb-dump" "$T/err2" || fail "missing dump program: exit $rc, $(cat "$T/err2")"
rc=0; arca -r "$R" backup --mysql --mysql-dump-command /nonexistent/dump --databases x 2> "$T/err3" || rc=$?
[ $rc = 1 ] || fail "bad dump command: exit $rc"
# killed midway, after 80% of the output (its uploaded chunks are kept for the next run)
total=$(arca -r "$R" dump latest "/mysql/${DB}_shop.sql" | wc -c)
cat > "$T/killed-dump" <<SH
#!/bin/sh
mariadb-dump "\$@" > "$T/killed-dump.sql" && head -c $((total * 8 / 10)) "$T/killed-dump.sql"
kill -9 \$\$
SH
cat > "$T/short-dump" <<SH
#!/bin/sh
mariadb-dump "\$@" > "$T/short-dump.sql" && head -c $((total / 2)) "$T/short-dump.sql"
SH
chmod +x "$T/killed-dump" "$T/short-dump"
sql "$SRC" "UPDATE ${DB}_shop.orders SET amount = amount + 1"   # a new night: everything changed
s3=$(repo_size "$R")
rc=0; arca -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop" \
    --mysql-dump-command "$T/killed-dump" 2> "$T/err4" || rc=$?
[ $rc = 1 ] && grep -q "killed by signal 9" "$T/err4" || fail "killed dump: exit $rc, $(cat "$T/err4")"
rc=0; arca -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop" \
    --mysql-dump-command "$T/short-dump" 2> "$T/err5" || rc=$?
[ $rc = 1 ] && grep -qi "cut short" "$T/err5" || fail "short dump: exit $rc, $(cat "$T/err5")"
[ "$(snaps)" = "$n" ] || fail "a failed dump left a snapshot"
s4=$(repo_size "$R")
arca -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop" >/dev/null
s5=$(repo_size "$R")
# the complete run only adds what the killed one had not uploaded (about 20%)
[ $(( (s5 - s4) * 2 )) -lt $((s4 - s3)) ] || fail "chunks of the failed run not reused: failed +$((s4 - s3)), next +$((s5 - s4))"
arca -r "$R" check --read-data >/dev/null || fail "check"
pass
