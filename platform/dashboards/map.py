"""The camera map's data and its offline base layer.

A page hands ``map_data(...)`` to the ``map`` macro of ``dashboards/_map.html``; the script
``static/dashboards/map.js`` draws from it: the base layer (a local PMTiles file served by camnet
itself when ``MAP_PMTILES_PATH`` is set, else the tile server ``MAP_TILE_URL``, else a plain
background), the communes' stored outlines, the cameras coloured by status, and the incidents of
the last 90 days for the communes whose incidents the caller may read.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta

from flask import Blueprint, current_app, send_file, url_for
from flask_login import login_required
from sqlalchemy import func, select

from ..clock import to_vn, utc_now
from ..errors import NotFoundError
from ..extensions import db
from ..i18n import current_lang, t
from ..incidents.models import Incident, IncidentCamera, IncidentCategory
from ..labels import label
from ..streams.models import Camera
from ..tenants.access import may
from ..tenants.idsets import member_of
from ..tenants.models import CommuneBoundary

bp = Blueprint("dashboards_map", __name__)

STATUS_COLOURS = {"active": "#1c7c3c", "offline": "#b3261e", "faulty": "#d35400", "planned": "#5f6b76"}
INCIDENT_DAYS = (7, 30, 90)  # the map's time filter; the page opens on the middle one
INCIDENT_LIMIT = 3000  # the newest this many incidents in the window


class MapData:
    """What one map shows. ``{{ map_data }}`` writes the JSON the script reads (inside
    <script type="application/json">, "</" escaped so no tag can close it early); the legend
    and the filter are drawn by the template from the same object."""

    def __init__(self, data: dict):
        self.data = data

    @property
    def legend(self) -> list[dict]:
        """Camera states on this map with their colour, label and how many."""
        counts: dict[str, int] = {}
        for p in self.data["points"]:
            counts[p["status"]] = counts.get(p["status"], 0) + 1
        for c in self.data["clusters"]:
            for status, n in c["by_status"].items():
                counts[status] = counts.get(status, 0) + n
        return [{"status": s, "colour": colour, "label": self.data["labels"][s], "count": counts.get(s, 0)}
                for s, colour in STATUS_COLOURS.items()]

    @property
    def has_incidents(self) -> bool:
        return self.data["incidents_shown"]

    @property
    def days(self) -> tuple[int, ...]:
        return INCIDENT_DAYS

    def __html__(self) -> str:
        return json.dumps(self.data, ensure_ascii=False).replace("</", "<\\/")


def boundaries(commune_ids) -> dict[str, dict]:
    """Stored outlines of these communes: {commune id: GeoJSON geometry}."""
    ids = list(commune_ids)
    if not ids:
        return {}
    return {str(cid): geometry for cid, geometry in db.session.execute(
        select(CommuneBoundary.commune_id, CommuneBoundary.geometry)
        .where(member_of(CommuneBoundary.commune_id, ids)))}


def camera_locations(camera_ids) -> dict[int, tuple[float | None, float | None]]:
    """{camera id: (latitude, longitude)} of these cameras (read in the caller's scope)."""
    ids = list(camera_ids)
    if not ids:
        return {}
    return {cid: (lat, lon) for cid, lat, lon in db.session.execute(
        select(Camera.id, Camera.latitude, Camera.longitude).where(member_of(Camera.id, ids)))}


def recent_incidents(commune_ids, days: int = INCIDENT_DAYS[-1]) -> list[dict]:
    """Located incidents of the last ``days`` days in these communes, newest first: where, when
    (Vietnam time), which category. Only communes whose incidents the caller may read."""
    ids = [cid for cid in commune_ids if may("incidents.read", cid)]
    if not ids:
        return []
    now = utc_now()
    en = current_lang() == "en"

    def first_camera(column):  # an incident without its own place is drawn at its first camera
        return (select(column).join(IncidentCamera, IncidentCamera.camera_id == Camera.id)
                .where(IncidentCamera.incident_id == Incident.id, column.is_not(None))
                .order_by(Camera.id).limit(1).scalar_subquery())

    lat = func.coalesce(Incident.latitude, first_camera(Camera.latitude))
    lon = func.coalesce(Incident.longitude, first_camera(Camera.longitude))
    rows = db.session.execute(
        select(Incident.id, Incident.commune_id, Incident.occurred_at, lat, lon,
               IncidentCategory.label_vi, IncidentCategory.label_en, IncidentCategory.color)
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .where(member_of(Incident.commune_id, ids), Incident.occurred_at >= now - timedelta(days=days))
        .order_by(Incident.occurred_at.desc()).limit(INCIDENT_LIMIT)).all()
    out = []
    for iid, cid, occurred, lat, lon, vi, en_label, colour in rows:
        if lat is None or lon is None:
            continue
        when = to_vn(occurred)
        out.append({"id": iid, "commune_id": cid, "lat": lat, "lon": lon, "colour": colour,
                    "category": en_label if en else vi,
                    "age_days": round((now - when).total_seconds() / 86400, 3),
                    "when": when.strftime("%H:%M %d/%m/%Y"),
                    "drill": url_for("incidents.incident_detail", incident_id=iid)})
    return out


def base_layer() -> dict:
    """The map's background: camnet's own PMTiles file, a tile server, or none."""
    config = current_app.config
    if config.get("MAP_PMTILES_PATH"):
        return {"pmtiles": url_for("dashboards_map.pmtiles"), "tiles": ""}
    return {"pmtiles": "", "tiles": config.get("MAP_TILE_URL") or ""}


def map_data(points, communes: dict[int, str], clusters=(), incidents: bool = True,
             drill: bool = True) -> MapData:
    """Everything a map shows: ``points`` (cameras) or ``clusters`` (one per commune for a big
    area), the communes' names and outlines, the incidents (``incidents``: when the page may show
    them) and the base layer. ``drill``: markers link to the oversight pages."""
    ids = list(communes)
    shown = recent_incidents(ids) if incidents else []
    return MapData({
        "points": [{**p, "drill": url_for("dashboards.oversight_camera", camera_id=p["id"]) if drill else ""}
                   for p in points],
        "clusters": [{**c, "drill": url_for("dashboards.oversight_commune", unit_id=c["commune_id"]) if drill else ""}
                     for c in clusters],
        "communes": {str(k): v for k, v in communes.items()},
        "boundaries": boundaries(ids),
        "incidents": shown,
        "incidents_shown": bool(incidents and any(may("incidents.read", cid) for cid in ids)),
        "days": list(INCIDENT_DAYS),
        **base_layer(),
        "colours": STATUS_COLOURS,
        "labels": {s: label(s, "camera_status") for s in STATUS_COLOURS},
        "ui": {"outlines": t("Ranh giới xã", "Commune outlines"), "cameras": t("Camera", "Cameras"),
               "incidents": t("Vụ việc", "Incidents"),
               "approx": t("ranh giới ước lượng theo vị trí camera", "outline estimated from the cameras"),
               "open": t("Mở", "Open"), "count": t("{n} vụ việc trong {d} ngày qua", "{n} incidents in the last {d} days")},
    })


@bp.route("/map/base.pmtiles")
@login_required
def pmtiles():
    """The offline base map (MAP_PMTILES_PATH), read by the browser in HTTP Range requests."""
    path = current_app.config.get("MAP_PMTILES_PATH") or ""
    if not path or not os.path.isfile(path):
        raise NotFoundError()
    response = send_file(path, mimetype="application/vnd.pmtiles", conditional=True, etag=True,
                         max_age=3600)
    response.headers["Accept-Ranges"] = "bytes"
    return response
