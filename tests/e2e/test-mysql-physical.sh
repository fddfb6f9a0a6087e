#!/bin/bash
# backup --mysql-physical and restore --mysql-physical against the test server (a MariaDB
# with its binary log on): the stream of mariadb-backup stored with the binary log position
# it recorded; restored into a new directory and prepared, a server started on it has the
# checksums of the moment of the backup; with a workload running while the binary logs are
# archived every two seconds (rotated, and purged from the server once archived), an
# accidental DROP TABLE, and a replay onto that server until the second before it: the
# checksums recorded at that second.  A backup program that fails or a stream cut short
# writes no snapshot; a target that is not empty is refused before anything is written.
# Needs MYSQL_DEFAULTS_FILE of a server that logs (scripts/mariadb-server.sh: the default),
# on this host (mariadb-backup reads its datadir), and mariadb-backup.
source "$(dirname "$0")/lib.sh"
: "${MYSQL_DEFAULTS_FILE:?MYSQL_DEFAULTS_FILE must name the client config of the test server}"
SCRIPTS=$HERE/../../scripts
SRC=$MYSQL_DEFAULTS_FILE
DB="arca_phys_$$"
sql() { mariadb --defaults-file="$1" -N -B -e "$2"; }
WORKLOAD=
stop_all() {
    [ -n "$WORKLOAD" ] && kill "$WORKLOAD" 2>/dev/null && wait "$WORKLOAD" 2>/dev/null
    [ -d "$T/mdb3" ] && "$SCRIPTS/mariadb-server.sh" stop "$T/mdb3" >/dev/null 2>&1
    return 0
}
trap 'rc=$?; stop_all; sql "$SRC" "DROP DATABASE IF EXISTS $DB" || true; (exit $rc); cleanup' EXIT
[ "$(sql "$SRC" "SELECT @@log_bin")" = 1 ] || fail "the test server keeps no binary log"
command -v mariadb-backup > /dev/null || fail "mariadb-backup is not installed"
state() { sql "$1" "CHECKSUM TABLE $DB.orders, $DB.items" 2>/dev/null || true; }

sql "$SRC" "CREATE DATABASE $DB; USE $DB;
  CREATE TABLE $DB.orders (id INT PRIMARY KEY, amount INT, note TEXT) ENGINE=InnoDB;
  CREATE TABLE $DB.items (id INT PRIMARY KEY, name TEXT) ENGINE=InnoDB;
  INSERT INTO $DB.orders SELECT seq, seq % 97, CONCAT('order ', seq) FROM seq_1_to_20000;
  INSERT INTO $DB.items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_500;"
R=$(new_repo repo)
arca_init "$R" >/dev/null

# the physical backup, and its binary log position
state "$SRC" > "$T/state-backup"
arca -r "$R" --json backup --mysql-physical --mysql-defaults-file "$SRC" > "$T/b1.json" ||
    fail "backup --mysql-physical"
arca -r "$R" --json snapshots > "$T/s1.json"
python3 - "$T/s1.json" "$(sql "$SRC" "SHOW MASTER STATUS" | cut -f1)" <<'EOF' || fail "the snapshot: $(cat "$T/s1.json")"
import json, sys
s = json.load(open(sys.argv[1]))[-1]
assert s["paths"] == ["/mysql-physical"], s["paths"]
m = s["mysql"]
assert m["binlog_file"] == sys.argv[2] and m["binlog_pos"] > 4 and m.get("gtid"), m
EOF
SNAP=$(json_get "$T/b1.json" 'j["short_id"]')
arca -r "$R" ls "$SNAP" /mysql-physical > "$T/ls.txt"
contains -x /mysql-physical/backup.xbstream < "$T/ls.txt" || fail "the stream's file: $(cat "$T/ls.txt")"
# what mbstream extracts from it is what mariadb-backup streamed: it holds the tables
mkdir "$T/x"
arca -r "$R" dump "$SNAP" /mysql-physical/backup.xbstream > "$T/stream.xb"
mbstream -x -C "$T/x" < "$T/stream.xb" || fail "mbstream cannot read the stored stream"
[ -f "$T/x/$DB/orders.frm" ] && [ -f "$T/x/xtrabackup_binlog_info" ] || fail "the stream lacks files"
rm -rf "$T/x" "$T/stream.xb"

# the day: a workload writing while the logs are archived every two seconds (rotated each
# time), and those archived purged from the server
(
    i=0
    while [ ! -e "$T/stop" ]; do
        i=$((i + 1))
        sql "$SRC" "UPDATE $DB.orders SET amount = amount + 1 WHERE id % 50 = $((i % 50));
          INSERT INTO $DB.orders VALUES ($((100000 + i)), $i, 'during the archive');
          UPDATE $DB.items SET name = CONCAT(name, '+') WHERE id = $((i % 500 + 1))" || exit 1
        sleep 0.1
    done
) &
WORKLOAD=$!
for k in 1 2 3 4; do
    sleep 2
    arca -r "$R" backup --mysql-binlogs --flush --mysql-defaults-file "$SRC" -q ||
        fail "archive $k during the workload"
    last=$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["mysql"]["binlogs"][-1]["name"])')
    sql "$SRC" "PURGE BINARY LOGS TO '$last'"
done
touch "$T/stop"   # (it ends between statements: none is left running)
wait "$WORKLOAD" || fail "the workload failed"
WORKLOAD=
[ "$(sql "$SRC" "SELECT COUNT(*) FROM $DB.orders WHERE note = 'during the archive'")" -gt 10 ] ||
    fail "the workload wrote too little"
# the moment to go back to, and the accident a second after it
state "$SRC" > "$T/state-before"
sleep 1.2
until=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1.2
sql "$SRC" "DROP TABLE $DB.items; UPDATE $DB.orders SET note = 'gone'"
arca -r "$R" backup --mysql-binlogs --flush --mysql-defaults-file "$SRC" -q || fail "the last archive"

# restored into a new directory and prepared: a datadir of the moment of the backup
mkdir "$T/mdb3"
arca -r "$R" restore "$SNAP" --mysql-physical --target "$T/mdb3/data" -q || fail "restore --mysql-physical"
[ -f "$T/mdb3/data/xtrabackup_checkpoints" ] || fail "no datadir restored"
contains 'backup_type = log-applied' < "$T/mdb3/data/xtrabackup_checkpoints" || fail "the datadir is not prepared"
MARIADB_QUIET=1 "$SCRIPTS/mariadb-server.sh" start "$T/mdb3" > "$T/mdb3.env" || fail "no server starts on the restored datadir"
DST=$T/mdb3/client.cnf
state "$DST" > "$T/state-restored"
diff "$T/state-backup" "$T/state-restored" || fail "the restored datadir differs from the moment of the backup"

# the plan, then the replay onto it until the second before the accident
arca -r "$R" restore "$SNAP" --mysql --until "$until" --dry-run > "$T/plan.txt" || fail "the plan"
contains -E "^would replay onto the server restored from the physical backup $SNAP .* replay [^ ]+ to [^ ]+ up to ${until/ /T}" < "$T/plan.txt" ||
    fail "the plan: $(cat "$T/plan.txt")"
arca -r "$R" --json restore "$SNAP" --mysql --until "$until" --mysql-defaults-file "$DST" > "$T/pitr.json" ||
    fail "restore SNAPSHOT --mysql --until"
[ "$(json_get "$T/pitr.json" 'j["ok"], j["changed"], j["plan"]["physical"]')" = "(True, True, True)" ] ||
    fail "the replay's report: $(cat "$T/pitr.json")"
state "$DST" > "$T/state-replayed"
diff "$T/state-before" "$T/state-replayed" || fail "the databases replayed until $until differ from their state then"

# refused before anything is written: a target not empty, a snapshot with no physical
# backup, a time before the backup
expect_rc 1 arca -r "$R" restore "$SNAP" --mysql-physical --target "$T/mdb3/data" 2> "$T/nonempty.err"
contains 'is not empty' < "$T/nonempty.err" || fail "a target not empty: $(cat "$T/nonempty.err")"
expect_rc 1 arca -r "$R" restore latest --mysql-physical --target "$T/other" 2> "$T/none.err"
contains 'holds no physical backup' < "$T/none.err" || fail "no physical backup: $(cat "$T/none.err")"
[ ! -e "$T/other" ] || fail "a restore that could not run made its target"
expect_rc 1 arca -r "$R" restore "$SNAP" --mysql --until "2001-01-01 00:00:00" --dry-run 2>/dev/null
expect_rc 2 arca -r "$R" restore "$SNAP" --mysql-physical 2>/dev/null
expect_rc 2 arca -r "$R" restore "$SNAP" --mysql-physical --mysql --target "$T/y" 2>/dev/null
expect_rc 2 arca -r "$R" restore "$SNAP" --mysql-physical --databases "$DB" --target "$T/y" 2>/dev/null
expect_rc 2 arca -r "$R" backup --mysql-physical /etc 2>/dev/null
expect_rc 2 arca -r "$R" backup --mysql-physical --databases "$DB" 2>/dev/null

# a backup program that fails, and a stream cut short: no snapshot
n=$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_rc 1 arca -r "$R" backup --mysql-physical --mysql-backup-command false 2> "$T/false.err"
contains 'the physical backup failed' < "$T/false.err" || fail "a failing program: $(cat "$T/false.err")"
# of its many lines of progress, the one that says what went wrong
cat > "$T/err.sh" <<'EOF'
#!/bin/sh
printf '[00] copying ibdata1\n[00] ERROR: cannot open ./ibdata1\n[00] done\n' >&2
exit 3
EOF
chmod +x "$T/err.sh"
expect_rc 1 arca -r "$R" backup --mysql-physical --mysql-backup-command "$T/err.sh" 2> "$T/err.err"
contains -F 'exited with status 3: [00] ERROR: cannot open ./ibdata1' < "$T/err.err" ||
    fail "the error line of a failing program: $(cat "$T/err.err")"
cat > "$T/cut.sh" <<'EOF'
#!/bin/sh
# mariadb-backup, its stream cut after 200 KB
mariadb-backup "$@" 2>/dev/null | dd bs=1k count=200 iflag=fullblock status=none
EOF
chmod +x "$T/cut.sh"
expect_rc 1 arca -r "$R" backup --mysql-physical --mysql-defaults-file "$SRC" --mysql-backup-command "$T/cut.sh" 2> "$T/cut.err"
contains 'cut short' < "$T/cut.err" || fail "a stream cut short: $(cat "$T/cut.err")"
[ "$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$n" ] ||
    fail "a failed physical backup wrote a snapshot"
arca -r "$R" check -q || fail "check after the failed backups"
pass
