#!/bin/bash
# Files of many pieces keep their content list in list blobs, not in their directory's
# tree (docs/FORMAT.md, section 5): such a file is stored, restored, dumped, diffed,
# backed up again unchanged (its lists reused, nothing read), changed in the middle (new
# lists only where it changed), pruned (what the kept snapshot's lists name stays), checked
# and restored over an older copy of itself, byte for byte every time; a stream too.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
# 1 KiB chunks: 24 MB make about 20,000 pieces, three lists of at most 8,192
arca_init "$R" --chunk-min 512 --chunk-avg 1K --chunk-max 4K >/dev/null
mkdir -p "$T/src"
head -c 24000000 /dev/urandom > "$T/src/big"
head -c 5000 /dev/urandom > "$T/src/small"
arca -r "$R" backup "$T/src" --json > "$T/b1.json"

# the node of big, from the trees: lists, no pieces of its own
node_json() { node_at "$R" "$1" "$T/src/$2"; }   # node_json SNAPSHOT NAME
s1=$(json_get "$T/b1.json" 'j["snapshot_id"]')
node_json "$s1" big > "$T/big1.json"
[ "$(json_get "$T/big1.json" 'len(j.get("content_lists", []))')" = 3 ] ||
    fail "big is not in three content lists: $(head -c 600 "$T/big1.json")"
[ "$(json_get "$T/big1.json" '"content" in j')" = False ] || fail "big has pieces in its tree too"
[ "$(json_get "$T/big1.json" 'sum(l["bytes"] for l in j["content_lists"])')" = 24000000 ] ||
    fail "the lists do not add up to the file"
node_json "$s1" small > "$T/small1.json"
[ "$(json_get "$T/small1.json" '"content_lists" in j')" = False ] || fail "a small file got lists"
# a list blob reads as its pieces
lid=$(json_get "$T/big1.json" 'j["content_lists"][0]["id"]')
arca -r "$R" --json cat tree "$lid" > "$T/list.json"
[ "$(json_get "$T/list.json" 'len(j["content"])')" = 8192 ] || fail "the first list does not hold 8192 pieces"

arca -r "$R" check --read-data >/dev/null || fail "check after the first backup"
arca -r "$R" restore latest --target "$T/r1" >/dev/null
cmp "$T/src/big" "$T/r1$T/src/big" || fail "big restored differs"
cmp "$T/src/small" "$T/r1$T/src/small" || fail "small restored differs"
arca -r "$R" dump latest "$T/src/big" > "$T/big.dump"
cmp "$T/src/big" "$T/big.dump" || fail "dump of big differs"

# unchanged: the parent's lists are checked (their blobs are all there) and reused
arca -r "$R" backup "$T/src" --json > "$T/b2.json"
[ "$(json_get "$T/b2.json" 'j["summary"]["files_unchanged"]')" = 2 ] || fail "big was not reused: $(cat "$T/b2.json")"
[ "$(json_get "$T/b2.json" 'j["summary"]["bytes_read"]')" = 0 ] || fail "an unchanged backup read data"
s2=$(json_get "$T/b2.json" 'j["snapshot_id"]')
node_json "$s2" big > "$T/big2.json"
cmp -s <(json_get "$T/big1.json" 'j["content_lists"]') <(json_get "$T/big2.json" 'j["content_lists"]') ||
    fail "the unchanged file's lists changed"

# changed in the middle: only the list around the change is new
cp "$T/src/big" "$T/big.v1"
printf 'changed in the middle' | dd of="$T/src/big" bs=1 seek=12000000 conv=notrunc status=none
arca -r "$R" backup "$T/src" --json > "$T/b3.json"
[ "$(json_get "$T/b3.json" 'j["summary"]["bytes_added_raw"] < 1000000')" = True ] ||
    fail "a small change stored much: $(cat "$T/b3.json")"
s3=$(json_get "$T/b3.json" 'j["snapshot_id"]')
node_json "$s3" big > "$T/big3.json"
[ "$(python3 -c 'import json,sys
a = [l["id"] for l in json.load(open(sys.argv[1]))["content_lists"]]
b = [l["id"] for l in json.load(open(sys.argv[2]))["content_lists"]]
print(a[0] == b[0] and a != b)' "$T/big1.json" "$T/big3.json")" = True ] ||
    fail "the change did not keep the first list and change another"
arca -r "$R" diff "$s1" "$s3" > "$T/diff"
contains "$T/src/big" < "$T/diff" || fail "diff does not name the changed big file: $(cat "$T/diff")"
if contains "$T/src/small" < "$T/diff"; then fail "diff names the unchanged small file"; fi

# restore over the old version: the result is the new one
arca -r "$R" restore latest --target "$T/r1" >/dev/null
cmp "$T/src/big" "$T/r1$T/src/big" || fail "restore over the old big file differs"

# a stream (a database dump) of many pieces: lists too, cut as it comes
head -c 20000000 /dev/urandom > "$T/stream"
arca -r "$R" backup --stdin --stdin-name /db/dump.sql --chunk-size-avg 1K --json < "$T/stream" > "$T/b4.json"
arca -r "$R" --json cat snapshot "$(json_get "$T/b4.json" 'j["snapshot_id"]')" > "$T/s4.json"
root=$(json_get "$T/s4.json" 'j["tree"]')
db=$(arca -r "$R" --json cat tree "$root" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["subtree"])')
arca -r "$R" --json cat tree "$db" > "$T/db.json"
[ "$(json_get "$T/db.json" 'len(j[0].get("content_lists", [])) >= 2')" = True ] || fail "the stream is not in lists"
arca -r "$R" dump latest /db/dump.sql > "$T/stream.out"
cmp "$T/stream" "$T/stream.out" || fail "the stream dumped back differs"

# prune: the first snapshots go, what the last one's lists name stays
arca -r "$R" forget "$s1" "$s2" >/dev/null
arca -r "$R" prune --max-unused 0 >/dev/null
arca -r "$R" check --read-data >/dev/null || fail "check after prune"
rm -rf "$T/r2"
arca -r "$R" restore latest --path "$T/src" --target "$T/r2" >/dev/null
cmp "$T/src/big" "$T/r2$T/src/big" || fail "big after prune differs"
arca -r "$R" dump latest /db/dump.sql > "$T/stream.out"
cmp "$T/stream" "$T/stream.out" || fail "the stream after prune differs"

# a damaged list blob is contained: that file is not restored (named, exit 1), the others
# are; check names the list; repair and a backup make the repository whole again
node_json "$s3" big > "$T/big3.json"
lid=$(json_get "$T/big3.json" 'j["content_lists"][1]["id"]')
damage_blob "$R" "$lid"
rm -rf "$ARCA_CACHE_DIR" "$T/r3"
rc=0
arca -r "$R" restore latest --path "$T/src" --target "$T/r3" > /dev/null 2> "$T/r3.err" || rc=$?
[ "$rc" -eq 1 ] || fail "restore with a damaged list exited $rc, not 1: $(cat "$T/r3.err")"
contains "$T/src/big" < "$T/r3.err" || fail "the file of the damaged list is not named: $(cat "$T/r3.err")"
[ ! -e "$T/r3$T/src/big" ] || fail "a file whose list is damaged was written"
cmp "$T/src/small" "$T/r3$T/src/small" || fail "the other file was not restored"
rc=0
arca -r "$R" --no-cache check --read-data > /dev/null 2> "$T/check.err" || rc=$?
[ "$rc" -eq 1 ] || fail "check of a damaged list exited $rc"
contains "$lid" < "$T/check.err" || fail "check does not name the damaged list: $(cat "$T/check.err")"
rc=0
arca -r "$R" repair --read-data > /dev/null 2> "$T/repair.err" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "repair exited $rc: $(cat "$T/repair.err")"
arca -r "$R" backup "$T/src" > /dev/null
rm -rf "$T/r3"
arca -r "$R" restore latest --path "$T/src" --target "$T/r3" > /dev/null
cmp "$T/src/big" "$T/r3$T/src/big" || fail "big after repair and backup differs"
arca -r "$R" repair snapshots --forget > /dev/null 2>&1 || [ $? -eq 3 ] || fail "repair snapshots failed"
arca -r "$R" --no-cache check --read-data > /dev/null 2> "$T/check.err" ||
    fail "check after repair and backup: $(cat "$T/check.err")"
pass
