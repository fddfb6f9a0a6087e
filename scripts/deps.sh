#!/bin/bash
# deps.sh - install what arca needs from Debian's packages, only what is missing.
#   scripts/deps.sh build     compiler, CMake and the libraries
#   scripts/deps.sh test      also the test servers and tools (Ceph, MariaDB, clang, ...)
#   scripts/deps.sh bench     also restic and borg for the benchmark
set -euo pipefail

build_pkgs="build-essential cmake pkg-config libsodium-dev libssl-dev libzstd-dev
            libarchive-dev libjansson-dev librados-dev"
# test tools: attr, acl and e2fsprogs (setfattr, setfacl, chattr) make fixtures, mount
# and util-linux (unshare, setpriv, flock) isolate and drop privileges, man-db and
# groff-base check the man page; git, mmdebstrap and mount make the fresh Debian root
# of scripts/fresh-root.sh; prometheus gives promtool, which checks the metrics file
test_pkgs="libcmocka-dev ceph-mon ceph-osd ceph-common mariadb-server mariadb-client mariadb-backup
           clang libfuzzer-14-dev libclang-rt-14-dev attr acl e2fsprogs ansible-core python3
           procps util-linux mount man-db groff-base git mmdebstrap prometheus time"
bench_pkgs="restic borgbackup time"

want=$build_pkgs
case "${1:-build}" in
    build) ;;
    test) want="$want $test_pkgs" ;;
    bench) want="$want $test_pkgs $bench_pkgs" ;;
    *) echo "usage: deps.sh build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != 'install ok installed' ]; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=900 -q)
apt-get "${apt_opts[@]}" update >/dev/null
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
