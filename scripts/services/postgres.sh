#!/usr/bin/env bash
# Ensure a PostgreSQL accepts connections on 127.0.0.1:${PGPORT:-5432}, and that two roles
# exist (no passwords, trust auth): `camnet_owner`, which owns the test databases and runs the
# migrations, and the application role `camnet` (data privileges only, granted by each migration).
# Neither is a superuser, BYPASSRLS, CREATEDB or CREATEROLE.
#
#   postgres.sh [start]   use the server already there, or start a private throwaway
#                         cluster (data in $STATE/pg-PORT, trust auth, fsync off)
#   postgres.sh stop      stop the private cluster (never touches a server we did not start)
#   postgres.sh status    exit 0 if the port accepts connections
#
# Prints one status line on stdout; details/errors go to stderr.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PGPORT="${PGPORT:-5432}"
PGHOST_ADDR=127.0.0.1
DATA="$STATE/pg-$PGPORT"

# Debian keeps initdb/pg_ctl out of PATH: add the newest /usr/lib/postgresql/*/bin.
if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    [[ -n "$pgbin" ]] && PATH="$pgbin:$PATH"
fi

ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT" -t 2
    else
        port_open "$PGPORT" "$PGHOST_ADDR"
    fi
}

start_private() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 \
        || die "nothing listens on $PGHOST_ADDR:$PGPORT and initdb/pg_ctl are not installed (run scripts/services/install-system.sh)"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
    fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        rm -rf "$DATA"
        mkdir -p "$DATA"
        [[ $(id -u) -eq 0 ]] && chown postgres: "$DATA"
        chmod 700 "$DATA"
        as_postgres test -w "$DATA" \
            || die "the postgres OS user cannot write $DATA (set CAMNET_SERVICES_DIR to a directory it can reach, e.g. under /tmp)"
        log "initdb $DATA"
        as_postgres initdb -D "$DATA" -U postgres --auth=trust --no-sync -E UTF8 \
            --locale=C >"$STATE/pg-$PGPORT-initdb.log" 2>&1 \
            || { cat "$STATE/pg-$PGPORT-initdb.log" >&2; die "initdb failed"; }
    fi
    log "starting private PostgreSQL on $PGHOST_ADDR:$PGPORT"
    as_postgres pg_ctl -D "$DATA" -l "$DATA/server.log" -w -t 60 \
        -o "-p $PGPORT -c listen_addresses=$PGHOST_ADDR -c unix_socket_directories=$DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null \
        || { tail -n 30 "$DATA/server.log" >&2 || true; die "pg_ctl start failed"; }
}

ensure_role() {
    psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT" -U postgres -d postgres >/dev/null <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'camnet') THEN
        CREATE ROLE camnet LOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'camnet_owner') THEN
        CREATE ROLE camnet_owner LOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;
ALTER ROLE camnet LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD NULL;
ALTER ROLE camnet_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD NULL;
SQL
}

cmd="${1:-start}"
case "$cmd" in
start)
    how="existing"
    if ! ready; then
        start_private
        how="private cluster $DATA"
        ready || die "PostgreSQL on $PGHOST_ADDR:$PGPORT still not ready"
    fi
    command -v psql >/dev/null 2>&1 || die "psql not found (install postgresql-client)"
    ensure_role || die "could not create roles camnet and camnet_owner (need a superuser 'postgres' with trust auth on $PGHOST_ADDR:$PGPORT)"
    echo "postgres: ready on $PGHOST_ADDR:$PGPORT ($how), roles camnet and camnet_owner ok"
    ;;
stop)
    if [[ -f "$DATA/postmaster.pid" ]]; then
        as_postgres pg_ctl -D "$DATA" -m fast -w stop >/dev/null
        echo "postgres: private cluster on port $PGPORT stopped"
    else
        echo "postgres: no private cluster running on port $PGPORT (left any other server alone)"
    fi
    ;;
status)
    if ready; then echo "postgres: up on $PGHOST_ADDR:$PGPORT"; else echo "postgres: down on $PGHOST_ADDR:$PGPORT"; exit 1; fi
    ;;
*)
    die "usage: $0 [start|stop|status]"
    ;;
esac
