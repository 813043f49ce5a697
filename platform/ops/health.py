"""/healthz (the process is alive) and /readyz (database reachable and migrated to the head
revision, coordination and object store reachable)."""
from __future__ import annotations

import functools
import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..extensions import db

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
def healthz():
    return jsonify({"status": "ok"})


def _check(fn) -> tuple[bool, str, float]:
    start = time.perf_counter()
    try:
        result = fn()
        ok, detail = result if isinstance(result, tuple) else (bool(result), None)
        detail = detail or ("ok" if ok else "unavailable")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        ok, detail = False, type(exc).__name__
    return ok, detail, round((time.perf_counter() - start) * 1000, 1)


@functools.lru_cache(maxsize=4)
def _heads(directory: str) -> frozenset:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(directory).get_heads())


def _schema() -> tuple[bool, str]:
    """At the head revision (else requests would meet missing tables and answer 500), and on
    PostgreSQL the database accepts this process's signed scope (``tenants/rls.py``)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..tenants.scope import system_scope

    heads = _heads(current_app.config["MIGRATIONS_DIR"])
    try:
        with system_scope():
            try:
                found = set(db.session.execute(text("SELECT version_num FROM alembic_version")).scalars())
            except SQLAlchemyError:
                return False, f"schema not at head: no revision (run camnet db upgrade to {', '.join(sorted(heads))})"
            if found != heads:
                return False, (f"schema not at head: revision {', '.join(sorted(found)) or 'none'}, "
                               f"head {', '.join(sorted(heads))} (run camnet db upgrade)")
            if db.engine.dialect.name == "postgresql" and not db.session.execute(
                    text("SELECT camnet_scope_system()")).scalar():
                return False, ("scope key refused by the database: SCOPE_SIGNING_KEY (or SECRET_KEY) differs "
                               "from the one the last camnet db upgrade stored, or the clocks differ by over an hour")
        return True, f"ok ({', '.join(sorted(heads))})"
    finally:
        db.session.rollback()


def _database() -> bool:
    try:
        return db.session.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.session.rollback()


@bp.route("/readyz")
def readyz():
    checks = {
        "database": _check(_database),
        "schema": _check(_schema),
        "coordination": _check(current_app.extensions["camnet.coord"].ping),
        "object_store": _check(current_app.extensions["camnet.storage"].ping),
    }
    ready = all(ok for ok, _, _ in checks.values())
    body = {"status": "ready" if ready else "not_ready",
            "checks": {k: {"ok": ok, "detail": d, "ms": ms} for k, (ok, d, ms) in checks.items()}}
    return jsonify(body), 200 if ready else 503
