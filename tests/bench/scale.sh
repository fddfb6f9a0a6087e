#!/bin/bash
# scale.sh - what a run costs once a repository is big: arca next to borg and restic.
# Not a test: it prints figures and ratios, asserts nothing.
#
#   tests/bench/scale.sh [--blobs N] [--simulate N] [--keep]
#
# Part 1, real blobs (default N = 1000000): N KiB of random data in 64 files, backed up
# by arca and borg with chunkers set to ~1 KiB chunks, so that both repositories hold
# about N blobs, and by restic, which cannot change its chunk size (~1 MiB): restic's
# column is the same data in ~N/1000 blobs, a lower bound for what restic would need.
# Then the runs a nightly job and an admin make, each a small change: back up after
# one file of 64 went and a small one came (twice), list the snapshots, restore one
# small file, forget the first snapshot and prune (1/64 of the data goes), check the
# metadata.  Figures: wall time, CPU time, peak RSS; the blob counts of each tool.
#
# Part 2, made-up index (default --simulate 10000000, 0 to skip): a small repository
# whose index gets N more entries, written as a backup writes them but listing packs
# that do not exist (build/tests/gen-index), so that the runs that consult the index
# can be measured at 10^8 blobs without the petabytes.  arca only: the first backup
# after the entries came (which makes the local index file), two small backups, a
# restore of one file, snapshots, and a dry-run prune (the prune that would free the
# made-up blobs: every one is unreferenced).
#
# Every tool runs with its default key derivation: the "open" row is the cost of
# opening a repository and listing nothing, the floor of every other row.
# Figures are wall-clock on a shared machine: compare ratios, and expect noise.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BLOBS=1000000
SIM=10000000
KEEP=
while [ $# -gt 0 ]; do
    case $1 in
        --blobs) BLOBS=$2; shift 2 ;;
        --simulate) SIM=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: scale.sh [--blobs N] [--simulate N] [--keep]" >&2; exit 2 ;;
    esac
done
case "$BLOBS$SIM" in
    *[!0-9]*) echo "scale.sh: --blobs and --simulate take a number" >&2; exit 2 ;;
esac

scripts/deps.sh bench
if [ -z "${ARCA:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_BUILD_TESTS=ON >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
    ARCA=$ROOT/build/cli/arca
    GEN_INDEX=${GEN_INDEX:-$ROOT/build/tests/gen-index}
fi
GEN_INDEX=${GEN_INDEX:-$(dirname "$ARCA")/../tests/gen-index}
if [ "$SIM" -gt 0 ] && [ ! -x "$GEN_INDEX" ]; then
    echo "scale.sh: no $GEN_INDEX (set GEN_INDEX, or build with -DBK_BUILD_TESTS=ON)" >&2
    exit 1
fi
W=$(mktemp -d /tmp/arca-scale.XXXXXX)
cleanup() { [ -n "$KEEP" ] || rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "scale: work dir $W" >&2
mkdir "$W/bin"
cp "$ARCA" "$W/bin/arca"
ARCA=$W/bin/arca
if [ "$SIM" -gt 0 ]; then
    cp "$GEN_INDEX" "$W/bin/gen-index"
    GEN_INDEX=$W/bin/gen-index
fi
echo "loadavg-start $(cut -d' ' -f1-3 /proc/loadavg)" > "$W/info"

export RESTIC_PASSWORD=bench-pass BORG_PASSPHRASE=bench-pass BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$W/borg-base RESTIC_CACHE_DIR=$W/restic-cache
printf 'bench-pass\n' > "$W/pass"
export ARCA_PASSWORD_FILE=$W/pass ARCA_CACHE_DIR=$W/arca-cache

# measure NAME CMD...: wall seconds, CPU seconds (user + system) and peak RSS (KiB) of a
# command into $W/results; its output into $W/NAME.out and .err.  The bench stops if
# it fails.
measure() {
    local name=$1
    shift
    if ! /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "$@" >"$W/$name.out" 2>"$W/$name.err"; then
        echo "scale: $name failed: $(grep -m1 '^Command' "$W/time.out" || true)" >&2
        tail -n 5 "$W/$name.err" >&2
        exit 1
    fi
    local secs user sys rss
    read -r secs user sys rss < <(tail -n 1 "$W/time.out")
    echo "$name $secs $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss" >> "$W/results"
}
random_file() { head -c "$2" /dev/urandom > "$1"; }

# ---- part 1: real blobs -------------------------------------------------------------------
D=$W/corpus/data
mkdir -p "$D"
per=$(( BLOBS * 1024 / 64 ))
for i in $(seq -w 0 63); do
    random_file "$D/f$i" "$per"
done
echo "corpus $(( BLOBS * 1024 )) bytes in 64 files" >> "$W/info"

# step TOOL: the same sequence of runs for each tool (cwd: the corpus' parent, so that
# every tool stores the path data/...)
small_change() {   # the change before backups 2 and 3
    rm -f "$D/f00"
    random_file "$D/new$1" 65536
}
reset_corpus() {
    [ -e "$D/f00" ] || random_file "$D/f00" "$per"
    rm -f "$D"/new*
}
cd "$W/corpus"

# arca: ~1 KiB chunks (min 512, max 4 KiB)
"$ARCA" -r "$W/arca" init -q --chunk-min 512 --chunk-avg 1K --chunk-max 4K
measure arca.open "$ARCA" -r "$W/arca" snapshots
measure arca.backup "$ARCA" -r "$W/arca" backup -q data
small_change 1
measure arca.backup2 "$ARCA" -r "$W/arca" backup -q data
small_change 2
measure arca.backup3 "$ARCA" -r "$W/arca" backup -q data
measure arca.snapshots "$ARCA" -r "$W/arca" snapshots
measure arca.restore1 "$ARCA" -r "$W/arca" restore latest --target "$W/arca-restore" \
    --include "$D/new2"
first=$("$ARCA" -r "$W/arca" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
measure arca.prune "$ARCA" -r "$W/arca" forget -q "$first" --prune
measure arca.check "$ARCA" -r "$W/arca" check -q
"$ARCA" -r "$W/arca" stats --json > "$W/arca.stats"
echo "arca-blobs $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["blobs"])' "$W/arca.stats")" >> "$W/info"
reset_corpus

# borg: buzhash with 512-byte minimum, 8 KiB maximum and a 9-bit mask: ~1 KiB chunks
borg init -e repokey-blake2 "$W/borg" >/dev/null 2>&1
measure borg.open borg list "$W/borg"
BC=(borg create --compression zstd,3 --chunker-params buzhash,9,13,9,4095)
measure borg.backup "${BC[@]}" "$W/borg::s1" data
small_change 1
measure borg.backup2 "${BC[@]}" "$W/borg::s2" data
small_change 2
measure borg.backup3 "${BC[@]}" "$W/borg::s3" data
measure borg.snapshots borg list "$W/borg"
mkdir -p "$W/borg-restore"
measure borg.restore1 bash -c "cd '$W/borg-restore' && borg extract '$W/borg::s3' data/new2"
measure borg.prune bash -c "borg delete '$W/borg::s1' && borg compact '$W/borg'"
measure borg.check borg check --archives-only "$W/borg"
borg info --json "$W/borg" > "$W/borg.info"
echo "borg-blobs $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cache"]["stats"]["total_unique_chunks"])' "$W/borg.info")" >> "$W/info"
reset_corpus

# restic: its own chunker (512 KiB - 8 MiB)
restic -r "$W/restic" init >/dev/null
measure restic.open restic -r "$W/restic" snapshots
measure restic.backup restic -r "$W/restic" backup -q data
small_change 1
measure restic.backup2 restic -r "$W/restic" backup -q data
small_change 2
measure restic.backup3 restic -r "$W/restic" backup -q data
measure restic.snapshots restic -r "$W/restic" snapshots
measure restic.restore1 restic -r "$W/restic" restore latest --target "$W/restic-restore" \
    --include "$D/new2"
first=$(restic -r "$W/restic" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
measure restic.prune restic -r "$W/restic" forget -q "$first" --prune
measure restic.check restic -r "$W/restic" check
echo "restic-blobs $(restic -r "$W/restic" stats --mode raw-data --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_blob_count"])')" >> "$W/info"
cd "$ROOT"
rm -rf "$W/corpus" "$W/arca-restore" "$W/borg-restore" "$W/restic-restore"

# ---- part 2: a made-up index of SIM blobs ---------------------------------------------------
if [ "$SIM" -gt 0 ]; then
    S=$W/sim
    mkdir -p "$S/data"
    for i in 1 2 3 4; do random_file "$S/data/f$i" 1048576; done
    "$ARCA" -r "$S/repo" init -q
    "$ARCA" -r "$S/repo" backup -q "$S/data"
    measure sim.gen "$GEN_INDEX" "$S/repo" "$SIM"
    echo "sim-index-bytes $(du -sb "$S/repo/index" | cut -f1)" >> "$W/info"
    random_file "$S/data/g1" 65536
    measure sim.backup1 "$ARCA" -r "$S/repo" backup -q "$S/data"
    echo "sim-map-bytes $(find "$W/arca-cache" -path "*/index.map" -printf '%s\n' | sort -n | tail -n 1)" >> "$W/info"
    random_file "$S/data/g2" 65536
    measure sim.backup2 "$ARCA" -r "$S/repo" backup -q "$S/data"
    random_file "$S/data/g3" 65536
    measure sim.backup3 "$ARCA" -r "$S/repo" backup -q "$S/data"
    measure sim.snapshots "$ARCA" -r "$S/repo" snapshots
    measure sim.restore1 "$ARCA" -r "$S/repo" restore latest --target "$S/restore" --include "$S/data/g3"
    cmp "$S/data/g3" "$S/restore$S/data/g3"
    measure sim.prune "$ARCA" -r "$S/repo" prune --dry-run --json
fi
echo "loadavg-end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$W/info"

# ---- report -------------------------------------------------------------------------------
python3 - "$W/results" "$W/info" "$(nproc)" "$SIM" <<'PY'
import math, sys
res, info = {}, {}
for line in open(sys.argv[1]):
    p = line.split()
    res[p[0]] = [float(x) for x in p[1:]]
for line in open(sys.argv[2]):
    k, _, v = line.rstrip('\n').partition(' ')
    info[k] = v
ncpu, sim = int(sys.argv[3]), int(sys.argv[4])
def g(key, i):
    v = res.get(key)
    return v[i] if v else float('nan')
def f(v, fmt):
    return '-' if math.isnan(v) else fmt.format(v)
def ratio(a, b):
    return '-' if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}"
steps = [("open", "open the repository"), ("backup", "initial backup"),
         ("backup2", "backup, small change"), ("backup3", "backup, small change again"),
         ("snapshots", "list snapshots"), ("restore1", "restore one 64 KiB file"),
         ("prune", "forget 1 snapshot + prune"), ("check", "check (metadata)")]
print(f"\n{int(info['corpus'].split()[0]) >> 20} MiB of random data; blobs: arca {info.get('arca-blobs', '?')}, "
      f"borg {info.get('borg-blobs', '?')}, restic {info.get('restic-blobs', '?')} "
      f"({ncpu} CPUs, load {info.get('loadavg-start', '?')} at start, {info.get('loadavg-end', '?')} at end)")
for what, i, fmt, unit, scale in (("wall time", 0, "{:.2f}", "s", 1), ("CPU time", 1, "{:.2f}", "s", 1),
                                   ("peak RSS", 2, "{:.0f}", "MiB", 1 / 1024)):
    print(f"\n{what + ' (' + unit + ')':30} {'arca':>9} {'borg':>9} {'restic':>9} {'arca/borg':>10} {'arca/restic':>12}")
    for key, label in steps:
        a, b, r = (g(f"{t}.{key}", i) * scale for t in ("arca", "borg", "restic"))
        print(f"{label:30} {f(a, fmt):>9} {f(b, fmt):>9} {f(r, fmt):>9} {ratio(a, b):>10} {ratio(a, r):>12}")
print(f"\n{'peak RSS above open (MiB)':30} {'arca':>9} {'borg':>9} {'restic':>9}")
for key, label in steps[1:]:
    a, b, r = ((g(f"{t}.{key}", 2) - g(f"{t}.open", 2)) / 1024 for t in ("arca", "borg", "restic"))
    print(f"{label:30} {f(a, '{:.0f}'):>9} {f(b, '{:.0f}'):>9} {f(r, '{:.0f}'):>9}")
print("\nrestic holds ~1/1000 of the blobs: its column is a lower bound for restic at this blob count.")
if sim:
    print(f"\nmade-up index: {sim} blobs more ({int(info['sim-index-bytes']) >> 20} MiB of index objects, "
          f"a local index file of {int(info.get('sim-map-bytes') or 0) >> 20} MiB)")
    print(f"{'':40} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8}")
    for key, label in (("gen", "gen-index (writes the entries)"),
                       ("backup1", "first backup (makes the index file)"),
                       ("backup2", "backup, small change"), ("backup3", "backup, small change again"),
                       ("snapshots", "list snapshots"), ("restore1", "restore one 64 KiB file"),
                       ("prune", "prune --dry-run (all made-up blobs go)")):
        k = f"sim.{key}"
        print(f"{label:40} {f(g(k, 0), '{:.2f}'):>8} {f(g(k, 1), '{:.2f}'):>8} {f(g(k, 2) / 1024, '{:.0f}'):>8}")
    print(f"{'open (no index; the KDF is most of it)':40} {f(g('arca.open', 0), '{:.2f}'):>8} {f(g('arca.open', 1), '{:.2f}'):>8} "
          f"{f(g('arca.open', 2) / 1024, '{:.0f}'):>8}")
PY
