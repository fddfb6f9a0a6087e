#!/bin/bash
# How arca ends when it is told to stop or its reader goes away:
#  - SIGINT / SIGTERM during a backup or a check: one line "arca: interrupted", exit 130 /
#    143, no lock record left, a repository that check passes;
#  - stdout closed early (a reader that takes a few bytes and leaves): no message, the
#    exit status of a process killed by SIGPIPE (141), no lock record left;
#  - the lock record of a killed (SIGKILL) holder is removed by the next command that
#    takes a lock, without `arca unlock`.
# Deterministic: a signal is sent only while arca is known to hold its lock and to be
# running (it is stopped with SIGSTOP meanwhile); a run that ended first is repeated.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src/many"
head -c 400M /dev/urandom > "$T/src/big"
for i in $(seq 1 4000); do printf '%s\n' "$i" > "$T/src/many/file-with-a-long-name-$i"; done

# lock_records: one line per lock record in the repository (who holds it)
lock_records() {
    local ra
    case $R in
        rados:*)
            mapfile -t ra < <(rados_of "$R")
            { rados "${ra[@]}" lock info lock arca-repo 2>/dev/null || echo '{"lockers": []}'; } |
                python3 -c 'import json,sys; [print(l["cookie"]) for l in json.load(sys.stdin)["lockers"]]'
            ;;
        *) find "$R/locks" -type f ! -name lock -printf '%f\n' ;;
    esac
}

# signal_during SIG CMD...: run arca CMD in the background; once it holds a lock, stop it,
# send SIG, let it go on; prints its exit status.  Returns 1 if it ended before.
signal_during() {
    local sig=$1 pid rc=0
    shift
    "$ARCA" "$@" > "$T/out.txt" 2> "$T/err.txt" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ -n "$(lock_records)" ]; then
            if kill -STOP "$pid" 2>/dev/null; then
                kill "-$sig" "$pid"
                kill -CONT "$pid"
                wait "$pid" || rc=$?
                echo "$rc"
                return 0
            fi
        fi
    done
    wait "$pid" || true
    return 1
}

# interrupt SIG WANT_RC CMD...: interrupt CMD with SIG (retrying runs that ended first)
interrupt() {
    local sig=$1 want=$2 rc= attempt
    shift 2
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if rc=$(signal_during "$sig" "$@"); then
            break
        fi
        rc=
    done
    [ -n "$rc" ] || fail "arca $* always ended before it could be interrupted"
    [ "$rc" = "$want" ] || fail "arca $* exited $rc after SIG$sig, expected $want: $(cat "$T/err.txt")"
    [ "$(cat "$T/err.txt")" = "arca: interrupted" ] ||
        fail "arca $* after SIG$sig: expected one line 'arca: interrupted', got: $(cat "$T/err.txt")"
    [ -z "$(lock_records)" ] || fail "arca $* left lock records after SIG$sig: $(lock_records)"
}

interrupt INT 130 -r "$R" backup --no-cache "$T/src"
interrupt TERM 143 -r "$R" backup --no-cache "$T/src"
arca -r "$R" check >/dev/null 2>&1 || fail "check fails after interrupted backups"
arca -r "$R" backup "$T/src/big" >/dev/null
arca -r "$R" backup "$T/src" >/dev/null
interrupt INT 130 -r "$R" check --read-data
arca -r "$R" check >/dev/null 2>&1 || fail "check fails after an interrupted check"
# an interrupted restore leaves no partial file under a real name, and no temporary file
interrupt TERM 143 -r "$R" restore latest --target "$T/r"
if [ -e "$T/r$T/src/big" ]; then
    cmp -s "$T/src/big" "$T/r$T/src/big" || fail "an interrupted restore left a partial file under its name"
fi
[ -z "$(find "$T/r" -name '.arca-*' -print)" ] || fail "an interrupted restore left temporary files: $(find "$T/r" -name '.arca-*')"
arca -r "$R" restore latest --target "$T/r" >/dev/null || fail "restore after an interrupted one failed"
cmp "$T/src/big" "$T/r$T/src/big" || fail "restore after an interrupted one differs"

# ---- the reader of the output goes away -------------------------------------------------
# closed_reader CMD...: arca CMD writes into a pipe whose reader takes a few bytes and
# leaves; the output is far larger than a pipe holds, so arca must meet EPIPE
closed_reader() {
    local rc=0
    rm -f "$T/fifo"
    mkfifo "$T/fifo"
    (exec 3< "$T/fifo"; head -c 10 <&3 > /dev/null) &
    local reader=$!
    "$ARCA" "$@" > "$T/fifo" 2> "$T/err.txt" || rc=$?
    wait "$reader"
    [ "$rc" = 141 ] || fail "arca $* into a closed pipe exited $rc, expected 141 (SIGPIPE): $(cat "$T/err.txt")"
    [ ! -s "$T/err.txt" ] || fail "arca $* into a closed pipe printed: $(cat "$T/err.txt")"
    [ -z "$(lock_records)" ] || fail "arca $* into a closed pipe left lock records: $(lock_records)"
}
closed_reader -r "$R" ls -l latest
closed_reader -r "$R" dump latest "$T/src/big"
closed_reader -r "$R" dump latest "$T/src/many"
closed_reader -r "$R" --json ls -R latest
arca -r "$R" snapshots --json > "$T/snaps.json"
closed_reader -r "$R" diff "$(json_get "$T/snaps.json" 'j[0]["id"]')" latest
closed_reader -r "$R" --json diff "$(json_get "$T/snaps.json" 'j[0]["id"]')" latest

# ---- the lock record of a killed holder goes when next seen -----------------------------
killed=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    "$ARCA" -r "$R" backup --force "$T/src" > /dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ -n "$(lock_records)" ] && kill -KILL "$pid" 2>/dev/null; then
            killed=1
            break
        fi
    done
    wait "$pid" 2>/dev/null || true
    [ -n "$killed" ] && break
done
[ -n "$killed" ] || fail "could not kill a backup while it held its lock"
[ -n "$(lock_records)" ] || fail "the killed backup left no lock record to test with"
arca -r "$R" --retry-lock 0 check > /dev/null 2>&1 || fail "check after a killed backup failed"
[ -z "$(lock_records)" ] || fail "the killed backup's lock record is still there: $(lock_records)"
pass
