#!/bin/bash
# bench.sh - arca next to restic and borg on the same data, in one run.  Not a test: it
# prints figures and ratios (arca / restic, arca / borg).  Lower is better for times,
# growth and memory; higher for throughput.
#
#   tests/bench/bench.sh [--size MB] [--keep] [--rados]
#
# Corpus: about SIZE MB (default 400) of real files from this machine (/usr), a
# generated SQL dump (~100 MB) and a copy of it with 1% of the rows changed.
# Measured for each tool: initial backup, unchanged re-backup, full restore (warm page
# cache), bytes added by the second dump, peak RSS of the initial backup.
# arca and restic also: incremental restore over their own restored copy after ~1% of it
# was damaged the same way (arca: restore --delete; restic: --overwrite if-changed
# --delete where it has them, else a plain restore that rewrites every file).
# --rados: a throwaway bluestore cluster (scripts/ceph-cluster.sh), `rados bench` 16 MiB
# writes against arca backing up the files corpus into rados:backup/bench.
# Figures are wall-clock on a shared machine: compare ratios, and expect noise.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SIZE=400
KEEP=
RADOS=
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --rados) RADOS=1; shift ;;
        *) echo "usage: bench.sh [--size MB] [--keep] [--rados]" >&2; exit 2 ;;
    esac
done

scripts/deps.sh bench
if [ -z "${ARCA:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
    ARCA=$ROOT/build/cli/arca
fi
W=$(mktemp -d /tmp/arca-bench.XXXXXX)
CEPH_DIR=
cleanup() {
    if [ -n "$CEPH_DIR" ]; then
        CEPH_QUIET=1 "$ROOT/scripts/ceph-cluster.sh" stop "$CEPH_DIR" || true
        rm -rf "$CEPH_DIR"    # the 20 GiB sparse bluestore file, even with --keep
    fi
    [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "bench: work dir $W" >&2
# a private copy of the binary: a rebuild during the run must not change (or hide) it
mkdir "$W/bin"
cp "$ARCA" "$W/bin/arca"
ARCA=$W/bin/arca
"$ARCA" --help >/dev/null
echo "loadavg-start $(cut -d' ' -f1-3 /proc/loadavg)" > "$W/info"

# ---- corpus ----------------------------------------------------------------------------
mkdir -p "$W/corpus/files"
python3 - "$W/corpus/files" "$SIZE" <<'PY'
import os, shutil, sys
dst, limit = sys.argv[1], int(sys.argv[2]) << 20
total = 0
for top in ('/usr/lib', '/usr/share', '/usr/bin', '/usr/include'):
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            src = os.path.join(dirpath, name)
            try:
                if os.path.islink(src) or not os.path.isfile(src):
                    continue
                size = os.path.getsize(src)
                if total + size > limit:
                    continue
                rel = os.path.relpath(src, '/')
                os.makedirs(os.path.join(dst, os.path.dirname(rel)), exist_ok=True)
                shutil.copy2(src, os.path.join(dst, rel))
                total += size
            except OSError:
                pass
        if total >= limit * 0.98:
            break
    if total >= limit * 0.98:
        break
print(f"corpus: {total >> 20} MiB of files", file=sys.stderr)
PY
python3 - "$W/corpus/dump1.sql" "$W/corpus/dump2.sql" <<'PY'
import random, sys
random.seed(7)
rows = []
for i in range(800000):
    rows.append(f"INSERT INTO `orders` VALUES ({i},{random.randint(1, 50000)},'{random.choice(['new','paid','shipped','returned'])}',"
                f"'2024-{random.randint(1,12):02d}-{random.randint(1,28):02d}',{random.randint(100, 99999) / 100},"
                f"'{random.getrandbits(96):024x}','{'note ' * random.randint(0, 20)}');\n")
open(sys.argv[1], 'w').writelines(rows)
# 1% of the rows change, in runs (an update touches related rows), plus 0.5% new rows
for start in random.sample(range(0, len(rows) - 50, 50), len(rows) // 100 // 50):
    for i in range(start, start + 50):
        rows[i] = rows[i].replace("'new'", "'paid'").replace("'paid'", "'shipped'", 1)
rows += [f"INSERT INTO `orders` VALUES ({i},1,'new','2025-01-01',1.00,'{i:024x}','');\n"
         for i in range(800000, 804000)]
open(sys.argv[2], 'w').writelines(rows)
PY
du -sh "$W/corpus"/* >&2
FILES=$W/corpus/files

export RESTIC_PASSWORD=bench-pass BORG_PASSPHRASE=bench-pass BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_BASE_DIR=$W/borg-base
printf 'bench-pass\n' > "$W/pass"
export ARCA_PASSWORD_FILE=$W/pass XDG_CACHE_HOME=$W/cache

# measure NAME CMD...: time a command (wall seconds) and its peak RSS (KiB) into
# $W/results; its stdout goes to $W/NAME.out, stderr to $W/NAME.err.  Fails as CMD does.
measure() {
    local name=$1
    shift
    /usr/bin/time -f '%e %M' -o "$W/time.out" "$@" >"$W/$name.out" 2>"$W/$name.err" || return 1
    read -r secs rss < "$W/time.out"
    echo "$name $secs $rss" >> "$W/results"
}
# why the last measure failed: time's "Command exited with non-zero status N" or
# "Command terminated by signal N", and the last line of the command's stderr
why() { echo "$(grep -m1 '^Command' "$W/time.out" || true); $(tail -n 1 "$W/$1.err")"; }
# run NAME CMD...: measure, and stop the benchmark if CMD fails
run() {
    measure "$@" || {
        echo "bench: $1 failed: $(why "$1")" >&2
        cat "$W/$1.err" >&2
        exit 1
    }
}
warm() { find "$FILES" -type f -exec cat {} + >/dev/null; }
size_of() { du -sb "$1" | cut -f1; }

# damage DIR: the same ~1% change to any copy of the corpus (same seed, sorted walk):
# 4 KiB overwritten in the middle of 1% of the files, 0.1% of the files deleted, as
# many new 16 KiB files added.  Prints what it did.
damage() {
    python3 - "$1" <<'PY'
import os, random, sys
top = sys.argv[1]
files = []
for dirpath, dirnames, filenames in os.walk(top):
    dirnames.sort()
    files += [os.path.join(dirpath, n) for n in sorted(filenames)]
rnd = random.Random(1234)
nchange, ndelete = max(1, len(files) // 100), max(3, len(files) // 1000)
picked = rnd.sample(files, nchange + ndelete)
change, delete = picked[:nchange], picked[nchange:]
changed = 0
for f in change:
    size = os.path.getsize(f)
    n = min(4096, size)
    with open(f, 'r+b') as fh:
        fh.seek(max(0, size // 2 - n // 2))
        fh.write(rnd.randbytes(n))
    changed += n
for f in delete:
    os.unlink(f)
added = 0
for i, f in enumerate(rnd.sample(files, len(delete))):
    with open(os.path.join(os.path.dirname(f), f'bench-added-{i}.bin'), 'wb') as fh:
        fh.write(rnd.randbytes(16384))
    added += 16384
print(f"{len(files)} files: {len(change)} changed ({changed >> 10} KiB overwritten), "
      f"{len(delete)} deleted, {len(delete)} added ({added >> 10} KiB)")
PY
}
# differences between the corpus and its restored copy under DIR (0 = identical)
ndiff() { { diff -rq "$FILES" "$1$FILES" 2>&1 || true; } | wc -l; }

warm
# ---- arca ---------------------------------------------------------------------------------
"$ARCA" -r "$W/arca" init >/dev/null
run arca.backup "$ARCA" -r "$W/arca" backup "$FILES"
run arca.rebackup "$ARCA" -r "$W/arca" backup "$FILES"
run arca.restore "$ARCA" -r "$W/arca" restore latest --target "$W/arca-restore"
echo "damage $(damage "$W/arca-restore")" >> "$W/info"
run arca.increstore "$ARCA" -r "$W/arca" restore latest --target "$W/arca-restore" --delete --json
echo "arca.incdiff $(ndiff "$W/arca-restore")" >> "$W/results"
rm -rf "$W/arca-restore"
"$ARCA" -r "$W/arca" backup --stdin --stdin-name /db/dump.sql --chunk-size-avg 64K < "$W/corpus/dump1.sql" >/dev/null
a1=$(size_of "$W/arca")
"$ARCA" -r "$W/arca" backup --stdin --stdin-name /db/dump.sql --chunk-size-avg 64K < "$W/corpus/dump2.sql" >/dev/null
echo "arca.dumpgrowth $(( $(size_of "$W/arca") - a1 ))" >> "$W/results"

# ---- restic -------------------------------------------------------------------------------
restic -r "$W/restic" init >/dev/null
warm
run restic.backup restic -r "$W/restic" backup "$FILES"
run restic.rebackup restic -r "$W/restic" backup "$FILES"
run restic.restore restic -r "$W/restic" restore latest --target "$W/restic-restore"
damage "$W/restic-restore" >/dev/null
restic restore --help > "$W/restic-restore.help"
if grep -q -- '--overwrite' "$W/restic-restore.help" && grep -q -- '--delete' "$W/restic-restore.help"; then
    echo "restic-incremental yes" >> "$W/info"
    run restic.increstore restic -r "$W/restic" restore latest --target "$W/restic-restore" \
        --overwrite if-changed --delete
else
    echo "restic-incremental no" >> "$W/info"
    run restic.increstore restic -r "$W/restic" restore latest --target "$W/restic-restore"
fi
echo "restic.incdiff $(ndiff "$W/restic-restore")" >> "$W/results"
rm -rf "$W/restic-restore"
restic -r "$W/restic" backup --stdin --stdin-filename dump.sql < "$W/corpus/dump1.sql" >/dev/null
r1=$(size_of "$W/restic")
restic -r "$W/restic" backup --stdin --stdin-filename dump.sql < "$W/corpus/dump2.sql" >/dev/null
echo "restic.dumpgrowth $(( $(size_of "$W/restic") - r1 ))" >> "$W/results"

# ---- borg ---------------------------------------------------------------------------------
borg init -e repokey "$W/borg" >/dev/null 2>&1
warm
run borg.backup borg create --compression zstd,3 "$W/borg::one" "$FILES"
run borg.rebackup borg create --compression zstd,3 "$W/borg::two" "$FILES"
mkdir -p "$W/borg-restore"
run borg.restore bash -c "cd '$W/borg-restore' && borg extract '$W/borg::two'"
rm -rf "$W/borg-restore"
borg create --compression zstd,3 "$W/borg::d1" - < "$W/corpus/dump1.sql" >/dev/null 2>&1
b1=$(size_of "$W/borg")
borg create --compression zstd,3 "$W/borg::d2" - < "$W/corpus/dump2.sql" >/dev/null 2>&1
echo "borg.dumpgrowth $(( $(size_of "$W/borg") - b1 ))" >> "$W/results"

# ---- RADOS (--rados) ----------------------------------------------------------------------
if [ -n "$RADOS" ]; then
    CEPH_DIR=$W/ceph
    CEPH_OBJECTSTORE=bluestore CEPH_STORE_SIZE=20G CEPH_QUIET=1 \
        "$ROOT/scripts/ceph-cluster.sh" start "$CEPH_DIR" > "$W/ceph.env"
    set -a
    # shellcheck disable=SC1091
    source "$W/ceph.env"
    set +a
    rados -p backup bench 20 write -b 16M --no-cleanup > "$W/rados-bench.out" 2>&1 || {
        echo "bench: rados bench failed:" >&2
        cat "$W/rados-bench.out" >&2
        exit 1
    }
    rados -p backup cleanup >/dev/null 2>&1
    # rados bench's "MB/sec" is MiB/s (2^20)
    echo "rados.bench $(awk -F: '/^Bandwidth \(MB\/sec\)/ {print $2 + 0}' "$W/rados-bench.out")" >> "$W/results"
    warm
    # a failure here is reported with the results instead of losing them
    if ! measure arca.radosinit "$ARCA" -r rados:backup/bench init; then
        echo "rados-fail arca init: $(why arca.radosinit)" >> "$W/info"
    elif ! measure arca.radosbackup "$ARCA" -r rados:backup/bench backup "$FILES"; then
        echo "rados-fail arca backup: $(why arca.radosbackup)" >> "$W/info"
    fi
    CEPH_QUIET=1 "$ROOT/scripts/ceph-cluster.sh" stop "$CEPH_DIR"
    rm -rf "$CEPH_DIR"
    CEPH_DIR=
fi
echo "loadavg-end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$W/info"

# ---- report -------------------------------------------------------------------------------
python3 - "$W/results" "$W/info" "$W/arca.increstore.out" "$(du -sb "$FILES" | cut -f1)" \
    "$(stat -c %s "$W/corpus/dump2.sql")" "$(nproc)" <<'PY'
import json, math, sys
res, info = {}, {}
for line in open(sys.argv[1]):
    parts = line.split()
    res[parts[0]] = [float(x) for x in parts[1:]]
for line in open(sys.argv[2]):
    k, _, v = line.rstrip('\n').partition(' ')
    info[k] = v
inc = json.load(open(sys.argv[3]))
corpus, dump, ncpu = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
MiB = 2**20
def g(tool, what, i=0):
    v = res.get(f"{tool}.{what}")
    return v[i] if v else float('nan')
def f(fmt, v):
    return '-' if math.isnan(v) else fmt.format(v)
print(f"\ncorpus {corpus / MiB:.0f} MiB of files, dump {dump / MiB:.0f} MiB ({ncpu} CPUs, "
      f"load {info.get('loadavg-start', '?')} at start, {info.get('loadavg-end', '?')} at end)\n")
print(f"{'':28} {'arca':>10} {'restic':>10} {'borg':>10} {'arca/restic':>12} {'arca/borg':>10}")
def row(label, what, i=0, fmt="{:.2f}", scale=1.0):
    a, r, b = (g(t, what, i) * scale for t in ("arca", "restic", "borg"))
    print(f"{label:28} {f(fmt, a):>10} {f(fmt, r):>10} {f(fmt, b):>10} {f('{:.2f}', a / r):>12} "
          f"{f('{:.2f}', a / b):>10}")
row("initial backup (s)", "backup")
row("unchanged re-backup (s)", "rebackup")
row("full restore (s)", "restore")
row("incremental restore (s)", "increstore")
row("second-dump growth (MiB)", "dumpgrowth", 0, "{:.1f}", 1 / MiB)
row("peak RSS, backup (MiB)", "backup", 1, "{:.0f}", 1 / 1024)
print()
for t in ("arca", "restic", "borg"):
    b = g(t, "backup")
    rs = g(t, "restore")
    print(f"{t:8} backup {corpus / b / MiB:7.1f} MiB/s   restore {corpus / rs / MiB:7.1f} MiB/s")
print()
tput = (corpus / g("arca", "restore")) / (corpus / g("restic", "restore"))
print(f"full restore throughput arca / restic: {tput:.2f}   (target >= 2)")
print(f"second-dump growth arca growth / restic growth: "
      f"{g('arca', 'dumpgrowth') / g('restic', 'dumpgrowth'):.2f}   (target <= 0.3)")
print()
print(f"incremental restore, damage: {info.get('damage', '?')}")
print(f"  arca   restore --delete: {g('arca', 'increstore'):.2f} s, fetched {inc['bytes_fetched'] / MiB:.2f} MiB, "
      f"reused {inc['bytes_reused'] / MiB:.2f} MiB, wrote {inc['bytes_written'] / MiB:.2f} MiB, "
      f"{inc['files_restored']} files restored, {inc['deleted']} deleted; "
      f"{'identical to the corpus' if g('arca', 'incdiff') == 0 else '%d differences from the corpus' % g('arca', 'incdiff')}")
if info.get('restic-incremental') == 'yes':
    how = "restore --overwrite if-changed --delete"
else:
    how = "plain restore (restic has no incremental restore: rewrites every file, deletes nothing)"
print(f"  restic {how}: {g('restic', 'increstore'):.2f} s; "
      f"{'identical to the corpus' if g('restic', 'incdiff') == 0 else '%d differences from the corpus' % g('restic', 'incdiff')}")
print(f"  incremental restore time arca / restic: {g('arca', 'increstore') / g('restic', 'increstore'):.2f}")
if 'rados-fail' in info:
    print()
    print(f"RADOS (1 bluestore OSD): rados bench 16 MiB writes {g('rados', 'bench'):.1f} MiB/s; "
          f"{info['rados-fail']}")
elif 'rados.bench' in res:
    rb = g("rados", "bench")
    ab = g("arca", "radosbackup")
    ai = g("arca", "radosinit")
    print()
    print(f"RADOS (1 bluestore OSD): rados bench 16 MiB writes {rb:.1f} MiB/s; arca backup of the files "
          f"{ab:.2f} s = {corpus / ab / MiB:.1f} MiB/s (init {ai:.2f} s; "
          f"with init {corpus / (ab + ai) / MiB:.1f} MiB/s)")
    print(f"  arca / rados bench: {corpus / ab / MiB / rb:.2f}   (target >= 0.8; "
          f"with init {corpus / (ab + ai) / MiB / rb:.2f})")
PY
