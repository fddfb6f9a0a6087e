#!/bin/bash
# The parent hint (docs/scale.md): a backup takes as its parent the snapshot that the last
# backup of the same host and paths made with this cache, without listing the repository's
# snapshots.  It is only believed while it is true: a forgotten, damaged, missing or
# mismatched hint makes the backup pick its parent from the listing, as before.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src" "$T/other"
echo a > "$T/src/a"
echo o > "$T/other/o"

# backup PATH [ARG...]: the new snapshot's id
backup() {
    arca -r "$R" backup --json "$@" > "$T/backup.json" 2> "$T/backup.err" ||
        fail "backup $* failed: $(cat "$T/backup.err")"
    json_get "$T/backup.json" 'j["snapshot_id"]'
}
# parent_of ID: its parent's id, or "none"
parent_of() {
    arca -r "$R" snapshots --json > "$T/snaps.json" 2> /dev/null
    python3 -c 'import json,sys
for s in json.load(open(sys.argv[1])):
    if s["id"] == sys.argv[2]: print(s.get("parent") or "none")' "$T/snaps.json" "$1"
}
expect_parent() {
    local got
    got=$(parent_of "$1")
    [ "$got" = "$2" ] || fail "$3: the parent of ${1:0:8} is ${got:0:8}, not ${2:0:8}"
}

s1=$(backup "$T/src")
id=$(arca -r "$R" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
P=$ARCA_CACHE_DIR/$id/parents
[ "$(find "$P" -type f | wc -l)" = 1 ] || fail "the first backup left no parent hint"
echo b > "$T/src/b"
s2=$(backup "$T/src")
expect_parent "$s2" "$s1" "second backup"
[ "$(find "$P" -type f | wc -l)" = 1 ] || fail "one host and paths, one hint"
hint_src=$(find "$P" -type f)
[ "$(cat "$hint_src")" = "$s2" ] || fail "the hint does not name the last backup"

# With a true hint no other snapshot is read: a snapshot that does not decrypt, which
# every listing warns about, goes unnoticed by the backup (and is seen by a listing)
junk=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
head -c 300 /dev/urandom > "$T/junk"
obj_put_listed "$R" "snapshots/$junk" "$T/junk"
s3=$(backup "$T/src")
expect_parent "$s3" "$s2" "with the hint"
[ ! -s "$T/backup.err" ] || fail "the backup read the snapshots: $(cat "$T/backup.err")"
arca -r "$R" snapshots > /dev/null 2> "$T/list.err" || true
contains "left out" < "$T/list.err" || fail "the listing did not see the damaged snapshot"
obj_rm "$R" "snapshots/$junk"

# the hinted snapshot forgotten (and its data pruned): the newest one left is the parent
arca -r "$R" forget -q "$s3" --prune
echo c > "$T/src/c"
s4=$(backup "$T/src")
expect_parent "$s4" "$s2" "after the hinted snapshot was forgotten"
arca -r "$R" restore -q "$s4" --target "$T/r4"
compare_trees "$T/src" "$T/r4$T/src"

# no hint (a cache lost): the listing decides
rm -rf "$P"
s5=$(backup "$T/src")
expect_parent "$s5" "$s4" "without a hint"

# other paths have a hint of their own, and a hint of other paths is not believed
o1=$(backup "$T/other")
expect_parent "$o1" none "first backup of other paths"
[ "$(find "$P" -type f | wc -l)" = 2 ] || fail "two sets of paths, two hints"
hint_src=$(grep -l "$s5" "$P"/*)
printf '%s' "$o1" > "$hint_src"
s6=$(backup "$T/src")
expect_parent "$s6" "$s5" "with a hint that names a snapshot of other paths"
[ "$(cat "$hint_src")" = "$s6" ] || fail "the hint was not written again"

# garbage in the hint, and a hint of an id the repository never had
printf 'nonsense' > "$hint_src"
s7=$(backup "$T/src")
expect_parent "$s7" "$s6" "with a garbage hint"
printf '%s' "$junk" > "$hint_src"
s8=$(backup "$T/src")
expect_parent "$s8" "$s7" "with a hint of a snapshot that never was"

# another host name: a parent of its own
h1=$(backup "$T/src" --host elsewhere)
expect_parent "$h1" none "first backup of another host"
h2=$(backup "$T/src" --host elsewhere)
expect_parent "$h2" "$h1" "second backup of another host"
s9=$(backup "$T/src")
expect_parent "$s9" "$s8" "this host after another host's backups"

# --force (no parent) and --parent still win over the hint
s10=$(backup "$T/src" --parent "$s4")
expect_parent "$s10" "$s4" "--parent"
arca -r "$R" restore -q latest --path "$T/src" --target "$T/r10"
compare_trees "$T/src" "$T/r10$T/src"
pass
