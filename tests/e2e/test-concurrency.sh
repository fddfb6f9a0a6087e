#!/bin/bash
# Many writers: four backups (different hosts) and a forget --prune running at the same
# time, several rounds.  Every backup succeeds, check passes, every kept snapshot
# restores.  A lock left by a killed process does not block the next backup; unlock
# only removes locks whose holder is gone; prunes killed at random points leave a valid
# repository that the next prune finishes.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" --pack-size 1M >/dev/null
for h in 1 2 3 4; do
    mkdir -p "$T/src$h"
    head -c 500000 /dev/urandom > "$T/src$h/base"
done

ROUNDS=${ARCA_TEST_ROUNDS:-3}
during=0
for round in $(seq 1 "$ROUNDS"); do
    pids=()
    for h in 1 2 3 4; do
        (
            for k in 1 2 3 4; do
                head -c 1000000 /dev/urandom > "$T/src$h/r$round-$k"
                rm -f "$T/src$h/r$((round - 2))-$k"
                "$ARCA" -r "$R" backup "$T/src$h" --host "host$h" -q || exit 1
            done
        ) > "$T/backup$h.log" 2>&1 &
        pids+=($!)
    done
    # forget --prune again and again while the backups run
    (
        n=0
        while [ ! -e "$T/stop" ] || [ $n -eq 0 ]; do
            n=$((n + 1))
            "$ARCA" -r "$R" forget --keep-last 2 --prune --max-unused 0 --json > "$T/prune$round-$n.json" || exit 1
        done
    ) 2> "$T/prune.log" &
    prune=$!
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || fail "round $round: backup of host$((i + 1)) failed: $(cat "$T/backup$((i + 1)).log")"
    done
    touch "$T/stop"
    wait $prune || fail "round $round: forget --prune failed: $(cat "$T/prune.log")"
    rm "$T/stop"
    for f in "$T"/prune$round-*.json; do
        during=$((during + $(json_get "$f" 'j["prune"]["snapshots_during"]')))
    done
    arca -r "$R" check >/dev/null || fail "round $round: check failed"
done
echo "  $during snapshots were written while prunes planned" >&2

# every kept snapshot restores what its host had (the newest one per host equals the source)
for h in 1 2 3 4; do
    rm -rf "$T/r"
    arca -r "$R" restore latest --host "host$h" --target "$T/r" >/dev/null || fail "restore host$h"
    diff -r "$T/src$h" "$T/r$T/src$h" >/dev/null || fail "host$h: latest snapshot differs from the source"
done
arca -r "$R" snapshots --json | python3 -c 'import json,sys; [print(s["short_id"]) for s in json.load(sys.stdin)]' > "$T/ids"
while read -r id; do
    rm -rf "$T/r"
    arca -r "$R" restore "$id" --target "$T/r" >/dev/null || fail "restore $id"
done < "$T/ids"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data"

# a killed backup's lock does not block the next one
mkdir -p "$T/big"
for i in 1 2 3 4 5 6; do head -c 20000000 /dev/urandom > "$T/big/f$i"; done
"$ARCA" -r "$R" backup "$T/big" --host big >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
arca -r "$R" --retry-lock 0 backup "$T/src1" --host host1 >/dev/null || fail "a dead backup's lock blocked the next backup"
arca -r "$R" --retry-lock 0 prune >/dev/null || fail "a dead backup's lock blocked prune"
arca -r "$R" unlock --json > "$T/unlock.json"
[ "$(json_get "$T/unlock.json" 'j["held_by"]')" = "" ] || fail "unlock lists live holders: $(cat "$T/unlock.json")"

# prunes killed at random points: check passes, nothing a snapshot needs is missing, and
# the next prune completes the work
for delay in 0.05 0.15 0.3 0.5; do
    for h in 1 2; do
        head -c 400000 /dev/urandom > "$T/src$h/k-$delay"
        arca -r "$R" backup "$T/src$h" --host "host$h" -q
    done
    arca -r "$R" forget --keep-last 1 -q
    "$ARCA" -r "$R" prune --max-unused 0 >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    arca -r "$R" check >/dev/null || fail "check after a prune killed at ${delay}s"
done
arca -r "$R" prune --max-unused 0 --json > "$T/final.json"
arca -r "$R" prune --max-unused 0 --json > "$T/final2.json"
[ "$(json_get "$T/final2.json" 'j["changed"]')" = False ] || fail "the prune after the finishing one changed something"
arca -r "$R" check --read-data >/dev/null || fail "final check --read-data"
for h in 1 2; do
    rm -rf "$T/r"
    arca -r "$R" restore latest --host "host$h" --target "$T/r" >/dev/null
    diff -r "$T/src$h" "$T/r$T/src$h" >/dev/null || fail "host$h after the killed prunes"
done
pass
