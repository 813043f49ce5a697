"""Incident pages: search and list, log an incident, its evidence, exports with progress, verification."""
from __future__ import annotations

import base64

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select

from .. import labels
from ..errors import DomainError, ValidationFailed, pydantic_errors
from ..extensions import db
from ..i18n import t
from ..streams.models import Camera, Clip, Snapshot
from ..tenants.access import communes_for, may, require
from ..tenants.models import AdminUnit, Village
from . import evidence, services, signing
from .models import EvidenceExport, Incident
from .schemas import CategoryIn, CategoryUpdate, EvidenceIn, ExportOut, IncidentIn, IncidentQuery, IncidentUpdate

bp = Blueprint("incidents", __name__)


def _describe_incidents(ids) -> dict[int, str]:
    return {i.id: f"{t('Vụ việc', 'Incident')} {i.reference}"
            for i in db.session.execute(select(Incident).where(Incident.id.in_(ids))).scalars()}


def _describe_exports(ids) -> dict[int, str]:
    rows = db.session.execute(select(EvidenceExport.id, EvidenceExport.incident_id)
                              .where(EvidenceExport.id.in_(ids))).all()
    cases = _describe_incidents({r[1] for r in rows})
    return {i: f"{t('Gói chứng cứ của', 'Evidence package of')} {cases.get(inc, '–')}" for i, inc in rows}


@bp.record_once
def _describe_audited_objects(state) -> None:
    labels.register_describer(state.app, "incident", _describe_incidents)
    labels.register_describer(state.app, "evidence_export", _describe_exports)


def _form_data(skip=("csrf_token", "action")) -> dict:
    return {k: v for k, v in request.form.items() if k not in skip and v != ""}


def _error(exc) -> str:
    return pydantic_errors(exc).message if isinstance(exc, ValidationError) else exc.message


def _names(ids) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(AdminUnit.id, AdminUnit.name).where(AdminUnit.id.in_(ids))).all())


# ---- list and search ---------------------------------------------------------------------

@bp.route("/incidents")
@login_required
def incident_list():
    require("incidents.read")
    args = {k: v for k, v in request.args.items() if k in IncidentQuery.model_fields}
    try:
        query = IncidentQuery.model_validate(args)
    except ValidationError as exc:
        flash(_error(exc), "error")
        query = IncidentQuery()
    rows = services.search_incidents(query)
    communes = communes_for("incidents.read")
    return render_template("incidents/list.html", rows=rows, query=query, communes=communes,
                           names={c.id: c.name for c in communes}, categories=services.list_categories(),
                           can_manage=may("incidents.manage"))


# ---- log an incident ---------------------------------------------------------------------

@bp.route("/incidents/new", methods=["GET", "POST"])
@login_required
def incident_new():
    require("incidents.manage")
    communes = communes_for("incidents.manage")
    commune_id = request.values.get("commune_id", type=int)
    if commune_id is None and len(communes) == 1:
        commune_id = communes[0].id
    commune = next((c for c in communes if c.id == commune_id), None)
    if request.method == "POST" and commune is not None:
        data = _form_data(skip=("csrf_token", "action", "camera_ids"))
        data["camera_ids"] = [int(x) for x in request.form.getlist("camera_ids") if x.isdigit()]
        data["clarified_by_camera"] = "clarified_by_camera" in request.form
        data["commune_id"] = commune.id
        try:
            incident = services.create_incident(IncidentIn.model_validate(data), current_user.id)
            flash(t("Đã ghi nhận vụ việc", "Incident logged"), "ok")
            return redirect(url_for("incidents.incident_detail", incident_id=incident.id))
        except (ValidationError, DomainError) as exc:
            flash(_error(exc), "error")
    villages = cameras = []
    if commune is not None:
        villages = list(db.session.execute(select(Village).where(Village.commune_id == commune.id)
                                           .order_by(Village.name)).scalars())
        cameras = list(db.session.execute(select(Camera).where(Camera.commune_id == commune.id,
                                                               Camera.status != "decommissioned")
                                          .order_by(Camera.code)).scalars())
    return render_template("incidents/new.html", communes=communes, commune=commune, villages=villages,
                           cameras=cameras, categories=services.list_categories(active_only=True),
                           form=request.form)


# ---- one incident ------------------------------------------------------------------------

def _candidates(incident):
    """Snapshots and ready clips of the involved cameras (or the commune's) nearest the incident's
    time (15 before, 15 after, in time order), to attach; and the cameras' names."""
    cam_ids = [c.camera_id for c in incident.cameras]
    cams = Camera.id.in_(cam_ids) if cam_ids else Camera.commune_id == incident.commune_id
    camera_ids = select(Camera.id).where(cams)
    attached_s = {e.snapshot_id for e in incident.evidence if e.kind == "snapshot"}
    attached_c = {e.clip_id for e in incident.evidence if e.kind == "clip"}

    def nearest(model, at, *where):
        base = select(model).where(model.commune_id == incident.commune_id, model.camera_id.in_(camera_ids), *where)
        when = incident.occurred_at
        rows = list(db.session.execute(base.where(at <= when).order_by(at.desc()).limit(15)).scalars())
        rows += list(db.session.execute(base.where(at > when).order_by(at).limit(15)).scalars())
        return sorted(rows, key=lambda r: getattr(r, at.key))

    snaps = [s for s in nearest(Snapshot, Snapshot.taken_at) if s.id not in attached_s]
    clips = [c for c in nearest(Clip, Clip.started_at, Clip.status == "ready") if c.id not in attached_c]
    return snaps, clips


def _camera_names(ids) -> dict[int, str]:
    ids = set(ids)
    return dict(db.session.execute(select(Camera.id, Camera.name).where(Camera.id.in_(ids))).all()) if ids else {}


@bp.route("/incidents/<int:incident_id>", methods=["GET", "POST"])
@login_required
def incident_detail(incident_id: int):
    require("incidents.read")
    incident = services.get_incident(incident_id)
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "update":
                data = _form_data()
                data["clarified_by_camera"] = "clarified_by_camera" in request.form
                services.update_incident(incident.id, IncidentUpdate.model_validate(data))
                flash(t("Đã cập nhật", "Updated"), "ok")
            elif action == "evidence":
                kind, _, item = request.form.get("item", "").partition(":")
                services.add_evidence(incident.id, EvidenceIn.model_validate(
                    {"kind": kind, "item_id": item or 0, **({"note": request.form["note"]}
                                                            if request.form.get("note") else {})}))
                flash(t("Đã gắn chứng cứ", "Evidence attached"), "ok")
            elif action == "export":
                reason = request.form.get("reason", "").strip()
                if not reason:
                    raise ValidationFailed(t("reason: cần nhập lý do xuất chứng cứ",
                                             "reason: a reason is required to export evidence"), field="reason")
                export = evidence.start_export(incident.id, reason)
                return redirect(url_for("incidents.export_page", incident_id=incident.id, export_id=export.id))
        except (ValidationError, DomainError) as exc:
            flash(_error(exc), "error")
        return redirect(url_for("incidents.incident_detail", incident_id=incident.id))
    incident = services.get_incident(incident_id)
    can_manage = may("incidents.manage", incident.commune_id)
    can_media = may("media.view", incident.commune_id)
    snaps, clips = _candidates(incident) if can_manage else ([], [])
    villages = list(db.session.execute(select(Village).where(Village.commune_id == incident.commune_id)
                                       .order_by(Village.name)).scalars()) if can_manage else []
    custody = evidence.custody_log(incident) if can_media else []
    objects = labels.describe_objects(current_app, [tuple(r["object"].split(":", 1)) for r in custody])
    for r in custody:
        r["object_words"] = objects.get(tuple(r["object"].split(":", 1)), "")
    cam_names = _camera_names([x.camera_id for x in (*snaps, *clips)]
                              + [(e.snapshot or e.clip).camera_id for e in incident.evidence if e.snapshot or e.clip])
    return render_template("incidents/detail.html", i=incident, can_manage=can_manage, can_media=can_media,
                           snaps=snaps, clips=clips, villages=villages, custody=custody, cam_names=cam_names,
                           categories=services.list_categories(active_only=True),
                           commune_name=_names([incident.commune_id]).get(incident.commune_id, ""))


@bp.route("/incidents/<int:incident_id>/evidence/<int:evidence_id>")
@login_required
def evidence_view(incident_id: int, evidence_id: int):
    require("media.view")
    data, mime, name = services.evidence_media(incident_id, evidence_id, request.args.get("reason"))
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'inline; filename="{name}"',
                                                  "Cache-Control": "no-store"})


@bp.route("/incidents/<int:incident_id>/exports/<int:export_id>")
@login_required
def export_page(incident_id: int, export_id: int):
    require("media.view")
    export = evidence.get_export(incident_id, export_id)
    return render_template("incidents/export.html", e=export, data=ExportOut.model_validate(export).model_dump(mode="json"))


@bp.route("/incidents/<int:incident_id>/exports/<int:export_id>/download")
@login_required
def export_download(incident_id: int, export_id: int):
    require("media.view")
    data, name = evidence.download_export(incident_id, export_id)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.route("/incidents/verify", methods=["GET", "POST"])
@login_required
def verify_page():
    require("incidents.read")
    result = None
    if request.method == "POST":
        upload = request.files.get("file")
        if not upload or not upload.filename:
            flash(t("Chọn tệp gói chứng cứ (.zip)", "Choose an archive (.zip)"), "error")
        else:
            result = evidence.verify_archive(upload.read())
    return render_template("incidents/verify.html", result=result, key_pem=signing.public_pem(),
                           key_id=signing.key_id(), key_url=evidence.KEY_URL)


@bp.route(evidence.KEY_URL)
def evidence_public_key():
    """The public half of the evidence signing key, for anyone (a court, a lawyer) to check a
    package's ``manifest.sig`` without the platform: PEM, or ``?format=raw`` for base64 raw bytes."""
    if request.args.get("format") == "raw":
        body = base64.b64encode(signing.public_raw()).decode() + "\n"
    else:
        body = signing.public_pem()
    return Response(body, mimetype="text/plain", headers={"X-Key-Id": signing.key_id(),
                                                          "Cache-Control": "public, max-age=3600"})


@bp.route("/incidents/categories", methods=["GET", "POST"])
@login_required
def categories_page():
    require("units.manage")
    if request.method == "POST":
        try:
            if request.form.get("category_id"):
                data = _form_data(skip=("csrf_token", "action", "category_id"))
                data["active"] = "active" in request.form
                services.update_category(int(request.form["category_id"]), CategoryUpdate.model_validate(data))
            else:
                services.create_category(CategoryIn.model_validate(_form_data()))
            flash(t("Đã lưu", "Saved"), "ok")
        except (ValidationError, DomainError) as exc:
            flash(_error(exc), "error")
        return redirect(url_for("incidents.categories_page"))
    return render_template("incidents/categories.html", categories=services.list_categories())

