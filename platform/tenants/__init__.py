"""Hierarchy, communes, users, roles, sign-in, scoping and audit."""


def init_app(app) -> None:
    """The API (csrf-exempt: it checks CSRF itself for cookie sessions), the pages, single sign-on,
    two-factor sign-in and the CLI. Scoping and the sign-in itself are core: ``create_app`` installs
    them before any feature."""
    from ..extensions import csrf
    from . import mfa, sso_views
    from .api import bp as api_bp
    from .cli import COMMANDS
    from .views import bp as views_bp

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    sso_views.init_app(app)  # routes, settings, sign-in buttons
    mfa.init_app(app)  # TOTP, recovery codes, passkeys, and the pending-sign-in gate
    for command in COMMANDS:
        app.cli.add_command(command)
