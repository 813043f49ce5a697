"""Embedded mode: ``camnet serve`` starts the capture worker and the built-in cameras as subprocesses."""
from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys

from camsim.control import RtspSimError, start_rtsp_sim

log = logging.getLogger("camnet.worker")
# The built-in HTTP cameras know only the cameras of this file in the instance folder (the demo
# writes it, camsim.scenes): any other camera name is answered with 404, not a picture.
SCENE_FILE = "camsim-scenes.json"


def _camnet_command() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "camnet")
    if os.path.exists(exe):
        return [exe]
    return [sys.executable, "-c", "import sys; from camnet.cli import main; main()"]


def start_embedded(app) -> list:
    """Start the capture worker as a subprocess of the web server (nothing of the capture path
    runs in the web process), plus the built-in synthetic cameras the demo points at:
    HTTP on 127.0.0.1:8090 and, if GStreamer is installed, RTSP on 127.0.0.1:8554."""
    env = dict(os.environ, PYTHONSAFEPATH="1", CAMNET_INSTANCE=app.config["INSTANCE_DIR"],
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])

    def free(port: int) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) != 0

    started: list = []
    if free(8090):
        started.append(subprocess.Popen([sys.executable, "-m", "camsim.http_camera", "--port", "8090", "--scenes",
                                         os.path.join(app.config["INSTANCE_DIR"], SCENE_FILE)],
                                        env=env, stdout=subprocess.DEVNULL))
    if free(8554):
        try:
            rtsp = start_rtsp_sim(port=8554, n=16)
            started.append(rtsp)
        except (RtspSimError, OSError) as exc:
            log.warning("RTSP simulator not started: %s", exc)
    started.append(subprocess.Popen([*_camnet_command(), "worker", "--embedded"], env=env))

    def stop_all():
        for proc in reversed(started):
            try:
                proc.stop() if hasattr(proc, "stop") else (proc.terminate(), proc.wait(10))
            except Exception:  # noqa: BLE001
                pass

    atexit.register(stop_all)

    def on_term(*_):  # atexit does not run when a signal ends the process
        stop_all()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    print("camnet: capture worker and synthetic cameras started (HTTP :8090, RTSP :8554)", flush=True)
    return started
