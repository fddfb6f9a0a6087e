#!/bin/bash
# An erasure-coded data pool and a least-privilege cephx user (RADOS only), on a cluster of
# its own (three OSDs: k=2 m=1 needs them): metadata in a replicated pool, packs in the EC
# pool; a repository whose main pool is erasure coded is refused with a clear message;
# a cephx user whose caps cover one namespace of the two pools backs up, restores and
# checks there, and is refused elsewhere.
source "$(dirname "$0")/lib.sh"

[ "$BACKEND" = rados ] || fail "needs ARCA_TEST_BACKEND=rados (it starts a Ceph cluster of its own)"
sleeper=
stuck=
stop_cluster() {
    for p in $sleeper $stuck; do kill "$p" 2>/dev/null || true; done
    "$CLUSTER" stop "$T/ceph" >/dev/null 2>&1 || true
}
trap 'rc=$?; stop_cluster; (exit $rc); cleanup' EXIT
own_cluster "$T/ceph" "the three-OSD cluster" CEPH_OSDS=3 CEPH_POOLS=meta CEPH_EC_POOLS=ecdata
set -a; source "$T/ceph.env"; set +a     # CEPH_CONF of this cluster, for arca and rados

# an erasure-coded pool cannot hold the catalogs (no omap): refused, with the way out
rc=0
arca_init rados:ecdata/x 2> "$T/ec.err" >/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "init on an EC main pool exited $rc, expected 1"
grep -q -- '--data-pool' "$T/ec.err" || fail "the refusal does not point at --data-pool: $(cat "$T/ec.err")"

# metadata replicated, packs erasure coded
R=rados:meta/web01
arca_init "$R" --data-pool ecdata --pack-size 4M >/dev/null
make_fixture "$T/src"
arca -r "$R" backup "$T/src" -q
# later runs find the data pool by themselves (recorded at init)
arca -r "$R" restore latest --target "$T/r" -q
compare_trees "$T/src" "$T/r$T/src"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data on the EC data pool"
rados -p ecdata -N web01 ls > "$T/ec.ls"
rados -p meta -N web01 ls > "$T/meta.ls"
grep -q '^data/' "$T/ec.ls" || fail "no packs in the EC pool"
grep -qv '^data/' "$T/ec.ls" && fail "metadata objects in the EC pool: $(grep -v '^data/' "$T/ec.ls")"
grep -q '^data/' "$T/meta.ls" && fail "packs in the metadata pool"
grep -q '^catalog.snapshots$' "$T/meta.ls" || fail "no snapshot catalog in the metadata pool"
grep -q '^catalog.data$' "$T/meta.ls" || fail "no pack catalog in the metadata pool"
rc=0
arca -r "$R" --data-pool meta snapshots >/dev/null 2> "$T/dp.err" || rc=$?
[ "$rc" -ne 0 ] || fail "a --data-pool that contradicts the recorded one was accepted"

# a least-privilege cephx user: its namespace of the two pools, nothing else
KR=$("$CLUSTER" add-user "$T/ceph" client.backup 'allow r' \
    'allow rwx pool=meta namespace=web01, allow rwx pool=ecdata namespace=web01')
A=(--ceph-id backup --keyring "$KR")
echo more > "$T/src/more"
arca -r "$R" "${A[@]}" backup "$T/src" -q || fail "backup as client.backup"
arca -r "$R" "${A[@]}" --json snapshots > "$T/s.json"
[ "$(json_get "$T/s.json" 'len(j)')" = 2 ] || fail "client.backup sees $(json_get "$T/s.json" 'len(j)') snapshots"
arca -r "$R" "${A[@]}" restore latest --target "$T/r2" -q || fail "restore as client.backup"
compare_trees "$T/src" "$T/r2$T/src"
arca -r "$R" "${A[@]}" check --read-data >/dev/null || fail "check as client.backup"
# CEPH_ARGS works as for Ceph's own tools: the user it names may read its namespace only
CEPH_ARGS="--id backup --keyring $KR" arca -r "$R" snapshots -q >/dev/null || fail "CEPH_ARGS: backup failed"
CEPH_ARGS="--id backup --keyring $KR" arca -r rados:meta/ns2 snapshots >/dev/null 2>&1 &&
    fail "CEPH_ARGS ignored: client.backup read a namespace outside its caps"
# a user who may only read: restore, dump and check with --no-lock; no lock without it
KRO=$("$CLUSTER" add-user "$T/ceph" client.reader 'allow r' \
    'allow r pool=meta namespace=web01, allow r pool=ecdata namespace=web01')
RO=(--ceph-id reader --keyring "$KRO")
arca -r "$R" "${RO[@]}" snapshots -q >/dev/null || fail "a read-only user cannot list snapshots"
arca -r "$R" "${RO[@]}" --no-lock restore latest --target "$T/r3" -q || fail "restore --no-lock as a read-only user"
compare_trees "$T/src" "$T/r3$T/src"
arca -r "$R" "${RO[@]}" --no-lock dump latest "$T/src/more" | contains -x more || fail "dump --no-lock as a read-only user"
arca -r "$R" "${RO[@]}" --no-lock check --read-data >/dev/null || fail "check --no-lock as a read-only user"
rc=0
arca -r "$R" "${RO[@]}" restore latest --target "$T/r4" -q 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "a read-only user took a lock"
rc=0
arca -r "$R" "${RO[@]}" --no-lock backup "$T/src" -q 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "backup --no-lock exited $rc, expected 2 (usage)"
rc=0
arca_init rados:meta/other "${A[@]}" 2> "$T/caps.err" >/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "client.backup could init a namespace its caps do not cover"
grep -qi 'caps\|not permitted' "$T/caps.err" || fail "the refusal does not explain the caps: $(cat "$T/caps.err")"

# unlock --force blocklists a live holder before it breaks its lock: a user without the
# mon cap for that (client.backup) breaks nothing and is told which cap; client.admin can
mkfifo "$T/fifo"
sleep 120 > "$T/fifo" &
sleeper=$!
"$ARCA" -r "$R" "${A[@]}" backup --stdin --stdin-name stuck < "$T/fifo" > /dev/null 2> "$T/stuck.err" &
stuck=$!
for _ in $(seq 1 300); do
    rc=0
    arca -r "$R" --retry-lock 0 prune > /dev/null 2>&1 || rc=$?
    [ "$rc" -eq 11 ] && break
    sleep 0.1
done
[ "$rc" -eq 11 ] || fail "the stuck backup holds no lock (prune exited $rc)"
rc=0
arca -r "$R" "${A[@]}" unlock --force > /dev/null 2> "$T/force.err" || rc=$?
[ "$rc" -eq 1 ] || fail "unlock --force without the blocklist cap exited $rc: $(cat "$T/force.err")"
grep -qF 'osd blocklist' "$T/force.err" || fail "unlock --force does not name the cap it needs: $(cat "$T/force.err")"
expect_rc 11 arca -r "$R" --retry-lock 0 prune 2> /dev/null
arca -r "$R" --json unlock --force > "$T/force.json" || fail "unlock --force as client.admin"
[ "$(json_get "$T/force.json" 'j["broken"]')" -ge 1 ] || fail "unlock --force broke nothing: $(cat "$T/force.json")"
arca -r "$R" --retry-lock 0 prune > /dev/null || fail "prune after unlock --force"
kill "$sleeper"
wait "$sleeper" 2> /dev/null || true
rc=0
wait "$stuck" || rc=$?
[ "$rc" -ne 0 ] || fail "the blocklisted backup succeeded"
stuck=
sleeper=
arca -r "$R" check --read-data > /dev/null || fail "check --read-data at the end"
pass
