#!/bin/bash
# What arca prints says what it means and cannot be turned against the terminal: names from
# a snapshot (ls, ls -l link targets, diff, error messages) have their non-UTF-8 bytes,
# controls and bidi overrides escaped while valid UTF-8 stays as it is; ls -l shows the
# numbers of owners without a name; counts say "1 snapshot", not "1 snapshots"; -r FILE is
# "no repository" (exit 10); a passphrase over the limit is named as such; version --json
# gives the build's features and library versions, and --version works after a command too.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null

# ---- names ---------------------------------------------------------------------------
# (made with UTF-8 bytes: printf's \u depends on the locale, and a fresh system has none)
S=$T/src
mkdir -p "$S"
rtl=$(printf 'rtl-\xe2\x80\xae-txt.exe')        # RIGHT-TO-LEFT OVERRIDE: "exe.txt-" on screen
esc=$(printf 'esc-\033[31m-red')                # a terminal escape in a name
csi=$(printf 'c1-\xc2\x9b-csi')                 # U+009B, the 8-bit CSI
lat=$(printf 'latin1-caf\xe9')                  # not UTF-8
iso=$(printf 'iso-\xe2\x81\xa7-x')              # RIGHT-TO-LEFT ISOLATE
mark=$(printf 'mark-\xe2\x80\x8f\xd8\x9c-x')    # RLM, ALM
utf='utf8-café-日本語'                             # valid UTF-8: shown as it is
for n in "$rtl" "$esc" "$csi" "$lat" "$iso" "$mark" "$utf"; do printf 'x\n' > "$S/$n"; done
ln -s "$(printf 'target-\xe2\x80\xad-\xff')" "$S/link"
arca -r "$R" backup "$S" >/dev/null

arca -r "$R" ls latest "$S" > "$T/ls"
arca -r "$R" ls -l latest "$S" > "$T/ls-l"
# no raw control or bidi character reaches the output, and every line is valid UTF-8
no_raw() {   # no_raw FILE WHAT
    python3 - "$1" "$2" <<'EOF' || fail "$2"
import sys
data = open(sys.argv[1], 'rb').read()
try:
    text = data.decode('utf-8')
except UnicodeDecodeError as e:
    sys.exit(f"{sys.argv[2]}: not UTF-8: {e}")
bad = [c for c in text if (ord(c) < 0x20 and c != '\n') or 0x7f <= ord(c) <= 0x9f
       or ord(c) in (0x61c, 0x200e, 0x200f) or 0x2028 <= ord(c) <= 0x202e
       or 0x2066 <= ord(c) <= 0x2069]
if bad:
    sys.exit(f"{sys.argv[2]}: raw {[hex(ord(c)) for c in bad]} in the output")
EOF
}
no_raw "$T/ls" "ls prints raw control or bidi characters"
no_raw "$T/ls-l" "ls -l prints raw control or bidi characters"
for want in 'rtl-\u202e-txt.exe' 'esc-\x1b[31m-red' 'c1-\u009b-csi' 'latin1-caf\xe9' \
            'iso-\u2067-x' 'mark-\u200f\u061c-x' "$utf"; do
    grep -qxF "$S/$want" "$T/ls" || fail "ls: no line '$S/$want': $(cat "$T/ls")"
done
grep -qF -- "$S/link -> target-\\u202d-\\xff" "$T/ls-l" || fail "ls -l: link target not escaped: $(cat "$T/ls-l")"
# JSON keeps the exact name (its own escaping; path_hex for bytes that are not UTF-8)
arca -r "$R" --json ls latest "$S" > "$T/ls.json"
python3 - "$T/ls.json" "$S" <<'EOF' || fail "ls --json lost a name"
import json, sys
paths = {e["path"] for e in json.load(open(sys.argv[1]))}
for n in ("rtl-\u202e-txt.exe", "esc-\x1b[31m-red", "c1-\x9b-csi", "utf8-café-日本語"):
    assert sys.argv[2] + "/" + n in paths, n
EOF

# diff: the same escaping
printf 'y\n' > "$S/$(printf 'new-\xe2\x80\xae-gpj.exe')"
arca -r "$R" backup "$S" >/dev/null
mapfile -t ids < <(arca -r "$R" --json snapshots | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]')
arca -r "$R" diff "${ids[0]}" "${ids[1]}" > "$T/diff"
no_raw "$T/diff" "diff prints raw control or bidi characters"
grep -qF "$S/new-\\u202e-gpj.exe" "$T/diff" || fail "diff: the new name is not escaped: $(cat "$T/diff")"

# snapshots: host and tags are whatever --host and --tag were given
arca -r "$R" backup "$S" --host "$(printf 'host-\033]0;x\a-\xe2\x80\xae')" --tag "$(printf 'tag-\xe2\x81\xa6')" >/dev/null
arca -r "$R" snapshots > "$T/snaps-esc"
no_raw "$T/snaps-esc" "snapshots prints raw control or bidi characters"
grep -qF 'host-\x1b]0;x\x07-\u202e' "$T/snaps-esc" || fail "snapshots: the host is not escaped: $(cat "$T/snaps-esc")"
grep -qF 'tag-\u2066' "$T/snaps-esc" || fail "snapshots: the tag is not escaped: $(cat "$T/snaps-esc")"

# messages name paths escaped too
rc=0
arca -r "$R" ls latest "$S/$(printf 'missing-\033[2J-\xe2\x80\xae')" 2> "$T/msg" >/dev/null || rc=$?
[ $rc -eq 1 ] || fail "ls of a missing path: exit $rc"
no_raw "$T/msg" "an error message prints raw control or bidi characters"
grep -qF 'missing-\x1b[2J-\u202e' "$T/msg" || fail "the message does not name the path escaped: $(cat "$T/msg")"

# ---- ls -l: owners without a name ---------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    if getent passwd 4242 >/dev/null || getent group 4343 >/dev/null; then
        fail "uid 4242 or gid 4343 has a name on this machine: pick others"
    fi
    printf 'z\n' > "$S/nameless"
    chown 4242:4343 "$S/nameless"
    arca -r "$R" backup "$S" >/dev/null
    arca -r "$R" ls -l latest "$S/nameless" > "$T/ls-nameless"
    grep -qE '^-rw-r--r-- +4242 +4343 +2 ' "$T/ls-nameless" ||
        fail "ls -l does not show the numbers of a nameless owner: $(cat "$T/ls-nameless")"
else
    echo "$TEST_NAME: not root: the numeric owners of ls -l are not checked" >&2
fi

# ---- counts -------------------------------------------------------------------------------
R1=$(new_repo one)
arca_init "$R1" >/dev/null
mkdir -p "$T/one"
printf 'one\n' > "$T/one/f"
arca -r "$R1" backup "$T/one" >/dev/null
arca -r "$R1" snapshots > "$T/snaps"
grep -qx '1 snapshot' "$T/snaps" || fail "snapshots: no '1 snapshot' line: $(cat "$T/snaps")"
arca -r "$R1" -v check > "$T/check"
grep -qF 'no errors: 1 snapshot, ' "$T/check" || fail "check: $(cat "$T/check")"
arca -r "$R1" -v forget --keep-last 1 > "$T/forget"
grep -qx 'nothing to remove: 1 snapshot kept' "$T/forget" || fail "forget: $(cat "$T/forget")"
arca -r "$R1" -v backup "$T/one/f" > "$T/backup"
grep -qF '(1 file, ' "$T/backup" || fail "backup: $(cat "$T/backup")"
if grep -qE '(^|[^0-9])1 (snapshots|entries|files|packs|blobs|trees|errors)\b' \
        "$T/snaps" "$T/check" "$T/forget" "$T/backup"; then
    fail "a count of 1 with a plural noun"
fi

# ---- -r FILE: no repository, exit 10 ------------------------------------------------------
printf 'not a repository\n' > "$T/plain-file"
rc=0
arca -r "$T/plain-file" snapshots 2> "$T/msg" || rc=$?
[ $rc -eq 10 ] || fail "-r FILE: exit $rc, expected 10 ($(cat "$T/msg"))"
grep -qF "no repository at $T/plain-file" "$T/msg" || fail "-r FILE: $(cat "$T/msg")"
expect_rc 10 arca -r "$T/plain-file/below" snapshots 2>/dev/null
expect_rc 10 arca -r "$T/no-such-dir" snapshots 2>/dev/null
rc=0
arca_init "$T/plain-file" 2> "$T/msg" >/dev/null || rc=$?
[ $rc -eq 1 ] || fail "init over a file: exit $rc"
grep -qF "not a directory" "$T/msg" || fail "init over a file: $(cat "$T/msg")"

# ---- a passphrase over the limit ----------------------------------------------------------
python3 -c 'print("p" * 4095)' > "$T/pass-4095"
python3 -c 'print("p" * 4096)' > "$T/pass-4096"
R2=$(new_repo longpass)
arca_init "$R2" --password-file "$T/pass-4095" >/dev/null || fail "a 4095-byte passphrase refused"
arca -r "$R2" --password-file "$T/pass-4095" snapshots >/dev/null || fail "a 4095-byte passphrase does not open"
rc=0
arca -r "$R2" --password-file "$T/pass-4096" snapshots 2> "$T/msg" >/dev/null || rc=$?
[ $rc -eq 1 ] || fail "a 4096-byte passphrase: exit $rc"
grep -qF "the passphrase in $T/pass-4096 is longer than 4095 bytes" "$T/msg" || fail "long passphrase: $(cat "$T/msg")"
rc=0
ARCA_PASSWORD_FILE= ARCA_PASSWORD_COMMAND="cat $T/pass-4096" arca -r "$R2" snapshots 2> "$T/msg" >/dev/null || rc=$?
[ $rc -eq 1 ] || fail "a 4096-byte passphrase from a command: exit $rc"
grep -qF "ARCA_PASSWORD_COMMAND is longer than 4095 bytes" "$T/msg" || fail "long passphrase from a command: $(cat "$T/msg")"
if grep -qi "argument list" "$T/msg"; then fail "E2BIG's text in the message"; fi

# ---- version: --json, and --version after the command too --------------------------------
arca version > "$T/version" || fail "arca version failed"
grep -qE '^arca [0-9]+\.[0-9]+\.[0-9]+ \(repository format [0-9]+\)$' "$T/version" ||
    fail "arca version: $(cat "$T/version")"
arca version --json > "$T/version.json" || fail "arca version --json failed"
python3 - "$T/version.json" "$(cat "$T/version")" <<'EOF' || fail "arca version --json: $(cat "$T/version.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert sys.argv[2] == f"arca {j['version']} (repository format {j['format_version']})", sys.argv[2]
assert isinstance(j["format_version"], int)
assert isinstance(j["features"]["rados"], bool)
libs = j["libraries"]
for name in ("libsodium", "libcrypto", "zstd", "libarchive", "jansson"):
    assert isinstance(libs[name], str) and libs[name][0].isdigit(), name
assert (isinstance(libs["librados"], str) and libs["librados"][0].isdigit()) if j["features"]["rados"] \
    else libs["librados"] is None
EOF
if [ "$BACKEND" = rados ]; then
    [ "$(json_get "$T/version.json" "j['features']['rados']")" = True ] || fail "a RADOS run, but rados is off"
fi
for args in "--version" "backup --version" "ls -l --version"; do
    # shellcheck disable=SC2086
    out=$(arca $args) || fail "arca $args failed"
    [ "$out" = "$(cat "$T/version")" ] || fail "arca $args: $out"
done
for args in "--json version" "--version --json" "--json --version" "snapshots --version --json" \
            "backup --json --version"; do
    # shellcheck disable=SC2086
    arca $args > "$T/v.json" || fail "arca $args failed"
    cmp -s "$T/v.json" "$T/version.json" || fail "arca $args: $(cat "$T/v.json")"
done
expect_rc 2 arca version extra 2>/dev/null

pass
