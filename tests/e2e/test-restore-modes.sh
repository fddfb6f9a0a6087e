#!/bin/bash
# Modes of restored directories and files are the snapshot's whatever the umask of the
# restore, in a setgid target too, and as another user than root: restore skips the chmod
# of a new entry when its mode as made already is the snapshot's, so that guess must hold.
# And symlinks planted in a target where directories and files are to be restored are
# replaced (with --delete) or refused, never followed.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (runs arca as another user)"

R=$(new_repo repo)
arca_init "$R" >/dev/null
S=$T/src
mkdir -p "$S"
modes="0700 0750 0755 0711 0777 0555 0500 0300 2775 2755 1777 3777"
for m in $modes; do
    mkdir "$S/d$m"
    echo "in $m" > "$S/d$m/f"
    mkdir "$S/d$m/sub"
    echo "deep" > "$S/d$m/sub/g"
    chmod 0751 "$S/d$m/sub"
    chmod "$m" "$S/d$m"
done
for m in 0600 0644 0640 0755 0700 0444 0666 0777 4755 2755; do
    echo "file $m" > "$S/f$m"
    chmod "$m" "$S/f$m"
done
arca -r "$R" backup "$S" -q || fail "backup failed"

modes_of() {   # modes_of DIR: "relative-path mode" lines, sorted
    (cd "$1" && find . -mindepth 1 -printf '%P %m\n' | sort)
}
want=$(modes_of "$S")

for u in 000 022 077 027 007; do
    (umask "$u" && arca -r "$R" restore latest --target "$T/r$u") || fail "restore (umask $u) failed"
    got=$(modes_of "$T/r$u$S")
    [ "$got" = "$want" ] || fail "umask $u: modes differ: $(diff <(echo "$want") <(echo "$got"))"
done

# a setgid target: new directories in it inherit the bit, which the snapshot may not have
mkdir "$T/sg"
chmod 2777 "$T/sg"
(umask 022 && arca -r "$R" restore latest --target "$T/sg") || fail "restore into a setgid target failed"
got=$(modes_of "$T/sg$S")
[ "$got" = "$want" ] || fail "setgid target: modes differ: $(diff <(echo "$want") <(echo "$got"))"

# as another user (no chown, no CAP_FOWNER): the same modes.  A local repository, the
# binary and the passphrase in a directory that user can reach whatever the scratch's
# parents are (a checkout under /root, a RADOS keyring it may not read)
N=$(mktemp -d /tmp/arca-restore-modes.XXXXXX)
chmod 0755 "$N"
cp "$ARCA" "$N/arca"
cp "$ARCA_PASSWORD_FILE" "$N/pass"
chmod 0755 "$N/arca"
chmod 0644 "$N/pass"
arca_init "$N/repo" >/dev/null
arca -r "$N/repo" backup "$S" -q || fail "backup into the local repository failed"
chmod -R a+rX "$N/repo"
mkdir -m 0777 "$N/out"
for u in 022 077; do
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$N" ARCA_CACHE_DIR="$N/out/cache" \
        ARCA_PASSWORD_FILE="$N/pass" bash -c 'umask "$1"; exec "$2" -r "$3" --no-lock restore latest --target "$4"' \
        - "$u" "$N/arca" "$N/repo" "$N/out/r$u" || fail "restore as nobody (umask $u) failed"
    got=$(modes_of "$N/out/r$u$S")
    [ "$got" = "$want" ] || fail "nobody, umask $u: modes differ: $(diff <(echo "$want") <(echo "$got"))"
done
chmod -R u+rwX "$N"
rm -rf "$N"

# symlinks planted where a directory and a file are to be restored are replaced, as tar
# does (with and without --delete), and what they point at is untouched
mkdir "$T/outside"
echo "keep" > "$T/outside/f"
P=$T/p
for opt in "" --delete; do
    rm -rf "$P"
    mkdir -p "$P$S"
    ln -s "$T/outside" "$P$S/d0755"
    ln -s "$T/outside/f" "$P$S/f0644"
    arca -r "$R" restore latest --target "$P" $opt || fail "restore $opt over planted symlinks failed"
    [ "$(cat "$T/outside/f")" = "keep" ] || fail "planted symlink ($opt): written through it"
    [ "$(ls "$T/outside")" = "f" ] || fail "planted symlink ($opt): entries made through it: $(ls "$T/outside")"
    [ -d "$P$S/d0755" ] && [ ! -L "$P$S/d0755" ] || fail "planted symlink ($opt): not replaced by the directory"
    [ -f "$P$S/f0644" ] && [ ! -L "$P$S/f0644" ] || fail "planted symlink ($opt): not replaced by the file"
    got=$(modes_of "$P$S")
    [ "$got" = "$want" ] || fail "over planted symlinks ($opt): modes differ: $(diff <(echo "$want") <(echo "$got"))"
done
pass
