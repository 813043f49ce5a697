#!/usr/bin/env bash
# Install camnet into .venv and run it on its embedded defaults (SQLite, a local object
# folder, in-process coordination, built-in synthetic cameras) with the demo loaded.
# The console gets one line (the address to open and the demo users); everything the
# installer, the migrations, the demo and the server print goes to instance/run.log.
# Ports: the web server on CAMNET_PORT (8000), the built-in cameras on 8090 (HTTP) and
# 8554 (RTSP, its control channel on 8555), all on loopback unless CAMNET_HOST says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONSAFEPATH=1
HOST="${CAMNET_HOST:-127.0.0.1}"
PORT="${CAMNET_PORT:-8000}"
mkdir -p "${CAMNET_INSTANCE:-instance}"
LOG="${CAMNET_INSTANCE:-instance}/run.log"
: >"$LOG"

fail() {
  echo "camnet: $1 — xem / see $LOG" >&2
  tail -n 15 "$LOG" >&2
  exit 1
}
step() {  # step "what" command...: its output to the log, a clear message if it fails
  local what="$1"
  shift
  echo "== $what: $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || fail "$what failed"
}

echo "camnet: đang cài đặt và nạp dữ liệu mẫu / installing and loading the demo (log: $LOG) ..."
[ -x .venv/bin/python ] || step "creating .venv" python3 -m venv .venv
step "installing requirements" .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
step "installing camnet" .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
step "database upgrade" .venv/bin/camnet db upgrade
step "loading the demo" .venv/bin/camnet demo
users="$(grep -a '^Demo users' "$LOG" | tail -n 1 | sed 's/^Demo users/người dùng mẫu \/ demo users/')"

echo "== serve on $HOST:$PORT" >>"$LOG"
.venv/bin/camnet serve --host "$HOST" --port "$PORT" >>"$LOG" 2>&1 &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; exit 0' INT TERM
for _ in $(seq 1 240); do
  kill -0 "$server" 2>/dev/null || fail "the server stopped (port $PORT taken? set CAMNET_PORT)"
  if grep -aq "running at" "$LOG" && (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    break
  fi
  sleep 0.5
done
echo "camnet: mở / open http://$HOST:$PORT/ · $users (admin, police: + TOTP code, README) · Ctrl-C to stop"
wait "$server" || fail "the server stopped"
