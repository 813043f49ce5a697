"""Alerts (cảnh báo): events caught in the transaction that makes them (an outbox), dispatched to the
people allowed to see them, delivered in the app, by e-mail, webhook, Web Push, SMS and Zalo."""


def init_app(app) -> None:
    """Register the outbox listeners, settings, pages, template filters and the CLI; in embedded
    mode, the in-process deliverer."""
    from ..extensions import csrf
    from ..settings import alerts_from_env
    from ..video import segments
    from . import checks, events, models, views
    from .cli import COMMANDS

    for key, value in alerts_from_env().items():
        app.config.setdefault(key, value)
    events.install()
    segments.set_quota_lookup(checks.quota_gb)  # the chairman's page warns before the quota is reached
    csrf.exempt(views.ack_link)  # the signed link is the credential; no session, no form token
    app.register_blueprint(views.bp)
    views.init_filters(app)
    for command in COMMANDS:
        app.cli.add_command(command)
    if _inprocess(app.config):
        _start_lazily(app)
    _ = models


def _inprocess(config) -> bool:
    value = str(config.get("ALERTS_INPROCESS", "auto")).lower()
    if value == "auto":
        return str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite") and not config.get("TESTING")
    return value in ("1", "true", "yes", "on")


def _start_lazily(app) -> None:
    """Start the in-process deliverer at the first request or the first commit that wrote the outbox
    (not at import: ``camnet db upgrade`` builds the app before the tables exist)."""
    import threading

    from . import events
    from .worker import start_inprocess

    lock = threading.Lock()

    def start():
        with lock:
            if "camnet.alerts.worker" not in app.extensions:
                start_inprocess(app).wake.set()

    events.AFTER_COMMIT.append(start)
    app.before_request(start)
