"""Wall-clock time burned into a video frame, and read back from a decoded frame.

    from camsim import timestamp
    timestamp.encode(frame, t)        # frame: numpy array (H x W x 3 BGR, or H x W grey), in place
    timestamp.decode(frame) -> float | None

The pattern is a strip across the top of the picture: 64 blocks, each ``width / 64`` wide and
as high, black (0) or white (1)::

    1 0 | 44 bits: Unix time in milliseconds | 16 bits: CRC-16/CCITT of those 44 bits | 0 1

Blocks of ~10 px at 640 wide survive H.264 at the simulator's QP (and scaling, since positions
are fractions of the width); ``decode`` reads the centre of each block, so a few pixels of ringing
at an edge do not matter, and a frame without a valid strip (wrong markers or CRC) gives None,
never a wrong time. Under the strip the same time is written in digits for people
(``2026-12-03 10:10:05.300 UTC``, a 5x7 pixel font scaled up).

The camera simulator (system python, no numpy) paints the Y plane of I420 buffers through
``encode_plane(data, width, height, t)``; everything here but ``encode``/``decode`` is plain Python for that reason.
"""
from __future__ import annotations

import time

BLOCKS = 64
TIME_BITS = 44
CRC_BITS = 16

# 5x7 glyphs: each a string of 7 rows of 5 bits.
_FONT = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    "-": ("00000", "00000", "00000", "11111", "00000", "00000", "00000"),
    ":": ("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
    " ": ("00000",) * 7,
    "U": ("10001", "10001", "10001", "10001", "10001", "10001", "01110"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "C": ("01110", "10001", "10000", "10000", "10000", "10001", "01110"),
}


def crc16(value: int, bits: int = TIME_BITS) -> int:
    """CRC-16/CCITT (poly 0x1021, init 0xFFFF) over ``bits`` bits of ``value``, high bit first."""
    crc = 0xFFFF
    for i in range(bits - 1, -1, -1):
        top = ((crc >> 15) & 1) ^ ((value >> i) & 1)
        crc = (crc << 1) & 0xFFFF
        if top:
            crc ^= 0x1021
    return crc


def bits_for(t: float) -> list[int]:
    """The 64 block values for time ``t`` (Unix seconds)."""
    ms = int(round(t * 1000)) & ((1 << TIME_BITS) - 1)
    crc = crc16(ms)
    data = [(ms >> i) & 1 for i in range(TIME_BITS - 1, -1, -1)]
    check = [(crc >> i) & 1 for i in range(CRC_BITS - 1, -1, -1)]
    return [1, 0, *data, *check, 0, 1]


def block_edges(width: int) -> list[int]:
    return [i * width // BLOCKS for i in range(BLOCKS + 1)]


def strip_height(width: int) -> int:
    return max(4, width // BLOCKS)


def text_for(t: float) -> str:
    ms = int(round(t * 1000))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + ".%03d UTC" % (ms % 1000)


def rectangles(width: int, height: int, t: float) -> list[tuple[int, int, int, int, int]]:
    """What to paint: (x0, y0, x1, y1, value 0|255) rectangles, strip first, then the digits
    on a black band."""
    edges = block_edges(width)
    sh = strip_height(width)
    rects = [(edges[i], 0, edges[i + 1], sh, 255 if bit else 0) for i, bit in enumerate(bits_for(t))]
    text = text_for(t)
    scale = max(1, width // 320)
    top = sh + scale * 2
    if top + 9 * scale > height:
        return rects
    rects.append((0, sh, min(width, (len(text) * 6 + 2) * scale), top + 9 * scale, 0))
    for n, ch in enumerate(text):
        x0 = (n * 6 + 1) * scale
        for row, line in enumerate(_FONT.get(ch, _FONT[" "])):
            for col, on in enumerate(line):
                if on == "1":
                    x = x0 + col * scale
                    y = top + row * scale
                    if x + scale <= width:
                        rects.append((x, y, x + scale, y + scale, 255))
    return rects


def encode_plane(data, width: int, height: int, t: float, stride: int | None = None) -> None:
    """Paint the pattern into an 8-bit plane (a writable buffer: bytearray, memoryview) of
    ``height`` rows of ``stride`` bytes (default ``width``), e.g. the Y plane at the start of an
    I420 frame. When ``data`` holds a whole I420 frame (``stride`` not given), the chroma under
    the pattern is set to grey, so the blocks are pure black and white after any conversion."""
    stride = stride or width
    for x0, y0, x1, y1, value in rectangles(width, height, t):
        fill = bytes([value]) * (x1 - x0)
        for y in range(y0, min(y1, height)):
            start = y * stride + x0
            data[start:start + (x1 - x0)] = fill
    if stride == width and len(data) >= width * height * 3 // 2 and width % 2 == 0:
        cw, rows = width // 2, (painted_height(width, height) + 1) // 2
        grey = b"\x80" * (cw * rows)
        for base in (width * height, width * height + cw * (height // 2)):
            data[base:base + cw * rows] = grey


def painted_height(width: int, height: int) -> int:
    """Rows the pattern covers (strip and text band): the simulator greys the chroma there."""
    sh = strip_height(width)
    scale = max(1, width // 320)
    full = sh + scale * 2 + 9 * scale
    return full if full <= height else sh


def encode(frame, t: float):
    """Burn time ``t`` (Unix seconds, millisecond resolution) into ``frame`` (numpy, BGR or grey)
    in place; returns the frame."""
    height, width = frame.shape[:2]
    for x0, y0, x1, y1, value in rectangles(width, height, t):
        frame[y0:y1, x0:x1] = value
    return frame


def decode(frame) -> float | None:
    """The time burned into a decoded frame (numpy BGR or grey), or None without a valid pattern."""
    if frame is None or getattr(frame, "ndim", 0) < 2:
        return None
    height, width = frame.shape[:2]
    if width < BLOCKS or height < strip_height(width):
        return None
    edges = block_edges(width)
    y = strip_height(width) // 2
    row = frame[y]
    values = []
    for i in range(BLOCKS):
        x = (edges[i] + edges[i + 1]) // 2
        px = row[x]
        if getattr(px, "ndim", 0):  # BGR: the luma, as the encoder painted it
            level = 0.114 * float(px[0]) + 0.587 * float(px[1]) + 0.299 * float(px[2])
        else:
            level = float(px)
        values.append(1 if level >= 128 else 0)
    if values[:2] != [1, 0] or values[-2:] != [0, 1]:
        return None
    ms = 0
    for bit in values[2:2 + TIME_BITS]:
        ms = (ms << 1) | bit
    crc = 0
    for bit in values[2 + TIME_BITS:2 + TIME_BITS + CRC_BITS]:
        crc = (crc << 1) | bit
    if crc16(ms) != crc:
        return None
    return ms / 1000.0
