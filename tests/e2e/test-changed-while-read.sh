#!/bin/bash
# A file that changes while the backup reads it: a warning naming it, counted in the
# summary, exit 3; the snapshot is saved, and the next backup reads the file again.
#
# Deterministic: the backup is stopped (SIGSTOP) while it holds the file open with its
# read offset short of the end, i.e. before it has finished reading (arca reads files
# sequentially), then the file is appended to, then the backup goes on.  A run in which
# the stop did not land inside the read is repeated.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src"
printf 'steady\n' > "$T/src/steady"
big=$T/src/big
head -c 300M /dev/urandom > "$big"
size=$(stat -c %s "$big")

# stop_inside PID: 0 once PID was caught (and left stopped) reading $big short of its end
stop_inside() {
    local pid=$1 fd pos
    while kill -0 "$pid" 2>/dev/null; do
        for fd in /proc/"$pid"/fd/*; do
            [ "$(readlink "$fd" 2>/dev/null)" = "$big" ] || continue
            kill -STOP "$pid"
            pos=$(awk '$1 == "pos:" { print $2 }' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null || true)
            if [ "$(readlink "$fd" 2>/dev/null)" = "$big" ] && [ -n "$pos" ] && [ "$pos" -lt "$size" ]; then
                return 0
            fi
            kill -CONT "$pid"
        done
    done
    return 1
}

caught=0
for attempt in $(seq 1 20); do
    rc=0
    "$ARCA" -r "$R" backup --force --json "$T/src" > "$T/b.json" 2> "$T/err.txt" &
    pid=$!
    if stop_inside "$pid"; then
        printf 'appended while arca reads\n' >> "$big"
        size=$(stat -c %s "$big")
        kill -CONT "$pid"
        caught=1
    fi
    wait "$pid" || rc=$?
    [ "$caught" = 1 ] && break
    [ "$rc" -eq 0 ] || fail "backup exited $rc: $(cat "$T/err.txt")"
done
[ "$caught" = 1 ] || fail "could not stop the backup inside its read of $big in 20 runs"

[ "$rc" -eq 3 ] || fail "backup of a file that changed while read exited $rc, expected 3: $(cat "$T/err.txt")"
grep -qF "warning: $big: changed while it was read" "$T/err.txt" || fail "no warning naming the file: $(cat "$T/err.txt")"
grep -qF "1 file changed while it was read" "$T/err.txt" || fail "no count in the closing message: $(cat "$T/err.txt")"
[ "$(json_get "$T/b.json" 'j["summary"]["files_changed_while_read"]')" = 1 ] || fail "summary does not count it"
[ "$(json_get "$T/b.json" 'j["summary"]["errors"]')" = 0 ] || fail "counted as an unreadable entry"
# the snapshot was saved and records the count
arca -r "$R" snapshots --json > "$T/snaps.json"
[ "$(json_get "$T/snaps.json" 'j[-1]["summary"]["files_changed_while_read"]')" = 1 ] ||
    fail "the snapshot does not record the count"

# the next backup reads the file again (its times in the snapshot are those before the
# change) and, with nothing changing now, exits 0
arca -r "$R" backup --json "$T/src" > "$T/b2.json"
[ "$(json_get "$T/b2.json" 'j["summary"]["files_changed"]')" = 1 ] || fail "the changed file was taken as unchanged"
[ "$(json_get "$T/b2.json" 'j["summary"]["files_changed_while_read"]')" = 0 ] || fail "a quiet run counted a change"
arca -r "$R" restore latest --target "$T/r" --include "$big" >/dev/null
cmp "$big" "$T/r$big" || fail "restored file differs"
pass
