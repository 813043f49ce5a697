"""Socialised funding (xã hội hóa): sponsors, household shares, a tamper-evident double-entry ledger, reports."""


def init_app(app) -> None:
    """Register the funding API, pages and CLI."""
    from ..extensions import csrf
    from .api import bp as api_bp
    from .cli import COMMANDS
    from .views import bp as views_bp

    csrf.exempt(api_bp)  # the API checks CSRF itself for cookie sessions (tenants.auth)
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    for command in COMMANDS:
        app.cli.add_command(command)
