"""Pages of the three audiences: police oversight (with drill-down), the chairman's coverage and
funding, and the sponsor portal."""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import func, select

from ..billing_socialization import reports
from ..billing_socialization.labels import KIND_LABELS
from ..errors import ForbiddenError, NotFoundError
from ..extensions import db
from ..i18n import current_lang, t
from ..incidents import services as incidents
from ..incidents.schemas import IncidentQuery
from ..streams.models import Camera, CameraUptimeDay, FaultTicket
from ..clock import utc_now
from ..ops import health
from ..tenants.access import get_scoped, may, require, require_all, require_platform_admin
from ..tenants.scope import system_scope
from ..tenants.models import AdminUnit
from ..tenants.views import HOME_FIGURES
from . import charts, home, services
from .map import camera_locations, map_data

bp = Blueprint("dashboards", __name__)


@bp.record_once
def _fill_the_home_page(state) -> None:
    """The home page (tenants) shows each role's figures, computed here."""
    state.app.extensions[HOME_FIGURES] = home.figures

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
    return render_template("dashboards/oversight.html", d=data, names=names, map_data=map_data(data["points"], names, data["clusters"]),
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
        map_data=map_data(cov["points"], {commune.id: commune.name}),
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
        stream_page=url_for("streams.camera", camera_id=camera.id), map_data=map_data(services.camera_points([camera.commune_id]),
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
        spending_chart=charts.spending_by_kind(funding) if funding else None,
        village_chart=charts.shares_by_village(funding) if funding else None,
        map_data=map_data(cov["points"], {commune.id: commune.name}, incidents=show_incidents),
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
    return render_template("dashboards/sponsor.html", d=data, s=s, chart=chart, sponsor_map=sponsor_map(s),
                           helped_chart=charts.cases_by_category(data["helped"]) if data["helped"] else None)


def sponsor_map(s: dict):
    """The funded cameras on the commune's map (no incidents, no links: a sponsor sees counts only)."""
    sp = s.get("sponsor")
    if not sp:
        return None
    where = camera_locations([c["id"] for c in s.get("cameras") or []])
    points = [{"id": c["id"], "code": c["code"], "name": c["name"], "commune_id": sp["commune_id"],
               "lat": where.get(c["id"], (None, None))[0], "lon": where.get(c["id"], (None, None))[1],
               "status": c["status"], "road": None, "village": None} for c in s.get("cameras") or []]
    return map_data(points, {sp["commune_id"]: sp["commune"]}, incidents=False, drill=False)


@bp.route("/sponsor/report.pdf")
@login_required
def sponsor_report():
    require("sponsor.own")
    sponsor_id = getattr(current_user, "sponsor_id", None)
    if not sponsor_id:
        raise ForbiddenError(t("Tài khoản chưa gắn với nhà tài trợ", "This account is not linked to a sponsor"))
    pdf = services.funding_report(reports.sponsor_report_pdf, sponsor_id, current_lang())
    if pdf is None:
        data = services.sponsor_data()
        return render_template("dashboards/sponsor.html", d=data, s=data["summary"] or {}, chart=None,
                               sponsor_map=None, helped_chart=None, no_report=True), 503
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="bao-cao-tai-tro-{sponsor_id}.pdf"',
        "Cache-Control": "no-store"})



# ---- the platform admin: system health ----------------------------------------------------

CHECK_LABELS = {"database": ("Cơ sở dữ liệu", "Database"), "schema": ("Cấu trúc dữ liệu (migration)", "Schema (migrations)"),
                "coordination": ("Redis (điều phối)", "Redis (coordination)"),
                "object_store": ("Kho lưu ảnh, video", "Object store")}


def _capture_workers() -> list[str] | None:
    """Capture workers alive now (their heartbeats in Redis); None without a shared Redis."""
    coord = current_app.extensions["camnet.coord"]
    client = getattr(coord, "client", None)
    if client is None:
        return None
    now = time.time()
    members = client.zrangebyscore(coord.k("capture:workers"), now - 15, "+inf")
    return sorted(m.decode() if isinstance(m, bytes) else m for m in members)


def _queue_depths() -> list[tuple[tuple[str, str], int]]:
    """Work waiting, install-wide: clips to record, evidence packages to build. (Alert queues sit
    above the dashboards in the layers: the alerts page shows its own.)"""
    from ..incidents.models import EvidenceExport
    from ..streams.models import Clip

    def count(stmt) -> int:
        return int(db.session.execute(stmt).scalar() or 0)

    with system_scope():
        return [
            (("Đoạn video chờ ghi", "Clips waiting to record"),
             count(select(func.count()).select_from(Clip).where(Clip.status.in_(("pending", "recording"))))),
            (("Gói chứng cứ chờ đóng gói", "Evidence packages waiting"),
             count(select(func.count()).select_from(EvidenceExport)
                   .where(EvidenceExport.status.in_(("pending", "building"))))),
        ]


@bp.route("/system")
@login_required
def system_health():
    """Database, Redis, object store, capture workers and queue depths, for the platform admin."""
    require_platform_admin()
    reply, status = health.readyz()
    checks = reply.get_json()["checks"]
    rows = [{"name": CHECK_LABELS.get(k, (k, k)), "ok": v["ok"], "detail": v["detail"], "ms": v["ms"]}
            for k, v in checks.items()]
    return render_template("dashboards/system.html", checks=rows, ready=status == 200,
                           workers=_capture_workers(), queues=_queue_depths(), now=utc_now())
