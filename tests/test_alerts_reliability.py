"""Nothing lost, nothing doubled, on PostgreSQL: an SMTP server stopped while alerts pile up gets
every one exactly once when it returns; a worker process killed (SIGKILL) in the middle of a webhook
delivery loses nothing, the next worker takes its rows over when their lease runs out."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from camnet.alerts.models import AlertContact, AlertDelivery
from camnet.alerts.worker import AlertsWorker
from camnet.extensions import db
from camnet.incidents.models import Incident, IncidentCategory
from camnet.tenants.scope import system_scope

from .alerts_rig import HttpSink, SmtpSink, alert_config, give_emails, wait_for

pytestmark = pytest.mark.postgres


def _incidents(world, n: int, key: str = "a") -> None:
    with system_scope():
        cat = db.session.execute(select(IncidentCategory.id).where(IncidentCategory.code == "theft")).scalar()
        for i in range(n):
            db.session.add(Incident(commune_id=world.id(key), category_id=cat, title=f"Mất trộm số {i}",
                                    occurred_at=datetime.now(timezone.utc)))
            db.session.commit()  # one transaction per event, as the pages write them


def _count(stmt):
    with system_scope():
        value = db.session.execute(stmt).scalar()
        db.session.rollback()
        return value


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def pg_app(make_app, smtp):
    app = make_app("postgres", alert_config(smtp.port, ALERTS_RETRY_MAX_SECONDS=1.0))
    with app.app_context():
        yield app


def test_smtp_down_for_a_while_gets_every_alert_exactly_once_when_back(pg_app, world, smtp):
    give_emails(world)
    smtp.stop()
    worker = AlertsWorker(pg_app, checks_on=False)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _incidents(world, 15)
        # every e-mail is tried and fails while the server is away (the log says why)
        wait_for(lambda: _count(select(func.count()).select_from(AlertDelivery).where(
            AlertDelivery.channel == "email", AlertDelivery.attempts >= 2)) >= 15 * 3, timeout=120)
        expected = _count(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.channel == "email"))
        assert _count(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.state == "delivered",
                                                                            AlertDelivery.channel == "email")) == 0
        assert "smtp: ConnectionRefusedError" in _count(select(AlertDelivery.last_error).where(
            AlertDelivery.channel == "email").limit(1))
        smtp.start()
        wait_for(lambda: len(set(smtp.message_ids())) >= expected, timeout=120)
        wait_for(lambda: _count(select(func.count()).select_from(AlertDelivery).where(
            AlertDelivery.channel == "email", AlertDelivery.state != "delivered")) == 0, timeout=60)
    finally:
        worker.stop.set()
        worker.wake.set()
        thread.join(30)
    ids = smtp.message_ids()
    assert len(set(ids)) == expected == len(ids)  # every alert, none twice
    # police_dist, police_prov and operator_a per case; the world's own: 2 faults and 9 case mails
    assert expected == 15 * 3 + 11


def _worker_env(app, tmp_path: Path) -> dict:
    cfg = app.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERTS_", "REDIS_", "DATABASE_"))}
    env.update({
        "DATABASE_URL": cfg["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": cfg["SECRET_KEY"],
        "SCOPE_SIGNING_KEY": cfg["SCOPE_SIGNING_KEY"], "CAMERA_SECRET_KEY": cfg["CAMERA_SECRET_KEY"],
        "CAMNET_INSTANCE": str(tmp_path / "worker-instance"), "ALERTS_INPROCESS": "off",
        "ALERTS_ALLOWED_NETWORKS": "127.0.0.0/8", "ALERTS_LEASE_SECONDS": "3", "ALERTS_POLL_SECONDS": "0.1",
        "ALERTS_RETRY_BASE_SECONDS": "0.2", "ALERTS_RETRY_MAX_SECONDS": "1", "ALERTS_BATCH": "5",
        "ALERTS_HTTP_TIMEOUT": "60", "PYTHONSAFEPATH": "1",
    })
    return env


def _start_worker(env) -> subprocess.Popen:
    camnet = str(Path(sys.executable).parent / "camnet")
    return subprocess.Popen([camnet, "alerts", "worker", "--no-checks"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_worker_killed_mid_delivery_loses_nothing(pg_app, world, tmp_path):
    hook = HttpSink().start()
    police = world.users["police_dist"]
    with system_scope():
        db.session.add(AlertContact(user_id=police.id, unit_id=police.unit_id, channel="webhook",
                                    address=hook.url("/hook"), secret="whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTE="))
        db.session.commit()
    _incidents(world, 12, "b")
    hook.hold.set()  # the receiver takes the first webhook and never answers
    env = _worker_env(pg_app, tmp_path)
    first = _start_worker(env)
    try:
        wait_for(hook.holding.is_set, timeout=120)
        first.send_signal(signal.SIGKILL)  # mid-delivery: its claimed rows stay "sending"
        first.wait(30)
        assert _count(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.state == "sending")) >= 1
        hook.hold.clear()
        second = _start_worker(env)
        try:
            expected = _count(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.channel == "webhook"))
            assert expected == 12 + 2  # the twelve cases and the world's two in the district
            wait_for(lambda: _count(select(func.count()).select_from(AlertDelivery).where(
                AlertDelivery.channel == "webhook", AlertDelivery.state == "delivered")) == expected, timeout=120)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
        hook.stop()
    ids = [{k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in hook.requests]
    assert len(set(ids)) == expected  # nothing lost (a receiver deduplicates on webhook-id)
    assert len(ids) == expected        # and here nothing doubled: the killed try never arrived
