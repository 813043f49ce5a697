"""Pulls from the commune's recorders (NVRs): a time range of a camera's footage, fetched on demand.

A camera of the registry names its recorder (``Camera.recorder``, e.g. "NVR-1") and its channel
there; the commune registers each recorder once (``Recorder``: family, address, account). A pull
asks that recorder's playback for [start, end] of the channel, over RTSP through the checked
connector (the address pinned, redirects refused, interleaved TCP only), and ffmpeg stream-copies
what comes into one MP4. The result is a ``streams.Clip`` (ready, hashed, under the commune's
``clips/`` prefix): it is downloaded, held and attached to an incident through the clip flow that
exists, and retention treats it as a clip.

URL families (``FAMILIES``)::

    hikvision  rtsp://host/Streaming/tracks/<channel>01?starttime=20261203T101000Z&endtime=...  (UTC)
    dahua      rtsp://host/cam/playback?channel=<n>&subtype=0&starttime=2026_12_03_17_10_00&endtime=...
               (the recorder's local time: Vietnam time)
    onvif      the recorder's replay URI (the registered URL, ``{channel}`` replaced), and in PLAY
               ``Range: clock=20261203T101000Z-20261203T102000Z``, ``Require: onvif-replay`` and
               ``Rate-Control: no``: ffmpeg cannot send those, so the connector's relay rewrites
               its PLAY request (``RtspRelay(rewrite_request=...)``).

A pull runs in a thread of the web process that asked (``start``); its row carries the progress
(seconds fetched of seconds asked), which the page polls. A row whose runner went silent (the
process died) is marked failed when read (``STALE_SECONDS``).
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Mapped, mapped_column

from ..capture.clips import clip_key
from ..capture.connector import LABELS, CameraError, RtspRelay, ffmpeg_error_code, plan, scrub
from ..clock import to_vn, utc_now
from ..crypto import decrypt, encrypt
from ..errors import ConflictError, ValidationFailed
from ..extensions import db
from ..settings import numbers_from_config
from ..storage import StorageError
from ..streams import urls
from ..streams.media import consent_gate
from ..streams.models import Camera, Clip
from ..tenants import audit
from ..tenants.access import get_commune, get_scoped
from ..tenants.models import UTCDateTime
from ..tenants.scope import Scoped, current_scope, system_scope

log = logging.getLogger("camnet.video.recorder")
FFMPEG = os.environ.get("CAMNET_FFMPEG", "ffmpeg")
FAMILIES = ("hikvision", "dahua", "onvif")
STATUSES = ("pending", "running", "ready", "failed")
STALE_SECONDS = 120
PROGRESS_EVERY = 0.5  # seconds between progress writes


@dataclass(frozen=True)
class RecorderSettings:
    """``RECORDER_PULL_<NAME>`` in the app config or the environment."""

    max_minutes: int = 60        # longest range one pull may ask
    concurrency: int = 2         # pulls running at once per web process; the others wait (pending)
    time_factor: float = 1.5     # a pull is stopped after asked seconds x this + 60 s (recorders
                                 # serve playback at 1x real time, some faster)

    @classmethod
    def from_config(cls, config=None) -> "RecorderSettings":
        return numbers_from_config(cls, "RECORDER_PULL", config)


class Recorder(Scoped, db.Model):
    """Đầu ghi: one recorder (NVR) of a commune, named as the cameras' ``recorder`` names it."""

    __tablename__ = "recorders"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "name", name="uq_recorders_commune_name"),
                      sa.CheckConstraint("family IN ('hikvision','dahua','onvif')", name="family"))

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    family: Mapped[str] = mapped_column(sa.String(12))
    url: Mapped[str] = mapped_column(sa.String(500))  # rtsp://host:port[/replay path with {channel}]
    username: Mapped[str | None] = mapped_column(sa.String(100))
    password_enc: Mapped[str | None] = mapped_column(sa.String(500))  # Fernet token, never returned
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class RecorderPull(Scoped, db.Model):
    """One pull of [start_at, end_at] of a camera's channel from its recorder, and its progress."""

    __tablename__ = "recorder_pulls"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.Index("ix_recorder_pulls_camera_created", "camera_id", "created_at"),
                      sa.CheckConstraint("status IN ('pending','running','ready','failed')", name="status"),
                      sa.CheckConstraint("end_at > start_at", name="range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    recorder_id: Mapped[int] = mapped_column(sa.ForeignKey("recorders.id"))
    channel: Mapped[int] = mapped_column()
    family: Mapped[str] = mapped_column(sa.String(12))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds_asked: Mapped[int] = mapped_column()
    seconds_fetched: Mapped[float] = mapped_column(sa.Float, default=0.0)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    clip_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clips.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    beat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the runner's last sign of life
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def progress(self) -> float:
        if self.status == "ready":
            return 1.0
        return min(1.0, (self.seconds_fetched or 0.0) / self.seconds_asked) if self.seconds_asked else 0.0


# ---- URLs -----------------------------------------------------------------------------------------

def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _hik(t: datetime) -> str:
    return aware(t).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _dahua(t: datetime) -> str:
    return to_vn(aware(t)).strftime("%Y_%m_%d_%H_%M_%S")


def playback_url(recorder: Recorder, channel: int, start: datetime, end: datetime) -> str:
    """The playback URL of ``channel`` over [start, end] for the recorder's family."""
    source = urls.parse_source(recorder.url, "rtsp")
    host = f"[{source.host}]" if ":" in source.host else source.host
    base = f"{source.scheme}://{host}:{source.port}"
    if recorder.family == "hikvision":
        return f"{base}/Streaming/tracks/{channel}01?starttime={_hik(start)}&endtime={_hik(end)}"
    if recorder.family == "dahua":
        return (f"{base}/cam/playback?channel={channel}&subtype=0"
                f"&starttime={_dahua(start)}&endtime={_dahua(end)}")
    path = source.path if source.path not in ("", "/") else "/onvif/replay/{channel}"
    return base + path.replace("{channel}", str(channel))


def onvif_rewrite(start: datetime, end: datetime):
    """The relay's request rewrite for ONVIF replay: PLAY carries the clock range, the replay
    requirement, and no rate control (send as fast as the recorder can)."""
    clock = f"clock={_hik(start)}-{_hik(end)}".encode()

    def rewrite(head: bytes) -> bytes:
        if not head.startswith(b"PLAY "):
            return head
        lines = [line for line in head[:-4].split(b"\r\n")
                 if not re.match(rb"(?i)(range|require|rate-control)\s*:", line)]
        lines += [b"Range: " + clock, b"Require: onvif-replay", b"Rate-Control: no"]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    return rewrite


# ---- recorders ------------------------------------------------------------------------------------

def add_recorder(data) -> Recorder:
    unit = get_commune(data.commune_id, "cameras.manage")
    url = urls.validate_stream_url(data.url, "rtsp", field="url")
    exists = db.session.execute(select(Recorder.id).where(Recorder.commune_id == unit.id,
                                                          Recorder.name == data.name)).scalar()
    if exists:
        raise ConflictError("name: xã đã có đầu ghi tên này / the commune has a recorder of this name",
                            field="name")
    rec = Recorder(commune_id=unit.id, name=data.name, family=data.family, url=url,
                   username=data.username or None, password_enc=encrypt(data.password))
    db.session.add(rec)
    db.session.flush()
    audit.record("recorder.create", unit_id=unit.id, object_type="recorder", object_id=rec.id,
                 detail={"name": rec.name, "family": rec.family})
    db.session.commit()
    return rec


def list_recorders(unit_id: int) -> list[Recorder]:
    unit = get_commune(unit_id, "cameras.read")
    return list(db.session.execute(select(Recorder).where(Recorder.commune_id == unit.id)
                                   .order_by(Recorder.name)).scalars())


def recorder_of(camera: Camera) -> Recorder:
    """The registered recorder that holds the camera's footage, or a 409 naming what is missing."""
    if not camera.recorder or not camera.channel:
        raise ConflictError("camera_id: camera chưa khai báo đầu ghi và kênh / the camera has no recorder "
                            "and channel in the registry", field="camera_id")
    rec = db.session.execute(select(Recorder).where(Recorder.commune_id == camera.commune_id,
                                                    Recorder.name == camera.recorder)).scalar_one_or_none()
    if rec is None:
        raise ConflictError(f"recorder: đầu ghi {camera.recorder} chưa được đăng ký / the recorder "
                            f"{camera.recorder} is not registered", field="recorder")
    return rec


# ---- pulls ----------------------------------------------------------------------------------------

def max_minutes() -> int:
    return RecorderSettings.from_config(current_app.config).max_minutes


def request_pull(camera_id: int, start: datetime, end: datetime, reason: str | None) -> RecorderPull:
    """Check, audit and record a pull (pending); the caller starts it (``start``)."""
    camera = get_scoped(Camera, camera_id, "media.view")
    consent_gate(camera, "live", reason)
    if not reason or len(reason.strip()) < 5:
        raise ValidationFailed("reason: nêu lý do lấy đoạn ghi (từ 5 ký tự) / say why the footage is pulled "
                               "(5+ characters)", field="reason")
    start, end = aware(start), aware(end)
    if end <= start:
        raise ValidationFailed("end: thời điểm kết thúc phải sau thời điểm bắt đầu / end must be after start",
                               field="end")
    if end - start > timedelta(minutes=max_minutes()):
        raise ValidationFailed(f"end: tối đa {max_minutes()} phút mỗi lần / at most {max_minutes()} minutes "
                               "per pull", field="end")
    if end > utc_now() + timedelta(seconds=5):
        raise ValidationFailed("end: chưa đến thời điểm này / this moment has not come yet", field="end")
    rec = recorder_of(camera)
    pull = RecorderPull(camera_id=camera.id, commune_id=camera.commune_id, recorder_id=rec.id,
                        channel=camera.channel, family=rec.family, start_at=start, end_at=end,
                        seconds_asked=max(1, math.ceil((end - start).total_seconds())), status="pending",
                        reason=reason.strip(), requested_by_id=current_scope().user_id, seconds_fetched=0.0)
    db.session.add(pull)
    db.session.flush()
    audit.record("recorder.pull", unit_id=camera.commune_id, object_type="recorder_pull", object_id=pull.id,
                 reason=pull.reason, detail={"camera_id": camera.id, "recorder_id": rec.id, "family": rec.family,
                                             "channel": camera.channel, "start": to_vn(start).isoformat(),
                                             "end": to_vn(end).isoformat()})
    db.session.commit()
    return pull


def get_pull(pull_id: int) -> RecorderPull:
    pull = get_scoped(RecorderPull, pull_id, "media.view")
    beat = pull.beat_at or pull.created_at
    if pull.status in ("pending", "running") and beat is not None \
            and utc_now() - aware(beat) > timedelta(seconds=STALE_SECONDS):
        with system_scope():
            row = db.session.get(RecorderPull, pull.id)
            row.status, row.error, row.finished_at = "failed", LABELS["timeout"], utc_now()
            db.session.commit()
    return pull


def pulls_of(camera_id: int, limit: int = 20) -> tuple[Camera, list[RecorderPull]]:
    camera = get_scoped(Camera, camera_id, "media.view")
    rows = db.session.execute(select(RecorderPull).where(RecorderPull.camera_id == camera.id)
                              .order_by(RecorderPull.id.desc()).limit(limit)).scalars()
    return camera, list(rows)


_slots: dict[int, threading.BoundedSemaphore] = {}


def start(app, pull_id: int) -> threading.Thread:
    """Run the pull in a thread of this process (a greenlet under gevent); at most
    ``RECORDER_PULL_CONCURRENCY`` run at once, the others wait as "pending"."""
    slots = _slots.setdefault(id(app), threading.BoundedSemaphore(
        max(1, RecorderSettings.from_config(app.config).concurrency)))

    def run():
        with slots:
            run_pull(app, pull_id)

    thread = threading.Thread(target=run, name=f"recorder-pull-{pull_id}", daemon=True)
    thread.start()
    return thread


def _set(pull_id: int, **values) -> None:
    db.session.execute(sa.update(RecorderPull).where(RecorderPull.id == pull_id).values(**values))
    db.session.commit()


def run_pull(app, pull_id: int) -> None:
    """Fetch, hash, store; the row becomes ready with its clip, or failed with a fixed label
    (``connector.LABELS``): what the recorder or ffmpeg said goes to the server log only."""
    with app.app_context(), system_scope():
        pull = db.session.get(RecorderPull, pull_id)
        rec = db.session.get(Recorder, pull.recorder_id)
        start_at, end_at, asked = aware(pull.start_at), aware(pull.end_at), pull.seconds_asked
        url = playback_url(rec, pull.channel, start_at, end_at)
        username, password = rec.username, decrypt(rec.password_enc, app.config)
        family, camera_id, commune_id = rec.family, pull.camera_id, pull.commune_id
        _set(pull_id, status="running", beat_at=utc_now())
        fd, out = tempfile.mkstemp(prefix=f"camnet-pull-{pull_id}-", suffix=".mp4")
        os.close(fd)
        relay = None
        try:
            rewrite = onvif_rewrite(start_at, end_at) if family == "onvif" else None
            relay = RtspRelay(plan(url, app.config), timeout=15.0, rewrite_request=rewrite)
            fetched = _ffmpeg(relay, username, password, asked, out, pull_id, app)
            with open(out, "rb") as fh:
                data = fh.read()
            if not data or fetched <= 0:
                raise CameraError("no_picture")
            clip = Clip(camera_id=camera_id, commune_id=commune_id, requested_by_id=pull.requested_by_id,
                        started_at=start_at, duration_s=max(1, math.ceil(min(fetched, asked))),
                        status="ready", reencoded=False)
            db.session.add(clip)
            db.session.flush()
            key = clip_key(clip, start_at)
            try:
                app.extensions["camnet.storage"].put(key, data, "video/mp4")
            except StorageError:
                db.session.rollback()
                raise
            clip.object_key, clip.size, clip.sha256 = key, len(data), hashlib.sha256(data).hexdigest()
            db.session.flush()
            db.session.execute(sa.update(RecorderPull).where(RecorderPull.id == pull_id).values(
                status="ready", clip_id=clip.id, seconds_fetched=min(float(asked), fetched),
                finished_at=utc_now(), beat_at=utc_now(), error=None))
            db.session.commit()
            log.info("recorder pull %s ready: %s s, %s bytes", pull_id, round(fetched, 1), len(data))
        except Exception as exc:  # noqa: BLE001 - a fixed label goes to the row
            db.session.rollback()
            if isinstance(exc, CameraError):
                label = exc.label
            elif isinstance(exc, StorageError):
                label = "kho lưu trữ không truy cập được / object store unavailable"
            else:
                label = LABELS["failed"]
                log.exception("recorder pull %s failed", pull_id)
            log.warning("recorder pull %s failed: %s", pull_id, getattr(exc, "reason", None) or exc)
            _set(pull_id, status="failed", error=label, finished_at=utc_now())
        finally:
            if relay is not None:
                relay.close()
            if os.path.exists(out):
                os.unlink(out)
            db.session.remove()


def _ffmpeg(relay: RtspRelay, username, password, asked: int, out: str, pull_id: int, app) -> float:
    """Stream-copy the recorder's playback into ``out``; returns the seconds of video written.
    Progress (``-progress``) goes to the row every ``PROGRESS_EVERY`` seconds."""
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-rtsp_transport", "tcp",
           "-timeout", "15000000", "-i", relay.url(username, password), "-t", str(asked),
           "-map", "0:v:0", "-c", "copy", "-an", "-movflags", "+faststart",
           "-progress", "pipe:1", "-nostats", "-f", "mp4", out]
    limit = asked * RecorderSettings.from_config(app.config).time_factor + 60
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer(limit, proc.kill)
    killer.daemon = True
    killer.start()
    fetched, last = 0.0, 0.0
    try:
        for raw in proc.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                fetched = max(fetched, int(value) / 1e6)
            if key == "progress" and time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                _set(pull_id, seconds_fetched=min(float(asked), fetched), beat_at=utc_now())
        stderr = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code != 0:
        log.warning("recorder pull %s: ffmpeg exit %s: %s", pull_id, code, scrub(stderr.strip()[-500:]))
        if not killer.is_alive() and code < 0:
            raise CameraError("timeout")
        raise CameraError(ffmpeg_error_code(stderr, relay))
    return fetched
