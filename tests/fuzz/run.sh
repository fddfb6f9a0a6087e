#!/bin/bash
# run.sh BUILD_DIR SECONDS: run every fuzz target of BUILD_DIR (configured with CC=clang
# -DBK_FUZZ=ON) for SECONDS each, on a scratch copy of its seed corpus under
# tests/fuzz/corpus/<target>/ (the seeds in the tree are never changed).  Fails if a target
# crashes, leaks, hits undefined behaviour or times out; the reproducer is kept and named.
set -uo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
secs=$2
here=$(cd "$(dirname "$0")" && pwd)
bindir=$build/tests/fuzz
shopt -s nullglob
targets=("$here"/corpus/*/)
if [ ${#targets[@]} -eq 0 ]; then
    echo "run.sh: no corpora under $here/corpus" >&2
    exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/arca-fuzz.XXXXXX")
failed=()
passed=0
for dir in "${targets[@]}"; do
    t=$(basename "$dir")
    bin=$bindir/fuzz-$t
    if [ ! -x "$bin" ]; then
        echo "FAIL fuzz-$t: $bin not built" >&2
        failed+=("$t")
        continue
    fi
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    cp -- "$dir"/* "$work/$t/corpus/"
    # -timeout: one input taking longer is a hang; -rss_limit_mb: a runaway allocation
    if TZ=UTC ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 \
        "$work/$t/corpus" > "$work/$t/log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t/log" | grep -o '[0-9]*$')
        echo "ok   fuzz-$t: ${runs:-?} runs in ${secs}s"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz-$t (log: $work/$t/log)" >&2
        grep -m 20 -E 'ERROR|SUMMARY|runtime error|Test unit written' "$work/$t/log" >&2
        for a in "$work/$t/artifacts"/*; do
            echo "     reproduce: $bin $a" >&2
        done
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "$passed passed, ${#failed[@]} failed" >&2
    echo "fuzzing failed: ${failed[*]} (work directory $work kept)" >&2
    exit 1
fi
rm -rf "$work"
echo "$passed passed, 0 failed"
