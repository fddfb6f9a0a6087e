#!/bin/bash
# test.sh - the whole test suite, as CI runs it (.ci/run), from a clean checkout:
#   1. installs what is missing from Debian's packages (as root)
#   2. builds with -Wall -Wextra -Werror and runs the unit tests (cmocka, ctest)
#   3. starts a throwaway Ceph cluster (mon + osd, cephx) and a throwaway MariaDB
#      server, both on loopback; either failing to start fails the run
#   4. runs the backend conformance suite against the real cluster
#   5. runs every end-to-end test against a local repository, then against RADOS
#   6. builds with ASan + UBSan and runs the unit tests and the local end-to-end
#      tests again (leaks are errors)
#   7. builds the libFuzzer targets and runs each for a short time
#   8. makes a minimal Debian 12 root and runs scripts/quickstart.sh and the README's
#      Install section in a clone of this checkout there (scripts/fresh-root.sh: the
#      root is cached in /var/cache/arca-test for a week; apt in it needs the network)
# Any stage that fails fails the run.  ARCA_FUZZ_SECONDS (default 20) sets step 7.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
FUZZ_SECONDS=${ARCA_FUZZ_SECONDS:-20}
log() { printf '\n=== %s [%s]\n' "$*" "$(date +%T)"; }

log "dependencies"
scripts/deps.sh test

WORK=$(mktemp -d /tmp/arca-test.XXXXXX)
chmod 755 "$WORK"   # some tests run arca as an unprivileged user
export ARCA_TEST_TMP=$WORK
cleanup() {
    local rc=$?
    # a failed run says what state the cluster was in (a test that broke it, a daemon that died)
    if [ $rc -ne 0 ] && [ -f "$WORK/ceph/ceph.conf" ]; then
        echo "test.sh: the Ceph cluster at the failure:" >&2
        scripts/ceph-cluster.sh report "$WORK/ceph" >&2 || true
    fi
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
# Counts for the closing line, from ctest's and run.sh's own summaries.
passed=0
count() {   # count LOGFILE: add the "N passed" of a run.sh log or ctest's "out of N"
    local n
    n=$(sed -n 's/^\([a-z]*: \)\{0,1\}\([0-9]*\) passed, 0 failed$/\2/p; s/.*0 tests failed out of \([0-9]*\)$/\1/p' "$1" | tail -1)
    passed=$((passed + ${n:-0}))
}
run_logged() {   # run_logged NAME cmd...: run cmd, show and keep its output, count it
    local name=$1
    shift
    "$@" 2>&1 | tee "$WORK/$name.log"
    count "$WORK/$name.log"
}

log "build (-Wall -Wextra -Werror)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_BUILD_TESTS=ON
export ARCA=$ROOT/build/cli/arca

log "unit tests"
run_logged unit ctest --test-dir build --output-on-failure -j "$JOBS" -LE rados

log "Ceph cluster"
CEPH_QUIET=1 CEPH_CLIENT_TIMEOUT=60 scripts/ceph-cluster.sh start "$WORK/ceph" > "$WORK/ceph.env"
set -a; source "$WORK/ceph.env"; set +a
export ARCA_TEST_CEPH_DIR=$WORK/ceph ARCA_TEST_POOL=$CEPH_POOL
rados -p "$CEPH_POOL" put arca-probe /etc/hostname && rados -p "$CEPH_POOL" rm arca-probe

log "MariaDB server"
MARIADB_QUIET=1 scripts/mariadb-server.sh start "$WORK/mariadb" > "$WORK/mariadb.env"
set -a; source "$WORK/mariadb.env"; set +a
mariadb --defaults-file="$MYSQL_DEFAULTS_FILE" -N -e 'SELECT VERSION()'

log "backend conformance suite against the Ceph cluster"
run_logged backend-rados ctest --test-dir build --output-on-failure -L rados

log "end-to-end tests, local repository"
ARCA_TEST_BACKEND=local run_logged e2e-local tests/e2e/run.sh

log "end-to-end tests, RADOS repository"
ARCA_TEST_BACKEND=rados run_logged e2e-rados tests/e2e/run.sh

log "sanitizer build (ASan + UBSan)"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DBK_SANITIZE=ON -DBK_BUILD_TESTS=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_logged unit-asan ctest --test-dir build-asan --output-on-failure -j "$JOBS"
ARCA=$ROOT/build-asan/cli/arca ARCA_TEST_BACKEND=local run_logged e2e-asan tests/e2e/run.sh

log "fuzz targets (libFuzzer, ${FUZZ_SECONDS}s each)"
CC=clang build build-fuzz -DCMAKE_BUILD_TYPE=Debug -DBK_FUZZ=ON -DBK_BUILD_TESTS=OFF
run_logged fuzz tests/fuzz/run.sh build-fuzz "$FUZZ_SECONDS"

log "fresh Debian 12 root: scripts/quickstart.sh and the README's Install section"
t0=$SECONDS
scripts/fresh-root.sh
passed=$((passed + 1))
echo "fresh root: passed in $((SECONDS - t0)) s"

log "all tests passed"
echo "arca: $passed passed, 0 failed"
