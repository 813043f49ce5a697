"""Pages: cameras, a camera, its history, import, fault tickets; signed local media (the wall: ``video``)."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from pydantic import ValidationError
from sqlalchemy import select

from .. import clock, labels
from ..extensions import db
from ..errors import DomainError, ValidationFailed, pydantic_errors
from ..i18n import t
from ..storage import StorageError
from ..tenants import access
from ..tenants import services as tenant_services
from ..tenants.models import AdminUnit
from . import faults, importer, media, registry
from .media import CONTENT_TYPES
from .models import Camera, Clip, FaultTicket, Snapshot
from .schemas import CameraIn, CameraUpdate, ConsentIn, ReferenceResetIn

bp = Blueprint("streams", __name__)


def _camera_names(ids) -> dict[int, str]:
    return dict(db.session.execute(select(Camera.id, Camera.name).where(Camera.id.in_(ids))).all())


def _describe_cameras(ids) -> dict[int, str]:
    return {i: f"{t('Camera', 'Camera')} {name}" for i, name in _camera_names(ids).items()}


def _describe_timed(model, at_column, what: tuple[str, str]):
    def describe(ids) -> dict[int, str]:
        rows = db.session.execute(select(model.id, model.camera_id, at_column).where(model.id.in_(ids))).all()
        cams = _camera_names({r[1] for r in rows})
        zone = t("giờ Việt Nam", "Vietnam time")
        return {i: f"{t(*what)} {clock.to_vn(at).strftime('%H:%M %d/%m/%Y')} ({zone}), "
                   f"camera {cams.get(cam, '–')}" for i, cam, at in rows}
    return describe


@bp.record_once
def _describe_audited_objects(state) -> None:
    """The audit log names snapshots, clips, tickets and cameras in words (labels.describe_objects)."""
    labels.register_describer(state.app, "camera", _describe_cameras)
    labels.register_describer(state.app, "snapshot", _describe_timed(Snapshot, Snapshot.taken_at,
                                                                     ("Ảnh chụp lúc", "Snapshot at")))
    labels.register_describer(state.app, "clip", _describe_timed(Clip, Clip.started_at,
                                                                 ("Đoạn video từ", "Video clip from")))
    labels.register_describer(state.app, "fault_ticket", _describe_timed(
        FaultTicket, FaultTicket.opened_at, ("Phiếu sự cố mở lúc", "Fault ticket opened at")))


def _form_data(model) -> dict:
    skip = ("csrf_token", "action")
    data = {k: v.strip() for k, v in request.form.items() if k not in skip and k in model.model_fields}
    return {k: v for k, v in data.items() if v != ""}


def _unit_arg() -> int | None:
    value = request.args.get("unit_id", type=int)
    return value if value is not None and 0 < value < 2**31 else None


@bp.route("/cameras", methods=["GET", "POST"])
@login_required
def cameras():
    access.require("cameras.read")
    if request.method == "POST":
        access.require("cameras.manage")
        try:
            data = _form_data(CameraIn)
            if data.get("ownership") in registry.SHARED:
                data["consent"] = {k: request.form.get(f"consent_{k}", "").strip() or None
                                   for k in ("shares", "granted_by", "since")}
            cam = registry.create_camera(CameraIn.model_validate(data))
            flash(t("Đã thêm camera ", "Camera added: ") + cam.code, "ok")
            return redirect(url_for("streams.camera", camera_id=cam.id))
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except DomainError as exc:
            flash(exc.message, "error")
    unit_id = _unit_arg()
    cams = registry.list_cameras(unit_id, request.args.get("status") or None, request.args.get("q") or None)
    names = {u.id: u.name for u in tenant_services.list_units()}
    manage = access.communes_for("cameras.manage")
    villages = {c.id: tenant_services.list_villages(c.id) for c in manage}
    return render_template("streams/cameras.html", cameras=cams, names=names, manage=manage,
                           villages=villages, unit_id=unit_id, communes=access.communes_for("cameras.read"))


@bp.route("/cameras/<int:camera_id>", methods=["GET", "POST"])
@login_required
def camera(camera_id: int):
    access.require("cameras.read")
    cam = access.get_scoped(Camera, camera_id, "cameras.read")
    if request.method == "POST":
        action = request.form.get("action", "update")
        try:
            if action == "consent":
                registry.add_consent(cam.id, ConsentIn.model_validate(_form_data(ConsentIn)))
            elif action == "revoke":
                registry.revoke_consent(cam.id, int(request.form.get("consent_id", "0")))
            elif action == "decommission":
                registry.decommission_camera(cam.id)
            elif action == "reference_reset":
                body = ReferenceResetIn.model_validate({"reason": request.form.get("reason", "")})
                _, closed = faults.reset_reference(cam.id, body.reason)
                flash(t(f"Đã đặt lại khung nhìn chuẩn; camera sẽ lấy hình lần chụp tới làm chuẩn "
                        f"(đóng {len(closed)} phiếu \"bị xoay lệch hướng\")",
                        f"Reference view reset: the next capture becomes the reference "
                        f"({len(closed)} \"moved\" ticket(s) closed)"), "ok")
                return redirect(url_for("streams.camera", camera_id=cam.id))
            elif action == "clip":
                clip = media.request_clip(cam.id, int(request.form.get("seconds") or 30),
                                          request.form.get("reason") or None)
                flash(t(f"Đã yêu cầu ghi đoạn video {clip.duration_s} giây: xem ở mục «Đoạn video gần đây»",
                        f"A {clip.duration_s}-second clip was requested: see «Recent clips»"), "ok")
                return redirect(url_for("streams.camera", camera_id=cam.id, clip=clip.id, _anchor="clips"))
            else:
                data = _form_data(CameraUpdate)
                registry.update_camera(cam.id, CameraUpdate.model_validate(data))
            flash(t("Đã lưu", "Saved"), "ok")
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except (DomainError, ValueError) as exc:
            flash(getattr(exc, "message", str(exc)), "error")
        return redirect(url_for("streams.camera", camera_id=cam.id))
    can_view = access.may("media.view", cam.commune_id)
    latest = media.newest_snapshot_id(cam.id) if can_view else None
    villages = tenant_services.list_villages(cam.commune_id)
    consent = registry.active_consent(cam)
    clips = list(db.session.execute(select(Clip).where(Clip.camera_id == cam.id)
                                    .order_by(Clip.started_at.desc()).limit(5)).scalars()) if can_view else []
    return render_template("streams/camera.html", cam=cam, can_view=can_view, latest=latest, clips=clips,
                           new_clip=request.args.get("clip", type=int),
                           can_manage=access.may("cameras.manage", cam.commune_id), villages=villages,
                           can_reset_reference=faults.may_reset_reference(cam.commune_id),
                           consent=consent, needs_reason=bool(consent and consent.shares == "on_request"),
                           uptime=faults.uptime(cam.id, 14), unit=access.get_scoped(AdminUnit, cam.commune_id))


@bp.route("/cameras/<int:camera_id>/history")
@login_required
def history(camera_id: int):
    access.require("media.view")
    before = (request.args.get("before") or "").strip()
    try:  # a datetime-local picker gives Vietnam time without an offset; links carry the offset
        before_dt = clock.from_vn(datetime.fromisoformat(before)) if before else None
    except ValueError:
        raise ValidationFailed(t("before: không phải ngày giờ (ví dụ 23/11/2026 08:00)",
                                 "before: not a date and time (e.g. 23/11/2026 08:00)"), field="before") from None
    cam, rows = media.history(camera_id, before_dt, None, 50)
    local = clock.to_vn(before_dt).strftime("%Y-%m-%dT%H:%M") if before_dt else ""
    return render_template("streams/history.html", cam=cam, rows=rows, before_local=local,
                           next_before=clock.to_vn(rows[-1].taken_at).isoformat() if len(rows) == 50 else None,
                           selected=request.args.get("show", type=int))


@bp.route("/cameras/import", methods=["GET", "POST"])
@login_required
def import_page():
    access.require("cameras.manage")
    errors, result = [], None
    if request.method == "POST":
        try:
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                raise DomainError(t("Chọn tệp CSV", "Choose a CSV file"))
            result = importer.import_csv(int(request.form.get("unit_id") or 0),
                                         importer.decode(upload.read()))
            flash(t(f"Đã nhập: {result.created} mới, {result.updated} cập nhật, {result.unchanged} không đổi",
                    f"Imported: {result.created} created, {result.updated} updated, "
                    f"{result.unchanged} unchanged"), "ok")
        except DomainError as exc:
            errors = exc.errors
            flash(exc.message, "error")
    return render_template("streams/import.html", communes=access.communes_for("cameras.manage"), errors=errors,
                           result=result, columns=importer.COLUMNS), (422 if errors else 200)


@bp.route("/faults", methods=["GET", "POST"])
@login_required
def faults_page():
    access.require("faults.read")
    if request.method == "POST":
        try:
            faults.close_ticket(int(request.form.get("ticket_id", "0")), request.form.get("note", "").strip()
                                or t("Đã xử lý", "Repaired"))
            flash(t("Đã đóng phiếu", "Ticket closed"), "ok")
        except DomainError as exc:
            flash(exc.message, "error")
        return redirect(url_for("streams.faults_page", status=request.args.get("status", "open")))
    status = request.args.get("status", "open")
    tickets = faults.list_tickets(status if status in ("open", "closed", "all") else "open")
    names = {u.id: u.name for u in tenant_services.list_units()}
    return render_template("streams/faults.html", tickets=tickets, status=status, names=names)


@bp.route("/media/o/<path:key>")
def local_object(key: str):
    """The local store's analogue of a presigned URL: the signature is the permission."""
    store = current_app.extensions["camnet.storage"]
    if not hasattr(store, "check_signature") or not store.check_signature(key, request.args.get("s", "")):
        abort(404)
    try:
        path = store._path(key)
    except StorageError:
        abort(404)
    if not path.is_file():
        abort(404)
    ext = key.rsplit(".", 1)[-1].lower()
    resp = send_file(path, mimetype=CONTENT_TYPES.get(ext, "application/octet-stream"), max_age=0,
                     conditional=False)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp



