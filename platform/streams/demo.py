"""Demo cameras with the seed articles' counts, plausible places and a few faults for the technician."""
from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from ..clock import utc_now
from ..extensions import db
from ..tenants.models import AdminUnit, Village
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
# commune -> [(camera number, rule)]: cameras shown faulty with an open ticket
FAULTY = {"NUIDOI": [(3, "dark"), (7, "unreachable")], "NGUHIEP": [(12, "blur")], "HOXA": [(30, "frozen")]}
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


def _dark_jpeg() -> bytes:
    import cv2
    import numpy as np

    img = np.full((180, 320), 3, np.uint8)
    cv2.putText(img, "camnet", (10, 170), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 12, 1)
    return cv2.imencode(".jpg", img)[1].tobytes()


def _evidence(cam: Camera, rule: str) -> Snapshot | None:
    if rule == "unreachable":
        return None
    data = _dark_jpeg()
    taken = utc_now().replace(microsecond=0) - timedelta(hours=2)
    key = f"{cam.commune_id}/{cam.id}/{taken:%Y/%m/%d/%H%M%S}.jpg"
    current_app.extensions["camnet.storage"].put(key, data, "image/jpeg")
    snap = Snapshot(camera_id=cam.id, commune_id=cam.commune_id, taken_at=taken,
                    slot=int(taken.timestamp()) // cam.capture_interval, object_key=key, size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), width=320, height=180, worker="demo", health=rule)
    db.session.add(snap)
    db.session.flush()
    return snap


def _commune_cameras(commune: AdminUnit, plan) -> int:
    lat0, lon0, phases, roads, highway = plan
    villages = list(db.session.execute(select(Village).where(Village.commune_id == commune.id)
                                       .order_by(Village.id)).scalars())
    have = set(db.session.execute(select(Camera.code).where(Camera.commune_id == commune.id)).scalars())
    shared = {n: rest for n, *rest in SHARED.get(commune.code, [])}
    faulty = dict(FAULTY.get(commune.code, []))
    rtsp = RTSP_CAMERAS.get(commune.code, [])
    rng = random.Random(commune.code)
    added, n = 0, 0
    for phase, count, year in phases:
        for _ in range(count):
            n += 1
            name, road = _name(n, rng, roads, highway, villages)
            lat, lon = lat0 + rng.uniform(-0.012, 0.012), lon0 + rng.uniform(-0.012, 0.012)
            code = f"{commune.code}-{n:03d}"
            if code in have:
                continue
            base = SIM_HTTP.format(code=code)
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
                cam.status, cam.health = "faulty", faulty[n]
                snap = _evidence(cam, faulty[n])
                db.session.add(FaultTicket(camera_id=cam.id, commune_id=commune.id, rule=faulty[n],
                                           evidence_snapshot_id=snap.id if snap else None,
                                           evidence_key=snap.object_key if snap else None,
                                           detail={"source": "demo"}))
            added += 1
    return added


def _uptime_history(commune_ids: list[int], days: int = 30) -> None:
    """A month of daily checks before today, so the uptime charts tell a story on first run."""
    rng = random.Random(2026)
    today = date.today()
    cams = db.session.execute(select(Camera.id, Camera.commune_id, Camera.status).where(
        Camera.commune_id.in_(commune_ids))).all()
    have = set(db.session.execute(select(CameraUptimeDay.camera_id).where(
        CameraUptimeDay.commune_id.in_(commune_ids), CameraUptimeDay.day < today)).scalars())
    for cam_id, commune_id, status in cams:
        if cam_id in have:
            continue
        for back in range(days, 0, -1):
            checks = 1440
            broken = status == "faulty" and back <= 3  # went down a few days ago
            ok = rng.randint(0, 200) if broken else checks - rng.choice([0, 0, 0, 2, 5, 15, 60])
            db.session.add(CameraUptimeDay(camera_id=cam_id, commune_id=commune_id,
                                           day=today - timedelta(days=back), checks=checks, ok=ok))


def load() -> dict:
    """Idempotent: cameras are keyed by commune and code; existing ones are left alone."""
    with system_scope():
        communes = {u.code: u for u in db.session.execute(
            select(AdminUnit).where(AdminUnit.code.in_(list(PLANS)))).scalars()}
        for code, plan in PLANS.items():
            if code in communes:
                _commune_cameras(communes[code], plan)
        db.session.commit()
        _uptime_history([c.id for c in communes.values()])
        db.session.commit()
        total = db.session.execute(select(db.func.count(Camera.id)).where(
            Camera.commune_id.in_([c.id for c in communes.values()]))).scalar()
    return {"cameras": total}
