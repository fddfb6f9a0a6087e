#!/bin/bash
# The target of a restore: one restore at a time (a second one into the same target is
# refused with exit 11, or waits with --retry-lock); a read-only target, or one the user
# may not write, gives one message with the reason and exit 1.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (mounts a tmpfs, runs arca as another user)"
MNT=$T/ro
N=
fixup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    if [ -n "$N" ] && [ -d "$N" ]; then
        chattr -R -i -a "$N" >/dev/null 2>&1 || true
        rm -rf "$N"
    fi
    return 0
}
trap 'rc=$?; fixup; (exit $rc); cleanup' EXIT

R=$(new_repo repo)
arca_init "$R" >/dev/null
# big files that cost the repository almost nothing (a repeated 16-byte line), so that a
# restore takes a while
mkdir -p "$T/src/d"
for i in 1 2; do
    python3 -c 'import sys; open(sys.argv[1], "wb").write((sys.argv[2] + "\n").encode() * 6250000)' \
        "$T/src/d/big$i" "file $i, 15 byte"
done
head -c 3000000 /dev/urandom > "$T/src/d/random"
for i in $(seq 1 20); do echo "$i" > "$T/src/small$i"; done
arca -r "$R" backup "$T/src" -q

# ---- one restore per target -----------------------------------------------------------------
# the lock is an flock on the target directory: held here, the restore is refused...
mkdir "$T/lt"
exec {lockfd}<"$T/lt"
flock -x "$lockfd"
rc=0
arca -r "$R" restore latest --target "$T/lt" 2> "$T/lock.err" {lockfd}<&- || rc=$?
[ "$rc" -eq 11 ] || fail "restore into a locked target exited $rc, expected 11"
grep -qF "another arca restore is writing into $T/lt" "$T/lock.err" || fail "lock message: $(cat "$T/lock.err")"
[ -z "$(ls -A "$T/lt")" ] || fail "a refused restore wrote into the target"
# ...or, with --retry-lock, waits for it (it says so; then the lock goes)
# (not inheriting the lock's fd, through which it would hold the lock itself)
"$ARCA" -r "$R" --retry-lock 10m restore latest --target "$T/lt" >/dev/null 2> "$T/wait.err" {lockfd}<&- &
pid=$!
while ! grep -q 'waiting' "$T/wait.err"; do
    kill -0 $pid 2>/dev/null || fail "restore --retry-lock ended without waiting: $(cat "$T/wait.err")"
    sleep 0.05
done
exec {lockfd}<&-
rc=0
wait $pid || rc=$?
[ "$rc" -eq 0 ] || fail "restore --retry-lock exited $rc after the lock went: $(cat "$T/wait.err")"
compare_trees "$T/src" "$T/lt$T/src"

# two restores into one target: the first is stopped while it holds the lock
held_by() {   # held_by PID DIR: PID holds an flock on DIR (/proc/locks)
    local ino
    ino=$(stat -c %i "$2")
    awk -v pid="$1" -v ino="$ino" '$2 == "FLOCK" && $5 == pid && $6 ~ (":" ino "$")' /proc/locks > "$T/locks"
    [ -s "$T/locks" ]
}
caught=
for attempt in 1 2 3 4 5; do
    rm -rf "$T/two"
    mkdir "$T/two"
    "$ARCA" -r "$R" restore latest --target "$T/two" -q 2>/dev/null &   # $! must be arca
    pid=$!
    while kill -0 $pid 2>/dev/null && ! held_by $pid "$T/two"; do sleep 0.01; done
    kill -STOP $pid 2>/dev/null || true
    if held_by $pid "$T/two"; then   # stopped with the lock: the case to test
        rc=0
        arca -r "$R" restore latest --target "$T/two" 2> "$T/two.err" || rc=$?
        kill -CONT $pid
        [ "$rc" -eq 11 ] || fail "a second restore into the same target exited $rc, expected 11"
        grep -qF "another arca restore is writing into $T/two" "$T/two.err" ||
            fail "second restore: $(cat "$T/two.err")"
        wait $pid || fail "the first restore failed"
        caught=1
        break
    fi
    kill -CONT $pid 2>/dev/null || true
    wait $pid || true   # it finished before it could be stopped: again
done
[ -n "$caught" ] || fail "could not stop a restore while it held the lock"
compare_trees "$T/src" "$T/two$T/src"

# ---- targets that cannot be written -----------------------------------------------------------
one_message() {   # one_message FILE WORDS: exactly one line, with WORDS
    [ "$(wc -l < "$1")" -eq 1 ] || fail "expected one message, got: $(cat "$1")"
    grep -qF "$2" "$1" || fail "expected '$2': $(cat "$1")"
}
mkdir -p "$MNT"
mount -t tmpfs -o size=400m tmpfs "$MNT"
mkdir "$MNT/empty"
arca -r "$R" restore latest --target "$MNT/full" -q
echo changed > "$T/src/small1"
arca -r "$R" backup "$T/src" -q
mount -o remount,ro "$MNT"
for t in empty full missing; do
    rc=0
    arca -r "$R" restore latest --target "$MNT/$t" 2> "$T/ro-$t.err" || rc=$?
    [ "$rc" -eq 1 ] || fail "restore into a read-only $t target exited $rc, expected 1"
    one_message "$T/ro-$t.err" "Read-only file system"
done
grep -qF "cannot write into $MNT/empty: Read-only file system" "$T/ro-empty.err" ||
    fail "read-only: $(cat "$T/ro-empty.err")"
umount "$MNT"

# as another user (uid 65534), with a local repository and everything it needs in a
# directory it can reach whatever the scratch's parents are: a target it may not write
# into; an immutable file it may not replace
if [ "$BACKEND" = local ]; then
    N=$(mktemp -d /tmp/arca-restore-target.XXXXXX)
    chmod 755 "$N"
    cp "$ARCA" "$N/arca"
    cp "$ARCA_PASSWORD_FILE" "$N/pass"
    chmod 755 "$N/arca"
    chmod 644 "$N/pass"
    mkdir -p "$N/src"
    for i in 1 2 3; do echo "$i" > "$N/src/f$i"; done
    arca_init "$N/repo" >/dev/null
    arca -r "$N/repo" backup "$N/src" -q
    as_other() {
        setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$N" ARCA_CACHE_DIR="$N/cache" \
            XDG_CACHE_HOME="$N/cache" ARCA_PASSWORD_FILE="$N/pass" "$N/arca" -r "$N/repo" "$@"
    }
    mkdir -m 755 "$N/root-owned" "$N/cache"
    chown 65534:65534 "$N/cache"
    chmod -R o+rwX "$N/repo"
    rc=0
    as_other restore latest --target "$N/root-owned" 2> "$T/acc.err" || rc=$?
    [ "$rc" -eq 1 ] || fail "restore into an unwritable target exited $rc, expected 1: $(cat "$T/acc.err")"
    one_message "$T/acc.err" "cannot write into $N/root-owned: Permission denied"

    arca -r "$N/repo" restore latest --target "$N/imm" -q
    echo "changed" > "$N/src/f2"
    arca -r "$N/repo" backup "$N/src" -q
    chmod -R o+rwX "$N/repo"
    chown -R 65534:65534 "$N/imm"
    chattr +i "$N/imm$N/src/f2"
    rc=0
    as_other restore latest --target "$N/imm" 2> "$T/imm.err" || rc=$?
    chattr -i "$N/imm$N/src/f2"
    [ "$rc" -eq 1 ] || fail "restore over an immutable file as another user exited $rc, expected 1"
    grep -q "f2: .*immutable" "$T/imm.err" || fail "immutable: $(cat "$T/imm.err")"
    [ "$(cat "$N/imm$N/src/f2")" = 2 ] || fail "the immutable file was changed"
    rm -rf "$N"
fi
pass
