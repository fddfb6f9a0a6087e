#!/bin/bash
# Restore over an existing tree: a damaged copy (bytes changed in the middle of big files,
# one truncated, files deleted, stray files and directories added, modes changed) is brought
# back to the snapshot's exact state by restore --delete, fetching only a small part of the
# tree from the repository; --dry-run --json says so and changes nothing; a second run has
# nothing to do; --delete never follows a symlink out of the target; a restore killed with
# SIGKILL finishes when it is run again.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" --pack-size 4M >/dev/null
make_fixture "$T/src"
mkdir -p "$T/src/big"
for i in 1 2 3 4 5 6; do head -c 12000000 /dev/urandom > "$T/src/big/f$i"; done
arca -r "$R" backup "$T/src" -q
D=$T/r$T/src   # where the tree lands under the target

arca -r "$R" restore latest --target "$T/r" -q
compare_trees "$T/src" "$D"

# a restore over an identical tree writes and fetches nothing
arca -r "$R" --json restore latest --target "$T/r" > "$T/same.json"
[ "$(json_get "$T/same.json" 'j["changed"] == False and j["bytes_fetched"] == 0 and j["files_restored"] == 0')" = True ] ||
    fail "restore over an identical tree did something: $(cat "$T/same.json")"

# damage it
printf 'DAMAGE' | dd of="$D/big/f1" bs=1 seek=6000000 conv=notrunc status=none
printf 'XY' | dd of="$D/big/f2" bs=1 seek=100 conv=notrunc status=none
flip_byte "$D/random.bin" 1500000
truncate -s 3000000 "$D/big/f3"
rm "$D/big/f4" "$D/hello.txt" "$D/sub/link-a"
rm -r "$D/sub/deeper/deepest"
echo stray > "$D/stray-file"
mkdir -p "$D/stray-dir/inner"
echo stray > "$D/stray-dir/inner/x"
chmod 600 "$D/max-chunk.bin"
chmod 700 "$D/sub"
rm "$D/symlink-rel"
ln -s elsewhere "$D/symlink-rel"
# a symlink out of the target, where the snapshot has nothing: --delete removes the link,
# never what it points at
mkdir -p "$T/outside/keep"
echo precious > "$T/outside/keep/file"
ln -s "$T/outside" "$D/escape"
# and one where the snapshot has a directory
rm -r "$D/empty-dir"
ln -s "$T/outside" "$D/empty-dir"
(cd "$T/outside" && find . -printf '%p %s %m\n' | sort) > "$T/outside.before"
# the target holds other things too, above the snapshot's paths: --delete leaves them alone
top=${T#/}
top=${top%%/*}   # the first directory of the snapshot's paths ("tmp" for /tmp/...)
echo mine > "$T/r/not-from-the-snapshot"
mkdir -p "$T/r/$top/other-dir"

# --dry-run: says what it would do, changes nothing
(cd "$T/r" && find . -printf '%p %s %m %T@\n' | sort) > "$T/tree.before"
arca -r "$R" --json restore latest --target "$T/r" --delete --dry-run > "$T/dry.json"
(cd "$T/r" && find . -printf '%p %s %m %T@\n' | sort) > "$T/tree.after"
cmp -s "$T/tree.before" "$T/tree.after" || fail "restore --dry-run changed the target"
[ "$(json_get "$T/dry.json" 'j["dry_run"] and not j["changed"] and j["deleted"] >= 4 and j["files_restored"] >= 7')" = True ] ||
    fail "dry run: unexpected plan: $(cat "$T/dry.json")"

# the real thing
arca -r "$R" --json restore latest --target "$T/r" --delete --verify > "$T/inc.json"
compare_trees "$T/src" "$D"
[ -e "$D/stray-file" ] && fail "--delete left a stray file"
[ -e "$D/stray-dir" ] && fail "--delete left a stray directory"
[ -e "$D/escape" ] && fail "--delete left the symlink out of the target"
[ -f "$T/r/not-from-the-snapshot" ] && [ -d "$T/r/$top/other-dir" ] ||
    fail "--delete removed what lies outside the snapshot's paths"
(cd "$T/outside" && find . -printf '%p %s %m\n' | sort) > "$T/outside.after"
cmp -s "$T/outside.before" "$T/outside.after" || fail "restore --delete touched what a symlink pointed at"
total=$(du -sb --apparent-size "$T/src" | cut -f1)
fetched=$(json_get "$T/inc.json" 'j["bytes_fetched"]')
reused=$(json_get "$T/inc.json" 'j["bytes_reused"]')
echo "  incremental restore: fetched $fetched, reused $reused of a $total-byte tree" >&2
# what is really missing: f4 (12 MB), 9 MB of f3, a chunk or two of f1, f2, random.bin
[ $((fetched * 100)) -lt $((total * 35)) ] || fail "fetched $fetched bytes of a $total-byte tree"
[ "$reused" -gt 10000000 ] || fail "reused only $reused bytes of the damaged files"
[ "$(json_get "$T/dry.json" 'j["bytes_fetched"]')" = "$fetched" ] ||
    fail "the dry run said $(json_get "$T/dry.json" 'j["bytes_fetched"]') bytes to fetch, the restore fetched $fetched"
[ "$(json_get "$T/inc.json" 'j["errors"]')" = 0 ] || fail "errors: $(cat "$T/inc.json")"

# a symlink above the snapshot's paths (as /lib -> usr/lib on merged-/usr systems) is the
# target's, not the snapshot's: --delete leaves it, and nothing is written through it
# (the first directory of the snapshot's paths: tmp for a scratch under /tmp)
top=${T#/}
top=${top%%/*}
mkdir -p "$T/anc" "$T/outside2"
ln -s "$T/outside2" "$T/anc/$top"
rc=0
arca -r "$R" restore latest --target "$T/anc" --delete -q 2> "$T/anc.err" || rc=$?
[ "$rc" -eq 1 ] || fail "restore through a symlinked ancestor exited $rc, expected 1"
[ -L "$T/anc/$top" ] || fail "--delete removed a symlink above the snapshot's paths"
[ -z "$(ls -A "$T/outside2")" ] || fail "restore wrote through a symlink: $(ls -A "$T/outside2")"

# run twice: nothing left to do
arca -r "$R" --json restore latest --target "$T/r" --delete > "$T/again.json"
[ "$(json_get "$T/again.json" 'j["changed"] == False and j["bytes_fetched"] == 0 and j["deleted"] == 0')" = True ] ||
    fail "a second restore --delete changed something: $(cat "$T/again.json")"

# rollback: an older snapshot's exact state over the newer tree
first=$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["short_id"])')
cp -a "$T/src" "$T/src-v1"
echo changed >> "$T/src/sub/text.txt"
echo new > "$T/src/new-file"
arca -r "$R" backup "$T/src" -q
arca -r "$R" restore latest --target "$T/r" --delete -q
compare_trees "$T/src" "$D"
arca -r "$R" restore "$first" --target "$T/r" --delete -q
[ -e "$D/new-file" ] && fail "rollback left a file the old snapshot does not have"
cmp -s "$D/sub/text.txt" "$T/src-v1/sub/text.txt" || fail "rollback did not restore the old content"

# kill -9 in the middle of a restore; the same restore again completes it
for delay in 0.2 0.6; do
    rm -rf "$T/k"
    "$ARCA" -r "$R" restore latest --target "$T/k" --delete >/dev/null 2>&1 &   # $! must be arca
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    arca -r "$R" restore latest --target "$T/k" --delete -q || fail "restore after kill -9 at ${delay}s failed"
    compare_trees "$T/src" "$T/k$T/src"
done
pass
