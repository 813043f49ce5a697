"""Grabbing one frame from a camera: its JPEG snapshot URL, an MJPEG stream, or a decoded RTSP frame.

The HTTP paths are plain sockets (cooperative under gevent). The RTSP path calls OpenCV's
FFmpeg backend, which blocks the whole process, so callers run it in a thread pool. Every
function here takes a ``connector.Plan`` (a checked, pinned address), never a URL.
"""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np
import urllib3

from .connector import LABELS, CameraError, RtspRelay, open_http, plan, read_errors
from .frame import Frame, GrabError, jpeg_size

log = logging.getLogger("camnet.capture")

# Read by OpenCV's FFmpeg backend at each open: 0.32 s instead of 2 s for one 720p frame.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS",
                      "rtsp_transport;tcp|analyzeduration;100000|probesize;100000")
# Without this OpenCV holds one process-wide lock for the whole of every open (the RTSP handshake
# and the wait for a key frame, ~0.3 s; up to the open timeout on a stalled camera), so the
# thread pool opened one camera at a time: ~4 RTSP snapshots/s at most per worker, and one
# stalled camera stopped every other RTSP capture for 8 s. The FFmpeg OpenCV ships (>= 5) opens
# inputs and codecs thread-safely; OpenCV then takes no lock.
os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")

MAX_JPEG_BYTES = 8 * 1024 * 1024

# Higher features that hold a camera's stream open (video's live restream) register here in their
# init_app: ``source(camera_id, max_age) -> Frame | None`` answers "a frame of this camera newer
# than max_age seconds?", so a scheduled RTSP snapshot of a camera being watched needs no second
# connection to it. Blocking (it may decode): called through ``run_blocking``.
LIVE_FRAME_SOURCES: list = []
LIVE_FRAME_MAX_AGE = 10.0


def add_live_frame_source(source) -> None:
    if source not in LIVE_FRAME_SOURCES:  # an app built twice in one process registers once
        LIVE_FRAME_SOURCES.append(source)


def small_from_jpeg(data: bytes):
    """A 1/4-scale grayscale decode: about a sixteenth of the work of a full decode."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None:
        raise GrabError("JPEG could not be decoded")
    return img


def small_from_bgr(frame):
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape[:2]
    return cv2.resize(gray, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)


class HttpGrabber:
    """Snapshot and MJPEG over one pooled urllib3 manager (connect/read timeouts, no retries).

    Takes ``connector.Plan`` values, never URLs: each request goes to the checked address."""

    def __init__(self, timeout: float = 5.0, pool_size: int = 64):
        self.timeout = urllib3.Timeout(connect=min(timeout, 3.0), read=timeout)
        # One host may be an NVR serving many channels: keep as many connections to it alive as
        # captures run at once (fewer made every capture beyond them open and drop a connection).
        # Pools are keyed by the checked address (and the TLS name), so pinning keeps them.
        self.http = urllib3.PoolManager(num_pools=256, maxsize=pool_size, block=False,
                                        retries=False, timeout=self.timeout)
        self.pool_size = pool_size

    def snapshot(self, target, username=None, password=None) -> bytes:
        resp = open_http(self.http, target, username, password)
        try:
            with read_errors(target):
                data = resp.read(MAX_JPEG_BYTES + 1)
            if len(data) > MAX_JPEG_BYTES:
                raise GrabError("snapshot too large")
            return data
        finally:
            resp.release_conn()

    def mjpeg_frame(self, target, username=None, password=None) -> bytes:
        """The first complete JPEG of a multipart/x-mixed-replace stream."""
        resp = open_http(self.http, target, username, password)
        try:
            buf = b""
            with read_errors(target):
                while len(buf) < MAX_JPEG_BYTES:
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    buf += chunk
                    start = buf.find(b"\xff\xd8")
                    end = buf.find(b"\xff\xd9", start + 2) if start >= 0 else -1
                    if start >= 0 and end >= 0:
                        return buf[start:end + 2]
            raise GrabError("MJPEG stream ended before a frame")
        finally:
            resp.close()  # a stream never ends: drop the socket rather than drain it
            resp.release_conn()


def rtsp_frame(target, username=None, password=None, timeout: float = 8.0, quality: int = 80) -> Frame:
    """Open (through a relay pinned to the checked address), decode one frame, encode JPEG,
    release. Blocking: call it from a thread pool."""
    with RtspRelay(target, timeout) as relay:
        try:
            frame = _read_one(relay.url(username, password), int(timeout * 1000))
        except GrabError:
            raise relay.error() from None
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise GrabError("JPEG encode failed")
    h, w = frame.shape[:2]
    return Frame(buf.tobytes(), w, h, small_from_bgr(frame), "rtsp")


def _read_one(url: str, ms: int, attempts: int = 2):
    """One decoded frame; a second try when a session opened but gave nothing (a stream
    restarting, an NVR channel waking up)."""
    for _ in range(attempts):
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG,
                               [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        try:
            if not cap.isOpened():
                raise GrabError("stream could not be opened")
            ok, frame = cap.read()
        finally:
            cap.release()
        if ok and frame is not None:
            return frame
    raise GrabError("no frame from stream")


def grab_frame(cam, http: HttpGrabber, run_blocking, rtsp_timeout: float, config=None) -> Frame:
    """The first of ``cam.sources`` that answers, cheapest first. ``run_blocking`` runs a call in a thread.

    Each source is opened through ``connector.plan`` (parsed, resolved and checked once, right
    now; the connection goes to that address). The error kept per source is a fixed label:
    what the camera answered goes to the log only."""
    errors = []
    if LIVE_FRAME_SOURCES and any(kind == "rtsp" for kind, _ in cam.sources):
        for source in LIVE_FRAME_SOURCES:
            try:
                frame = run_blocking(source, cam.id, LIVE_FRAME_MAX_AGE)
            except Exception as exc:  # noqa: BLE001 - no live frame: open the camera as usual
                log.info("camera %s: live frame unavailable: %s", cam.id, str(exc)[:200])
                frame = None
            if frame is not None:
                return frame
    for kind, url in cam.sources:
        try:
            target = plan(url, config)
            if kind == "rtsp":
                return run_blocking(rtsp_frame, target, cam.username, cam.password, rtsp_timeout)
            data = (http.snapshot if kind == "snapshot" else http.mjpeg_frame)(target, cam.username, cam.password)
            width, height = jpeg_size(data)
            # A 1/4-scale decode takes about half a millisecond: cheaper inline than a thread hop.
            return Frame(data, width, height, small_from_jpeg(data), kind)
        except CameraError as exc:
            errors.append(f"{kind}: {exc.label}")
        except GrabError as exc:  # our own words about the picture ("not a JPEG")
            errors.append(f"{kind}: {str(exc)[:160]}")
        except Exception as exc:  # noqa: BLE001 - every failure means "try the next source"
            log.warning("camera %s %s: %s", cam.id, kind, str(exc)[:300])
            errors.append(f"{kind}: {LABELS['failed']}")
    raise GrabError("; ".join(errors) or "no source configured")
