#!/bin/bash
# The blob index a run consults is a mapped file in the local cache (docs/scale.md): made
# once, brought up to date with the index objects that are new since (another host's
# backups), never believed when damaged, made again when lost, and shared by runs on one
# host at the same time.  Every step must give the same results as with no cache at all.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src/a" "$T/src/b"
for i in 1 2 3 4; do head -c 1500000 /dev/urandom > "$T/src/a/f$i"; done
for i in 1 2 3 4; do head -c 700000 /dev/urandom > "$T/src/b/g$i"; done

id=$(arca -r "$R" --json cat config | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
MAP=$ARCA_CACHE_DIR/$id/index.map
arca -r "$R" backup "$T/src/a" >/dev/null
[ -f "$MAP" ] || fail "no index file in the cache after a backup"
cp "$MAP" "$T/map.1"

# another host (its own cache) backs up b and a copy of a: our cache is stale now
OTHER=$T/other-cache
ARCA_CACHE_DIR=$OTHER arca -r "$R" backup "$T/src" --host other --json > "$T/other.json"
[ "$(json_get "$T/other.json" 'j["summary"]["bytes_added_raw"] < 4000000')" = True ] ||
    fail "the other host stored a again: $(cat "$T/other.json")"
cmp -s "$MAP" "$T/map.1" || fail "another cache's run changed ours"
# ours learns the new index object and dedups against it; restores what the other stored
cp -a "$T/src/b" "$T/src/b-copy"
arca -r "$R" backup "$T/src" --json > "$T/b.json"
[ "$(json_get "$T/b.json" 'j["summary"]["bytes_added_raw"] < 100000')" = True ] ||
    fail "a stale cache missed what another host stored: $(cat "$T/b.json")"
arca -r "$R" restore latest --host other --target "$T/r1" >/dev/null
diff -r "$T/src/b" "$T/r1$T/src/b" >/dev/null || fail "restore through a stale cache differs"

# damaged: a byte of the entries flipped (where the header says they are); found when
# used, made again, and the results are right.  (While few blobs are new since it was
# made, a file stays as it is and the new ones are kept in RAM: make it hold everything.)
rm -f "$MAP"
arca -r "$R" stats >/dev/null
read -r entries n < <(python3 -c 'import struct,sys
h = open(sys.argv[1], "rb").read(96)
print(struct.unpack_from("<Q", h, 64)[0], struct.unpack_from("<Q", h, 24)[0])' "$MAP")
[ "$n" -gt 20 ] || fail "the index file holds $n entries"
flip_byte "$MAP" $((entries + 52 * (n / 2) + 7))
arca -r "$R" stats --json > "$T/stats2.json" 2> "$T/err" || fail "stats over a damaged index file: $(cat "$T/err")"
grep -qF "is damaged: making it again" "$T/err" || fail "the damaged index file was not noticed: $(cat "$T/err")"
flip_byte "$MAP" $((entries + 52 * (n / 3) + 40))
rm -rf "$T/r2"
arca -r "$R" restore latest --target "$T/r2" >/dev/null 2> "$T/err" || fail "restore over a damaged index file: $(cat "$T/err")"
diff -r "$T/src" "$T/r2$T/src" >/dev/null || fail "restore over a damaged index file differs"
# the pack table damaged: not read at open, found when a lookup wants a pack's id (or
# prune, which reads it all)
packs=$(python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1], "rb").read(96), 56)[0])' "$MAP")
flip_byte "$MAP" $((packs + 3))
rm -rf "$T/r3"
arca -r "$R" restore latest --target "$T/r3" >/dev/null 2> "$T/err" || fail "restore over a damaged pack table: $(cat "$T/err")"
grep -qF "is damaged: making it again" "$T/err" || fail "the damaged pack table was not noticed: $(cat "$T/err")"
diff -r "$T/src" "$T/r3$T/src" >/dev/null || fail "restore over a damaged pack table differs"
flip_byte "$MAP" $((packs + 3))   # in the file made again
arca -r "$R" prune --dry-run --json > "$T/p.json" 2> "$T/err" || fail "prune over a damaged pack table: $(cat "$T/err")"
grep -qF "is damaged: making it again" "$T/err" || fail "prune did not notice the damaged pack table: $(cat "$T/err")"
[ "$(json_get "$T/p.json" 'j["packs_deleted"]')" = 0 ] || fail "prune over a damaged pack table would delete: $(cat "$T/p.json")"
arca -r "$R" check --read-data >/dev/null || fail "check after a damaged index file"
arca -r "$R" stats --json > "$T/stats1.json"
arca -r "$R" --no-cache stats --json > "$T/stats0.json"
cmp -s "$T/stats0.json" "$T/stats1.json" || fail "stats with the cache differ from stats without: $(cat "$T/stats1.json") vs $(cat "$T/stats0.json")"
# a header damaged: the file is refused at once and made again
flip_byte "$MAP" 30
arca -r "$R" backup "$T/src" --json > "$T/b2.json" || fail "backup over a damaged index header"
[ "$(json_get "$T/b2.json" 'j["summary"]["bytes_added_raw"] < 10000')" = True ] || fail "a damaged header lost the dedup"

# lost: made again from the repository
rm -f "$MAP"
arca -r "$R" backup "$T/src" --json > "$T/b3.json"
[ "$(json_get "$T/b3.json" 'j["summary"]["bytes_added_raw"] < 10000')" = True ] || fail "a lost index file lost the dedup"
[ -f "$MAP" ] || fail "the index file was not made again"

# prune removes index objects: what the file still says of them is not believed
arca -r "$R" forget --keep-last 1 --host other >/dev/null
rm -rf "$T/src/b-copy"
arca -r "$R" backup "$T/src" >/dev/null
arca -r "$R" forget --keep-last 1 --prune >/dev/null
arca -r "$R" check --read-data >/dev/null || fail "check after prune"
rm -rf "$T/r3"
arca -r "$R" restore latest --target "$T/r3" >/dev/null
diff -r "$T/src" "$T/r3$T/src" >/dev/null || fail "restore after prune differs"
arca -r "$R" stats --json > "$T/stats1.json"
arca -r "$R" --no-cache stats --json > "$T/stats0.json"
cmp -s "$T/stats0.json" "$T/stats1.json" || fail "after prune, stats with the cache differ: $(cat "$T/stats1.json") vs $(cat "$T/stats0.json")"

# many new entries (another host's big backup) are not read into memory only to be
# dropped: the index objects' sizes tell that they would not fit, and the file is made again
R2=$(new_repo many)
arca_init "$R2" --chunk-min 512 --chunk-avg 1K --chunk-max 4K >/dev/null
mkdir -p "$T/small" "$T/big"
head -c 10000 /dev/urandom > "$T/small/f"
arca -r "$R2" backup "$T/small" >/dev/null
head -c 90000000 /dev/urandom > "$T/big/f"   # about 70,000 blobs in one index object
ARCA_CACHE_DIR=$OTHER arca -r "$R2" backup "$T/big" --host other >/dev/null
echo more >> "$T/small/f"
arca -r "$R2" -vv backup "$T/small" > /dev/null 2> "$T/many.err"
contains "index: making the index file" < "$T/many.err" ||
    fail "the index file was not made again for many new entries: $(cat "$T/many.err")"
if contains "read into memory" < "$T/many.err"; then
    fail "new index objects too big for memory were read into it first: $(cat "$T/many.err")"
fi
rm -rf "$T/big"

# runs at the same time on one host share the cache
rm -f "$MAP"
for i in 1 2 3; do head -c 500000 /dev/urandom > "$T/src/a/new$i"; done
pids=()
for h in one two three; do
    "$ARCA" -r "$R" backup "$T/src" --host "$h" > "$T/c-$h.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent backup failed: $(cat "$T"/c-*.out)"; done
for h in one two three; do
    rm -rf "$T/r4"
    arca -r "$R" restore latest --host "$h" --target "$T/r4" >/dev/null
    diff -r "$T/src" "$T/r4$T/src" >/dev/null || fail "restore of host $h after concurrent backups differs"
done
arca -r "$R" check --read-data >/dev/null || fail "check after concurrent backups"
pass
