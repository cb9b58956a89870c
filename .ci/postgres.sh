#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for asgibench's database tests (called by
# .ci/run; developers run it by hand: docs/database.md).
#
#   bash .ci/postgres.sh [start]   install PostgreSQL from Debian's packages if missing,
#                                  create the cluster on first use, start it if stopped,
#                                  and print its URL (the last line of stdout)
#   bash .ci/postgres.sh stop      stop it
#
# The cluster: its own data directory (not Debian's "main" cluster, whatever that one is
# doing), listening on 127.0.0.1 only, with pg_stat_statements preloaded; a role and a
# database named asgibench (password asgibench) with the pg_stat_statements extension.
# Idempotent: a running cluster is left as it is. PostgreSQL refuses to run as root, so
# as root the server runs as the postgres user the Debian package creates.
#
# Environment:
#   ASGIBENCH_PG_PORT   port (default 55432: away from a system cluster's 5432)
#   ASGIBENCH_PG_DIR    data directory (default $TMPDIR/asgibench-postgres)
set -euo pipefail

port=${ASGIBENCH_PG_PORT:-55432}
dir=${ASGIBENCH_PG_DIR:-${TMPDIR:-/tmp}/asgibench-postgres}
url="postgresql://asgibench:asgibench@127.0.0.1:${port}/asgibench"
action=${1:-start}

find_bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$found" ] && [ -x "$found/pg_ctl" ]; then
        echo "$found"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    fi
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing PostgreSQL from Debian's packages" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bindir=$(find_bindir)
    if [ -z "$bindir" ]; then
        echo "postgres.sh: PostgreSQL installed but pg_ctl not found" >&2
        exit 1
    fi
fi

# As root, the server and its files belong to the postgres user.
as_server=()
if [ "$(id -u)" = 0 ]; then
    if ! id -u postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    as_server=(runuser -u postgres --)
fi

ctl() { "${as_server[@]}" "$bindir/pg_ctl" -D "$dir" "$@"; }
psql_super() {
    PGOPTIONS="-c client_min_messages=warning" \
        "$bindir/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

if [ "$action" = stop ]; then
    if [ -f "$dir/PG_VERSION" ]; then
        ctl -m fast stop >/dev/null 2>&1 || true
    fi
    exit 0
fi
if [ "$action" != start ]; then
    echo "usage: bash .ci/postgres.sh [start|stop]" >&2
    exit 2
fi

version=$(basename "$(dirname "$bindir")")
if [ -f "$dir/PG_VERSION" ] && [ "$(cat "$dir/PG_VERSION")" != "$version" ]; then
    echo "postgres.sh: $dir is a PostgreSQL $(cat "$dir/PG_VERSION") cluster; making a" \
        "$version one" >&2
    ctl -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
fi

if [ ! -f "$dir/PG_VERSION" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "${#as_server[@]}" -eq 0 ] || chown postgres: "$dir"
    # Local (Unix socket, in the data directory) connections trust the superuser, for
    # this script; TCP connections need the password.
    "${as_server[@]}" "$bindir/initdb" -D "$dir" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    {
        echo "# asgibench's test cluster (.ci/postgres.sh)"
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$dir'"
        echo "shared_preload_libraries = 'pg_stat_statements'"
        echo "max_connections = 200"
    } | "${as_server[@]}" tee -a "$dir/postgresql.conf" >/dev/null
fi

if ! ctl status >/dev/null 2>&1; then
    ctl -l "$dir/server.log" -w -t 60 -o "-p $port" start >/dev/null || {
        echo "postgres.sh: PostgreSQL did not start; its log:" >&2
        tail -n 20 "$dir/server.log" >&2 || true
        exit 1
    }
fi

if [ "$(psql_super -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'asgibench'")" != 1 ]; then
    psql_super -d postgres -c "CREATE ROLE asgibench LOGIN PASSWORD 'asgibench' CREATEDB"
fi
psql_super -d postgres -c "GRANT pg_read_all_stats TO asgibench" >/dev/null
if [ "$(psql_super -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'asgibench'")" != 1 ]; then
    psql_super -d postgres -c "CREATE DATABASE asgibench OWNER asgibench"
fi
psql_super -d asgibench -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"

echo "$url"
