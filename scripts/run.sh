#!/usr/bin/env bash
# Install camnet into .venv and run it on its embedded defaults (SQLite, a local object
# folder, in-process coordination, built-in synthetic cameras) with the demo loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONSAFEPATH=1
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
.venv/bin/camnet db upgrade >/dev/null 2>&1 || .venv/bin/camnet db upgrade
.venv/bin/camnet demo
exec .venv/bin/camnet serve --host "${CAMNET_HOST:-127.0.0.1}" --port "${CAMNET_PORT:-8000}"
