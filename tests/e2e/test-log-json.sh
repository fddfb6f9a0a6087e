#!/bin/bash
# --log-format json and ARCA_LOG_FORMAT=json: every line arca writes to stderr is one JSON
# object with time (RFC 3339, fractional seconds), level, command, repository, message; a
# run ends with a summary object (its figures and exit code); no progress line on a
# terminal; the default stays text.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" > /dev/null
mkdir -p "$T/src"
echo hello > "$T/src/f"
printf 'bad \033[31mname\xff\n' > "$T/src/ctl"
# valid FILE [LEVEL...]: every line valid, with the fields; the last one the summary; the
# levels of the lines before it, in order, are LEVEL...
valid() {
    python3 - "$@" <<'PY' || fail "stderr of a json run: $(cat "$1")"
import json, re, sys
path, want = sys.argv[1], sys.argv[2:]
lines = open(path, "rb").read().decode("utf-8").split("\n")
assert lines[-1] == "", "no newline at the end"
objs = [json.loads(l) for l in lines[:-1]]
assert objs, "no lines"
rfc = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$")
for o in objs:
    for k in ("time", "level", "command", "message"):
        assert k in o, "no %s in %r" % (k, o)
    assert rfc.match(o["time"]), o["time"]
    assert o["level"] in ("error", "warning", "info", "debug"), o["level"]
for o in objs[:-1]:
    assert "summary" not in o, o
s = objs[-1]
assert "summary" in s and "exit_code" in s["summary"] and "duration" in s["summary"], s
assert [o["level"] for o in objs[:-1]] == want or not want, [o["level"] for o in objs[:-1]]
print(json.dumps(s))
PY
}

# ---- a backup with an unreadable file: warnings, then the summary with exit code 3 ------------
echo secret > "$T/src/locked"
chmod 000 "$T/src/locked"
rc=0
arca -r "$R" --log-format json backup "$T/src" > /dev/null 2> "$T/err" || rc=$?
chmod 600 "$T/src/locked"
if [ "$(id -u)" -eq 0 ]; then want_rc=0; else want_rc=3; fi
[ "$rc" -eq "$want_rc" ] || fail "backup exited $rc: $(cat "$T/err")"
valid "$T/err" > "$T/summary"
s=$(cat "$T/summary")
python3 - "$s" "$R" "$rc" "$T/src" <<'PY' || fail "summary: $s"
import json, sys
s, repo, rc, src = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
assert s["command"] == "backup" and s["repository"] == repo, s
f = s["summary"]
assert f["exit_code"] == rc and f["files"] == 3 and f["bytes_added"] > 0 and f["paths"] == src, f
assert s["level"] == ("info" if rc == 0 else "warning"), s
PY
if [ "$want_rc" -eq 3 ]; then
    contains -F '"level":"error"' < "$T/err" || fail "no error line for the unreadable file: $(cat "$T/err")"
fi

# ---- the environment variable; errors; info with -v; names with controls stay valid -----------
rc=0
ARCA_LOG_FORMAT=json arca -r "$R" backup "$T/src" "$T/missing" > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a backup of a missing path succeeded"
valid "$T/err" error > /dev/null
contains -F "$T/missing" < "$T/err" || fail "the error does not name the path: $(cat "$T/err")"
ARCA_LOG_FORMAT=json arca -r "$R" -v check > /dev/null 2> "$T/err" || fail "check: $(cat "$T/err")"
valid "$T/err" > /dev/null
contains -F '"exit_code":0' < "$T/err" || fail "check's summary: $(cat "$T/err")"
# a usage error and an unknown command are JSON too
rc=0
arca -r "$R" --log-format json backup --no-such-option > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "usage error exited $rc"
valid "$T/err" error > /dev/null
rc=0
ARCA_LOG_FORMAT=json arca -r "$R" frobnicate > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "unknown command exited $rc"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/err" || fail "unknown command: $(cat "$T/err")"
# a wrong passphrase: exit 12, an error line and the summary
echo wrong > "$T/wrong"
rc=0
ARCA_PASSWORD_FILE=$T/wrong arca -r "$R" --log-format json snapshots > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 12 ] || fail "wrong passphrase exited $rc"
valid "$T/err" error | contains -F '"exit_code": 12' || fail "wrong passphrase summary: $(cat "$T/err")"
rc=0
arca -r "$R" --log-format yaml snapshots > /dev/null 2> "$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "--log-format yaml exited $rc"

# ---- no progress line on a terminal ---------------------------------------------------------------
head -c 20000000 /dev/urandom > "$T/src/big"
python3 - "$T/tty" "$ARCA" -r "$R" --log-format json backup "$T/src" <<'PY' || fail "backup on a terminal"
import os, pty, sys
out, cmd = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
    os.execvp(cmd[0], cmd)
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out, "wb").write(data.replace(b"\r\n", b"\n"))
sys.exit(os.waitstatus_to_exitcode(status) not in (0, 3))
PY
python3 - "$T/tty" <<'PY' || fail "a progress line in the JSON log: $(cat -A "$T/tty")"
import json, sys
data = open(sys.argv[1], "rb").read()
assert b"\r" not in data and b"\x1b" not in data, "terminal control in the log"
for l in data.decode().splitlines():
    json.loads(l)
PY

# ---- the default stays text ----------------------------------------------------------------------
rc=0
arca -r "$R" backup "$T/missing" > /dev/null 2> "$T/err" || rc=$?
contains -E '^arca: ' < "$T/err" || fail "text messages changed: $(cat "$T/err")"
contains -F '"level"' < "$T/err" && fail "JSON without --log-format: $(cat "$T/err")"
pass
