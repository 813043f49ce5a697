"""Camera simulators for tests, the demo and the benchmarks (not part of the camnet application).

* ``camsim.http_camera`` - many HTTP IP cameras (snapshot JPEG / MJPEG) in one threaded server:
  ``HttpCameraSim(port=0).start()``; CLI ``python -m camsim.http_camera --port 8090``.
* ``camsim.rtsp_server`` - GStreamer RTSP server with /cam1../camN; a script for the *system*
  python (``/usr/bin/python3``), never imported from the venv.
* ``camsim.scenes`` - scene files: the cameras an HTTP simulator knows (others get 404) and their
  modes (dark, covered, moved, offline...), read again when the file changes.
* ``camsim.nvr`` - the RTSP server's recorder mode (playback of a time range; loaded by rtsp_server.py).
* ``camsim.timestamp`` - ``encode(frame, t)`` / ``decode(frame) -> t | None``: time burned into frames.
* ``camsim.control`` - ``start_rtsp_sim(port, n)`` runs that script as a subprocess and drives its modes.
* ``camsim.traps`` - hostile cameras for the SSRF tests: ``HostileCamera`` answers HTTP and RTSP with
  a redirect (or HTTP with error text), ``Listener`` records whoever reaches an address that must
  never be reached.

Import the module you need: ``import camsim`` alone loads nothing (the HTTP simulator pulls in
numpy and OpenCV).
"""
