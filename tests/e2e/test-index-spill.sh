#!/bin/bash
# A backup's additions to the index leave RAM for runs on disk once they pass a bound
# (ARCA_INDEX_SPILL entries; docs/scale.md): blobs that went to a run are still found, so
# copies of files read after it are not stored again; the snapshot restores byte for byte,
# check --read-data passes, the next backup finds everything in the repository's index,
# and no run is left in TMPDIR.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
# 1 MiB packs of about one 1 MiB chunk each: the writer writes an index object (and the
# index folds its entries into a run) after 64 packs, long before the copies are read
arca_init "$R" --pack-size 1M >/dev/null
mkdir -p "$T/src/zz" "$T/tmp"
for i in $(seq -w 1 100); do
    head -c 1048576 /dev/urandom > "$T/src/a$i"
done
for i in $(seq 1 30); do
    n=$(printf %03d "$i")
    cp "$T/src/a$n" "$T/src/zz/copy$n"
done
export TMPDIR=$T/tmp
ARCA_INDEX_SPILL=10 arca -r "$R" -vv backup "$T/src" --json > "$T/b1.json" 2> "$T/b1.err" ||
    fail "backup failed: $(cat "$T/b1.err")"
contains "entries folded into a file" < "$T/b1.err" || fail "the index never went to a run"
# 100 MiB of distinct data (and small trees); without the runs the copies add 30 MiB
size=$(repo_size "$R")
[ "$size" -lt $(( 105 * 1048576 )) ] || fail "the copies were stored again: the repository holds $size bytes"
[ "$size" -ge $(( 100 * 1048576 )) ] || fail "data is missing: the repository holds $size bytes"
[ -z "$(ls -A "$T/tmp")" ] || fail "left in TMPDIR: $(ls -A "$T/tmp")"

arca -r "$R" restore -q latest --target "$T/r"
compare_trees "$T/src" "$T/r$T/src"
arca -r "$R" check --read-data > /dev/null || fail "check --read-data after a backup with runs"

# the next backup (runs again) adds no data
echo new > "$T/src/zz/new"
ARCA_INDEX_SPILL=10 arca -r "$R" backup "$T/src" --json > "$T/b2.json"
[ "$(json_get "$T/b2.json" 'j["summary"]["files_new"]')" = 1 ] || fail "second backup: not one new file"
added=$(json_get "$T/b2.json" 'j["summary"]["bytes_added"]')
[ "$added" -lt 1048576 ] || fail "the second backup added $added bytes"
rm -rf "$T/r"
arca -r "$R" restore -q latest --target "$T/r"
compare_trees "$T/src" "$T/r$T/src"
pass
