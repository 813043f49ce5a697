"""Recorder pulls for the isolation matrix: per commune one registered recorder and one finished pull
of its first camera."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from camnet.extensions import db
from camnet.video.recorder import Recorder, RecorderPull

PARAMS = {"pull_id": "recorder_pull"}


def build(w) -> None:
    end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    for key in ("a", "b", "c", "d"):
        cam = w.extra["camera"][key][0]
        rec = Recorder(commune_id=cam.commune_id, name=f"NVR-W{key.upper()}", family="hikvision",
                       url="rtsp://10.1.2.3:554")
        db.session.add(rec)
        db.session.flush()
        pull = RecorderPull(camera_id=cam.id, commune_id=cam.commune_id, recorder_id=rec.id, channel=1,
                            family="hikvision", start_at=end - timedelta(minutes=1), end_at=end, seconds_asked=60,
                            seconds_fetched=0.0, status="failed", reason="world", error="world")
        db.session.add(pull)
        db.session.flush()
        w.add("recorder_pull", key, pull)
