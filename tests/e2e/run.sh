#!/bin/bash
# run.sh [TEST...]: run the end-to-end tests against the backend in ARCA_TEST_BACKEND
# (local or rados): by default every test-*.sh, and the test-rados-*.sh ones (Ceph
# faults) only on rados.  Prints one line per test, then "N passed, N failed"; fails if
# any failed.
set -uo pipefail
cd "$(dirname "$0")"
backend=${ARCA_TEST_BACKEND:-local}
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    for t in test-*.sh; do
        case $t in
            test-rados-*) [ "$backend" = rados ] && tests+=("$t") ;;
            *) tests+=("$t") ;;
        esac
    done
fi
failed=()
for t in "${tests[@]}"; do
    if ! bash "$t"; then
        failed+=("$t")
    fi
done
echo "$backend: $(( ${#tests[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED ($backend): ${failed[*]}" >&2
    exit 1
fi
