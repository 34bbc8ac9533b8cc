#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for Portolan's tests.
#
#   bash tests/pg.sh start DIR [PORT]   create (if needed) and start a cluster in DIR; prints its
#                                       DATABASE_URL (and nothing else) on stdout
#   bash tests/pg.sh stop DIR           stop it (immediate); harmless when it is not running
#
# The cluster trusts every local connection (user `postgres`, no password), listens on 127.0.0.1 at
# PORT (default: the first free port from 55432 upwards) and keeps its socket in DIR. Durability is
# off (fsync, full_page_writes, synchronous_commit): it is for tests only. As root, the server runs
# as the `postgres` user (initdb and postgres refuse root) and DIR is handed over to it, so DIR's
# parent directories must be traversable by that user (e.g. a `mktemp -d` directory under /tmp).
set -euo pipefail

usage() {
    sed -n '2,6p' "$0" >&2
    exit 2
}
die() {
    printf 'pg.sh: error: %s\n' "$*" >&2
    exit 1
}

[ $# -ge 2 ] || usage
cmd="$1"
dir="$2"
port_arg="${3:-}"

# --- locate the server binaries: initdb on PATH, else the newest /usr/lib/postgresql/*/bin ------
find_bindir() {
    local initdb_path
    if initdb_path="$(command -v initdb 2>/dev/null)"; then
        # Follow symlinks so that pg_ctl/postgres are taken from the same installation.
        dirname "$(readlink -f "$initdb_path")"
        return 0
    fi
    local newest
    newest="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
        sort -V | tail -n 1)"
    [ -n "$newest" ] || return 1
    dirname "$newest"
}
bindir="$(find_bindir)" || die "no PostgreSQL server binaries (initdb) found; run: bash tests/setup.sh"
[ -x "$bindir/pg_ctl" ] || die "no pg_ctl next to $bindir/initdb"

if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user (Debian's postgresql package creates it)"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

if [ "$cmd" = stop ] && [ ! -d "$dir" ]; then
    exit 0
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd -P)"
data="$dir/data"
logfile="$dir/postgres.log"

pg_ctl() {
    # Run from inside DIR: the postgres user may not be allowed into the caller's working directory.
    (cd "$dir" && as_pg "$bindir/pg_ctl" "$@")
}

is_running() {
    [ -f "$data/postmaster.pid" ] && pg_ctl -D "$data" status >/dev/null 2>&1
}

url_for() { printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$1"; }

port_in_use() {
    # Something accepts connections on it (bash's /dev/tcp; no extra tools needed).
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

case "$cmd" in
    start)
        if [ -n "$port_arg" ]; then
            [[ "$port_arg" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port_arg'"
        fi

        if [ "$(id -u)" -eq 0 ]; then
            chown -R postgres:postgres "$dir"
            runuser -u postgres -- test -w "$dir" ||
                die "user postgres cannot write to $dir (are its parent directories private to root?)"
        fi

        if is_running; then
            # Already started (idempotent): report the port it listens on.
            running_port="$(sed -n '4p' "$data/postmaster.pid")"
            [ -n "$running_port" ] || die "cannot read the port of the cluster running in $data"
            url_for "$running_port"
            exit 0
        fi

        if [ ! -f "$data/PG_VERSION" ]; then
            rm -rf "$data"
            (cd "$dir" && as_pg "$bindir/initdb" --no-sync -A trust -U postgres -E UTF8 --no-locale \
                -D "$data") >"$dir/initdb.log" 2>&1 ||
                {
                    cat "$dir/initdb.log" >&2
                    die "initdb failed"
                }
            # Settings for a fast, disposable test server (later lines win over the defaults).
            cat >>"$data/postgresql.conf" <<EOF

# --- Portolan test cluster (tests/pg.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 200
logging_collector = off
EOF
            [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$data/postgresql.conf"
        fi

        # Pick a port (the next free one on failure, in case another run took it meanwhile).
        if [ -n "$port_arg" ]; then
            candidates=("$port_arg")
        else
            candidates=()
            for ((p = 55432; p < 55532; p++)); do candidates+=("$p"); done
        fi
        started=""
        tries=0
        for port in "${candidates[@]}"; do
            port_in_use "$port" && continue
            tries=$((tries + 1))
            [ "$tries" -le 5 ] || break
            if pg_ctl -D "$data" -l "$logfile" -w -t 60 -o "-p $port" start >/dev/null 2>&1; then
                started="$port"
                break
            fi
        done
        if [ -z "$started" ]; then
            tail -n 20 "$logfile" >&2 2>/dev/null || true
            die "could not start PostgreSQL in $dir (see $logfile)"
        fi
        url_for "$started"
        ;;

    stop)
        if [ -f "$data/postmaster.pid" ]; then
            pg_ctl -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        fi
        ;;

    *) usage ;;
esac
