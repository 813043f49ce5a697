"""Transparency logs (nhật ký minh bạch): the funding journal, evidence exports and footage access as
append-only Merkle-tree logs per commune with signed checkpoints, proofs, tiles and witnesses."""


def init_app(app) -> None:
    """Register the feeds, the API, the public endpoints and pages, and the CLI."""
    from ..extensions import csrf
    from ..settings import env_int, env_str
    from . import embed, feeds
    from .api import bp as api_bp
    from .cli import COMMANDS
    from .views import bp as views_bp
    from .views import verify_package

    app.config.setdefault("TLOG_SIGNING_KEY", env_str("CAMNET_TLOG_SIGNING_KEY"))
    app.config.setdefault("TLOG_ORIGIN_HOST", env_str("CAMNET_TLOG_ORIGIN_HOST", "camnet.example"))
    app.config.setdefault("TLOG_CHECKPOINT_INTERVAL", env_int("CAMNET_TLOG_CHECKPOINT_INTERVAL", 60))
    app.config.setdefault("TLOG_VERIFY_PER_MINUTE", env_int("CAMNET_TLOG_VERIFY_PER_MINUTE", 10))
    feeds.install()
    embed.install()
    csrf.exempt(api_bp)  # the API checks CSRF itself for cookie sessions (tenants.auth)
    csrf.exempt(verify_package)  # public and sessionless: no cookie for a forged request to ride
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    for command in COMMANDS:
        app.cli.add_command(command)
