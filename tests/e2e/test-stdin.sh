#!/bin/bash
# Streams: --stdin round trip through dump, the chunk size recorded, small chunks
# deduplicate an edited dump far better than the file profile, and a stream gets the
# dump profile unless --chunk-size-avg says otherwise.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null

python3 - "$T/dump1.sql" "$T/dump2.sql" <<'PY'
import random, sys
random.seed(42)
rows = [f"INSERT INTO t VALUES ({i},'{random.getrandbits(64):x}','{'x' * random.randint(10, 200)}');\n"
        for i in range(200000)]
open(sys.argv[1], 'w').writelines(rows)
# change 1% of the rows, in 20 runs of 100 (updates hit related rows)
for start in random.sample(range(0, len(rows) - 100, 100), 20):
    for i in range(start, start + 100):
        rows[i] = rows[i].replace("'", "'~", 1)
open(sys.argv[2], 'w').writelines(rows)
PY

arca -r "$R" backup --stdin --stdin-name /db/app.sql --chunk-size-avg 64K --tag db < "$T/dump1.sql" >/dev/null
arca -r "$R" dump latest /db/app.sql | cmp - "$T/dump1.sql" || fail "stdin round trip differs"
arca -r "$R" snapshots --json > "$T/s.json"
[ "$(json_get "$T/s.json" 'j[0]["chunker"]["avg"]')" = 65536 ] || fail "chunk size not recorded"
[ "$(json_get "$T/s.json" 'j[0]["paths"]')" = "['/db/app.sql']" ] || fail "stream path not recorded"
s1=$(repo_size "$R")
arca -r "$R" backup --stdin --stdin-name /db/app.sql --chunk-size-avg 64K < "$T/dump2.sql" --json > "$T/b2.json"
arca -r "$R" dump latest /db/app.sql | cmp - "$T/dump2.sql" || fail "second stream differs"
s2=$(repo_size "$R")
# 1% of rows changed: with 64 KiB chunks far less than half of the dump is new
[ $(( (s2 - s1) * 2 )) -lt "$s1" ] || fail "edited dump added $((s2 - s1)) bytes to $s1"
[ "$(json_get "$T/b2.json" 'j["summary"]["files_changed"]')" = 1 ] || fail "stream not counted as changed"

# without --chunk-size-avg a stream gets the dump profile (8 KiB), not the file profile,
# and the edited dump costs as little; --chunk-size-avg still chooses another
R2=$(new_repo default-profile)
arca_init "$R2" >/dev/null
arca -r "$R2" backup --stdin --stdin-name /db/app.sql < "$T/dump1.sql" >/dev/null
arca -r "$R2" snapshots --json > "$T/s2.json"
[ "$(json_get "$T/s2.json" 'j[0]["chunker"]["avg"]')" = 8192 ] || fail "a stream did not get the dump profile"
d1=$(repo_size "$R2")
arca -r "$R2" backup --stdin --stdin-name /db/app.sql < "$T/dump2.sql" >/dev/null
d2=$(repo_size "$R2")
[ $(( (d2 - d1) * 2 )) -lt "$d1" ] || fail "with the default profile the edited dump added $((d2 - d1)) bytes to $d1"
arca -r "$R2" backup --stdin --stdin-name /db/big.sql --chunk-size-avg 1M < "$T/dump1.sql" >/dev/null
arca -r "$R2" snapshots --json > "$T/s2.json"
[ "$(json_get "$T/s2.json" 'j[-1]["chunker"]["avg"]')" = 1048576 ] || fail "--chunk-size-avg 1M not recorded"
arca -r "$R2" dump latest /db/big.sql | cmp - "$T/dump1.sql" || fail "1M stream differs"

# the default name
printf 'plain\n' | arca -r "$R" backup --stdin >/dev/null
[ "$(arca -r "$R" dump latest /stdin)" = plain ] || fail "default stream name"
# an empty stream
arca -r "$R" backup --stdin --stdin-name empty </dev/null >/dev/null
[ "$(arca -r "$R" dump latest /empty | wc -c)" = 0 ] || fail "empty stream"
arca -r "$R" check --read-data >/dev/null
pass
