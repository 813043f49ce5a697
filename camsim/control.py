"""Helpers for tests: run the RTSP camera simulator in a subprocess.

    from camsim.control import start_rtsp_sim, RtspSimUnavailable

    try:
        sim = start_rtsp_sim(port=0, n=2)
    except RtspSimUnavailable as exc:
        pytest.skip(str(exc))
    try:
        url = sim.url(1)                 # rtsp://127.0.0.1:<port>/cam1
        sim.set_mode(1, "dark")          # normal | dark | freeze | blur | offline
    finally:
        sim.stop()

``rtsp_server.py`` needs Debian's python3-gi and GStreamer, so it runs under the
*system* python (``/usr/bin/python3``) with a clean environment (no PYTHONPATH,
PYTHONHOME or VIRTUAL_ENV, venv bin dir dropped from PATH).
"""

from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from pathlib import Path

__all__ = ["RTSP_MODES", "RtspSim", "RtspSimError", "RtspSimUnavailable", "start_rtsp_sim"]

RTSP_MODES = ("normal", "dark", "freeze", "blur", "offline")
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
_READY_RE = re.compile(r"READY port=(\d+) control=(\d+)")
_MISSING_HINT = (
    "install the Debian packages python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 "
    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly "
    "(bash scripts/services/install-system.sh)"
)


class RtspSimError(RuntimeError):
    """The simulator failed to start or to obey a control request."""


class RtspSimUnavailable(RtspSimError):
    """The system python or its GStreamer bindings are not installed."""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP",
                        "PYTHONUSERBASE", "__PYVENV_LAUNCHER__", "CONDA_PREFIX")}
    venv = os.environ.get("VIRTUAL_ENV") or (sys.prefix if sys.prefix != sys.base_prefix else "")
    if venv:
        venv_bin = os.path.join(venv, "bin")
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("GST_DEBUG", "0")
    return env


class RtspSim:
    """A running ``rtsp_server.py`` process."""

    def __init__(self, proc: subprocess.Popen, host: str, port: int, control_port: int,
                 n: int, log_path: str):
        self.proc = proc
        self.host = host
        self.port = port
        self.control_port = control_port
        self.n = n
        self.log_path = log_path

    # -- addresses ---------------------------------------------------------
    def url(self, n: int = 1) -> str:
        return "rtsp://%s:%d/cam%d" % (self.host, self.port, n)

    @property
    def control_url(self) -> str:
        return "http://%s:%d" % (self.host, self.control_port)

    # -- control -----------------------------------------------------------
    def _get(self, path: str, timeout: float = 10.0) -> str:
        try:
            # always our own http://127.0.0.1 control port, never a user-given URL
            with urllib.request.urlopen(self.control_url + path, timeout=timeout) as resp:  # nosec B310
                return resp.read().decode()
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace").strip()
            raise RtspSimError("%s -> HTTP %d: %s" % (path, exc.code, body)) from None
        except OSError as exc:
            raise RtspSimError("control channel %s unreachable: %s%s"
                               % (self.control_url, exc, self._log_tail())) from None

    def set_mode(self, n: int, mode: str) -> None:
        if mode not in RTSP_MODES:
            raise ValueError("unknown mode %r; one of %s" % (mode, ", ".join(RTSP_MODES)))
        self._get("/cam/%d/mode/%s" % (int(n), urllib.parse.quote(mode)))

    def mode(self, n: int) -> str:
        return self._get("/cam/%d/mode" % int(n)).strip()

    def clients(self, n: int) -> dict:
        """{"connected": RTSP clients playing mount n now, "plays": clients that ever played it}."""
        import json

        return json.loads(self._get("/cam/%d/clients" % int(n)))

    def reset(self) -> None:
        for i in range(1, self.n + 1):
            self.set_mode(i, "normal")

    # -- lifecycle ---------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        pump = getattr(self, "_pump", None)
        if pump is not None:
            pump.join(2.0)  # sees EOF now that the process is gone
        if self.proc.stdout and (pump is None or not pump.is_alive()):
            self.proc.stdout.close()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def __enter__(self) -> "RtspSim":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _log_tail(self, limit: int = 2000) -> str:
        try:
            text = Path(self.log_path).read_text(errors="replace")[-limit:].strip()
        except OSError:
            return ""
        return ("\n--- rtsp_server.py stderr ---\n" + text) if text else ""

    def __repr__(self) -> str:
        return "<RtspSim %s:%d control=%d cams=%d pid=%s>" % (
            self.host, self.port, self.control_port, self.n, self.proc.pid)


def start_rtsp_sim(port: int = 8554, n: int = 4, *, control_port: int | None = None,
                   width: int | None = None, height: int | None = None,
                   fps: int | None = None, hd: bool = False, host: str = "127.0.0.1",
                   timestamp: bool = False,
                   python: str = SYSTEM_PYTHON, timeout: float = 20.0) -> RtspSim:
    """Start ``rtsp_server.py`` and wait until it serves.

    ``port=0`` (and ``control_port=0``) picks free ports; read them back from the
    returned object's ``.port`` / ``.control_port``. Raises RtspSimUnavailable
    when the system python or GStreamer's bindings are missing, RtspSimError
    when the server does not come up within ``timeout`` seconds.
    """
    if not os.path.exists(python):
        raise RtspSimUnavailable("%s not found: the RTSP simulator needs the system python; %s"
                                 % (python, _MISSING_HINT))
    cmd = [python, str(SERVER_SCRIPT), "--port", str(port), "--cams", str(n), "--bind", host,
           "--exit-with-parent"]
    if control_port is not None:
        cmd += ["--control-port", str(control_port)]
    if hd:
        cmd.append("--hd")
    if timestamp:
        cmd.append("--timestamp")  # camsim.timestamp: wall-clock time burned into each frame
    if width:
        cmd += ["--width", str(width)]
    if height:
        cmd += ["--height", str(height)]
    if fps:
        cmd += ["--fps", str(fps)]

    fd, log_path = tempfile.mkstemp(prefix="camnet-rtsp-sim-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        # stdin is a pipe we never write to: when this process dies, the server sees EOF
        # and exits (--exit-with-parent), so a crashed test leaves nothing running.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=log, env=_clean_env(), cwd="/", close_fds=True,
                                text=True, bufsize=1)

    ready: dict[str, int] = {}
    got_line = threading.Event()

    def pump() -> None:
        # Read READY, then keep draining stdout so the child never blocks on it.
        assert proc.stdout is not None
        for line in proc.stdout:
            m = _READY_RE.search(line)
            if m and not ready:
                ready["port"], ready["control"] = int(m.group(1)), int(m.group(2))
                got_line.set()
        got_line.set()

    thread = threading.Thread(target=pump, name="rtsp-sim-stdout", daemon=True)
    thread.start()
    sim = RtspSim(proc, host, port, control_port or 0, n, log_path)
    sim._pump = thread
    deadline = time.monotonic() + timeout
    while not got_line.wait(0.05):
        if time.monotonic() > deadline:
            sim.stop()
            raise RtspSimError("rtsp_server.py not ready after %.0fs%s" % (timeout, sim._log_tail()))
    if not ready:
        proc.wait(5)
        tail = sim._log_tail()
        code = proc.returncode
        sim.stop()
        if code == 3 or "MISSING:" in tail:
            raise RtspSimUnavailable("RTSP simulator unavailable: %s%s" % (_MISSING_HINT, tail))
        raise RtspSimError("rtsp_server.py exited with status %s before READY%s" % (code, tail))
    sim.port, sim.control_port = ready["port"], ready["control"]
    _RUNNING.add(sim)
    return sim


_RUNNING: "weakref.WeakSet[RtspSim]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for sim in list(_RUNNING):
        try:
            sim.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
