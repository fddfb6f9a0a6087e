#!/bin/bash
# Sparse files: a backup finds the holes with SEEK_HOLE/SEEK_DATA and does not read them
# (a 50 GB file with 4 MiB of data reads 4 MiB), stores them as holes, and the restored
# file has the same content, with its holes; --verify reads holes back in bounded memory.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src"
truncate -s 50G "$T/src/huge"
head -c 4M /dev/urandom > "$T/data4m"
dd if="$T/data4m" of="$T/src/huge" bs=1M seek=20000 conv=notrunc status=none
# 4 MiB with 4 KiB of data in the middle, and a file whose last byte is its only data
truncate -s 4M "$T/src/small"
head -c 4096 /dev/urandom | dd of="$T/src/small" bs=4096 seek=500 conv=notrunc status=none
printf 'x' | dd of="$T/src/tail" bs=1 seek=$((3 << 20)) status=none
printf 'dense\n' > "$T/src/dense"
# the scratch file system must make holes, or this test proves nothing
[ "$(stat -c %b "$T/src/huge")" -lt 20000 ] || fail "the scratch file system ($T) does not keep sparse files"

arca -r "$R" backup "$T/src" --json > "$T/b1.json"
read_bytes=$(json_get "$T/b1.json" 'j["summary"]["bytes_read"]')
total=$(json_get "$T/b1.json" 'j["summary"]["total_bytes"]')
# data: 4 MiB + 4 KiB + 1 byte + 6 bytes; allow a few blocks of slack for the file system
[ "$read_bytes" -lt $(( (4 << 20) + 64 * 1024 )) ] || fail "backup read $read_bytes bytes of sparse files"
[ "$read_bytes" -ge $(( (4 << 20) + 4096 )) ] || fail "backup read only $read_bytes bytes: data missed"
[ "$total" -eq $(( (50 << 30) + (4 << 20) + (3 << 20) + 1 + 6 )) ] || fail "total_bytes is $total"

# the holes are stored as holes: the snapshot lists them as pieces without blobs
arca -r "$R" --json ls latest "$T/src/huge" > "$T/ls.json"
[ "$(json_get "$T/ls.json" 'j[0]["size"]')" = $((50 << 30)) ] || fail "ls: wrong size of the sparse file"

# restore: same content (the data where it was), sizes, and holes where the holes were
arca -r "$R" restore latest --target "$T/r" >/dev/null
out=$T/r$T/src
for f in small tail dense; do
    cmp "$T/src/$f" "$out/$f" || fail "restored $f differs"
done
[ "$(stat -c %s "$out/huge")" = $((50 << 30)) ] || fail "restored huge has the wrong size"
dd if="$out/huge" bs=1M skip=20000 count=4 status=none | cmp - "$T/data4m" || fail "restored huge: data differs"
dd if="$out/huge" bs=1M skip=19999 count=1 status=none | cmp - <(head -c 1M /dev/zero) ||
    fail "restored huge: not zero before the data"
[ "$(stat -c %b "$out/huge")" -lt 20000 ] || fail "restored huge is not sparse: $(stat -c %b "$out/huge") blocks"
[ "$(stat -c %b "$out/tail")" -lt 100 ] || fail "restored tail is not sparse: $(stat -c %b "$out/tail") blocks"

# an unchanged re-backup reads nothing; filling a hole is noticed
arca -r "$R" backup "$T/src" --json > "$T/b2.json"
[ "$(json_get "$T/b2.json" 'j["summary"]["bytes_read"]')" = 0 ] || fail "unchanged sparse files were read again"
printf 'filled' | dd of="$T/src/small" bs=1 seek=100 conv=notrunc status=none
arca -r "$R" backup "$T/src" --json > "$T/b3.json"
[ "$(json_get "$T/b3.json" 'j["summary"]["files_changed"]')" = 1 ] || fail "a filled hole was not noticed"
rm -rf "$T/r"
arca -r "$R" restore latest --target "$T/r" --include "$T/src/small" >/dev/null
cmp "$T/src/small" "$T/r$T/src/small" || fail "restored small (hole filled) differs"

# --verify reads a hole back in bounded steps: a file of two 1 GiB hole pieces and a byte,
# restored and verified in well under a hole piece of memory (it took 1 GiB before)
mkdir -p "$T/src2"
printf 'z' | dd of="$T/src2/holey" bs=1 seek=$((2 << 30)) status=none
arca -r "$R" backup "$T/src2" -q
/usr/bin/time -f '%M' -o "$T/rss" "$ARCA" -r "$R" restore latest --target "$T/r2" --verify -q ||
    fail "restore --verify of a sparse file"
cmp "$T/src2/holey" "$T/r2$T/src2/holey" || fail "restored holey differs"
[ "$(cat "$T/rss")" -lt $((600 << 10)) ] || fail "restore --verify of 2 GiB of holes peaked at $(cat "$T/rss") KiB"
arca -r "$R" check >/dev/null
pass
