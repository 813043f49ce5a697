"""Demo cameras with the seed articles' counts, plausible places and trouble to show: cameras
offline, dark, covered, blurred, frozen or moved, with open fault tickets of different ages (the
built-in simulator shows each of them that way: ``capture.demo`` writes its scene file)."""
from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from ..clock import utc_now
from ..extensions import db
from ..tenants.models import AdminUnit, CommuneBoundary, Village
from ..tenants.scope import system_scope
from .models import Camera, CameraConsent, CameraUptimeDay, FaultTicket, Snapshot

SIM_HTTP = "http://127.0.0.1:8090/cam/{code}"
SIM_RTSP = "rtsp://127.0.0.1:8554/cam{n}"

# commune code -> (centre lat, lon, [(phase, count, install year)], roads, highway); the phase
# names are the funding demo's, so a sponsor's or household's report finds its cameras
PLANS = {
    "NUIDOI": (20.72, 106.67, [("Giai đoạn 1 (2023)", 12, 2023)],
               ["Đường Núi Đối", "Phố Cẩm Hoàn", "Đường Quyết Tiến", "Đường Minh Khai"], "ĐT402 km"),
    "NGUHIEP": (20.92, 105.86, [("Giai đoạn 1 (2023)", 64, 2023)],
                ["Đường Ngũ Hiệp", "Đường Yên Ngưu", "Đường Lạc Thị", "Đường Tựu Liệt"], "QL1A km"),
    "HAIDONG": (20.20, 106.30, [("Giai đoạn 1", 17, 2024)],
                ["Đường trục xã", "Đường ven biển", "Đường Hải Đông"], "QL37B km"),
    "HOXA": (17.06, 107.02, [("Giai đoạn 1 (2019)", 20, 2019), ("Giai đoạn 2 (2021)", 35, 2021)],
             ["Đường Hùng Vương", "Đường Lê Duẩn", "Đường Trần Phú", "Đường Hai Bà Trưng"], "QL1A km"),
    "BENSUNG": (19.62, 105.56, [("Mô hình camera 2022", 58, 2022)],
                ["Đường Lê Lợi", "Đường Bà Triệu", "Đường Hải Vân", "Đường Xuân Tiến"], "QL45 km"),
}
DIRECTIONS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
# commune -> [(camera number, ownership, owner, shares)]
SHARED = {
    "NUIDOI": [(11, "household", "Hộ ông Nguyễn Văn Tình", "live")],
    "NGUHIEP": [(63, "business", "Cửa hàng vật liệu Minh Phát", "snapshots"),
                (64, "household", "Hộ bà Lê Thị Mai", "live")],
    "HOXA": [(55, "business", "Nhà nghỉ Hồng Hà", "live")],
    "BENSUNG": [(57, "household", "Hộ ông Lê Văn Đức", "live"),
                (58, "business", "Quán cà phê Hải Vân", "on_request")],
}
# commune -> [(camera number, rule, hours since it broke)]: cameras in trouble, each with an open
# ticket that old; "unreachable" cameras are offline, the others faulty (capture.health.status_for)
FAULTY = {"NUIDOI": [(3, "dark", 26), (5, "moved", 75), (7, "unreachable", 2), (9, "covered", 220)],
          "NGUHIEP": [(12, "blur", 120), (40, "unreachable", 50)],
          "HOXA": [(30, "frozen", 20)],
          "BENSUNG": [(21, "covered", 290)],
          "HAIDONG": [(8, "unreachable", 8)]}
# commune -> camera numbers whose address was mistyped: the simulator answers it with 404
MISTYPED = {"HAIDONG": [8]}
# commune -> [(camera number, days ago)]: a camera that kept dropping out that day (5-10 % uptime)
# and works again; the low-uptime rule gives it a ticket (capture.demo)
FLAKY = {"HOXA": [(12, 4)], "NGUHIEP": [(33, 6)]}
RTSP_CAMERAS = {"NUIDOI": [1, 2], "HOXA": [1, 2]}


def _name(i: int, rng: random.Random, roads, highway, villages) -> tuple[str, str]:
    road, other = rng.sample(roads, 2)
    village = villages[i % len(villages)].name if villages else ""
    short = village.split(" ", 2)[-1] if village else road
    kind = i % 6
    if kind == 0:
        return f"Ngã tư {road} - {other}", f"{road} x {other}"
    if kind == 1:
        return f"Cổng chợ {short}", road
    if kind == 2:
        return f"{highway} {rng.randint(150, 760)}+{rng.randint(0, 9)}00", highway.rsplit(" ", 1)[0]
    if kind == 3:
        return f"Cổng trường {short}", road
    if kind == 4:
        return f"Ngõ {rng.randint(2, 120)} {road}", road
    return f"Ngã ba {short}", road


# the simulator mode that shows each rule (camsim.http_camera.HTTP_MODES)
SIM_MODES = {"dark": "dark", "covered": "covered", "blur": "blur", "frozen": "freeze", "moved": "moved",
             "unreachable": "offline"}


def _sim_jpeg(code: str, rule: str) -> bytes:
    """The picture the built-in simulator shows for this camera in this trouble."""
    import cv2

    from camsim.http_camera import look_of, render_frame

    mode = "normal" if rule == "frozen" else SIM_MODES[rule]
    return cv2.imencode(".jpg", render_frame(look_of(code), 640, 360, 0, mode))[1].tobytes()


def _evidence(cam: Camera, rule: str, taken) -> Snapshot | None:
    if rule == "unreachable":
        return None
    data = _sim_jpeg(cam.code, rule)
    taken = taken.replace(microsecond=0)
    key = f"{cam.commune_id}/{cam.id}/{taken:%Y/%m/%d/%H%M%S}.jpg"
    current_app.extensions["camnet.storage"].put(key, data, "image/jpeg")
    snap = Snapshot(camera_id=cam.id, commune_id=cam.commune_id, taken_at=taken,
                    slot=int(taken.timestamp()) // cam.capture_interval, object_key=key, size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), width=640, height=360, worker="demo", health=rule)
    db.session.add(snap)
    db.session.flush()
    return snap


def _commune_cameras(commune: AdminUnit, plan) -> int:
    lat0, lon0, phases, roads, highway = plan
    villages = list(db.session.execute(select(Village).where(Village.commune_id == commune.id)
                                       .order_by(Village.id)).scalars())
    have = set(db.session.execute(select(Camera.code).where(Camera.commune_id == commune.id)).scalars())
    shared = {n: rest for n, *rest in SHARED.get(commune.code, [])}
    faulty = {n: (rule, hours) for n, rule, hours in FAULTY.get(commune.code, [])}
    mistyped = MISTYPED.get(commune.code, [])
    rtsp = RTSP_CAMERAS.get(commune.code, [])
    rng = random.Random(commune.code)
    now = utc_now()
    added, n = 0, 0
    for phase, count, year in phases:
        for _ in range(count):
            n += 1
            name, road = _name(n, rng, roads, highway, villages)
            lat, lon = lat0 + rng.uniform(-0.012, 0.012), lon0 + rng.uniform(-0.012, 0.012)
            code = f"{commune.code}-{n:03d}"
            if code in have:
                continue
            base = SIM_HTTP.format(code=code[:-3] + code[-2:] if n in mistyped else code)
            cam = Camera(commune_id=commune.id, code=code, name=name, road=road,
                         village_id=villages[n % len(villages)].id if villages else None,
                         latitude=round(lat, 6), longitude=round(lon, 6), direction=rng.choice(DIRECTIONS),
                         kind="ptz" if n % 9 == 0 else "fixed", recorder=f"NVR-{(n - 1) // 16 + 1}",
                         channel=(n - 1) % 16 + 1, phase=phase, status="active", capture_interval=60,
                         install_date=date(year, 1 + n % 12, 1 + n % 27))
            if n in rtsp:
                cam.rtsp_main = SIM_RTSP.format(n=rtsp.index(n) + 1)
            else:
                cam.snapshot_url, cam.mjpeg_url = f"{base}/snapshot.jpg", f"{base}/mjpeg"
            if n in shared:
                cam.ownership, cam.owner_name, _shares = shared[n]
            db.session.add(cam)
            db.session.flush()
            if n in shared:
                db.session.add(CameraConsent(camera_id=cam.id, commune_id=commune.id, shares=shared[n][2],
                                             granted_by=shared[n][1], since=date(year, 6, 1),
                                             document_ref=f"BB-{commune.code}-{n:03d}"))
            if n in faulty:
                rule, hours = faulty[n]
                since = now - timedelta(hours=hours)
                cam.status = "offline" if rule == "unreachable" else "faulty"
                cam.health, cam.last_ok_at = rule, since - timedelta(minutes=1)
                snap = _evidence(cam, rule, since)
                db.session.add(FaultTicket(camera_id=cam.id, commune_id=commune.id, rule=rule, opened_at=since,
                                           evidence_snapshot_id=snap.id if snap else None,
                                           evidence_key=snap.object_key if snap else None,
                                           detail={"source": "demo"}))
            added += 1
    return added


def _uptime_history(commune_ids: list[int], days: int = 30) -> None:
    """A month of daily checks before today, so the uptime charts tell a story on first run: a
    camera in trouble has (almost) no good checks since its ticket opened, a flaky one a bad day."""
    rng = random.Random(2026)
    today = utc_now().date()
    cams = db.session.execute(select(Camera.id, Camera.commune_id, Camera.code).where(
        Camera.commune_id.in_(commune_ids))).all()
    have = set(db.session.execute(select(CameraUptimeDay.camera_id).where(
        CameraUptimeDay.commune_id.in_(commune_ids), CameraUptimeDay.day < today)).scalars())
    broke = dict(db.session.execute(select(FaultTicket.camera_id, FaultTicket.opened_at).where(
        FaultTicket.commune_id.in_(commune_ids), FaultTicket.status == "open")).all())
    flaky = {f"{commune}-{n:03d}": today - timedelta(days=back)
             for commune, cams_back in FLAKY.items() for n, back in cams_back}
    for cam_id, commune_id, code in cams:
        if cam_id in have:
            continue
        onset = broke.get(cam_id)
        for back in range(days, 0, -1):
            day, checks = today - timedelta(days=back), 1440
            ok = checks - rng.choice([0, 0, 0, 2, 5, 15, 60])
            if onset is not None and day > onset.date():
                ok = rng.randint(0, 30)  # down all day
            elif onset is not None and day == onset.date():
                ok = min(ok, onset.hour * 60 + onset.minute)  # went down that day
            elif flaky.get(code) == day:
                ok = rng.randint(72, 144)  # 5-10 %: kept dropping out
            db.session.add(CameraUptimeDay(camera_id=cam_id, commune_id=commune_id, day=day, checks=checks, ok=ok))


def _boundary(commune: AdminUnit, plan) -> None:
    """A plausible outline for the map: an irregular 14-sided ring around the commune's centre,
    wide enough to hold every demo camera (they lie within 0.012 degrees of it on each axis)."""
    import math

    if db.session.get(CommuneBoundary, commune.id) is not None:
        return
    lat0, lon0 = plan[0], plan[1]
    rng = random.Random(f"boundary-{commune.code}")
    ring = []
    for k in range(14):
        angle = 2 * math.pi * k / 14
        radius = rng.uniform(0.019, 0.025)
        ring.append([round(lon0 + radius * math.cos(angle), 6), round(lat0 + radius * math.sin(angle), 6)])
    ring.append(ring[0])
    geometry = CommuneBoundary.check_geometry({"type": "Polygon", "coordinates": [ring]})
    db.session.add(CommuneBoundary(commune_id=commune.id, geometry=geometry,
                                   source="Dữ liệu mẫu (demo), vẽ quanh các camera / demo data, drawn around the cameras"))


def load() -> dict:
    """Idempotent: cameras are keyed by commune and code; existing ones are left alone."""
    with system_scope():
        communes = {u.code: u for u in db.session.execute(
            select(AdminUnit).where(AdminUnit.code.in_(list(PLANS)))).scalars()}
        for code, plan in PLANS.items():
            if code in communes:
                _commune_cameras(communes[code], plan)
                _boundary(communes[code], plan)
        db.session.commit()
        _uptime_history([c.id for c in communes.values()])
        db.session.commit()
        total = db.session.execute(select(db.func.count(Camera.id)).where(
            Camera.commune_id.in_([c.id for c in communes.values()]))).scalar()
    return {"cameras": total}
