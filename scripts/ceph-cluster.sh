#!/bin/bash
# ceph-cluster.sh - throwaway single-host Ceph (RADOS) cluster on loopback, for
# arca's tests and benchmarks. No systemd, no /etc/ceph, no /var/lib/ceph:
# everything (ceph.conf, keyrings, mon/osd data, pid files, logs) lives in DIR.
# Needs Debian packages ceph-mon ceph-osd ceph-common (ceph 16.2.x Pacific).
# One mon (mon.a, 127.0.0.1 only, msgr2, cephx), no mgr, N OSDs.
#
# Usage:
#   ceph-cluster.sh start DIR     create + start a new cluster; DIR must not exist or
#                                 be empty. On success prints (and writes to DIR/env):
#                                   CEPH_CONF=DIR/ceph.conf
#                                   CEPH_KEYRING=DIR/keyring     (client.admin & co.)
#                                   CEPH_POOL=<first pool>
#                                   CEPH_EC_POOL=<first EC pool> (only with CEPH_EC_POOLS)
#                                 Every pool has passed a rados put/stat/rm probe.
#                                 On failure nothing is left running.
#   ceph-cluster.sh stop DIR      stop every daemon started under DIR (idempotent;
#                                 exit 0 when nothing runs or DIR does not exist)
#   ceph-cluster.sh status DIR    daemon states + `ceph -s`; exit 0 iff all daemons run
#   ceph-cluster.sh osd-signal DIR SIG [N]   send SIG (STOP, CONT, KILL, TERM, ...) to osd.N
#                                            (default 0)
#   ceph-cluster.sh osd-start DIR [N]        start the (stopped/killed) osd.N again.
#                                 memstore loses all objects when its OSD dies; use
#                                 bluestore for restart tests.
#   ceph-cluster.sh wait-io DIR POOL [SECONDS]
#                                 wait (default 60 s) until a rados put/stat/rm in POOL
#                                 succeeds; else print the report below and exit 1
#   ceph-cluster.sh report DIR    what a failed test needs to know of the cluster: each
#                                 daemon's state and memory, space left in DIR, `ceph
#                                 health detail`, the last lines of the daemons' logs
#   ceph-cluster.sh add-user DIR NAME 'MONCAPS' 'OSDCAPS'
#                                 create cephx user NAME (client.NAME if NAME has no
#                                 type prefix), write DIR/NAME.keyring, print its path.
#                                 e.g. add-user DIR client.backup 'allow r' \
#                                        'allow rwx pool=backup namespace=web01'
#                                 then: rados -c DIR/ceph.conf --id backup \
#                                        --keyring DIR/client.backup.keyring -p backup -N web01 ...
#
# Environment knobs (all optional):
#   CEPH_OBJECTSTORE=memstore|bluestore  (default memstore: data in RAM)
#   CEPH_STORE_SIZE=BYTES    per-OSD memstore capacity / bluestore sparse file (default 4 GiB;
#                            suffixes K M G T allowed, e.g. 16G). Memstore uses ~2x RAM.
#   CEPH_POOLS="backup ..."  replicated pools (default "backup"), 8 PGs each
#   CEPH_POOL_SIZE=N         replica count of the replicated pools (default 1)
#   CEPH_OSDS=N              number of OSDs on this host (default 1)
#   CEPH_EC_POOLS="name ..." erasure-coded pools, k=2 m=1, crush-failure-domain=osd
#                            (needs CEPH_OSDS>=3)
#   CEPH_EC_OVERWRITES=1     set allow_ec_overwrites on the EC pools (default 0: EC pools
#                            only take full writes and aligned appends, like RGW pools)
#   CEPH_CLIENT_TIMEOUT=N    write rados_osd_op_timeout, rados_mon_op_timeout and
#                            client_mount_timeout = N s into [client] of ceph.conf
#                            (unset = librados defaults: ops block forever, connect 300 s)
#   CEPH_START_TIMEOUT=S     seconds (from the start) by which every pool must pass its
#                            probe (default 60)
#   CEPH_MON_PORT=N          monitor port on 127.0.0.1 (default: random free port)
#   CEPH_QUIET=1             no progress messages on stderr
#
# CI usage:
#   set -a; eval "$(CEPH_QUIET=1 scripts/ceph-cluster.sh start /tmp/ceph-t)"; set +a
#   ... tests (librados finds the cluster through $CEPH_CONF) ...
#   scripts/ceph-cluster.sh stop /tmp/ceph-t; rm -rf /tmp/ceph-t
set -euo pipefail
# The ceph tools read these: a cluster of the caller's (its keyring, its options) must not
# leak into this one's setup.
unset CEPH_ARGS CEPH_KEYRING CEPH_CONF

PROG=ceph-cluster
die() { echo "$PROG: $*" >&2; exit 1; }
log() { [ -n "${CEPH_QUIET:-}" ] || echo "$PROG: $*" >&2; }
now_ms() { date +%s%3N; }
T0=$(now_ms)
phase() { log "[+$(( $(now_ms) - T0 )) ms] $*"; }

# fd 9 = our original stderr: a signal trap can run while a function or loop has
# stderr redirected (to a log, /dev/null); on_exit writes through fd 9 then.
# Daemons are started through exec_closed, which closes it.
exec 9>&2
STARTING=0
on_exit() {
    local rc=$?
    exec 2>&9
    # a failed `start` must not leave half a cluster running
    if [ "$STARTING" = 1 ] && [ "$rc" -ne 0 ]; then
        STARTING=0
        log "start failed, stopping what was started under $DIR (logs in $DIR/log)"
        CEPH_QUIET=1 do_stop || true
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

for tool in ceph ceph-mon ceph-osd ceph-authtool monmaptool rados timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install ceph-mon ceph-osd ceph-common)"
done

# last lines of a log on stderr (not with CEPH_QUIET=1), before the one-line error
show_log() {
    [ -z "${CEPH_QUIET:-}" ] && [ -s "$1" ] || return 0
    if grep -q -E '\[ERROR\]|^Error|ERROR:' "$1"; then
        grep -E '\[ERROR\]|^Error|ERROR:' "$1" | tail -n 10
    else
        tail -n 15 "$1"
    fi | sed 's/^/  | /' >&2 || true
}
is_uint() { case ${1:-} in ''|*[!0-9]*) return 1;; *) return 0;; esac; }

# any local TCP socket on port $1 (listening or not); no iproute2 needed
port_in_use() {
    local hex f files=()
    hex=$(printf ':%04X' "$1")
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] && files+=("$f")
    done
    awk -v p="$hex" 'FNR > 1 && toupper(substr($2, length($2) - 4)) == p {f = 1} END {exit !f}' "${files[@]}"
}
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        if ! port_in_use "$p"; then echo "$p"; return 0; fi
    done
    die "no free TCP port found in 20000-31999"
}
new_uuid() { cat /proc/sys/kernel/random/uuid; }

# alive = exists and is not a zombie. Daemons fork away from us and are reaped by
# PID 1 (or a subreaper); a slow or absent reaper leaves zombies that `kill -0` sees.
pid_alive() {
    is_uint "${1:-}" || return 1
    kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && [ "$st" != x ]
}
# pid $1 is a ceph daemon of *this* cluster: its argv contains "-c DIR/ceph.conf"
# (pid reuse safety; we never kill by process name)
pid_ours() {
    pid_alive "$1" || return 1
    local prev="" a
    while IFS= read -r -d '' a; do
        if [ "$prev" = -c ] && [ "$a" = "$DIR/ceph.conf" ]; then return 0; fi
        prev=$a
    done < "/proc/$1/cmdline" 2>/dev/null
    return 1
}
# exec "$@" with every fd above 2 closed: a daemon must not hold any pipe of the
# caller (our fd 9, a CI harness's or make's fds) open for its whole life
exec_closed() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        if is_uint "$fd" && [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec "$@"
}
read_pid() { local p=""; [ -s "$1" ] && p=$(head -c 32 "$1" 2>/dev/null | tr -dc 0-9); echo "$p"; }

# resolve DIR to an absolute physical path (it must exist)
resolve_dir() {
    [ -n "$DIR" ] || die "missing DIR"
    [ -d "$DIR" ] || die "$DIR: no such directory"
    DIR=$(cd "$DIR" && pwd -P)
}

# ceph CLI against the cluster in $DIR (python: ~0.2 s start-up per call)
c_ceph() { timeout 60 ceph -c "$DIR/ceph.conf" --connect-timeout 15 "$@"; }

# wait for a daemon's pid file (daemons daemonize and write it themselves)
wait_pidfile() {
    local name=$1 f="$DIR/run/$1.pid" pid
    for _ in $(seq 1 400); do
        pid=$(read_pid "$f")
        if [ -n "$pid" ] && pid_alive "$pid"; then return 0; fi
        sleep 0.05
    done
    die "$name did not start (no live pid in $f); see $DIR/log/$name.log and $DIR/log/$name.stdio"
}

write_conf() {
    local min_size=1
    [ "$POOL_SIZE" -gt 1 ] && min_size=0    # 0 = ceph's default: size - size/2
    cat > "$DIR/ceph.conf" <<EOF
# generated by ceph-cluster.sh - throwaway single-host test cluster
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DIR/keyring
run dir = $DIR/run
crash dir = $DIR/crash
pid file = $DIR/run/\$name.pid
admin socket = $ASOK_DIR/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
log to stderr = false
err to stderr = true
# one host: replicate across OSDs, not hosts; replicated pools size $POOL_SIZE
osd pool default size = $POOL_SIZE
osd pool default min size = $min_size
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# do not go HEALTH_WARN just because the CI disk is fairly full, and never shut the mon
# down for it (it does at <= crit % free: on a 252 GB disk with 2 GB left, every client
# after that times out); a disk really full fails the writes themselves, and says so
mon data avail warn = 2
mon data avail crit = -1
# small footprint for CI boxes
ms async op threads = 2
osd op num shards = 2
osd op num threads per shard = 1
osd memory target = 939524096
# single mon: commit map changes every 0.1 s instead of 1 s (start-up ~6 s -> <1 s)
paxos propose interval = 0.1
# no mgr: do not raise MGR_DOWN (HEALTH_WARN) after 120 s
mon mgr mkfs grace = 999999999
# allow_ec_overwrites on memstore (the mon otherwise insists on bluestore)
mon debug no require bluestore for ec overwrites = true

[mon]
mon data = $DIR/\$name
err to stderr = false

[osd]
osd data = $DIR/\$name
err to stderr = false
# SIGTERM: exit at once, do not wait for the mon to ack (throwaway cluster)
osd fast shutdown notify mon = false
osd class update on start = false
osd objectstore = $STORE
memstore device bytes = $STORE_SIZE
# (no "bluestore block path": the default creates a regular sparse file
#  \$osd_data/block; pointing the path at that same file makes a symlink loop)
bluestore block create = true
bluestore block size = $STORE_SIZE
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
bluestore fsck on mkfs = false
bdev enable discard = false
# every bdev close waits for the aio poll timeout (250 ms default)
bdev aio poll ms = 20

[client]
# per-process admin socket so concurrent clients do not collide
admin socket = $ASOK_DIR/\$name.\$pid.asok
log file = $DIR/log/client.log
EOF
    if [ -n "${CEPH_CLIENT_TIMEOUT:-}" ]; then
        cat >> "$DIR/ceph.conf" <<EOF
rados osd op timeout = $CEPH_CLIENT_TIMEOUT
rados mon op timeout = $CEPH_CLIENT_TIMEOUT
client mount timeout = $CEPH_CLIENT_TIMEOUT
EOF
    fi
}

valid_name() { case $1 in ''|*[!A-Za-z0-9._-]*|.*) return 1;; *) return 0;; esac; }

start_osd() {   # start osd.$1 (already mkfs'ed); does not wait for the pid file
    ( exec_closed ceph-osd -c "$DIR/ceph.conf" -i "$1" ) </dev/null >>"$DIR/log/osd.$1.stdio" 2>&1 ||
        die "ceph-osd -i $1 failed; see $DIR/log/osd.$1.log and $DIR/log/osd.$1.stdio"
}

# rados put/stat/rm of an empty object in pool $1, all bounded
probe_pool() {
    local r=(timeout 15 rados -c "$DIR/ceph.conf" -p "$1" --rados-osd-op-timeout 5
             --rados-mon-op-timeout 5 --client-mount-timeout 5)
    "${r[@]}" put .ceph-cluster-probe /dev/null >/dev/null 2>&1 &&
        "${r[@]}" stat .ceph-cluster-probe >/dev/null 2>&1 &&
        "${r[@]}" rm .ceph-cluster-probe >/dev/null 2>&1
}

do_start() {
    [ -n "$DIR" ] || die "missing DIR"
    if [ -e "$DIR" ]; then
        [ -d "$DIR" ] || die "$DIR exists and is not a directory"
        [ -z "$(ls -A "$DIR" 2>/dev/null)" ] || die "$DIR is not empty (stop it and rm -rf it first)"
    fi

    STORE=${CEPH_OBJECTSTORE:-memstore}
    STORE_SIZE=${CEPH_STORE_SIZE:-4294967296}
    case $STORE_SIZE in   # accept 8G, 512M, ...
        *[KkMmGgTt]) local num=${STORE_SIZE%?} mul
                     case $STORE_SIZE in *[Kk]) mul=10;; *[Mm]) mul=20;; *[Gg]) mul=30;; *) mul=40;; esac
                     is_uint "$num" && STORE_SIZE=$(( num << mul )) ;;
    esac
    POOLS=${CEPH_POOLS:-backup}
    EC_POOLS=${CEPH_EC_POOLS:-}
    NOSD=${CEPH_OSDS:-1}
    POOL_SIZE=${CEPH_POOL_SIZE:-1}
    TIMEOUT=${CEPH_START_TIMEOUT:-60}
    case $STORE in memstore|bluestore) ;; *) die "CEPH_OBJECTSTORE must be memstore or bluestore, not '$STORE'";; esac
    { is_uint "$STORE_SIZE" && [ "$STORE_SIZE" -ge 1073741824 ]; } || die "CEPH_STORE_SIZE must be a byte count >= 1 GiB"
    { is_uint "$NOSD" && [ "$NOSD" -ge 1 ] && [ "$NOSD" -le 32 ]; } || die "CEPH_OSDS must be 1..32"
    { is_uint "$POOL_SIZE" && [ "$POOL_SIZE" -ge 1 ]; } || die "CEPH_POOL_SIZE must be >= 1"
    [ "$POOL_SIZE" -le "$NOSD" ] || die "CEPH_POOL_SIZE=$POOL_SIZE needs at least that many OSDs (CEPH_OSDS=$NOSD)"
    { is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ]; } || die "CEPH_START_TIMEOUT must be a number of seconds"
    if [ -n "${CEPH_CLIENT_TIMEOUT:-}" ]; then is_uint "$CEPH_CLIENT_TIMEOUT" || die "CEPH_CLIENT_TIMEOUT must be a number of seconds"; fi
    if [ -n "${CEPH_MON_PORT:-}" ]; then
        { is_uint "$CEPH_MON_PORT" && [ "$CEPH_MON_PORT" -ge 1 ] && [ "$CEPH_MON_PORT" -le 65535 ]; } || die "bad CEPH_MON_PORT"
    fi
    local p q seen=" "
    for p in $POOLS $EC_POOLS; do
        valid_name "$p" || die "bad pool name '$p'"
        case $seen in *" $p "*) die "pool '$p' is listed twice";; esac
        seen="$seen$p "
    done
    if [ -n "$EC_POOLS" ] && [ "$NOSD" -lt 3 ]; then
        die "CEPH_EC_POOLS needs CEPH_OSDS>=3 (k=2 m=1 with one chunk per OSD), got CEPH_OSDS=$NOSD"
    fi
    local deadline=$(( $(date +%s) + TIMEOUT ))

    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    STARTING=1
    mkdir -p "$DIR/run" "$DIR/log" "$DIR/crash" "$DIR/mon.a"
    : > "$DIR/daemons"

    # admin sockets: sun_path holds 107 bytes; "DIR/run/client.NAME.PID.asok" must fit,
    # else they are silently not created. Long DIR -> short private dir in /tmp.
    ASOK_DIR=$DIR/run
    if [ $(( ${#ASOK_DIR} + 48 )) -gt 107 ]; then
        ASOK_DIR=$(mktemp -d /tmp/ceph-asok.XXXXXX) || die "mktemp failed"
        echo "$ASOK_DIR" > "$DIR/asok-dir"
        log "DIR is long: admin sockets go to $ASOK_DIR"
    fi

    PORT=${CEPH_MON_PORT:-$(free_port)}
    ! port_in_use "$PORT" || die "CEPH_MON_PORT $PORT is already in use"
    FSID=$(new_uuid)
    local i uuids=()
    for (( i = 0; i < NOSD; i++ )); do uuids+=("$(new_uuid)"); done
    write_conf

    # --- keys: one keyring with mon., client.admin, osd.N. mon --mkfs imports every
    # key (with caps), so the OSD keys need no `ceph auth add` round trip.
    local kr=$DIR/keyring
    ( umask 077
      ceph-authtool --create-keyring "$kr" --gen-key -n mon. --cap mon 'allow *' >/dev/null
      ceph-authtool "$kr" --gen-key -n client.admin \
          --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
      for (( i = 0; i < NOSD; i++ )); do
          ceph-authtool "$kr" --gen-key -n "osd.$i" \
              --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
      done ) || die "ceph-authtool failed"
    phase "keyring written"

    # --- monitor ---------------------------------------------------------------
    monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$PORT]" "$DIR/monmap" >/dev/null ||
        die "monmaptool failed"
    ceph-mon -c "$DIR/ceph.conf" -i a --mkfs --monmap "$DIR/monmap" --keyring "$kr" \
        </dev/null >"$DIR/log/mon.a.mkfs.log" 2>&1 || { show_log "$DIR/log/mon.a.mkfs.log"; die "mon mkfs failed"; }
    echo mon.a >> "$DIR/daemons"
    # daemons must never inherit our stdout/stderr: `$(ceph-cluster.sh start D)` or a
    # CI step capturing output would otherwise hang until they exit
    ( exec_closed ceph-mon -c "$DIR/ceph.conf" -i a ) </dev/null >>"$DIR/log/mon.a.stdio" 2>&1 ||
        die "ceph-mon failed to start; see $DIR/log/mon.a.log"
    wait_pidfile mon.a
    phase "mon.a up on 127.0.0.1:$PORT (pid $(read_pid "$DIR/run/mon.a.pid"))"

    # --- register OSDs + pools in one ceph CLI session (python start-up is slow)
    {
        for (( i = 0; i < NOSD; i++ )); do echo "osd new ${uuids[$i]} $i"; done
        for p in $POOLS; do
            echo "osd pool create $p 8 8 replicated"
            echo "osd pool application enable $p rados"
        done
        if [ -n "$EC_POOLS" ]; then
            echo "osd erasure-code-profile set arca-k2m1 k=2 m=1 crush-failure-domain=osd"
            for p in $EC_POOLS; do
                echo "osd pool create $p 8 8 erasure arca-k2m1"
                echo "osd pool application enable $p rados"
                if [ "${CEPH_EC_OVERWRITES:-0}" = 1 ]; then
                    echo "osd pool set $p allow_ec_overwrites true"
                fi
            done
        fi
    } > "$DIR/setup.cmds"
    # (redirect a simple command, not a function: a signal trap runs inside the
    # function, i.e. with its stderr still pointing at the log file)
    timeout 60 ceph -c "$DIR/ceph.conf" --connect-timeout 15 \
        < "$DIR/setup.cmds" >"$DIR/log/setup.log" 2>&1 ||
        { show_log "$DIR/log/setup.log"; die "cluster setup commands failed"; }
    # interactive `ceph` exits 0 even if a command failed: check the output
    if grep -qiE '^(Error|Invalid command)' "$DIR/log/setup.log"; then
        show_log "$DIR/log/setup.log"; die "cluster setup commands failed"
    fi
    phase "$NOSD OSD(s) registered; pools: $POOLS${EC_POOLS:+; EC pools: $EC_POOLS}"

    # --- OSDs: mkfs in parallel, then start ------------------------------------
    local pids=() rc=0
    for (( i = 0; i < NOSD; i++ )); do
        mkdir -p "$DIR/osd.$i"
        echo "osd.$i" >> "$DIR/daemons"
        ceph-osd -c "$DIR/ceph.conf" -i "$i" --mkfs --osd-uuid "${uuids[$i]}" \
            </dev/null >"$DIR/log/osd.$i.mkfs.log" 2>&1 &
        pids+=($!)
    done
    for (( i = 0; i < NOSD; i++ )); do
        if ! wait "${pids[$i]}"; then rc=1; show_log "$DIR/log/osd.$i.mkfs.log"; fi
    done
    [ "$rc" = 0 ] || die "osd mkfs failed"
    phase "osd mkfs done ($STORE)"
    # ceph-osd returns once it has daemonized; bluestore mounts before that
    pids=()
    for (( i = 0; i < NOSD; i++ )); do
        start_osd "$i" &
        pids+=($!)
    done
    for (( i = 0; i < NOSD; i++ )); do wait "${pids[$i]}" || rc=1; done
    [ "$rc" = 0 ] || die "an OSD failed to start; see $DIR/log/osd.*.log"
    for (( i = 0; i < NOSD; i++ )); do wait_pidfile "osd.$i"; done
    phase "$NOSD OSD(s) started"

    # --- wait until I/O works on every pool -------------------------------------
    local ok
    for p in $POOLS $EC_POOLS; do
        ok=0
        while [ "$(date +%s)" -lt "$deadline" ]; do
            for (( i = 0; i < NOSD; i++ )); do
                pid_alive "$(read_pid "$DIR/run/osd.$i.pid")" || die "osd.$i died; see $DIR/log/osd.$i.log"
            done
            pid_alive "$(read_pid "$DIR/run/mon.a.pid")" || die "mon.a died; see $DIR/log/mon.a.log"
            if probe_pool "$p"; then ok=1; break; fi
            sleep 0.1
        done
        [ "$ok" = 1 ] || die "pool $p not writable after ${TIMEOUT}s; see $DIR/log/"
        phase "pool $p passed put/stat/rm"
    done
    phase "cluster usable"

    set -f
    # shellcheck disable=SC2086
    set -- $POOLS $EC_POOLS
    set +f
    {
        echo "CEPH_CONF=$DIR/ceph.conf"
        echo "CEPH_KEYRING=$DIR/keyring"
        echo "CEPH_POOL=$1"
        for q in $EC_POOLS; do echo "CEPH_EC_POOL=$q"; break; done
    } > "$DIR/env"
    STARTING=0
    cat "$DIR/env"
}

# every daemon of this cluster: the recorded pid files, plus a /proc scan for
# ceph-* processes whose argv has "-c DIR/ceph.conf" (catches a daemon that died
# before or lost its pid file). Prints "name pid" lines.
list_daemons() {
    local f pid name seen=" " d exe
    for f in "$DIR"/run/*.pid; do
        [ -e "$f" ] || continue
        pid=$(read_pid "$f")
        name=$(basename "$f" .pid)
        if [ -n "$pid" ] && pid_ours "$pid"; then
            echo "$name $pid"; seen="$seen$pid "
        fi
    done
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        case $seen in *" $pid "*) continue;; esac
        exe=""
        { IFS= read -r -d '' exe < "$d/cmdline"; } 2>/dev/null || true
        case ${exe##*/} in ceph-mon|ceph-osd|ceph-mgr) ;; *) continue;; esac
        pid_ours "$pid" && echo "${exe##*/} $pid"
    done
    return 0
}

do_stop() {
    [ -n "$DIR" ] || die "missing DIR"
    if [ ! -d "$DIR" ]; then log "$DIR does not exist, nothing to stop"; return 0; fi
    DIR=$(cd "$DIR" && pwd -P)
    local lines pid name osds=() mons=() all=()
    lines=$(list_daemons)
    while read -r name pid; do
        [ -n "$pid" ] || continue
        case $name in mon*|ceph-mon) mons+=("$pid");; *) osds+=("$pid");; esac
    done <<< "$lines"
    # OSDs (and mgr) first, all at once, then the mon
    stop_pids "${osds[@]}"
    stop_pids "${mons[@]}"
    all=("${osds[@]}" "${mons[@]}")
    rm -f "$DIR"/run/*.pid
    if [ -s "$DIR/asok-dir" ]; then
        local a
        a=$(cat "$DIR/asok-dir")
        case $a in /tmp/ceph-asok.*) rm -rf -- "$a";; esac
        rm -f "$DIR/asok-dir"
    fi
    phase "stopped ${#all[@]} daemon(s) under $DIR"
}

stop_pids() {   # SIGTERM, wait up to 5 s, SIGKILL, wait up to 5 s
    [ $# -gt 0 ] || return 0
    local pid left
    for pid in "$@"; do
        # a SIGSTOPped daemon cannot act on SIGTERM: continue it first
        kill -TERM "$pid" 2>/dev/null || true
        kill -CONT "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 100); do
        left=0
        for pid in "$@"; do pid_alive "$pid" && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.05
    done
    for pid in "$@"; do
        if pid_ours "$pid"; then
            log "pid $pid did not exit after SIGTERM, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for _ in $(seq 1 100); do
        left=0
        for pid in "$@"; do pid_alive "$pid" && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.05
    done
    die "could not stop pid(s) $*"
}

# one line a daemon of DIR/daemons: running (pid, state, resident memory) or not;
# non-zero if one is not running
daemon_states() {
    local name pid st rss bad=0
    while read -r name; do
        [ -n "$name" ] || continue
        pid=$(read_pid "$DIR/run/$name.pid")
        if [ -n "$pid" ] && pid_ours "$pid"; then
            st=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$pid/status")
            rss=$(sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$pid/status")
            echo "$name: running (pid $pid, $st, $rss resident)"
        else
            echo "$name: not running"; bad=1
        fi
    done < "$DIR/daemons"
    return "$bad"
}

do_status() {
    resolve_dir
    [ -f "$DIR/ceph.conf" ] || die "$DIR has no ceph.conf (not a cluster dir)"
    local bad=0
    daemon_states || bad=1
    [ -s "$DIR/env" ] && cat "$DIR/env"
    if pid_alive "$(read_pid "$DIR/run/mon.a.pid")"; then
        timeout 20 ceph -c "$DIR/ceph.conf" --connect-timeout 10 -s || bad=1
    fi
    return "$bad"
}

osd_id_arg() {
    OSD_ID=${1:-0}
    is_uint "$OSD_ID" || die "bad OSD number '$OSD_ID'"
    grep -qx "osd.$OSD_ID" "$DIR/daemons" 2>/dev/null || die "no osd.$OSD_ID in this cluster ($DIR)"
}

do_osd_signal() {
    resolve_dir
    local sig=${1:-} pid
    [ -n "$sig" ] || die "usage: osd-signal DIR SIG [N]"
    sig=${sig#-}; sig=${sig#SIG}; sig=${sig#sig}
    osd_id_arg "${2:-0}"
    pid=$(read_pid "$DIR/run/osd.$OSD_ID.pid")
    { [ -n "$pid" ] && pid_ours "$pid"; } || die "osd.$OSD_ID is not running"
    if is_uint "$sig"; then kill -"$sig" "$pid"; else kill -s "$sig" "$pid"; fi ||
        die "could not send $sig to osd.$OSD_ID (pid $pid)"
    log "sent SIG$sig to osd.$OSD_ID (pid $pid)"
}

do_osd_start() {
    resolve_dir
    osd_id_arg "${1:-0}"
    local pid
    pid=$(read_pid "$DIR/run/osd.$OSD_ID.pid")
    if [ -n "$pid" ] && pid_ours "$pid"; then die "osd.$OSD_ID is still running (pid $pid)"; fi
    pid_alive "$(read_pid "$DIR/run/mon.a.pid")" || die "mon.a is not running"
    rm -f "$DIR/run/osd.$OSD_ID.pid"
    start_osd "$OSD_ID"
    wait_pidfile "osd.$OSD_ID"
    phase "osd.$OSD_ID started again (pid $(read_pid "$DIR/run/osd.$OSD_ID.pid"))"
}

do_wait_io() {
    resolve_dir
    [ -f "$DIR/ceph.conf" ] || die "$DIR has no ceph.conf (not a cluster dir)"
    local pool=${1:-} secs=${2:-60} end
    [ -n "$pool" ] || die "usage: wait-io DIR POOL [SECONDS]"
    is_uint "$secs" || die "bad SECONDS '$secs'"
    end=$(( $(date +%s) + secs ))
    until probe_pool "$pool"; do
        if [ "$(date +%s)" -ge "$end" ]; then
            echo "$PROG: pool $pool of $DIR served no I/O within $secs s" >&2
            do_report >&2
            exit 1
        fi
        sleep 1
    done
    phase "pool $pool serves I/O"
}

do_report() {
    resolve_dir
    daemon_states || true
    echo "space: $(df -Ph "$DIR" | awk 'NR == 2 { print $4 " free of " $2 " (" $5 " used) on " $6 }')"
    echo "memory: $(awk '/^MemAvailable:/ { printf "%d MiB available", $2 / 1024 }' /proc/meminfo)"
    if pid_alive "$(read_pid "$DIR/run/mon.a.pid")"; then
        echo "ceph health detail:"
        timeout 20 ceph -c "$DIR/ceph.conf" --connect-timeout 10 health detail 2>&1 | sed 's/^/  /' || true
    fi
    local f
    for f in "$DIR"/log/cluster.log "$DIR"/log/mon.*.log "$DIR"/log/osd.*.log "$DIR"/log/osd.*.stdio; do
        [ -s "$f" ] || continue
        echo "last lines of $f (without the audit of commands and rocksdb):"
        grep -vE 'audit|handle_command|rocksdb' "$f" | tail -n 15 | cut -c1-300 | sed 's/^/  /' || true
    done
    # the kernel's word on a daemon that vanished (where dmesg may be read)
    dmesg 2>/dev/null | grep -iE 'out of memory|oom-kill|killed process|ceph-(osd|mon)' | tail -n 5 || true
}

do_add_user() {
    resolve_dir
    [ $# -eq 3 ] || die "usage: add-user DIR NAME 'MONCAPS' 'OSDCAPS'"
    local name=$1 moncaps=$2 osdcaps=$3 kr out
    case $name in *.*) ;; *) name=client.$name;; esac
    valid_name "$name" || die "bad user name '$name'"
    kr=$DIR/$name.keyring
    local err=$DIR/log/add-user.err
    out=$(c_ceph auth get-or-create "$name" mon "$moncaps" osd "$osdcaps" 2>"$err") || {
        # exists with other caps: update the caps, then fetch the key
        c_ceph auth caps "$name" mon "$moncaps" osd "$osdcaps" >/dev/null 2>>"$err" ||
            die "could not create user $name: $(tail -n 1 "$err")"
        out=$(c_ceph auth get "$name" 2>>"$err") ||
            die "could not read key of user $name: $(tail -n 1 "$err")"
    }
    case $out in *"key = "*) ;; *) die "could not create user $name: $(tail -n 1 "$err")";; esac
    ( umask 077; printf '%s\n' "$out" > "$kr" )
    echo "$kr"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; DIR=${2:-}
{ [ -n "$cmd" ] && [ -n "$DIR" ]; } || usage
shift 2
case $cmd in
    start)      [ $# -eq 0 ] || usage; do_start ;;
    stop)       [ $# -eq 0 ] || usage; do_stop ;;
    status)     do_status ;;
    osd-signal) { [ $# -ge 1 ] && [ $# -le 2 ]; } || usage; do_osd_signal "$@" ;;
    osd-start)  [ $# -le 1 ] || usage; do_osd_start "$@" ;;
    add-user)   do_add_user "$@" ;;
    wait-io)    { [ $# -ge 1 ] && [ $# -le 2 ]; } || usage; do_wait_io "$@" ;;
    report)     [ $# -eq 0 ] || usage; do_report ;;
    -h|--help|help) usage ;;
    *)          die "unknown command '$cmd' (start|stop|status|osd-signal|osd-start|wait-io|report|add-user)" ;;
esac
