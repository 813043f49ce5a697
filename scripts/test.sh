#!/usr/bin/env bash
# Install what the tests need (system packages, Python packages), start the real services
# (PostgreSQL, a 3-master Redis Cluster, an S3 server) when they are not running, and run
# the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONSAFEPATH=1
bash scripts/services/install-system.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
# helm-sdkpy bundles Helm's own library; it declares Python 3.12 but runs on 3.11
.venv/bin/python -m pip install -q --disable-pip-version-check --ignore-requires-python "helm-sdkpy>=0.1.30"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
export PATH="$PWD/.venv/bin:$PATH"
eval "$(bash scripts/services/up.sh)"
mkdir -p test-artifacts
export CAMNET_FAIL_ON_SKIP=1  # a missing simulator, browser or service fails the run (tests/conftest.py)
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
