#!/bin/bash
# quickstart.sh - the README's first command: install what is missing (Debian 12, as
# root), build arca, then run the main job once: back up a directory into a new local
# repository, restore it, and compare the restored tree with the original.
#
#   scripts/quickstart.sh [DIR]     DIR to back up (default /etc)
#
# The repository, its passphrase file and the restored copy go to a scratch directory
# that is removed afterwards, unless ARCA_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(realpath "${1:-/etc}")

scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
ARCA=$PWD/build/cli/arca

W=$(mktemp -d /tmp/arca-quickstart.XXXXXX)
[ -n "${ARCA_KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
export ARCA_REPOSITORY=$W/repo ARCA_PASSWORD_FILE=$W/passphrase
export ARCA_CACHE_DIR=$W/cache
head -c 24 /dev/urandom | base64 > "$ARCA_PASSWORD_FILE"
chmod 600 "$ARCA_PASSWORD_FILE"

echo "+ arca init"
"$ARCA" init
echo "+ arca backup $SRC --tag quickstart"
rc=0
"$ARCA" backup "$SRC" --tag quickstart || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || exit "$rc"   # 3: some files were unreadable, reported above
echo "+ arca backup $SRC --tag quickstart   (again: unchanged files are not read)"
"$ARCA" backup "$SRC" --tag quickstart || [ $? -eq 3 ]
echo "+ arca snapshots"
"$ARCA" snapshots
echo "+ arca restore latest --target $W/restore"
"$ARCA" restore latest --target "$W/restore"
echo "+ arca check --read-data"
"$ARCA" check --read-data
echo "+ diff -r $SRC $W/restore$SRC"
if diff -r --no-dereference "$SRC" "$W/restore$SRC" > "$W/diff.txt" 2>&1; then
    echo "restored tree is identical to $SRC"
else
    # files that changed while we ran (or that arca could not read) differ: show them
    echo "differences (files changed during the run, or unreadable):"
    head -20 "$W/diff.txt"
fi
[ -z "${ARCA_KEEP:-}" ] || echo "repository kept in $ARCA_REPOSITORY (passphrase in $ARCA_PASSWORD_FILE)"
