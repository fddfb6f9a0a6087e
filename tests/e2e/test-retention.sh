#!/bin/bash
# forget and prune: two simulated years of snapshots (--time), forget keeps exactly what an
# independent model of the policy keeps, a second forget changes nothing, prune frees
# space, check --read-data passes and every kept snapshot restores byte-identical.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" --pack-size 1M >/dev/null
mkdir -p "$T/src"
# content(i): what snapshot i holds: files i-3..i (200 KB each, from a pool), one shared file
mkdir -p "$T/pool"
python3 -c "
import random
for k in range(200):
    random.seed(k)
    open('$T/pool/f%d' % k, 'wb').write(random.randbytes(200000))"
content() {
    rm -f "$T/src"/f*
    for k in $(seq $(($1 > 3 ? $1 - 3 : 0)) "$1"); do
        cp -p "$T/pool/f$k" "$T/src/f$k"
    done
}
head -c 300000 /dev/urandom > "$T/src/shared"
# two years, every 5 days at 02:00 (+00:00), plus a second one on some days and a
# snapshot with a keep tag
python3 - > "$T/times" <<'PY'
import datetime
t = datetime.datetime(2023, 1, 1, 2, 0, tzinfo=datetime.timezone.utc)
i = 0
while t < datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc):
    print(i, t.isoformat())
    if i % 9 == 0:
        print(i + 1, (t + datetime.timedelta(hours=5)).isoformat())
        i += 1
    i += 1
    t += datetime.timedelta(days=5)
PY
while read -r i when; do
    content "$i"
    tag=""
    [ "$i" = 42 ] && tag="--tag keep"
    arca -r "$R" backup "$T/src" --time "$when" --host h1 $tag >/dev/null
done < "$T/times"
arca -r "$R" snapshots --json > "$T/all.json"
total=$(json_get "$T/all.json" 'len(j)')

policy="--keep-last 2 --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3 --keep-tag keep"
arca -r "$R" forget $policy --dry-run --json > "$T/dry.json"
[ "$(json_get "$T/dry.json" 'j["changed"]')" = False ] || fail "dry run says changed"
[ "$(json_get "$T/all.json" 'len(j)')" = "$(arca -r "$R" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" ] ||
    fail "dry run removed snapshots"
arca -r "$R" forget $policy --json > "$T/f1.json"

# an independent model of the policy (restic's semantics)
python3 - "$T/all.json" "$T/f1.json" <<'PY'
import datetime, json, sys
snaps = json.load(open(sys.argv[1]))
res = json.load(open(sys.argv[2]))
snaps.sort(key=lambda s: (s["time"], s["id"]), reverse=True)
def t(s): return datetime.datetime.fromisoformat(s["time"][:26] + s["time"][29:])
buckets = {
    "daily": (7, lambda d: d.date()),
    "weekly": (4, lambda d: d.isocalendar()[:2]),
    "monthly": (12, lambda d: (d.year, d.month)),
    "yearly": (3, lambda d: d.year),
}
keep = {}
for k, (n, f) in buckets.items():
    last = None
    for s in snaps:
        b = f(t(s))
        if b != last and n > 0:
            keep.setdefault(s["id"], []).append(k + " snapshot")
            n -= 1
        last = b if b != last else last
for s in snaps[:2]:
    keep.setdefault(s["id"], []).append("last snapshot")
for s in snaps:
    if "keep" in s["tags"]:
        keep.setdefault(s["id"], []).append("has tag keep")
got_keep = {s["id"]: s["reasons"] for g in res["groups"] for s in g["keep"]}
got_remove = {s["id"] for g in res["groups"] for s in g["remove"]}
if set(got_keep) != set(keep):
    print("kept differs: extra", sorted(set(got_keep) - set(keep))[:5], "missing", sorted(set(keep) - set(got_keep))[:5])
    sys.exit(1)
for i, reasons in keep.items():
    if sorted(reasons) != sorted(got_keep[i]):
        print("reasons differ for", i, reasons, got_keep[i])
        sys.exit(1)
if got_remove != {s["id"] for s in snaps} - set(keep):
    print("removed set differs")
    sys.exit(1)
if not res["changed"] or res["removed"] != len(got_remove):
    print("changed/removed wrong", res["changed"], res["removed"])
    sys.exit(1)
PY
[ $? -eq 0 ] || fail "forget kept the wrong snapshots"
kept=$(json_get "$T/f1.json" 'j["kept"]')
[ "$kept" -lt "$total" ] || fail "nothing was forgotten"

# the same forget again changes nothing
arca -r "$R" forget $policy --json > "$T/f2.json"
[ "$(json_get "$T/f2.json" 'bool(j["changed"] or j["removed"])')" = False ] || fail "second forget changed something"

# prune frees space, the second time there is nothing left to free
before=$(repo_size "$R")
arca -r "$R" prune --json > "$T/p1.json"
after=$(repo_size "$R")
[ "$(json_get "$T/p1.json" 'j["changed"] and j["bytes_freed"] > 0')" = True ] || fail "prune freed nothing: $(cat "$T/p1.json")"
[ "$after" -lt "$before" ] || fail "repository did not shrink ($before -> $after)"
arca -r "$R" prune --json > "$T/p2.json"
[ "$(json_get "$T/p2.json" 'j["changed"]')" = False ] || fail "second prune changed something: $(cat "$T/p2.json")"
arca -r "$R" check --read-data >/dev/null || fail "check after prune"

# every kept snapshot still holds exactly its content
python3 -c 'import json,sys; [print(s["id"], s["time"]) for s in json.load(sys.stdin)]' < <(arca -r "$R" snapshots --json) > "$T/kept"
while read -r id when; do
    i=$(awk -v w="$when" 'substr($2,1,19) == substr(w,1,19) {print $1}' "$T/times")
    [ -n "$i" ] || fail "no source for snapshot at $when"
    content "$i"
    rm -rf "$T/r"
    arca -r "$R" restore "$id" --target "$T/r" >/dev/null
    diff -r "$T/src" "$T/r$T/src" >/dev/null || fail "snapshot $id ($when) does not restore its content"
done < "$T/kept"
pass
