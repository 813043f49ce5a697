"""Camera simulators for tests and the demo.

* ``camnet.sim.http_camera`` - many HTTP IP cameras (snapshot JPEG / MJPEG) in one
  threaded server: ``HttpCameraSim(port=0).start()``; CLI
  ``python -m camnet.sim.http_camera --port 8090``.
* ``camnet.sim.rtsp_server`` - GStreamer RTSP server with /cam1../camN; a script for
  the *system* python (``/usr/bin/python3``), never imported from the venv.
* ``camnet.sim.control`` - ``start_rtsp_sim(port, n)`` runs that script as a
  subprocess and drives its modes.

Names are imported lazily so that ``import camnet.sim`` costs nothing (the HTTP
simulator pulls in numpy and OpenCV).
"""

_LAZY = {
    "HttpCameraSim": "camnet.sim.http_camera",
    "HTTP_MODES": "camnet.sim.http_camera",
    "start_rtsp_sim": "camnet.sim.control",
    "RtspSim": "camnet.sim.control",
    "RtspSimError": "camnet.sim.control",
    "RtspSimUnavailable": "camnet.sim.control",
    "RTSP_MODES": "camnet.sim.control",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
