#!/bin/bash
# Key slots: add, list, open with either passphrase, passwd, remove.
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
pass
