#!/bin/bash
# Exit codes and messages: wrong passphrase (12), no repository (10), usage (2),
# unreadable files (3, snapshot still written), a held lock (11), a corrupt pack named
# by check --read-data.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
expect_rc 1 arca_init "$R"     # exists already

# wrong passphrase
printf 'wrong\n' > "$T/wrong"
expect_rc 12 arca -r "$R" --password-file "$T/wrong" snapshots
arca -r "$R" --password-file "$T/wrong" snapshots 2> "$T/msg" || true
grep -qi "wrong passphrase" "$T/msg" || fail "no clear message for a wrong passphrase"
ARCA_PASSWORD_COMMAND="echo wrong" ARCA_PASSWORD_FILE= expect_rc 12 arca -r "$R" snapshots
ARCA_PASSWORD_COMMAND="cat $ARCA_PASSWORD_FILE" ARCA_PASSWORD_FILE= arca -r "$R" snapshots >/dev/null ||
    fail "ARCA_PASSWORD_COMMAND not used"
# no passphrase source and no terminal
ARCA_PASSWORD_FILE= expect_rc 1 arca -r "$R" snapshots </dev/null

# no repository
expect_rc 10 arca -r "$(new_repo nothing-here)" snapshots
[ "$BACKEND" = local ] && { mkdir "$T/empty-dir"; expect_rc 10 arca -r "$T/empty-dir" snapshots; }

# usage errors
expect_rc 2 arca -r "$R" backup
expect_rc 2 arca -r "$R" backup --no-such-option /tmp
expect_rc 2 arca -r "$R" restore latest
expect_rc 2 arca nosuchcommand
expect_rc 2 arca -r "$R" backup --time yesterday "$T"
ARCA_REPOSITORY= expect_rc 2 arca snapshots
expect_rc 0 arca help backup >/dev/null
expect_rc 0 arca backup --help >/dev/null

# an unreadable file: reported, skipped, exit 3, the snapshot has the rest
mkdir -p "$T/src/d"
printf 'fine\n' > "$T/src/fine"
printf 'secret\n' > "$T/src/d/secret"
if [ "$(id -u)" -eq 0 ]; then
    # root reads everything; make the file unreadable for the run by dropping privileges.
    # The binary may lie where only root goes (a checkout in /root): run a copy in $T.
    mkdir "$T/bin"
    cp "$ARCA" "$T/bin/arca"
    arca_as_user=$T/bin/arca
    chmod -R o+rX "$T"
    chmod o+r "$ARCA_PASSWORD_FILE"
    [ "$BACKEND" = local ] && chmod -R o+rwX "$R"
    chmod 000 "$T/src/d/secret"
    run_as() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    run_as test -x "$arca_as_user" ||
        fail "uid 65534 cannot run $arca_as_user: ARCA_TEST_TMP must be a directory others can traverse"
else
    arca_as_user=$ARCA
    chmod 000 "$T/src/d/secret"
    run_as() { "$@"; }
fi
if [ "$BACKEND" = local ]; then
    rc=0
    run_as env HOME="$T" XDG_CACHE_HOME="$T/nobody-cache" "$arca_as_user" -r "$R" backup "$T/src" 2> "$T/err.txt" >/dev/null || rc=$?
    [ $rc -eq 3 ] || fail "unreadable file: exit $rc, expected 3 ($(cat "$T/err.txt"))"
    grep -q "secret" "$T/err.txt" || fail "the unreadable file is not named"
    # the cache the earlier runs made is root's: the run goes on with a temporary index file
    grep -q "using a temporary index file" "$T/err.txt" ||
        fail "no warning about the unwritable cache ($(cat "$T/err.txt"))"
    arca -r "$R" ls -R latest "$T/src" > "$T/ls.txt"
    grep -q '/fine$' "$T/ls.txt" || fail "snapshot lacks the readable file"
    if grep -q '/secret$' "$T/ls.txt"; then fail "snapshot holds the unreadable file"; fi
fi
chmod 644 "$T/src/d/secret"

# a held lock: an exclusive holder blocks another exclusive operation (exit 11), and
# --retry-lock waits
arca -r "$R" backup "$T/src" >/dev/null
if [ "$BACKEND" = local ]; then
    # hold an exclusive lock from another process (flock on the lock file is not the same
    # lock: use arca itself, key add blocks on stdin while holding an exclusive lock)
    mkfifo "$T/newpass"
    ( arca -r "$R" --new-password-file "$T/newpass" key add >/dev/null 2>&1 & echo $! > "$T/holder.pid"; wait ) &
    sleep 1
    expect_rc 11 arca -r "$R" key add --new-password-file /dev/null
    arca -r "$R" key add --new-password-file /dev/null 2> "$T/msg" || true
    grep -qi locked "$T/msg" || fail "no lock message: $(cat "$T/msg")"
    printf 'second passphrase\n' > "$T/newpass"
    wait
fi

# check --read-data names a corrupt pack; --read-data-subset reads each pack in exactly one
# of t parts
arca -r "$R" check --read-data >/dev/null || fail "check failed on a good repository"
total=$(arca -r "$R" --json check --read-data | python3 -c 'import json,sys; print(json.load(sys.stdin)["packs_read"])')
read_sum=0
for k in 1 2 3; do
    n=$(arca -r "$R" --json check --read-data-subset "$k/3" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packs_read"])')
    read_sum=$((read_sum + n))
done
[ "$read_sum" = "$total" ] || fail "the 3 subsets read $read_sum packs, the whole check $total"
arca -r "$R" --json check --read-data-subset 100% > "$T/all.json"
[ "$(json_get "$T/all.json" 'j["packs_read"]')" = "$total" ] || fail "100% did not read every pack"
for bad in 0/3 4/3 3/0 x 150% -5%; do
    expect_rc 2 arca -r "$R" check --read-data-subset "$bad"
done

list_objects "$R" data > "$T/packs"
read -r pack < "$T/packs"
pack=${pack##*/}
case $R in
    rados:*)
        mapfile -t ra < <(rados_of "$R")
        rados "${ra[@]}" get "data/$pack" "$T/pack"
        ;;
    *)
        src=$(find "$R/data" -type f -name "$pack")
        cp "$src" "$T/pack"
        ;;
esac
python3 - "$T/pack" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 3] ^= 0x40
open(p, 'wb').write(bytes(b))
PY
case $R in
    rados:*) rados "${ra[@]}" put "data/$pack" "$T/pack" ;;
    *) chmod u+w "$src" && cp "$T/pack" "$src" ;;
esac
rc=0
arca -r "$R" check --read-data > /dev/null 2> "$T/check.txt" || rc=$?
[ $rc -eq 1 ] || fail "check --read-data after a flipped byte: exit $rc"
grep -q "$pack" "$T/check.txt" || fail "check does not name the corrupt pack: $(cat "$T/check.txt")"
# (every check may fail, when the byte is in a tree blob that the structure check reads
# too; but only the part that reads the pack finds its content wrong)
read_in=0
for k in 1 2 3; do
    arca -r "$R" check --read-data-subset "$k/3" >/dev/null 2> "$T/sub$k.txt" || true
    grep -q "pack $pack: content does not match" "$T/sub$k.txt" && read_in=$((read_in + 1))
done
[ "$read_in" = 1 ] || fail "the corrupt pack was read in $read_in of the 3 subsets, expected exactly 1"
pass
