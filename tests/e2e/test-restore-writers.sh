#!/bin/bash
# The restore's writers (libbackup/src/restwrite.c) write files side by side and a large
# file in pieces by several threads at once, and commit them in order: a tree of large
# files (several 8 MiB pieces each), many small files in many directories, hard links,
# symlinks and a sparse file restores exactly (content and metadata, --verify too); over a
# copy changed in the first and the last piece of a large file it rewrites what changed;
# and a damaged blob in the last piece of a large file fails that file alone: named, its
# old version kept whole (not the first pieces new and the rest old), no temporary file
# left, everything else exact.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" --pack-size 1M >/dev/null
S=$T/src
mkdir -p "$S/a/b"
head -c 41000000 /dev/urandom > "$S/a/big"
head -c 19000000 /dev/urandom > "$S/a/b/big2"
for d in $(seq 1 24); do
    mkdir -p "$S/d$d/sub"
    for f in $(seq 1 9); do
        head -c $((d * 700 + f * 3001)) /dev/urandom > "$S/d$d/f$f"
        echo "file $d $f" > "$S/d$d/sub/s$f"
    done
    ln -s "f1" "$S/d$d/link"
    chmod 0640 "$S/d$d/f2"
    touch -d "2020-01-0$((d % 9 + 1)) 12:00" "$S/d$d/f3"
done
ln "$S/d3/f4" "$S/d7/hard"
truncate -s 30M "$S/a/sparse"
printf 'middle' | dd of="$S/a/sparse" bs=1 seek=15000000 conv=notrunc status=none
arca -r "$R" backup "$S" --json > "$T/b.json"
snap=$(json_get "$T/b.json" 'j["snapshot_id"]')

arca -r "$R" restore latest --verify --target "$T/r1" >/dev/null || fail "restore --verify failed"
compare_trees "$S" "$T/r1$S"
[ "$(stat -c %i "$T/r1$S/d3/f4")" = "$(stat -c %i "$T/r1$S/d7/hard")" ] || fail "the hard link is two files"
[ "$(stat -c %b "$T/r1$S/a/sparse")" -lt 1000 ] || fail "the sparse file was filled: $(stat -c %b "$T/r1$S/a/sparse") blocks"

# changed in its first and last piece, and small files changed: rewritten, nothing else
printf 'AAAA' | dd of="$T/r1$S/a/big" bs=1 seek=1000 conv=notrunc status=none
printf 'ZZZZ' | dd of="$T/r1$S/a/big" bs=1 seek=40000000 conv=notrunc status=none
echo changed > "$T/r1$S/d5/f1"
rm "$T/r1$S/d9/f9"
arca -r "$R" --json restore latest --delete --target "$T/r1" > "$T/inc.json" || fail "restore over the changed copy failed"
compare_trees "$S" "$T/r1$S"
[ "$(json_get "$T/inc.json" 'j["bytes_reused"] > 30000000')" = True ] ||
    fail "the unchanged pieces of big were not reused: $(cat "$T/inc.json")"

# the blob of big's last chunk, damaged in its pack
node_at "$R" "$snap" "$S/a/big" > "$T/big.json"
lastid=$(json_get "$T/big.json" '[c["id"] for c in j["content"] if c.get("id")][-1]')
[ "$(json_get "$T/big.json" 'len(j["content"]) >= 20')" = True ] || fail "big has too few chunks for several pieces"
damage_blob "$R" "$lastid"

# big must be rewritten (its old version differs in its first and its last chunk, so the
# last one cannot be taken from it), and cannot be: it keeps the old one
printf 'OLD!' | dd of="$T/r1$S/a/big" bs=1 seek=5000 conv=notrunc status=none
printf 'OLD!' | dd of="$T/r1$S/a/big" bs=1 seek=40999000 conv=notrunc status=none
cp "$T/r1$S/a/big" "$T/big.old"
echo stale > "$T/r1$S/d11/f2"
rm -rf "$ARCA_CACHE_DIR"
rc=0
arca -r "$R" restore latest --target "$T/r1" > /dev/null 2> "$T/r2.err" || rc=$?
[ "$rc" -eq 1 ] || fail "restore with a damaged blob exited $rc, not 1: $(cat "$T/r2.err")"
contains "$S/a/big" < "$T/r2.err" || fail "the damaged file is not named: $(cat "$T/r2.err")"
cmp "$T/big.old" "$T/r1$S/a/big" || fail "big is neither its old version nor absent: partly rewritten"
cmp "$S/d11/f2" "$T/r1$S/d11/f2" || fail "a small file was not restored next to the failure"
cmp "$S/a/b/big2" "$T/r1$S/a/b/big2" || fail "big2 differs"
leftovers=$(find "$T/r1" -name '.arca-restore-*' | wc -l)
[ "$leftovers" -eq 0 ] || fail "$leftovers temporary files left"
pass
