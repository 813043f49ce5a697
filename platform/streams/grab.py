"""Grabbing one frame from a camera: its JPEG snapshot URL, an MJPEG stream, or a decoded RTSP frame.

The HTTP paths are plain sockets (cooperative under gevent). The RTSP path calls OpenCV's
FFmpeg backend, which blocks the whole process, so callers run it in a thread pool.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

# Read by OpenCV's FFmpeg backend at each open: 0.32 s instead of 2 s for one 720p frame.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS",
                      "rtsp_transport;tcp|analyzeduration;100000|probesize;100000")

MAX_JPEG_BYTES = 8 * 1024 * 1024


class GrabError(RuntimeError):
    """The camera did not answer with a picture (the health rule "unreachable")."""


@dataclass
class Frame:
    jpeg: bytes
    width: int
    height: int
    small: object = None  # grayscale, about 1/4 size, for the health rules (numpy array)
    source: str = "snapshot"  # snapshot | mjpeg | rtsp


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's SOF marker, without decoding the picture."""
    if data[:2] != b"\xff\xd8":
        raise GrabError("not a JPEG")
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise GrabError("JPEG without a frame header")


def small_from_jpeg(data: bytes):
    """A 1/4-scale grayscale decode: about a sixteenth of the work of a full decode."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None:
        raise GrabError("JPEG could not be decoded")
    return img


def small_from_bgr(frame):
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape[:2]
    return cv2.resize(gray, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Put user and password into an RTSP URL (OpenCV/FFmpeg take them only there)."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(username, safe='')}:{quote(password or '', safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class HttpGrabber:
    """Snapshot and MJPEG over one pooled urllib3 manager (connect/read timeouts, no retries)."""

    def __init__(self, timeout: float = 5.0, pool_size: int = 64):
        import urllib3

        self.timeout = urllib3.Timeout(connect=min(timeout, 3.0), read=timeout)
        # One host may be an NVR serving many channels: keep as many connections to it alive as
        # captures run at once (fewer made every capture beyond them open and drop a connection).
        self.http = urllib3.PoolManager(num_pools=256, maxsize=pool_size, block=False,
                                        retries=False, timeout=self.timeout)
        self.pool_size = pool_size

    def _headers(self, username, password):
        import urllib3

        if username:
            return urllib3.make_headers(basic_auth=f"{username}:{password or ''}")
        return {}

    def snapshot(self, url: str, username=None, password=None) -> bytes:
        import urllib3

        try:
            resp = self.http.request("GET", url, headers=self._headers(username, password),
                                     preload_content=False, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise GrabError(f"{type(exc).__name__}: {exc}") from None
        try:
            if resp.status != 200:
                raise GrabError(f"HTTP {resp.status}")
            data = resp.read(MAX_JPEG_BYTES + 1)
            if len(data) > MAX_JPEG_BYTES:
                raise GrabError("snapshot too large")
            return data
        except urllib3.exceptions.HTTPError as exc:
            raise GrabError(f"{type(exc).__name__}: {exc}") from None
        finally:
            resp.release_conn()

    def mjpeg_frame(self, url: str, username=None, password=None) -> bytes:
        """The first complete JPEG of a multipart/x-mixed-replace stream."""
        import urllib3

        try:
            resp = self.http.request("GET", url, headers=self._headers(username, password),
                                     preload_content=False, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise GrabError(f"{type(exc).__name__}: {exc}") from None
        try:
            if resp.status != 200:
                raise GrabError(f"HTTP {resp.status}")
            buf = b""
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
        except urllib3.exceptions.HTTPError as exc:
            raise GrabError(f"{type(exc).__name__}: {exc}") from None
        finally:
            resp.close()  # a stream never ends: drop the socket rather than drain it


def rtsp_frame(url: str, timeout: float = 8.0, quality: int = 80) -> Frame:
    """Open, decode one frame, encode JPEG, release. Blocking: call it from a thread pool."""
    import cv2

    frame = _read_one(url, int(timeout * 1000), cv2)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise GrabError("JPEG encode failed")
    h, w = frame.shape[:2]
    return Frame(buf.tobytes(), w, h, small_from_bgr(frame), "rtsp")


def _read_one(url: str, ms: int, cv2, attempts: int = 2):
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


def strip_credentials(url: str) -> str:
    """The URL with any user:password removed (for logs and error messages)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, ""))
