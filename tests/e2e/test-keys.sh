#!/bin/bash
# Key slots: add, list, open with either passphrase, passwd, remove; every snapshot
# records the slot that wrote it, and forget --key-slot removes what one slot wrote.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
printf 'second one\n' > "$T/p2"
printf 'third one\n' > "$T/p3"
arca -r "$R" key add --new-password-file "$T/p2" --json > "$T/add.json"
id2=$(json_get "$T/add.json" 'j["id"]')
arca -r "$R" --password-file "$T/p2" snapshots >/dev/null || fail "second passphrase does not open"
arca -r "$R" key list --json > "$T/list.json"
[ "$(json_get "$T/list.json" 'len(j)')" = 2 ] || fail "two keys expected"
[ "$(json_get "$T/list.json" 'sum(1 for k in j if k["current"])')" = 1 ] || fail "one current key"
expect_rc 1 arca -r "$R" --password-file "$T/p2" key remove "$id2"     # the one in use
arca -r "$R" --password-file "$T/p2" key passwd --new-password-file "$T/p3" >/dev/null
expect_rc 12 arca -r "$R" --password-file "$T/p2" snapshots
arca -r "$R" --password-file "$T/p3" snapshots >/dev/null || fail "passwd"
first=$(arca -r "$R" --password-file "$T/p3" key list --json | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if not k["current"]][0])')
arca -r "$R" --password-file "$T/p3" key remove "${first:0:8}" >/dev/null
expect_rc 12 arca -r "$R" snapshots
[ "$(arca -r "$R" --password-file "$T/p3" key list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] || fail "remove"
expect_rc 1 arca -r "$R" --password-file "$T/p3" key remove "${first:0:8}"

# the slot of each snapshot, and forget --key-slot (a host's key that is not trusted any
# more: everything it wrote goes, the rest stays; a second run removes nothing)
K=$(new_repo slots)
arca_init "$K" >/dev/null
arca -r "$K" key add --new-password-file "$T/p2" --json > "$T/k2.json"
slot2=$(json_get "$T/k2.json" 'j["id"]')
slot1=$(arca -r "$K" key list --json | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if k["current"]][0])')
mkdir -p "$T/d"
echo one > "$T/d/f"
arca -r "$K" backup "$T/d" --host web01 -q
echo two > "$T/d/f"
arca -r "$K" --password-file "$T/p2" backup "$T/d" --host web01 -q
arca -r "$K" --password-file "$T/p2" backup "$T/d" --host db01 -q
arca -r "$K" --json snapshots > "$T/s.json"
[ "$(json_get "$T/s.json" '[s["key_slot"] for s in j]')" = "['$slot1', '$slot2', '$slot2']" ] ||
    fail "the snapshots do not record their key slots: $(cat "$T/s.json")"
arca -r "$K" --json forget --key-slot "${slot2:0:8}" --host web01 --dry-run > "$T/f0.json"
[ "$(json_get "$T/f0.json" 'j["would_remove"], j["removed"], j["changed"]')" = "(1, 0, False)" ] ||
    fail "forget --key-slot --dry-run: $(cat "$T/f0.json")"
arca -r "$K" --json forget --key-slot "${slot2:0:8}" > "$T/f1.json"
[ "$(json_get "$T/f1.json" 'j["removed"], j["changed"]')" = "(2, True)" ] || fail "forget --key-slot: $(cat "$T/f1.json")"
arca -r "$K" --json forget --key-slot "${slot2:0:8}" > "$T/f2.json"
[ "$(json_get "$T/f2.json" 'j["removed"], j["changed"]')" = "(0, False)" ] || fail "forget --key-slot again: $(cat "$T/f2.json")"
[ "$(arca -r "$K" --json snapshots | python3 -c 'import json,sys; print([s["key_slot"] for s in json.load(sys.stdin)])')" = "['$slot1']" ] ||
    fail "forget --key-slot removed the wrong snapshots"
expect_rc 2 arca -r "$K" forget --key-slot xyz 2>/dev/null
expect_rc 2 arca -r "$K" forget --key-slot "$slot1" --keep-last 1 2>/dev/null
arca -r "$K" check >/dev/null || fail "check after forget --key-slot"
pass
