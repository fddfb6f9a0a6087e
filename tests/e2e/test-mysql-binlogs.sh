#!/bin/bash
# backup --mysql-binlogs against the test server (a MariaDB with its binary log on): every
# log the server closed is archived once, byte for byte, under /mysql-binlog/, with its
# first and last event time and GTID range in the snapshot; the log being written is not
# (until --flush rotates it); a run with nothing new adds nothing and says so; logs purged
# before they were archived are a gap, reported (exit 3) and recorded.
# Needs MYSQL_DEFAULTS_FILE of a server that logs (scripts/mariadb-server.sh: the default).
source "$(dirname "$0")/lib.sh"
: "${MYSQL_DEFAULTS_FILE:?MYSQL_DEFAULTS_FILE must name the client config of the test server}"
SRC=$MYSQL_DEFAULTS_FILE
DB="arca_binlog_$$"
sql() { mariadb --defaults-file="$SRC" -N -B -e "$1"; }
trap 'rc=$?; sql "DROP DATABASE IF EXISTS $DB" || true; (exit $rc); cleanup' EXIT
[ "$(sql "SELECT @@log_bin")" = 1 ] || fail "the test server keeps no binary log"
sql "CREATE DATABASE $DB; CREATE TABLE $DB.t (id INT PRIMARY KEY, v TEXT)"

R=$(new_repo repo)
arca_init "$R" >/dev/null
archive() { arca -r "$R" --json backup --mysql-binlogs --mysql-defaults-file "$SRC" "$@"; }
nsnaps() { arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# fetch NAME: the server's log NAME, as mariadb-binlog gives it, into $T/server/NAME
fetch() {
    mkdir -p "$T/server"
    mariadb-binlog --defaults-file="$SRC" --read-from-remote-server --raw --result-file="$T/server/" "$1"
}

# the first run, with --flush: what the server had, and the log it was writing, closed now
sql "INSERT INTO $DB.t VALUES (1, 'one')"
archive --flush > "$T/a1.json" || fail "the first archive"
[ "$(json_get "$T/a1.json" 'j["changed"]')" = True ] || fail "the first archive: $(cat "$T/a1.json")"
arca -r "$R" --json snapshots > "$T/s1.json"
current=$(sql "SHOW MASTER STATUS" | cut -f1)
python3 - "$T/s1.json" "$current" <<'EOF' || fail "the first archive's record: $(cat "$T/s1.json")"
import json, sys
s = json.load(open(sys.argv[1]))[-1]
assert s["paths"] == ["/mysql-binlog"], s["paths"]
logs = s["mysql"]["binlogs"]
names = [b["name"] for b in logs]
assert names == sorted(names) and names, names
assert sys.argv[2] not in names, "the log being written was archived"
for b in logs:
    assert b["size"] > 0 and b["first_time"] <= b["last_time"], b
assert logs[-1].get("last_gtid"), logs[-1]
EOF
# byte for byte what the server has
for name in $(json_get "$T/s1.json" '" ".join(b["name"] for b in j[-1]["mysql"]["binlogs"])'); do
    fetch "$name"
    arca -r "$R" dump latest --path /mysql-binlog "/mysql-binlog/$name" > "$T/archived"
    cmp "$T/server/$name" "$T/archived" || fail "the archived $name differs from the server's"
done
# the GTID of the insert is in the range of the last archived log
gtid=$(sql "SELECT @@gtid_binlog_pos")
[ "$(json_get "$T/s1.json" 'j[-1]["mysql"]["binlogs"][-1]["last_gtid"]')" = "$gtid" ] ||
    fail "the last archived GTID is not the server's last ($gtid)"

# nothing new: nothing added, no snapshot, and it says so (a write alone closes no log)
sql "INSERT INTO $DB.t VALUES (2, 'two')"
n=$(nsnaps)
archive > "$T/a2.json" || fail "the run with nothing new failed"
[ "$(json_get "$T/a2.json" 'j["changed"], j["snapshot_id"]')" = "(False, None)" ] || fail "nothing new: $(cat "$T/a2.json")"
contains 'no binary log was closed since' < "$T/a2.json" || fail "nothing new is not said: $(cat "$T/a2.json")"
[ "$(nsnaps)" = "$n" ] || fail "a run with nothing new made a snapshot"

# rotation: the closed log is archived, once; the ones before are carried, not fetched again
sql "FLUSH BINARY LOGS"
archive > "$T/a3.json" || fail "the archive after a rotation"
[ "$(json_get "$T/a3.json" 'j["summary"]["files_new"], j["summary"]["files_unchanged"] > 0')" = "(1, True)" ] ||
    fail "after one rotation: $(cat "$T/a3.json")"
arca -r "$R" --json snapshots > "$T/s3.json"
[ "$(json_get "$T/s3.json" 'len(j[-1]["mysql"]["binlogs"]) == len(j[-2]["mysql"]["binlogs"]) + 1')" = True ] ||
    fail "the records of the archived logs are not carried forward"

# a purge before they were archived: a gap, reported (exit 3), recorded; the rest archived
sql "INSERT INTO $DB.t VALUES (3, 'three'); FLUSH BINARY LOGS; INSERT INTO $DB.t VALUES (4, 'four'); FLUSH BINARY LOGS"
current=$(sql "SHOW MASTER STATUS" | cut -f1)
# (the server keeps the logs its engines still need for crash recovery: FLUSH ENGINE LOGS
# lets it go on, which it does in the background)
for _ in $(seq 1 120); do
    sql "FLUSH ENGINE LOGS; PURGE BINARY LOGS TO '$current'"
    [ "$(sql "SHOW BINARY LOGS" | cut -f1 | sed -n 1p)" = "$current" ] && break
    sleep 0.5
done
[ "$(sql "SHOW BINARY LOGS" | cut -f1 | sed -n 1p)" = "$current" ] || fail "the server did not purge its logs before $current"
sql "INSERT INTO $DB.t VALUES (5, 'five')"
sql "FLUSH BINARY LOGS"
rc=0
archive > "$T/a4.json" 2> "$T/a4.err" || rc=$?
[ "$rc" -eq 3 ] || fail "a gap exited $rc, expected 3: $(cat "$T/a4.err")"
contains 'purged .* before it was archived' < "$T/a4.err" || fail "the gap is not reported: $(cat "$T/a4.err")"
arca -r "$R" --json snapshots > "$T/s4.json"
[ -n "$(json_get "$T/s4.json" 'j[-1]["mysql"]["binlog_gap"]')" ] || fail "the gap is not recorded"
[ "$(json_get "$T/s4.json" '[b["name"] for b in j[-1]["mysql"]["binlogs"]][-1]')" = "$current" ] ||
    fail "the log after the gap was not archived"
arca -r "$R" check --read-data >/dev/null || fail "check of the archive"
# and status turns red on it
rc=0
arca -r "$R" status > "$T/status.out" || rc=$?
[ "$rc" -eq 2 ] && contains 'were purged before they were archived' < "$T/status.out" ||
    fail "status on the gap ($rc): $(cat "$T/status.out")"
# the next closed log is archived after it: the chain goes on (the gap stays recorded where
# it happened, not in later snapshots)
sql "INSERT INTO $DB.t VALUES (6, 'six'); FLUSH BINARY LOGS"
archive > "$T/a5.json" || fail "the archive after the gap"
arca -r "$R" --json snapshots > "$T/s5.json"
[ "$(json_get "$T/s5.json" '"binlog_gap" in j[-1]["mysql"]')" = False ] || fail "the gap is recorded again"
pass
