"""The embedded server: gevent's WSGI server, plus the capture worker when there is one."""
from __future__ import annotations

import logging

from flask import current_app

log = logging.getLogger("camnet.serve")


def serve(host: str, port: int, embedded_worker: bool = True) -> None:
    from gevent.pywsgi import WSGIServer

    app = current_app._get_current_object()
    if embedded_worker:
        from .capture.embedded import start_embedded

        start_embedded(app)
    print(f"camnet đang chạy / running at http://{host}:{port}/", flush=True)
    WSGIServer((host, port), app, log=None).serve_forever()
