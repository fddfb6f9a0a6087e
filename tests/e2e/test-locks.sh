#!/bin/bash
# Locks that favour the exclusive waiter, and locks broken by force:
#  (a) three loops of backups, overlapping without a gap, cannot keep prune out: once
#      prune waits for its exclusive lock, new backups queue behind it (the gate), so
#      prune --retry-lock 45s gets in and exits 0, and no backup fails;
#  (b) unlock --force: on RADOS the lock of a holder that is alive (a backup stuck reading
#      its stdin) is broken after its client is blocklisted, so an exclusive command gets in
#      at once, and the holder, when it goes on, fails and stores nothing; a local
#      repository's locks are the kernel's: --force leaves them, and says who holds them.
source "$(dirname "$0")/lib.sh"

# whatever happens, no loop or stuck backup is left running
pids=()
sleeper=
stuck=
stop_all() {
    touch "$T/stop" 2>/dev/null || true
    for p in "${pids[@]}" $sleeper $stuck; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap 'rc=$?; stop_all; (exit $rc); cleanup' EXIT

R=$(new_repo repo)
arca_init "$R" > /dev/null
mkdir -p "$T/src"
for i in 1 2 3 4; do head -c 20000 /dev/urandom > "$T/src/f$i"; done
arca -r "$R" backup "$T/src" -q

# ---- (a) prune against three overlapping backup loops --------------------------------------
backup_loop() {   # backup_loop N: back up until $T/stop exists; count runs and failures
    local n=$1 rc
    while [ ! -e "$T/stop" ]; do
        # each backup holds its shared lock for two seconds at least (its input comes late),
        # and the next one of the loop follows at once: without a gate, prune would only get
        # in when the three loops happened to be between two backups at the same time
        rc=0
        { sleep 2; date +%s.%N; } | "$ARCA" -r "$R" backup --stdin --stdin-name "/loop$n" \
            --host "loop$n" -q 2>> "$T/loop$n.err" || rc=$?
        echo "$rc" >> "$T/loop$n.rcs"
    done
}
for n in 1 2 3; do
    backup_loop "$n" &
    pids+=($!)
done
# the loops run and overlap: each has finished a backup (no timing: counted)
for _ in $(seq 1 600); do
    done_all=1
    for n in 1 2 3; do [ -s "$T/loop$n.rcs" ] || done_all=0; done
    [ "$done_all" = 1 ] && break
    sleep 0.1
done
[ "$done_all" = 1 ] || fail "the backup loops did not get going within 60 s"
rc=0
arca -r "$R" --retry-lock 45s prune > "$T/prune.out" 2> "$T/prune.err" || rc=$?
before=$(cat "$T"/loop*.rcs | wc -l)
# and backups go on after it
for _ in $(seq 1 600); do
    [ "$(cat "$T"/loop*.rcs | wc -l)" -ge $((before + 3)) ] && break
    sleep 0.1
done
touch "$T/stop"
for p in "${pids[@]}"; do wait "$p"; done
[ "$rc" -eq 0 ] || fail "prune against three backup loops exited $rc: $(cat "$T/prune.err")"
runs=$(cat "$T"/loop*.rcs | wc -l)
bad=$(cat "$T"/loop*.rcs | { grep -cv '^0$' || true; })
[ "$bad" -eq 0 ] || fail "$bad of $runs backups failed: $(cat "$T"/loop*.err)"
[ "$runs" -ge $((before + 3)) ] || fail "the backups did not go on after prune"
echo "  (a) prune got its exclusive lock amid $runs backups in three loops"
arca -r "$R" check > /dev/null || fail "check after prune and the loops"

# ---- (b) unlock --force ----------------------------------------------------------------------
mkfifo "$T/fifo"
sleep 120 > "$T/fifo" &     # the writer that holds the fifo open, writing nothing
sleeper=$!
"$ARCA" -r "$R" backup --stdin --stdin-name stuck < "$T/fifo" > "$T/stuck.out" 2> "$T/stuck.err" &
stuck=$!
# wait until it holds its lock: an exclusive command is refused
for _ in $(seq 1 300); do
    rc=0
    arca -r "$R" --retry-lock 0 prune > /dev/null 2> "$T/locked.err" || rc=$?
    [ "$rc" -eq 11 ] && break
    sleep 0.1
done
[ "$rc" -eq 11 ] || fail "the stuck backup holds no lock (prune exited $rc)"
case $BACKEND in
    rados)
        mapfile -t ra < <(rados_of "$R")
        rados "${ra[@]}" ls | sort > "$T/objects.before"
        arca -r "$R" --json unlock --force > "$T/force.json" 2> "$T/force.err" || fail "unlock --force: $(cat "$T/force.err")"
        [ "$(json_get "$T/force.json" 'j["broken"]')" -ge 1 ] || fail "unlock --force: $(cat "$T/force.json")"
        arca -r "$R" --retry-lock 0 prune > /dev/null 2> "$T/prune2.err" || fail "prune after unlock --force: $(cat "$T/prune2.err")"
        rados "${ra[@]}" ls | sort > "$T/objects.mid"
        # the stuck backup goes on (its stdin ends): blocklisted, it can store nothing
        kill "$sleeper" 2>/dev/null || true
        wait "$sleeper" 2>/dev/null || true
        rc=0
        wait "$stuck" || rc=$?
        [ "$rc" -ne 0 ] || fail "the blocklisted backup succeeded: $(cat "$T/stuck.err")"
        rados "${ra[@]}" ls | sort > "$T/objects.after"
        cmp -s "$T/objects.mid" "$T/objects.after" || fail "the blocklisted backup stored objects: $(diff "$T/objects.mid" "$T/objects.after")"
        echo "  (b) unlock --force blocklisted the live holder, which then stored nothing (exit $rc)"
        ;;
    *)
        arca -r "$R" unlock --force > "$T/force.out" 2> "$T/force.err" || fail "unlock --force: $(cat "$T/force.err")"
        grep -q "still held" "$T/force.out" || fail "unlock --force does not name the live holder: $(cat "$T/force.out")"
        expect_rc 11 arca -r "$R" --retry-lock 0 prune
        kill "$sleeper" 2>/dev/null || true
        wait "$sleeper" 2>/dev/null || true
        wait "$stuck" || fail "the backup failed: $(cat "$T/stuck.err")"
        echo "  (b) unlock --force left the kernel's lock of a live holder"
        ;;
esac
arca -r "$R" check > /dev/null || fail "check at the end"
pass
