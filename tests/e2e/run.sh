#!/bin/bash
# run.sh [TEST...]: run the end-to-end tests (all test-*.sh by default) against the
# backend in ARCA_TEST_BACKEND; prints one line per test and fails if any failed.
set -uo pipefail
cd "$(dirname "$0")"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test-*.sh)
failed=()
for t in "${tests[@]}"; do
    if ! bash "$t"; then
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED (${ARCA_TEST_BACKEND:-local}): ${failed[*]}" >&2
    exit 1
fi
echo "all ${#tests[@]} end-to-end tests passed (${ARCA_TEST_BACKEND:-local})"
