#!/bin/bash
# A restore that fails never leaves wrong data under a real name, and the next run mends
# it: a damaged pack (restore exits 1; files that lost data are absent in a fresh target and
# keep their old version over an existing one; once the pack is back a re-run restores
# them, byte for byte), a full file system (a 20 MiB tmpfs: exit 1, no partial file; grown,
# a re-run with --verify exits 0 and the tree is exact), kill -9 in the middle of writing
# (no partial file under a final name; the re-run removes the leftovers, keeps what was
# complete and completes the rest).
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (mounts a tmpfs)"
MNT=$T/small
fixup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    return 0
}
trap 'rc=$?; fixup; (exit $rc); cleanup' EXIT

R=$(new_repo repo)
arca_init "$R" --pack-size 1M >/dev/null

# every regular file under DIR (but temporary ones, and those in a temporary directory) is
# byte for byte the one under REF or, when given, under OLD: nothing partial, nothing
# zero-filled, under a real path
only_exact_files() {
    local dir=$1 ref=$2 old=${3:-} f rel
    while IFS= read -r -d '' f; do
        rel=${f#"$dir"/}
        case /$rel in */.arca-restore-*) continue ;; esac
        cmp -s "$f" "$ref/$rel" && continue
        [ -n "$old" ] && cmp -s "$f" "$old/$rel" && continue
        fail "$f has content that is neither the snapshot's nor the old one"
    done < <(find "$dir" -type f -print0)
}

# put_pack / get_pack NAME FILE: a pack object of the repository, as a file
get_pack() {
    case $R in
        rados:*) mapfile -t ra < <(rados_of "$R"); rados "${ra[@]}" get "data/$1" "$2" ;;
        *) cp "$(find "$R/data" -type f -name "$1")" "$2" ;;
    esac
}
put_pack() {
    case $R in
        rados:*) mapfile -t ra < <(rados_of "$R"); rados "${ra[@]}" put "data/$1" "$2" ;;
        *) local p; p=$(find "$R/data" -type f -name "$1"); chmod u+w "$p"; cp "$2" "$p"; chmod 0444 "$p" ;;
    esac
}
# the largest data pack not in the list file $1 (tree packs are small)
biggest_new_pack() {
    local best= size=0 p s
    for p in $(list_objects "$R" data); do
        p=${p##*/}
        grep -qxF "$p" "$1" && continue
        get_pack "$p" "$T/probe"
        s=$(stat -c %s "$T/probe")
        [ "$s" -gt "$size" ] && { size=$s; best=$p; }
    done
    echo "$best"
}
flip() {   # flip FILE: one byte in the middle
    python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x40
open(p, 'wb').write(bytes(b))
PY
}

# ---- a damaged pack ------------------------------------------------------------------------
mkdir -p "$T/src/d"
for i in $(seq 1 12); do head -c 300000 /dev/urandom > "$T/src/d/f$i"; done
echo small > "$T/src/small"
arca -r "$R" backup "$T/src" -q
cp -a "$T/src" "$T/v1"
list_objects "$R" data | sed 's|.*/||' > "$T/packs.v1"
arca -r "$R" restore latest --target "$T/old" -q
compare_trees "$T/src" "$T/old$T/src"
# v2: every file changes, so its chunks are in new packs only
for i in $(seq 1 12); do head -c 300000 /dev/urandom > "$T/src/d/f$i"; done
arca -r "$R" backup "$T/src" -q
pack=$(biggest_new_pack "$T/packs.v1")
[ -n "$pack" ] || fail "no pack found"
get_pack "$pack" "$T/pack.good"
cp "$T/pack.good" "$T/pack.bad"
flip "$T/pack.bad"
put_pack "$pack" "$T/pack.bad"

# fresh target: exit 1, the damaged files are absent, the others exact
rc=0
arca -r "$R" restore latest --target "$T/fresh" -q 2> "$T/fresh.err" || rc=$?
[ "$rc" -eq 1 ] || fail "restore with a damaged pack exited $rc, expected 1"
grep -q 'd/f' "$T/fresh.err" || fail "the damaged files are not named: $(cat "$T/fresh.err")"
only_exact_files "$T/fresh$T/src" "$T/src"
missing=0
for i in $(seq 1 12); do [ -e "$T/fresh$T/src/d/f$i" ] || missing=$((missing + 1)); done
[ "$missing" -gt 0 ] || fail "no file is missing although a pack is damaged"
# over the old version: the files that could not be restored keep their old content
rc=0
arca -r "$R" restore latest --target "$T/old" -q 2> "$T/old.err" || rc=$?
[ "$rc" -eq 1 ] || fail "restore over a tree with a damaged pack exited $rc, expected 1"
only_exact_files "$T/old$T/src" "$T/src" "$T/v1"
kept=0
for i in $(seq 1 12); do cmp -s "$T/old$T/src/d/f$i" "$T/v1/d/f$i" && kept=$((kept + 1)); done
[ "$kept" -gt 0 ] || fail "no old version was kept although a pack is damaged"
# the pack repaired: the same restores finish the job, nothing is taken as unchanged
put_pack "$pack" "$T/pack.good"
for t in fresh old; do
    arca -r "$R" --json restore latest --target "$T/$t" --verify > "$T/$t.json" ||
        fail "restore into $t after the repair failed: $(cat "$T/$t.json")"
    compare_trees "$T/src" "$T/$t$T/src"
done

# ---- a full file system ---------------------------------------------------------------------
R2=$(new_repo repo2)
arca_init "$R2" >/dev/null
mkdir -p "$T/big/sub"
for i in 1 2 3 4 5 6; do head -c 5000000 /dev/urandom > "$T/big/sub/f$i"; done
for i in $(seq 1 20); do echo "small $i" > "$T/big/s$i"; done
arca -r "$R2" backup "$T/big" -q
mkdir -p "$MNT"
mount -t tmpfs -o size=20m tmpfs "$MNT"
rc=0
arca -r "$R2" restore latest --target "$MNT/r" -q 2> "$T/full.err" || rc=$?
[ "$rc" -eq 1 ] || fail "restore into a full file system exited $rc, expected 1"
grep -q 'No space left on device' "$T/full.err" || fail "ENOSPC is not reported: $(cat "$T/full.err")"
only_exact_files "$MNT/r$T/big" "$T/big"
find "$MNT/r" -name '.arca-restore-*' > "$T/tmpfiles"
[ ! -s "$T/tmpfiles" ] || fail "temporary files left after ENOSPC: $(cat "$T/tmpfiles")"
mount -o remount,size=200m "$MNT"
arca -r "$R2" --json restore latest --target "$MNT/r" --verify > "$T/full2.json" ||
    fail "restore after growing the file system failed: $(cat "$T/full2.json")"
[ "$(json_get "$T/full2.json" 'j["errors"] == 0 and j["files_restored"] >= 1')" = True ] ||
    fail "second restore: $(cat "$T/full2.json")"
compare_trees "$T/big" "$MNT/r$T/big"
umount "$MNT"

# ---- kill -9 while a file is being written ------------------------------------------------------
R3=$(new_repo repo3)
arca_init "$R3" >/dev/null
# big files that cost the repository almost nothing (a repeated 16-byte line: every chunk
# is the same), so that a restore spends long in each file without filling a test cluster
pattern() {
    python3 -c 'import sys; open(sys.argv[1], "wb").write((sys.argv[2] + "\n").encode() * 12500000)' "$1" "$2"
}
# 0/ holds little and is restored first: into a fresh target it is made under a temporary
# name and renamed into place once complete, before a/ begins; a/ holds more than a hidden
# directory may (a sparse 2 GiB file: nothing to write), so its files get temporary names
mkdir -p "$T/k/0" "$T/k/a" "$T/k/b"
for i in 1 2 3 4; do echo "first $i" > "$T/k/0/s$i"; done
for i in 1 2 3; do pattern "$T/k/a/f$i" "v1-file-$i-abcde"; done
truncate -s 2G "$T/k/a/sparse"
for i in $(seq 1 8); do echo "$i" > "$T/k/b/s$i"; done
arca -r "$R3" backup "$T/k" -q
cp -a "$T/k" "$T/k-v1"
for i in 2 3; do pattern "$T/k/a/f$i" "v2-file-$i-abcde"; done
arca -r "$R3" backup "$T/k" -q
first=$(arca -r "$R3" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
arca -r "$R3" restore "$first" --target "$T/kt-over" -q

# run_and_kill SNAP TARGET: start a restore, kill -9 it once a big temporary file exists (a
# file with a temporary name, or any file in a temporary directory)
run_and_kill() {
    local tries=0 pid found
    while [ $tries -lt 5 ]; do
        tries=$((tries + 1))
        "$ARCA" -r "$R3" restore "$1" --target "$2" >/dev/null 2>&1 &   # $! must be arca
        pid=$!
        found=
        while kill -0 $pid 2>/dev/null; do
            found=$(find "$2" -path '*/.arca-restore-*' -type f -size +1M -print -quit 2>/dev/null || true)
            [ -n "$found" ] && break
            sleep 0.02
        done
        kill -9 $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        if [ -n "$found" ]; then
            echo "  kill -9 with ${found#"$2"/} being written (attempt $tries)" >&2
            return 0
        fi
    done
    fail "never saw a restore into $2 writing a temporary file"
}
run_and_kill latest "$T/kt"
only_exact_files "$T/kt$T/k" "$T/k"
# what was complete before the kill is in place, and the next run keeps it
for i in 1 2 3 4; do
    cmp -s "$T/k/0/s$i" "$T/kt$T/k/0/s$i" || fail "0/s$i is not in place after the kill"
done
run_and_kill latest "$T/kt-over"
only_exact_files "$T/kt-over$T/k" "$T/k" "$T/k-v1"
for t in kt kt-over; do
    arca -r "$R3" --json restore latest --target "$T/$t" --verify > "$T/again-$t.json" ||
        fail "restore into $t after kill -9 failed: $(cat "$T/again-$t.json")"
    compare_trees "$T/k" "$T/$t$T/k"   # leftovers too: they would be "only in"
done
[ "$(json_get "$T/again-kt.json" 'j["files_unchanged"] >= 4')" = True ] ||
    fail "the run after a kill -9 rewrote what was complete: $(cat "$T/again-kt.json")"
pass
