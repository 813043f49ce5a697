"""Recording: each camera's mode (off, continuous, scheduled hours, on events) and the recorder loop
that runs inside the capture worker (``camnet worker``) for the cameras that worker owns.

Per recording camera one ffmpeg process reads the camera through the capture connector (RTSP
through its relay: the checked, pinned address, no redirect followed) and writes stream-copied
fragmented-MP4 segments of ``RECORDING_SEGMENT_SECONDS`` into a local folder (the segment muxer:
``-c copy -f segment -segment_format_options movflags=frag_keyframe+empty_moov+default_base_moof
-reset_timestamps 1``; its CSV list says when a segment is complete). A complete segment is hashed,
put in the object store under the commune's prefix and indexed (``segments.RecordingSegment``).

On events, every segment first waits in the local folder (the pre-roll buffer); it is uploaded
when it overlaps an event window — ``[event - pre_roll, event end + post_roll]`` for an open fault
ticket of the camera, an incident created at or near the camera (``RECORDING_EVENT_RADIUS_M``), or
an operator's "record now" — and dropped once it is older than the pre-roll with no event.

Wall-clock times: segments are placed by the stream times of ffmpeg's segment list, so consecutive
segments of one run meet exactly; the run is anchored once, when its list is first read, by the
list file's modification time (written the moment a segment closes, at the end time of its last
line). ffmpeg's ``-strftime`` names were not used: they have one-second resolution, and a camera
that sends its first seconds in a burst gets two segments opened in the same second (one
overwrote the other). Absolute precision: the camera's latency plus the file system's clock
resolution, well under a second on loopback.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import or_, select

from ..capture.connector import CameraError, RtspRelay, plan, scrub
from ..clock import to_vn, utc_now
from ..errors import ConflictError, ValidationFailed
from ..extensions import db
from ..incidents.models import Incident, IncidentCamera
from ..streams.media import consent_gate
from ..streams.models import Camera, FaultTicket
from ..tenants import audit
from ..tenants.access import get_scoped
from ..tenants.scope import current_scope, system_scope
from .segments import MODES, RecordingSegment, RecordingSetting, RecordingTrigger, segment_key

log = logging.getLogger("camnet.video.recording")
FFMPEG = os.environ.get("CAMNET_FFMPEG", "ffmpeg")
MAX_WINDOW_LOOKBACK = timedelta(hours=2)


# ---- settings and the operator's button --------------------------------------------------------

def get_setting(camera_id: int) -> RecordingSetting:
    """A camera's recording setting (a transient "off" one when none was saved)."""
    camera = get_scoped(Camera, camera_id, "cameras.read")
    row = db.session.get(RecordingSetting, camera.id)
    return row or RecordingSetting(camera_id=camera.id, commune_id=camera.commune_id, mode="off", hours=None,
                                   pre_roll_s=30, post_roll_s=60)


def _check_hours(hours) -> list[list[int]] | None:
    if hours is None:
        return None
    out = []
    for pair in hours:
        if len(pair) != 2 or not all(isinstance(h, int) and 0 <= h <= 24 for h in pair) or pair[0] == pair[1]:
            raise ValidationFailed("hours: mỗi khoảng là [giờ bắt đầu, giờ kết thúc] từ 0 đến 24 / each range is "
                                   "[from hour, to hour], 0-24, not equal", field="hours")
        out.append([int(pair[0]), int(pair[1])])
    return out


def set_setting(camera_id: int, data) -> RecordingSetting:
    """Save a camera's mode (``cameras.manage``); audited."""
    camera = get_scoped(Camera, camera_id, "cameras.manage")
    if data.mode not in MODES:
        raise ValidationFailed(f"mode: one of {', '.join(MODES)}", field="mode")
    hours = _check_hours(data.hours)
    if data.mode == "scheduled" and not hours:
        raise ValidationFailed("hours: ghi theo giờ cần ít nhất một khoảng giờ / scheduled recording needs hours",
                               field="hours")
    if data.mode != "off" and not (camera.rtsp_main or camera.rtsp_sub):
        raise ValidationFailed("mode: camera không có nguồn RTSP để ghi / the camera has no RTSP stream to record",
                               field="mode")
    row = db.session.get(RecordingSetting, camera.id)
    if row is None:
        row = RecordingSetting(camera_id=camera.id, commune_id=camera.commune_id)
        db.session.add(row)
    row.mode, row.hours = data.mode, hours
    row.pre_roll_s, row.post_roll_s = data.pre_roll_s, data.post_roll_s
    row.updated_at, row.updated_by_id = utc_now(), current_scope().user_id
    audit.record("recording.settings", unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                 detail={"mode": data.mode, "hours": hours, "pre_roll_s": data.pre_roll_s,
                         "post_roll_s": data.post_roll_s})
    db.session.commit()
    return row


def press_record(camera_id: int, seconds: int, reason: str | None) -> RecordingTrigger:
    """The operator's "record now" on a camera recording on events (``media.view``, consent as for
    video); audited. The recorder keeps ``[now - pre_roll, now + seconds + post_roll]``."""
    camera = get_scoped(Camera, camera_id, "media.view")
    consent_gate(camera, "live", reason)
    setting = db.session.get(RecordingSetting, camera.id)
    if setting is None or setting.mode != "events":
        raise ConflictError("mode: camera không ghi theo sự kiện / the camera does not record on events",
                            field="mode")
    now = utc_now()
    trig = RecordingTrigger(camera_id=camera.id, commune_id=camera.commune_id, kind="button", at=now,
                            until=now + timedelta(seconds=seconds), reason=(reason or "").strip() or None,
                            created_by_id=current_scope().user_id)
    db.session.add(trig)
    db.session.flush()
    audit.record("recording.trigger", unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                 reason=trig.reason, detail={"trigger_id": trig.id, "seconds": seconds})
    db.session.commit()
    return trig


# ---- when to record ----------------------------------------------------------------------------

def in_hours(hours, when: datetime) -> bool:
    """Whether VN-local ``when`` falls in one of the [from, to) hour ranges (to < from: past midnight)."""
    hour = to_vn(when).hour + to_vn(when).minute / 60
    for start, end in hours or ():
        if (start <= hour < end) if start < end else (hour >= start or hour < end):
            return True
    return False


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _metres(lat1, lon1, lat2, lon2) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def event_windows(settings: dict[int, RecordingSetting], now: datetime, radius_m: float) -> dict[int, list]:
    """Camera id -> [(start, end)] of the events that keep its video (caller holds system scope)."""
    ids = [cid for cid, s in settings.items() if s.mode == "events"]
    out: dict[int, list] = {cid: [] for cid in ids}
    if not ids:
        return out
    since = now - MAX_WINDOW_LOOKBACK

    def add(cid, start, end):
        s = settings[cid]
        out[cid].append((_aware(start) - timedelta(seconds=s.pre_roll_s), _aware(end) + timedelta(seconds=s.post_roll_s)))

    for t in db.session.execute(select(RecordingTrigger).where(RecordingTrigger.camera_id.in_(ids),
                                                               RecordingTrigger.until >= since)).scalars():
        add(t.camera_id, t.at, t.until)
    for f in db.session.execute(select(FaultTicket).where(
            FaultTicket.camera_id.in_(ids),
            or_(FaultTicket.status == "open", FaultTicket.closed_at >= since))).scalars():
        add(f.camera_id, f.opened_at, f.closed_at or now)
    cams = {c.id: c for c in db.session.execute(select(Camera).where(Camera.id.in_(ids))).scalars()}
    incidents = list(db.session.execute(select(Incident).where(
        Incident.created_at >= since, Incident.commune_id.in_({c.commune_id for c in cams.values()}))).scalars())
    if incidents:
        linked = set(db.session.execute(select(IncidentCamera.incident_id, IncidentCamera.camera_id).where(
            IncidentCamera.incident_id.in_([i.id for i in incidents]))).all())
        for inc in incidents:
            for cid, cam in cams.items():
                near = (inc.latitude is not None and cam.latitude is not None and cam.longitude is not None
                        and inc.longitude is not None
                        and _metres(inc.latitude, inc.longitude, cam.latitude, cam.longitude) <= radius_m)
                if cam.commune_id == inc.commune_id and ((inc.id, cid) in linked or near):
                    add(cid, inc.created_at, inc.created_at)
    return out


# ---- the recorder loop -------------------------------------------------------------------------

@dataclass
class LocalSegment:
    path: Path
    started: datetime
    ended: datetime


@dataclass
class SegmentJob:
    """One ffmpeg segmenter for one camera, and the complete segments it left locally."""

    cam: object
    folder: Path
    seconds: int
    proc: subprocess.Popen | None = None
    relay: RtspRelay | None = None
    run_dir: Path | None = None
    lines: int = 0
    base: tuple[datetime, float] | None = None
    pending: list = field(default_factory=list)
    retry_at: float = 0.0
    progress_at: float = 0.0  # monotonic time of the last segment ffmpeg finished (or its start)

    def start(self, config) -> None:
        self.progress_at = time.monotonic()
        self.relay = RtspRelay(plan(self.cam.rtsp_url, config), timeout=10.0)
        self.run_dir = self.folder / f"run-{int(time.time() * 1000)}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.lines, self.base = 0, None
        cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error",
               "-rtsp_transport", "tcp", "-timeout", "10000000",
               "-i", self.relay.url(self.cam.username, self.cam.password),
               "-map", "0:v:0", "-c", "copy", "-an",
               "-f", "segment", "-segment_format", "mp4",
               "-segment_format_options", "movflags=frag_keyframe+empty_moov+default_base_moof",
               "-segment_time", str(self.seconds), "-reset_timestamps", "1",
               "-segment_list", str(self.run_dir / "list.csv"), "-segment_list_type", "csv",
               str(self.run_dir / "seg-%06d.mp4")]
        with open(self.run_dir / "ffmpeg.log", "wb") as errors:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def collect(self) -> None:
        """Move the segments ffmpeg finished (its CSV list) to ``pending`` with their wall-clock times."""
        if self.run_dir is None:
            return
        listing = self.run_dir / "list.csv"
        try:
            before = listing.stat().st_mtime_ns
        except FileNotFoundError:
            return
        with open(listing, newline="") as fh:
            rows = [r for r in csv.reader(fh) if len(r) >= 3]
        if self.base is None:
            if not rows or listing.stat().st_mtime_ns != before:
                return  # written while read: anchored on the next look
            # the list was last written when its last segment closed: that end is "then"
            self.base = (datetime.fromtimestamp(before / 1e9, timezone.utc), float(rows[-1][2]))
        for name, start, end in (r[:3] for r in rows[self.lines:]):
            path = self.run_dir / name
            start_s, end_s = float(start), float(end)
            wall0, t0 = self.base
            started = wall0 + timedelta(seconds=start_s - t0)
            ended = wall0 + timedelta(seconds=end_s - t0)
            if path.exists() and path.stat().st_size > 0 and ended > started:
                self.pending.append(LocalSegment(path, started, ended))
        if len(rows) > self.lines:
            self.progress_at = time.monotonic()
        self.lines = len(rows)

    def stop(self, wait: float = 8.0) -> None:
        """Ask ffmpeg to finish (SIGINT closes the open segment and writes its list line)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        self.collect()

    def log_tail(self) -> str:
        try:
            return scrub((self.run_dir / "ffmpeg.log").read_text(errors="replace")[-400:])
        except (OSError, TypeError):
            return ""


class Recorder:
    """The recorder loop of a capture worker: ``tick()`` every ``RECORDING_POLL_SECONDS``."""

    def __init__(self, worker):
        self.worker = worker
        self.app = worker.app
        cfg = self.app.config
        self.seconds = max(2, int(cfg.get("RECORDING_SEGMENT_SECONDS") or 60))
        self.poll = float(cfg.get("RECORDING_POLL_SECONDS") or 2.0)
        self.radius = float(cfg.get("RECORDING_EVENT_RADIUS_M") or 300)
        self.root = Path(cfg.get("RECORDING_DIR") or Path(cfg["SPOOL_DIR"]) / "recordings")
        self.jobs: dict[int, SegmentJob] = {}
        self.uploaded = 0
        self.dropped = 0

    def run(self) -> None:
        with self.app.app_context():
            try:
                while not self.worker.stopping.wait(self.poll):
                    try:
                        self.tick()
                    except Exception:  # noqa: BLE001 - the next tick tries again
                        log.exception("recorder tick failed")
                        db.session.rollback()
            finally:
                self.stop_all()

    def _settings(self, owned: list[int]) -> dict[int, RecordingSetting]:
        rows = db.session.execute(select(RecordingSetting).where(RecordingSetting.camera_id.in_(owned),
                                                                 RecordingSetting.mode != "off")).scalars()
        out = {}
        for row in rows:
            db.session.expunge(row)
            out[row.camera_id] = row
        return out

    def tick(self, now: datetime | None = None) -> None:
        worker = self.worker
        now = now or utc_now()
        owned = [cid for cid, cam in worker.cameras.items() if worker.membership.owns(cid) and cam.rtsp_url]
        with system_scope():
            settings = self._settings(owned) if owned else {}
            windows = event_windows(settings, now, self.radius)
            db.session.commit()
        wanted = {cid for cid, s in settings.items()
                  if s.mode in ("continuous", "events") or (s.mode == "scheduled" and in_hours(s.hours, now))}
        for cid in list(self.jobs):
            if cid not in wanted:
                job = self.jobs[cid]
                job.stop()
                self._ship(job, settings.get(cid), windows.get(cid, []), now, final=True)
                self._forget(cid)
        for cid in wanted:
            job = self.jobs.get(cid)
            cam = worker.cameras[cid]
            if job is None:
                job = self.jobs[cid] = SegmentJob(cam, self.root / str(cid), self.seconds)
            if job.cam.rtsp_url != cam.rtsp_url:  # the address changed: a new run
                job.stop()
                job.proc = None
                job.cam = cam
            if job.running and time.monotonic() - job.progress_at > 3 * self.seconds + 20:
                # a stream that stalls without closing keeps ffmpeg waiting: start it again
                log.warning("recorder: camera %s wrote no segment for %.0f s: restarting", cid,
                            time.monotonic() - job.progress_at)
                job.stop(wait=2.0)
            if not job.running:
                if job.proc is not None:
                    job.collect()
                    log.warning("recorder: camera %s ffmpeg ended (%s): %s", cid, job.proc.returncode, job.log_tail())
                    if job.relay is not None:
                        job.relay.close()
                    job.proc, job.relay = None, None
                    job.retry_at = time.monotonic() + 5
                if time.monotonic() >= job.retry_at:
                    try:
                        job.start(self.app.config)
                    except CameraError as exc:
                        log.warning("recorder: camera %s cannot be recorded: %s", cid, exc.reason or exc)
                        job.retry_at = time.monotonic() + 30
            job.collect()
            self._ship(job, settings[cid], windows.get(cid, []), now)

    def _ship(self, job: SegmentJob, setting, windows: list, now: datetime, final: bool = False) -> None:
        keep = []
        for seg in job.pending:
            if setting is None or setting.mode != "events" or any(
                    seg.started < end and start < seg.ended for start, end in windows):
                try:
                    self.upload(job.cam, seg)
                except Exception:  # noqa: BLE001 - kept locally, tried again next tick
                    log.exception("recorder: upload of %s failed", seg.path)
                    keep.append(seg)
                    continue
            elif not final and seg.ended >= now - timedelta(seconds=setting.pre_roll_s + self.seconds):
                keep.append(seg)  # the pre-roll buffer: an event may still claim it
                continue
            else:
                self.dropped += 1
            seg.path.unlink(missing_ok=True)
        job.pending = keep

    def upload(self, cam, seg: LocalSegment) -> RecordingSegment:
        """Hash, store and index one complete segment (the object is removed if the row cannot be written)."""
        data = seg.path.read_bytes()
        key = segment_key(cam.commune_id, cam.id, seg.started, self.worker.name)
        store = self.worker.store
        store.put(key, data, "video/mp4")
        try:
            with system_scope():
                row = RecordingSegment(camera_id=cam.id, commune_id=cam.commune_id, started_at=seg.started,
                                       ended_at=seg.ended, object_key=key, size=len(data),
                                       sha256=hashlib.sha256(data).hexdigest(), worker=self.worker.name)
                db.session.add(row)
                db.session.commit()
                db.session.expunge(row)
        except Exception:
            db.session.rollback()
            store.delete(key)
            raise
        self.uploaded += 1
        seg.path.unlink(missing_ok=True)
        return row

    def _forget(self, cid: int) -> None:
        job = self.jobs.pop(cid)
        if job.run_dir is not None:
            shutil.rmtree(job.folder, ignore_errors=True)

    def stop_all(self) -> None:
        now = utc_now()
        for cid, job in list(self.jobs.items()):
            try:
                job.stop()
                # at shutdown a continuous/scheduled camera's last segment is kept; events decide as usual
                with system_scope():
                    setting = db.session.get(RecordingSetting, cid)
                    windows = event_windows({cid: setting}, now, self.radius) if setting else {}
                    if setting is not None:
                        db.session.expunge(setting)
                    db.session.commit()
                self._ship(job, setting, windows.get(cid, []), now, final=True)
            except Exception:  # noqa: BLE001
                log.exception("recorder: stopping camera %s failed", cid)


def recorder_loop(worker):
    """The capture worker's hook (``capture.worker.add_loop``): the recorder's run method."""
    recorder = Recorder(worker)
    worker.recorder = recorder
    return recorder.run
