#!/bin/bash
# bench.sh - arca next to restic and borg on the same data, in one run.  Not a test: it
# prints figures and ratios (arca / restic, arca / borg) and the goals of issue 12 beside
# them, met or not, and exits 0 whatever they are.  Lower is better for times, growth,
# size and memory; higher for throughput.
#
#   tests/bench/bench.sh [--size MB] [--pairs N] [--target-dir DIR] [--keep] [--rados]
#
# Method.  Each comparison runs in pairs, A B A B: arca then restic, N times (--pairs,
# default 3: an odd count, so that the median is a pair's and not the mean of two),
# then arca then borg, N times, phase by phase.  A ratio is taken within a pair, and the
# report shows the median of the pair ratios, for wall time and for CPU time (user +
# sys, from /usr/bin/time, which also gives the peak RSS of each run).  On a shared
# machine the load changes from one minute to the next (sequential runs differed by
# +-50 % on 2 CPUs): the two runs of a pair see about the same load, and the median
# leaves out a pair that did not.  The figure of one tool is the median of its runs.
# Both runs of a pair start from the same state: an initial backup into a new
# repository, a full restore into an empty directory, an incremental restore over a
# fresh restore damaged the same way, a second dump into a new repository that holds
# the first one.  (A re-backup finds the snapshots of the earlier re-backups, all of
# the same tree.)
#
# Where.  The work (corpus, repositories, restores) is on a tmpfs, so that the tools
# and not the disk are measured: as root a tmpfs of the size needed is mounted for the
# run (and unmounted on exit, on failure too); otherwise /dev/shm when it has the room.
# --target-dir DIR puts the work under DIR (a real disk) instead; its page cache is
# warmed before each backup.  Either way the free space (and on a tmpfs the available
# memory) is checked first for about 5 x SIZE + 768 MiB.  --keep keeps the work
# directory; on a mounted tmpfs only its logs and results (copied to the directory on
# disk that held the mount point) outlive the run.
#
# Corpus: about SIZE MB (default 400) of real files from this machine (/usr), a
# generated SQL dump (~100 MB) and a copy of it with 1% of the rows changed.
# Phases, each with its peak RSS, for every tool: initial backup (and the repository's
# size after it), unchanged re-backup, full restore (warm page cache), check of every
# byte (arca and restic check --read-data, borg check --verify-data), and the second
# dump through stdin (its time, and the bytes the repository grew).  arca and restic
# also: a copy of every snapshot into a new repository that shares the source's chunker
# (arca: and its keys, init --from-repo --copy-chunker-params; restic: init --from-repo
# --copy-chunker-params, then copy), and an incremental restore over their own restored
# copy after ~1% of it was damaged
# the same way (arca: restore --delete; restic: --overwrite if-changed --delete where it
# has them, else a plain restore that rewrites every file); borg has none.  Restores
# are compared with the corpus (diff -r).
# --rados: a throwaway bluestore cluster (scripts/ceph-cluster.sh) whose store is on
# disk (under /tmp, or under --target-dir), pairs of `rados bench` 16 MiB writes and
# arca backing up the files corpus into a new namespace rados:backup/benchN.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SIZE=400
PAIRS=3
TARGET=
KEEP=
RADOS=
usage() {
    echo "usage: bench.sh [--size MB] [--pairs N] [--target-dir DIR] [--keep] [--rados]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --size) [ $# -ge 2 ] || usage; SIZE=$2; shift 2 ;;
        --pairs) [ $# -ge 2 ] || usage; PAIRS=$2; shift 2 ;;
        --target-dir) [ $# -ge 2 ] || usage; TARGET=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --rados) RADOS=1; shift ;;
        *) usage ;;
    esac
done
[[ $SIZE =~ ^[1-9][0-9]*$ ]] || { echo "bench: --size wants a number of MB, not '$SIZE'" >&2; exit 2; }
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "bench: --pairs wants a number >= 1, not '$PAIRS'" >&2; exit 2; }
if [ -n "$TARGET" ] && [ ! -d "$TARGET" ]; then
    echo "bench: --target-dir $TARGET is not a directory" >&2
    exit 2
fi

scripts/deps.sh bench
if [ -z "${ARCA:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
    ARCA=$ROOT/build/cli/arca
fi

# ---- where the work goes ---------------------------------------------------------------
# corpus (SIZE + two dumps), three repositories and a restore of at most SIZE each, one
# dump repository at a time (the dumps and theirs: ~400 MiB), caches
NEED=$(( 5 * SIZE + 768 ))
avail_mib() { df -P -BM "$1" | awk 'NR == 2 { print $4 + 0 }'; }
mem_mib() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }
BASE=        # the directory this run made on disk or in /dev/shm, removed on exit
MOUNTED=     # the tmpfs mounted at $W, unmounted on exit
W=
CEPH_DIR=
cleanup() {
    if [ -n "$CEPH_DIR" ]; then
        CEPH_QUIET=1 "$ROOT/scripts/ceph-cluster.sh" stop "$CEPH_DIR" || true
        rm -rf "$CEPH_DIR"    # the 20 GiB sparse bluestore file, even with --keep
    fi
    if [ -n "$MOUNTED" ]; then
        if [ -n "$KEEP" ]; then
            find "$W" -maxdepth 1 -type f -exec cp -p {} "$BASE/" \; || true
        fi
        umount "$W" || umount -l "$W" || echo "bench: could not unmount the tmpfs at $W" >&2
        rmdir "$W" || true
    fi
    if [ -n "$BASE" ]; then
        if [ -n "$KEEP" ]; then
            echo "bench: kept $BASE" >&2
        else
            rm -rf "$BASE"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -n "$TARGET" ]; then
    have=$(avail_mib "$TARGET")
    if [ "$have" -lt "$NEED" ]; then
        echo "bench: --size $SIZE needs about $NEED MiB in $TARGET, which has $have MiB free" >&2
        exit 1
    fi
    BASE=$(mktemp -d "$TARGET/arca-bench.XXXXXX")
    W=$BASE
    WHERE="disk ($TARGET)"
else
    mem=$(mem_mib)
    if [ "$mem" -lt $(( NEED + 1024 )) ]; then
        echo "bench: --size $SIZE needs a tmpfs of about $NEED MiB and 1 GiB more for the" \
             "tools, but $mem MiB of memory is available; use a smaller --size or --target-dir DIR" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        BASE=$(mktemp -d /tmp/arca-bench.XXXXXX)
        W=$BASE/work
        mkdir "$W"
        if mount -t tmpfs -o "size=${NEED}m,mode=0700" arca-bench "$W"; then
            MOUNTED=1
            WHERE="tmpfs (mounted, $NEED MiB)"
        else
            rmdir "$W"
            rm -rf "$BASE"
            BASE=
            echo "bench: could not mount a tmpfs; trying /dev/shm" >&2
        fi
    fi
    if [ -z "$MOUNTED" ]; then
        have=0
        [ -d /dev/shm ] && have=$(avail_mib /dev/shm)
        if [ "$have" -lt "$NEED" ]; then
            echo "bench: --size $SIZE needs about $NEED MiB on a tmpfs, /dev/shm has $have MiB free;" \
                 "run as root (it mounts a tmpfs) or put the work on a disk with --target-dir DIR" >&2
            exit 1
        fi
        BASE=$(mktemp -d /dev/shm/arca-bench.XXXXXX)
        W=$BASE
        WHERE="tmpfs (/dev/shm)"
    fi
fi
echo "bench: work dir $W on $WHERE" >&2
# a private copy of the binary: a rebuild during the run must not change (or hide) it
mkdir "$W/bin"
cp "$ARCA" "$W/bin/arca"
ARCA=$W/bin/arca
"$ARCA" --help >/dev/null
: > "$W/results"
: > "$W/values"
{
    echo "loadavg-start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "where $WHERE"
    echo "versions restic $(restic version | awk '{ print $2 }'), borg $(borg --version | awk '{ print $2 }')"
} > "$W/info"

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
DUMP1=$W/corpus/dump1.sql
DUMP2=$W/corpus/dump2.sql

export RESTIC_PASSWORD=bench-pass BORG_PASSPHRASE=bench-pass BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_BASE_DIR=$W/borg-base
printf 'bench-pass\n' > "$W/pass"
export ARCA_PASSWORD_FILE=$W/pass XDG_CACHE_HOME=$W/cache
export ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE RESTIC_FROM_PASSWORD=$RESTIC_PASSWORD   # copy
unset ARCA_CACHE_DIR RESTIC_CACHE_DIR ARCA_REPOSITORY RESTIC_REPOSITORY BORG_REPO

# measure PHASE ROUND TOOL CMD...: run CMD under /usr/bin/time and append "PHASE ROUND
# TOOL wall-seconds cpu-seconds peak-RSS-KiB" to $W/results (ROUND names the pair, as
# restic1 or borg2); its stdout goes to $W/PHASE.ROUND.TOOL.out, stderr to .err.  Fails
# as CMD does.
measure() {
    local phase=$1 round=$2 tool=$3 wall user sys rss
    shift 3
    LAST=$W/$phase.$round.$tool
    /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "$@" >"$LAST.out" 2>"$LAST.err" || return 1
    read -r wall user sys rss < "$W/time.out"
    echo "$phase $round $tool $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss" \
        >> "$W/results"
}
# why the last measure failed: time's "Command exited with non-zero status N" or
# "Command terminated by signal N", and the last line of the command's stderr
why() { echo "$(grep -m1 '^Command' "$W/time.out" || true); $(tail -n 1 "$LAST.err")"; }
# run PHASE ROUND TOOL CMD...: measure, and stop the benchmark if CMD fails
run() {
    measure "$@" || {
        echo "bench: $1 of $3 (pair $2) failed: $(why)" >&2
        cat "$LAST.err" >&2
        exit 1
    }
}
# value KIND ROUND TOOL NUMBER: a figure that is not a time (sizes, differences)
value() { echo "$1 $2 $3 $4" >> "$W/values"; }
# on a tmpfs the corpus is in memory anyway; on a disk this puts it in the page cache
warm() { find "$FILES" -type f -exec cat {} + >/dev/null; }
size_of() { du -sb "$1" | cut -f1; }
# quiet CMD...: run an unmeasured step; if it fails, show its output and stop
quiet() { "$@" >"$W/quiet.out" 2>&1 || { echo "bench: failed: $*" >&2; cat "$W/quiet.out" >&2; exit 1; }; }

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

# ---- the phases: each is FUNCTION TOOL ROUND, one run of one tool -----------------------
# Repositories: $W/repo-TOOL, made again by every initial backup (the last one stays for
# the phases after it), and $W/dump-TOOL, made for each dump run.
REPO_arca=$W/repo-arca
REPO_restic=$W/repo-restic
REPO_borg=$W/repo-borg
RESTORE=$W/restore

fresh() {   # fresh TOOL DIR: a new, empty repository of TOOL at DIR
    rm -rf "$2"
    case $1 in
        arca) quiet "$ARCA" -r "$2" init ;;
        restic) quiet restic -r "$2" init ;;
        borg) quiet borg init -e repokey "$2" ;;
    esac
}
repo_of() { local v=REPO_$1; echo "${!v}"; }

phase_backup() {
    local repo
    repo=$(repo_of "$1")
    fresh "$1" "$repo"
    warm
    case $1 in
        arca) run backup "$2" arca "$ARCA" -r "$repo" backup "$FILES" ;;
        restic) run backup "$2" restic restic -r "$repo" backup "$FILES" ;;
        borg) run backup "$2" borg borg create --compression zstd,3 "$repo::one" "$FILES" ;;
    esac
    value size "$2" "$1" "$(size_of "$repo")"
}
phase_rebackup() {
    local repo
    repo=$(repo_of "$1")
    warm
    case $1 in
        arca) run rebackup "$2" arca "$ARCA" -r "$repo" backup "$FILES" ;;
        restic) run rebackup "$2" restic restic -r "$repo" backup "$FILES" ;;
        borg) run rebackup "$2" borg borg create --compression zstd,3 "$repo::again-$2" "$FILES" ;;
    esac
}
phase_restore() {
    local -a cmd
    rm -rf "$RESTORE"
    mkdir "$RESTORE"
    # shellcheck disable=SC2016  # $1 and $2 are the inner shell's
    case $1 in
        arca) cmd=("$ARCA" -r "$REPO_arca" restore latest --target "$RESTORE") ;;
        restic) cmd=(restic -r "$REPO_restic" restore latest --target "$RESTORE") ;;
        borg) cmd=(bash -c 'cd "$1" && exec borg extract "$2"' _ "$RESTORE" "$REPO_borg::one") ;;
    esac
    run restore "$2" "$1" "${cmd[@]}"
    value restorediff "$2" "$1" "$(ndiff "$RESTORE")"
    rm -rf "$RESTORE"
}
phase_check() {
    case $1 in
        arca) run check "$2" arca "$ARCA" -r "$REPO_arca" check --read-data ;;
        restic) run check "$2" restic restic -r "$REPO_restic" check --read-data ;;
        borg) run check "$2" borg borg check --verify-data "$REPO_borg" ;;
    esac
}
# arca and restic only (borg 1.2 has no copy): every snapshot into a new repository that
# shares the source's chunker (and, for arca, its keys: blobs travel as stored; restic
# decrypts and encrypts each one again)
phase_copy() {
    local dst=$W/copy-$1
    rm -rf "$dst"
    case $1 in
        arca) quiet "$ARCA" -r "$dst" init --from-repo "$REPO_arca" --copy-chunker-params
              run copy "$2" arca "$ARCA" -r "$dst" copy --from-repo "$REPO_arca" ;;
        restic) quiet restic -r "$dst" init --from-repo "$REPO_restic" --copy-chunker-params
                run copy "$2" restic restic -r "$dst" copy --from-repo "$REPO_restic" ;;
    esac
    value copysize "$2" "$1" "$(size_of "$dst")"
    rm -rf "$dst"
}
# arca and restic only: borg has no incremental restore
phase_increstore() {
    rm -rf "$RESTORE"
    case $1 in
        arca) quiet "$ARCA" -r "$REPO_arca" restore latest --target "$RESTORE" ;;
        restic) quiet restic -r "$REPO_restic" restore latest --target "$RESTORE" ;;
    esac
    echo "damage $(damage "$RESTORE")" >> "$W/info"
    case $1 in
        arca) run increstore "$2" arca "$ARCA" -r "$REPO_arca" restore latest --target "$RESTORE" \
                  --delete --json ;;
        restic) if [ -n "$RESTIC_INC" ]; then
                    run increstore "$2" restic restic -r "$REPO_restic" restore latest \
                        --target "$RESTORE" --overwrite if-changed --delete
                else
                    run increstore "$2" restic restic -r "$REPO_restic" restore latest --target "$RESTORE"
                fi ;;
    esac
    value incdiff "$2" "$1" "$(ndiff "$RESTORE")"
    rm -rf "$RESTORE"
}
# a new repository with the first dump in it; measured: the second dump, and the bytes
# the repository grew by
phase_dump() {
    local repo=$W/dump-$1 before
    fresh "$1" "$repo"
    case $1 in
        arca) quiet "$ARCA" -r "$repo" backup --stdin --stdin-name /db/dump.sql --chunk-size-avg 64K < "$DUMP1" ;;
        restic) quiet restic -r "$repo" backup --stdin --stdin-filename dump.sql < "$DUMP1" ;;
        borg) quiet borg create --compression zstd,3 "$repo::d1" - < "$DUMP1" ;;
    esac
    before=$(size_of "$repo")
    case $1 in
        arca) run dump "$2" arca "$ARCA" -r "$repo" backup --stdin --stdin-name /db/dump.sql \
                  --chunk-size-avg 64K < "$DUMP2" ;;
        restic) run dump "$2" restic restic -r "$repo" backup --stdin --stdin-filename dump.sql < "$DUMP2" ;;
        borg) run dump "$2" borg borg create --compression zstd,3 "$repo::d2" - < "$DUMP2" ;;
    esac
    value growth "$2" "$1" "$(( $(size_of "$repo") - before ))"
    rm -rf "$repo"
}

# pairs PHASE [OTHERS]: A B A B, arca then the other tool, PAIRS times for each of OTHERS
# (default restic and borg)
pairs() {
    local phase=$1 others=${2:-restic borg} other i
    echo "bench: $phase" >&2
    for other in $others; do
        for (( i = 1; i <= PAIRS; i++ )); do
            "phase_$phase" arca "$other$i"
            "phase_$phase" "$other" "$other$i"
        done
    done
}

restic restore --help > "$W/restic-restore.help"
RESTIC_INC=
if grep -q -- '--overwrite' "$W/restic-restore.help" && grep -q -- '--delete' "$W/restic-restore.help"; then
    RESTIC_INC=1
    echo "restic-incremental yes" >> "$W/info"
else
    echo "restic-incremental no" >> "$W/info"
fi

pairs backup
pairs rebackup
pairs restore
pairs check
pairs copy restic
pairs increstore restic
pairs dump
cp "$W/increstore.restic$PAIRS.arca.out" "$W/increstore.json"

# ---- RADOS (--rados) ----------------------------------------------------------------------
if [ -n "$RADOS" ]; then
    # on disk, as a cluster is: a 20 GiB sparse file does not belong on a tmpfs
    CEPH_DIR=$(mktemp -d "${TARGET:-/tmp}/arca-bench-ceph.XXXXXX")
    echo "bench: rados" >&2
    CEPH_OBJECTSTORE=bluestore CEPH_STORE_SIZE=20G CEPH_QUIET=1 \
        "$ROOT/scripts/ceph-cluster.sh" start "$CEPH_DIR" > "$W/ceph.env"
    set -a
    # shellcheck disable=SC1091
    source "$W/ceph.env"
    set +a
    for (( i = 1; i <= PAIRS; i++ )); do
        # at most 600 objects (9.4 GiB): on a fast disk 20 s would fill the 20 GiB store
        rados -p backup bench 20 write -b 16M --max-objects 600 --no-cleanup > "$W/rados-bench.out" 2>&1 || {
            echo "bench: rados bench failed:" >&2
            cat "$W/rados-bench.out" >&2
            exit 1
        }
        rados -p backup cleanup >/dev/null 2>&1
        # rados bench's "MB/sec" is MiB/s (2^20)
        value radosbench "rados$i" rados \
            "$(awk -F: '/^Bandwidth \(MB\/sec\)/ { print $2 + 0 }' "$W/rados-bench.out")"
        warm
        # a failure here is reported with the results instead of losing them
        if ! measure radosinit "rados$i" arca "$ARCA" -r "rados:backup/bench$i" init; then
            echo "rados-fail arca init: $(why)" >> "$W/info"
            break
        elif ! measure radosbackup "rados$i" arca "$ARCA" -r "rados:backup/bench$i" backup "$FILES"; then
            echo "rados-fail arca backup: $(why)" >> "$W/info"
            break
        fi
    done
    CEPH_QUIET=1 "$ROOT/scripts/ceph-cluster.sh" stop "$CEPH_DIR"
    rm -rf "$CEPH_DIR"
    CEPH_DIR=
fi
echo "loadavg-end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$W/info"

# ---- report -------------------------------------------------------------------------------
python3 - "$W" "$(size_of "$FILES")" "$(stat -c %s "$DUMP2")" "$(nproc)" "$PAIRS" \
    "$(date -u +%F)" "$SIZE" <<'PY'
import json, math, statistics, sys
W = sys.argv[1]
corpus, dump, ncpu, pairs = (int(x) for x in sys.argv[2:6])
day, size = sys.argv[6], sys.argv[7]
MiB = 2**20
NAN = float('nan')
runs = {}     # (phase, round, tool) -> (wall s, cpu s, peak RSS MiB)
for line in open(f"{W}/results"):
    ph, rd, tool, wall, cpu, rss = line.split()
    runs[ph, rd, tool] = (float(wall), float(cpu), float(rss) / 1024)
vals = {}     # (kind, round, tool) -> number
for line in open(f"{W}/values"):
    kind, rd, tool, v = line.split()
    vals[kind, rd, tool] = float(v)
info = {}
for line in open(f"{W}/info"):
    k, _, v = line.rstrip('\n').partition(' ')
    info[k] = v

def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else NAN
def div(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else NAN
def rounds(other):
    return [f"{other}{i}" for i in range(1, pairs + 1)]
def get(table, key, i):
    v = table.get(key)
    return NAN if v is None else (v[i] if isinstance(v, tuple) else v)
def figure(table, kind, tool, i=0):
    """the median of a tool's runs (arca's: of all its runs, beside restic and borg)"""
    return med([get(table, k, i) for k in table if k[0] == kind and k[2] == tool])
def ratios(table, kind, other, i=0, invert=False):
    """arca / OTHER within each pair (OTHER / arca with invert: a throughput ratio)"""
    out = []
    for rd in rounds(other):
        a, o = get(table, (kind, rd, 'arca'), i), get(table, (kind, rd, other), i)
        out.append(div(o, a) if invert else div(a, o))
    return out
def f(fmt, v):
    return '-' if math.isnan(v) else fmt.format(v)

print(f"\ncorpus {corpus / MiB:.0f} MiB of files, dump {dump / MiB:.0f} MiB; {info.get('versions', '')}; "
      f"{ncpu} CPUs, load {info.get('loadavg-start', '?')} at start, {info.get('loadavg-end', '?')} at end")
print(f"work on {info.get('where', '?')}; {pairs} pairs per comparison (arca, other, arca, other); "
      f"{day}, --size {size}")
print("each tool: the median of its runs; arca/restic and arca/borg: the median of the pair ratios\n")

PHASES = [("backup", "initial backup"), ("rebackup", "unchanged re-backup"),
          ("restore", "full restore"), ("check", "check --read-data"),
          ("copy", "copy, all snapshots"),
          ("increstore", "incremental restore"), ("dump", "second dump, --stdin")]
print(f"{'time (s)':24} {'arca':>13} {'restic':>13} {'borg':>13} {'arca/restic':>13} {'arca/borg':>13}")
print(f"{'':24}" + f" {'wall':>6} {'cpu':>6}" * 5)
for kind, label in PHASES:
    cells = []
    for tool in ("arca", "restic", "borg"):
        cells += [figure(runs, kind, tool, 0), figure(runs, kind, tool, 1)]
    for other in ("restic", "borg"):
        cells += [med(ratios(runs, kind, other, 0)), med(ratios(runs, kind, other, 1))]
    print(f"{label:24}" + "".join(f" {f('{:.2f}', c):>6}" for c in cells))

print(f"\n{'peak RSS (MiB)':24} {'arca':>8} {'restic':>8} {'borg':>8} {'arca/restic':>12} {'arca/borg':>10}")
for kind, label in PHASES:
    a, r, b = (figure(runs, kind, t, 2) for t in ("arca", "restic", "borg"))
    print(f"{label:24} {f('{:.0f}', a):>8} {f('{:.0f}', r):>8} {f('{:.0f}', b):>8} "
          f"{f('{:.2f}', med(ratios(runs, kind, 'restic', 2))):>12} "
          f"{f('{:.2f}', med(ratios(runs, kind, 'borg', 2))):>10}")

print(f"\n{'size (MiB)':24} {'arca':>8} {'restic':>8} {'borg':>8} {'arca/restic':>12} {'arca/borg':>10}")
for kind, label in (("size", "repository after backup"), ("growth", "second-dump growth")):
    a, r, b = (figure(vals, kind, t) / MiB for t in ("arca", "restic", "borg"))
    print(f"{label:24} {f('{:.1f}', a):>8} {f('{:.1f}', r):>8} {f('{:.1f}', b):>8} "
          f"{f('{:.2f}', med(ratios(vals, kind, 'restic'))):>12} "
          f"{f('{:.2f}', med(ratios(vals, kind, 'borg'))):>10}")

print("\nthroughput of the files (MiB/s, median of the runs)")
for tool in ("arca", "restic", "borg"):
    print(f"  {tool:7}" + "".join(
        f" {label} {f('{:7.1f}', corpus / MiB / figure(runs, kind, tool))}"
        for kind, label in (("backup", "backup"), ("restore", "  restore"), ("check", "  check"),
                            ("copy", "  copy"))))

print("\nthe pair ratios arca / restic, arca / borg (wall), to judge the noise")
for kind, label in PHASES:
    line = f"  {label:22}"
    for other in ("restic", "borg"):
        rs = ratios(runs, kind, other)
        if not all(math.isnan(x) for x in rs):
            line += f"  {other}: " + " ".join(f('{:.2f}', x) for x in rs)
    print(line)

def same(kind, tool):
    ds = [v for k, v in vals.items() if k[0] == kind and k[2] == tool]
    return "identical to the corpus" if not any(ds) else \
        "differs from the corpus (diff -rq lines, per run: %s)" % " ".join(f"{d:.0f}" for d in ds)
print("\nfull restores: " + "; ".join(f"{t} {same('restorediff', t)}" for t in ("arca", "restic", "borg")))

inc = json.load(open(f"{W}/increstore.json"))
print(f"\nincremental restore, damage: {info.get('damage', '?')}")
print(f"  arca   restore --delete: fetched {inc['bytes_fetched'] / MiB:.2f} MiB, "
      f"reused {inc['bytes_reused'] / MiB:.2f} MiB, wrote {inc['bytes_written'] / MiB:.2f} MiB, "
      f"{inc['files_restored']} files restored, {inc['deleted']} deleted (the last run); "
      f"{same('incdiff', 'arca')}")
if info.get('restic-incremental') == 'yes':
    print(f"  restic restore --overwrite if-changed --delete; {same('incdiff', 'restic')}")
else:
    print("  restic plain restore (this restic has no incremental restore: it rewrites every file, "
          f"deletes nothing); {same('incdiff', 'restic')}")

# the goals of issue 12, against the medians of the pair ratios (wall time)
print("\ngoals (issue 12) next to the medians of the pair ratios, wall time (CPU beside)")
def goal(label, v, ok, extra=""):
    state = "-" if math.isnan(v) else ("met" if ok(v) else "not met")
    print(f"  {label:58} {f('{:.2f}', v):>6}  {extra:11} {state}")
def cpu(kind, invert=False):
    return f"(cpu {f('{:.2f}', med(ratios(runs, kind, 'restic', 1, invert)))})"
goal("initial backup throughput >= 2x restic's", med(ratios(runs, "backup", "restic", 0, True)),
     lambda v: v >= 2, cpu("backup", True))
goal("  with a repository no larger than restic's (size ratio)", med(ratios(vals, "size", "restic")),
     lambda v: v <= 1)
goal("full restore throughput >= 2x restic's", med(ratios(runs, "restore", "restic", 0, True)),
     lambda v: v >= 2, cpu("restore", True))
goal("check --read-data throughput >= 2x restic's", med(ratios(runs, "check", "restic", 0, True)),
     lambda v: v >= 2, cpu("check", True))
goal("unchanged re-backup <= 0.5x restic's time", med(ratios(runs, "rebackup", "restic")),
     lambda v: v <= 0.5, cpu("rebackup"))
goal("second-dump growth via --stdin <= 0.3x restic's", med(ratios(vals, "growth", "restic")),
     lambda v: v <= 0.3)
rss = {kind: med(ratios(runs, kind, "restic", 2)) for kind, _ in PHASES}
over = [f"{kind} {v:.2f}" for kind, v in rss.items() if not math.isnan(v) and v > 1]
goal("peak RSS <= restic's in every phase (highest ratio)",
     max((v for v in rss.values() if not math.isnan(v)), default=NAN),
     lambda v: v <= 1)
if over:
    print(f"    above restic's: {', '.join(over)}")

if 'radosbench' in {k[0] for k in vals}:
    print()
    rb = figure(vals, "radosbench", "rados")
    ab, ai = figure(runs, "radosbackup", "arca"), figure(runs, "radosinit", "arca")
    per = []
    for i in range(1, pairs + 1):
        b, t = vals.get(("radosbench", f"rados{i}", "rados"), NAN), get(runs, ("radosbackup", f"rados{i}", "arca"), 0)
        per.append(div(corpus / MiB, t) / b if t == t else NAN)
    print(f"RADOS (1 bluestore OSD), {pairs} pairs: rados bench 16 MiB writes {rb:.1f} MiB/s; arca backup "
          f"of the files {f('{:.2f}', ab)} s = {f('{:.1f}', div(corpus / MiB, ab))} MiB/s "
          f"(init {f('{:.2f}', ai)} s)")
    print(f"  arca / rados bench, median of the pairs: {f('{:.2f}', med(per))}   (target >= 0.8)")
    # what bounds it: the RADOS path's own cost (the same backup into a local repository on
    # the tmpfs), and what arca's CPU work allows at all on this machine, OSD or not
    lb = figure(runs, "backup", "arca")
    print(f"  arca into RADOS / arca into a local repository: {f('{:.2f}', div(lb, ab))} (the RADOS path's cost)")
    print(f"  arca's local backup / rados bench: {f('{:.2f}', div(div(corpus / MiB, lb), rb))} "
          f"(the most the CPU allows here, with the OSD on the same {ncpu} CPUs)")
    if 'rados-fail' in info:
        print(f"  {info['rados-fail']}")
PY
