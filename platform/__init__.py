"""camnet: multi-tenant platform for community camera networks (camera an ninh cộng đồng)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Build the web app. ``config`` overrides what the environment says."""
    from . import (alerts, append_only, apispec, billing_socialization, capture, cli, coord, dashboards, errors, formatting,
                   i18n, incidents, models, ops, settings, storage, streams, tenants, transactions, transparency,
                   video, web_security)
    from .api import bp as api_root
    from .extensions import csrf, db, login_manager, migrate
    from .tenants import access, auth, orm_hooks, rls_session

    app = Flask(__name__, instance_relative_config=False)
    app.url_map.converters["int"] = errors.IdConverter  # ids beyond 64 bits never exist: 404
    app.config.update(settings.from_env(instance_path=(config or {}).get("INSTANCE_DIR")))
    app.config["MIGRATIONS_DIR"] = app.config.get("MIGRATIONS_DIR") or MIGRATIONS_DIR
    app.config.update(config or {})
    settings.validate(app.config)
    settings.pool_options(app.config)
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"])
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    orm_hooks.install(db)
    rls_session.install()
    append_only.install()
    transactions.install(app, db)
    app.extensions["camnet.coord"] = coord.store_for(app.config)
    app.extensions["camnet.storage"] = storage.store_for(app.config)
    auth.init_app(app)
    web_security.init_app(app)  # headers, body and JSON limits, same-origin media (after auth)
    ops.init_app(app)  # request metrics and logs wrap every route; probes and /metrics
    i18n.init_app(app)
    formatting.init_app(app)
    errors.register_error_handlers(app)
    apispec.PERMISSION_CHECK[:] = [access.require_any]  # what `operation(perm=...)` checks
    csrf.exempt(api_root)  # the API checks CSRF itself for cookie sessions (tenants.auth)
    app.register_blueprint(api_root)
    cli.register(app.cli)

    tenants.init_app(app)
    streams.init_app(app)
    capture.init_app(app)
    video.init_app(app)  # live restream, player and wall; recording, playback and recorder pulls
    billing_socialization.init_app(app)
    incidents.init_app(app)
    dashboards.init_app(app)
    transparency.init_app(app)
    alerts.init_app(app)
    _ = models  # models register on import
    return app
