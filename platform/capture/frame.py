"""A grabbed picture (``Frame``), the error of a camera that gave none, and a JPEG's size without decoding it.

No OpenCV here: the web process imports ``GrabError`` through the connector (live view)."""
from __future__ import annotations

import struct
from dataclasses import dataclass


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

