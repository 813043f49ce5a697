#!/usr/bin/env bash
# An S3-compatible server for tests: moto_server (PyPI moto[server]) on
# 127.0.0.1:${S3_PORT:-9100}. Any access key / secret key is accepted.
#
#   s3.sh start    start it in the background unless the port already answers HTTP
#   s3.sh stop     stop the one we started (pid file in $STATE)
#   s3.sh status   exit 0 if the port answers HTTP
#
# moto_server is looked up as: $MOTO_SERVER, next to the `python` on PATH (the active
# venv), the repo's .venv/bin, then `python -m moto.server`.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

S3_PORT="${S3_PORT:-9100}"
HOST=127.0.0.1
PIDFILE="$STATE/moto-$S3_PORT.pid"
LOGFILE="$STATE/moto-$S3_PORT.log"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

answers() {
    # Any HTTP status means the server is up (moto answers / with 200).
    curl -s -o /dev/null --max-time 2 "http://$HOST:$S3_PORT/" 2>/dev/null
}

moto_cmd() {
    local py
    if [[ -n "${MOTO_SERVER:-}" ]]; then
        MOTO=("$MOTO_SERVER"); return
    fi
    py="$(command -v python 2>/dev/null || true)"
    if [[ -n "$py" && -x "$(dirname "$py")/moto_server" ]]; then
        MOTO=("$(dirname "$py")/moto_server"); return
    fi
    if [[ -x "$REPO/.venv/bin/moto_server" ]]; then
        MOTO=("$REPO/.venv/bin/moto_server"); return
    fi
    for py in python python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import moto.server' >/dev/null 2>&1; then
            MOTO=("$(command -v "$py")" -m moto.server); return
        fi
    done
    die "moto_server not found: pip install 'moto[server]' (in the venv) or set MOTO_SERVER"
}

cmd="${1:-start}"
case "$cmd" in
start)
    command -v curl >/dev/null 2>&1 || die "curl not found"
    if answers; then
        exit 0
    fi
    port_open "$S3_PORT" && die "port $S3_PORT is open but does not answer HTTP"
    moto_cmd
    # From / so that a repo folder named like a stdlib module cannot shadow it.
    # New session (setsid) so it outlives the caller's process group; the child writes
    # its own pid (setsid may fork, so $! would not be it).
    rm -f "$PIDFILE"
    (cd / && exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
        "${MOTO[@]}" -H "$HOST" -p "$S3_PORT" </dev/null >"$LOGFILE" 2>&1) &
    deadline=$((SECONDS + 30))
    until [[ -s "$PIDFILE" ]]; do
        ((SECONDS < deadline)) || die "moto_server did not start"
        sleep 0.05
    done
    until answers; do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            tail -n 20 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            die "moto_server exited"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$LOGFILE" >&2 || true
            die "moto_server does not answer on $HOST:$S3_PORT after 30s"
        fi
        sleep 0.1
    done
    log "moto S3 server on http://$HOST:$S3_PORT (pid $(cat "$PIDFILE"))"
    ;;
stop)
    if [[ -f "$PIDFILE" ]]; then
        pid="$(cat "$PIDFILE")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$PIDFILE"
        wait_for_port_closed "$S3_PORT" 5 || die "port $S3_PORT still open after stopping pid $pid"
    elif answers; then
        log "something answers on $HOST:$S3_PORT but it was not started by s3.sh; left alone"
    fi
    ;;
status)
    if answers; then echo "s3: up on http://$HOST:$S3_PORT"; else echo "s3: down on http://$HOST:$S3_PORT"; exit 1; fi
    ;;
*)
    die "usage: $0 start|stop|status"
    ;;
esac
