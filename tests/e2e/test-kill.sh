#!/bin/bash
# kill -9 in the middle of a large backup: no snapshot points at missing data, check
# passes, and the next backup completes.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" --pack-size 4M >/dev/null
mkdir -p "$T/src"
for i in $(seq 1 12); do head -c 20000000 /dev/urandom > "$T/src/f$i"; done
arca -r "$R" backup "$T/src" >/dev/null   # a first snapshot, so the kill hits a parent too
for i in $(seq 13 30); do head -c 20000000 /dev/urandom > "$T/src/f$i"; done

for delay in 0.3 0.8 1.5; do
    "$ARCA" -r "$R" backup "$T/src" >/dev/null 2>&1 &   # not the arca function: $! must be arca
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    arca -r "$R" check >/dev/null || fail "check failed after kill -9 at ${delay}s"
done
# on RADOS the killed backups' shared locks stand until they lapse; backups share them
arca -r "$R" snapshots --json > "$T/s.json"
n=$(json_get "$T/s.json" 'len(j)')
arca -r "$R" backup "$T/src" >/dev/null || fail "backup after kill -9 failed"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data failed"
arca -r "$R" restore latest --target "$T/r" >/dev/null
compare_trees "$T/src" "$T/r$T/src"
pass
