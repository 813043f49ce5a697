"""Prometheus metrics at /metrics: HTTP traffic of this process, and platform state read from the
database at scrape time (so every web replica reports the same, whatever process did the work)."""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

bp = Blueprint("metrics", __name__)


class DatabaseCollector:
    """Cameras online, snapshots and capture lag per commune, open faults, ledger postings."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        """The figures, or none when the database cannot give them (unreachable, not migrated):
        ``camnet_database_up`` says which, and /metrics still answers."""
        from sqlalchemy.exc import SQLAlchemyError

        up = GaugeMetricFamily("camnet_database_up",
                               "1 when the platform's figures were read from the database, 0 when it failed "
                               "(unreachable, or not migrated: see /readyz)")
        try:
            families = list(self._collect())
        except SQLAlchemyError as exc:
            from ..extensions import db

            with self.app.app_context():
                db.session.rollback()
            self.app.logger.warning("metrics: database figures unavailable: %s", type(exc).__name__)
            families = []
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _collect(self):
        from datetime import timedelta

        from sqlalchemy import func, select

        from ..clock import utc_now
        from ..extensions import db
        from ..streams.models import Camera, FaultTicket, Snapshot
        from ..tenants.models import AdminUnit
        from ..tenants.scope import system_scope

        online = GaugeMetricFamily("camnet_cameras", "Cameras by commune and status", labels=["commune", "status"])
        lag = GaugeMetricFamily("camnet_capture_lag_seconds", "Seconds since the newest snapshot of the commune",
                                labels=["commune"])
        faults = GaugeMetricFamily("camnet_open_faults", "Open fault tickets", labels=["commune"])
        snaps = GaugeMetricFamily("camnet_snapshots_last_hour", "Snapshots stored in the last hour",
                                  labels=["commune"])
        with self.app.app_context(), system_scope():
            codes = dict(db.session.execute(select(AdminUnit.id, AdminUnit.code).where(AdminUnit.is_commune)).all())
            for commune_id, status, count in db.session.execute(
                    select(Camera.commune_id, Camera.status, func.count()).group_by(Camera.commune_id, Camera.status)):
                online.add_metric([codes.get(commune_id, str(commune_id)), status], count)
            now = time.time()
            for commune_id, newest in db.session.execute(
                    select(Camera.commune_id, func.max(Camera.last_snapshot_at)).group_by(Camera.commune_id)):
                if newest is not None:
                    lag.add_metric([codes.get(commune_id, str(commune_id))], max(0.0, now - newest.timestamp()))
            for commune_id, count in db.session.execute(
                    select(FaultTicket.commune_id, func.count()).where(FaultTicket.status == "open")
                    .group_by(FaultTicket.commune_id)):
                faults.add_metric([codes.get(commune_id, str(commune_id))], count)
            since = utc_now() - timedelta(hours=1)
            # one range of the (commune_id, taken_at) index per commune: the cost follows the last
            # hour's rows, not the whole table (a GROUP BY scanned all 10 M rows of a province)
            recent = (select(func.count()).select_from(Snapshot)
                      .where(Snapshot.commune_id == AdminUnit.id, Snapshot.taken_at >= since)
                      .correlate(AdminUnit).scalar_subquery())
            for commune_id, count in db.session.execute(select(AdminUnit.id, recent).where(AdminUnit.is_commune)):
                if count:
                    snaps.add_metric([codes.get(commune_id, str(commune_id))], count)
            yield from (online, lag, faults, snaps)
            yield from self._ledger(db, codes)
            db.session.rollback()

    def _ledger(self, db, codes):
        from sqlalchemy import func, select

        from ..billing_socialization.models import Posting

        postings = GaugeMetricFamily("camnet_ledger_postings", "Ledger postings per commune", labels=["commune"])
        for commune_id, count in db.session.execute(
                select(Posting.commune_id, func.count()).group_by(Posting.commune_id)):
            postings.add_metric([codes.get(commune_id, str(commune_id))], count)
        yield postings


def init_app(app) -> None:
    registry = CollectorRegistry()
    requests = Counter("camnet_http_requests_total", "HTTP requests", ["method", "endpoint", "status"],
                       registry=registry)
    latency = Histogram("camnet_http_request_seconds", "HTTP request latency", ["endpoint"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5))
    registry.register(DatabaseCollector(app))
    app.extensions["camnet.metrics"] = registry

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("request_started")
        endpoint = request.endpoint or "unmatched"
        if started is not None:
            latency.labels(endpoint).observe(time.perf_counter() - started)
        requests.labels(request.method, endpoint, str(response.status_code)).inc()
        return response


@bp.route("/metrics")
def metrics():
    registry = current_app.extensions["camnet.metrics"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
