#!/bin/bash
# Every file type and every piece of metadata comes back as it was: sparse files at block
# granularity (st_blocks, on ext4 and on tmpfs), Unix sockets as sockets (and dump leaves
# them out of a tar with a warning, writing the rest), file flags (chattr +i +a +d +A on
# files, directories and hard links, also over an existing immutable tree), owners by name
# or with --numeric-ids by the stored ids (ACL entries too), trusted.* and security.*
# xattrs on files, directories and symlinks, long and non-UTF-8 symlink targets, paths
# longer than PATH_MAX.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (chattr +i, owners, trusted.* xattrs, tmpfs)"
MNT=$T/tmpfs
fixup() {
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    chattr -R -i -a "$T" >/dev/null 2>&1 || true
    return 0
}
trap 'rc=$?; fixup; (exit $rc); cleanup' EXIT

R=$(new_repo repo)
arca_init "$R" >/dev/null
S=$T/src
mkdir -p "$S"

# ---- the tree ---------------------------------------------------------------------------
# sparse: 4 KiB of data in 4 MiB; a few bytes in the middle of a block and at the end; no
# data at all; data then a long hole to the end
truncate -s 4M "$S/sparse-4m"
head -c 4096 /dev/urandom | dd of="$S/sparse-4m" bs=4096 seek=256 conv=notrunc status=none
truncate -s $((3 << 20)) "$S/sparse-odd"
printf 'a hundred bytes or so, somewhere in the second block of the file...........' |
    dd of="$S/sparse-odd" bs=1 seek=5000 conv=notrunc status=none
printf 'the end!!!' | dd of="$S/sparse-odd" bs=1 seek=$(((3 << 20) - 10)) conv=notrunc status=none
truncate -s 10M "$S/sparse-none"
head -c 4096 /dev/urandom > "$S/sparse-tail"
truncate -s 8M "$S/sparse-tail"

# sockets (made by binding), next to other names, and other special files
mkdir -p "$S/sockdir"
echo before > "$S/sockdir/a-file"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$S/sockdir/m-sock"
echo after > "$S/sockdir/z-file"
chmod 0750 "$S/sockdir/m-sock"
mkfifo "$S/fifo"
mknod "$S/chardev" c 1 3

# file flags: files, directories (with content), a hard-linked pair
mkdir -p "$S/flags/dir-i" "$S/flags/dir-a" "$S/flags/dir-d" "$S/flags/dir-A"
for f in i a d A; do
    echo "$f" > "$S/flags/file-$f"
    echo "in $f" > "$S/flags/dir-$f/child"
done
echo both > "$S/flags/file-dA"
echo linked > "$S/flags/hl1"
ln "$S/flags/hl1" "$S/flags/hl2"
for f in i a d A; do chattr "+$f" "$S/flags/file-$f" "$S/flags/dir-$f"; done
chattr +d +A "$S/flags/file-dA"
chattr +i "$S/flags/hl1"

# owners: uid/gid 4242 is "daemon" while the backup runs (a private /etc/passwd and
# /etc/group), daemon is 1:1 here; 5555 has no name anywhere
mkdir -p "$S/owners"
echo x > "$S/owners/named"
echo y > "$S/owners/nameless"
echo z > "$S/owners/acl"
chown 4242:4242 "$S/owners/named"
chown 5555:5555 "$S/owners/nameless"
setfacl -m u:4242:rw,g:4242:r "$S/owners/acl"
sed 's/^daemon:x:1:1:/daemon:x:4242:4242:/' /etc/passwd > "$T/passwd"
sed 's/^daemon:x:1:/daemon:x:4242:/' /etc/group > "$T/group"
grep -q '^daemon:x:4242:4242:' "$T/passwd" && grep -q '^daemon:x:4242:' "$T/group" ||
    fail "cannot make a passwd with daemon as 4242"
[ "$(id -u daemon)" = 1 ] && [ "$(getent group daemon | cut -d: -f3)" = 1 ] ||
    fail "this test expects daemon to be 1:1 here"

# xattrs in every namespace a root can write, on a file, a directory, a symlink
mkdir -p "$S/x/dir"
echo data > "$S/x/file"
ln -s file "$S/x/link"
for p in "$S/x/file" "$S/x/dir" "$S/x/link"; do
    setfattr -h -n trusted.arca -v "trusted of ${p##*/}" "$p"
    setfattr -h -n security.arca -v "security of ${p##*/}" "$p"
done
setfattr -n user.arca -v "user of the dir" "$S/x/dir"
setfacl -m u:1234:rwx "$S/x/dir"
setfacl -d -m u:1234:rx,g::r "$S/x/dir"
# symlinks: a long target, a non-UTF-8 one
ln -s "$(printf 'long/%.0s' $(seq 1 700))end" "$S/x/long-link"
ln -s "$(printf 'caf\xe9/\x01')" "$S/x/odd-link"
# modes
echo s > "$S/x/setuid"; chmod 4755 "$S/x/setuid"
mkdir "$S/x/sgid-dir"; chmod 2775 "$S/x/sgid-dir"; echo in > "$S/x/sgid-dir/f"
mkdir "$S/x/ro-dir"; echo in > "$S/x/ro-dir/f"; chmod 0555 "$S/x/ro-dir"

# a path longer than PATH_MAX: 20 names of 250 bytes
python3 - "$S/long" <<'PY'
import os, sys
os.mkdir(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(20):
    name = chr(ord('a') + i) * 250
    os.mkdir(name, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open('deep-file', os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd)
os.write(f, b'at the bottom\n')
os.close(f)
PY

unshare -m bash -c 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group &&
                    exec "$3" -r "$4" backup "$5" -q' - "$T/passwd" "$T/group" "$ARCA" "$R" "$S" ||
    fail "backup failed"

# ls --json shows the flags and the stored owner names
arca -r "$R" --json ls latest "$S/flags" > "$T/ls.json"
got=$(json_get "$T/ls.json" '" ".join(sorted(e["path"].rsplit("/", 1)[1] + "=" + e["flags"] for e in j))')
[ "$got" = "dir-A=A dir-a=a dir-d=d dir-i=i file-A=A file-a=a file-d=d file-dA=dA file-i=i flags= hl1=i hl2=i" ] ||
    fail "ls --json: flags: $got"
arca -r "$R" --json ls latest "$S/owners/named" > "$T/ls-owner.json"
[ "$(json_get "$T/ls-owner.json" '(j[0]["user"], j[0]["uid"], j[0]["group"], j[0]["gid"])')" = \
  "('daemon', 4242, 'daemon', 4242)" ] || fail "ls: owner: $(cat "$T/ls-owner.json")"

# ---- restore --------------------------------------------------------------------------------
arca -r "$R" --json restore latest --target "$T/r" --verify > "$T/r.json" ||
    fail "restore failed: $(cat "$T/r.json")"
D=$T/r$S
compare_trees "$S" "$D" --ignore owners --ignore long

# sparse: block granularity
blocks() { stat -c %b "$1"; }
check_sparse() {   # check_sparse DIR
    local b
    b=$(blocks "$1/sparse-4m"); [ "$b" -le 16 ] || fail "$1/sparse-4m: $b blocks allocated for 4 KiB of data"
    b=$(blocks "$1/sparse-odd"); [ "$b" -le 24 ] || fail "$1/sparse-odd: $b blocks allocated for 2 blocks of data"
    b=$(blocks "$1/sparse-none"); [ "$b" -le 8 ] || fail "$1/sparse-none: $b blocks allocated for no data"
    b=$(blocks "$1/sparse-tail"); [ "$b" -le 16 ] || fail "$1/sparse-tail: $b blocks allocated for 4 KiB of data"
    [ "$(stat -c %s "$1/sparse-tail")" = $((8 << 20)) ] || fail "$1/sparse-tail: wrong size"
    for f in sparse-4m sparse-odd sparse-none sparse-tail; do
        cmp -s "$S/$f" "$1/$f" || fail "$1/$f differs"
    done
}
check_sparse "$D"

# sockets and the other special files
[ -S "$D/sockdir/m-sock" ] || fail "the socket did not come back as a socket: $(stat -c %F "$D/sockdir/m-sock")"
[ "$(stat -c %a "$D/sockdir/m-sock")" = 750 ] || fail "socket mode: $(stat -c %a "$D/sockdir/m-sock")"
[ -p "$D/fifo" ] && [ -c "$D/chardev" ] || fail "fifo or device node lost"

# file flags
flags() { lsattr -d "$1" | awk '{print $1}' | tr -cd 'suSDiadAcjtTCm'; }
for p in file-i file-a file-d file-A file-dA dir-i dir-a dir-d dir-A hl1 hl2 dir-i/child; do
    [ "$(flags "$D/flags/$p")" = "$(flags "$S/flags/$p")" ] ||
        fail "flags/$p: '$(flags "$D/flags/$p")', expected '$(flags "$S/flags/$p")'"
done
[ "$(stat -c %i "$D/flags/hl1")" = "$(stat -c %i "$D/flags/hl2")" ] || fail "hard links with +i lost"

# owners: by name (daemon is 1 here), unknown names and no names keep the stored ids
[ "$(stat -c %u:%g "$D/owners/named")" = 1:1 ] || fail "owner by name: $(stat -c %u:%g "$D/owners/named")"
[ "$(stat -c %u:%g "$D/owners/nameless")" = 5555:5555 ] || fail "owner without a name: $(stat -c %u:%g "$D/owners/nameless")"
getfacl -n "$D/owners/acl" > "$T/acl.txt" 2>/dev/null
grep -qx 'user:1:rw-' "$T/acl.txt" || fail "ACL entry not mapped by name: $(cat "$T/acl.txt")"

# a restore over it has nothing to do: owners compare as they were restored
arca -r "$R" --json restore latest --target "$T/r" > "$T/again.json"
[ "$(json_get "$T/again.json" 'j["changed"] == False and j["files_restored"] == 0')" = True ] ||
    fail "restore over itself changed something: $(cat "$T/again.json")"

# default ACLs the snapshot does not have, on the target and on a directory restored
# before: what is written there does not keep what it inherits, the directory loses it
mkdir "$T/acl-target"
setfacl -d -m u:1234:rwx "$T/acl-target"
arca -r "$R" restore latest --target "$T/acl-target" --include "$S/sockdir" -q
compare_trees "$S/sockdir" "$T/acl-target$S/sockdir"
setfacl -d -m u:1234:rwx "$D/sockdir"
rm "$D/sockdir/a-file"
arca -r "$R" restore latest --target "$T/r" -q
compare_trees "$S/sockdir" "$D/sockdir"

# --numeric-ids: the stored ids, into a new target and over the tree restored by name
for t in rn r; do
    arca -r "$R" --json restore latest --target "$T/$t" --numeric-ids > "$T/num.json" ||
        fail "--numeric-ids restore into $t failed: $(cat "$T/num.json")"
    [ "$(stat -c %u:%g "$T/$t$S/owners/named")" = 4242:4242 ] ||
        fail "--numeric-ids ($t): owner $(stat -c %u:%g "$T/$t$S/owners/named")"
    [ "$(stat -c %u:%g "$T/$t$S/owners/nameless")" = 5555:5555 ] || fail "--numeric-ids ($t): nameless owner"
done
# (over the tree restored by name, the file with the ACL is left alone: an ACL alone is
# not compared, as docs/restore.md says)
getfacl -n "$T/rn$S/owners/acl" > "$T/acl.txt" 2>/dev/null
grep -qx 'user:4242:rw-' "$T/acl.txt" || fail "--numeric-ids: ACL: $(cat "$T/acl.txt")"
compare_trees "$S/owners" "$T/rn$S/owners"

# the path longer than PATH_MAX, and the symlinks' xattrs (on the links, not their targets)
python3 - "$D/long" <<'PY' || fail "the deep file is not there"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(20):
    nfd = os.open(chr(ord('a') + i) * 250, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open('deep-file', os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
assert os.read(f, 100) == b'at the bottom\n'
assert os.stat(f).st_mode & 0o7777 == 0o640
PY
[ "$(getfattr -h --only-values -n trusted.arca "$D/x/link")" = "trusted of link" ] || fail "trusted.* on a symlink lost"
[ "$(getfattr --only-values -n trusted.arca "$D/x/file")" = "trusted of file" ] || fail "trusted.* on the link's target changed"

# into a tmpfs: sparse there too
mkdir -p "$MNT"
mount -t tmpfs -o size=64m tmpfs "$MNT"
arca -r "$R" restore latest --target "$MNT/r" --include "$S/sparse-*" --verify -q || fail "restore into tmpfs failed"
check_sparse "$MNT/r$S"
umount "$MNT"

# over an existing immutable tree: a new version of an immutable file, a new file in an
# immutable directory, flags changed (on a changed file, on a directory: the flags of a file
# that is otherwise unchanged are not compared, as its xattrs); as root it works, and the
# flags are the snapshot's
chattr -i "$S/flags/file-i" "$S/flags/dir-i"
echo "version 2" > "$S/flags/file-i"
echo new > "$S/flags/dir-i/new"
chattr +i "$S/flags/file-i" "$S/flags/dir-i"
chattr -A "$S/flags/file-A" "$S/flags/dir-A"
echo more >> "$S/flags/file-A"
chattr +i "$S/flags/dir-d"
arca -r "$R" backup "$S" -q
arca -r "$R" --json restore latest --target "$T/r" --verify > "$T/over.json" ||
    fail "restore over an immutable tree failed: $(cat "$T/over.json")"
[ "$(cat "$D/flags/file-i")" = "version 2" ] || fail "the immutable file was not replaced"
[ "$(cat "$D/flags/dir-i/new")" = new ] || fail "no new file in the immutable directory"
for p in file-i file-A dir-i dir-i/new dir-A dir-d; do
    [ "$(flags "$D/flags/$p")" = "$(flags "$S/flags/$p")" ] ||
        fail "over an existing tree: flags/$p: '$(flags "$D/flags/$p")', expected '$(flags "$S/flags/$p")'"
done

# --delete removes what the snapshot does not have, immutable or not
echo stray > "$D/flags/stray"
mkdir "$D/flags/stray-dir"
echo stray > "$D/flags/stray-dir/f"
chattr +i "$D/flags/stray" "$D/flags/stray-dir/f"
chattr +a "$D/flags/stray-dir"
arca -r "$R" --json restore latest --target "$T/r" --delete > "$T/del.json" ||
    fail "restore --delete over immutable strays failed: $(cat "$T/del.json")"
[ ! -e "$D/flags/stray" ] && [ ! -e "$D/flags/stray-dir" ] || fail "--delete left immutable entries"

# dump: the socket is left out with a warning, the rest of the directory is there
rc=0
arca -r "$R" dump latest "$S/sockdir" > "$T/sock.tar" 2> "$T/dump.err" || rc=$?
[ "$rc" -eq 0 ] || fail "dump of a directory with a socket exited $rc: $(cat "$T/dump.err")"
grep -q 'm-sock.*socket' "$T/dump.err" || fail "dump does not warn about the socket: $(cat "$T/dump.err")"
tar -tf "$T/sock.tar" > "$T/sock.list"
grep -qx 'sockdir/z-file' "$T/sock.list" || fail "dump stopped at the socket: $(cat "$T/sock.list")"
grep -q 'm-sock' "$T/sock.list" && fail "the socket is in the tar"
pass
