#!/bin/bash
# The local cache: index objects, snapshots and tree blobs are kept (sealed) under
# ARCA_CACHE_DIR/<repository id>/; a damaged copy is noticed and replaced by the original;
# copies of what the repository no longer has are dropped; --no-cache writes nothing; and
# deleting the cache changes nothing but speed.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
make_fixture "$T/src"
arca -r "$R" backup "$T/src" -q
echo more > "$T/src/more"
arca -r "$R" backup "$T/src" -q
id=$(arca -r "$R" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
C=$ARCA_CACHE_DIR/$id

arca -r "$R" ls -R latest "$T/src" > "$T/ls.ref"
arca -r "$R" snapshots --json > "$T/snaps.ref"
for kind in index snapshots trees; do
    [ "$(find "$C/$kind" -type f | wc -l)" -gt 0 ] || fail "nothing cached in $kind"
done
[ "$(find "$C/snapshots" -type f | wc -l)" = 2 ] || fail "expected 2 cached snapshots"

# damage every cached copy: the results stay the same, and the copies are mended
find "$C" -type f | while read -r f; do
    flip_byte "$f" 20
done
arca -r "$R" ls -R latest "$T/src" > "$T/ls.damaged" || fail "ls failed over a damaged cache"
cmp -s "$T/ls.ref" "$T/ls.damaged" || fail "a damaged cache changed the listing"
arca -r "$R" snapshots --json > "$T/snaps.damaged"
cmp -s "$T/snaps.ref" "$T/snaps.damaged" || fail "a damaged cache changed the snapshots"
arca -r "$R" restore latest --target "$T/r" -q
compare_trees "$T/src" "$T/r$T/src"
# the mended copies hash to their names again
for f in "$C"/index/* "$C"/snapshots/*; do
    [ "$(name_of "$R" "$f")" = "$(basename "$f")" ] || fail "cached $f was not mended"
done

# what the repository forgets, the cache forgets
first=$(json_get "$T/snaps.ref" 'j[0]["id"]')
arca -r "$R" forget --keep-last 1 -q
arca -r "$R" snapshots -q >/dev/null
[ ! -e "$C/snapshots/$first" ] || fail "the cache still holds a forgotten snapshot"
arca -r "$R" prune -q
arca -r "$R" ls latest >/dev/null   # reads the index
n=$(arca -r "$R" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["index_objects"])')
[ "$(find "$C/index" -type f | wc -l)" = "$n" ] ||
    fail "the cache holds $(find "$C/index" -type f | wc -l) index objects, the repository $n"

# --no-cache writes nothing; a deleted cache changes nothing
rm -rf "$ARCA_CACHE_DIR"
arca -r "$R" --no-cache ls -R latest "$T/src" > "$T/ls.nocache"
[ ! -e "$ARCA_CACHE_DIR" ] || fail "--no-cache wrote a cache"
arca -r "$R" ls -R latest "$T/src" > "$T/ls.fresh"
cmp -s "$T/ls.nocache" "$T/ls.fresh" || fail "listing differs with and without the cache"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data"
pass
