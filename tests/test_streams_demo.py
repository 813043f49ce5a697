"""The demo cameras: the seed articles' counts, plausible places, a few faults, and idempotent."""
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.streams import demo as streams_demo
from camnet.streams import urls
from camnet.streams.models import Camera, FaultTicket
from camnet.tenants import demo as tenants_demo
from camnet.tenants.models import AdminUnit
from camnet.tenants.scope import system_scope


def test_demo_cameras_match_the_seed_counts_and_load_twice_to_the_same(app):
    tenants_demo.load_demo()
    first = streams_demo.load()
    assert streams_demo.load() == first
    with system_scope():
        counts = dict(db.session.execute(select(AdminUnit.code, func.count(Camera.id))
                                         .join(Camera, Camera.commune_id == AdminUnit.id)
                                         .group_by(AdminUnit.code)).all())
        assert counts == {"NGUHIEP": 64, "HAIDONG": 17, "HOXA": 55, "BENSUNG": 58, "NUIDOI": 12}
        hoxa = dict(db.session.execute(select(Camera.phase, func.count()).join(
            AdminUnit, Camera.commune_id == AdminUnit.id).where(AdminUnit.code == "HOXA")
            .group_by(Camera.phase)).all())
        assert hoxa == {"Giai đoạn 1 (2019)": 20, "Giai đoạn 2 (2021)": 35}
        cams = db.session.execute(select(Camera)).scalars().all()
        assert all(19.5 < c.latitude < 21 or 17 < c.latitude < 17.1 for c in cams)
        assert any(c.name.startswith("Ngã tư") for c in cams) and any("QL1A km" in c.name for c in cams)
        for c in cams:
            for field in ("snapshot_url", "mjpeg_url", "rtsp_main"):
                if getattr(c, field):
                    urls.validate_stream_url(getattr(c, field), field)
        shared = [c for c in cams if c.ownership != "commune"]
        assert shared and all(c.consents for c in shared)
        assert db.session.execute(select(func.count()).select_from(FaultTicket)
                                  .where(FaultTicket.status == "open")).scalar() >= 3
