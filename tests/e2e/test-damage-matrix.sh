#!/bin/bash
# The damage matrix: every kind of object (config, a key slot, a snapshot, an index object,
# a data pack, a pack's header, a pack of trees) flipped, truncated and deleted, one at a
# time in a repository of two snapshots.  For each: check --read-data finds it (where it
# can be found), every command survives it (an error, never a crash: run under ASan by
# test.sh), arca repair (and the remedy the docs give) plus a backup of the same
# sources bring the repository back to a clean check --read-data, the newest state restores
# byte for byte, and the first snapshot too wherever its data still existed somewhere.
# A blob broken in its only copy (its source changed since) is reported lost, by name,
# and repair snapshots --forget makes the repository whole without it.
source "$(dirname "$0")/lib.sh"

# the largest pack of a kind (data or tree blobs), found through arca cat: the middle of
# a large data pack is inside a blob, not in the header
pack_of_kind() {
    local repo=$1 kind=$2 p best= size bestsize=-1
    for p in $(list_objects "$repo" data); do
        arca -r "$repo" --json cat pack "$p" > "$W/pack.json"
        if [ "$(json_get "$W/pack.json" "any(b['type'] == '$kind' for b in j['blobs'])")" = True ]; then
            size=$(json_get "$W/pack.json" 'j["size"]')
            if [ "$size" -gt "$bestsize" ]; then
                best=$p
                bestsize=$size
            fi
        fi
    done
    [ -n "$best" ] || fail "no pack of $kind blobs in $repo"
    echo "$best"
}

mkdir -p "$T/src/d1" "$T/src/d2"
for i in 1 2 3; do
    head -c 1500000 /dev/urandom > "$T/src/d1/f$i"
    head -c 50000 /dev/urandom > "$T/src/d2/g$i"
done
cp -a "$T/src" "$T/src-v1"
W=$T/w   # scratch outside the backed-up tree

# setup: a repository with two snapshots, the second with a new file; the cache is warm
setup() {
    rm -rf "$W" "$T/cache"
    mkdir -p "$W"
    rm -f "$T/src/d2/new"
    R=$(new_repo "case-$1")
    arca_init "$R" --pack-size 1M >/dev/null
    arca -r "$R" backup "$T/src" --tag one >/dev/null
    printf 'second\n' > "$T/src/d2/new"
    arca -r "$R" backup "$T/src" --tag two >/dev/null
    echo pass2 > "$W/pass2"
    arca -r "$R" key add --new-password-file "$W/pass2" >/dev/null
    arca -r "$R" snapshots --json > "$W/snaps.json"
    FIRST=$(json_get "$W/snaps.json" '[s["id"] for s in j if s["tags"] == ["one"]][0]')
    arca -r "$R" ls -R "$FIRST" >/dev/null
    arca -r "$R" ls -R latest >/dev/null
}

# verdict NAME LOSSY: after the remedy, a backup heals; the newest state restores; the
# first snapshot restores too unless LOSSY
verdict() {
    local name=$1 lossy=$2 rc=0
    arca -r "$R" backup "$T/src" --tag after >/dev/null 2> "$W/err" || fail "$name: backup after repair failed: $(cat "$W/err")"
    arca -r "$R" --no-cache check --read-data > /dev/null 2> "$W/check" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$lossy" = lossy ]; then
        # what is really lost: the snapshots are saved again without it
        arca -r "$R" repair snapshots --forget > /dev/null 2> "$W/rs" || [ $? -eq 3 ] ||
            fail "$name: repair snapshots failed: $(cat "$W/rs")"
        grep -qF "lost: " "$W/rs" || fail "$name: repair snapshots names nothing lost: $(cat "$W/rs")"
        rc=0
        arca -r "$R" --no-cache check --read-data > /dev/null 2> "$W/check" || rc=$?
    fi
    [ "$rc" -eq 0 ] || fail "$name: check --read-data after repair and backup: $(cat "$W/check")"
    rm -rf "$W/r"
    arca -r "$R" --no-cache restore latest --tag after --target "$W/r" >/dev/null 2> "$W/err" ||
        fail "$name: restore of the newest state failed: $(cat "$W/err")"
    diff -r "$T/src" "$W/r$T/src" > /dev/null || fail "$name: the newest state restores differently"
    if [ "$lossy" != lossy ]; then
        rm -rf "$W/r1"
        arca -r "$R" --no-cache restore "${FIRST:0:8}" --target "$W/r1" --include "$T/src" >/dev/null 2> "$W/err" ||
            fail "$name: restore of the first snapshot failed: $(cat "$W/err")"
        diff -r "$T/src-v1" "$W/r1$T/src" > /dev/null || fail "$name: the first snapshot restores differently"
    fi
}

# detect NAME: check --read-data (cold) must fail and say something
detect() {
    local rc=0
    arca -r "$R" --no-cache check --read-data > /dev/null 2> "$W/check" || rc=$?
    [ "$rc" -eq 1 ] || fail "$1: check --read-data exited $rc on a damaged repository: $(cat "$W/check")"
}

# survive NAME: every command, with the warm cache and without one, on the damaged
# repository: an error (1) or a partial result (3) is fine, a crash (a signal, an ASan
# report) or a usage error is not; nothing may change the repository (dry runs only)
survive() {
    local name=$1 cache rc c
    local -a cmds=(
        "snapshots" "ls -R latest" "ls -l $FIRST" "diff $FIRST latest" "stats" "key list"
        "check" "cat config" "forget --keep-last 1 --dry-run" "prune --dry-run"
        "backup --dry-run $T/src" "dump latest $T/src/d1/f1" "dump latest $T/src"
        "restore latest --target $W/survive" "restore $FIRST --target $W/survive --verify"
    )
    for cache in "" --no-cache; do
        for c in "${cmds[@]}"; do
            rc=0
            # shellcheck disable=SC2086
            "$ARCA" -r "$R" $cache $c > /dev/null 2> "$W/survive.err" || rc=$?
            if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 3 ]; then
                fail "$name: 'arca $cache $c' exited $rc on the damaged repository: $(cat "$W/survive.err")"
            fi
            if grep -qE 'Sanitizer|runtime error' "$W/survive.err"; then
                fail "$name: 'arca $cache $c': $(cat "$W/survive.err")"
            fi
            rm -rf "$W/survive"
        done
    done
}

repair_all() {   # repair_all NAME [options]: arca repair, done (0) or with losses named (3)
    local name=$1 rc=0
    shift
    arca -r "$R" repair "$@" > /dev/null 2> "$W/repair" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "$name: repair exited $rc: $(cat "$W/repair")"
}

cases=0
for how in flip truncate delete; do
    # ---- config: made again from what the snapshots recorded ----
    setup "config-$how"
    damage "$R" config "$how"
    expect_rc 1 arca -r "$R" snapshots
    survive "config $how"
    repair_all "config $how"
    grep -qF "config is lost or damaged" "$W/repair" || fail "config $how: repair did not say what it did"
    verdict "config $how" whole
    cases=$((cases + 1))

    # ---- a key slot (not the one in use): check names it, key remove drops it ----
    setup "key-$how"
    other=$(arca -r "$R" --json key list | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if not k["current"]][0])')
    damage "$R" "keys/$other" "$how"
    if [ "$how" != delete ]; then
        detect "key $how"
        grep -qF "key slot ${other:0:8} is damaged" "$W/check" || fail "key $how: check does not name the slot: $(cat "$W/check")"
        survive "key $how"
        arca -r "$R" key remove "${other:0:8}" > /dev/null 2> "$W/err" || fail "key $how: key remove: $(cat "$W/err")"
    fi
    verdict "key $how" whole
    cases=$((cases + 1))

    # ---- a snapshot: put back from the local cache ----
    setup "snapshot-$how"
    damage "$R" "snapshots/$FIRST" "$how"
    if [ "$how" != delete ]; then
        detect "snapshot $how"
        survive "snapshot $how"
        repair_all "snapshot $how" snapshots
        grep -qF "goes back in its place" "$W/repair" || fail "snapshot $how: not put back: $(cat "$W/repair")"
        verdict "snapshot $how" whole
    else
        verdict "snapshot $how" lossy   # a deleted snapshot is simply gone
    fi
    cases=$((cases + 1))

    # ---- an index object: rebuilt from the packs ----
    setup "index-$how"
    for idx in $(list_objects "$R" index); do damage "$R" "index/$idx" "$how"; break; done
    detect "index $how"
    survive "index $how"
    repair_all "index $how"
    verdict "index $how" whole
    cases=$((cases + 1))

    # ---- a pack of data: what is lost is stored again by the next backup ----
    setup "data-$how"
    damage "$R" "data/$(pack_of_kind "$R" data)" "$how"
    detect "data $how"
    survive "data $how"
    repair_all "data $how" --read-data
    verdict "data $how" whole
    cases=$((cases + 1))

    # ---- a pack of trees (cold cache): the trees of unchanged directories come back with
    #      the next backup, the others are lost with no other copy ----
    setup "tree-$how"
    damage "$R" "data/$(pack_of_kind "$R" tree)" "$how"
    rm -rf "$T/cache"
    detect "tree $how"
    survive "tree $how"
    repair_all "tree $how" --read-data
    verdict "tree $how" lossy
    cases=$((cases + 1))
done

# ---- a pack's header alone: its blobs are found through the index and copied ----
setup header
damage "$R" "data/$(pack_of_kind "$R" data)" flip 20
detect "header flip"
survive "header flip"
repair_all "header flip"
[ "$(grep -c 'lost' "$W/repair" || true)" = 0 ] || fail "header flip: repair lost data: $(cat "$W/repair")"
verdict "header flip" whole
cases=$((cases + 1))

# ---- a blob broken in its only copy: its source changed since; lost, by name ----
setup only-copy
victim=$(pack_of_kind "$R" data)
arca -r "$R" --json cat pack "$victim" > "$W/pack.json"
# in the middle of its largest blob: a chunk of one of d1's files (g's blobs are 50 kB;
# the middle of the pack may be one of them, depending on the order the writer stored them)
back=$(json_get "$W/pack.json" '(lambda b: j["size"] - b["offset"] - b["stored_length"] // 2)(max(j["blobs"], key=lambda b: b["stored_length"]))')
damage "$R" "data/$victim" flip "$back"
rm -rf "$T/cache"
for i in 1 2 3; do head -c 1500000 /dev/urandom > "$T/src/d1/f$i"; done   # the sources move on
rc=0
arca -r "$R" repair --read-data > /dev/null 2> "$W/repair" || rc=$?
[ "$rc" -eq 3 ] || fail "only copy: repair exited $rc, expected 3 (data lost): $(cat "$W/repair")"
grep -qF "is lost" "$W/repair" || fail "only copy: the lost blob is not named: $(cat "$W/repair")"
arca -r "$R" repair snapshots --forget > /dev/null 2> "$W/rs" || [ $? -eq 3 ] || fail "only copy: repair snapshots failed"
grep -qE "lost: $T/src/d1/f[123] " "$W/rs" || fail "only copy: the lost file is not named: $(cat "$W/rs")"
arca -r "$R" --no-cache check --read-data > /dev/null 2> "$W/check" || fail "only copy: check after repair: $(cat "$W/check")"
cp -a "$T/src-v1/d1/." "$T/src/d1/"
cases=$((cases + 1))

echo "  $cases damage cases repaired"
pass
