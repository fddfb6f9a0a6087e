#!/bin/bash
# Locks that favour the exclusive waiter:
#  (a) three loops of backups, overlapping without a gap, cannot keep prune out: once
#      prune waits for its exclusive lock, new backups queue behind it (the gate), so
#      prune --retry-lock 45s gets in and exits 0, and no backup fails.
source "$(dirname "$0")/lib.sh"

# whatever happens, no loop is left running
pids=()
stop_all() {
    touch "$T/stop" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
pass
