#!/bin/bash
# mariadb-server.sh - throwaway MariaDB server for arca's tests and benchmarks.
# Everything lives in DIR; /etc/mysql and any system server are ignored
# (mariadbd --no-defaults). Several servers in different DIRs can run at once.
# Needs Debian packages mariadb-server mariadb-client (MariaDB 10.11).
#
# Usage:
#   mariadb-server.sh start DIR   create a new server in DIR (DIR must not exist or be
#                                 empty) and start it; or, if DIR holds a stopped server
#                                 made by this script (e.g. after kill -9), start it again
#                                 on its existing data. Listens only on the unix socket
#                                 DIR/mysqld.sock (--skip-networking). root@localhost has no
#                                 password. Waits until `SELECT 1` works. On success prints
#                                 (and writes to DIR/env):
#                                   MYSQL_SOCKET=DIR/mysqld.sock
#                                   MYSQL_DEFAULTS_FILE=DIR/client.cnf
#                                 client.cnf is a [client] section (socket=, user=root) for
#                                 `mariadb --defaults-file=...` / `mariadb-dump --defaults-file=...`.
#                                 On failure: non-zero exit, nothing left running.
#                                 A DIR that holds only data/, a datadir made elsewhere (e.g.
#                                 by arca restore --mysql-physical --target DIR/data), is
#                                 adopted: the server starts on it, with DIR's own socket.
#   mariadb-server.sh stop DIR    clean shutdown (SQL SHUTDOWN, then SIGTERM, then
#                                 SIGKILL); idempotent, exit 0 when nothing runs
#   mariadb-server.sh status DIR  exit 0 iff the server runs and answers
#   mariadb-server.sh sql DIR 'SQL' [mariadb options...]
#                                 run SQL as root (SQL '-' = read from stdin), e.g.
#                                 sql DIR 'SELECT COUNT(*) FROM t' -N -D mydb
#
# Files in DIR: data/ (datadir), mysqld.sock, mysqld.pid, mysqld.err (error log),
# client.cnf, env, tmp/.
#
# Environment knobs (all optional):
#   MARIADB_START_TIMEOUT=60   seconds to wait for the server to answer
#   MARIADB_STOP_TIMEOUT=30    seconds for a clean shutdown before SIGTERM/SIGKILL
#   MARIADB_BUFFER_POOL=64M    innodb_buffer_pool_size
#   MARIADB_LOG_FILE_SIZE=16M  innodb_log_file_size
#   MARIADB_QUIET=1            no progress messages on stderr
#   MARIADB_LOG_BIN=0          no binary log (default: DIR/binlog.*, server id 1, row format)
#
# CI usage:
#   set -a; eval "$(MARIADB_QUIET=1 scripts/mariadb-server.sh start /tmp/mdb)"; set +a
#   mariadb --defaults-file="$MYSQL_DEFAULTS_FILE" -e 'CREATE DATABASE t'
#   scripts/mariadb-server.sh stop /tmp/mdb; rm -rf /tmp/mdb
set -euo pipefail

PROG=mariadb-server
die() { echo "$PROG: $*" >&2; exit 1; }
log() { [ -n "${MARIADB_QUIET:-}" ] || echo "$PROG: $*" >&2; }
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
    # a failed `start` must not leave a server running
    if [ "$STARTING" = 1 ] && [ "$rc" -ne 0 ]; then
        STARTING=0
        log "start failed, stopping what was started under $DIR"
        MARIADB_QUIET=1 MARIADB_STOP_TIMEOUT=5 do_stop || true
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

find_tool() {   # first of the given commands that exists (also looks in sbin)
    local t
    for t in "$@"; do
        if command -v "$t" >/dev/null 2>&1; then command -v "$t"; return 0; fi
        if [ -x "/usr/sbin/$t" ]; then echo "/usr/sbin/$t"; return 0; fi
    done
    return 1
}
MARIADBD=$(find_tool mariadbd mysqld) || die "mariadbd not found (apt-get install mariadb-server)"
INSTALL_DB=$(find_tool mariadb-install-db mysql_install_db) || die "mariadb-install-db not found (apt-get install mariadb-server)"
CLIENT=$(find_tool mariadb mysql) || die "mariadb client not found (apt-get install mariadb-client)"
ADMIN=$(find_tool mariadb-admin mysqladmin) || die "mariadb-admin not found (apt-get install mariadb-client)"

# last lines of a log on stderr (not with MARIADB_QUIET=1), before the one-line error
show_log() {
    [ -z "${MARIADB_QUIET:-}" ] && [ -s "$1" ] || return 0
    if grep -q -E '\[ERROR\]|^Error|ERROR:' "$1"; then
        grep -E '\[ERROR\]|^Error|ERROR:' "$1" | tail -n 10
    else
        tail -n 15 "$1"
    fi | sed 's/^/  | /' >&2 || true
}
is_uint() { case ${1:-} in ''|*[!0-9]*) return 1;; *) return 0;; esac; }
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

# alive = exists and is not a zombie (the server is reparented to PID 1, whose
# reaping can lag; `kill -0` succeeds on a zombie)
pid_alive() {
    is_uint "${1:-}" || return 1
    kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] && [ "$st" != x ]
}
# pid $1 is the server of *this* DIR: its argv has --datadir=DIR/data
# (pid reuse safety; we never kill by process name)
pid_ours() {
    pid_alive "$1" || return 1
    local a
    while IFS= read -r -d '' a; do
        [ "$a" = "--datadir=$DIR/data" ] && return 0
    done < "/proc/$1/cmdline" 2>/dev/null
    return 1
}
# pid of the server of this DIR: pid file, else a /proc scan by argv (not by name)
server_pid() {
    local pid d
    pid=$(read_pid "$DIR/mysqld.pid")
    if [ -n "$pid" ] && pid_ours "$pid"; then echo "$pid"; return 0; fi
    pid=$(read_pid "$DIR/mysqld.launch.pid")
    if [ -n "$pid" ] && pid_ours "$pid"; then echo "$pid"; return 0; fi
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        if pid_ours "$pid"; then echo "$pid"; return 0; fi
    done
    return 1
}

resolve_dir() {
    [ -n "$DIR" ] || die "missing DIR"
    [ -d "$DIR" ] || die "$DIR: no such directory"
    DIR=$(cd "$DIR" && pwd -P)
}

socket_path() {   # the socket recorded at creation time
    if [ -s "$DIR/socket-path" ]; then cat "$DIR/socket-path"; else echo "$DIR/mysqld.sock"; fi
}

answers() {   # the server accepts root and runs a query
    timeout 10 "$CLIENT" --defaults-file="$DIR/client.cnf" --connect-timeout=2 -N -B \
        -e 'SELECT 1' >/dev/null 2>&1
}

server_args() {
    SERVER_ARGS=(
        --datadir="$DIR/data"
        --socket="$SOCK"
        --pid-file="$DIR/mysqld.pid"
        --log-error="$DIR/mysqld.err"
        --tmpdir="$DIR/tmp"
        --skip-networking
        --skip-name-resolve
        --character-set-server=utf8mb4
        --collation-server=utf8mb4_general_ci
        # small footprint for CI
        --innodb-buffer-pool-size="${MARIADB_BUFFER_POOL:-64M}"
        --innodb-log-file-size="${MARIADB_LOG_FILE_SIZE:-16M}"
        --innodb-log-buffer-size=8M
        --innodb-flush-log-at-trx-commit=2
        --innodb-use-native-aio=0
        --performance-schema=OFF
        --key-buffer-size=8M
        --aria-pagecache-buffer-size=16M
        --max-connections=100
        --table-open-cache=400
    )
    # the binary log (on unless MARIADB_LOG_BIN=0): what a dump records its position in
    if [ "${MARIADB_LOG_BIN:-1}" = 0 ]; then
        SERVER_ARGS+=(--skip-log-bin)
    else
        SERVER_ARGS+=(--log-bin="$DIR/binlog" --server-id=1 --binlog-format=ROW)
    fi
    if [ "$(id -u)" = 0 ]; then SERVER_ARGS+=(--user=root); fi
}

do_start() {
    [ -n "$DIR" ] || die "missing DIR"
    local restart=0 adopt=0 timeout=${MARIADB_START_TIMEOUT:-60}
    { is_uint "$timeout" && [ "$timeout" -ge 1 ]; } || die "MARIADB_START_TIMEOUT must be a number of seconds"
    if [ -e "$DIR" ]; then
        [ -d "$DIR" ] || die "$DIR exists and is not a directory"
        DIR=$(cd "$DIR" && pwd -P)
        if [ -f "$DIR/.mariadb-server" ] && [ -d "$DIR/data/mysql" ]; then
            if server_pid >/dev/null; then die "a server is already running in $DIR"; fi
            restart=1
        elif [ "$(ls -A "$DIR" 2>/dev/null)" = data ] && [ -d "$DIR/data/mysql" ]; then
            adopt=1
        elif [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
            die "$DIR is not empty and holds no server of this script (stop it and rm -rf it first)"
        fi
    fi
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    STARTING=1

    if [ "$restart" = 1 ]; then
        SOCK=$(socket_path)
        mkdir -p "$(dirname "$SOCK")" "$DIR/tmp"
        rm -f "$SOCK" "$DIR/mysqld.pid" "$DIR/mysqld.launch.pid"
        log "restarting the existing server in $DIR"
    else
        mkdir -p "$DIR/data" "$DIR/tmp"
        # unix socket paths are limited to 107 bytes: long DIR -> short private dir
        SOCK=$DIR/mysqld.sock
        if [ "${#SOCK}" -gt 100 ]; then
            SOCK=$(mktemp -d /tmp/mariadb-sock.XXXXXX)/mysqld.sock || die "mktemp failed"
            log "DIR is long: socket is $SOCK"
        fi
        echo "$SOCK" > "$DIR/socket-path"
        printf '[client]\nsocket=%s\nuser=root\n' "$SOCK" > "$DIR/client.cnf"
    fi
    server_args

    if [ "$adopt" = 1 ]; then
        : > "$DIR/.mariadb-server"
        phase "datadir adopted"
    elif [ "$restart" = 0 ]; then
        local inst=(--no-defaults --datadir="$DIR/data" --auth-root-authentication-method=normal
                    --skip-test-db --skip-name-resolve
                    --innodb-buffer-pool-size="${MARIADB_BUFFER_POOL:-64M}"
                    --innodb-log-file-size="${MARIADB_LOG_FILE_SIZE:-16M}"
                    --innodb-use-native-aio=0 --performance-schema=OFF --tmpdir="$DIR/tmp")
        if [ "$(id -u)" = 0 ]; then inst+=(--user=root); fi
        timeout 300 "$INSTALL_DB" "${inst[@]}" </dev/null >"$DIR/install-db.log" 2>&1 ||
            { show_log "$DIR/install-db.log"; die "mariadb-install-db failed; see $DIR/install-db.log"; }
        : > "$DIR/.mariadb-server"   # from now on `start DIR` restarts this server
        phase "datadir initialised"
    fi

    # never let the server inherit our stdout/stderr (`$(mariadb-server.sh start D)`
    # would hang until it exits); own session so a terminal's SIGHUP/SIGINT miss it
    ( exec_closed setsid "$MARIADBD" --no-defaults "${SERVER_ARGS[@]}" ) \
        </dev/null >>"$DIR/mysqld.stdio" 2>&1 &
    echo "$!" > "$DIR/mysqld.launch.pid"
    local pid deadline=$(( $(date +%s) + timeout ))
    while :; do
        if answers; then break; fi
        pid=$(server_pid || true)
        if [ -z "$pid" ]; then
            sleep 0.2   # it may just have exited: give the log a moment
            if ! server_pid >/dev/null; then
                show_log "$DIR/mysqld.err"
                die "mariadbd exited during start-up; see $DIR/mysqld.err"
            fi
        fi
        [ "$(date +%s)" -lt "$deadline" ] || die "server did not answer within ${timeout}s; see $DIR/mysqld.err"
        sleep 0.1
    done
    phase "server answers on $SOCK (pid $(server_pid || echo '?'))"

    {
        echo "MYSQL_SOCKET=$SOCK"
        echo "MYSQL_DEFAULTS_FILE=$DIR/client.cnf"
    } > "$DIR/env"
    STARTING=0
    cat "$DIR/env"
}

wait_gone() {   # wait up to $2 seconds for pid $1 to exit
    local i
    for (( i = 0; i < $2 * 20; i++ )); do
        pid_alive "$1" || return 0
        sleep 0.05
    done
    ! pid_alive "$1"
}

do_stop() {
    [ -n "$DIR" ] || die "missing DIR"
    if [ ! -d "$DIR" ]; then log "$DIR does not exist, nothing to stop"; return 0; fi
    DIR=$(cd "$DIR" && pwd -P)
    local pid stop_timeout=${MARIADB_STOP_TIMEOUT:-30} sock
    is_uint "$stop_timeout" || stop_timeout=30
    sock=$(socket_path)
    if pid=$(server_pid); then
        # a SIGSTOPped server cannot shut down
        kill -CONT "$pid" 2>/dev/null || true
        if [ -f "$DIR/client.cnf" ]; then
            # SQL SHUTDOWN, not `mariadb-admin shutdown`: that one polls the pid file
            # once a second (stop took 1 s); the wait below polls every 50 ms
            timeout "$stop_timeout" "$CLIENT" --defaults-file="$DIR/client.cnf" --connect-timeout=5 \
                -e SHUTDOWN >/dev/null 2>&1 ||
                timeout "$stop_timeout" "$ADMIN" --defaults-file="$DIR/client.cnf" --connect-timeout=5 \
                    shutdown >/dev/null 2>&1 || true
        fi
        if ! wait_gone "$pid" "$stop_timeout"; then
            log "server (pid $pid) still running, sending SIGTERM"
            if pid_ours "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
            if ! wait_gone "$pid" 10; then
                log "server (pid $pid) still running, sending SIGKILL"
                if pid_ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
                wait_gone "$pid" 10 || die "could not stop pid $pid"
            fi
        fi
        phase "server (pid $pid) stopped"
    else
        log "no server running in $DIR"
    fi
    rm -f "$DIR/mysqld.pid" "$DIR/mysqld.launch.pid"
    case $sock in
        /tmp/mariadb-sock.*/mysqld.sock) rm -rf -- "$(dirname "$sock")" ;;
        *) rm -f -- "$sock" "$sock.lock" ;;
    esac
}

do_status() {
    resolve_dir
    local pid
    pid=$(server_pid) || { echo "not running"; return 1; }
    if answers; then echo "running (pid $pid), socket $(socket_path)"; return 0; fi
    echo "running (pid $pid) but not answering"; return 1
}

do_sql() {
    resolve_dir
    [ $# -ge 1 ] || die "usage: sql DIR 'SQL' [mariadb options...]"
    local sql=$1; shift
    [ -f "$DIR/client.cnf" ] || die "$DIR has no client.cnf (not a server dir)"
    if [ "$sql" = - ]; then
        exec "$CLIENT" --defaults-file="$DIR/client.cnf" "$@"
    fi
    exec "$CLIENT" --defaults-file="$DIR/client.cnf" "$@" -e "$sql"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; DIR=${2:-}
{ [ -n "$cmd" ] && [ -n "$DIR" ]; } || usage
shift 2
case $cmd in
    start)  [ $# -eq 0 ] || usage; do_start ;;
    stop)   [ $# -eq 0 ] || usage; do_stop ;;
    status) do_status ;;
    sql)    do_sql "$@" ;;
    *)      die "unknown command '$cmd' (start|stop|status|sql)" ;;
esac
