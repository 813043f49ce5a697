#!/usr/bin/env bash
# Start the test services (PostgreSQL, Redis Cluster, S3) and print the environment
# to use them, so that:
#
#     eval "$(bash scripts/services/up.sh)"
#
# System packages are not installed here: run scripts/services/install-system.sh first.
# Everything but the export lines goes to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

PGPORT="${PGPORT:-5432}"
read -r -a REDIS_PORTS <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
S3_PORT="${S3_PORT:-9100}"
export PGPORT S3_PORT

bash "$HERE/postgres.sh" start >&2
bash "$HERE/redis-cluster.sh" start >&2
bash "$HERE/s3.sh" start >&2

cat <<ENV
export CAMNET_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres
export CAMNET_TEST_PG_APP_URL=postgresql+psycopg://camnet@127.0.0.1:$PGPORT/postgres
export CAMNET_TEST_PG_OWNER_URL=postgresql+psycopg://camnet_owner@127.0.0.1:$PGPORT/postgres
export CAMNET_TEST_REDIS_CLUSTER=redis://127.0.0.1:${REDIS_PORTS[0]}
export CAMNET_TEST_S3=http://127.0.0.1:$S3_PORT
ENV
