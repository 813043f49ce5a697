"""Many simulated HTTP IP cameras in one threaded server.

Any camera id works (no set-up: 1,000 cameras are just 1,000 ids), unless the simulator is
given a scene file (``camsim.scenes``): then only the cameras it lists, or that a mode request
named, exist, and any other id is answered with 404 "unknown camera"::

    GET  /cam/<id>/snapshot.jpg[?w=640&h=360]   one JPEG of a synthetic street scene
    GET  /cam/<id>/mjpeg[?fps=5&w=..&h=..]      multipart/x-mixed-replace JPEG stream
    GET  /cam/<id>/mode                         current mode (text)
    GET|POST /cam/<id>/mode/<mode>              change that camera's mode
    GET|POST /reset                             every camera back to normal
    GET  /modes                                 JSON {id: mode} of cameras not normal
    GET  /health                                "ok"

Modes:

  normal   street scene (buildings, windows, road, a car that moves, a frame
           counter); successive snapshots of one camera differ.
  dark     (almost) black frames: mean < 1, only a dim counter changes.
  freeze   the same JPEG bytes every time (the frame shown when frozen).
  blur     the normal frames through a strong Gaussian blur (Laplacian
           variance ~1).
  covered  almost uniform dark-grey frames (lens covered).
  moved    a different view: the scene flipped and shifted.
  offline  503 with ``Connection: close``; a running MJPEG stream ends.
  slow     answers after ``slow_delay`` seconds (10 s by default).

Frames are rendered once per (scene, size, mode) and cached as JPEG bytes
(8 frames per camera look; 4 looks picked by a hash of the camera id), so
serving costs almost no CPU.

In-process use (tests)::

    sim = HttpCameraSim(port=0)
    port = sim.start()
    sim.set_mode("cam-17", "dark")
    ...
    sim.stop()

CLI: ``python -m camsim.http_camera --port 8090 [--scenes FILE]`` (prints ``READY port=...``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from camsim.scenes import SceneFile

__all__ = ["HTTP_MODES", "HttpCameraSim", "look_of", "main", "render_frame"]

HTTP_MODES = ("normal", "dark", "freeze", "blur", "offline", "covered", "moved", "slow")
N_FRAMES = 8
N_LOOKS = 4
MIN_SIDE, MAX_SIDE = 16, 3840
BOUNDARY = "camnetframe"


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

def _scene_base(look: int, w: int, h: int) -> np.ndarray:
    """A deterministic street-like picture (BGR uint8) without moving parts."""
    rng = np.random.default_rng(1000 + look)
    img = np.empty((h, w, 3), np.uint8)
    horizon = int(h * (0.45 + 0.05 * (look % 2)))
    # Sky: vertical gradient, tint per look.
    tint = np.array([(235, 200, 160), (220, 210, 190), (200, 180, 150), (240, 215, 180)][look],
                    np.float32)
    ramp = np.linspace(0.75, 1.0, max(horizon, 1), dtype=np.float32)[:, None, None]
    img[:horizon] = (ramp * tint).astype(np.uint8)
    # Road and pavement.
    img[horizon:] = (70, 72, 75)
    pave = horizon + max(2, (h - horizon) // 6)
    img[horizon:pave] = (150, 150, 155)
    # Buildings with windows.
    x = 0
    while x < w:
        bw = int(rng.integers(w // 10, w // 4 + 2))
        bh = int(rng.integers(horizon // 3, max(horizon // 3 + 1, horizon - 5)))
        colour = tuple(int(c) for c in rng.integers(60, 200, 3))
        top = horizon - bh
        cv2.rectangle(img, (x, top), (x + bw, horizon), colour, -1)
        cv2.rectangle(img, (x, top), (x + bw, horizon), (30, 30, 30), 1)
        win = max(3, w // 80)
        for wy in range(top + win, horizon - 2 * win, 3 * win):
            for wx in range(x + win, x + bw - 2 * win, 3 * win):
                lit = rng.random() < 0.35
                cv2.rectangle(img, (wx, wy), (wx + win, wy + win),
                              (120, 220, 250) if lit else (50, 40, 35), -1)
        x += bw + int(rng.integers(0, max(1, w // 40)))
    # Lane markings and kerb.
    cv2.line(img, (0, pave), (w, pave), (220, 220, 220), max(1, h // 120))
    lane_y = pave + (h - pave) // 2
    dash = max(8, w // 16)
    for dx in range(0, w, 2 * dash):
        cv2.line(img, (dx, lane_y), (dx + dash, lane_y), (240, 240, 240), max(1, h // 90))
    # A few poles / trees for vertical edges.
    for _ in range(3):
        px = int(rng.integers(0, w))
        cv2.line(img, (px, horizon - h // 5), (px, pave), (40, 40, 40), max(1, w // 200))
        cv2.circle(img, (px, horizon - h // 5), max(3, w // 40), (40, 110, 40), -1)
    # Texture: fixed noise so the picture has fine detail (high Laplacian variance).
    noise = rng.normal(0, 6, (h, w, 1)).astype(np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _moved(base: np.ndarray) -> np.ndarray:
    """The same scene as if the camera had been knocked: mirrored and shifted."""
    h, w = base.shape[:2]
    flipped = cv2.flip(base, 1)
    m = np.float32([[1, 0, -0.2 * w], [0, 1, 0.12 * h]])
    return cv2.warpAffine(flipped, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def _label(img: np.ndarray, i: int, colour=(255, 255, 255)) -> None:
    h, w = img.shape[:2]
    scale = max(0.3, h / 720)
    text = "SIM %04d  12:00:%02d" % (i, i % 60)
    cv2.putText(img, text, (max(2, w // 60), max(12, int(h * 0.06))),
                cv2.FONT_HERSHEY_SIMPLEX, scale, colour, max(1, int(scale * 2)), cv2.LINE_AA)


def _draw_car(img: np.ndarray, i: int, n: int) -> None:
    h, w = img.shape[:2]
    cw, ch = max(12, w // 7), max(6, h // 12)
    x = int((i / n) * (w + cw)) - cw
    y = int(h * 0.80) - ch
    cv2.rectangle(img, (x, y), (x + cw, y + ch), (40, 40, 190), -1)
    cv2.rectangle(img, (x + cw // 5, y - ch // 2), (x + 4 * cw // 5, y), (60, 60, 200), -1)
    cv2.rectangle(img, (x + cw // 4, y - ch // 2 + 2), (x + 3 * cw // 4, y - 2), (200, 180, 120), -1)
    r = max(2, ch // 3)
    cv2.circle(img, (x + cw // 5, y + ch), r, (20, 20, 20), -1)
    cv2.circle(img, (x + 4 * cw // 5, y + ch), r, (20, 20, 20), -1)


def render_frame(look: int, w: int, h: int, i: int, mode: str = "normal",
                 n: int = N_FRAMES) -> np.ndarray:
    """Frame ``i`` (0..n-1) of camera look ``look`` at w x h in ``mode`` (BGR)."""
    if mode == "dark":
        img = np.zeros((h, w, 3), np.uint8)
        _label(img, i, colour=(12, 12, 12))
        return img
    if mode == "covered":
        rng = np.random.default_rng(i)
        grey = 52 + rng.normal(0, 1.2, (h, w, 1))
        shade = np.linspace(-3, 3, w, dtype=np.float32)[None, :, None] * (1 + i % 3)
        return np.clip(grey + shade, 0, 255).astype(np.uint8).repeat(3, axis=2)
    base = _scene_base(look, w, h)
    if mode == "moved":
        base = _moved(base)
    img = base.copy()
    _draw_car(img, i, n)
    _label(img, i)
    if mode == "blur":
        sigma = max(w, h) / 50.0
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img


class _FrameCache:
    """JPEG bytes per (look, w, h, mode), rendered on first use."""

    def __init__(self, quality: int = 80, n: int = N_FRAMES, max_keys: int = 256):
        self.quality = quality
        self.n = n
        self.max_keys = max_keys
        self._data: dict[tuple, list[bytes]] = {}
        self._lock = threading.Lock()

    def frames(self, look: int, w: int, h: int, mode: str) -> list[bytes]:
        key = (look, w, h, mode)
        frames = self._data.get(key)
        if frames is not None:
            return frames
        with self._lock:
            frames = self._data.get(key)
            if frames is None:
                params = [cv2.IMWRITE_JPEG_QUALITY, self.quality]
                frames = []
                for i in range(self.n):
                    ok, buf = cv2.imencode(".jpg", render_frame(look, w, h, i, mode, self.n),
                                           params)
                    if not ok:  # pragma: no cover - cv2 failure
                        raise RuntimeError("JPEG encoding failed")
                    frames.append(buf.tobytes())
                if len(self._data) >= self.max_keys:
                    self._data.clear()
                self._data[key] = frames
        return frames


# ---------------------------------------------------------------------------
# Camera state
# ---------------------------------------------------------------------------

class _Cam:
    __slots__ = ("look", "mode", "counter", "frozen")

    def __init__(self, look: int):
        self.look = look
        self.mode = "normal"
        self.counter = 0
        self.frozen = 0


def look_of(cam_id: str) -> int:
    """Which of the ``N_LOOKS`` street scenes camera ``cam_id`` shows (``render_frame``'s ``look``)."""
    return hashlib.blake2b(cam_id.encode(), digest_size=2).digest()[0] % N_LOOKS


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, addr, handler, sim: "HttpCameraSim"):
        self.sim = sim
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self):
        with self.conns_lock:
            conns, self.conns = list(self.conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # Clients hanging up mid-response are normal here; stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


def _int_arg(query: dict, name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(query.get(name, [default])[0])
    except (TypeError, ValueError):
        return default
    return max(lo, min(hi, value))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "camnet-sim-camera/1.0"
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections

    server: _Server

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8",
              close: bool = False, extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, code: int, text: str, **kw) -> None:
        self._send(code, (text + "\n").encode(), **kw)

    def do_GET(self):  # noqa: C901 - a small router
        sim = self.server.sim
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        query = urllib.parse.parse_qs(url.query)
        if parts in ([], ["health"]):
            return self._text(200, "ok")
        if parts == ["reset"]:
            sim.reset()
            return self._text(200, "ok")
        if parts == ["modes"]:
            return self._send(200, json.dumps(sim.modes()).encode(), "application/json")
        if len(parts) < 3 or parts[0] != "cam":
            return self._text(404, "not found")
        cam_id, action = parts[1], parts[2]
        if not (action == "mode" and len(parts) == 4) and not sim.knows(cam_id):
            return self._text(404, "unknown camera")
        if action == "mode":
            if len(parts) == 3:
                return self._text(200, sim.mode(cam_id))
            if len(parts) == 4:
                try:
                    sim.set_mode(cam_id, parts[3])
                except ValueError as exc:
                    return self._text(400, str(exc))
                return self._text(200, "ok")
            return self._text(404, "not found")
        if len(parts) != 3:
            return self._text(404, "not found")
        w = _int_arg(query, "w", sim.width, MIN_SIDE, MAX_SIDE)
        h = _int_arg(query, "h", sim.height, MIN_SIDE, MAX_SIDE)
        if action in ("snapshot.jpg", "snapshot", "image.jpg"):
            return self._snapshot(sim, cam_id, w, h)
        if action in ("mjpeg", "video.mjpg", "stream.mjpeg"):
            fps = _int_arg(query, "fps", 0, 0, 60) or sim.fps
            return self._mjpeg(sim, cam_id, w, h, fps)
        return self._text(404, "not found")

    do_POST = do_GET
    do_HEAD = do_GET

    def _snapshot(self, sim: "HttpCameraSim", cam_id: str, w: int, h: int) -> None:
        cam = sim._cam(cam_id)
        if cam.mode == "slow" and sim._stopping.wait(sim.slow_delay):
            return
        if cam.mode == "offline":
            return self._text(503, "camera offline", close=True)
        jpeg, idx = sim._next_jpeg(cam, w, h)
        self._send(200, jpeg, "image/jpeg", extra={"X-Frame-Index": str(idx)})

    def _mjpeg(self, sim: "HttpCameraSim", cam_id: str, w: int, h: int, fps: float) -> None:
        cam = sim._cam(cam_id)
        if cam.mode == "slow" and sim._stopping.wait(sim.slow_delay):
            return
        if cam.mode == "offline":
            return self._text(503, "camera offline", close=True)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=" + BOUNDARY)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        interval = 1.0 / max(0.1, fps)
        while not sim._stopping.is_set():
            if cam.mode == "offline":
                return
            if cam.mode == "slow" and sim._stopping.wait(sim.slow_delay):
                return
            jpeg, _ = sim._next_jpeg(cam, w, h)
            head = ("--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                    % (BOUNDARY, len(jpeg))).encode()
            try:
                self.wfile.write(head + jpeg + b"\r\n")
            except OSError:
                return
            if sim._stopping.wait(interval):
                return


class HttpCameraSim:
    """Threaded HTTP server simulating any number of IP cameras."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, slow_delay: float = 10.0,
                 fps: float = 5.0, width: int = 640, height: int = 360,
                 jpeg_quality: int = 80, frames: int = N_FRAMES, scenes: str | None = None):
        self.host = host
        self.port = port
        self.slow_delay = slow_delay
        self.fps = fps
        self.width = width
        self.height = height
        self._cache = _FrameCache(jpeg_quality, frames)
        self._cams: dict[str, _Cam] = {}
        self._cams_lock = threading.Lock()
        # with a scene file: the cameras it lists, plus those a mode request named
        self._scene = SceneFile(scenes) if scenes else None
        self._scene_cams: set[str] = set()
        self._named: set[str] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> int:
        """Bind, serve in a daemon thread, return the bound port."""
        if self._server is not None:
            return self.port
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="http-camera-sim", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_all_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def serve_forever(self) -> None:
        """Run in the calling thread (CLI)."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> "HttpCameraSim":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        return "http://%s:%d" % (self.host, self.port)

    def snapshot_url(self, cam_id: str) -> str:
        return "%s/cam/%s/snapshot.jpg" % (self.base_url, urllib.parse.quote(str(cam_id), ""))

    def mjpeg_url(self, cam_id: str) -> str:
        return "%s/cam/%s/mjpeg" % (self.base_url, urllib.parse.quote(str(cam_id), ""))

    # -- modes -------------------------------------------------------------
    def _cam(self, cam_id: str) -> _Cam:
        cam_id = str(cam_id)
        cam = self._cams.get(cam_id)
        if cam is None:
            with self._cams_lock:
                cam = self._cams.setdefault(cam_id, _Cam(look_of(cam_id)))
        return cam

    def knows(self, cam_id: str) -> bool:
        """Whether camera ``cam_id`` exists: always without a scene file; with one, if the file
        lists it or a mode request named it."""
        if self._scene is None:
            return True
        self._read_scene()
        cam_id = str(cam_id)
        return cam_id in self._scene_cams or cam_id in self._named

    def _read_scene(self) -> None:
        cameras = self._scene.changed() if self._scene is not None else None
        if cameras is None:
            return
        self._scene_cams = set(cameras)
        for cam_id, mode in cameras.items():
            self._apply_mode(cam_id, mode if mode in HTTP_MODES else "normal")

    def set_mode(self, cam_id: str, mode: str) -> None:
        if mode not in HTTP_MODES:
            raise ValueError("unknown mode %r; one of %s" % (mode, ", ".join(HTTP_MODES)))
        self._named.add(str(cam_id))
        self._apply_mode(cam_id, mode)

    def _apply_mode(self, cam_id: str, mode: str) -> None:
        cam = self._cam(cam_id)
        if mode == "freeze" and cam.mode != "freeze":
            cam.frozen = (cam.counter - 1) % self._cache.n  # the last frame served
        cam.mode = mode

    def mode(self, cam_id: str) -> str:
        cam = self._cams.get(str(cam_id))
        return cam.mode if cam else "normal"

    def modes(self) -> dict[str, str]:
        return {k: c.mode for k, c in list(self._cams.items()) if c.mode != "normal"}

    def reset(self) -> None:
        """Every camera back to normal (a scene file's modes are applied again)."""
        with self._cams_lock:
            self._cams.clear()
            self._named.clear()
        if self._scene is not None:
            self._scene = SceneFile(self._scene.path, self._scene.recheck)

    # -- frames ------------------------------------------------------------
    def _next_jpeg(self, cam: _Cam, w: int, h: int) -> tuple[bytes, int]:
        mode = cam.mode
        if mode == "freeze":
            return self._cache.frames(cam.look, w, h, "normal")[cam.frozen], cam.frozen
        if mode in ("slow", "offline"):
            mode = "normal"
        idx = cam.counter % self._cache.n
        cam.counter = idx + 1
        return self._cache.frames(cam.look, w, h, mode)[idx], idx

    def snapshot(self, cam_id: str, w: int | None = None, h: int | None = None) -> bytes:
        """The JPEG the server would send next (no HTTP; ignores offline/slow)."""
        return self._next_jpeg(self._cam(cam_id), w or self.width, h or self.height)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Simulated HTTP IP cameras (any camera id).")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--slow-delay", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=5.0, help="default MJPEG frame rate")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--quality", type=int, default=80, help="JPEG quality")
    ap.add_argument("--scenes", help="scene file (camsim.scenes): only its cameras exist, others get 404")
    args = ap.parse_args(argv)
    sim = HttpCameraSim(args.port, args.host, slow_delay=args.slow_delay, fps=args.fps,
                        width=args.width, height=args.height, jpeg_quality=args.quality,
                        scenes=args.scenes)
    sim.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *a: stop.set())
    print("READY port=%d" % sim.port, flush=True)
    while not stop.wait(0.5):
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
