#!/bin/bash
# bench.sh - arca next to restic and borg on the same data, in one run.  Not a test: it
# prints figures and ratios (arca / restic, arca / borg).  Lower is better for times,
# growth and memory.
#
#   tests/bench/bench.sh [--size MB] [--keep]
#
# Corpus: about SIZE MB (default 400) of real files from this machine (/usr), a
# generated SQL dump (~100 MB) and a copy of it with 1% of the rows changed.
# Measured for each tool: initial backup, unchanged re-backup, full restore (warm page
# cache), bytes added by the second dump, peak RSS of the initial backup.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SIZE=400
KEEP=
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: bench.sh [--size MB] [--keep]" >&2; exit 2 ;;
    esac
done

scripts/deps.sh bench
if [ -z "${ARCA:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
    ARCA=$ROOT/build/cli/arca
fi
W=$(mktemp -d /tmp/arca-bench.XXXXXX)
[ -n "$KEEP" ] || trap 'rm -rf "$W"' EXIT
echo "bench: work dir $W" >&2

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

# run NAME CMD...: time a command (wall seconds) and its peak RSS (KiB) into $W/results
run() {
    local name=$1
    shift
    cat "$FILES" >/dev/null 2>&1 || true
    /usr/bin/time -f '%e %M' -o "$W/time.out" "$@" >/dev/null 2>"$W/$name.err" || {
        echo "bench: $name failed:" >&2
        cat "$W/$name.err" >&2
        exit 1
    }
    read -r secs rss < "$W/time.out"
    echo "$name $secs $rss" >> "$W/results"
}
warm() { find "$FILES" -type f -exec cat {} + >/dev/null; }
size_of() { du -sb "$1" | cut -f1; }

warm
# ---- arca ---------------------------------------------------------------------------------
"$ARCA" -r "$W/arca" init >/dev/null
run arca.backup "$ARCA" -r "$W/arca" backup "$FILES"
run arca.rebackup "$ARCA" -r "$W/arca" backup "$FILES"
run arca.restore "$ARCA" -r "$W/arca" restore latest --target "$W/arca-restore"
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

# ---- report -------------------------------------------------------------------------------
python3 - "$W/results" "$(du -sb "$FILES" | cut -f1)" "$(stat -c %s "$W/corpus/dump2.sql")" <<'PY'
import sys
res = {}
for line in open(sys.argv[1]):
    parts = line.split()
    res[parts[0]] = [float(x) for x in parts[1:]]
corpus, dump = int(sys.argv[2]), int(sys.argv[3])
def g(tool, what, i=0):
    v = res.get(f"{tool}.{what}")
    return v[i] if v else float('nan')
print(f"\ncorpus {corpus / 2**20:.0f} MiB of files, dump {dump / 2**20:.0f} MiB (2 CPUs)\n")
print(f"{'':28} {'arca':>10} {'restic':>10} {'borg':>10} {'arca/restic':>12} {'arca/borg':>10}")
def row(label, what, i=0, fmt="{:.2f}", scale=1.0):
    a, r, b = (g(t, what, i) * scale for t in ("arca", "restic", "borg"))
    print(f"{label:28} {fmt.format(a):>10} {fmt.format(r):>10} {fmt.format(b):>10} {a / r:>12.2f} {a / b:>10.2f}")
row("initial backup (s)", "backup")
row("unchanged re-backup (s)", "rebackup")
row("full restore (s)", "restore")
row("second-dump growth (MiB)", "dumpgrowth", 0, "{:.1f}", 1 / 2**20)
row("peak RSS, backup (MiB)", "backup", 1, "{:.0f}", 1 / 1024)
print()
for t in ("arca", "restic", "borg"):
    b = g(t, "backup")
    rs = g(t, "restore")
    print(f"{t:8} backup {corpus / b / 2**20:7.1f} MiB/s   restore {corpus / rs / 2**20:7.1f} MiB/s")
PY
