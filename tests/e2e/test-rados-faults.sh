#!/bin/bash
# Faults of a real Ceph cluster under a running backup (RADOS only):
#  (a) the OSD freezes (SIGSTOP) in the middle of a ~200 MB backup: arca --ceph-timeout 10
#      gives up with exit 1 within about one timeout, leaves no snapshot, and once
#      the OSD runs again (SIGCONT) and serves I/O, the next backup succeeds and check
#      --read-data passes; and the guard of that (ceph-cluster.sh wait-io) gives up, with its
#      report of the cluster, on a pool that serves nothing;
#  (b) arca is killed with SIGKILL mid-backup: its lock is left in the cluster, but an
#      exclusive `key add` breaks it at once (same host, dead pid); check passes and the
#      next backup succeeds.  (The lapse of a lock whose holder cannot be seen, on another
#      host, is tested by the backend suite: tests/backend; objects a killed run left out of
#      their catalogs, by test-rados-catalogs.sh.)
# Needs the cluster directory of scripts/ceph-cluster.sh: ARCA_TEST_CEPH_DIR, or the
# directory of $CEPH_CONF when that is a ceph-cluster.sh cluster.
source "$(dirname "$0")/lib.sh"

[ "$BACKEND" = rados ] || fail "needs ARCA_TEST_BACKEND=rados (it injects Ceph faults)"
CEPH_DIR=${ARCA_TEST_CEPH_DIR:-}
if [ -z "$CEPH_DIR" ] && [ -n "${CEPH_CONF:-}" ] && [ -f "$(dirname "$CEPH_CONF")/run/osd.0.pid" ]; then
    CEPH_DIR=$(dirname "$CEPH_CONF")
fi
[ -n "$CEPH_DIR" ] && [ -d "$CEPH_DIR" ] ||
    fail "set ARCA_TEST_CEPH_DIR to the directory of scripts/ceph-cluster.sh start"
LOCK_DURATION=10
export ARCA_RADOS_LOCK_DURATION=$LOCK_DURATION

# whatever happens, never leave the OSD frozen for the tests that follow
osd_stopped=0
resume_osd() {
    if [ "$osd_stopped" = 1 ]; then
        CEPH_QUIET=1 "$CLUSTER" osd-signal "$CEPH_DIR" CONT >/dev/null 2>&1 || true
        osd_stopped=0
    fi
}
trap 'rc=$?; resume_osd; (exit $rc); cleanup' EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
# number of data/ objects of repository $1 (pool/namespace from the location)
data_objects() {
    local ra
    mapfile -t ra < <(rados_of "$1")
    rados --rados-osd-op-timeout 5 "${ra[@]}" ls 2>/dev/null | grep -c '^data/' || true
}
# wait (up to 60 s) until repository $1 holds a pack, i.e. the backup is uploading
wait_for_upload() {
    local repo=$1 pid=$2
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || fail "the backup ended before any pack was stored"
        [ "$(data_objects "$repo")" -gt 0 ] && return 0
        sleep 0.1
    done
    fail "no pack appeared within 60 s"
}
# remove every object of repository $1 (this test stores ~800 MB; the test cluster is small)
wipe_repo() {
    local ra
    mapfile -t ra < <(rados_of "$1")
    rados "${ra[@]}" ls | xargs -r rados "${ra[@]}" rm --force-full
}
snapshot_count() { arca -r "$1" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

mkdir -p "$T/src"
for i in $(seq 1 10); do head -c 20000000 /dev/urandom > "$T/src/f$i"; done   # 200 MB

# ---- (a) the OSD freezes during a backup --------------------------------------------------
R=$(new_repo frozen)
arca_init "$R" --pack-size 4M >/dev/null
"$ARCA" -r "$R" --ceph-timeout 10 backup "$T/src" > "$T/a.out" 2> "$T/a.err" &   # not the arca function: $! must be arca itself
pid=$!
wait_for_upload "$R" $pid
CEPH_QUIET=1 "$CLUSTER" osd-signal "$CEPH_DIR" STOP >/dev/null
osd_stopped=1
t0=$(now)
rc=0
wait $pid || rc=$?
t1=$(now)
took=$(elapsed "$t0" "$t1")
resume_osd
echo "  (a) backup against a frozen OSD: exit $rc after ${took} s: $(head -c 300 "$T/a.err")"
[ "$rc" -eq 1 ] || fail "backup against a frozen OSD exited $rc, expected 1: $(cat "$T/a.err")"
# about one timeout, not one per operation still to come (the first timeout shuts the gate
# for good, renewals of the lock give up): a bound well under two timeouts
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 22 else 1)" "$took" ||
    fail "backup against a frozen OSD took ${took} s to give up (--ceph-timeout 10)"
grep -qi 'timed out' "$T/a.err" || fail "the error does not say it timed out: $(cat "$T/a.err")"
[ "$(snapshot_count "$R")" = 0 ] || fail "a snapshot exists after the failed backup"
# the cluster serves again before arca is asked to (else this says why: the daemons' state,
# their logs; and the tests after this one are not blamed for what this one did)
CEPH_QUIET=1 "$CLUSTER" wait-io "$CEPH_DIR" "$ARCA_TEST_POOL" 60 ||
    fail "after SIGCONT the cluster served no I/O within 60 s (report above)"
arca -r "$R" backup "$T/src" >/dev/null 2> "$T/a2.err" || {
    CEPH_QUIET=1 "$CLUSTER" report "$CEPH_DIR" >&2 || true
    fail "backup after SIGCONT failed: $(cat "$T/a2.err")"
}
[ "$(snapshot_count "$R")" = 1 ] || fail "expected 1 snapshot after the second backup"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data failed after the OSD fault"
wipe_repo "$R"
# the guard itself: a pool that serves nothing, given up after its time, with the report
rc=0
CEPH_QUIET=1 "$CLUSTER" wait-io "$CEPH_DIR" no-such-pool 2 >/dev/null 2> "$T/wio.err" || rc=$?
[ "$rc" = 1 ] || fail "wait-io on a pool that does not exist exited $rc: $(cat "$T/wio.err")"
for want in 'pool no-such-pool of ' 'served no I/O within 2 s' 'mon.a: running (pid ' \
            'osd.0: running (pid ' 'ceph health detail:' 'last lines of '; do
    contains -F "$want" < "$T/wio.err" || fail "the report lacks '$want': $(cat "$T/wio.err")"
done
contains -E '^space: .+ free of .+ used\) on ' < "$T/wio.err" || fail "the report says no space: $(cat "$T/wio.err")"

# ---- (b) arca is killed with SIGKILL during a backup --------------------------------------
R=$(new_repo killed)
arca_init "$R" --pack-size 4M >/dev/null
printf 'another passphrase\n' > "$T/pass2"
"$ARCA" -r "$R" backup "$T/src" >/dev/null 2>&1 &
pid=$!
wait_for_upload "$R" $pid
kill -9 $pid
t0=$(now)
wait $pid 2>/dev/null || true
# the dead backup's shared lock is still there, but its holder is known dead (same host,
# no such pid): an exclusive lock breaks it at once
mapfile -t ra < <(rados_of "$R")
rados "${ra[@]}" lock info lock arca-repo > "$T/lockinfo" 2>&1 || true
grep -q "pid $pid" "$T/lockinfo" || fail "the killed backup left no lock to test with: $(cat "$T/lockinfo")"
arca -r "$R" --retry-lock 0 key add --new-password-file "$T/pass2" \
    >/dev/null 2> "$T/b.err" || fail "a dead holder's lock blocked key add: $(cat "$T/b.err")"
# check passes (it warns about the packs the dead backup left in no index: garbage for
# prune) and the next backup runs at once
arca -r "$R" check >/dev/null 2> "$T/check.err" || fail "check failed after kill -9: $(cat "$T/check.err")"
t2=$(now)
arca -r "$R" backup "$T/src" >/dev/null || fail "backup after kill -9 failed"
took=$(elapsed "$t2" "$(now)")
echo "  (b) backup after kill -9: ${took} s"
n=$(snapshot_count "$R")
[ "$n" = 1 ] || fail "expected exactly the snapshot of the second backup, found $n: $(arca -r "$R" snapshots 2>&1)"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data failed after kill -9"
wipe_repo "$R"
pass
