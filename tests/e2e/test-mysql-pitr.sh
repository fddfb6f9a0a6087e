#!/bin/bash
# restore --mysql --until (and --until-gtid): a nightly dump (with its binary log position), a workload, the
# binary logs archived, an accidental DROP TABLE at a known second; a restore until just
# before it, into a fresh server, gives the checksums recorded at that moment, for all the
# databases of the dump (not those it does not hold) and for one (--databases); --dry-run
# prints the plan and loads nothing; the dump can be named; a time the archived logs do not
# reach, or a base that is no full backup, is an error before anything is loaded.
# Needs MYSQL_DEFAULTS_FILE of a server that logs (scripts/mariadb-server.sh: the default).
source "$(dirname "$0")/lib.sh"
: "${MYSQL_DEFAULTS_FILE:?MYSQL_DEFAULTS_FILE must name the client config of the test server}"
SCRIPTS=$HERE/../../scripts
SRC=$MYSQL_DEFAULTS_FILE
DB="arca_pitr_$$"
sql() { mariadb --defaults-file="$1" -N -B -e "$2"; }
stop_dst() { [ -d "$T/mdb2" ] && "$SCRIPTS/mariadb-server.sh" stop "$T/mdb2" >/dev/null 2>&1 || true; }
trap 'rc=$?; stop_dst; sql "$SRC" "DROP DATABASE IF EXISTS ${DB}_shop; DROP DATABASE IF EXISTS ${DB}_crm; DROP DATABASE IF EXISTS ${DB}_other" || true; (exit $rc); cleanup' EXIT
[ "$(sql "$SRC" "SELECT @@log_bin")" = 1 ] || fail "the test server keeps no binary log"
# checksums of both databases' tables
state() {
    sql "$1" "CHECKSUM TABLE ${DB}_shop.orders, ${DB}_shop.items, ${DB}_crm.contacts" 2>/dev/null || true
}

sql "$SRC" "CREATE DATABASE ${DB}_shop; CREATE DATABASE ${DB}_crm; USE ${DB}_shop;
  CREATE TABLE ${DB}_shop.orders (id INT PRIMARY KEY, amount INT, note TEXT);
  CREATE TABLE ${DB}_shop.items (id INT PRIMARY KEY, name TEXT);
  CREATE TABLE ${DB}_crm.contacts (id INT PRIMARY KEY, name TEXT);
  INSERT INTO ${DB}_shop.orders SELECT seq, seq % 97, CONCAT('order ', seq) FROM seq_1_to_2000;
  INSERT INTO ${DB}_shop.items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_500;
  INSERT INTO ${DB}_crm.contacts SELECT seq, CONCAT('contact ', seq) FROM seq_1_to_300;"
R=$(new_repo repo)
arca_init "$R" >/dev/null
arca -r "$R" backup --mysql --mysql-defaults-file "$SRC" --databases "${DB}_shop,${DB}_crm" -q
# a database the dump does not hold, written to after it: its events are not replayed
sql "$SRC" "CREATE DATABASE ${DB}_other; CREATE TABLE ${DB}_other.t (id INT PRIMARY KEY); INSERT INTO ${DB}_other.t VALUES (1)"

# the day's work after the dump, in both databases
sql "$SRC" "USE ${DB}_shop; UPDATE ${DB}_shop.orders SET amount = amount + 1 WHERE id % 10 = 0;
  INSERT INTO ${DB}_shop.orders SELECT 2000 + seq, 1, 'later' FROM seq_1_to_100;
  UPDATE ${DB}_crm.contacts SET name = CONCAT(name, ' jr') WHERE id < 50;"
sql "$SRC" "FLUSH BINARY LOGS"
sql "$SRC" "DELETE FROM ${DB}_shop.items WHERE id > 450; INSERT INTO ${DB}_crm.contacts VALUES (1000, 'new')"
state "$SRC" > "$T/state-before"
# the accident's GTID: the one after the server's last (one domain, one server here)
g=$(sql "$SRC" "SELECT @@gtid_binlog_pos")
[[ "$g" =~ ^([0-9]+)-([0-9]+)-([0-9]+)$ ]] || fail "unexpected GTID position $g"
accident_gtid="${BASH_REMATCH[1]}-${BASH_REMATCH[2]}-$((BASH_REMATCH[3] + 1))"
# the moment to go back to: a second after the last change, a second before the accident
sleep 1.2
until=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1.2
sql "$SRC" "DROP TABLE ${DB}_shop.items; UPDATE ${DB}_crm.contacts SET name = 'gone'"
# archived, the log the server was writing included
arca -r "$R" backup --mysql-binlogs --flush --mysql-defaults-file "$SRC" -q || fail "the binary logs archived"

MARIADB_QUIET=1 "$SCRIPTS/mariadb-server.sh" start "$T/mdb2" > "$T/mdb2.env"
DST=$T/mdb2/client.cnf
# the plan, and nothing loaded
arca -r "$R" restore --mysql --until "$until" --dry-run --mysql-defaults-file "$DST" > "$T/plan.txt" ||
    fail "restore --until --dry-run"
contains -E "^would load snapshot [0-9a-f]{8} .* then replay [^ ]+ .*up to ${until/ /T}" < "$T/plan.txt" ||
    fail "the plan: $(cat "$T/plan.txt")"
[ -z "$(sql "$DST" "SHOW DATABASES LIKE '${DB}%'")" ] || fail "the dry run loaded something"
arca -r "$R" --json restore --mysql --until "$until" --dry-run > "$T/plan.json"
[ "$(json_get "$T/plan.json" 'j["dry_run"], j["plan"]["start_position"] > 0, len(j["plan"]["binlogs"]) >= 2')" = "(True, True, True)" ] ||
    fail "the JSON plan: $(cat "$T/plan.json")"

# the restore: the state of that second, not the accident
arca -r "$R" restore --mysql --until "$until" --mysql-defaults-file "$DST" -q || fail "restore --until"
state "$DST" > "$T/state-restored"
diff "$T/state-before" "$T/state-restored" || fail "the databases restored until $until differ from their state then"
[ -z "$(sql "$DST" "SHOW DATABASES LIKE '${DB}_other'")" ] || fail "a database the dump did not hold was replayed"

# one database alone, into a server that has it already: the same for it
sql "$DST" "DROP DATABASE ${DB}_crm"
arca -r "$R" restore --mysql --until "$until" --databases "${DB}_crm" --mysql-defaults-file "$DST" -q ||
    fail "restore --until --databases"
diff <(grep "${DB}_crm" "$T/state-before") <(state "$DST" | grep "${DB}_crm") || fail "--databases: crm differs"

# --until-gtid: the transactions before the accident's GTID, not it
sql "$DST" "DROP DATABASE ${DB}_shop; DROP DATABASE ${DB}_crm"
arca -r "$R" restore --mysql --until-gtid "$accident_gtid" --dry-run > "$T/plan-gtid.txt" || fail "the GTID plan"
contains "up to GTID $accident_gtid (not included)" < "$T/plan-gtid.txt" || fail "the GTID plan: $(cat "$T/plan-gtid.txt")"
arca -r "$R" restore --mysql --until-gtid "$accident_gtid" --mysql-defaults-file "$DST" -q ||
    fail "restore --until-gtid"
state "$DST" > "$T/state-gtid"
diff "$T/state-before" "$T/state-gtid" || fail "the databases restored until GTID $accident_gtid differ from their state before it"
expect_rc 2 arca -r "$R" restore --mysql --until-gtid 0-1 2>/dev/null
expect_rc 2 arca -r "$R" restore --mysql --until-gtid "$accident_gtid" --until "$until" 2>/dev/null
expect_rc 1 arca -r "$R" restore --mysql --until-gtid "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}-999999999" --dry-run 2> "$T/gtid-late.err"
contains 'archived binary logs end at' < "$T/gtid-late.err" || fail "a GTID past the archive: $(cat "$T/gtid-late.err")"

# a time the archived logs do not reach: an error, and nothing loaded
sql "$SRC" "INSERT INTO ${DB}_crm.contacts VALUES (2000, 'unarchived')"
sleep 1.2
late=$(date '+%Y-%m-%d %H:%M:%S')
sql "$DST" "DROP DATABASE ${DB}_crm"
rc=0
arca -r "$R" restore --mysql --until "$late" --mysql-defaults-file "$DST" 2> "$T/late.err" || rc=$?
[ "$rc" -eq 1 ] || fail "a time past the archive exited $rc, expected 1"
contains 'archived binary logs end at' < "$T/late.err" || fail "past the archive: $(cat "$T/late.err")"
[ -z "$(sql "$DST" "SHOW DATABASES LIKE '${DB}_crm'")" ] || fail "a restore that could not reach its time loaded something"
# before the first dump: no plan
expect_rc 1 arca -r "$R" restore --mysql --until "2001-01-01 00:00:00" 2>/dev/null
# an explicit base: the dump (the same plan), or a snapshot that is no full backup
dump_id=$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print([s["short_id"] for s in json.load(sys.stdin) if "/mysql" in s["paths"]][-1])')
arca -r "$R" restore "$dump_id" --mysql --until "$until" --dry-run > "$T/plan2.txt" || fail "restore SNAPSHOT --until --dry-run"
contains "^would load snapshot $dump_id " < "$T/plan2.txt" || fail "the plan from $dump_id: $(cat "$T/plan2.txt")"
expect_rc 1 arca -r "$R" restore latest --mysql --until "$until" 2> "$T/nofull.err"
contains 'is no full backup' < "$T/nofull.err" || fail "a base that is no full backup: $(cat "$T/nofull.err")"
expect_rc 2 arca -r "$R" restore latest other --mysql --until "$until" 2>/dev/null
pass
