#!/bin/bash
# What prune does at scale shows in small: a prune that frees nothing writes and removes
# nothing; one that frees something rewrites only the index objects that list what goes
# (another host's stay as they are, and so do the caches that map them); small packs are
# merged; what it reports as deleted is what is gone.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" --pack-size 1M >/dev/null
mkdir -p "$T/a" "$T/b"
head -c 3000000 /dev/urandom > "$T/a/big"
head -c 3000000 /dev/urandom > "$T/b/big"
arca -r "$R" backup "$T/a" --host a >/dev/null
arca -r "$R" backup "$T/b" --host b >/dev/null
list_objects "$R" index | sort > "$T/index.0"
list_objects "$R" data | sort > "$T/data.0"

# nothing to free: nothing written, nothing removed
arca -r "$R" --json prune > "$T/p0.json"
[ "$(json_get "$T/p0.json" 'j["changed"]')" = False ] || fail "a prune with nothing to free changed something: $(cat "$T/p0.json")"
list_objects "$R" index | sort > "$T/index.1"
cmp -s "$T/index.0" "$T/index.1" || fail "a prune with nothing to free rewrote the index"
list_objects "$R" data | sort > "$T/data.1"
cmp -s "$T/data.0" "$T/data.1" || fail "a prune with nothing to free changed the packs"

# host a's data goes: only the index objects that list its packs are rewritten
a_snap=$(arca -r "$R" --json snapshots --host a | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
arca -r "$R" forget "$a_snap" >/dev/null
arca -r "$R" --json prune > "$T/p1.json"
[ "$(json_get "$T/p1.json" 'j["changed"]')" = True ] || fail "prune freed nothing: $(cat "$T/p1.json")"
list_objects "$R" data | sort > "$T/data.2"
deleted=$(json_get "$T/p1.json" 'j["packs_deleted"] + j["packs_repacked"]')
# the report says which part of the run held the exclusive lock: some, never more than all
[ "$(json_get "$T/p1.json" '0 < j["locked_duration"] <= j["duration"]')" = True ] ||
    fail "prune reports no sensible locked_duration: $(cat "$T/p1.json")"
gone=$(comm -23 "$T/data.1" "$T/data.2" | wc -l)
[ "$gone" -eq "$deleted" ] || fail "prune reports $deleted packs deleted or repacked, $gone are gone"
[ "$gone" -gt 0 ] || fail "prune deleted no pack of host a"
list_objects "$R" index | sort > "$T/index.2"
kept=$(comm -12 "$T/index.1" "$T/index.2" | wc -l)
[ "$kept" -gt 0 ] || fail "prune rewrote every index object, host b's too"
arca -r "$R" check --read-data >/dev/null || fail "check after prune"
rm -rf "$T/r"
arca -r "$R" restore latest --host b --target "$T/r" >/dev/null
cmp "$T/b/big" "$T/r$T/b/big" || fail "host b's data differs after prune"

# many tiny snapshots leave many tiny packs: prune merges them
mkdir -p "$T/tiny"
for i in $(seq 1 20); do
    printf 'tiny %s\n' "$i" > "$T/tiny/f$i"
    arca -r "$R" backup "$T/tiny" --host tiny >/dev/null
done
n0=$(list_objects "$R" data | wc -l)
arca -r "$R" --json prune > "$T/p2.json"
n1=$(list_objects "$R" data | wc -l)
[ "$n1" -lt $((n0 - 20)) ] || fail "prune did not merge small packs: $n0 packs before, $n1 after: $(cat "$T/p2.json")"
arca -r "$R" check --read-data >/dev/null || fail "check after merging small packs"
# and does not merge them again and again
arca -r "$R" --json prune > "$T/p3.json"
[ "$(json_get "$T/p3.json" 'j["changed"]')" = False ] || fail "a second prune changed something: $(cat "$T/p3.json")"
rm -rf "$T/r"
arca -r "$R" restore latest --host tiny --target "$T/r" >/dev/null
diff -r "$T/tiny" "$T/r$T/tiny" >/dev/null || fail "tiny's data differs after merging"

# killed at each point of its commit (as kill -9 would): check passes, nothing a snapshot
# needs is missing, the next prune finishes the work, and the one after has none left
for point in prune-repacked prune-rewritten prune-committed prune-deleting; do
    head -c 1500000 /dev/urandom > "$T/b/k-$point"
    arca -r "$R" backup "$T/b" --host b >/dev/null
    arca -r "$R" forget --host b --keep-last 1 >/dev/null
    rc=0
    ARCA_TEST_KILL_AT=$point "$ARCA" -r "$R" prune --max-unused 0 >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 137 ] || fail "prune was to be killed at $point, exited $rc"
    arca -r "$R" check > /dev/null 2> "$T/check.err" || fail "check after a prune killed at $point: $(cat "$T/check.err")"
    arca -r "$R" --json prune --max-unused 0 > "$T/after.json" || fail "prune after one killed at $point"
    arca -r "$R" --json prune --max-unused 0 > "$T/after2.json"
    [ "$(json_get "$T/after2.json" 'j["changed"]')" = False ] ||
        fail "the second prune after one killed at $point still changed something: $(cat "$T/after2.json")"
    arca -r "$R" check --read-data > /dev/null 2> "$T/check.err" || fail "check --read-data after $point: $(cat "$T/check.err")"
    rm -rf "$T/r"
    arca -r "$R" restore latest --host b --target "$T/r" >/dev/null
    diff -r "$T/b" "$T/r$T/b" >/dev/null || fail "host b differs after a prune killed at $point"
done
pass
