#!/bin/bash
# Back up a tree with every kind of entry, restore it, compare content and metadata;
# a second backup of the unchanged tree adds almost nothing; ls, dump, diff, check.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
make_fixture "$T/src"
arca_init "$R" >/dev/null

arca -r "$R" backup "$T/src" --tag first --json > "$T/b1.json"
[ "$(json_get "$T/b1.json" 'j["summary"]["errors"]')" = 0 ] || fail "errors in first backup"
size1=$(repo_size "$R")

arca -r "$R" restore latest --target "$T/restore" >/dev/null
compare_trees "$T/src" "$T/restore$T/src"

# unchanged tree: the second backup adds less than 1% of the first
arca -r "$R" backup "$T/src" --json > "$T/b2.json"
size2=$(repo_size "$R")
[ "$(json_get "$T/b2.json" 'j["summary"]["files_unchanged"] > 0 and j["summary"]["bytes_read"] == 0')" = True ] ||
    fail "second backup read unchanged files: $(cat "$T/b2.json")"
growth=$((size2 - size1))
[ $((growth * 100)) -lt "$size1" ] || fail "second backup grew the repository by $growth of $size1 bytes"

# snapshots --json carries the documented fields
arca -r "$R" snapshots --json > "$T/snaps.json"
[ "$(json_get "$T/snaps.json" 'len(j)')" = 2 ] || fail "expected 2 snapshots"
for k in id short_id time host paths tags tree parent summary; do
    [ "$(json_get "$T/snaps.json" "'$k' in j[1]")" = True ] || fail "snapshots --json lacks $k"
done
[ "$(json_get "$T/snaps.json" 'j[1]["parent"] == j[0]["id"]')" = True ] || fail "parent not recorded"
[ "$(json_get "$T/snaps.json" 'j[0]["tags"]')" = "['first']" ] || fail "tag not recorded"
first=$(json_get "$T/snaps.json" 'j[0]["short_id"]')

# ls: the newline name is escaped in text and exact in JSON
arca -r "$R" ls latest "$T/src/sub" > "$T/ls.txt"
grep -qF 'name\nwith newline' "$T/ls.txt" || fail "ls does not escape newlines"
arca -r "$R" --json ls -R latest "$T/src" > "$T/ls.json"
[ "$(json_get "$T/ls.json" 'any(e["path"].endswith("name\nwith newline") for e in j)')" = True ] ||
    fail "ls --json lacks the newline name"
[ "$(json_get "$T/ls.json" 'any(e.get("path_hex","").endswith("636166e9") for e in j)')" = True ] ||
    fail "ls --json lacks the exact bytes of a non-UTF-8 name"

# dump: a file byte for byte, a directory as tar
arca -r "$R" dump latest "$T/src/max-chunk.bin" | cmp - "$T/src/max-chunk.bin" || fail "dump of a file differs"
arca -r "$R" dump "$first" "$T/src/sparse.img" | cmp - "$T/src/sparse.img" || fail "dump of a sparse file differs"
mkdir "$T/untar"
arca -r "$R" dump latest "$T/src/sub" > "$T/sub.tar"
tar -x -C "$T/untar" --xattrs --acls -f "$T/sub.tar" 2>&1 | grep -v hdrcharset >&2 || true
cmp "$T/untar/sub/text.txt" "$T/src/sub/text.txt" || fail "tar dump content differs"

# diff: nothing between the two, then a change
# (the directories above the backed-up path are saved too, and /tmp does change)
arca -r "$R" diff "$first" latest | grep -F "$T/src" > "$T/diff0.txt" || true
[ ! -s "$T/diff0.txt" ] || fail "diff of identical trees: $(cat "$T/diff0.txt")"
printf 'changed\n' >> "$T/src/hello.txt"
rm "$T/src/empty"
printf 'new\n' > "$T/src/new-file"
arca -r "$R" backup "$T/src" >/dev/null
arca -r "$R" diff "$first" latest > "$T/diff1.txt"
grep -q "^M .*/hello.txt$" "$T/diff1.txt" || fail "diff misses the modified file: $(cat "$T/diff1.txt")"
grep -q "^- .*/empty$" "$T/diff1.txt" || fail "diff misses the removed file"
grep -q "^+ .*/new-file$" "$T/diff1.txt" || fail "diff misses the added file"

# partial restore
arca -r "$R" restore latest --target "$T/partial" --include "$T/src/sub/deeper" >/dev/null
[ -f "$T/partial$T/src/sub/deeper/link-b" ] || fail "partial restore misses the included file"
[ ! -e "$T/partial$T/src/hello.txt" ] || fail "partial restore wrote what was not included"

# stats --json: counts that agree with what was written
arca -r "$R" --json stats > "$T/stats.json"
[ "$(json_get "$T/stats.json" 'j["snapshots"]')" = 3 ] || fail "stats: snapshots: $(cat "$T/stats.json")"
[ "$(json_get "$T/stats.json" 'j["index_objects"] >= 3 and j["packs"] >= 1 and j["data_blobs"] > 0 and j["tree_blobs"] > 0')" = True ] ||
    fail "stats: implausible counts: $(cat "$T/stats.json")"
[ "$(json_get "$T/stats.json" 'j["blobs"] == j["data_blobs"] + j["tree_blobs"] and 0 < j["blob_bytes_stored"] <= j["pack_bytes"]')" = True ] ||
    fail "stats: counts disagree: $(cat "$T/stats.json")"

# cat: the objects themselves, decrypted and checked
arca -r "$R" cat config > "$T/config.json"
[ "$(json_get "$T/config.json" 'j["version"] == 1 and j["chunker"]["avg"] == 1048576')" = True ] ||
    fail "cat config: $(cat "$T/config.json")"
arca -r "$R" cat snapshot "$first" > "$T/cat-snap.json"
[ "$(json_get "$T/cat-snap.json" 'j["tree"]')" = "$(json_get "$T/snaps.json" 'j[0]["tree"]')" ] ||
    fail "cat snapshot: another tree than snapshots --json says"
# walk the first snapshot's trees down to hello.txt, then cat its one data blob
tree=$(json_get "$T/snaps.json" 'j[0]["tree"]')
for part in $(echo "${T#/}/src" | tr / ' '); do
    arca -r "$R" cat tree "$tree" > "$T/cat-tree.json"
    tree=$(python3 -c 'import json,sys; print([n["subtree"] for n in json.load(open(sys.argv[1])) if n.get("name") == sys.argv[2]][0])' "$T/cat-tree.json" "$part") ||
        fail "cat tree: no $part in $(cat "$T/cat-tree.json")"
done
arca -r "$R" cat tree "$tree" > "$T/cat-tree.json"
blob=$(python3 -c 'import json,sys; print([n["content"][0]["id"] for n in json.load(open(sys.argv[1])) if n.get("name") == "hello.txt"][0])' "$T/cat-tree.json")
[ "$(arca -r "$R" cat blob "$blob")" = hello ] || fail "cat blob: not the content of hello.txt"
grep -q '"name_hex": "636166e9"' "$T/cat-tree.json" && fail "non-UTF-8 name in the wrong tree"
arca -r "$R" cat tree "$(python3 -c 'import json,sys; print([n["subtree"] for n in json.load(open(sys.argv[1])) if n.get("name") == "sub"][0])' "$T/cat-tree.json")" |
    contains '"name_hex": "636166e9"' || fail "cat tree: the non-UTF-8 name is not given as hex"
# the index object and the pack that hold that blob say the same
found=""
for ix in $(list_objects "$R" index); do
    arca -r "$R" cat index "${ix:0:12}" > "$T/cat-index.json"
    found=$(python3 -c 'import json,sys; print(next((p["id"] for p in json.load(open(sys.argv[1]))["packs"] for b in p["blobs"] if b["id"] == sys.argv[2]), ""))' "$T/cat-index.json" "$blob")
    [ -n "$found" ] && break
done
[ -n "$found" ] || fail "cat index: no index object lists blob $blob"
arca -r "$R" cat pack "$found" > "$T/cat-pack.json"
[ "$(json_get "$T/cat-pack.json" "any(b['id'] == '$blob' for b in j['blobs'])")" = True ] ||
    fail "cat pack: the header of $found does not list $blob"
expect_rc 2 arca -r "$R" cat nosuchtype x
expect_rc 2 arca -r "$R" cat blob 1234

arca -r "$R" check --read-data >/dev/null || fail "check --read-data failed"
pass
