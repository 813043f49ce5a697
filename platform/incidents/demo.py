"""Demo incidents in the proportions the seed articles report, spread over the last 12 months."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..clock import VN_TZ, month_start, months_back, utc_now
from ..extensions import db
from ..streams.models import Camera, Clip, Snapshot
from ..tenants.models import AdminUnit, User, Village
from ..tenants.scope import system_scope
from .models import Incident, IncidentCamera, IncidentCategory, IncidentEvidence
from .services import ensure_default_categories

# commune code -> [(category, cases, clarified through cameras)]
PLAN = {
    # Núi Đối: "80 vụ việc ... 8 vụ việc làm rõ thông qua hệ thống camera"; 41 handled, 39 referred
    "NUIDOI": [("theft", 22, 4), ("robbery", 6, 1), ("assault", 8, 0), ("property_damage", 5, 1),
               ("traffic_accident", 18, 2), ("social_evils", 7, 0), ("littering", 6, 0),
               ("loan_shark_flyers", 4, 0), ("other", 4, 0)],
    # Hồ Xá: "21 vụ việc ... 5 trộm cắp; 1 hư hỏng tài sản; 1 đua xe; 4 tờ rơi tín dụng đen; 9 TNGT; 1 vứt chất thải"
    "HOXA": [("theft", 5, 5), ("property_damage", 1, 1), ("illegal_racing", 1, 1), ("loan_shark_flyers", 4, 4),
             ("traffic_accident", 9, 9), ("littering", 1, 1)],
    # Ngũ Hiệp: a collision deep in an alley settled from footage, before it became a feud
    "NGUHIEP": [("traffic_accident", 6, 3), ("theft", 4, 1), ("robbery", 1, 0), ("other", 1, 0)],
    "HAIDONG": [("theft", 3, 1), ("robbery", 1, 0), ("traffic_accident", 4, 2), ("social_evils", 2, 0)],
    "BENSUNG": [("theft", 4, 2), ("traffic_accident", 5, 2), ("assault", 2, 0), ("illegal_racing", 2, 1),
                ("littering", 1, 0)],
}
# How cases ended where the seed says so: Núi Đối handled 41 itself and referred 39.
REFERRED = {"NUIDOI": 39}

TITLES = {
    "theft": ["Mất trộm xe máy", "Trộm cắp tài sản trong nhà", "Mất trộm điện thoại", "Trộm gà, vịt"],
    "robbery": ["Cướp giật túi xách", "Giật điện thoại người đi đường"],
    "assault": ["Xô xát gây thương tích", "Đánh nhau sau cuộc nhậu"],
    "property_damage": ["Đập phá tài sản", "Làm hư hỏng cổng nhà"],
    "illegal_racing": ["Tụ tập đua xe trái phép", "Nẹt pô, lạng lách ban đêm"],
    "loan_shark_flyers": ["Rải tờ rơi cho vay nặng lãi", "Dán quảng cáo tín dụng đen"],
    "traffic_accident": ["Va chạm giao thông", "Tai nạn giao thông tại ngã tư", "Xe máy va chạm ô tô"],
    "littering": ["Vứt rác thải ra vỉa hè", "Đổ trộm phế thải xây dựng"],
    "social_evils": ["Tụ tập đánh bạc", "Nghi vấn sử dụng ma túy"],
    "other": ["Gây mất trật tự công cộng", "Người đi lạc được tìm thấy"],
}
ROADS = ["Quốc lộ 1A", "Đường trục xã", "Ngã tư trung tâm", "Đường liên thôn", "Ngõ nhỏ cạnh chợ", "Tỉnh lộ"]


def _window_start() -> datetime:
    return month_start(months_back(12)[0]).astimezone(VN_TZ)


def _reporter(commune: AdminUnit) -> int | None:
    user = db.session.execute(select(User.id).where(User.unit_id == commune.id).order_by(User.id)).first()
    return user[0] if user else None


def _load_commune(commune: AdminUnit, plan, cats: dict[str, IncidentCategory], now: datetime) -> int:
    rng = random.Random(f"camnet-demo-{commune.code}")
    villages = list(db.session.execute(select(Village).where(Village.commune_id == commune.id)).scalars())
    cameras = list(db.session.execute(select(Camera).where(Camera.commune_id == commune.id)).scalars())
    reporter = _reporter(commune)
    cases = []
    for code, count, clarified in plan:
        cases += [(code, n < clarified) for n in range(count)]
    rng.shuffle(cases)
    referred_left = REFERRED.get(commune.code, round(len(cases) * 0.25))
    # within the 12 calendar months the pages chart (this month and the 11 before it)
    window_days = max(0, (now.astimezone(VN_TZ) - _window_start()).days - 1)
    made = 0
    for code, clarified in cases:
        days = rng.randint(0, window_days)
        occurred = now - timedelta(days=days, hours=rng.choice([2, 5, 8, 11, 13, 14, 15]), minutes=rng.randint(0, 59))
        village = rng.choice(villages) if villages else None
        if days < 10:
            status = rng.choice(["open", "investigating"])
        elif referred_left > 0 and (not clarified or rng.random() < 0.3):
            status, referred_left = "referred", referred_left - 1
        else:
            status = "resolved"
        near = [c for c in cameras if village is not None and c.village_id == village.id] or cameras
        chosen = rng.sample(near, min(len(near), 2 if clarified else rng.choice([0, 0, 1]))) if near else []
        cam = chosen[0] if chosen else None
        recovered = 0
        people = 0
        if clarified:
            people = rng.choice([1, 1, 2])
            if code == "theft":
                recovered = rng.choice([3, 8, 15, 26, 52]) * 1_000_000
        incident = Incident(
            commune_id=commune.id, category_id=cats[code].id, title=rng.choice(TITLES[code]),
            description="Dữ liệu mẫu (demo).", occurred_at=occurred, village_id=village.id if village else None,
            road=cam.road if cam is not None and cam.road else rng.choice(ROADS),
            latitude=cam.latitude if cam is not None else None, longitude=cam.longitude if cam is not None else None,
            status=status, clarified_by_camera=clarified, people_identified=people,
            property_recovered_vnd=recovered, reported_by_id=reporter, created_at=occurred + timedelta(hours=1),
            updated_at=occurred + timedelta(days=2),
            closed_at=occurred + timedelta(days=rng.randint(1, 20)) if status in ("resolved", "referred") else None)
        db.session.add(incident)
        db.session.flush()
        for c in chosen:
            db.session.add(IncidentCamera(incident_id=incident.id, camera_id=c.id, commune_id=commune.id))
        if clarified and chosen:
            _attach_existing_media(incident, [c.id for c in chosen])
        made += 1
    return made


def _attach_existing_media(incident: Incident, camera_ids: list[int]) -> None:
    """Link a captured snapshot or ready clip, if the streams demo made any, as evidence."""
    clip = db.session.execute(select(Clip).where(Clip.camera_id.in_(camera_ids), Clip.status == "ready")
                              .order_by(Clip.id.desc()).limit(1)).scalar_one_or_none()
    if clip is not None:
        clip.evidence = True
        db.session.add(IncidentEvidence(incident_id=incident.id, commune_id=incident.commune_id, kind="clip",
                                        clip_id=clip.id, note="demo"))
        return
    snap = db.session.execute(select(Snapshot).where(Snapshot.camera_id.in_(camera_ids))
                              .order_by(Snapshot.id.desc()).limit(1)).scalar_one_or_none()
    if snap is not None:
        snap.evidence = True
        db.session.add(IncidentEvidence(incident_id=incident.id, commune_id=incident.commune_id,
                                        kind="snapshot", snapshot_id=snap.id, note="demo"))


def load() -> dict:
    """Idempotent: a commune that already has incidents is left alone."""
    now = utc_now()
    made = 0
    with system_scope():
        ensure_default_categories()
        cats = {c.code: c for c in db.session.execute(select(IncidentCategory)).scalars()}
        for code, plan in PLAN.items():
            commune = db.session.execute(select(AdminUnit).where(AdminUnit.code == code)).scalar_one_or_none()
            if commune is None:
                continue
            has = db.session.execute(select(func.count()).select_from(Incident)
                                     .where(Incident.commune_id == commune.id)).scalar()
            if has:
                continue
            made += _load_commune(commune, plan, cats, now)
        db.session.commit()
    return {"incidents": made}
