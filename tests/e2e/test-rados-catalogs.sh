#!/bin/bash
# RADOS catalogs (catalog layout 2, docs/ceph.md), RADOS only:
#  (a) no command scans the pool but check --scan-orphans: each command's -vv log line
#      "N scans of the whole pool" says 0 (the count the backend keeps);
#  (b) strays (objects whose writer died between storing and cataloguing them, with their
#      intent left in catalog.pending) are removed by prune, without a scan; an orphan (an
#      object no catalog lists and no intent names) is invisible, and check --scan-orphans
#      names it (exit 0, "orphans" in --json);
#  (c) a repository of catalog layout 1 (made by $ARCA_OLD, an arca from before the pack
#      catalog, when given; else a new repository taken back to layout 1: no pack catalog,
#      no fence) reads as it is, moves to layout 2 with its first lock (one scan), restores
#      and checks with --read-data; an older arca is fenced off from then on;
#  (d) backups killed (SIGKILL) while they upload leave intents, never orphans: after a
#      prune, check --scan-orphans finds none and catalog.pending is empty.
source "$(dirname "$0")/lib.sh"

[ "$BACKEND" = rados ] || fail "needs ARCA_TEST_BACKEND=rados (catalogs are RADOS objects)"

# scans CMD...: run arca -vv CMD (exit 0 required), print the number of pool scans it made
scans() {
    "$ARCA" -vv "$@" > "$T/scans.out" 2> "$T/scans.err" || fail "'arca $*' failed: $(cat "$T/scans.err")"
    local line
    line=$(grep -E ': [0-9]+ scans? of the whole pool$' "$T/scans.err" || true)
    [ -n "$line" ] || fail "'arca $*' logged no count of pool scans: $(cat "$T/scans.err")"
    echo "$line" | sed -E 's/.*: ([0-9]+) scans? of the whole pool$/\1/'
}
no_scans() {
    local n
    n=$(scans "$@")
    [ "$n" = 0 ] || fail "'arca $*' scanned the pool $n times"
}
random_id() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

mkdir -p "$T/src/d"
for i in 1 2 3; do head -c 300000 /dev/urandom > "$T/src/d/f$i"; done
printf 'hello\n' > "$T/src/hello"

# ---- (a) no scans ------------------------------------------------------------------------
R=$(new_repo scans)
mapfile -t ra < <(rados_of "$R")
no_scans -r "$R" init --kdf-memory 8M --kdf-ops 1
no_scans -r "$R" backup "$T/src"
printf 'more\n' > "$T/src/more"
no_scans -r "$R" backup "$T/src" --tag two
no_scans -r "$R" snapshots
no_scans -r "$R" ls -R latest
no_scans -r "$R" diff "$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" latest
no_scans -r "$R" stats
no_scans -r "$R" restore latest --target "$T/r"
compare_trees "$T/src" "$T/r$T/src"
no_scans -r "$R" dump latest "$T/src/hello"
no_scans -r "$R" check --read-data
printf 'other passphrase\n' > "$T/pass2"
no_scans -r "$R" key add --new-password-file "$T/pass2"
no_scans -r "$R" key list
no_scans -r "$R" forget --keep-last 1
no_scans -r "$R" prune
no_scans -r "$R" prune --dry-run
no_scans -r "$R" unlock
no_scans -r "$R" repair index
n=$(scans -r "$R" check --scan-orphans)
[ "$n" -ge 1 ] || fail "check --scan-orphans made no scan"
echo "  (a) no command but check --scan-orphans scans the pool ($n scan there)"

# ---- (b) strays and orphans ---------------------------------------------------------------
stray_index=$(random_id)
stray_snap=$(random_id)
stray_pack=$(random_id)
orphan_index=$(random_id)
orphan_pack=$(random_id)
for o in "index/$stray_index" "snapshots/$stray_snap" "data/$stray_pack" "index/$orphan_index" "data/$orphan_pack"; do
    rados "${ra[@]}" put "$o" /etc/hostname
done
# the strays' writer died after its intents (docs/ceph.md); the orphans have none
rados "${ra[@]}" setomapval catalog.pending "index/$stray_index 0123456789abcdef.1" 0
rados "${ra[@]}" setomapval catalog.pending "snapshots/$stray_snap 0123456789abcdef.2" 0
rados "${ra[@]}" setomapval catalog.pending "data/$stray_pack 0123456789abcdef.3" 0
arca -r "$R" check > /dev/null 2> "$T/check.err" || fail "check failed over uncatalogued objects: $(cat "$T/check.err")"
grep -q "no catalog" "$T/check.err" && fail "check without --scan-orphans reports orphans: $(cat "$T/check.err")"
[ "$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
    fail "an uncatalogued snapshot is listed"
arca -r "$R" --json check --scan-orphans > "$T/orphans.json" 2> "$T/orphans.err" ||
    fail "check --scan-orphans failed: $(cat "$T/orphans.err")"
[ "$(json_get "$T/orphans.json" 'j["orphans"]')" = 2 ] || fail "check --scan-orphans: $(cat "$T/orphans.json") $(cat "$T/orphans.err")"
grep -qF "index/$orphan_index (" "$T/orphans.err" || fail "the orphan index object is not named: $(cat "$T/orphans.err")"
grep -qF "data/$orphan_pack (" "$T/orphans.err" || fail "the orphan pack is not named: $(cat "$T/orphans.err")"
grep -qF "$stray_index" "$T/orphans.err" && fail "a stray with its intent is reported as an orphan"
no_scans -r "$R" prune
for o in "index/$stray_index" "snapshots/$stray_snap" "data/$stray_pack"; do
    rados "${ra[@]}" stat "$o" > /dev/null 2>&1 && fail "prune left the stray $o"
done
rados "${ra[@]}" listomapkeys catalog.pending > "$T/pending"
[ ! -s "$T/pending" ] || fail "intents left after prune: $(cat "$T/pending")"
rados "${ra[@]}" stat "index/$orphan_index" > /dev/null || fail "prune removed an orphan it cannot see"
rados "${ra[@]}" rm "index/$orphan_index"
rados "${ra[@]}" rm "data/$orphan_pack"
arca -r "$R" check --read-data > /dev/null || fail "check --read-data after the strays went"
echo "  (b) strays removed by prune without a scan, orphans named by check --scan-orphans"

# ---- (c) a repository of catalog layout 1 --------------------------------------------------
R1=$(new_repo layout1)
mapfile -t r1 < <(rados_of "$R1")
cp -a "$T/src" "$T/src1"
if [ -n "${ARCA_OLD:-}" ]; then
    "$ARCA_OLD" -r "$R1" init --kdf-memory 8M --kdf-ops 1 > /dev/null
    "$ARCA_OLD" -r "$R1" backup "$T/src1" > /dev/null
    how="made by $ARCA_OLD"
else
    arca_init "$R1" > /dev/null
    arca -r "$R1" backup "$T/src1" > /dev/null
    # back to layout 1: no pack catalog, no fence, no intents
    rados "${r1[@]}" ls > "$T/objs"
    grep -E '^catalog\.(data|pending)' "$T/objs" | while read -r o; do rados "${r1[@]}" rm "$o"; done
    rados "${r1[@]}" lock info lock arca > "$T/fence.json"
    client=$(json_get "$T/fence.json" 'j["lockers"][0]["name"]')
    cookie=$(json_get "$T/fence.json" 'j["lockers"][0]["cookie"]')
    rados "${r1[@]}" lock break lock arca "$client" --lock-cookie "$cookie"
    how="taken back to layout 1"
fi
rados "${r1[@]}" stat catalog.data > /dev/null 2>&1 && fail "the layout-1 repository has a pack catalog"
# read as it is (nothing listed the packs: no scan), and nothing written
no_scans -r "$R1" snapshots
no_scans -r "$R1" ls latest
rados "${r1[@]}" stat catalog.data > /dev/null 2>&1 && fail "a reader made the pack catalog"
# the first lock moves it on, with one scan; then none
n=$(scans -r "$R1" restore latest --target "$T/r1")
[ "$n" = 1 ] || fail "moving to layout 2 took $n scans"
compare_trees "$T/src1" "$T/r1$T/src1"
rados "${r1[@]}" stat catalog.data > /dev/null || fail "no pack catalog after the first lock"
printf 'new\n' > "$T/src1/new"
no_scans -r "$R1" backup "$T/src1"
no_scans -r "$R1" check --read-data
no_scans -r "$R1" forget --keep-last 1 --prune
rm -rf "$T/r1"
no_scans -r "$R1" restore latest --target "$T/r1"
compare_trees "$T/src1" "$T/r1$T/src1"
# an older arca is fenced off: it finds the repository locked, and is told why
rados "${r1[@]}" lock info lock arca > "$T/fence.json"
grep -qF "needs a newer arca" "$T/fence.json" || fail "no fence: $(cat "$T/fence.json")"
rc=0
rados "${r1[@]}" lock get lock arca --lock-type shared --lock-tag arca --lock-cookie "0123456789abcdef old" \
    > /dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "an older arca could still take its lock"
if [ -n "${ARCA_OLD:-}" ]; then
    rc=0
    "$ARCA_OLD" -r "$R1" --retry-lock 0 backup "$T/src1" > /dev/null 2> "$T/old.err" || rc=$?
    [ "$rc" -eq 11 ] || fail "the older arca's backup exited $rc, expected 11: $(cat "$T/old.err")"
    grep -qF "needs a newer arca" "$T/old.err" || fail "the older arca is not told why: $(cat "$T/old.err")"
fi
echo "  (c) a repository of layout 1 ($how) read, moved on with one scan, and fenced"

# ---- (d) killed uploads ---------------------------------------------------------------------
R2=$(new_repo killed)
mapfile -t r2 < <(rados_of "$R2")
arca_init "$R2" --pack-size 1M > /dev/null
mkdir -p "$T/big"
for i in 1 2 3 4; do head -c 4000000 /dev/urandom > "$T/big/f$i"; done
kills=0
for round in 1 2 3; do
    # a backup of a stream that stops coming after 24 MB: it stores packs, then waits;
    # killed then, or while it still uploads
    mkfifo "$T/in$round"
    "$ARCA" -r "$R2" backup --stdin --stdin-name "/stream$round" < "$T/in$round" > /dev/null 2>&1 &
    pid=$!
    exec 7> "$T/in$round"
    head -c 24000000 /dev/urandom >&7
    for _ in $(seq 1 $((round * 5))); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.05
    done
    kill -9 "$pid" 2> /dev/null && kills=$((kills + 1))
    wait "$pid" 2> /dev/null || true
    exec 7>&-
done
[ "$kills" = 3 ] || fail "only $kills of 3 backups were still running to be killed"
rados "${r2[@]}" listomapkeys catalog.pending > "$T/pending"
left=$(wc -l < "$T/pending")
no_scans -r "$R2" prune
rados "${r2[@]}" listomapkeys catalog.pending > "$T/pending"
[ ! -s "$T/pending" ] || fail "intents left after prune: $(cat "$T/pending")"
arca -r "$R2" --json check --scan-orphans > "$T/killed.json" 2> "$T/killed.err" ||
    fail "check --scan-orphans after killed backups: $(cat "$T/killed.err")"
[ "$(json_get "$T/killed.json" 'j["orphans"]')" = 0 ] || fail "killed backups left orphans: $(cat "$T/killed.err")"
arca -r "$R2" backup "$T/big" > /dev/null || fail "backup after the killed ones"
arca -r "$R2" check --read-data > /dev/null || fail "check --read-data after the killed backups"
echo "  (d) $kills killed uploads left $left intents, and no orphans after prune"
pass
