"""/healthz (the process is alive) and /readyz (database, coordination and object store reachable)."""
from __future__ import annotations

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
        ok = bool(fn())
        detail = "ok" if ok else "unavailable"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        ok, detail = False, type(exc).__name__
    return ok, detail, round((time.perf_counter() - start) * 1000, 1)


def _database() -> bool:
    try:
        return db.session.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.session.rollback()


@bp.route("/readyz")
def readyz():
    checks = {
        "database": _check(_database),
        "coordination": _check(current_app.extensions["camnet.coord"].ping),
        "object_store": _check(current_app.extensions["camnet.storage"].ping),
    }
    ready = all(ok for ok, _, _ in checks.values())
    body = {"status": "ready" if ready else "not_ready",
            "checks": {k: {"ok": ok, "detail": d, "ms": ms} for k, (ok, d, ms) in checks.items()}}
    return jsonify(body), 200 if ready else 503
