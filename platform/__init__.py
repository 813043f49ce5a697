"""camnet: multi-tenant platform for community camera networks (camera an ninh cộng đồng)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Build the web app. ``config`` overrides what the environment says."""
    from . import append_only, apispec, cli, coord, errors, i18n, models, settings, storage, transactions
    from .extensions import csrf, db, login_manager, migrate
    from .ops import health as ops_health, logs as ops_logs, metrics as ops_metrics
    from .tenants import auth, scoping

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
    scoping.install(db)
    append_only.install()
    transactions.install(app, db)
    app.extensions["camnet.coord"] = coord.store_for(app.config)
    app.extensions["camnet.storage"] = storage.store_for(app.config)
    auth.init_app(app)
    ops_metrics.init_app(app)
    ops_logs.init_app(app)
    i18n.init_app(app)
    errors.register_error_handlers(app)

    from .api import bp as api_bp
    from .billing_socialization import init_app as billing_init
    from .incidents.api import bp as incidents_api
    from .incidents.views import bp as incidents_views
    from .streams.api import bp as streams_api
    from .streams.views import bp as streams_views
    from .tenants.api import bp as tenants_api
    from .tenants.views import bp as tenants_views

    for bp in (api_bp, tenants_api, streams_api, incidents_api):
        csrf.exempt(bp)  # the API checks CSRF itself for cookie sessions (tenants.auth)
        app.register_blueprint(bp)
    for bp in (tenants_views, streams_views, incidents_views, ops_health.bp, ops_metrics.bp):
        app.register_blueprint(bp)
    billing_init(app)  # funding API (csrf-exempt like the others), pages and the ledger CLI
    cli.register(app.cli)
    _ = apispec, models  # routes describe themselves as declared; models register on import
    return app
