#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and local development.
#
#   scripts/pg.sh start DIR   create a cluster in DIR (created if missing, must be empty),
#                             start it on a free 127.0.0.1 port, create database "kassa" and
#                             print exactly one line on stdout:
#                               postgresql+asyncpg://postgres@127.0.0.1:PORT/kassa
#                             The port is also written to DIR/port.
#   scripts/pg.sh stop DIR    stop the server (fast shutdown) and remove DIR.
#   scripts/pg.sh createdb DIR NAME
#                             create another empty database NAME on the running server of DIR.
#   scripts/pg.sh pause DIR   stop the server (fast shutdown) but keep DIR: an outage.
#   scripts/pg.sh resume DIR  start a paused server again, on the same port.
#
# Layout: DIR/data (cluster), DIR/log (server log), DIR/port, DIR/.s.PGSQL.PORT (unix socket).
# Everything except the URL goes to stderr. initdb and pg_ctl refuse to run as root, so as
# root the server runs as the "postgres" system user (via runuser); as any other user it runs
# as that user.
set -euo pipefail

# Keep the real stdout on fd 3 for the URL only; everything else goes to stderr.
exec 3>&1 1>&2

PG_USER=postgres
RUN_AS=$PG_USER
# shellcheck source=scripts/owner.sh
source "$(dirname "${BASH_SOURCE[0]}")/owner.sh"
DB_NAME=kassa

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    echo "usage: $0 start DIR | stop DIR | createdb DIR NAME | pause DIR | resume DIR" >&2
    exit 2
}

find_bindir() {
    local best="" best_ver=-1 d ver
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
        ver=${d#/usr/lib/postgresql/}
        ver=${ver%/bin}
        ver=${ver%%.*}
        [[ $ver =~ ^[0-9]+$ ]] || continue
        if ((ver > best_ver)); then
            best=$d
            best_ver=$ver
        fi
    done
    if [[ -z $best ]]; then
        local initdb
        initdb=$(command -v initdb || true)
        [[ -n $initdb ]] || die "no PostgreSQL found (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH); apt-get install postgresql"
        best=$(dirname "$(readlink -f "$initdb")")
    fi
    printf '%s\n' "$best"
}

show_log() {
    if [[ -f $DIR/log ]]; then
        log "last lines of $DIR/log:"
        tail -n 30 "$DIR/log" >&2 || true
    fi
}

cmd_start() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    [[ -z $(ls -A "$DIR") ]] || die "$DIR is not empty"

    # Unix socket paths are limited to ~107 bytes.
    local sock="$DIR/.s.PGSQL.65535"
    ((${#sock} <= 100)) || die "$DIR is too long a path for a unix socket directory"

    own_dir "$DIR"

    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale=C.UTF-8
    fi

    log "initdb in $DIR/data ($BIN)"
    as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U "$PG_USER" -E UTF8 --locale="$locale" \
        --no-sync >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2
        die "initdb failed"
    }

    # Our settings are appended to postgresql.conf (last one wins; no shell quoting issues
    # with pg_ctl -o). Durability settings (fsync etc.) stay at their defaults.
    local conf="$DIR/data/postgresql.conf" port attempt started=0 seen new_log
    # If anything below fails (including a timed-out start), stop the server again so
    # nothing is left running. The directory itself is left for inspection; `stop` removes it.
    trap 'if ((!READY)); then as_owner "$BIN/pg_ctl" stop -D "$DIR/data" -m immediate >/dev/null 2>&1 || true; fi' EXIT
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        cat >>"$conf" <<EOF

# --- scripts/pg.sh (attempt $attempt) ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
max_connections = 200
EOF
        log "starting server on 127.0.0.1:$port"
        seen=0
        [[ -f $DIR/log ]] && seen=$(wc -l <"$DIR/log")
        if as_owner "$BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/log" -w -t 60 >/dev/null; then
            started=1
            break
        fi
        new_log=$(tail -n "+$((seen + 1))" "$DIR/log" 2>/dev/null || true)
        if [[ $new_log == *"could not bind"* || $new_log == *"Address already in use"* ]]; then
            log "port $port was taken, retrying with another one"
            continue
        fi
        show_log
        die "pg_ctl start failed"
    done
    ((started)) || { show_log; die "could not find a free port"; }

    local i
    for ((i = 0; i < 100; i++)); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" 3>&- && break
        sleep 0.1
    done
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" 3>&- || {
        show_log
        die "server on port $port did not become ready"
    }

    "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$DB_NAME" 3>&-
    printf '%s\n' "$port" >"$DIR/port"
    READY=1

    log "ready: database $DB_NAME on 127.0.0.1:$port (data in $DIR)"
    printf 'postgresql+asyncpg://%s@127.0.0.1:%s/%s\n' "$PG_USER" "$port" "$DB_NAME" >&3
}

cmd_createdb() {
    [[ $NAME =~ ^[A-Za-z0-9_]+$ ]] || die "NAME must be letters, digits and _"
    local port
    port=$(cat "$DIR/port" 2>/dev/null) || die "$DIR has no running server (no $DIR/port)"
    "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$NAME" 3>&-
    log "created database $NAME on 127.0.0.1:$port"
}

# Stop the server in $DIR (fast shutdown; immediate, then KILL, if that does not finish).
stop_server() {
    if [[ -f $DIR/data/postmaster.pid ]]; then
        local pid
        pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
        log "stopping server in $DIR"
        if ! as_owner "$BIN/pg_ctl" stop -D "$DIR/data" -m fast -w -t 60 >/dev/null; then
            as_owner "$BIN/pg_ctl" stop -D "$DIR/data" -m immediate -w -t 30 >/dev/null || true
        fi
        # pg_ctl returns once postmaster.pid is gone; give the process a moment to exit.
        local i
        for ((i = 0; i < 100; i++)); do
            process_alive "$pid" postgres || break
            sleep 0.1
        done
        if process_alive "$pid" postgres; then
            log "postmaster $pid still alive, killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
}

cmd_pause() {
    [[ -f $DIR/port && -e $DIR/data/PG_VERSION ]] || die "$DIR is not a started scripts/pg.sh cluster"
    DIR=$(cd "$DIR" && pwd -P)
    stop_server
}

cmd_resume() {
    [[ -f $DIR/port && -e $DIR/data/PG_VERSION ]] || die "$DIR is not a scripts/pg.sh cluster"
    DIR=$(cd "$DIR" && pwd -P)
    local port
    port=$(cat "$DIR/port")
    log "starting server on 127.0.0.1:$port again"
    # postgresql.conf still names the port, so the server comes back where clients expect it
    as_owner "$BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/log" -w -t 60 >/dev/null || {
        show_log
        die "pg_ctl start failed (is port $port taken now?)"
    }
    local i
    for ((i = 0; i < 100; i++)); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" 3>&- && return 0
        sleep 0.1
    done
    show_log
    die "server on port $port did not become ready"
}

cmd_stop() {
    if [[ ! -e $DIR ]]; then
        log "$DIR does not exist, nothing to do"
        return 0
    fi
    DIR=$(cd "$DIR" && pwd -P)
    # Refuse to rm -rf anything that does not look like one of our clusters.
    if [[ $DIR == / || ! (-e $DIR/data/PG_VERSION || -e $DIR/port || -e $DIR/initdb.log || -z $(ls -A "$DIR")) ]]; then
        die "$DIR does not look like a scripts/pg.sh cluster; not removing it"
    fi

    stop_server
    rm -rf -- "$DIR"
}

(($# >= 2)) || usage
ACTION=$1
DIR=$2
[[ -n $DIR ]] || usage
if [[ $ACTION == createdb ]]; then
    (($# == 3)) || usage
    NAME=$3
else
    (($# == 2)) || usage
fi
BIN=$(find_bindir)
# shellcheck disable=SC2034  # read in cmd_start's EXIT trap
READY=0

case $ACTION in
    start) cmd_start ;;
    stop) cmd_stop ;;
    createdb) cmd_createdb ;;
    pause) cmd_pause ;;
    resume) cmd_resume ;;
    *) usage ;;
esac
