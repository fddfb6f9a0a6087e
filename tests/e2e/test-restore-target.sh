#!/bin/bash
# The target of a restore: one restore at a time (a second one into the same target is
# refused with exit 11, or waits with --retry-lock); a read-only target, or one the user
# may not write, gives one message with the reason and exit 1.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (mounts a tmpfs, runs arca as another user)"
MNT=$T/ro
fixup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
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

# a target the user may not write into (local repository: readable by the other user)
if [ "$BACKEND" = local ]; then
    cp "$ARCA" "$T/arca-copy"
    chmod 755 "$T" "$T/arca-copy"
    chmod o+r "$ARCA_PASSWORD_FILE"
    chmod -R o+rwX "$R"
    mkdir -m 755 "$T/root-owned"
    rc=0
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$T" XDG_CACHE_HOME="$T/nobody-cache" \
        ARCA_CACHE_DIR="$T/nobody-cache" "$T/arca-copy" -r "$R" restore latest \
        --target "$T/root-owned" 2> "$T/acc.err" || rc=$?
    [ "$rc" -eq 1 ] || fail "restore into an unwritable target exited $rc, expected 1"
    one_message "$T/acc.err" "cannot write into $T/root-owned: Permission denied"
fi
pass
