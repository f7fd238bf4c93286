#!/usr/bin/env bash
# Throwaway PgBouncer in transaction pooling mode, in front of a PostgreSQL server on 127.0.0.1
# (normally one started by scripts/pg.sh), for tests and local development.
#
#   scripts/pgbouncer.sh start DIR PG_PORT [DBNAME]
#                             write a configuration to DIR (created if missing, must be empty),
#                             start PgBouncer on a free 127.0.0.1 port, forwarding every
#                             database name to the server on 127.0.0.1:PG_PORT, and print
#                             exactly one line on stdout:
#                               postgresql+asyncpg://postgres@127.0.0.1:PORT/DBNAME
#                             (DBNAME defaults to "kassa"; the database must exist on the
#                             server). The port is also written to DIR/port.
#   scripts/pgbouncer.sh stop DIR
#                             stop PgBouncer (immediate shutdown) and remove DIR.
#
# Layout: DIR/pgbouncer.ini, DIR/userlist.txt, DIR/log, DIR/pgbouncer.pid, DIR/port.
# Everything except the URL goes to stderr. Clients are trusted (auth_type = trust; the
# server of scripts/pg.sh trusts local connections too). PgBouncer refuses to run as root, so
# as root it runs as the "postgres" system user (via runuser); as any other user it runs as
# that user.
set -euo pipefail

# Keep the real stdout on fd 3 for the URL only; everything else goes to stderr.
exec 3>&1 1>&2

RUN_USER=postgres
RUN_AS=$RUN_USER
# shellcheck source=scripts/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/owner.sh"
DB_USER=postgres

log() { printf 'pgbouncer.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    echo "usage: $0 start DIR PG_PORT [DBNAME] | stop DIR" >&2
    exit 2
}

find_binary() {
    local f
    for f in /usr/sbin/pgbouncer /usr/bin/pgbouncer /usr/local/bin/pgbouncer; do
        [[ -x $f ]] && { printf '%s\n' "$f"; return 0; }
    done
    f=$(command -v pgbouncer || true)
    [[ -n $f ]] || die "no pgbouncer found; apt-get install pgbouncer"
    printf '%s\n' "$f"
}

listening() {
    (exec 4<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

read_pid() {
    head -n 1 "$DIR/pgbouncer.pid" 2>/dev/null || true
}

show_log() {
    if [[ -f $DIR/log ]]; then
        log "last lines of $DIR/log:"
        tail -n 30 "$DIR/log" >&2 || true
    fi
}

kill_bouncer() {
    local pid i
    pid=$(read_pid)
    process_alive "$pid" pgbouncer || return 0
    # SIGTERM: immediate shutdown (open client connections are closed).
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        process_alive "$pid" pgbouncer || return 0
        sleep 0.1
    done
    log "pgbouncer $pid still alive, killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_start() {
    [[ $PG_PORT =~ ^[0-9]+$ ]] || die "PG_PORT must be a port number, not '$PG_PORT'"
    [[ $DB_NAME =~ ^[A-Za-z0-9_]+$ ]] || die "DBNAME must be letters, digits and _"
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    [[ -z $(ls -A "$DIR") ]] || die "$DIR is not empty"

    own_dir "$DIR"

    # auth_type = trust still needs the user listed in the auth file.
    printf '"%s" ""\n' "$DB_USER" >"$DIR/userlist.txt"

    local port attempt started=0 seen new_log i
    # If anything below fails, stop PgBouncer again so nothing is left running. The directory
    # itself is left for inspection; `stop` removes it.
    trap 'if ((!READY)); then kill_bouncer; fi' EXIT
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        # Transaction pooling: a server connection belongs to a client only for the duration
        # of one transaction (one statement in autocommit), so nothing may rely on session
        # state; server_reset_query is not used in this mode.
        cat >"$DIR/pgbouncer.ini" <<EOF
; scripts/pgbouncer.sh (attempt $attempt)
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
pool_mode = transaction
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = $DB_USER
logfile = $DIR/log
pidfile = $DIR/pgbouncer.pid
max_client_conn = 1000
default_pool_size = 20
max_db_connections = 100
log_connections = 0
log_disconnections = 0
EOF
        if ((EUID == 0)); then
            chown "$RUN_USER:" "$DIR/pgbouncer.ini" "$DIR/userlist.txt"
        fi
        log "starting pgbouncer on 127.0.0.1:$port (server 127.0.0.1:$PG_PORT)"
        seen=0
        [[ -f $DIR/log ]] && seen=$(wc -l <"$DIR/log")
        if ! as_owner "$BIN" -d -q "$DIR/pgbouncer.ini"; then
            show_log
            die "pgbouncer failed to start"
        fi
        for ((i = 0; i < 100; i++)); do
            if listening "$port" && process_alive "$(read_pid)" pgbouncer; then
                started=1
                break
            fi
            # a daemon that wrote its pid file and died will not come up
            [[ -f $DIR/pgbouncer.pid ]] && ! process_alive "$(read_pid)" pgbouncer && break
            sleep 0.1
        done
        ((started)) && break
        new_log=$(tail -n "+$((seen + 1))" "$DIR/log" 2>/dev/null || true)
        kill_bouncer
        rm -f "$DIR/pgbouncer.pid"
        if [[ $new_log == *"Address already in use"* ]]; then
            log "port $port was taken, retrying with another one"
            continue
        fi
        show_log
        die "pgbouncer did not start listening on 127.0.0.1:$port"
    done
    ((started)) || { show_log; die "could not find a free port"; }

    printf '%s\n' "$port" >"$DIR/port"
    READY=1
    log "ready: 127.0.0.1:$port -> 127.0.0.1:$PG_PORT, pool_mode = transaction (files in $DIR)"
    printf 'postgresql+asyncpg://%s@127.0.0.1:%s/%s\n' "$DB_USER" "$port" "$DB_NAME" >&3
}

cmd_stop() {
    if [[ ! -e $DIR ]]; then
        log "$DIR does not exist, nothing to do"
        return 0
    fi
    DIR=$(cd "$DIR" && pwd -P)
    # Refuse to rm -rf anything that does not look like one of our PgBouncer directories.
    if [[ $DIR == / || ! (-e $DIR/pgbouncer.ini || -z $(ls -A "$DIR")) ]]; then
        die "$DIR does not look like a scripts/pgbouncer.sh directory; not removing it"
    fi
    if [[ -f $DIR/pgbouncer.pid ]]; then
        log "stopping pgbouncer in $DIR"
        kill_bouncer
    fi
    rm -rf -- "$DIR"
}

(($# >= 2)) || usage
ACTION=$1
DIR=$2
[[ -n $DIR ]] || usage
case $ACTION in
    start)
        (($# == 3 || $# == 4)) || usage
        PG_PORT=$3
        DB_NAME=${4:-kassa}
        ;;
    stop) (($# == 2)) || usage ;;
    *) usage ;;
esac
BIN=$(find_binary)
# shellcheck disable=SC2034  # read in cmd_start's EXIT trap
READY=0

case $ACTION in
    start) cmd_start ;;
    stop) cmd_stop ;;
esac
