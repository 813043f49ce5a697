"""Find or start the real services the suite talks to (PostgreSQL, Redis Cluster, S3, RTSP)."""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts" / "services"


def ensure_started() -> dict:
    """Run the project's idempotent start script unless the caller already exported the addresses."""
    keys = ("CAMNET_TEST_PG_URL", "CAMNET_TEST_REDIS_CLUSTER", "CAMNET_TEST_S3")
    if all(os.environ.get(k) for k in keys):
        return {k: os.environ[k] for k in keys}
    out = subprocess.run(["bash", str(SCRIPTS / "up.sh")], check=True, capture_output=True, text=True,
                         timeout=300).stdout
    found = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            found[name] = shlex.split(value)[0] if value else ""
    os.environ.update(found)
    missing = [k for k in keys if not os.environ.get(k)]
    if missing:
        raise RuntimeError(f"scripts/services/up.sh did not provide {missing}")
    return {k: os.environ[k] for k in keys}


def pg_admin_dsn(url: str) -> str:
    """The libpq DSN of the superuser URL the rig exports (sqlalchemy-style URL accepted)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def pg_app_url(admin_url: str, dbname: str) -> str:
    """The app connects as the ``camnet`` role: neither superuser nor BYPASSRLS, so RLS holds."""
    rest = admin_url.split("@", 1)[1]
    hostport = rest.split("/", 1)[0]
    return f"postgresql+psycopg://camnet@{hostport}/{dbname}"


def pg_owner_url(admin_url: str, dbname: str) -> str:
    """Migrations run as ``camnet_owner``, which owns the test databases and their objects."""
    return pg_app_url(admin_url, dbname).replace("://camnet@", "://camnet_owner@", 1)


def pg_exec(admin_url: str, *statements: str) -> None:
    with psycopg.connect(pg_admin_dsn(admin_url), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)
