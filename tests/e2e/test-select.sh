#!/bin/bash
# What goes into a snapshot: excludes, exclude files, several paths, a single file,
# --one-file-system, --host/--tag/--time, parents per host and paths, --dry-run.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/a/cache" "$T/a/keep" "$T/b"
printf 1 > "$T/a/keep/x.txt"; printf 2 > "$T/a/keep/x.tmp"; printf 3 > "$T/a/cache/big"
printf 4 > "$T/b/y"; printf 5 > "$T/single"
printf '# comment\n\n*.log\n' > "$T/excl"
printf 6 > "$T/a/keep/z.log"

arca -r "$R" backup "$T/a" "$T/b" "$T/single" --exclude '*.tmp' --exclude "$T/a/cache" \
    --exclude-file "$T/excl" --host web01 --tag nightly --tag a,b --time '2020-01-02 03:04:05' >/dev/null
arca -r "$R" ls -R latest / > "$T/ls.txt"
grep -q "/a/keep/x.txt$" "$T/ls.txt" || fail "missing x.txt"
grep -q "/b/y$" "$T/ls.txt" || fail "missing b/y"
grep -q "/single$" "$T/ls.txt" || fail "missing the single file"
if grep -q 'x.tmp\|/cache\|z.log' "$T/ls.txt"; then fail "excluded entries saved: $(cat "$T/ls.txt")"; fi
arca -r "$R" snapshots --json > "$T/s.json"
[ "$(json_get "$T/s.json" 'j[0]["host"]')" = web01 ] || fail "host"
[ "$(json_get "$T/s.json" 'sorted(j[0]["tags"])')" = "['a', 'b', 'nightly']" ] || fail "tags"
[ "$(json_get "$T/s.json" 'j[0]["time"][:19]')" = "2020-01-02T03:04:05" ] || fail "time: $(json_get "$T/s.json" 'j[0]["time"]')"
[ "$(json_get "$T/s.json" 'len(j[0]["paths"])')" = 3 ] || fail "paths"

# filters and latest
arca -r "$R" backup "$T/b" --host other >/dev/null
[ "$(arca -r "$R" snapshots --host web01 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] || fail "--host filter"
[ "$(arca -r "$R" snapshots --tag a,b --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] || fail "--tag filter"
arca -r "$R" ls latest --host web01 "$T/single" | contains single || fail "latest --host"
expect_rc 1 arca -r "$R" ls latest --host nobody "$T/single"

# the parent is the latest snapshot with the same host and paths
arca -r "$R" backup "$T/b" --host other --json > "$T/p.json"
[ "$(json_get "$T/p.json" 'j["summary"]["files_unchanged"]')" = 1 ] || fail "parent not used"
arca -r "$R" backup "$T/b" --host third --json > "$T/p2.json"
[ "$(json_get "$T/p2.json" 'j["summary"]["files_new"]')" = 1 ] || fail "parent of another host used"
arca -r "$R" backup "$T/b" --host other --force --json > "$T/p3.json"
[ "$(json_get "$T/p3.json" 'j["summary"]["files_unchanged"]')" = 0 ] || fail "--force read nothing"

# --dry-run writes nothing
before=$(arca -r "$R" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
s0=$(repo_size "$R")
head -c 1000000 /dev/urandom > "$T/b/new"
arca -r "$R" backup "$T/b" --dry-run --json > "$T/d.json"
[ "$(json_get "$T/d.json" 'j["dry_run"] and j["summary"]["bytes_added"] > 1000000')" = True ] || fail "dry run figures: $(cat "$T/d.json")"
after=$(arca -r "$R" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$before" = "$after" ] || fail "dry run wrote a snapshot"
[ "$(repo_size "$R")" = "$s0" ] || fail "dry run wrote data"

# --one-file-system: a tmpfs mounted inside the tree is kept as an empty directory
mkdir -p "$T/ofs/mnt"
printf 'outside\n' > "$T/ofs/file"
if unshare -m true 2>/dev/null; then
    unshare -m bash -c "mount -t tmpfs none '$T/ofs/mnt' && printf inside > '$T/ofs/mnt/inner' &&
        '$ARCA' -r '$R' backup '$T/ofs' --one-file-system --tag ofs >/dev/null &&
        '$ARCA' -r '$R' backup '$T/ofs' --tag all >/dev/null" || fail "backup with a mount"
    arca -r "$R" ls -R latest --tag ofs "$T/ofs" > "$T/ofs.txt"
    grep -q '/ofs/mnt$' "$T/ofs.txt" || fail "mount point not kept"
    if grep -q 'inner' "$T/ofs.txt"; then fail "--one-file-system crossed into the tmpfs"; fi
    arca -r "$R" ls -R latest --tag all "$T/ofs" | contains '/mnt/inner$' || fail "without -x the tmpfs is saved"
else
    echo "note: $TEST_NAME: cannot mount (not root), --one-file-system not exercised" >&2
fi
pass
