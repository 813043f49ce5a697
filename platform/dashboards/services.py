"""Queries behind the three audiences' pages: police oversight, the chairman's coverage, the sponsor portal."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from flask import current_app
from flask_login import current_user
from sqlalchemy import case, func, literal, select

from ..clock import VN_ZONE_NAME, month_start, months_back, to_vn, utc_now, vn_now
from ..extensions import db
from ..incidents.models import Incident
from ..billing_socialization import reports
from ..incidents.services import list_categories
from ..streams.models import Camera, CameraUptimeDay, FaultTicket
from ..tenants import access
from ..tenants.idsets import member_of
from ..tenants.models import AdminUnit, Village
WORKING = ("active",)
DOWN = ("offline", "faulty")
COUNTED = ("active", "offline", "faulty")  # installed cameras (not planned, not retired)


def communes_for(perms: tuple[str, ...], below: AdminUnit | None = None) -> list[AdminUnit]:
    """Communes where the caller holds every one of ``perms`` (optionally under one unit), by name."""
    first, *rest = perms
    communes = [c for c in access.communes_for(first) if all(access.may(p, c.id) for p in rest)
                and (below is None or c.path.startswith(below.path))]
    return sorted(communes, key=lambda c: c.name)


def camera_points(commune_ids) -> list[dict]:
    rows = db.session.execute(
        select(Camera.id, Camera.code, Camera.name, Camera.commune_id, Camera.latitude, Camera.longitude,
               Camera.status, Camera.road, Village.name)
        .outerjoin(Village, Camera.village_id == Village.id)
        .where(member_of(Camera.commune_id, commune_ids), Camera.status != "decommissioned")
        .order_by(Camera.commune_id, Camera.code)).all()
    return [{"id": r[0], "code": r[1], "name": r[2], "commune_id": r[3], "lat": r[4], "lon": r[5],
             "status": r[6], "road": r[7], "village": r[8]} for r in rows]


def map_point_limit() -> int:
    """Above this many cameras the overview map shows one marker per commune, not per camera."""
    return int(current_app.config.get("MAP_POINT_LIMIT", 2000))


def camera_clusters(commune_ids) -> list[dict]:
    """One map marker per commune: where its cameras are on average, and how many in each state."""
    out: dict[int, dict] = {}
    for cid, status, n, located, lat, lon in db.session.execute(
            select(Camera.commune_id, Camera.status, func.count(), func.count(Camera.latitude),
                   func.sum(Camera.latitude), func.sum(Camera.longitude))
            .where(member_of(Camera.commune_id, commune_ids), Camera.status != "decommissioned")
            .group_by(Camera.commune_id, Camera.status)):
        c = out.setdefault(cid, {"commune_id": cid, "cameras": 0, "by_status": {}, "_n": 0, "_lat": 0.0, "_lon": 0.0})
        c["cameras"] += n
        c["by_status"][status] = n
        if located:
            c["_n"] += located
            c["_lat"] += float(lat)
            c["_lon"] += float(lon)
    clusters = []
    for c in out.values():
        n = c.pop("_n")
        lat, lon = c.pop("_lat"), c.pop("_lon")
        c["lat"], c["lon"] = (round(lat / n, 6), round(lon / n, 6)) if n else (None, None)
        clusters.append(c)
    return sorted(clusters, key=lambda c: c["commune_id"])


def camera_counts(commune_ids) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cid, status, n in db.session.execute(
            select(Camera.commune_id, Camera.status, func.count()).where(member_of(Camera.commune_id, commune_ids))
            .group_by(Camera.commune_id, Camera.status)):
        out[cid][status] = n
    return out


def open_faults(commune_ids) -> dict[int, int]:
    return dict(db.session.execute(
        select(FaultTicket.commune_id, func.count()).where(member_of(FaultTicket.commune_id, commune_ids),
                                                          FaultTicket.status == "open")
        .group_by(FaultTicket.commune_id)).all())


def incident_tally(commune_ids, months: list[str]) -> list[tuple[int, int, str, int, int]]:
    """(commune_id, category_id, month 'YYYY-MM' in Vietnam time, incidents, clarified by camera)
    for the incidents in the window, counted by the database: a province has hundreds of
    thousands, and bringing each one into Python cost more than everything else on the page."""
    if db.session.get_bind().dialect.name == "postgresql":
        month = func.to_char(Incident.occurred_at.op("AT TIME ZONE")(literal(VN_ZONE_NAME)), "YYYY-MM")
    else:  # SQLite holds naive UTC; Vietnam keeps UTC+7 all year
        month = func.strftime("%Y-%m", Incident.occurred_at, "+7 hours")
    clarified = func.sum(case((Incident.clarified_by_camera.is_(True), 1), else_=0))
    rows = db.session.execute(
        select(Incident.commune_id, Incident.category_id, month, func.count(), clarified)
        .where(member_of(Incident.commune_id, commune_ids), Incident.occurred_at >= month_start(months[0]))
        .group_by(Incident.commune_id, Incident.category_id, month)).all()
    return [(c, cat, m, int(n), int(cl or 0)) for c, cat, m, n, cl in rows]


def uptime_trend(commune_ids, days: int = 30) -> list[tuple[str, float | None]]:
    start = vn_now().date() - timedelta(days=days - 1)
    got = {d: (ok, checks) for d, ok, checks in db.session.execute(
        select(CameraUptimeDay.day, func.sum(CameraUptimeDay.ok), func.sum(CameraUptimeDay.checks))
        .where(member_of(CameraUptimeDay.commune_id, commune_ids), CameraUptimeDay.day >= start)
        .group_by(CameraUptimeDay.day)).all()}
    out = []
    for i in range(days):
        d = start + timedelta(days=i)
        ok, checks = got.get(d, (0, 0))
        out.append((d.strftime("%d/%m"), (ok or 0) / checks if checks else None))
    return out


def oversight(below: AdminUnit | None = None) -> dict:
    """Every commune below the caller (or below ``below``): cameras, faults, incidents, clarified share."""
    communes = communes_for(("cameras.read", "incidents.read"), below)
    ids = [c.id for c in communes]
    months = months_back(12)
    cats = {c.id: c for c in list_categories()}
    counts, faults = camera_counts(ids), open_faults(ids)
    inc = incident_tally(ids, months)
    month_index = {m: i for i, m in enumerate(months)}
    tally: dict[int, dict] = defaultdict(lambda: {"n": 0, "clarified": 0, "by_month": [0] * len(months)})
    by_cat_month = {cid: [0] * len(months) for cid in cats}
    by_commune_cat: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for commune_id, cat_id, month, n, clarified in inc:
        t = tally[commune_id]
        t["n"] += n
        t["clarified"] += clarified
        if month in month_index:
            t["by_month"][month_index[month]] += n
            if cat_id in by_cat_month:
                by_cat_month[cat_id][month_index[month]] += n
        by_commune_cat[commune_id][cat_id] += n
    per_commune = []
    for c in communes:
        st = counts.get(c.id, {})
        installed = sum(st.get(s, 0) for s in COUNTED)
        mine = tally.get(c.id) or {"n": 0, "clarified": 0, "by_month": [0] * len(months)}
        per_commune.append({
            "commune": c, "installed": installed, "active": st.get("active", 0),
            "down": sum(st.get(s, 0) for s in DOWN),
            "online_share": (st.get("active", 0) / installed) if installed else None,
            "open_faults": faults.get(c.id, 0), "incidents": mine["n"],
            "clarified": mine["clarified"], "by_month": mine["by_month"],
        })
    on_map = sum(n for st in counts.values() for status, n in st.items() if status != "decommissioned")
    clustered = on_map > map_point_limit()
    return {
        "communes": per_commune, "months": months, "categories": cats,
        "series": [(cats[cid], vals) for cid, vals in by_cat_month.items() if any(vals)],
        "by_commune_cat": by_commune_cat,
        "cameras_total": on_map,
        "points": [] if clustered else camera_points(ids),
        "clusters": camera_clusters(ids) if clustered else [],
        "total_incidents": sum(r[3] for r in inc), "total_clarified": sum(r[4] for r in inc),
        "uptime": uptime_trend(ids),
    }


def commune_trend(commune_id: int) -> dict:
    months = months_back(12)
    inc = incident_tally([commune_id], months)
    cats = {c.id: c for c in list_categories()}
    series = []
    for cat_id, cat in cats.items():
        vals = [sum(r[3] for r in inc if r[1] == cat_id and r[2] == m) for m in months]
        if any(vals):
            series.append((cat, vals))
    return {"months": months, "series": series, "total": sum(r[3] for r in inc), "clarified": sum(r[4] for r in inc),
            "uptime": uptime_trend([commune_id])}


def coverage(commune: AdminUnit) -> dict:
    """Villages and their cameras, gaps first; roads covered; cameras down and for how long; backlog."""
    now = utc_now()
    villages = list(db.session.execute(select(Village).where(Village.commune_id == commune.id)
                                       .order_by(Village.name)).scalars())
    cameras = list(db.session.execute(select(Camera).where(Camera.commune_id == commune.id,
                                                           Camera.status.in_(COUNTED))
                                      .order_by(Camera.code)).scalars())
    tickets = list(db.session.execute(select(FaultTicket).where(FaultTicket.commune_id == commune.id,
                                                                FaultTicket.status == "open")
                                      .order_by(FaultTicket.opened_at)).scalars())
    first_fault = {}
    for t in tickets:
        first_fault.setdefault(t.camera_id, t.opened_at)
    rows = []
    for v in villages:
        mine = [c for c in cameras if c.village_id == v.id]
        working = sum(1 for c in mine if c.status in WORKING)
        rows.append({"village": v, "cameras": len(mine), "working": working, "down": len(mine) - working,
                     "per_1000": (1000 * len(mine) / v.households) if v.households else None,
                     "gap": working == 0})
    rows.sort(key=lambda r: (not r["gap"], r["village"].name))  # the gaps come first
    down = []
    for c in cameras:
        if c.status in DOWN:
            since = first_fault.get(c.id) or c.last_ok_at
            since_local = to_vn(since)
            down.append({"camera": c, "since": since_local,
                         "hours": int((now - since_local).total_seconds() // 3600) if since_local else None})
    down.sort(key=lambda d: -(d["hours"] or 0))
    roads: dict[str, dict] = {}
    for c in cameras:
        if c.road:
            r = roads.setdefault(c.road, {"road": c.road, "cameras": 0, "working": 0})
            r["cameras"] += 1
            r["working"] += c.status in WORKING
    households = commune.households or sum(v.households for v in villages)
    return {
        "villages": rows, "gaps": [r for r in rows if r["gap"]], "cameras": cameras,
        "installed": len(cameras), "working": sum(1 for c in cameras if c.status in WORKING),
        "per_1000": (1000 * len(cameras) / households) if households else None,
        "households": households, "down": down,
        "roads": sorted(roads.values(), key=lambda r: (r["working"] > 0, r["road"])),
        "backlog": [{"ticket": t, "age_days": (now - to_vn(t.opened_at)).days} for t in tickets],
        "points": camera_points([commune.id]),
    }


def funding_report(report, *args):
    """A funding report for a page, or None ("no data yet"): a failing report must not take the
    coverage or sponsor page down with it, so it is logged and the page says so."""
    try:
        return report(*args)
    except Exception:  # noqa: BLE001 - see above
        db.session.rollback()
        current_app.logger.exception("funding report %s failed", report.__name__)
        return None


def sponsor_data() -> dict:
    """What the signed-in sponsor funded, whether it works and what it helped with (no footage)."""
    sponsor_id = getattr(current_user, "sponsor_id", None)
    summary = funding_report(reports.sponsor_summary, sponsor_id) if sponsor_id else None
    cameras = (summary or {}).get("cameras") or []
    # one source for the cases: the summary the PDF prints too (it once counted categories, 2, for 4 cases)
    return {"available": summary is not None, "sponsor_id": sponsor_id, "summary": summary,
            "cameras": cameras, "helped": (summary or {}).get("incidents") or [],
            "helped_total": (summary or {}).get("incidents_total") or 0,
            "helped_clarified": (summary or {}).get("incidents_clarified") or 0}
