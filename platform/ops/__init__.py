"""Running camnet: health and readiness probes, Prometheus metrics, structured logs."""


def init_app(app) -> None:
    """Request metrics and logs (first, so they wrap every feature's routes), the probes and /metrics."""
    from . import health, logs, metrics

    metrics.init_app(app)
    logs.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
