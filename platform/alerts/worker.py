"""The alerts worker (``camnet alerts worker``): dispatch the outbox, deliver what is due, run the
checks every ALERTS_CHECK_SECONDS. Several may run at once (deliveries are claimed with SKIP LOCKED,
one dispatcher holds an advisory lock); a killed one loses nothing (its leases run out).
In embedded mode the same loop runs in a thread of the web process (``start_inprocess``)."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from ..extensions import db
from . import checks, delivery, dispatch

log = logging.getLogger("camnet.alerts")


def worker_name() -> str:
    return f"alerts-{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class AlertsWorker:
    def __init__(self, app, name: str | None = None, checks_on: bool = True):
        self.app = app
        self.name = name or worker_name()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.checks_on = checks_on
        self._next_check = 0.0

    def round(self) -> int:
        """One pass: dispatch, deliver until nothing is due, maybe check. Returns work done."""
        cfg = self.app.config
        work = 0
        with self.app.app_context():
            try:
                work += dispatch.dispatch_pending()
                while not self.stop.is_set():
                    done = delivery.deliver_due(self.name)
                    work += done
                    if done < cfg["ALERTS_BATCH"]:
                        break
                if self.checks_on and time.monotonic() >= self._next_check:
                    self._next_check = time.monotonic() + cfg["ALERTS_CHECK_SECONDS"]
                    checks.run_all()
            finally:
                db.session.remove()
        return work

    def run(self) -> None:
        poll = self.app.config["ALERTS_POLL_SECONDS"]
        log.info("alerts worker %s started", self.name)
        while not self.stop.is_set():
            try:
                work = self.round()
            except Exception:  # noqa: BLE001 - the database away for a moment: try again
                log.exception("alerts round failed")
                work = 0
            if not work:
                self.wake.wait(poll)
                self.wake.clear()
        log.info("alerts worker %s stopped", self.name)


def start_inprocess(app) -> AlertsWorker:
    """Embedded mode: the worker as a daemon thread, woken by every commit that wrote the outbox."""
    from . import events

    worker = AlertsWorker(app, name=worker_name() + "-inproc")
    events.AFTER_COMMIT.append(worker.wake.set)
    thread = threading.Thread(target=worker.run, name="camnet-alerts", daemon=True)
    thread.start()
    app.extensions["camnet.alerts.worker"] = worker
    return worker
