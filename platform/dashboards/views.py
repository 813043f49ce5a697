"""Pages of the three audiences: police oversight (with drill-down), the chairman's coverage and
funding, and the sponsor portal."""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import select

from ..billing_socialization import reports
from ..billing_socialization.labels import KIND_LABELS
from ..errors import ForbiddenError, NotFoundError
from ..extensions import db
from ..i18n import current_lang, t
from ..incidents import services as incidents
from ..incidents.schemas import IncidentQuery
from ..streams.models import Camera, CameraUptimeDay, FaultTicket
from ..tenants.access import get_scoped, may, require, require_all
from ..tenants.models import AdminUnit
from . import charts, services

bp = Blueprint("dashboards", __name__)

STATUS_COLOURS = {"active": "#1c7c3c", "offline": "#b3261e", "faulty": "#d35400", "planned": "#7f8c8d"}


def map_json(points, communes: dict[int, str], clusters=()) -> Markup:
    """The data the map script reads: points (or, for a big area, one cluster per commune),
    commune names, tile URL and colours."""
    data = {
        "points": [{**p, "drill": url_for("dashboards.oversight_camera", camera_id=p["id"])} for p in points],
        "clusters": [{**c, "drill": url_for("dashboards.oversight_commune", unit_id=c["commune_id"])} for c in clusters],
        "communes": {str(k): v for k, v in communes.items()},
        "tiles": current_app.config.get("MAP_TILE_URL") or "",
        "colours": STATUS_COLOURS,
        "labels": {s: t(*lab) for s, lab in {
            "active": ("Hoạt động", "Working"), "offline": ("Mất kết nối", "Offline"),
            "faulty": ("Hỏng", "Faulty"), "planned": ("Dự kiến", "Planned")}.items()},
    }
    # JSON inside <script type="application/json">: "</" is escaped so no tag can close it early
    return Markup(json.dumps(data, ensure_ascii=False).replace("</", "<\\/"))  # nosec B704


def _series(series):
    lang = current_lang()
    return [(cat.label_en if lang == "en" else cat.label_vi, cat.color, vals) for cat, vals in series]


def _month_labels(months):
    return [f"{m[5:]}/{m[2:4]}" for m in months]


# ---- police oversight --------------------------------------------------------------------

@bp.route("/oversight")
@login_required
def oversight():
    require_all("incidents.read", "cameras.read")
    below = None
    if request.args.get("unit_id", type=int):
        below = get_scoped(AdminUnit, request.args.get("unit_id", type=int), "incidents.read")
    data = services.oversight(below)
    names = {r["commune"].id: r["commune"].name for r in data["communes"]}
    search = None
    args = {k: v for k, v in request.args.items() if k in IncidentQuery.model_fields}
    if args:
        try:
            search = incidents.search_incidents(IncidentQuery.model_validate(args))
        except ValidationError:
            search = []
    chart = charts.stacked_bars(_month_labels(data["months"]), _series(data["series"]),
                                t("Vụ việc theo tháng, theo loại", "Incidents per month by category"))
    uptime = charts.line([d for d, _ in data["uptime"]], [v for _, v in data["uptime"]],
                         t("Tỉ lệ camera hoạt động 30 ngày", "Camera uptime, 30 days"))
    return render_template("dashboards/oversight.html", d=data, names=names, map_data=map_json(data["points"], names, data["clusters"]),
                           chart=chart, uptime=uptime, search=search, args=args, below=below,
                           categories=incidents.list_categories(), month_labels=_month_labels(data["months"]))


@bp.route("/oversight/communes/<int:unit_id>")
@login_required
def oversight_commune(unit_id: int):
    require_all("incidents.read", "cameras.read")
    commune = get_scoped(AdminUnit, unit_id, "incidents.read")
    if not commune.is_commune or not may("cameras.read", commune.id):
        raise NotFoundError()
    cov = services.coverage(commune)
    trend = services.commune_trend(commune.id)
    recent = incidents.search_incidents(IncidentQuery(commune_id=commune.id, limit=30))
    return render_template(
        "dashboards/commune.html", c=commune, cov=cov, trend=trend, recent=recent,
        map_data=map_json(cov["points"], {commune.id: commune.name}),
        chart=charts.stacked_bars(_month_labels(trend["months"]), _series(trend["series"]),
                                  t("Vụ việc theo tháng", "Incidents per month")),
        uptime=charts.line([d for d, _ in trend["uptime"]], [v for _, v in trend["uptime"]],
                           t("Tỉ lệ hoạt động 30 ngày", "Uptime, 30 days")))


@bp.route("/oversight/cameras/<int:camera_id>")
@login_required
def oversight_camera(camera_id: int):
    require("cameras.read")
    camera = get_scoped(Camera, camera_id, "cameras.read")
    commune = db.session.get(AdminUnit, camera.commune_id)
    faults = list(db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == camera.id)
                                     .order_by(FaultTicket.opened_at.desc()).limit(20)).scalars())
    days = list(db.session.execute(select(CameraUptimeDay).where(CameraUptimeDay.camera_id == camera.id)
                                   .order_by(CameraUptimeDay.day.desc()).limit(30)).scalars())[::-1]
    cases = []
    if may("incidents.read", camera.commune_id):
        cases = incidents.search_incidents(IncidentQuery(camera_id=camera.id, limit=50))
    return render_template(
        "dashboards/camera.html", cam=camera, commune=commune, faults=faults, incidents=cases,
        stream_page=url_for("streams.camera", camera_id=camera.id), map_data=map_json(services.camera_points([camera.commune_id]),
                                                   {commune.id: commune.name}),
        uptime=charts.line([d.day.strftime("%d/%m") for d in days], [d.uptime if d.checks else None for d in days],
                           t("Tỉ lệ hoạt động", "Uptime")))


# ---- chairman: coverage and funding ------------------------------------------------------

@bp.route("/coverage")
@login_required
def coverage():
    require("cameras.read")
    communes = services.communes_for(("cameras.read",))
    wanted = request.args.get("commune_id", type=int)
    commune = next((c for c in communes if c.id == wanted), None) if wanted else (communes[0] if communes else None)
    if commune is None:
        raise NotFoundError()
    cov = services.coverage(commune)
    trend = services.commune_trend(commune.id)
    show_incidents = may("incidents.read", commune.id)
    funding = None
    can_funding = may("funding.read", commune.id)
    if can_funding:
        funding = services.funding_report(reports.chairman_summary, commune.id)
    funding_chart = None
    if funding and funding.get("target"):
        funding_chart = charts.progress(
            int(funding.get("raised") or 0), int(funding["target"]), t("Đã huy động", "Raised"),
            parts=[(t("Ngân sách", "Budget"), int(funding.get("budget") or 0), "#0b5ea8"),
                   (t("Xã hội hóa", "Socialised"), int(funding.get("socialised") or 0), "#1c7c3c")])
    return render_template(
        "dashboards/coverage.html", kind_labels=KIND_LABELS, c=commune, communes=communes, cov=cov,
        trend=trend if show_incidents else None, funding=funding,
        can_funding=can_funding, funding_chart=funding_chart,
        map_data=map_json(cov["points"], {commune.id: commune.name}),
        chart=charts.stacked_bars(_month_labels(trend["months"]), _series(trend["series"]),
                                  t("Vụ việc theo tháng", "Incidents per month")) if show_incidents else None,
        uptime=charts.line([d for d, _ in trend["uptime"]], [v for _, v in trend["uptime"]],
                           t("Tỉ lệ hoạt động 30 ngày", "Uptime, 30 days")))


# ---- sponsor portal ----------------------------------------------------------------------

@bp.route("/sponsor")
@login_required
def sponsor_portal():
    require("sponsor.own")
    data = services.sponsor_data()
    chart = None
    s = data["summary"] or {}
    if s.get("pledged"):
        chart = charts.progress(int(s.get("paid") or 0), int(s["pledged"]), t("Đã nộp", "Paid"))
    return render_template("dashboards/sponsor.html", d=data, s=s, chart=chart)


@bp.route("/sponsor/report.pdf")
@login_required
def sponsor_report():
    require("sponsor.own")
    sponsor_id = getattr(current_user, "sponsor_id", None)
    if not sponsor_id:
        raise ForbiddenError(t("Tài khoản chưa gắn với nhà tài trợ", "This account is not linked to a sponsor"))
    pdf = services.funding_report(reports.sponsor_report_pdf, sponsor_id, current_lang())
    if pdf is None:
        return render_template("dashboards/sponsor.html", d=services.sponsor_data(), s={}, chart=None,
                               no_report=True), 503
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="bao-cao-tai-tro-{sponsor_id}.pdf"',
        "Cache-Control": "no-store"})

