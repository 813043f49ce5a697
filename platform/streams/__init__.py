"""Cameras, consent, snapshots, clips, fault tickets and retention (the capture worker: ``camnet.capture``)."""


def init_app(app) -> None:
    """The API (csrf-exempt: it checks CSRF itself for cookie sessions), the pages and the CLI
    (``camera``, ``retention``)."""
    from ..extensions import csrf
    from .api import bp as api_bp
    from .cli import COMMANDS
    from .views import bp as views_bp

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    for command in COMMANDS:
        app.cli.add_command(command)
