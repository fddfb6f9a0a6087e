#!/bin/bash
# arca copy and init --from-repo --copy-chunker-params, on this backend (and, on RADOS,
# between it and a local directory): restores from the copies are byte for byte those of
# the source; a second run copies nothing; copies of copies are recognised; with the same
# keys blobs travel as stored (the trees keep their ids) and later backups into the copy
# deduplicate against it; with other keys the blobs get new ids; --dry-run and --json say
# what would be copied; selection by id, latest, --host, --tag; kill -9 at each step of a
# copy leaves a destination that passes check --read-data, and the next run finishes the
# job without copying again what was stored; errors name the side and exit as documented.
source "$(dirname "$0")/lib.sh"

printf 'another passphrase\n' > "$T/pass-src"
export ARCA_FROM_PASSWORD_FILE=$T/pass-src
unset ARCA_FROM_REPOSITORY ARCA_FROM_PASSWORD_COMMAND ARCA_FROM_CEPH_CONF ARCA_FROM_CEPH_ID ARCA_FROM_KEYRING
src_init() { ARCA_PASSWORD_FILE=$T/pass-src arca_init "$@"; }
src_arca() { ARCA_PASSWORD_FILE=$T/pass-src arca "$@"; }

# the source: three snapshots of two hosts, a tag, a large file (several chunks)
A=$(new_repo src)
src_init "$A" >/dev/null
make_fixture "$T/data"
head -c $((6 << 20)) /dev/urandom > "$T/data/big"
src_arca -r "$A" backup "$T/data" --host web01 -q
echo change > "$T/data/sub/changed"
src_arca -r "$A" backup "$T/data" --host web01 --tag nightly -q
src_arca -r "$A" backup "$T/data/sub" --host db01 -q
src_arca -r "$A" --json snapshots > "$T/a.json"
[ "$(json_get "$T/a.json" 'len(j)')" = 3 ] || fail "the source has $(json_get "$T/a.json" 'len(j)') snapshots"

# same_as_source REPO ID SRCID: ID restored from REPO is, byte for byte and in its
# metadata, SRCID restored from the source
same_as_source() {
    rm -rf "$T/ra" "$T/rb"
    src_arca -r "$A" restore "$3" --target "$T/ra" -q || fail "restore of $3 from the source"
    arca -r "$1" restore "$2" --target "$T/rb" -q || fail "restore of $2 from $1"
    compare_trees "$T/ra" "$T/rb"
}
# same_restore REPO1 ID1 REPO2 ID2: the same for two repositories of the test's passphrase
same_restore() {
    rm -rf "$T/ra" "$T/rb"
    arca -r "$1" restore "$2" --target "$T/ra" -q || fail "restore of $2 from $1"
    arca -r "$3" restore "$4" --target "$T/rb" -q || fail "restore of $4 from $3"
    compare_trees "$T/ra" "$T/rb"
}

# ---- same keys: blobs as stored ----------------------------------------------------------
B=$(new_repo same)
arca_init "$B" --from-repo "$A" --copy-chunker-params --json > "$T/init.json"
[ "$(json_get "$T/init.json" 'j["keys_from"]')" = "$(src_arca -r "$A" --json cat config | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" ] ||
    fail "init --json does not name the source: $(cat "$T/init.json")"
arca -r "$B" --json cat config > "$T/b.config"
src_arca -r "$A" --json cat config > "$T/a.config"
[ "$(json_get "$T/b.config" 'j["chunker"], "hmac-sha256" in j["features"]')" = "$(json_get "$T/a.config" 'j["chunker"], "hmac-sha256" in j["features"]')" ] ||
    fail "init --copy-chunker-params: the chunker or the id function differs"
[ "$(json_get "$T/b.config" 'j["id"]')" != "$(json_get "$T/a.config" 'j["id"]')" ] || fail "the copy has the source's repository id"

arca -r "$B" --json copy --from-repo "$A" > "$T/c1.json" || fail "copy into a repository with the same keys"
[ "$(json_get "$T/c1.json" 'j["keys_match"]')" = True ] || fail "keys_match is not true: $(cat "$T/c1.json")"
[ "$(json_get "$T/c1.json" 'j["snapshots_copied"]')" = 3 ] || fail "copied $(json_get "$T/c1.json" 'j["snapshots_copied"]') snapshots, expected 3"
[ "$(json_get "$T/c1.json" 'j["blobs_copied"]')" -gt 3 ] || fail "no blobs copied"
[ "$(json_get "$T/c1.json" '[s["status"] for s in j["snapshots"]]')" = "['copied', 'copied', 'copied']" ] ||
    fail "statuses: $(cat "$T/c1.json")"
arca -r "$B" check --read-data >/dev/null || fail "check --read-data of the copy"
arca -r "$B" --json snapshots > "$T/b.json"
# each copy records its original, keeps time, host, paths and tags; with the same keys the
# trees are the same; the parent is the parent's copy
python3 - "$T/a.json" "$T/b.json" <<'EOF' || fail "the copies do not describe the originals"
import json, sys
a = {s["id"]: s for s in json.load(open(sys.argv[1]))}
b = json.load(open(sys.argv[2]))
by_orig = {s["original"]: s for s in b}
assert set(by_orig) == set(a), (set(by_orig), set(a))
copy_of = {s["original"]: s["id"] for s in b}
for oid, s in a.items():
    c = by_orig[oid]
    for k in ("time", "host", "paths", "tags", "tree"):
        assert c.get(k) == s.get(k), (k, c.get(k), s.get(k))
    if s.get("parent"):
        assert c.get("parent") == copy_of[s["parent"]], (c.get("parent"), s["parent"])
EOF
for id in $(json_get "$T/a.json" '" ".join(s["id"] for s in j)'); do
    same_as_source "$B" "$(json_get "$T/b.json" '[s["id"] for s in j if s["original"] == "'"$id"'"][0]')" "$id"
done
# and the newest is the tree it was made of
rm -rf "$T/rb"
arca -r "$B" restore latest --target "$T/rb" -q
compare_trees "$T/data/sub" "$T/rb$T/data/sub"

# a second run copies nothing, and says so
arca -r "$B" --json copy --from-repo "$A" > "$T/c2.json"
[ "$(json_get "$T/c2.json" 'j["snapshots_copied"], j["snapshots_present"], j["blobs_copied"], j["bytes_copied"]')" = "(0, 3, 0, 0)" ] ||
    fail "the second copy was not empty: $(cat "$T/c2.json")"
[ "$(json_get "$T/c2.json" '[s["status"] for s in j["snapshots"]]')" = "['present', 'present', 'present']" ] ||
    fail "statuses of the second copy: $(cat "$T/c2.json")"
arca -r "$B" -v copy --from-repo "$A" > "$T/c2.txt"
contains -E '^snapshot [0-9a-f]{8} \(web01 .*\) is in the destination already \(as [0-9a-f]{8}\)$' < "$T/c2.txt" ||
    fail "the human output does not say it is there already: $(cat "$T/c2.txt")"
contains -x 'copied 0 snapshots (3 there already): 0 blobs, 0 B' < "$T/c2.txt" || fail "summary: $(cat "$T/c2.txt")"
# silent without a terminal and -v (cron)
arca -r "$B" copy --from-repo "$A" > "$T/c3.out" 2> "$T/c3.err"
[ ! -s "$T/c3.out" ] && [ ! -s "$T/c3.err" ] || fail "copy is not silent in cron: $(cat "$T/c3.out" "$T/c3.err")"

# a backup straight into the copy deduplicates against it: nothing new but the snapshot
echo "a new file" > "$T/data/new"
arca -r "$B" --json backup "$T/data" --host web01 > "$T/bk.json"
[ "$(json_get "$T/bk.json" 'j["summary"]["files_unchanged"] > 0 and j["summary"]["bytes_read"] == 11 and j["summary"]["bytes_added"] < 65536')" = True ] ||
    fail "a backup into the copy did not use the copied data: $(cat "$T/bk.json")"
rm "$T/data/new"

# ---- other keys: blobs decoded, new ids, trees rewritten -----------------------------------
C=$(new_repo other)
arca_init "$C" --chunk-min 256K --chunk-avg 512K --chunk-max 2M >/dev/null
arca -r "$C" -v copy --from-repo "$A" > "$T/d1.txt" || fail "copy into a repository with other keys"
contains "keys differ" < "$T/d1.txt" || fail "copy does not say the keys differ: $(cat "$T/d1.txt")"
arca -r "$C" check --read-data >/dev/null || fail "check --read-data of the re-keyed copy"
arca -r "$C" --json snapshots > "$T/c.json"
[ "$(json_get "$T/c.json" 'len(j)')" = 3 ] || fail "the re-keyed copy has $(json_get "$T/c.json" 'len(j)') snapshots"
[ "$(json_get "$T/c.json" 'sorted(s["tree"] for s in j) != sorted(s["tree"] for s in json.load(open("'"$T/a.json"'")))')" = True ] ||
    fail "the re-keyed copy has the source's tree ids"
for id in $(json_get "$T/a.json" '" ".join(s["id"] for s in j)'); do
    same_as_source "$C" "$(json_get "$T/c.json" '[s["id"] for s in j if s["original"] == "'"$id"'"][0]')" "$id"
done
arca -r "$C" --json copy --from-repo "$A" > "$T/d2.json"
[ "$(json_get "$T/d2.json" 'j["keys_match"], j["snapshots_copied"], j["blobs_copied"]')" = "(False, 0, 0)" ] ||
    fail "the second re-keyed copy was not empty: $(cat "$T/d2.json")"
# a new snapshot in the source: only it is copied, and its unchanged files are taken from
# the copy of its parent (nothing of them is read again)
echo again > "$T/data/sub/changed"
src_arca -r "$A" backup "$T/data" --host web01 -q
arca -r "$C" --json copy --from-repo "$A" > "$T/d3.json"
[ "$(json_get "$T/d3.json" 'j["snapshots_copied"]')" = 1 ] || fail "incremental re-keyed copy: $(cat "$T/d3.json")"
[ "$(json_get "$T/d3.json" 'j["bytes_read"] < 1 << 20')" = True ] ||
    fail "the incremental re-keyed copy read $(json_get "$T/d3.json" 'j["bytes_read"]') bytes of the source"
same_as_source "$C" latest latest

# chains: a copy of the copy knows the originals
D=$(new_repo chain)
arca_init "$D" --from-repo "$C" --copy-chunker-params --from-password-file "$ARCA_PASSWORD_FILE" >/dev/null
ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE arca -r "$D" --json copy --from-repo "$C" > "$T/e1.json"
[ "$(json_get "$T/e1.json" 'j["keys_match"], j["snapshots_copied"]')" = "(True, 4)" ] || fail "copy of the copy: $(cat "$T/e1.json")"
arca -r "$D" --json copy --from-repo "$A" > "$T/e2.json"
[ "$(json_get "$T/e2.json" 'j["snapshots_copied"], j["snapshots_present"]')" = "(0, 4)" ] ||
    fail "copies of copies are not recognised: $(cat "$T/e2.json")"
same_as_source "$D" latest latest

# ---- dry run and selection ------------------------------------------------------------------
E=$(new_repo select)
arca_init "$E" --from-repo "$A" --copy-chunker-params >/dev/null
arca -r "$E" --json copy --from-repo "$A" --dry-run > "$T/f1.json"
[ "$(json_get "$T/f1.json" 'j["dry_run"], j["snapshots_copied"], j["snapshots_to_copy"]')" = "(True, 0, 4)" ] ||
    fail "dry run: $(cat "$T/f1.json")"
[ "$(json_get "$T/f1.json" 'set(s["status"] for s in j["snapshots"]), j["blobs_copied"] > 0, j["bytes_copied"] > 0')" = "({'would_copy'}, True, True)" ] ||
    fail "dry run figures: $(cat "$T/f1.json")"
[ "$(arca -r "$E" --json snapshots | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
    fail "the dry run copied snapshots"
arca -r "$E" copy --from-repo "$A" --host db01 -q
arca -r "$E" --json snapshots > "$T/g.json"
[ "$(json_get "$T/g.json" '[s["host"] for s in j]')" = "['db01']" ] || fail "--host: $(cat "$T/g.json")"
arca -r "$E" copy --from-repo "$A" --tag nightly -q
arca -r "$E" --json copy --from-repo "$A" latest --host web01 > "$T/g2.json"
[ "$(json_get "$T/g2.json" 'j["snapshots_copied"]')" = 1 ] || fail "latest --host web01: $(cat "$T/g2.json")"
first=$(json_get "$T/a.json" 'j[0]["id"][:8]')
arca -r "$E" --json copy --from-repo "$A" "$first" > "$T/g3.json"
[ "$(json_get "$T/g3.json" 'j["snapshots_copied"]')" = 1 ] || fail "copy by id prefix: $(cat "$T/g3.json")"
[ "$(arca -r "$E" --json snapshots | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 4 ] ||
    fail "the selections did not make four snapshots"
arca -r "$E" check --read-data >/dev/null || fail "check after the selections"

# ---- kill -9 at each step, then check, then a run that finishes -----------------------------
for point in copy-blobs copy-indexed copy-snapshot; do
    K=$(new_repo "kill-$point")
    arca_init "$K" --from-repo "$A" --copy-chunker-params --pack-size 1M >/dev/null
    rc=0
    (ARCA_TEST_KILL_AT=$point exec "$ARCA" -r "$K" copy --from-repo "$A" > /dev/null 2>&1) || rc=$?
    [ "$rc" -eq 137 ] || fail "the copy killed at $point exited $rc, expected 137"
    arca -r "$K" check --read-data >/dev/null 2>&1 || fail "check --read-data after kill -9 at $point"
    arca -r "$K" --json snapshots > "$T/k.json"
    have=$(json_get "$T/k.json" 'len(j)')
    case $point in
        copy-snapshot) [ "$have" = 1 ] || fail "killed after a snapshot, the destination has $have" ;;
        *) [ "$have" = 0 ] || fail "killed at $point, the destination has $have snapshots" ;;
    esac
    arca -r "$K" --json copy --from-repo "$A" > "$T/k2.json" 2>/dev/null || fail "the copy after kill -9 at $point"
    [ "$(json_get "$T/k2.json" 'j["snapshots_copied"] + j["snapshots_present"]')" = 4 ] ||
        fail "after kill -9 at $point: $(cat "$T/k2.json")"
    # what was stored and indexed before the kill (the first batch: a pack's worth) is not
    # copied again; packs stored but not yet indexed are (prune removes the strays)
    all=$(json_get "$T/f1.json" 'j["blobs_copied"]')
    again=$(json_get "$T/k2.json" 'j["blobs_copied"]')
    case $point in
        copy-blobs) [ "$again" -le "$all" ] || fail "after kill -9 at $point: $again blobs of $all" ;;
        *) [ "$again" -lt $((all / 2)) ] || fail "after kill -9 at $point the blobs were copied again: $again of $all" ;;
    esac
    arca -r "$K" check --read-data >/dev/null || fail "check after the copy that followed kill -9 at $point"
    same_as_source "$K" latest latest
done

# ---- between this backend and the other (RADOS <-> local) -----------------------------------
if [ "$BACKEND" = rados ]; then
    L=$T/local
    arca_init "$L" --from-repo "$B" --copy-chunker-params --from-password-file "$ARCA_PASSWORD_FILE" >/dev/null
    ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE arca -r "$L" copy --from-repo "$B" -q || fail "RADOS -> local"
    same_restore "$B" latest "$L" latest
    R2=$(new_repo back)
    arca_init "$R2" >/dev/null
    ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE arca -r "$R2" copy --from-repo "$L" -q || fail "local -> RADOS"
    arca -r "$R2" check --read-data >/dev/null || fail "check of the RADOS copy of the local copy"
    same_restore "$B" latest "$R2" latest
fi

# ---- errors ----------------------------------------------------------------------------------
expect_rc 2 arca -r "$E" copy 2>/dev/null
expect_rc 2 arca_init "$(new_repo bad1)" --from-repo "$A" 2>/dev/null
expect_rc 2 arca_init "$(new_repo bad2)" --copy-chunker-params 2>/dev/null
expect_rc 2 arca_init "$(new_repo bad3)" --from-repo "$A" --copy-chunker-params --chunk-avg 2M 2>/dev/null
rc=0
arca -r "$E" copy --from-repo "$A" --from-password-file "$ARCA_PASSWORD_FILE" 2> "$T/wp.err" || rc=$?
[ "$rc" -eq 12 ] || fail "a wrong source passphrase exited $rc, expected 12"
contains '^arca: source repository: ' < "$T/wp.err" || fail "the wrong passphrase is not the source's: $(cat "$T/wp.err")"
rc=0
arca -r "$E" copy --from-repo "$T/nowhere" 2> "$T/nr.err" || rc=$?
[ "$rc" -eq 10 ] || fail "a missing source exited $rc, expected 10"
contains 'source repository' < "$T/nr.err" || fail "the missing repository is not named the source: $(cat "$T/nr.err")"
rc=0
arca -r "$E" copy --from-repo "$A" --from-password-file "$T/pass-src" ffffffff 2> "$T/ns.err" || rc=$?
[ "$rc" -eq 1 ] || fail "an unknown snapshot exited $rc, expected 1"
expect_rc 2 arca -r "$B" copy --from-repo "$B" --from-password-file "$ARCA_PASSWORD_FILE" 2>/dev/null
# a damaged blob in the source stops the copy with its name; the destination stays sound
F=$(new_repo damaged)
arca_init "$F" --from-repo "$A" --copy-chunker-params >/dev/null
newest=$(src_arca -r "$A" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
big=$(ARCA_PASSWORD_FILE=$T/pass-src node_at "$A" "$newest" "$T/data/big" | python3 -c 'import json,sys; print(json.load(sys.stdin)["content"][1]["id"])')
ARCA_PASSWORD_FILE=$T/pass-src damage_blob "$A" "$big"
rc=0
arca -r "$F" copy --from-repo "$A" 2> "$T/dm.err" || rc=$?
[ "$rc" -eq 1 ] || fail "a damaged source blob exited $rc, expected 1"
contains "source repository: data blob $big in data/[0-9a-f]* is damaged" < "$T/dm.err" ||
    fail "the damaged blob is not named: $(cat "$T/dm.err")"
arca -r "$F" check >/dev/null || fail "check after a copy that met a damaged blob"

pass
