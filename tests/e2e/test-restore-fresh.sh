#!/bin/bash
# A restore into a target it creates, or into an empty one, makes each directory of the
# target itself under a temporary name, what is below it under final names, and renames the
# directory into place when it is complete.  What comes back is the same as through temporary files: owners,
# modes (setuid, setgid, sticky, read-only directories with content), mtimes (ns) of files,
# symlinks and directories, the top directory's too (the one that was renamed), hard links
# between directories and to a file of the target itself; as root and with --no-owner (the
# restoring user's ids, the same modes and times); nothing temporary stays.  A target that
# holds something gets temporary files, as before.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (owners)"
R=$(new_repo repo)
arca_init "$R" >/dev/null

# a snapshot whose root holds a directory (renamed into place) and a file (renamed as
# before): SRC is backed up from inside T
S=$T/top
mkdir -p "$S/a/b" "$S/c" "$S/ro" "$S/sticky"
printf 'one\n' > "$S/a/f0600"; chmod 0600 "$S/a/f0600"
printf 'two\n' > "$S/a/b/f0755"; chmod 0755 "$S/a/b/f0755"
printf 'three\n' > "$S/a/b/setuid"
printf 'four\n' > "$S/c/setgid"
printf 'five\n' > "$S/ro/inside"
printf 'six\n' > "$S/a/h1"; ln "$S/a/h1" "$S/c/h2"
ln -s ../a/f0600 "$S/c/link"
mkfifo "$S/c/fifo"
head -c 300000 /dev/urandom > "$S/c/big"
chown 4242:4343 "$S/a/f0600" "$S/a/b/setuid" "$S/c" "$S/a/h1"
chown -h 4242:4343 "$S/c/link"
chown 5151:5252 "$S/a/b" "$S/c/setgid"
chmod 4755 "$S/a/b/setuid"   # (after the chowns, which drop these bits)
chmod 2750 "$S/c/setgid"
chmod 2770 "$S/c"
chmod 1777 "$S/sticky"
chmod 0555 "$S/ro"
find "$S" -depth -exec touch -h -d '2021-05-06 07:08:09.123456789' {} +
touch -d '2020-01-02 03:04:05.987654321' "$S"
arca -r "$R" backup "$S" -q || fail "backup failed"

no_temporary_names() {   # no_temporary_names DIR
    local left
    left=$(find "$1" -name '.arca-restore-*')
    [ -z "$left" ] || fail "temporary names left in $1: $left"
}
same_top() {   # same_top TARGET: the first directory under TARGET has the snapshot's metadata
    local top=${S#/}; top=/${top%%/*}
    arca -r "$R" --json ls latest "$top" > "$T/top.json"
    want=$(json_get "$T/top.json" '"%o %d.%09d" % (j[0]["mode"], j[0]["mtime"], j[0]["mtime_nsec"])')
    got=$(stat -c '%a %Y' "$1$top").$(stat -c '%y' "$1$top" | sed 's/.*\.\([0-9]*\) .*/\1/')
    [ "$got" = "$want" ] || fail "$1$top: mode and mtime $got, the snapshot has $want"
}

# as root: owners too
arca -r "$R" restore latest --target "$T/r" -q || fail "restore as root failed"
compare_trees "$S" "$T/r$S"
no_temporary_names "$T/r"
same_top "$T/r"
[ "$(stat -c %u:%g "$T/r$S/a/b/setuid")" = 4242:4343 ] || fail "owner of setuid"
[ "$(stat -c %a "$T/r$S/a/b/setuid")" = 4755 ] || fail "setuid bit lost after the chown"
[ "$(stat -c %a:%u:%g "$T/r$S/c")" = 2770:4242:4343 ] || fail "setgid directory: $(stat -c %a:%u:%g "$T/r$S/c")"
[ "$(stat -c %i "$T/r$S/a/h1")" = "$(stat -c %i "$T/r$S/c/h2")" ] || fail "hard link lost"

# --no-owner: everything the restoring user's, modes and times as they were
arca -r "$R" restore latest --target "$T/n" --no-owner -q || fail "restore --no-owner failed"
compare_trees "$S" "$T/n$S" --no-owner
no_temporary_names "$T/n"
same_top "$T/n"
odd=$(find "$T/n$S" \( ! -user 0 -o ! -group 0 \) -print)
[ -z "$odd" ] || fail "--no-owner: not root's: $odd"
[ "$(stat -c %a "$T/n$S/a/b/setuid")" = 4755 ] || fail "--no-owner: setuid bit"

# an existing empty target, and one that holds something (temporary files, as before)
mkdir "$T/e" "$T/k"
echo keep > "$T/k/keep"
for d in e k; do
    arca -r "$R" restore latest --target "$T/$d" -q || fail "restore into $d failed"
    compare_trees "$S" "$T/$d$S"
    no_temporary_names "$T/$d"
    same_top "$T/$d"
done
[ "$(cat "$T/k/keep")" = keep ] || fail "what the target held is gone"

# and over each again: nothing to do, nothing changes
for d in r e k; do
    arca -r "$R" --json restore latest --target "$T/$d" > "$T/again.json" || fail "again into $d"
    [ "$(json_get "$T/again.json" 'j["files_restored"] == 0 and j["errors"] == 0')" = True ] ||
        fail "again into $d: $(cat "$T/again.json")"
    compare_trees "$S" "$T/$d$S"
done
pass
