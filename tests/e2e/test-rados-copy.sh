#!/bin/bash
# Off-site copies between two Ceph clusters (RADOS only): the test's cluster (ARCA_TEST_CEPH_DIR)
# and a second one it starts, each with its own mon, OSD, ceph.conf and keyrings.  The
# source cluster is read by a cephx user that may only read (mon 'allow r', osd 'allow r'
# on the repository's namespace) with --no-lock; the destination is written by a user whose
# caps cover its namespace only.  Each side's settings come from its own options or
# ARCA_FROM_* variables (CEPH_KEYRING and CEPH_ARGS, Ceph's own, are the process's: the
# source's keyring is given with ARCA_FROM_KEYRING).  Restores from the copy are byte for byte
# the source's, a second copy transfers nothing, kill -9 during the copy leaves a
# destination that passes check --read-data and a run that finishes the job.
source "$(dirname "$0")/lib.sh"

[ "$BACKEND" = rados ] || fail "needs ARCA_TEST_BACKEND=rados (it starts a second Ceph cluster)"
CEPH_DIR=${ARCA_TEST_CEPH_DIR:-}
[ -n "$CEPH_DIR" ] && [ -f "$CEPH_DIR/ceph.conf" ] ||
    fail "set ARCA_TEST_CEPH_DIR to the directory of scripts/ceph-cluster.sh start"
stop_cluster() { "$CLUSTER" stop "$T/gva" >/dev/null 2>&1 || true; }
trap 'rc=$?; stop_cluster; (exit $rc); cleanup' EXIT
own_cluster "$T/gva" "the second cluster" CEPH_POOLS=gva
GVA_CONF=$T/gva/ceph.conf
ZRH_CONF=$CEPH_DIR/ceph.conf
[ "$(sed -n 's/^ *mon[ _]host *= *//p' "$GVA_CONF")" != "$(sed -n 's/^ *mon[ _]host *= *//p' "$ZRH_CONF")" ] ||
    fail "the two clusters have the same monitor"

printf 'the source passphrase\n' > "$T/pass-gva"
unset ARCA_FROM_REPOSITORY ARCA_FROM_PASSWORD_FILE ARCA_FROM_PASSWORD_COMMAND ARCA_FROM_CEPH_CONF \
      ARCA_FROM_CEPH_ID ARCA_FROM_KEYRING
# the source: web01 backs up into gva (its admin user, its own ceph.conf)
NS=web01-$$-$RANDOM
SRC=rados:gva/$NS
gva() { CEPH_CONF=$GVA_CONF CEPH_KEYRING=$T/gva/keyring ARCA_PASSWORD_FILE=$T/pass-gva "$ARCA" -r "$SRC" "$@"; }
gva init --kdf-memory 8M --kdf-ops 1 --pack-size 4M >/dev/null
make_fixture "$T/data"
head -c $((12 << 20)) /dev/urandom > "$T/data/big"
gva backup "$T/data" --host web01 -q
echo change > "$T/data/sub/changed"
gva backup "$T/data" --host web01 -q

# copying users: read-only on the source, its namespace only on the destination
KRO=$("$CLUSTER" add-user "$T/gva" client.offsite-reader 'allow r' "allow r pool=gva namespace=$NS")
DST=$(new_repo zrh)
DNS=${DST#rados:*/}
KRW=$("$CLUSTER" add-user "$CEPH_DIR" "client.offsite-$$" 'allow r' "allow rwx pool=${ARCA_TEST_POOL:?} namespace=$DNS")
export ARCA_FROM_CEPH_CONF=$GVA_CONF ARCA_FROM_CEPH_ID=offsite-reader ARCA_FROM_KEYRING=$KRO
export ARCA_FROM_PASSWORD_FILE=$T/pass-gva
zrh() { CEPH_CONF=$ZRH_CONF "$ARCA" -r "$DST" --ceph-id "offsite-$$" --keyring "$KRW" "$@"; }

# without --no-lock the read-only user cannot take the source's lock: a clear refusal
zrh init --kdf-memory 8M --kdf-ops 1 --from-repo "$SRC" --copy-chunker-params 2> "$T/lock.err" >/dev/null &&
    fail "init --from-repo took a lock as a read-only user"
contains 'source repository' < "$T/lock.err" || fail "the lock refusal does not name the source: $(cat "$T/lock.err")"
zrh --no-lock init --kdf-memory 8M --kdf-ops 1 --from-repo "$SRC" --copy-chunker-params >/dev/null ||
    fail "init --from-repo with a read-only source user"
zrh --no-lock --json copy > "$T/c1.json" 2> "$T/c1.err" && fail "copy without --from-repo succeeded"
export ARCA_FROM_REPOSITORY=$SRC
zrh --no-lock --json copy > "$T/c1.json" || fail "copy gva -> zrh: $(cat "$T/c1.err")"
[ "$(json_get "$T/c1.json" 'j["keys_match"], j["snapshots_copied"]')" = "(True, 2)" ] || fail "first copy: $(cat "$T/c1.json")"
# nothing was written into the source: no lock object, the same objects as before
CEPH_KEYRING=$T/gva/keyring rados -c "$GVA_CONF" -p gva -N "$NS" ls > "$T/gva.ls"
contains '^locks' < "$T/gva.ls" && fail "the copy left a lock in the source"
zrh check --read-data >/dev/null || fail "check --read-data of the copy"
rm -rf "$T/ra" "$T/rb"
gva restore latest --target "$T/ra" -q
zrh restore latest --target "$T/rb" -q || fail "restore from the copy"
compare_trees "$T/ra" "$T/rb"
compare_trees "$T/data" "$T/rb$T/data"
zrh --no-lock --json copy > "$T/c2.json"
[ "$(json_get "$T/c2.json" 'j["snapshots_copied"], j["snapshots_present"], j["blobs_copied"], j["bytes_read"]')" = "(0, 2, 0, 0)" ] ||
    fail "the second copy transferred something: $(cat "$T/c2.json")"

# a new night: kill -9 while its packs are copied, then check, then the run that finishes
head -c $((12 << 20)) /dev/urandom > "$T/data/big2"
gva backup "$T/data" --host web01 -q
rc=0
(ARCA_TEST_KILL_AT=copy-blobs exec "$ARCA" -r "$DST" --ceph-id "offsite-$$" --keyring "$KRW" --no-lock copy >/dev/null 2>&1) || rc=$?
[ "$rc" -eq 137 ] || fail "the killed copy exited $rc, expected 137"
zrh check --read-data >/dev/null 2>&1 || fail "check --read-data after kill -9"
zrh --no-lock --json copy > "$T/c3.json" 2>/dev/null || fail "the copy after kill -9"
[ "$(json_get "$T/c3.json" 'j["snapshots_copied"], j["snapshots_present"]')" = "(1, 2)" ] || fail "after kill -9: $(cat "$T/c3.json")"
zrh check --read-data >/dev/null 2>&1 || fail "check --read-data after the run that finished"
rm -rf "$T/ra" "$T/rb"
gva restore latest --target "$T/ra" -q
zrh restore latest --target "$T/rb" -q
compare_trees "$T/ra" "$T/rb"

# the source's settings are its own: a wrong --from-ceph-conf is the source's error
rc=0
CEPH_CONF=$ZRH_CONF ARCA_FROM_CEPH_CONF=$T/nowhere.conf "$ARCA" -r "$DST" --ceph-id "offsite-$$" --keyring "$KRW" \
    --no-lock copy 2> "$T/conf.err" >/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "the source was reached without its ceph.conf"
contains 'source repository' < "$T/conf.err" || fail "the error does not name the source: $(cat "$T/conf.err")"

pass
