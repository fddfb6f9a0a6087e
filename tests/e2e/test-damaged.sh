#!/bin/bash
# Damage is contained and named: a damaged snapshot object is left out of listings (exit 3)
# while every other snapshot lists and restores, prune refuses to guess what it used; a
# damaged index object stops backup with a message, not a crash; a damaged key slot is
# named, not taken for a wrong passphrase; a repository without its config is "damaged",
# and init refuses to make a new one over its objects; leftovers of killed runs
# (temporary files, packs in no index) are reported by check and by prune's dry run, and
# removed by prune.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/src/a" "$T/src/b"
head -c 2M /dev/urandom > "$T/src/a/one"
head -c 2M /dev/urandom > "$T/src/b/two"

# ---- a damaged snapshot is left out; the others list and restore ------------------------
R=$(new_repo repo)
arca_init "$R" >/dev/null
arca -r "$R" backup "$T/src/a" --tag a >/dev/null
arca -r "$R" backup "$T/src/b" --tag b >/dev/null
arca -r "$R" snapshots --json > "$T/snaps.json"
bad=$(json_get "$T/snaps.json" '[s["id"] for s in j if s["tags"] == ["a"]][0]')
damage "$R" "snapshots/$bad" flip
rc=0
arca -r "$R" --no-cache snapshots --json > "$T/snaps2.json" 2> "$T/err" || rc=$?
[ "$rc" -eq 3 ] || fail "snapshots with a damaged snapshot exited $rc, expected 3: $(cat "$T/err")"
grep -qF "snapshots/$bad is corrupt" "$T/err" || fail "the damaged snapshot is not named: $(cat "$T/err")"
[ "$(json_get "$T/snaps2.json" '[s["tags"] for s in j]')" = "[['b']]" ] ||
    fail "snapshots does not list the intact one: $(cat "$T/snaps2.json")"
arca -r "$R" --no-cache restore latest --tag b --target "$T/r" 2> "$T/err" || fail "restore of the intact snapshot failed: $(cat "$T/err")"
cmp "$T/src/b/two" "$T/r$T/src/b/two" || fail "restored file differs"
expect_rc 1 arca -r "$R" --no-cache restore "${bad:0:8}" --target "$T/r2"
arca -r "$R" --no-cache backup "$T/src/a" > /dev/null 2> "$T/err" || fail "backup next to a damaged snapshot failed: $(cat "$T/err")"
rc=0
arca -r "$R" --no-cache prune > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "prune with a damaged snapshot exited $rc, expected 1"
grep -qF "snapshot ${bad:0:8} is damaged: prune cannot tell what it uses" "$T/err" || fail "prune: $(cat "$T/err")"
rc=0
arca -r "$R" check > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "check with a damaged snapshot exited $rc"
grep -qF "snapshots/$bad is corrupt: its content does not match its name (a valid copy is in the local cache: arca repair puts it back)" "$T/err" ||
    fail "check does not say that the cache holds a valid copy: $(cat "$T/err")"
# forget ID removes the damaged object; then everything is clean again
arca -r "$R" --no-cache --json forget "${bad:0:8}" > "$T/forget.json" 2> "$T/err" || fail "forget of a damaged snapshot: $(cat "$T/err")"
[ "$(json_get "$T/forget.json" 'j["damaged"] == ["'"$bad"'"] and j["changed"]')" = True ] ||
    fail "forget of a damaged snapshot: $(cat "$T/forget.json")"
arca -r "$R" --no-cache snapshots > /dev/null || fail "snapshots after forgetting the damaged one"
arca -r "$R" --no-cache prune > /dev/null || fail "prune after forgetting the damaged one"
arca -r "$R" --no-cache check --read-data > /dev/null || fail "check after forgetting the damaged one"

# ---- a damaged index object: a message, no crash ----------------------------------------
R2=$(new_repo repo2)
arca_init "$R2" >/dev/null
arca -r "$R2" backup "$T/src/a" >/dev/null
idx=$(list_objects "$R2" index)
damage "$R2" "index/$idx" flip
rc=0
arca -r "$R2" --no-cache backup "$T/src/b" > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "backup with a damaged index object exited $rc, expected 1: $(cat "$T/err")"
grep -qF "index/$idx is corrupt" "$T/err" || fail "backup does not name the damaged index: $(cat "$T/err")"

# ---- a damaged key slot is named ------------------------------------------------------------
R3=$(new_repo repo3)
arca_init "$R3" >/dev/null
key=$(list_objects "$R3" keys)
damage "$R3" "keys/$key" flip
rc=0
arca -r "$R3" snapshots > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "a damaged key slot gave exit $rc, expected 1 (not 12, wrong passphrase): $(cat "$T/err")"
grep -qF "key slot ${key:0:8} is damaged" "$T/err" || fail "the damaged key slot is not named: $(cat "$T/err")"

# ---- a repository without its config ------------------------------------------------------
R4=$(new_repo repo4)
arca_init "$R4" >/dev/null
arca -r "$R4" backup "$T/src/a" >/dev/null
obj_get "$R4" config "$T/config"
obj_rm "$R4" config
rc=0
arca -r "$R4" snapshots > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "a missing config gave exit $rc, expected 1: $(cat "$T/err")"
grep -qF "the repository is damaged: its config is missing" "$T/err" || fail "missing config: $(cat "$T/err")"
rc=0
arca_init "$R4" > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "init over a repository without config exited $rc, expected 1"
grep -qF "refusing to make a new one over them" "$T/err" || fail "init: $(cat "$T/err")"
obj_put "$R4" config "$T/config"
arca -r "$R4" check >/dev/null 2>&1 || fail "the repository does not check after its config is back"

# ---- leftovers of killed runs: packs in no index, temporary files ------------------------
R5=$(new_repo repo5)
arca_init "$R5" >/dev/null
arca -r "$R5" backup "$T/src/a" >/dev/null
# a pack that no index lists (as an upload whose index a kill prevented)
head -c 100000 /dev/urandom > "$T/stray"
stray=$(sha256sum "$T/stray" | cut -c1-64)
obj_put_listed "$R5" "data/$stray" "$T/stray"
arca -r "$R5" --json prune --dry-run > "$T/dry.json"
[ "$(json_get "$T/dry.json" 'j["packs_unindexed"]')" = 1 ] || fail "prune --dry-run does not see the stray pack: $(cat "$T/dry.json")"
[ "$(json_get "$T/dry.json" 'j["bytes_freed"] >= 100000')" = True ] || fail "prune --dry-run frees too little: $(cat "$T/dry.json")"
if [ "$BACKEND" = local ]; then
    # temporary files of killed writes: an old one goes, a young one (a running write) stays
    printf 'partial' > "$R5/data/$(ls "$R5/data" | sed -n 1p)/.tmp-0123456789abcdef"
    old=$(find "$R5/data" -name '.tmp-*')
    touch -d '2 hours ago' "$old"
    printf 'young' > "$R5/index/.tmp-fedcba9876543210"
    arca -r "$R5" check > /dev/null 2> "$T/err"
    grep -qF "1 temporary file of interrupted writes" "$T/err" || fail "check does not mention the temporary file: $(cat "$T/err")"
    arca -r "$R5" --json prune --dry-run > "$T/dry.json"
    [ "$(json_get "$T/dry.json" 'j["temp_files"]')" = 1 ] || fail "prune --dry-run: $(cat "$T/dry.json")"
    [ -f "$old" ] || fail "prune --dry-run removed a temporary file"
fi
arca -r "$R5" --json prune > "$T/prune.json"
[ "$(json_get "$T/prune.json" 'j["packs_unindexed"]')" = 1 ] || fail "prune did not remove the stray pack: $(cat "$T/prune.json")"
[ "$(json_get "$T/dry.json" 'j["bytes_freed"]')" = "$(json_get "$T/prune.json" 'j["bytes_freed"]')" ] ||
    fail "prune freed $(json_get "$T/prune.json" 'j["bytes_freed"]'), its dry run said $(json_get "$T/dry.json" 'j["bytes_freed"]')"
if [ "$BACKEND" = local ]; then
    [ ! -e "$old" ] || fail "prune left the old temporary file"
    [ -f "$R5/index/.tmp-fedcba9876543210" ] || fail "prune removed a young temporary file"
    rm "$R5/index/.tmp-fedcba9876543210"
fi
arca -r "$R5" --json prune > "$T/prune2.json"
[ "$(json_get "$T/prune2.json" 'j["packs_unindexed"] == 0 and j["temp_files"] == 0')" = True ] ||
    fail "a second prune found leftovers again: $(cat "$T/prune2.json")"
arca -r "$R5" check --read-data > /dev/null
pass
