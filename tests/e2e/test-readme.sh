#!/bin/bash
# The README's quick start runs as written.  Its two blocks are taken from README.md
# and run in one shell, as a user pastes them, with bash -e (a line that fails fails
# the test), against a new repository on this backend, from an empty directory that
# stays empty.  The only changes are the substitutions below, each of which must find
# its text (so the README cannot drift from what is tested): the repository, the
# passphrase file, the MySQL option file (and one database of our own: on a shared
# server other tests' databases come and go), the trees backed up (/etc, /home,
# /usr/local: a small tree under $T), and the snapshot ID of the second block.
# Between the blocks a second night's backup changes /etc/hosts.  Then: the passphrase
# file is mode 600, ls/restore/dump took the file snapshot (not the stream or the dump
# taken after it), the stream and the dump are in the repository, and the rollback
# brought back the first night's /etc/hosts.
# Needs MYSQL_DEFAULTS_FILE (scripts/test.sh starts a server; /work/dev/env.sh too).
source "$(dirname "$0")/lib.sh"
: "${MYSQL_DEFAULTS_FILE:?MYSQL_DEFAULTS_FILE must name the client config of the test server}"
README=$HERE/../../README.md
DB="arca_readme_$$"
sql() { mariadb --defaults-file="$MYSQL_DEFAULTS_FILE" -N -B -e "$1"; }
trap 'rc=$?; sql "DROP DATABASE IF EXISTS $DB" || true; (exit $rc); cleanup' EXIT
sql "CREATE DATABASE $DB; USE $DB; CREATE TABLE t (id INT PRIMARY KEY, v TEXT);
     INSERT INTO t SELECT seq, CONCAT('row ', seq) FROM seq_1_to_1000"

# the trees the quick start backs up, small
FS=$T/fs
mkdir -p "$FS/etc/apt/apt.conf.d" "$FS/home/alice" "$FS/usr/local/bin"
printf '127.0.0.1\tlocalhost\n' > "$FS/etc/hosts"
printf 'deb http://deb.debian.org/debian bookworm main\n' > "$FS/etc/apt/sources.list"
printf 'APT::Install-Recommends "false";\n' > "$FS/etc/apt/apt.conf.d/99local"
printf 'notes\n' > "$FS/home/alice/notes.txt"
printf '#!/bin/sh\necho tool\n' > "$FS/usr/local/bin/tool"
cp "$FS/etc/hosts" "$T/hosts.night1"

R=$(new_repo repo)
PASS=$T/readme-pass   # made by the quick start itself

# the quick start's blocks, substituted: - README OUT FROM TO [FROM TO...]; FROM is a
# word (a path, or a path's start)
python3 - "$README" "$T/quickstart.sh" \
    'ARCA_REPOSITORY=/srv/backup-repo' "ARCA_REPOSITORY=$R" \
    'ARCA_PASSWORD_FILE=/root/.arca-pass' "ARCA_PASSWORD_FILE=$PASS" \
    '--mysql-defaults-file /etc/mysql/backup.cnf' "--mysql-defaults-file $MYSQL_DEFAULTS_FILE --databases $DB" \
    '/etc' "$FS/etc" \
    '/home' "$FS/home" \
    '/usr/local' "$FS/usr/local" \
    '1a2b3c4d' '$first' <<'PY' || fail "README.md: the quick start is not what this test expects"
import re, sys
readme, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(readme).read()
section = re.search(r'^## Quick start\n(.*?)(?=^## )', text, re.S | re.M)
blocks = re.findall(r'^```sh\n(.*?)^```$', section.group(1) if section else '', re.S | re.M)
if len(blocks) < 2:
    sys.exit('no two ```sh blocks in the Quick start section')
code = [blocks[0], blocks[1]]
subst = list(zip(pairs[0::2], pairs[1::2]))
for i, (src, dst) in enumerate(subst):
    word = re.compile(r'(?<![\w/.-])' + re.escape(src) + r'(?![\w.-])')
    if not any(word.search(c) for c in code):
        sys.exit(f'the quick start has no {src!r} any more')
    code = [word.sub(f'\0{i}\0', c) for c in code]
# any other absolute path would reach out of the test: there must be none
for c in code:
    for m in re.finditer(r'(?<![\w$}\0])/[a-z][\w./-]*', re.sub(r'#.*', '', c)):
        if m.group(0) != '/dev/urandom':
            sys.exit(f'the quick start uses {m.group(0)}, which this test does not substitute')
for i, (src, dst) in enumerate(subst):
    code = [c.replace(f'\0{i}\0', dst) for c in code]
# between the two blocks, a second night: the ID for the second block is the first night's
interlude = '''
first=$(arca snapshots --tag nightly --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["short_id"])')
printf '127.0.0.2\\tlocalhost\\n' > "$FS/etc/hosts"
arca backup "$FS/etc" "$FS/home" --tag nightly
'''
open(out, 'w').write(code[0] + interlude + code[1])
PY

# arca on PATH as the README's reader has it; mktemp -d (the scratch restore) under $T
mkdir -p "$T/bin" "$T/tmp" "$T/cwd"
ln -s "$ARCA" "$T/bin/arca"
(cd "$T/cwd" && PATH="$T/bin:$PATH" TMPDIR="$T/tmp" FS=$FS bash -eux "$T/quickstart.sh" \
    </dev/null > "$T/out.txt" 2> "$T/err.txt") ||
    fail "the quick start failed: $(tail -n 5 "$T/err.txt")"

[ -z "$(ls -A "$T/cwd")" ] || fail "the quick start left files in the current directory: $(ls -A "$T/cwd")"
[ "$(stat -c %a "$PASS")" = 600 ] || fail "the passphrase file is mode $(stat -c %a "$PASS"), not 600"
[ -s "$PASS" ] || fail "the passphrase file is empty"
export ARCA_PASSWORD_FILE=$PASS
# ls and dump took the nightly file snapshot, though the stream and the dump came after
grep -qxF "$FS/etc/hosts" "$T/out.txt" || fail "ls latest --tag nightly did not list $FS/etc/hosts: $(cat "$T/out.txt")"
grep -qxF "$(cat "$T/hosts.night1")" "$T/out.txt" || fail "dump latest --tag nightly did not print /etc/hosts"
# the restore took /etc/apt from it, the rollback (--delete) the first night's whole tree
mapfile -t restored < <(find "$T/tmp" -mindepth 1 -maxdepth 1 -type d)
[ ${#restored[@]} = 1 ] || fail "expected one scratch restore directory, found: ${restored[*]}"
compare_trees "$FS/etc/apt" "${restored[0]}$FS/etc/apt"
compare_trees "$FS/home" "${restored[0]}$FS/home"
cmp "$T/hosts.night1" "${restored[0]}$FS/etc/hosts" || fail "the rollback did not bring back the first night's /etc/hosts"
# the stream and the database dump are in the repository
arca -r "$R" dump latest --path /usr-local.tar /usr-local.tar > "$T/usr-local.tar"
tar -tf "$T/usr-local.tar" > "$T/usr-local.list"
grep -qx './bin/tool' "$T/usr-local.list" || fail "the tar stream lacks ./bin/tool: $(cat "$T/usr-local.list")"
arca -r "$R" dump latest --path /mysql "/mysql/$DB.sql" > "$T/db.sql"
grep -q 'row 1000' "$T/db.sql" || fail "the database dump lacks its rows"
# diff, in the second block, saw the changed file
grep -q "^M .*$FS/etc/hosts$" "$T/out.txt" || fail "diff did not show the changed /etc/hosts"
pass
