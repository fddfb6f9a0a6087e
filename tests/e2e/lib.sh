# lib.sh - helpers for the end-to-end tests: they drive the real arca binary.
# Sourced by each test-*.sh.  Environment:
#   ARCA             path of the arca binary (required)
#   ARCA_TEST_BACKEND local (default) or rados; rados needs CEPH_CONF and ARCA_TEST_POOL
#   ARCA_TEST_TMP    scratch directory (default: a new one under /tmp)
set -euo pipefail

: "${ARCA:?ARCA must point at the arca binary}"
BACKEND=${ARCA_TEST_BACKEND:-local}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${ARCA_TEST_TMP:-/tmp}/arca-$TEST_NAME.XXXXXX")
export ARCA_PASSWORD_FILE=$T/pass
printf 'correct horse battery staple\n' > "$ARCA_PASSWORD_FILE"
export ARCA_CACHE_DIR=$T/cache
export XDG_CACHE_HOME=$T/xdg-cache
unset ARCA_PASSWORD_COMMAND ARCA_NEW_PASSWORD_FILE

cleanup() {
    local rc=$?
    if [ $rc -eq 0 ] && [ -z "${ARCA_TEST_KEEP:-}" ]; then
        remove_rados_repos
        chmod -R u+rwX "$T" 2>/dev/null || true
        rm -rf "$T"
    else
        echo "$TEST_NAME: scratch left in $T" >&2
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL $TEST_NAME: $*" >&2
    exit 1
}

# A fresh repository location for this backend.  RADOS ones on the cluster the test
# started with (not on one it starts itself) are listed in $T/rados-repos, and their
# objects removed when the test passes: a shared cluster would fill up with them.
CEPH_CONF_AT_START=${CEPH_CONF:-}
new_repo() {
    local name=$1 repo
    case $BACKEND in
        local) echo "$T/$name" ;;
        rados)
            repo="rados:${ARCA_TEST_POOL:?}/${TEST_NAME}-${name}-$$-$RANDOM"
            [ "${CEPH_CONF:-}" != "$CEPH_CONF_AT_START" ] || echo "$repo" >> "$T/rados-repos"
            echo "$repo"
            ;;
        *) fail "unknown backend $BACKEND" ;;
    esac
}
remove_rados_repos() {
    local repo ra
    [ -f "$T/rados-repos" ] || return 0
    while read -r repo; do
        mapfile -t ra < <(rados_of "$repo")
        timeout 120 rados "${ra[@]}" ls > "$T/objects" 2>/dev/null || continue
        [ -s "$T/objects" ] || continue
        timeout 300 xargs -d '\n' rados "${ra[@]}" --force-full rm < "$T/objects" >/dev/null 2>&1 ||
            echo "$TEST_NAME: could not remove every object of $repo" >&2
    done < "$T/rados-repos"
}

# arca with a cheap key derivation for new key slots (tests run it many times)
# own_cluster DIR WHAT [VAR=VALUE...]: start a Ceph cluster of the test's own in DIR
# (scripts/ceph-cluster.sh with those settings), its environment in DIR.env.  A second try
# on a busy machine, where the setup commands may time out (the failed start's log is
# shown); fails the test, naming WHAT, if that does not start either.  The test stops it
# (ceph-cluster.sh stop DIR) in its EXIT trap.
CLUSTER="$HERE/../../scripts/ceph-cluster.sh"
own_cluster() {
    local dir=$1 what=$2
    shift 2
    if ! env CEPH_CLIENT_TIMEOUT=30 "$@" "$CLUSTER" start "$dir" > "$dir.env" 2> "$dir-start.log"; then
        cat "$dir-start.log" >&2
        "$CLUSTER" stop "$dir" >/dev/null 2>&1 || true
        rm -rf "$dir"
        env CEPH_CLIENT_TIMEOUT=30 "$@" "$CLUSTER" start "$dir" > "$dir.env" 2> "$dir-start.log" ||
            { cat "$dir-start.log" >&2; fail "$what did not start"; }
    fi
}

arca() { "$ARCA" "$@"; }
arca_init() { "$ARCA" -r "$1" init --kdf-memory 8M --kdf-ops 1 "${@:2}"; }

# expect_rc N cmd...: run cmd, require exit status N
expect_rc() {
    local want=$1
    shift
    local rc=0
    "$@" || rc=$?
    [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want"
}

# rados_of REPO: the pool and namespace options of the rados CLI for a rados:POOL[/NS]
# location, one per line (read them with mapfile).
rados_of() {
    local spec=${1#rados:}
    local pool=${spec%%/*}
    printf -- '-p\n%s\n' "$pool"
    [ "$spec" = "$pool" ] || printf -- '-N\n%s\n' "${spec#*/}"
}

# The size a repository takes (local: bytes on disk; rados: sum of object sizes).
repo_size() {
    local repo=$1 ra
    case $repo in
        rados:*)
            mapfile -t ra < <(rados_of "$repo")
            rados "${ra[@]}" ls 2>/dev/null | while read -r o; do
                rados "${ra[@]}" stat "$o" | sed 's/.*size //'
            done | awk '{s += $1} END {print s + 0}'
            ;;
        *) find "$repo" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}' ;;
    esac
}

# list_objects REPO TYPE: the names of a repository's objects of TYPE (index, snapshots...)
list_objects() {
    local repo=$1 type=$2 ra
    case $repo in
        rados:*)
            mapfile -t ra < <(rados_of "$repo")
            rados "${ra[@]}" ls | sed -n "s|^$type/||p"
            ;;
        *) find "$repo/$type" -type f ! -name '.*' -printf '%f\n' ;;
    esac
}

# flip_byte FILE OFFSET: invert every bit of one byte (a write of a fixed value would
# change nothing where the file has that value already)
flip_byte() {
    python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}

# obj_get REPO NAME FILE, obj_put REPO NAME FILE, obj_rm REPO NAME: an object as stored,
# bypassing arca (NAME as in docs/FORMAT.md: config, keys/ID, snapshots/ID, index/ID,
# data/ID); obj_put replaces what is there
obj_path() {
    case $2 in
        data/*) local id=${2#data/}; echo "$1/data/${id:0:2}/$id" ;;
        *) echo "$1/$2" ;;
    esac
}
obj_get() {
    local ra
    case $1 in
        rados:*) mapfile -t ra < <(rados_of "$1"); rados "${ra[@]}" get "$2" "$3" ;;
        *) cp "$(obj_path "$1" "$2")" "$3" ;;
    esac
}
obj_put() {
    local ra p
    case $1 in
        rados:*) mapfile -t ra < <(rados_of "$1"); rados "${ra[@]}" put "$2" "$3" ;;
        *) p=$(obj_path "$1" "$2"); mkdir -p "$(dirname "$p")"; rm -f "$p"; cp "$3" "$p" ;;
    esac
}
# obj_put_listed REPO NAME FILE: as obj_put, and listed as a completed write of arca lists
# it (rados: an entry in the object's catalog, docs/ceph.md; the repository is small enough
# for generation 0)
obj_put_listed() {
    local ra
    obj_put "$@"
    case $1 in
        rados:*)
            mapfile -t ra < <(rados_of "$1")
            rados "${ra[@]}" setomapval "catalog.${2%%/*}" "${2#*/}" "$(stat -c %s "$3")"
            ;;
    esac
}
obj_rm() {
    local ra
    case $1 in
        rados:*) mapfile -t ra < <(rados_of "$1"); rados "${ra[@]}" rm "$2" ;;
        *) rm -f "$(obj_path "$1" "$2")" ;;
    esac
}
# damage REPO NAME flip|truncate|delete [BACK]: invert one byte of the object (in the
# middle, or BACK bytes before its end), cut it to half its size, or remove it
damage() {
    local repo=$1 name=$2 how=$3 back=${4:-} size at
    if [ "$how" = delete ]; then
        obj_rm "$repo" "$name"
        return
    fi
    obj_get "$repo" "$name" "$T/damaged-object"
    size=$(stat -c %s "$T/damaged-object")
    case $how in
        flip)
            at=$((size / 2))
            [ -z "$back" ] || at=$((size - back))
            flip_byte "$T/damaged-object" "$at"
            ;;
        truncate) truncate -s $((size / 2)) "$T/damaged-object" ;;
        *) fail "damage: unknown way $how" ;;
    esac
    obj_put "$repo" "$name" "$T/damaged-object"
    rm -f "$T/damaged-object"
}

# name_of REPO FILE: the name an object of FILE's bytes has in REPO: the SHA-256 or the
# BLAKE2b-256 of the bytes, by the repository's id function (docs/FORMAT.md, section 2;
# key slots are BLAKE2b in either)
name_of() {
    local h
    if arca -r "$1" --json cat config | contains -F '"hmac-sha256"'; then
        h=$(sha256sum < "$2")
    else
        h=$(b2sum -l 256 < "$2")
    fi
    echo "${h%% *}"
}

# node_at REPO SNAPSHOT PATH: the JSON of the node at the absolute PATH in the snapshot's
# trees (arca cat snapshot, cat tree from the root down)
node_at() {
    local repo=$1 tree part last
    tree=$(arca -r "$repo" --json cat snapshot "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree"])')
    IFS=/ read -ra parts <<< "${3#/}"
    last=${parts[-1]}
    unset 'parts[-1]'
    for part in "${parts[@]}"; do
        tree=$(arca -r "$repo" --json cat tree "$tree" |
               python3 -c 'import json,sys; print([n["subtree"] for n in json.load(sys.stdin) if n["name"] == sys.argv[1]][0])' "$part")
    done
    arca -r "$repo" --json cat tree "$tree" |
        python3 -c 'import json,sys; print(json.dumps([n for n in json.load(sys.stdin) if n["name"] == sys.argv[1]][0]))' "$last"
}

# damage_blob REPO ID: flip a byte in the middle of blob ID where its pack holds it
damage_blob() {
    local repo=$1 id=$2 p back=
    for p in $(list_objects "$repo" data); do
        arca -r "$repo" --json cat pack "$p" > "$T/pack.json"
        back=$(json_get "$T/pack.json" '"".join(str(j["size"] - b["offset"] - b["stored_length"] // 2) for b in j["blobs"] if b["id"] == "'"$id"'")')
        if [ -n "$back" ]; then
            damage "$repo" "data/$p" flip "$back"
            return 0
        fi
    done
    fail "no pack holds blob $id"
}

# compare_trees A B: content and metadata, byte for byte (tests/e2e/treecmp.py)
compare_trees() {
    python3 "$HERE/treecmp.py" "$@" || fail "trees differ: $1 vs $2"
}

# json_get FILE EXPR: evaluate a Python expression on the parsed JSON (as j)
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# cmd | contains [GREP-OPTION...] PATTERN: a line of cmd's output matches PATTERN.
# It reads all of its input before it looks: a reader that stops at the first match
# (grep -q, head) leaves cmd writing into a closed pipe, and under pipefail its EPIPE or
# SIGPIPE fails the test at random.  So under pipefail the pipeline fails if cmd does.
contains() {
    local f rc=0
    f=$(mktemp "$T/contains.XXXXXX")
    cat > "$f"
    grep -q "$@" "$f" || rc=$?
    rm -f "$f"
    return $rc
}

pass() {
    echo "ok   $TEST_NAME ($BACKEND)"
}

# make_fixture DIR: a tree with every kind of entry arca must keep.
make_fixture() {
    local d=$1
    mkdir -p "$d/sub/deeper/deepest" "$d/empty-dir" "$d/sticky"
    chmod 1777 "$d/sticky"
    printf 'hello\n' > "$d/hello.txt"
    : > "$d/empty"
    head -c 3000000 /dev/urandom > "$d/random.bin"
    # exactly the default maximum chunk size, and one byte more
    head -c 8388608 /dev/urandom > "$d/max-chunk.bin"
    head -c 8388609 /dev/urandom > "$d/max-chunk-plus-one.bin"
    # compressible text
    for i in $(seq 1 20000); do echo "line $i of a compressible text file"; done > "$d/sub/text.txt"
    # sparse: a hole, some data, a hole at the end
    truncate -s 64M "$d/sparse.img"
    printf 'in the middle' | dd of="$d/sparse.img" bs=1 seek=$((20 << 20)) conv=notrunc status=none
    # hard links
    printf 'linked content\n' > "$d/sub/link-a"
    ln "$d/sub/link-a" "$d/sub/deeper/link-b"
    # symlinks: relative, absolute, dangling
    ln -s hello.txt "$d/symlink-rel"
    ln -s /etc/hostname "$d/symlink-abs"
    ln -s does/not/exist "$d/symlink-dangling"
    mkfifo "$d/fifo"
    if [ "$(id -u)" -eq 0 ]; then
        mknod "$d/chardev" c 1 3
        mknod "$d/blockdev" b 7 200
        printf 'owned\n' > "$d/owned-by-other"
        chown 1234:5678 "$d/owned-by-other"
    fi
    # names: newline, non-UTF-8 bytes, spaces, a leading dash
    printf 'newline\n' > "$d/sub/name
with newline"
    printf 'latin1\n' > "$d/sub/$(printf 'caf\xe9')"
    printf 'dash\n' > "$d/sub/-dash and spaces"
    # modes
    printf 'x\n' > "$d/setuid"
    chmod 4755 "$d/setuid"
    printf 'ro\n' > "$d/readonly"
    chmod 0400 "$d/readonly"
    # xattrs and ACLs
    setfattr -n user.comment -v "a comment" "$d/hello.txt"
    setfattr -n user.binary -v 0x00ff10 "$d/random.bin"
    setfacl -m u:1234:rw "$d/sub/text.txt"
    setfacl -d -m u:1234:rx "$d/sub/deeper"
    # old times
    touch -h -d '2001-02-03 04:05:06.123456789' "$d/symlink-rel" "$d/hello.txt"
    touch -d '1999-12-31 23:59:59' "$d/sub/deeper/deepest"
}
