# Shell helpers shared by scripts/pg.sh and scripts/pgbouncer.sh (sourced, not run).
# The sourcing script sets RUN_AS: the system user its daemon runs as when we are root.

# Run a command as the daemon's owner: $RUN_AS when we are root, ourselves otherwise. fd 3 (the
# script's stdout, possibly a $(...) pipe) is closed so that a daemon never holds it open.
as_owner() {
    if ((EUID == 0)); then
        (cd / && exec runuser -u "$RUN_AS" -- "$@") 3>&-
    else
        "$@" 3>&-
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# process_alive PID NAME: true if PID is a live (non-zombie) process whose name starts with
# NAME. Checking the name avoids killing an unrelated process that reused a stale PID.
process_alive() {
    local pid=$1 name=$2 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name"* ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# own_dir DIR: as root, hand DIR to $RUN_AS and check that it can work in it.
own_dir() {
    if ((EUID == 0)); then
        id -u "$RUN_AS" >/dev/null 2>&1 || die "running as root but there is no '$RUN_AS' user"
        chown "$RUN_AS:" "$1"
        chmod 700 "$1"
        as_owner test -w "$1" -a -x "$1" ||
            die "user '$RUN_AS' cannot access $1 (is a parent directory private?)"
    fi
}
