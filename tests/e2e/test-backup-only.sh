#!/bin/bash
# Backup-only keys (docs/security.md), on this backend: a full key adds a backup-only slot
# (for one host); its holder backs up files, streams and --mysql-like streams, the second
# run of an unchanged tree reads no file content and adds almost nothing, and every
# command that reads or removes what the repository holds is refused (exit 13; status:
# UNKNOWN); it cannot open what it wrote itself.  The full key sees no difference:
# restores byte for byte, check --read-data, ls, diff, forget (by --key-slot too), prune
# and copy work on its snapshots; key list shows the kinds; a full key removes the slot.
# Old index objects are sealed again under the index key (its backups deduplicate against
# what was there), and versions that do not know backup-only keys are kept out.
source "$(dirname "$0")/lib.sh"

printf 'only backups\n' > "$T/pass-bo"
R=$(new_repo repo)
arca_init "$R" >/dev/null
make_fixture "$T/data"
head -c $((5 << 20)) /dev/urandom > "$T/data/big"
arca -r "$R" backup "$T/data" --host web01 -q          # before any backup-only slot
bo() { arca -r "$R" --password-file "$T/pass-bo" "$@"; }

# ---- the slot ------------------------------------------------------------------------------
arca -r "$R" --json key add --backup-only --host web01 --new-password-file "$T/pass-bo" > "$T/add.json"
slot=$(json_get "$T/add.json" 'j["id"]')
[ "$(json_get "$T/add.json" 'j["kind"]')" = backup-only ] || fail "key add --json: $(cat "$T/add.json")"
arca -r "$R" --json key list > "$T/keys.json"
[ "$(json_get "$T/keys.json" 'sorted((k["kind"], k.get("backup_host")) for k in j)')" = "[('backup-only', 'web01'), ('full', None)]" ] ||
    fail "key list kinds: $(cat "$T/keys.json")"
arca -r "$R" --json cat config > "$T/config.json"
[ "$(json_get "$T/config.json" '"backup-only-keys" in j["features"]')" = True ] || fail "the config is not marked: $(cat "$T/config.json")"
expect_rc 2 arca -r "$R" key add --host web01 --new-password-file "$T/pass-bo" 2>/dev/null

# ---- backups with it -----------------------------------------------------------------------
bo --json backup "$T/data" --host web01 > "$T/b1.json" || fail "backup with the backup-only key"
# the first one has no record of its own: it reads everything, but stores nothing that the
# index (sealed again under the index key) says is there
[ "$(json_get "$T/b1.json" 'j["summary"]["bytes_added"] < 256 << 10')" = True ] ||
    fail "the first backup-only run did not deduplicate: $(cat "$T/b1.json")"
echo "a new line" >> "$T/data/sub/changed"
bo --json backup "$T/data" --host web01 > "$T/b2.json"
bo --json backup "$T/data" --host web01 > "$T/b3.json"
# unchanged: nothing read, almost nothing added (its parent from the host's own record)
[ "$(json_get "$T/b3.json" 'j["summary"]["bytes_read"], j["summary"]["files_changed"] + j["summary"]["files_new"]')" = "(0, 0)" ] ||
    fail "an unchanged tree was read again: $(cat "$T/b3.json")"
[ "$(json_get "$T/b3.json" 'j["summary"]["bytes_added"] < 16 << 10')" = True ] || fail "an unchanged run added $(json_get "$T/b3.json" 'j["summary"]["bytes_added"]') bytes"
[ "$(json_get "$T/b2.json" 'j["summary"]["bytes_read"] < 4096')" = True ] || fail "a changed file made it read $(json_get "$T/b2.json" 'j["summary"]["bytes_read"]') bytes"
printf 'a stream\n' | bo backup --stdin --stdin-name /db/dump.sql --host web01 -q || fail "a stream with the backup-only key"
rc=0
bo backup "$T/data" --host db01 2> "$T/host.err" >/dev/null || rc=$?
[ "$rc" -eq 1 ] && contains 'as host web01 only' < "$T/host.err" || fail "another host name was taken ($rc): $(cat "$T/host.err")"

# the record is only a cache: damaged or gone, the next run reads more and stores nothing new
mapfile -t owns < <(find "$ARCA_CACHE_DIR" -path '*/own-trees/*' -type f)
[ ${#owns[@]} -ge 3 ] || fail "no record of the host's own trees in $ARCA_CACHE_DIR"
for f in "${owns[@]}"; do echo damaged > "$f"; done
bo --json backup "$T/data" --host web01 > "$T/b4.json" || fail "backup over a damaged record"
[ "$(json_get "$T/b4.json" 'j["summary"]["bytes_read"] > 5 << 20 and j["summary"]["bytes_added"] < 64 << 10')" = True ] ||
    fail "over a damaged record: $(cat "$T/b4.json")"
bo --json backup "$T/data" --host web01 > "$T/b5.json"
[ "$(json_get "$T/b5.json" 'j["summary"]["bytes_read"]')" = 0 ] || fail "the record was not made again: $(cat "$T/b5.json")"
find "$ARCA_CACHE_DIR" -path '*/own-*' -delete
bo --json backup "$T/data" --host web01 > "$T/b6.json"
[ "$(json_get "$T/b6.json" 'j["summary"]["bytes_read"] > 5 << 20 and j["summary"]["bytes_added"] < 64 << 10')" = True ] ||
    fail "without a record: $(cat "$T/b6.json")"

# ---- everything else refused ---------------------------------------------------------------
newest=$(arca -r "$R" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
for cmd in "snapshots" "ls latest" "restore latest --target $T/nope" "dump latest $T/data/big" \
           "diff $newest latest" "cat snapshot $newest" "check" "check --read-data" \
           "forget --keep-last 1" "prune" "stats" "key list" "key add" "key remove $slot" \
           "repair" "copy --from-repo $R"; do
    rc=0
    # shellcheck disable=SC2086  # the words of cmd
    ARCA_NEW_PASSWORD_FILE=$T/pass-bo ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE bo $cmd > "$T/ro.out" 2> "$T/ro.err" || rc=$?
    [ "$rc" -eq 13 ] || fail "'$cmd' with the backup-only key exited $rc, expected 13: $(cat "$T/ro.err")"
    contains 'backup-only key' < "$T/ro.err" || fail "'$cmd': $(cat "$T/ro.err")"
done
rc=0
bo status > "$T/status.out" || rc=$?
[ "$rc" -eq 3 ] && contains '^ARCA UNKNOWN - a backup-only key' < "$T/status.out" || fail "status with the backup-only key ($rc): $(cat "$T/status.out")"
# the index is what it reads (for deduplication); nothing of what it wrote opens with it:
# its local record holds its own trees, not their data
[ ! -d "$ARCA_CACHE_DIR" ] || [ -z "$(find "$ARCA_CACHE_DIR" -path '*own-trees*' -type f -size +1M)" ] ||
    fail "the host's record holds more than trees"

# ---- the full key sees no difference -------------------------------------------------------
arca -r "$R" --json snapshots > "$T/s.json"
[ "$(json_get "$T/s.json" 'len(j)')" = 8 ] || fail "the full key sees $(json_get "$T/s.json" 'len(j)') snapshots, expected 8"
[ "$(json_get "$T/s.json" 'sum(1 for s in j if s.get("key_slot") == "'"$slot"'")')" = 7 ] ||
    fail "the snapshots do not name the backup-only slot: $(cat "$T/s.json")"
arca -r "$R" check --read-data >/dev/null || fail "check --read-data of what the backup-only key wrote"
rm -rf "$T/r1"
arca -r "$R" restore latest --path "$T/data" --target "$T/r1" -q || fail "restore of the backup-only snapshot"
compare_trees "$T/data" "$T/r1$T/data"
arca -r "$R" dump latest --path /db/dump.sql /db/dump.sql | contains -x 'a stream' || fail "dump of the backup-only stream"
arca -r "$R" ls latest --path "$T/data" "$T/data/sub" | contains -F "$T/data/sub/changed" || fail "ls"
arca -r "$R" diff "$(json_get "$T/s.json" 'j[0]["id"]')" "$(json_get "$T/s.json" 'j[2]["id"]')" |
    contains -F "sub/changed" || fail "diff across the kinds of key"
# copy: with the same keys (as stored) and with others (re-keyed)
S=$(new_repo same)
arca_init "$S" --from-repo "$R" --copy-chunker-params --from-password-file "$ARCA_PASSWORD_FILE" >/dev/null
ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE arca -r "$S" copy --from-repo "$R" -q || fail "copy of backup-only snapshots"
arca -r "$S" check --read-data >/dev/null || fail "check of the copy"
expect_rc 13 arca -r "$S" copy --from-repo "$R" --from-password-file "$T/pass-bo" 2>/dev/null   # as a source
expect_rc 13 arca_init "$(new_repo from-bo)" --from-repo "$R" --from-password-file "$T/pass-bo" --copy-chunker-params 2>/dev/null
O=$(new_repo other)
arca_init "$O" >/dev/null
ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE arca -r "$O" copy --from-repo "$R" -q || fail "re-keyed copy of backup-only snapshots"
rm -rf "$T/r2"
arca -r "$O" restore latest --path "$T/data" --target "$T/r2" -q
compare_trees "$T/data" "$T/r2$T/data"
# forget what the slot wrote, prune, the rest intact
arca -r "$R" --json forget --key-slot "${slot:0:8}" > "$T/f.json"
[ "$(json_get "$T/f.json" 'j["removed"]')" = 7 ] || fail "forget --key-slot: $(cat "$T/f.json")"
arca -r "$R" prune -q || fail "prune after forgetting the backup-only snapshots"
arca -r "$R" check --read-data >/dev/null || fail "check after prune"
rm -rf "$T/r3"
arca -r "$R" restore latest --target "$T/r3" -q
[ -f "$T/r3$T/data/big" ] && cmp -s "$T/data/big" "$T/r3$T/data/big" || fail "the full key's snapshot lost data"
# the slot removed: its passphrase opens nothing
arca -r "$R" key remove "${slot:0:8}" >/dev/null || fail "key remove of the backup-only slot"
expect_rc 12 bo backup "$T/data" --host web01 -q 2>/dev/null
pass
