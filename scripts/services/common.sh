# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh. Source it; do not execute it.
#
#   STATE          per-machine state dir (pid files, logs, data dirs):
#                  ${CAMNET_SERVICES_DIR:-/tmp/camnet-services}
#   log MSG...     message to stderr (stdout is reserved for machine-readable output)
#   die MSG...     message to stderr, exit 1
#   port_open PORT [HOST]          true if something accepts TCP on HOST:PORT
#   wait_for_port PORT [TIMEOUT] [HOST]   wait until HOST:PORT accepts (default 30 s)
#   wait_for_port_closed PORT [TIMEOUT] [HOST]
#   as_postgres CMD...             run CMD as the postgres OS user when we are root

STATE="${CAMNET_SERVICES_DIR:-/tmp/camnet-services}"
mkdir -p "$STATE"

log() { printf '[camnet-services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Pure-bash TCP probe (no nc dependency); the subshell closes the fd again.
port_open() {
    local port="$1" host="${2:-127.0.0.1}"
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

wait_for_port() {
    local port="$1" timeout="${2:-30}" host="${3:-127.0.0.1}"
    local deadline=$((SECONDS + timeout))
    until port_open "$port" "$host"; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for $host:$port"
            return 1
        fi
        sleep 0.1
    done
}

wait_for_port_closed() {
    local port="$1" timeout="${2:-30}" host="${3:-127.0.0.1}"
    local deadline=$((SECONDS + timeout))
    while port_open "$port" "$host"; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for $host:$port to close"
            return 1
        fi
        sleep 0.1
    done
}

as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            # su needs a single command string; quote every argument.
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}
