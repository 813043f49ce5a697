"""CLI: ``camnet worker``, the capture worker process."""
from __future__ import annotations

import logging
import sys

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker", help="Chạy tiến trình chụp ảnh camera / run a capture worker (gevent)")
@click.option("--name", default=None, help="Worker name (default host-pid)")
@click.option("--embedded", is_flag=True, help="Started by `camnet serve`: stop with the parent")
@with_appcontext
def worker_command(name, embedded):
    # Here, not at the top: every process registers this command, only the worker loads gevent's
    # loops and OpenCV (after ``camnet.cli.main`` monkey-patched the standard library).
    from .worker import Worker

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Many channels of one NVR at once overflow its keep-alive pool: expected, not worth a line each.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    Worker(current_app._get_current_object(), name, embedded).run()
