#!/bin/bash
# The example playbook (docs/examples/arca-retention.yml) with Debian's ansible-core
# against localhost: the first run reports changed, the second ok.
source "$(dirname "$0")/lib.sh"
command -v ansible-playbook >/dev/null || fail "ansible-playbook is not installed (scripts/deps.sh test)"

R=$(new_repo repo)
arca_init "$R" >/dev/null
mkdir -p "$T/src"
for d in 01 02 03 04 05 06 07 08 09 10; do
    printf '%s\n' "$d" > "$T/src/day"
    head -c 100000 /dev/urandom > "$T/src/data-$d"
    arca -r "$R" backup "$T/src" --time "2024-03-$d 01:00:00" >/dev/null
done
mkdir -p "$T/bin"
ln -s "$ARCA" "$T/bin/arca"
export ANSIBLE_LOCAL_TEMP=$T/ansible-tmp ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
play() {
    PATH="$T/bin:$PATH" ansible-playbook -i localhost, "$HERE/../../docs/examples/arca-retention.yml" \
        -e "arca_repository=$R" -e "arca_password_file=$ARCA_PASSWORD_FILE" \
        -e '{"arca_policy": ["--keep-last=3"]}' "$@" > "$T/play.out" 2>&1 || {
        cat "$T/play.out" >&2
        fail "ansible-playbook failed"
    }
    grep -E '^localhost +:' "$T/play.out"
}
recap=$(play --check)
contains 'changed=0' <<< "$recap" || fail "check mode changed something: $recap"
[ "$(arca -r "$R" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 10 ] ||
    fail "check mode removed snapshots"
recap=$(play)
contains 'changed=1' <<< "$recap" || fail "first run did not report changed: $recap"
recap=$(play)
contains 'changed=0' <<< "$recap" || fail "second run did not report ok: $recap"
[ "$(arca -r "$R" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] ||
    fail "the policy was not applied"
arca -r "$R" check >/dev/null
pass
