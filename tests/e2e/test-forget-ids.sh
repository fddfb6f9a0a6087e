#!/bin/bash
# forget SNAPSHOT...: removes exactly the snapshots named (full ids, unique prefixes,
# latest with filters), with --dry-run, --json in the shape of policy forget's output and
# --prune; every argument is resolved before anything is removed, so one that matches
# nothing (a typo, or a snapshot an earlier run removed) is exit 1 with nothing removed;
# ids together with a policy are a usage error; the example playbook that forgets ids is
# idempotent (check mode, then changed, then ok).
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src"
for t in a b c d e; do
    printf '%s\n' "$t" > "$T/src/$t"
    head -c 200000 /dev/urandom > "$T/src/$t.bin"
    arca -r "$R" backup "$T/src" --tag "$t" >/dev/null
done

ids_file() { arca -r "$R" --json snapshots > "$T/snaps.json"; }
# the id of the snapshot tagged $1 (empty if none)
id_of() {
    ids_file
    json_get "$T/snaps.json" "next((s['id'] for s in j if '$1' in s['tags']), '')"
}
tags_left() {
    ids_file
    json_get "$T/snaps.json" "' '.join(sorted(t for s in j for t in s['tags']))"
}
A=$(id_of a) B=$(id_of b) C=$(id_of c) D=$(id_of d) E=$(id_of e)
[ -n "$A" ] && [ -n "$E" ] || fail "setup: snapshots missing"

# ---- usage -------------------------------------------------------------------------------
expect_rc 2 arca -r "$R" forget "$A" --keep-last 1 2>/dev/null
expect_rc 2 arca -r "$R" forget "$A" --keep-tag a 2>/dev/null
expect_rc 2 arca -r "$R" forget "$A" --group-by host 2>/dev/null
expect_rc 2 arca -r "$R" forget 2>/dev/null
[ "$(tags_left)" = "a b c d e" ] || fail "a usage error removed snapshots: $(tags_left)"

# ---- dry run: nothing removed, the plan shown --------------------------------------------
arca -r "$R" forget --dry-run "$A" "${B:0:10}" > "$T/dry.txt" || fail "forget --dry-run ID... failed"
[ "$(tags_left)" = "a b c d e" ] || fail "--dry-run removed snapshots: $(tags_left)"
grep -qE "^  remove ${A:0:8} " "$T/dry.txt" || fail "dry run does not list $A: $(cat "$T/dry.txt")"
grep -qE "^  remove ${B:0:8} " "$T/dry.txt" || fail "dry run does not list $B: $(cat "$T/dry.txt")"
grep -qx "would remove 2 snapshots" "$T/dry.txt" || fail "dry run summary: $(cat "$T/dry.txt")"
arca -r "$R" --json forget --dry-run "$A" "${B:0:10}" > "$T/dry.json"
[ "$(json_get "$T/dry.json" "(j['dry_run'], j['changed'], j['removed'], j['would_remove'], j['kept'])")" = \
  "(True, False, 0, 2, 0)" ] || fail "dry run JSON: $(cat "$T/dry.json")"

# ---- the same JSON shape as policy forget ------------------------------------------------
arca -r "$R" --json forget --dry-run --keep-last 1 > "$T/policy.json"
shape='(sorted(j), sorted(j["groups"][0]), sorted(j["groups"][0]["remove"][0]))'
[ "$(json_get "$T/dry.json" "$shape")" = "$(json_get "$T/policy.json" "$shape")" ] ||
    fail "forget ID --json differs in shape from policy forget: $(cat "$T/dry.json") vs $(cat "$T/policy.json")"

# ---- removing: a full id and a prefix ----------------------------------------------------
arca -r "$R" --json forget "$A" "${B:0:10}" > "$T/rm.json" || fail "forget ID... failed"
[ "$(tags_left)" = "c d e" ] || fail "forget A B left: $(tags_left)"
[ "$(json_get "$T/rm.json" "(j['dry_run'], j['changed'], j['removed'], j['would_remove'])")" = \
  "(False, True, 2, 2)" ] || fail "forget JSON: $(cat "$T/rm.json")"
[ "$(json_get "$T/rm.json" "sorted(s['id'] for g in j['groups'] for s in g['remove'])")" = \
  "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$A" "$B")" ] ||
    fail "forget JSON does not list the removed ids: $(cat "$T/rm.json")"
[ "$(json_get "$T/rm.json" "[s for g in j['groups'] for s in g['keep']]")" = "[]" ] ||
    fail "forget ID keeps something in JSON: $(cat "$T/rm.json")"

# ---- twice: the ids are gone, so the second run is an error that changes nothing --------
rc=0
arca -r "$R" --json forget "$A" "${B:0:10}" > "$T/again.json" 2> "$T/again.err" || rc=$?
[ $rc -eq 1 ] || fail "forget of removed ids: exit $rc, expected 1"
grep -qF "no snapshot $A" "$T/again.err" || fail "no clear message for a removed id: $(cat "$T/again.err")"
grep -qF "no snapshot ${B:0:10}" "$T/again.err" || fail "not every missing id is named: $(cat "$T/again.err")"
[ "$(tags_left)" = "c d e" ] || fail "a failed forget removed snapshots: $(tags_left)"

# ---- one bad id among good ones: nothing removed at all ----------------------------------
rc=0
arca -r "$R" forget "$C" 0000beef "$D" 2> "$T/bad.err" >/dev/null || rc=$?
[ $rc -eq 1 ] || fail "forget with a bad id: exit $rc, expected 1"
grep -qF "no snapshot 0000beef" "$T/bad.err" || fail "the bad id is not named: $(cat "$T/bad.err")"
[ "$(tags_left)" = "c d e" ] || fail "partial removal with a bad id: $(tags_left)"
expect_rc 1 arca -r "$R" forget "$C" not-an-id 2>/dev/null
[ "$(tags_left)" = "c d e" ] || fail "partial removal with a malformed id: $(tags_left)"

# ---- latest, with a filter; the same snapshot twice is removed once -----------------------
arca -r "$R" --json forget latest --tag c > "$T/latest.json" || fail "forget latest --tag c failed"
[ "$(tags_left)" = "d e" ] || fail "forget latest --tag c left: $(tags_left)"
[ "$(json_get "$T/latest.json" "[s['id'] for g in j['groups'] for s in g['remove']]")" = "['$C']" ] ||
    fail "forget latest JSON: $(cat "$T/latest.json")"
arca -r "$R" --json forget "$D" "${D:0:12}" > "$T/dup.json" || fail "forget D D failed"
[ "$(json_get "$T/dup.json" "j['removed']")" = 1 ] || fail "the same snapshot twice: $(cat "$T/dup.json")"
[ "$(tags_left)" = "e" ] || fail "forget D D left: $(tags_left)"

# ---- --prune: the data of the removed snapshots goes too ---------------------------------
before=$(repo_size "$R")
arca -r "$R" --json forget "$E" --prune > "$T/prune.json" || fail "forget ID --prune failed"
[ "$(tags_left)" = "" ] || fail "forget E --prune left: $(tags_left)"
[ "$(json_get "$T/prune.json" "(j['changed'], j['prune']['dry_run'], j['prune']['packs_deleted'] > 0, j['prune']['bytes_freed'] > 0)")" = \
  "(True, False, True, True)" ] || fail "forget ID --prune JSON: $(cat "$T/prune.json")"
after=$(repo_size "$R")
[ "$after" -lt "$before" ] || fail "forget --prune freed nothing ($before -> $after bytes)"
arca -r "$R" check >/dev/null || fail "check after forget ID --prune"

# ---- Ansible: docs/examples/arca-forget-ids.yml is idempotent -------------------------------
command -v ansible-playbook >/dev/null || fail "ansible-playbook is not installed (scripts/deps.sh test)"
for t in f g h; do
    printf '%s\n' "$t" > "$T/src/$t"
    arca -r "$R" backup "$T/src" --tag "$t" >/dev/null
done
F=$(id_of f) G=$(id_of g)
mkdir -p "$T/bin"
ln -s "$ARCA" "$T/bin/arca"
export ANSIBLE_LOCAL_TEMP=$T/ansible-tmp ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
play() {   # play [OPTIONS]: prints the recap line
    local rc=0
    PATH="$T/bin:$PATH" ansible-playbook -i localhost, "$HERE/../../docs/examples/arca-forget-ids.yml" \
        -e "arca_repository=$R" -e "arca_password_file=$ARCA_PASSWORD_FILE" \
        -e "{\"arca_forget_ids\": [\"$F\", \"$G\"]}" "$@" > "$T/play.out" 2>&1 || rc=$?
    [ $rc -eq 0 ] || { cat "$T/play.out" >&2; fail "ansible-playbook failed (exit $rc)"; }
    grep -E '^localhost +:' "$T/play.out" || true
}
recap=$(play --check)
[[ $recap == *changed=0* ]] || fail "check mode changed something: $recap"
[ "$(tags_left)" = "f g h" ] || fail "check mode removed snapshots: $(tags_left)"
recap=$(play)
[[ $recap == *changed=1* ]] || fail "the first run did not report changed: $recap"
[ "$(tags_left)" = "h" ] || fail "the play left: $(tags_left)"
recap=$(play)
[[ $recap == *changed=0* && $recap == *failed=0* ]] || fail "the second run did not report ok: $recap"
[ "$(tags_left)" = "h" ] || fail "the second run left: $(tags_left)"
pass
