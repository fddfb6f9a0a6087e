#!/bin/bash
# The man page follows the code.  man/arca.1 must have a .SS section for every command that
# `arca help` lists; document (as a .TP entry) every long option that `arca help` prints
# under GLOBAL OPTIONS, and every other one that `arca help COMMAND` prints in that
# command's section; document there too every long option that cli/ defines (the struct
# option tables), shown in the help or not; name no long option that arca does not have
# (but a few of other programs); and render without warnings (man --warnings, else
# groff -ww, when installed).  The bash completion (arca completion bash) offers every
# command and, for each, every long option of its table and the global ones, and nothing
# else; the build writes it as arca.bash and cmake --install installs it.
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$HERE/../.." && pwd)
MAN=$ROOT/man/arca.1
[ -f "$MAN" ] || fail "no man page at $MAN"

# Long options in a text: --name-with-dashes, not the --keep of "--keep-..." or
# "--mysql-*".
long_opts() { grep -oP -- '--[a-z0-9]+(?:-[a-z0-9]+)*(?![a-z0-9-])' | sort -u || true; }

# The page's source with roff's escaped minus signs made plain.
SRC=$T/arca.1.txt
sed -e 's/\\-/-/g' "$MAN" > "$SRC"

# section NAME > FILE: the long options that ".SS NAME" documents, in the tags of its
# .TP paragraphs (a tag line ending in \ goes on), up to the next .SS or .SH;
# section "SH NAME": the same in ".SH NAME" and its subsections, up to the next .SH.
section() {
    awk -v want="$1" '
        /^\.SH( |$)/ { n = $0; sub(/^\.SH +/, "", n); gsub(/"/, "", n); on = (want == "SH " n); tag = 0; next }
        /^\.SS( |$)/ { n = $0; sub(/^\.SS +/, "", n); gsub(/"/, "", n); if (want !~ /^SH /) on = (n == want); tag = 0; next }
        /^\.TP( |$)/ { tag = 1; next }
        on && tag { print; tag = /\\$/ }
    ' "$SRC" | long_opts
}

missing=()
check_opts() {   # check_opts WHERE WANTED HAVE: every option in file WANTED is in file HAVE
    local o
    while read -r o; do
        grep -qxF -- "$o" "$3" || missing+=("$o (in $1)")
    done < "$2"
}

# ---- commands and their options, as the binary prints them -----------------------------
"$ARCA" help > "$T/help" || fail "'arca help' failed"
# the command list: "  NAME ..." lines, and continuation lines "       NAME ..."
awk '/^Commands:/ { f = 1; next } f && /^$/ { exit } f { print }' "$T/help" > "$T/commands"
mapfile -t cmds < <(awk '/^  [a-z]/ { print $1 }' "$T/commands" | sort -u)
[ ${#cmds[@]} -ge 5 ] || fail "'arca help' lists ${#cmds[@]} commands: cannot parse it"
[[ " ${cmds[*]} " == *" backup "* ]] || fail "'arca help' does not list backup"

sed -n '/^Global options/,/^$/p' "$T/help" | long_opts > "$T/global-opts"
[ -s "$T/global-opts" ] || fail "'arca help' prints no global long options: cannot parse it"
section "SH GLOBAL OPTIONS" > "$T/sec-global"
[ -s "$T/sec-global" ] || fail "man page: no GLOBAL OPTIONS section"
check_opts "GLOBAL OPTIONS" "$T/global-opts" "$T/sec-global"

for c in "${cmds[@]}"; do
    grep -qE "^\.SS \"?$c\"?( |$)" "$SRC" || missing+=(".SS $c")
    section "$c" > "$T/sec-$c"
    # options in the command list of `arca help`: on the lines that start with the command
    awk -v c="$c" '$1 == c' "$T/commands" | long_opts > "$T/opts-$c"
    # `arca help help` is no command's help (a usage error): help has no options
    if [ "$c" != help ]; then
        "$ARCA" help "$c" > "$T/help-$c" || fail "'arca help $c' failed"
        long_opts < "$T/help-$c" | grep -vxF -f "$T/global-opts" >> "$T/opts-$c" || true
        sort -u -o "$T/opts-$c" "$T/opts-$c"
    fi
    check_opts "section $c" "$T/opts-$c" "$T/sec-$c"
done

# ---- every option the source defines, shown in the help or not ---------------------------
macro() {   # macro NAME: the body of a #define NAME of cli/cli.h that ends lines in '\'
    awk -v m="$1" '$1 == "#define" && $2 == m { on = 1; next } on { print; on = /\\$/ }' "$ROOT/cli/cli.h"
}
defined() {   # defined FILE: the long option names of its struct option tables
    # FILTER_OPTIONS (cli.h) and the table cli_filter_opts stand for --host, --tag and
    # --path, FROM_OPTIONS for the --from-* options of the source repository
    { cat "$1"
      if [ "$(basename "$1")" != cli.h ]; then
          ! grep -qE 'FILTER_OPTIONS|cli_filter_opts' "$1" || macro FILTER_OPTIONS
          ! grep -q 'FROM_OPTIONS' "$1" || macro FROM_OPTIONS
      fi
    } | grep -oP '\{ *"\K[a-z0-9-]+(?=", *(no|required|optional)_argument)' |
        sed 's/^/--/' | sort -u || true
}
: > "$T/src-opts"
if [ -d "$ROOT/cli" ]; then
    defined "$ROOT/cli/main.c" > "$T/src-main"
    [ -s "$T/src-main" ] || fail "no options found in cli/main.c: cannot parse it"
    cat "$T/src-main" >> "$T/src-opts"
    check_opts "GLOBAL OPTIONS, from cli/main.c" "$T/src-main" "$T/sec-global"
    for f in "$ROOT"/cli/cmd-*.c; do
        c=$(basename "$f" .c)
        c=${c#cmd-}
        defined "$f" | sort -u > "$T/src-$c"
        cat "$T/src-$c" >> "$T/src-opts"
        [ -f "$T/sec-$c" ] || section "$c" > "$T/sec-$c"
        check_opts "section $c, from cli/cmd-$c.c" "$T/src-$c" "$T/sec-$c"
    done
fi

# ---- no option the program does not have -----------------------------------------------
# other programs' options the page mentions: mariadb-dump's, the mariadb client's, Ceph's,
# cmake's
foreign="--single-transaction --defaults-file --id --user --name --mon-host --err-to-stderr --install --start-position --stop-datetime --database
         --read-from-remote-server --raw --backup --stream --prepare --target-dir --copy-back --stop-position"
printf '%s\n' $foreign | cat - "$T/global-opts" "$T/src-opts" "$T"/opts-* 2>/dev/null | sort -u > "$T/known"
while read -r o; do
    grep -qxF -- "$o" "$T/known" || missing+=("man page names $o, which arca does not have")
done < <(long_opts < "$SRC")

if [ ${#missing[@]} -gt 0 ]; then
    printf '  %s\n' "${missing[@]}" >&2
    fail "man/arca.1 is out of step with the code (${#missing[@]} problems above)"
fi

# ---- the bash completion offers what the tables define -----------------------------------
# (arca completion bash, driven as bash drives it: COMP_WORDS, COMP_CWORD, then _arca)
grep -qE '^\.SS "?completion"?( |$)' "$SRC" || missing+=("man page: no .SS completion")
"$ARCA" completion bash > "$T/arca.bash" || fail "'arca completion bash' failed"
bash -n "$T/arca.bash" || fail "'arca completion bash' is not valid bash"
complete_words() {   # complete_words WORD...: what the completion offers for the last word
    bash -c 'source "$1" || exit 1; shift
             COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
             COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
             _arca || exit 1
             [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' _ "$T/arca.bash" "$@"
}
complete_words arca "" > "$T/comp-commands" || fail "the completion function failed"
for c in "${cmds[@]}"; do
    grep -qxF "$c" "$T/comp-commands" || missing+=("completion does not offer the command $c")
done
while read -r c; do
    [[ " ${cmds[*]} " == *" $c "* ]] || missing+=("completion offers $c, which 'arca help' does not list")
done < "$T/comp-commands"
complete_words arca -- > "$T/comp-global" || fail "the completion function failed"
check_opts "completion, global options" "$T/src-main" "$T/comp-global"
for c in "${cmds[@]}"; do
    complete_words arca "$c" -- > "$T/comp-$c" || fail "the completion function failed for $c"
    # every long option of the command's table (and those its help names), and the global ones
    cat "$T/src-main" "$T/opts-$c" > "$T/want-comp-$c"
    [ -f "$T/src-$c" ] && cat "$T/src-$c" >> "$T/want-comp-$c"
    sort -u -o "$T/want-comp-$c" "$T/want-comp-$c"
    check_opts "completion of '$c --'" "$T/want-comp-$c" "$T/comp-$c"
    # and nothing else
    while read -r o; do
        grep -qxF -- "$o" "$T/want-comp-$c" || missing+=("completion offers $o for $c, which it does not have")
    done < "$T/comp-$c"
done
# after an option that takes a value, the value (files), not options or commands
complete_words arca --repo "" > "$T/comp-value"
[ ! -s "$T/comp-value" ] || missing+=("completion offers $(head -c 80 "$T/comp-value") as the value of --repo")
complete_words arca -r /srv/repo "" > "$T/comp-after-r"
grep -qxF backup "$T/comp-after-r" || missing+=("after -r REPO the completion offers no command")
complete_words arca key "" > "$T/comp-key"
grep -qxF passwd "$T/comp-key" || missing+=("'arca key' completes no subcommand")
# the build writes the same script next to the binary, and cmake --install installs it
BUILD=$(cd "$(dirname "$ARCA")/.." && pwd)
if [ -f "$BUILD/CMakeCache.txt" ]; then
    [ -f "$(dirname "$ARCA")/arca.bash" ] || fail "the build made no $(dirname "$ARCA")/arca.bash"
    cmp -s "$(dirname "$ARCA")/arca.bash" "$T/arca.bash" ||
        fail "$(dirname "$ARCA")/arca.bash differs from 'arca completion bash'"
    cmake --install "$BUILD" --prefix "$T/prefix" > "$T/install.log" 2>&1 ||
        fail "cmake --install failed: $(cat "$T/install.log")"
    cmp -s "$T/prefix/share/bash-completion/completions/arca" "$T/arca.bash" ||
        fail "cmake --install does not install the completion as share/bash-completion/completions/arca"
else
    echo "$TEST_NAME: $ARCA is not in a build tree: arca.bash and its installation not checked" >&2
fi
if [ ${#missing[@]} -gt 0 ]; then
    printf '  %s\n' "${missing[@]}" >&2
    fail "the completion is out of step with the code (${#missing[@]} problems above)"
fi

# ---- it renders cleanly ------------------------------------------------------------------
# (in a locale that exists everywhere: a missing one is a warning of man's own)
export LC_ALL=C.UTF-8 MANWIDTH=80
if command -v man >/dev/null; then
    warn=$(man --warnings -l "$MAN" 2>&1 >/dev/null) || fail "man -l man/arca.1 failed: $warn"
    [ -z "$warn" ] || fail "man --warnings -l man/arca.1: $warn"
    [ "$(man -l "$MAN" 2>/dev/null | grep -c .)" -gt 100 ] || fail "man -l man/arca.1 renders almost nothing"
elif command -v groff >/dev/null; then
    warn=$(groff -man -ww -z "$MAN" 2>&1) || fail "groff -man man/arca.1 failed: $warn"
    [ -z "$warn" ] || fail "groff -ww -man man/arca.1: $warn"
else
    echo "$TEST_NAME: neither man nor groff is installed: rendering not checked" >&2
fi
pass
