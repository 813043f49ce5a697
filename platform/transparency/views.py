"""Public transparency endpoints (no account): checkpoints, proofs of consistency and of a known leaf,
tiles from the object store, the log's verifier key, and the commune's transparency page."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..errors import NotFoundError, TooManyRequests, ValidationFailed
from ..extensions import db
from ..incidents import evidence
from ..storage import StorageError
from ..tenants.models import AdminUnit
from ..tenants.scope import system_scope
from ..tenants.throttle import address_key
from . import keys, services, tiles
from .models import KINDS
from .schemas import ConsistencyQuery, LeafQuery, decode_hash

bp = Blueprint("transparency", __name__, url_prefix="/transparency", template_folder="../templates")
TEXT = "text/plain; charset=utf-8"


def _log(conn, unit_id: int, kind: str):
    services.check_kind(kind)
    unit = db.session.get(AdminUnit, unit_id)
    if unit is None or not unit.is_commune:
        raise NotFoundError()
    return services.get_log(conn, unit_id, kind)


def _text(body: str, cache: str = "no-cache") -> Response:
    return Response(body, mimetype="text/plain", content_type=TEXT, headers={"Cache-Control": cache})


@bp.get("/<int:unit_id>/<kind>/checkpoint")
def checkpoint(unit_id: int, kind: str):
    """The latest signed checkpoint; a new one is signed first when the log grew and the interval passed."""
    with system_scope():
        conn = db.session.connection()
        log = _log(conn, unit_id, kind)
        cp = services.issue_checkpoint(conn, log)
        if cp is None:
            raise NotFoundError("Nhật ký còn trống / The log is empty")
        note = services.served_note(conn, cp)
        db.session.commit()
    return _text(note)


@bp.get("/<int:unit_id>/<kind>/checkpoints/<int:size>")
def checkpoint_at(unit_id: int, kind: str, size: int):
    with system_scope():
        conn = db.session.connection()
        cp = services.checkpoint_at(conn, _log(conn, unit_id, kind).id, size)
        return _text(services.served_note(conn, cp), "public, max-age=3600")


@bp.get("/<int:unit_id>/<kind>/key")
def verifier_key(unit_id: int, kind: str):
    with system_scope():
        log = _log(db.session.connection(), unit_id, kind)
        db.session.rollback()
    return _text(keys.verifier_key(log.origin) + "\n", "public, max-age=3600")


@bp.get("/<int:unit_id>/<kind>/proof/consistency")
def consistency(unit_id: int, kind: str):
    query = ConsistencyQuery.model_validate(request.args.to_dict())
    with system_scope():
        conn = db.session.connection()
        out = services.consistency(conn, _log(conn, unit_id, kind), query.old, query.new)
        db.session.rollback()
    return jsonify(out)


@bp.get("/<int:unit_id>/<kind>/proof/inclusion")
def inclusion(unit_id: int, kind: str):
    """Index and proof of a leaf whose hash the holder computed from their own receipt or package."""
    query = LeafQuery.model_validate(request.args.to_dict())
    with system_scope():
        conn = db.session.connection()
        out = services.inclusion_by_hash(conn, _log(conn, unit_id, kind), query.leaf_bytes(), query.size)
        db.session.commit()
    return jsonify(out)


@bp.get("/<int:unit_id>/<kind>/tile/<path:tile>")
def tile(unit_id: int, kind: str, tile: str):
    """C2SP tlog-tiles, as ``camnet tlog publish`` wrote them to the object store."""
    services.check_kind(kind)
    if ".." in tile or not tile.replace("/", "").replace(".", "").replace("x", "").replace("p", "").isdigit():
        raise NotFoundError()
    try:
        data = current_app.extensions["camnet.storage"].get(tiles.prefix(unit_id, kind) + "tile/" + tile)
    except StorageError:
        raise NotFoundError() from None
    cache = "public, max-age=31536000, immutable" if ".p/" not in tile else "no-cache"
    return Response(data, mimetype="application/octet-stream", headers={"Cache-Control": cache})


PUBLIC_VERIFY_FIELDS = ("ok", "verdict", "signature", "record", "log", "format", "export_id", "incident_id",
                        "files", "problems")


@bp.post("/evidence/verify")
def verify_package():
    """Kiểm tra gói chứng cứ không cần tài khoản (a court, a lawyer): the uploaded package against its
    manifest, the platform's signature, the platform's record and its transparency log entry. The
    answer is only about the uploaded package: match or mismatch, and which file or record differs.
    Limited per client address (``TLOG_VERIFY_PER_MINUTE``)."""
    limit = int(current_app.config.get("TLOG_VERIFY_PER_MINUTE", 10))
    who = address_key(request.remote_addr) or "unknown"
    if current_app.extensions["camnet.coord"].incr(f"tlog-verify:{{{who}}}", 60) > limit:
        raise TooManyRequests("Quá nhiều lần kiểm tra, thử lại sau một phút / Too many checks, try again in a minute")
    upload = request.files.get("file")
    data = upload.read() if upload else (request.get_data() if request.mimetype == "application/zip" else b"")
    if not data:
        raise ValidationFailed("file: upload the package as multipart field 'file' or an application/zip body",
                               field="file")
    result = evidence.verify_archive(data)
    return jsonify({k: result[k] for k in PUBLIC_VERIFY_FIELDS})


@bp.get("/<int:unit_id>")
def page(unit_id: int):
    """Trang minh bạch: the commune's logs, their checkpoints, and checking a proof in the browser."""
    with system_scope():
        unit = db.session.get(AdminUnit, unit_id)
        if unit is None or not unit.is_commune:
            raise NotFoundError()
        conn = db.session.connection()
        logs = []
        for kind in KINDS:
            row = services.store.find_log(conn, unit_id, kind)
            if row is None:
                continue
            cp = services.issue_checkpoint(conn, row)
            logs.append({"kind": kind, "origin": row.origin, "size": cp.size if cp else 0,
                         "checkpoint": services.served_note(conn, cp) if cp else "",
                         "key": keys.verifier_key(row.origin)})
        db.session.commit()
    return render_template("transparency/page.html", unit=unit, logs=logs, focus=_focus())


def _focus() -> dict | None:
    """What a QR code asks the page to check in the browser: a report's checkpoint (``size``: the log
    still extends it) or a receipt's leaf (``leaf`` + ``size``: it is in that checkpoint)."""
    kind, size, leaf = request.args.get("kind", "funding"), request.args.get("size", ""), request.args.get("leaf")
    if kind not in KINDS or not size.isdigit() or not 0 < int(size) < 2**62:
        return None
    if leaf is not None and decode_hash(leaf) is None:
        return None
    return {"kind": kind, "size": int(size), "leaf": leaf}
