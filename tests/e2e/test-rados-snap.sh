#!/bin/bash
# --ceph-snap (RADOS only, on a cluster of its own, whose pools it snapshots): a backup
# host with a backup-only key and a cephx user that may write and delete in its namespace
# (but not remove the pool snapshots an admin keeps); after an attacker with those credentials deletes and
# overwrites the repository's objects, --ceph-snap lists, checks and restores the
# repository as it was, byte for byte, from a replicated pool and from an erasure-coded
# data pool, and copy --from-ceph-snap brings it back into a new namespace.  It is
# read-only: commands that write are refused (exit 2), and so is a
# snapshot that does not exist (exit 1, named) or a local repository.
source "$(dirname "$0")/lib.sh"

[ "$BACKEND" = rados ] || fail "needs ARCA_TEST_BACKEND=rados (it starts a Ceph cluster of its own)"
stop_cluster() { "$CLUSTER" stop "$T/ceph" >/dev/null 2>&1 || true; }
trap 'rc=$?; stop_cluster; (exit $rc); cleanup' EXIT
own_cluster "$T/ceph" "the cluster" CEPH_OSDS=3 CEPH_POOLS=meta CEPH_EC_POOLS=ecdata
set -a; source "$T/ceph.env"; set +a

# the backup host's user: read, write and delete in its namespace of both pools
KR=$("$CLUSTER" add-user "$T/ceph" client.web01 'allow r' \
    'allow rwx pool=meta namespace=web01, allow rwx pool=ecdata namespace=web01')
B=(--ceph-id web01 --keyring "$KR")
R=rados:meta/web01
# the admin makes the repository and gives the host a backup-only key: with it and its
# cephx user, the host can add backups and nothing else
arca -r "$R" init --kdf-memory 8M --kdf-ops 1 --data-pool ecdata --pack-size 4M >/dev/null
printf 'web01 backs up\n' > "$T/pass-web01"
arca -r "$R" key add --backup-only --host web01 --new-password-file "$T/pass-web01" >/dev/null
web01() { arca -r "$R" "${B[@]}" --password-file "$T/pass-web01" "$@"; }
make_fixture "$T/data"
head -c $((6 << 20)) /dev/urandom > "$T/data/big"
web01 backup "$T/data" --host web01 -q
echo "second night" > "$T/data/sub/night2"
web01 backup "$T/data" --host web01 -q
expect_rc 13 web01 snapshots 2>/dev/null
arca -r "$R" --json snapshots > "$T/before.json"
rm -rf "$T/r0"
arca -r "$R" restore latest --target "$T/r0" -q

# the admin keeps pool snapshots (of both pools), which the backup host cannot remove
ceph osd pool mksnap meta nightly >/dev/null 2>&1 || fail "cannot snapshot pool meta"
ceph osd pool mksnap ecdata nightly >/dev/null 2>&1 || fail "cannot snapshot pool ecdata"
rc=0
ceph --id web01 --keyring "$KR" osd pool rmsnap meta nightly > "$T/rmsnap.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "the backup host's user removed a pool snapshot"

# the attack, with the backup host's credentials: every snapshot, index and pack deleted,
# the config overwritten
RA=(--id web01 --keyring "$KR")
for pool in meta ecdata; do
    rados "${RA[@]}" -p "$pool" -N web01 ls > "$T/objs.$pool"
    [ -s "$T/objs.$pool" ] || fail "no objects in pool $pool"
    grep -v '^config$' "$T/objs.$pool" | xargs -r -d '\n' rados "${RA[@]}" -p "$pool" -N web01 rm ||
        fail "the backup host's user could not delete in pool $pool"
done
echo garbage | rados "${RA[@]}" -p meta -N web01 put config - || fail "could not overwrite config"
rc=0
arca -r "$R" snapshots >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "the repository still opens after the attack"

# the repository as it was: listed, checked, restored byte for byte, by the admin
arca -r "$R" --ceph-snap nightly --json snapshots > "$T/after.json" || fail "snapshots --ceph-snap"
[ "$(json_get "$T/after.json" '[s["id"] for s in j]')" = "$(json_get "$T/before.json" '[s["id"] for s in j]')" ] ||
    fail "--ceph-snap lists other snapshots: $(cat "$T/after.json")"
arca -r "$R" --ceph-snap nightly check --read-data >/dev/null || fail "check --read-data --ceph-snap"
rm -rf "$T/r1"
arca -r "$R" --ceph-snap nightly restore latest --target "$T/r1" -q || fail "restore --ceph-snap"
compare_trees "$T/data" "$T/r1$T/data"
compare_trees "$T/r0" "$T/r1"
arca -r "$R" --ceph-snap nightly ls latest "$T/data/sub" | contains -F "$T/data/sub/night2" ||
    fail "ls --ceph-snap"
arca -r "$R" --ceph-snap nightly dump latest "$T/data/sub/night2" | contains -x "second night" ||
    fail "dump --ceph-snap"
first=$(json_get "$T/before.json" 'j[0]["id"]')
arca -r "$R" --ceph-snap nightly diff "$first" latest | contains -F "night2" || fail "diff --ceph-snap"

# the repository brought back, as it was, into a new namespace: copy out of the view
N=rados:meta/web01-back
arca_init "$N" --from-repo "$R" --from-ceph-snap nightly --from-password-file "$ARCA_PASSWORD_FILE" \
    --copy-chunker-params >/dev/null || fail "init --from-repo out of the view"
ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE arca -r "$N" --json copy --from-repo "$R" --from-ceph-snap nightly > "$T/back.json" ||
    fail "copy --from-ceph-snap"
[ "$(json_get "$T/back.json" 'j["snapshots_copied"]')" = 2 ] || fail "copy out of the view: $(cat "$T/back.json")"
arca -r "$N" check --read-data >/dev/null || fail "check of the repository brought back"
rm -rf "$T/r2"
arca -r "$N" restore latest --target "$T/r2" -q
compare_trees "$T/r0" "$T/r2"

# read-only: commands that write are refused, before anything is opened
for cmd in "backup $T/data" "forget --keep-last 1" "prune" "init" "key add" "unlock" "repair" \
           "copy --from-repo $T/x"; do
    rc=0
    # shellcheck disable=SC2086  # the words of cmd
    arca -r "$R" --ceph-snap nightly $cmd > /dev/null 2> "$T/ro.err" || rc=$?
    [ "$rc" -eq 2 ] || fail "$cmd --ceph-snap exited $rc, expected 2"
    contains -- '--ceph-snap is a read-only view' < "$T/ro.err" || fail "$cmd: $(cat "$T/ro.err")"
done
rc=0
arca -r "$R" --ceph-snap nosuch snapshots > /dev/null 2> "$T/nosnap.err" || rc=$?
[ "$rc" -eq 1 ] || fail "a missing pool snapshot exited $rc, expected 1"
contains "pool 'meta' has no snapshot 'nosuch'" < "$T/nosnap.err" || fail "missing snapshot: $(cat "$T/nosnap.err")"
rc=0
arca -r "$T/local" --ceph-snap nightly snapshots > /dev/null 2> "$T/local.err" || rc=$?
[ "$rc" -ne 0 ] && contains 'for repositories in RADOS' < "$T/local.err" || fail "--ceph-snap on a directory: $(cat "$T/local.err")"

ceph osd pool rmsnap meta nightly >/dev/null 2>&1 || true
ceph osd pool rmsnap ecdata nightly >/dev/null 2>&1 || true
pass
