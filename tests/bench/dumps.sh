#!/bin/bash
# dumps.sh - what the second night of a MariaDB dump costs: arca at several chunk sizes,
# through --mysql and through --stdin, next to restic (--stdin).  Not a test: it prints
# figures and ratios, asserts nothing.
#
#   tests/bench/dumps.sh [--rows N] [--sizes "4K 8K 16K 64K"] [--keep]
#
# A throwaway MariaDB server (scripts/mariadb-server.sh) gets two databases: shop, with a
# table orders of N rows (default 120000: id, customer, status, amount, placed, and a
# note of ~120 characters) and customers (N/15 rows); crm, with contacts (N/6 rows).
# Night 1 is backed up; then, as a nightly change does, 0.1 % of the orders are updated
# uniformly across the table (every 1000th id), 1 % of the contacts in one contiguous
# range are updated and 0.5 % deleted; night 2 is backed up.  For each way, the bytes the
# repository grew by on each night (arca: bytes_added of backup --json, the packs, index
# and snapshot objects written; restic: the growth of its directory), and night 2 as a
# fraction of night 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROWS=120000
SIZES="4K 8K 16K 64K"
KEEP=
while [ $# -gt 0 ]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: dumps.sh [--rows N] [--sizes \"4K 8K ...\"] [--keep]" >&2; exit 2 ;;
    esac
done
case $ROWS in ''|*[!0-9]*) echo "dumps.sh: --rows takes a number" >&2; exit 2 ;; esac

scripts/deps.sh bench
if [ -z "${ARCA:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" >/dev/null
    ARCA=$ROOT/build/cli/arca
fi
W=$(mktemp -d /tmp/arca-dumps.XXXXXX)
cleanup() {
    MARIADB_QUIET=1 "$ROOT/scripts/mariadb-server.sh" stop "$W/mariadb" >/dev/null 2>&1 || true
    [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "dumps: work dir $W" >&2

MARIADB_QUIET=1 scripts/mariadb-server.sh start "$W/mariadb" > "$W/mariadb.env"
set -a; source "$W/mariadb.env"; set +a
sql() { mariadb --defaults-file="$MYSQL_DEFAULTS_FILE" "$@"; }

sql <<SQL
CREATE DATABASE shop;
USE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, customer INT, status VARCHAR(16),
    amount DECIMAL(10,2), placed DATETIME, note VARCHAR(255));
INSERT INTO shop.orders SELECT seq, seq * 7919 % 50000, ELT(1 + seq % 4, 'new', 'paid', 'sent', 'done'),
    (seq * 37 % 100000) / 100, '2026-01-01' + INTERVAL (seq * 13 % 31536000) SECOND,
    CONCAT(MD5(seq), ' ', SHA1(seq), ' ', MD5(seq * 3)) FROM seq_1_to_$ROWS;
CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128));
INSERT INTO shop.customers SELECT seq, CONCAT('customer ', seq), CONCAT(MD5(seq), '@example.org')
    FROM seq_1_to_$(( ROWS / 15 ));
CREATE DATABASE crm;
USE crm;
CREATE TABLE crm.contacts (id INT PRIMARY KEY, name VARCHAR(64), phone VARCHAR(32), notes TEXT);
INSERT INTO crm.contacts SELECT seq, CONCAT('contact ', seq), CONCAT('+41 ', seq * 7 % 10000000),
    REPEAT(MD5(seq), 3) FROM seq_1_to_$(( ROWS / 6 ));
SQL

KDF=(--kdf-memory 8M --kdf-ops 1)
printf 'bench-pass\n' > "$W/pass"
export ARCA_PASSWORD_FILE=$W/pass ARCA_CACHE_DIR=$W/arca-cache RESTIC_PASSWORD=bench-pass
export RESTIC_CACHE_DIR=$W/restic-cache
ways=()
for s in $SIZES; do ways+=("mysql-$s"); done
ways+=(stdin restic)
dump() { mariadb-dump --defaults-file="$MYSQL_DEFAULTS_FILE" --single-transaction --all-databases; }
size_of() { du -sb "$1" | cut -f1; }

# night N: every way backs up once; bytes added into $W/results
night() {
    local n=$1 w before
    for w in "${ways[@]}"; do
        case $w in
            mysql-*)
                [ -d "$W/$w" ] || "$ARCA" -r "$W/$w" init -q "${KDF[@]}"
                "$ARCA" -r "$W/$w" backup --json --mysql --mysql-defaults-file "$MYSQL_DEFAULTS_FILE" \
                    --chunk-size-avg "${w#mysql-}" > "$W/$w.$n.json"
                echo "$w $n $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["bytes_added"])' "$W/$w.$n.json")" >> "$W/results"
                ;;
            stdin)
                [ -d "$W/$w" ] || "$ARCA" -r "$W/$w" init -q "${KDF[@]}"
                dump | "$ARCA" -r "$W/$w" backup --json --stdin --stdin-name dump.sql > "$W/$w.$n.json"
                echo "$w $n $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["bytes_added"])' "$W/$w.$n.json")" >> "$W/results"
                ;;
            restic)
                [ -d "$W/restic" ] || restic -r "$W/restic" init -q
                before=$(size_of "$W/restic")
                dump | restic -r "$W/restic" backup -q --stdin --stdin-filename dump.sql
                echo "$w $n $(( $(size_of "$W/restic") - before ))" >> "$W/results"
                ;;
        esac
    done
}

dump > "$W/dump1.sql"
echo "dump $(stat -c %s "$W/dump1.sql")" > "$W/info"
night 1
sql <<SQL
UPDATE shop.orders SET status = 'refunded', amount = amount + 1 WHERE id % 1000 = 0;
UPDATE crm.contacts SET phone = CONCAT(phone, '0') WHERE id BETWEEN $(( ROWS / 12 )) AND $(( ROWS / 12 + ROWS / 600 ));
DELETE FROM crm.contacts WHERE id BETWEEN $(( ROWS / 8 )) AND $(( ROWS / 8 + ROWS / 1200 ));
SQL
night 2

python3 - "$W/results" "$W/info" "$ROWS" <<'PY'
import sys
res = {}
for line in open(sys.argv[1]):
    w, n, b = line.split()
    res[(w, int(n))] = int(b)
info = dict(l.split(None, 1) for l in open(sys.argv[2]))
ways = list(dict.fromkeys(w for w, _ in res))
print(f"\n{int(sys.argv[3])} orders; dump {int(info['dump']) / 1e6:.1f} MB; night 2: 0.1 % of orders updated "
      "uniformly, 1 % of contacts updated in a range, 0.5 % deleted")
print(f"{'':16} {'night 1 B':>12} {'night 2 B':>12} {'night 2 / 1':>12} {'night 2 / restic':>17}")
r2 = res.get(('restic', 2))
for w in ways:
    a, b = res[(w, 1)], res[(w, 2)]
    print(f"{w:16} {a:>12,} {b:>12,} {b / a:>12.3f} {(b / r2 if r2 else float('nan')):>17.2f}")
PY
