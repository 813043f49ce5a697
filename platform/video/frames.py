"""A capture ``Frame`` from a restream's newest keyframe (init segment + one fragment of MP4).

Decoded in the capture worker, which asks for it instead of opening the camera (``live_frame``):
OpenCV's FFmpeg backend reads the few kilobytes from a temporary file (it reads no memory buffers).
"""
from __future__ import annotations

import os
import tempfile

import cv2

from ..capture.frame import Frame, GrabError
from ..capture.grab import small_from_bgr


def decode_keyframe(data: bytes, quality: int = 80) -> Frame | None:
    fd, path = tempfile.mkstemp(prefix="camnet-live-", suffix=".mp4", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)  # nosec B108 - mkstemp: private file
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        try:
            ok, frame = cap.read()
        finally:
            cap.release()
    finally:
        os.unlink(path)
    if not ok or frame is None:
        return None
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise GrabError("JPEG encode failed")
    h, w = frame.shape[:2]
    return Frame(buf.tobytes(), w, h, small_from_bgr(frame), "live")
