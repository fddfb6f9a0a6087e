#!/bin/bash
# scale.sh - what a run costs once a repository is big: arca next to borg and restic.
# Not a test: it prints figures and ratios, asserts nothing.
#
#   tests/bench/scale.sh [--blobs N] [--big N] [--simulate N] [--snapshots N] [--flat] [--keep]
#
# Part 1, real blobs (--blobs, default 1000000; 0 skips parts 1 and --big): N KiB of random data in 64 files, each in
# a directory of its own (--flat: all 64 in one directory, whose tree then lists every
# chunk of them: docs/scale.md, limits), backed
# up by arca and borg with chunkers set to ~1 KiB chunks, so that both repositories hold
# about N blobs, and by restic, which cannot change its chunk size (~1 MiB): restic's
# column is the same data in ~N/1000 blobs, a lower bound for what restic would need.
# Then the runs a nightly job and an admin make, each a small change: back up after
# one file of 64 went and a small one came (twice), back up one new 4 KiB file (a path
# of its own), list the snapshots, restore one small file, forget the first snapshot and prune (1/64 of the data goes), check the
# metadata.  Figures: wall time, CPU time, peak RSS; the blob counts of each tool.
# --big (default 4 x --blobs, 0 to skip): the same runs, arca alone, at about that many
# blobs (the corpus sized by the bytes per blob that part 1 found).
#
# Part 2, made-up index (--simulate, default 10000000, 0 to skip): a small repository
# whose index gets N more entries, written as a backup writes them but listing packs
# that do not exist (build/tests/gen-index), so that the runs that consult the index
# can be measured at 10^8 blobs without the petabytes: the first backup after the
# entries came (which makes the local index file), two small backups, a restore of one
# file, snapshots, a dry-run prune and a real one (every made-up blob is unreferenced,
# so the prune drops them all), and check in between (which reports the missing packs,
# exit 1: measured for its memory).
#
# Part 3, many snapshots (--snapshots, default 100000, 0 to skip): one-file backups
# into a repository of 100 snapshots and into one of N (copies of one, from other
# hosts, as in a shared repository): the first backup after they came, the next, and two
# without their parent hint (the cache's parents/ removed: the parent is picked from the
# listing of every snapshot, the first time decrypting each, the second from the
# summaries in the cache).
#
# arca's repositories are made with the key derivation of the test suite (--kdf-memory
# 8M --kdf-ops 1; the default costs 32 MiB and 0.1 s more at every open); borg and
# restic use theirs.  The "open" row is each tool's floor: open the repository, list
# nothing.  Figures are wall-clock on a shared machine: compare ratios, expect noise.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BLOBS=1000000
BIG=
SIM=10000000
NSNAP=100000
KEEP=
FLAT=
while [ $# -gt 0 ]; do
    case $1 in
        --blobs) BLOBS=$2; shift 2 ;;
        --big) BIG=$2; shift 2 ;;
        --simulate) SIM=$2; shift 2 ;;
        --snapshots) NSNAP=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --flat) FLAT=1; shift ;;
        *) echo "usage: scale.sh [--blobs N] [--big N] [--simulate N] [--snapshots N] [--flat] [--keep]" >&2
           exit 2 ;;
    esac
done
BIG=${BIG:-$(( BLOBS * 4 ))}
[ "$BLOBS" != 0 ] || BIG=0
case "$BLOBS$BIG$SIM$NSNAP" in
    ''|*[!0-9]*) echo "scale.sh: --blobs, --big, --simulate and --snapshots take a number" >&2; exit 2 ;;
esac

scripts/deps.sh bench
if [ -z "${ARCA:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_BUILD_TESTS=ON >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
    ARCA=$ROOT/build/cli/arca
    GEN_INDEX=${GEN_INDEX:-$ROOT/build/tests/gen-index}
fi
GEN_INDEX=${GEN_INDEX:-$(dirname "$ARCA")/../tests/gen-index}
if [ $(( SIM + NSNAP )) -gt 0 ] && [ ! -x "$GEN_INDEX" ]; then
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
if [ $(( SIM + NSNAP )) -gt 0 ]; then
    cp "$GEN_INDEX" "$W/bin/gen-index"
    GEN_INDEX=$W/bin/gen-index
fi
echo "loadavg-start $(cut -d' ' -f1-3 /proc/loadavg)" > "$W/info"

export RESTIC_PASSWORD=bench-pass BORG_PASSPHRASE=bench-pass BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$W/borg-base RESTIC_CACHE_DIR=$W/restic-cache
printf 'bench-pass\n' > "$W/pass"
export ARCA_PASSWORD_FILE=$W/pass ARCA_CACHE_DIR=$W/arca-cache
KDF=(--kdf-memory 8M --kdf-ops 1)

# measure NAME CMD...: wall seconds, CPU seconds (user + system), peak RSS (KiB) and peak
# anonymous RSS (KiB, sampled every 20 ms: RSS less the pages of mapped files, such as
# arca's index file, which are page cache) of a command into $W/results; its output into
# $W/NAME.out and .err.  The bench stops if it exits with another status than $EXPECT
# (default 0).
measure() {
    local name=$1 rc=0 tp child= anon=0 a
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "$@" >"$W/$name.out" 2>"$W/$name.err" &
    tp=$!
    while kill -0 "$tp" 2>/dev/null; do
        [ -n "$child" ] || child=$(cut -d' ' -f1 "/proc/$tp/task/$tp/children" 2>/dev/null || true)
        if [ -n "$child" ] && a=$(awk '/^RssAnon/ { print $2 }' "/proc/$child/status" 2>/dev/null) &&
            [ -n "$a" ] && [ "$a" -gt "$anon" ]; then
            anon=$a
        fi
        sleep 0.02
    done
    wait "$tp" || rc=$?
    if [ "$rc" -ne "${EXPECT:-0}" ]; then
        echo "scale: $name exited with $rc, not ${EXPECT:-0}" >&2
        tail -n 5 "$W/$name.err" >&2
        exit 1
    fi
    local secs user sys rss
    read -r secs user sys rss < <(tail -n 1 "$W/time.out")
    echo "$name $secs $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss $anon" >> "$W/results"
}
random_file() { head -c "$2" /dev/urandom > "$1"; }
# json_field FILE KEY...: a value of a JSON object in FILE
json_field() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: j = j[k]
print(j)' "$@"
}

# ---- part 1: real blobs -------------------------------------------------------------------
if [ "$BLOBS" -gt 0 ]; then
D=$W/corpus/data
mkdir -p "$D"
# file I of the corpus: data/dI/fI, or data/fI (--flat)
fpath() { if [ -n "$FLAT" ]; then echo "$D/f$1"; else mkdir -p "$D/d$1"; echo "$D/d$1/f$1"; fi; }
per=$(( BLOBS * 1024 / 64 ))
for i in $(seq -w 0 63); do
    random_file "$(fpath "$i")" "$per"
done
echo "corpus $(( BLOBS * 1024 )) bytes in 64 files${FLAT:+ (flat)}" >> "$W/info"
mkdir "$W/one"
random_file "$W/one/file" 4096   # the one-file backup: a path of its own

# step TOOL: the same sequence of runs for each tool (cwd: the corpus' parent, so that
# every tool stores the path data/...)
small_change() {   # the change before backups 2 and 3
    rm -f "$(fpath 00)"
    random_file "$D/new$1" 65536
}
reset_corpus() {
    [ -e "$(fpath 00)" ] || random_file "$(fpath 00)" "$per"
    rm -f "$D"/new*
}
cd "$W/corpus"

# arca_runs TAG REPO: the sequence for arca, ~1 KiB chunks (min 512, max 4 KiB)
arca_runs() {
    local t=$1 repo=$2 first
    "$ARCA" -r "$repo" init -q "${KDF[@]}" --chunk-min 512 --chunk-avg 1K --chunk-max 4K
    measure "$t.open" "$ARCA" -r "$repo" snapshots
    measure "$t.backup" "$ARCA" -r "$repo" backup -q data
    small_change 1
    measure "$t.backup2" "$ARCA" -r "$repo" backup -q data
    small_change 2
    measure "$t.backup3" "$ARCA" -r "$repo" backup -q data
    measure "$t.one" "$ARCA" -r "$repo" backup -q "$W/one"
    measure "$t.snapshots" "$ARCA" -r "$repo" snapshots
    measure "$t.restore1" "$ARCA" -r "$repo" restore latest --path "$D" --target "$W/arca-restore" \
        --include "$D/new2"
    cmp "$D/new2" "$W/arca-restore$D/new2"
    rm -rf "$W/arca-restore"
    first=$("$ARCA" -r "$repo" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    measure "$t.prune" "$ARCA" -r "$repo" forget --json "$first" --prune
    echo "$t-locked $(json_field "$W/$t.prune.out" prune locked_duration)" >> "$W/info"
    measure "$t.check" "$ARCA" -r "$repo" check -q
    "$ARCA" -r "$repo" stats --json > "$W/$t.stats"
    echo "$t-blobs $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["blobs"])' "$W/$t.stats")" >> "$W/info"
    reset_corpus
}
arca_runs arca "$W/arca"

# borg: buzhash with 512-byte minimum, 8 KiB maximum and a 9-bit mask: ~1 KiB chunks
borg init -e repokey-blake2 "$W/borg" >/dev/null 2>&1
measure borg.open borg list "$W/borg"
BC=(borg create --compression zstd,3 --chunker-params buzhash,9,13,9,4095)
measure borg.backup "${BC[@]}" "$W/borg::s1" data
small_change 1
measure borg.backup2 "${BC[@]}" "$W/borg::s2" data
small_change 2
measure borg.backup3 "${BC[@]}" "$W/borg::s3" data
measure borg.one "${BC[@]}" "$W/borg::one" "$W/one"
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
measure restic.one restic -r "$W/restic" backup -q "$W/one"
measure restic.snapshots restic -r "$W/restic" snapshots
measure restic.restore1 restic -r "$W/restic" restore latest --path "$D" --target "$W/restic-restore" \
    --include "$D/new2"
first=$(restic -r "$W/restic" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
measure restic.prune restic -r "$W/restic" forget -q "$first" --prune
measure restic.check restic -r "$W/restic" check
echo "restic-blobs $(restic -r "$W/restic" stats --mode raw-data --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_blob_count"])')" >> "$W/info"
rm -rf "$W/arca" "$W/borg" "$W/restic" "$W/borg-restore" "$W/restic-restore"

if [ "$BIG" -gt 0 ]; then
    # arca's chunks average a little more than 1 KiB (512 B minimum): size the corpus so
    # that it makes about BIG blobs
    made=$(awk '$1 == "arca-blobs" { print $2 }' "$W/info")
    per=$(( BIG * (BLOBS * 1024 / made) / 64 ))
    for i in $(seq -w 0 63); do
        random_file "$(fpath "$i")" "$per"
    done
    echo "big-corpus $(( per * 64 ))" >> "$W/info"
    arca_runs big "$W/arca-big"
    rm -rf "$W/arca-big"
fi
cd "$ROOT"
rm -rf "$W/corpus"
fi

# ---- part 2: a made-up index of SIM blobs ---------------------------------------------------
if [ "$SIM" -gt 0 ]; then
    S=$W/sim
    mkdir -p "$S/data"
    for i in 1 2 3 4; do random_file "$S/data/f$i" 1048576; done
    "$ARCA" -r "$S/repo" init -q "${KDF[@]}"
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
    measure sim.prunedry "$ARCA" -r "$S/repo" prune --dry-run --json
    EXPECT=1 measure sim.check "$ARCA" -r "$S/repo" check -q
    measure sim.prune "$ARCA" -r "$S/repo" prune --json
    echo "sim-locked $(json_field "$W/sim.prune.out" locked_duration)" >> "$W/info"
    rm -rf "$S"
fi

# ---- part 3: many snapshots ---------------------------------------------------------------
if [ "$NSNAP" -gt 0 ]; then
    for n in 100 "$NSNAP"; do
        S=$W/snap$n
        mkdir -p "$S/data"
        random_file "$S/data/f" 65536
        "$ARCA" -r "$S/repo" init -q "${KDF[@]}"
        "$ARCA" -r "$S/repo" backup -q "$S/data"
        "$GEN_INDEX" "$S/repo" 0 $(( n - 1 ))
        random_file "$S/data/g1" 65536
        measure "snap$n.backup1" "$ARCA" -r "$S/repo" backup -q "$S/data"
        random_file "$S/data/g2" 65536
        measure "snap$n.backup2" "$ARCA" -r "$S/repo" backup -q "$S/data"
        rm -rf "$ARCA_CACHE_DIR"/*/parents
        random_file "$S/data/g3" 65536
        measure "snap$n.backup3" "$ARCA" -r "$S/repo" backup -q "$S/data"
        rm -rf "$ARCA_CACHE_DIR"/*/parents
        random_file "$S/data/g4" 65536
        measure "snap$n.backup4" "$ARCA" -r "$S/repo" backup -q "$S/data"
        rm -rf "$S"
    done
fi
echo "loadavg-end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$W/info"

# ---- report -------------------------------------------------------------------------------
python3 - "$W/results" "$W/info" "$(nproc)" "$SIM" "$NSNAP" <<'PY'
import math, sys
res, info = {}, {}
for line in open(sys.argv[1]):
    p = line.split()
    res[p[0]] = [float(x) for x in p[1:]]
for line in open(sys.argv[2]):
    k, _, v = line.rstrip('\n').partition(' ')
    info[k] = v
ncpu, sim, nsnap = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
MiB = 2**20
def g(key, i):
    v = res.get(key)
    return v[i] if v and i < len(v) else float('nan')
def f(v, fmt):
    return '-' if math.isnan(v) else fmt.format(v)
def ratio(a, b):
    return '-' if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}"
steps = [("open", "open the repository"), ("backup", "initial backup"),
         ("backup2", "backup, small change"), ("backup3", "backup, small change again"),
         ("one", "one-file backup (a new path)"), ("snapshots", "list snapshots"), ("restore1", "restore one 64 KiB file"),
         ("prune", "forget 1 snapshot + prune"), ("check", "check (metadata)")]
print(f"\n{ncpu} CPUs, load {info.get('loadavg-start', '?')} at start, {info.get('loadavg-end', '?')} at end")
part1 = 'corpus' in info
if part1:
    layout = 'one directory' if 'flat' in info['corpus'] else 'a directory each'
    print(f"\n== {int(info['corpus'].split()[0]) // MiB} MiB of random data in 64 files, {layout}; blobs: arca {info.get('arca-blobs', '?')}, "
          f"borg {info.get('borg-blobs', '?')}, restic {info.get('restic-blobs', '?')}")
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
    print("restic holds ~1/1000 of the blobs: its column is a lower bound for restic at this blob count.")

def per_blob(tag, blobs):
    print(f"\n{'':30} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8} {'anon MiB':>9} {'B/blob':>8}"
          "   (anon: RSS less mapped files; B/blob: RSS above open / blobs)")
    for key, label in steps:
        k = f"{tag}.{key}"
        above = (g(k, 2) - g(f"{tag}.open", 2)) * 1024
        print(f"{label:30} {f(g(k, 0), '{:.2f}'):>8} {f(g(k, 1), '{:.2f}'):>8} {f(g(k, 2) / 1024, '{:.0f}'):>8} "
              f"{f(g(k, 3) / 1024, '{:.0f}'):>9} {f(above / blobs, '{:.1f}') if key != 'open' else '':>8}")
    print(f"{'  of the prune, under the lock':30} {f(float(info.get(tag + '-locked', 'nan')), '{:.3f}'):>8}")
if part1:
    print(f"\n== arca alone, {info.get('arca-blobs')} blobs")
    per_blob("arca", int(info.get('arca-blobs', 1)))
if 'big-blobs' in info:
    print(f"\n== arca alone, {int(info['big-corpus']) // MiB} MiB of random data, {info['big-blobs']} blobs")
    per_blob("big", int(info['big-blobs']))
if sim:
    print(f"\n== made-up index: {sim} blobs more ({int(info['sim-index-bytes']) // MiB} MiB of index objects, "
          f"a local index file of {int(info.get('sim-map-bytes') or 0) // MiB} MiB)")
    print(f"{'':40} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8} {'anon MiB':>9} {'B/blob':>8}")
    for key, label in (("gen", "gen-index (writes the entries)"),
                       ("backup1", "first backup (makes the index file)"),
                       ("backup2", "backup, small change"), ("backup3", "backup, small change again"),
                       ("snapshots", "list snapshots"), ("restore1", "restore one 64 KiB file"),
                       ("prunedry", "prune --dry-run (all made-up blobs go)"),
                       ("check", "check (exit 1: the packs are made up)"),
                       ("prune", "prune (drops the made-up blobs)")):
        k = f"sim.{key}"
        print(f"{label:40} {f(g(k, 0), '{:.2f}'):>8} {f(g(k, 1), '{:.2f}'):>8} {f(g(k, 2) / 1024, '{:.0f}'):>8} "
              f"{f(g(k, 3) / 1024, '{:.0f}'):>9} {f(g(k, 2) * 1024 / sim, '{:.1f}'):>8}")
    print(f"{'  of the prune, under the lock':40} {f(float(info.get('sim-locked', 'nan')), '{:.3f}'):>8}")
if nsnap:
    print(f"\n== one-file backups among many snapshots (others are other hosts')")
    print(f"{'':40} {'100':>24} {nsnap:>24}")
    print(f"{'':40} {'wall s':>8}{'CPU s':>8}{'RSS MiB':>8} {'wall s':>8}{'CPU s':>8}{'RSS MiB':>8}")
    for key, label in (("backup1", "first backup after they came"), ("backup2", "next backup"),
                       ("backup3", "no parent hint: first listing"),
                       ("backup4", "no parent hint, summaries cached")):
        cells = []
        for k in (f"snap100.{key}", f"snap{nsnap}.{key}"):
            cells.append(f"{f(g(k, 0), '{:.2f}'):>8}{f(g(k, 1), '{:.2f}'):>8}{f(g(k, 2) / 1024, '{:.0f}'):>8}")
        print(f"{label:40} {cells[0]} {cells[1]}")
PY
