#!/bin/bash
# No test and no script pipes into a reader that stops early (grep -q, -m, -l; head;
# sed q; read): under pipefail, the writer's EPIPE (or SIGPIPE) fails it at random.
# And contains (lib.sh), the reader to use instead, reads all of its input.
source "$(dirname "$0")/lib.sh"
top=$(cd "$HERE/../.." && pwd)

# the helper: a writer of far more than a pipe holds, matched on its first line
{ echo match; head -c 10000000 /dev/zero; } | contains match ||
    fail "contains stopped reading before the end of its input"
printf 'more\n' | contains -x more || fail "contains does not pass options to grep"
if printf 'a\nb\n' | contains c; then fail "contains matched what is not there"; fi
if { echo match; false; } | contains match; then fail "a failed writer was not seen under pipefail"; fi

# every shell file of tests/ and scripts/, pipelines continued on the next line joined
python3 - "$top" > "$T/racy" <<'PY'
import pathlib, re, sys
top = pathlib.Path(sys.argv[1])
readers = [r"grep\s+(-\S+\s+)*(-[a-zA-Z]*[qlLm]|--quiet|--silent|--max-count|--files-with)",
           r"head\b", r"read\b", r"sed\s+(-n\s+)?'?[0-9]*(p;)?q\b"]
early = re.compile(r"(?<!\|)\|(?!\|)\s*(" + "|".join(readers) + ")")
files = sorted(set(top.glob('tests/**/*.sh')) | set(top.glob('scripts/*.sh')) | {top / '.ci/run'})
for p in files:
    if not p.is_file():
        continue
    lines = p.read_text(errors='replace').split('\n')
    for i, line in enumerate(lines):
        if re.search(r'(?<!\|)\|\s*\\?$', line) and i + 1 < len(lines):
            line = re.sub(r'\\?$', ' ', line) + lines[i + 1]
        if early.search(line):
            print(f'{p.relative_to(top)}:{i + 1}: {line.strip()}')
PY
[ ! -s "$T/racy" ] || fail "pipelines into a reader that stops early: $(cat "$T/racy")"
pass
