#!/bin/bash
# The progress line on a terminal (a pseudo-terminal here) is never wider than the
# terminal, counting the display width of UTF-8, so no update leaves a wrapped fragment
# behind; when there is room it shows the file being read, escaped as ls escapes names,
# whole or shortened in the middle with an ellipsis; copy's counts snapshots.
source "$(dirname "$0")/lib.sh"

R=$(new_repo repo)
arca_init "$R" >/dev/null

# files enough for several updates (they come every 0.1 s), with long and wide names; the
# last one read (names are read in byte order) has a terminal escape in its name
S=$T/src
mkdir -p "$S/a"
for i in $(seq -w 1 40); do
    head -c 1500000 /dev/urandom > "$S/a/file-with-a-rather-long-name-number-$i-日本語のファイル名.bin"
done
last=$(printf 'zz-\033[31m-red-名前-%s.bin' "$(printf 'x%.0s' $(seq 1 60))")
printf 'the last one\n' > "$S/$last"

# pty_run COLS OUT CMD...: run CMD with its stderr (and stdin) on a pseudo-terminal of COLS
# columns, its stdout in OUT.stdout; what the terminal received goes to OUT
pty_run() {
    python3 - "$@" <<'EOF'
import os, pty, sys, fcntl, termios, struct
cols, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    so = os.open(out + ".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(so, 1)
    os.execvp(cmd[0], cmd)
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:          # EIO: the child is gone and the terminal closed
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out, "wb").write(data)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}

# check_width COLS FILE: no fragment between carriage returns and newlines is wider than COLS
check_width() {
    python3 - "$1" "$2" <<'EOF'
import sys, re, unicodedata
cols, data = int(sys.argv[1]), open(sys.argv[2], "rb").read().decode("utf-8")
def width(s):
    w = 0
    for ch in s:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w
frags = [f for f in re.split(r"[\r\n]", data.replace("\x1b[K", "")) if f]
if not frags:
    sys.exit("no progress line at all")
if any("\x1b" in f for f in frags):
    sys.exit("an escape sequence other than erase-line reached the terminal")
for f in frags:
    if width(f) > cols:
        sys.exit(f"a line of {width(f)} columns on a terminal of {cols}: {f!r}")
print(len(frags))
EOF
}

export LC_ALL=C.UTF-8
n=0
# wide: room for the whole line with the longest name, wherever the scratch directory is
wide=$(( ${#S} + 200 ))
for cols in 50 100 "$wide"; do
    out=$T/tty-$cols
    rc=0
    pty_run "$cols" "$out" "$ARCA" -r "$R" backup --force "$S" || rc=$?
    [ $rc -eq 0 ] || fail "backup on a terminal of $cols columns: exit $rc ($(cat "$out"))"
    frags=$(check_width "$cols" "$out") || fail "terminal of $cols columns: $(check_width "$cols" "$out" 2>&1)"
    n=$((n + frags))
    grep -qa 'files' "$out" || fail "no progress line on a terminal of $cols columns: $(cat -v "$out")"
done

# wide enough: the last file read, whole and escaped (the final update names it)
name_esc='zz-\x1b[31m-red-名前-'
grep -qaF "$S/$name_esc" "$T/tty-$wide" ||
    fail "$wide columns: the current file is not shown whole: $(cat -v "$T/tty-$wide")"
# 100 columns: the path is longer than the room, so it is shortened in the middle
grep -qaF "…" "$T/tty-100" || fail "100 columns: no shortened file name: $(cat -v "$T/tty-100")"
grep -qaE "…[^ ]*x{10}\.bin" "$T/tty-100" || fail "100 columns: the end of the name is not kept: $(cat -v "$T/tty-100")"
# without a UTF-8 locale the ellipsis is three dots
LC_ALL=C pty_run 100 "$T/tty-c" "$ARCA" -r "$R" backup --force "$S" || fail "backup in the C locale failed"
check_width 100 "$T/tty-c" >/dev/null || fail "C locale: $(check_width 100 "$T/tty-c" 2>&1)"
grep -qaE '\.\.\.[^ ]*x{10}\.bin' "$T/tty-c" || fail "C locale: no '...': $(cat -v "$T/tty-c")"

# copy counts snapshots, on the same line
C=$(new_repo copy)
arca_init "$C" --from-repo "$R" --copy-chunker-params --from-password-file "$ARCA_PASSWORD_FILE" >/dev/null
ARCA_FROM_PASSWORD_FILE=$ARCA_PASSWORD_FILE pty_run 100 "$T/tty-copy" "$ARCA" -r "$C" -v copy --from-repo "$R" ||
    fail "copy on a terminal: $(cat -v "$T/tty-copy")"
check_width 100 "$T/tty-copy" >/dev/null || fail "copy: $(check_width 100 "$T/tty-copy" 2>&1)"
grep -qaE '\] +4 snapshots +[0-9.]+ [KMG]?i?B' "$T/tty-copy" || fail "no progress line of copy: $(cat -v "$T/tty-copy")"
grep -qa '^copied 4 snapshots (0 there already)' "$T/tty-copy.stdout" || fail "copy's summary: $(cat -v "$T/tty-copy.stdout")"

# the 60 MB of this test do not stay on the shared test cluster (lib.sh removes only $T)
if [ "$BACKEND" = rados ]; then
    mapfile -t ra < <(rados_of "$R")
    rados "${ra[@]}" ls > "$T/objects" || fail "cannot list $R"
    [ ! -s "$T/objects" ] || xargs -a "$T/objects" rados "${ra[@]}" rm || fail "cannot remove $R"
fi
pass
