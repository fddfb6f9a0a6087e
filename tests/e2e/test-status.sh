#!/bin/bash
# arca status, the Nagios/Icinga plugin: exit codes 0/1/2/3 and the exact line (status,
# then ' | ' and performance data) for snapshot ages (old snapshots made with backup
# --time), a missing --expect-host, the check record that check leaves, a lock held too
# long, a wrong passphrase and a missing repository (UNKNOWN); --json says the same.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src"
echo hello > "$T/src/f"
ago() { date -u -d "-$1" +%Y-%m-%dT%H:%M:%SZ; }
st() {   # st WANT_RC ARGS...: run status, keep its line in $T/line
    local want=$1 rc=0
    shift
    arca -r "$R" status "$@" > "$T/line" 2> "$T/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "status $* exited $rc, expected $want: $(cat "$T/line" "$T/err")"
    [ "$(wc -l < "$T/line")" -eq 1 ] || fail "status $* printed more than one line: $(cat "$T/line")"
}
line_is() {   # line_is ERE: the whole line matches
    contains -E "^$1\$" < "$T/line" || fail "status line: $(cat "$T/line"), expected /$1/"
}

# ---- no snapshots: CRITICAL ------------------------------------------------------------------
st 2 --group-by host
line_is "ARCA CRITICAL - no snapshots \\| 'groups'=0;;;0 'snapshots'=0;;;0 'locks'=0;;;0 'lock age'=0s;;;0"

# ---- ages --------------------------------------------------------------------------------------
arca -r "$R" backup --host web01 "$T/src" > /dev/null
st 0 --group-by host
line_is "ARCA OK - 1 group, 1 snapshot, the oldest latest backup [0-9]+s ago \\| 'host web01 age'=[0-9]+s;93600;180000;0 'groups'=1;;;0 'snapshots'=1;;;0 'locks'=0;;;0 'lock age'=0s;;;0"
# the default groups: host and paths, as forget's
st 0
contains -F "'host web01 paths $T/src age'=" < "$T/line" || fail "default grouping: $(cat "$T/line")"

arca -r "$R" backup --host db01 --time "$(ago '30 hours')" "$T/src" > /dev/null
st 1 --group-by host
line_is "ARCA WARNING - host db01: last backup 1d 6h ago \\(warning 1d 2h\\) \\| 'host db01 age'=10[0-9]{4}s;93600;180000;0 'host web01 age'=[0-9]+s;93600;180000;0 'groups'=2;;;0 'snapshots'=2;;;0 'locks'=0;;;0 'lock age'=0s;;;0"
# thresholds as given, and the filters
st 0 --group-by host --warning 31h --critical 2d
line_is "ARCA OK - 2 groups, 2 snapshots, the oldest latest backup 1d 6h ago \\| 'host db01 age'=[0-9]+s;111600;172800;0 'host web01 age'=[0-9]+s;111600;172800;0 .*"
st 0 --group-by host --host web01
contains -F "'groups'=1;;;0" < "$T/line" || fail "--host: $(cat "$T/line")"

arca -r "$R" backup --host old01 --time "$(ago '60 hours')" "$T/src" > /dev/null
st 2 --group-by host
line_is "ARCA CRITICAL - host old01: last backup 2d 12h ago \\(critical 2d 2h\\); host db01: last backup 1d 6h ago \\(warning 1d 2h\\) \\| .*'groups'=3;;;0 'snapshots'=3;;;0 .*"
# a newer snapshot of the group makes it OK again
arca -r "$R" backup --host old01 "$T/src" > /dev/null
arca -r "$R" backup --host db01 "$T/src" > /dev/null
st 0 --group-by host
line_is "ARCA OK - 3 groups, [0-9]+ snapshots, the oldest latest backup [0-9]+s ago \\| .*"

# ---- --expect-host -----------------------------------------------------------------------------
st 0 --group-by host --expect-host web01 --expect-host db01
st 2 --group-by host --expect-host web01 --expect-host mail01
line_is "ARCA CRITICAL - host mail01: no snapshot \\| .*"

# ---- the check record --------------------------------------------------------------------------
st 2 --group-by host --check-critical 1h
line_is "ARCA CRITICAL - no successful check recorded \\| .*"
st 1 --group-by host --check-warning 1h
line_is "ARCA WARNING - no successful check recorded \\| .*"
arca -r "$R" check > /dev/null
case $BACKEND in
    local) [ -f "$R/status/check" ] && [ -f "$R/status/check-ok" ] || fail "no status/check-ok after check" ;;
    rados)
        mapfile -t ra < <(rados_of "$R")
        rados "${ra[@]}" ls | contains -x 'status/check-ok' || fail "no status/check-ok object after check" ;;
esac
st 0 --group-by host --check-warning 1h --check-critical 2h
line_is "ARCA OK - .* 'check age'=[0-9]s;3600;7200;0 'locks'=0;;;0 'lock age'=0s;;;0"
arca -r "$R" --json status --check-critical 1h > "$T/st.json" || fail "status --json"
[ "$(json_get "$T/st.json" 'j["check"]["errors"]')" = 0 ] || fail "check in --json: $(cat "$T/st.json")"
[ "$(json_get "$T/st.json" 'j["check"]["read_data"]')" = False ] || fail "read_data: $(cat "$T/st.json")"
sleep 2
st 2 --group-by host --check-critical 1s
line_is "ARCA CRITICAL - last successful check [0-9]s ago \\(critical 1s\\) \\| .*'check age'=[0-9]s;;1;0 .*"
arca -r "$R" check --read-data > /dev/null
arca -r "$R" --json status > "$T/st.json" || fail "status --json after check --read-data"
[ "$(json_get "$T/st.json" 'j["check"]["read_data"]')" = True ] || fail "read_data: $(cat "$T/st.json")"
# the record replaces the one before, and check and prune pass over it
arca -r "$R" check > /dev/null || fail "a second check"
arca -r "$R" prune > /dev/null 2>&1 || fail "prune with status records"
arca -r "$R" check > /dev/null || fail "check after prune"
st 0 --group-by host --check-critical 1h

# ---- a lock held too long ----------------------------------------------------------------------
mkfifo "$T/fifo"
sleep 60 > "$T/fifo" &
sleeper=$!
"$ARCA" -r "$R" backup --stdin --stdin-name stuck < "$T/fifo" > /dev/null 2> "$T/stuck.err" &
stuck=$!
for _ in $(seq 1 300); do
    rc=0
    arca -r "$R" --retry-lock 0 prune > /dev/null 2>&1 || rc=$?
    [ "$rc" -eq 11 ] && break
    sleep 0.1
done
[ "$rc" -eq 11 ] || fail "the stuck backup holds no lock"
st 0 --group-by host --lock-critical 1h
line_is "ARCA OK - .* 'locks'=1;;;0 'lock age'=[0-9]+s;;3600;0"
sleep 2
st 2 --group-by host --lock-critical 1s
line_is "ARCA CRITICAL - a lock held for [0-9]+s: shared lock by .* since .* \\| .*'locks'=1;;;0 'lock age'=[0-9]+s;;1;0"
st 1 --group-by host --lock-warning 1s --lock-critical 1h
arca -r "$R" --json status --lock-critical 1s > "$T/st.json" && fail "status --json exited 0 with a stale lock"
[ "$(json_get "$T/st.json" 'j["exit_code"]')" = 2 ] || fail "--json exit_code: $(cat "$T/st.json")"
[ "$(json_get "$T/st.json" 'j["locks"][0]["exclusive"]')" = False ] || fail "--json locks: $(cat "$T/st.json")"
kill "$sleeper"
wait "$sleeper" 2>/dev/null || true
wait "$stuck" || true
st 0 --group-by host --lock-critical 1s

# ---- a damaged record; a check that found errors --------------------------------------------------
damage "$R" status/check-ok flip
st 3 --group-by host --check-critical 1h
line_is "ARCA UNKNOWN - status/check-ok is damaged \\| .*"
st 1 --group-by host
line_is "ARCA WARNING - status/check-ok is damaged \\| .*"
arca -r "$R" check > /dev/null || fail "check"
st 0 --group-by host --check-critical 1h
list_objects "$R" data > "$T/packs"
pack=$(sed -n 1p "$T/packs")
damage "$R" "data/$pack" delete
rc=0
arca -r "$R" check > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "check of a repository without a pack exited $rc"
st 2 --group-by host --check-critical 1h
line_is "ARCA CRITICAL - the last check \\([0-9]+s ago\\) found [0-9]+ errors? \\| .*'check age'=[0-9]+s;;3600;0 .*"
arca -r "$R" --json status > "$T/st.json" && fail "status --json exited 0 after a failed check"
[ "$(json_get "$T/st.json" 'j["check"]["last_errors"] > 0')" = True ] || fail "last_errors: $(cat "$T/st.json")"

# ---- UNKNOWN -----------------------------------------------------------------------------------
echo wrong > "$T/wrong"
rc=0
ARCA_PASSWORD_FILE=$T/wrong arca -r "$R" status > "$T/line" 2> /dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "wrong passphrase: exit $rc"
line_is "ARCA UNKNOWN - wrong passphrase: no key slot of .* opens with it"
rc=0
arca -r "$T/nothing-here" status > "$T/line" 2> /dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "no repository: exit $rc"
line_is "ARCA UNKNOWN - no repository at $T/nothing-here"
# an unreachable cluster (no monitor answers): UNKNOWN, with the reason
printf '[global]\nmon_host = 127.0.0.1:1\n' > "$T/unreachable.conf"
rc=0
arca -r rados:backup/nothing --ceph-conf "$T/unreachable.conf" --ceph-timeout 2 status > "$T/line" 2> /dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "unreachable cluster: exit $rc"
line_is "ARCA UNKNOWN - .*(no monitor answered within 2 s|RADOS).*"
rc=0
arca -r "$R" --json status --critical nonsense > "$T/st.json" 2> /dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "usage error: exit $rc"
[ "$(json_get "$T/st.json" 'j["state"]')" = UNKNOWN ] || fail "usage error --json: $(cat "$T/st.json")"
rc=0
ARCA_PASSWORD_FILE=$T/wrong arca -r "$R" --json status > "$T/st.json" 2> /dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "wrong passphrase --json: exit $rc"
[ "$(json_get "$T/st.json" 'j["exit_code"]')" = 3 ] || fail "wrong passphrase --json: $(cat "$T/st.json")"
pass
