#!/bin/bash
# A repository of format 1 (tests/data/repo-v1, written by arca 0.1.0, never regenerated)
# is read by this version: its snapshots list, check --read-data passes, both snapshots
# restore byte for byte with their metadata, and a new backup into it dedups against
# what it holds.  The fixture is a local repository, the same on either backend's run.
source "$(dirname "$0")/lib.sh"

DATA=$HERE/../data
R=$T/repo-v1
cp -a "$DATA/repo-v1" "$R"          # a copy: a run writes lock records
export ARCA_PASSWORD_FILE=$DATA/repo-v1.pass
SRC=/tmp/arca-v1-fixture/src           # where the tree was when it was backed up

arca -r "$R" snapshots --json > "$T/snaps.json"
[ "$(json_get "$T/snaps.json" 'len(j)')" = 2 ] || fail "the fixture lists $(cat "$T/snaps.json")"
[ "$(json_get "$T/snaps.json" 'sorted(p for s in j for p in s["paths"])')" = "['/db/dump.sql', '$SRC']" ] ||
    fail "the fixture's paths: $(cat "$T/snaps.json")"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data of the fixture"

# the tree, as repo-v1-tree.py writes it
python3 "$DATA/repo-v1-tree.py" "$T/expect"
owner=()
[ "$(id -u)" -eq 0 ] || owner=(--no-owner)
arca -r "$R" restore latest --path "$SRC" --target "$T/r" >/dev/null
compare_trees "$T/expect" "$T/r$SRC" "${owner[@]}"
[ "$(stat -c %h "$T/r$SRC/etc/hardlink.conf")" = 2 ] || fail "the hard link came back apart"

# the stream
arca -r "$R" restore latest --path /db/dump.sql --target "$T/d" >/dev/null
printf 'CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1),(2);\n' > "$T/dump.sql"
cmp "$T/dump.sql" "$T/d/db/dump.sql" || fail "the stream restored differs"

# this version writes into it, and what it holds is not stored again
mkdir -p "$T/again"
cp -a "$T/expect" "$T/again/src"
arca -r "$R" backup --json "$T/again/src" > "$T/b.json"
[ "$(json_get "$T/b.json" 'j["summary"]["bytes_added_raw"] < 20000')" = True ] ||
    fail "a backup of the same tree into the fixture stored it again: $(cat "$T/b.json")"
arca -r "$R" check >/dev/null || fail "check after a backup into the fixture"
pass
