#!/bin/bash
# fresh-root.sh - what a new user does on a fresh Debian 12 machine, as root, from a
# clone in /root: run it in a minimal Debian 12 root (mmdebstrap --variant=apt
# --include=git,ca-certificates bookworm) made for this run.
#
#   scripts/fresh-root.sh               scripts/quickstart.sh, then every line of the
#                                       README's Install section
#   scripts/fresh-root.sh CMD [ARG...]  CMD instead (e.g. scripts/test.sh)
#
# The committed HEAD of this checkout (not what is uncommitted) is cloned into
# ROOT/root/arca, and CMD runs there, as root, through chroot in private mount and PID
# namespaces (unshare): /proc, /sys, /dev, /dev/shm and /run are mounted for it alone,
# every process it leaves behind is killed when it ends, and nothing stays mounted.
# apt inside the root reaches the Debian mirror through the host's resolv.conf.
# The root comes from a tarball cached in ARCA_ROOT_CACHE (default
# /var/cache/arca-test), made again when a week old.  It is unpacked under
# ARCA_TEST_TMP (default /var/tmp) and removed afterwards, unless the command failed or
# ARCA_KEEP=1.  Needs root, mmdebstrap, unshare, chroot and git on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
SUITE=bookworm

die() { echo "fresh-root.sh: $*" >&2; exit 1; }

# The README's Install section, line by line, from a new directory: the one
# substitution is the clone's URL (the placeholder URL), here this clone.  Then arca
# must be on PATH and its man page where man finds it.  Runs inside the root.
install_section() {
    local readme=$SRC/README.md block
    block=$(awk '/^## /{s = ($0 == "## Install")} s && /^```/{if (c) exit; c = 1; next} s && c' "$readme")
    case $block in
        *"git clone URL arca && cd arca"*) ;;
        *) die "README.md: no 'git clone URL arca && cd arca' line in the Install block" ;;
    esac
    block=${block//"git clone URL arca"/"git clone $SRC arca"}
    local dir
    dir=$(mktemp -d /root/install.XXXXXX)
    echo "+ the README's Install section, in $dir:"
    printf '%s\n' "$block"
    (cd "$dir" && bash -euxo pipefail -c "$block")
    [ "$(command -v arca)" = /usr/local/bin/arca ] || die "arca is not /usr/local/bin/arca: $(command -v arca || echo none)"
    arca version
    DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends man-db >/dev/null
    local page
    page=$(man -w arca) || die "man does not find arca's page"
    echo "man arca: $page"
    rm -rf "$dir"
}
if [ "${1:-}" = --install-section ]; then
    install_section
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (it makes a root file system and chroots into it)"
for t in mmdebstrap unshare chroot git; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/deps.sh test installs it)"
done
[ $# -gt 0 ] || set -- bash -c 'scripts/quickstart.sh && scripts/fresh-root.sh --install-section'

# the tarball, made again when missing or older than a week
CACHE=${ARCA_ROOT_CACHE:-/var/cache/arca-test}
TARBALL=$CACHE/$SUITE-apt.tar
mkdir -p "$CACHE"
exec 9> "$CACHE/lock"
flock 9
if [ -z "$(find "$TARBALL" -mtime -7 2>/dev/null)" ]; then
    echo "fresh-root.sh: making $TARBALL" >&2
    mmdebstrap --quiet --format=tar --variant=apt --include=git,ca-certificates \
        "$SUITE" "$CACHE/new.tar" || die "mmdebstrap failed"
    mv -f "$CACHE/new.tar" "$TARBALL"
fi

ROOT=$(mktemp -d "${ARCA_TEST_TMP:-/var/tmp}/arca-root.XXXXXX")
chmod 755 "$ROOT"   # the root directory of a real system: others can traverse it
mounted_under() { awk -v r="$ROOT" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo; }
remove_root() {
    local rc=$? left
    left=$(mounted_under)
    if [ -n "$left" ]; then
        echo "fresh-root.sh: still mounted, $ROOT not removed: $left" >&2
    elif [ $rc -eq 0 ] && [ -z "${ARCA_KEEP:-}" ]; then
        rm -rf --one-file-system "$ROOT"
    else
        echo "fresh-root.sh: root kept in $ROOT" >&2
    fi
    return $rc
}
trap remove_root EXIT
tar -C "$ROOT" -xf "$TARBALL"
exec 9>&-
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

[ -z "$(git status --porcelain --untracked-files=no)" ] ||
    echo "fresh-root.sh: uncommitted changes are not in the root (it gets HEAD)" >&2
head=$(git rev-parse HEAD)
git clone -q --no-checkout "$SRC" "$ROOT/root/arca"
git -C "$ROOT/root/arca" checkout -q --detach "$head"
echo "fresh-root.sh: $(git log -1 --format='%h %s' "$head") in $ROOT/root/arca" >&2

# In private mount and PID namespaces: the mounts are this run's alone and go with it,
# and when the shell below (PID 1 there) ends, every process left in the root is killed.
unshare --mount --pid --fork --propagation private -- bash -euc '
    r=$1
    shift
    mount --bind "$r" "$r"   # / a mount point, as on a machine (unshare in it needs that)
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
    mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$r/run"
    chroot "$r" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
        /bin/bash -lc "cd /root/arca && \"\$@\"" bash "$@" </dev/null
' bash "$ROOT" "$@"
