"""Capture: the worker that takes snapshots and records clips, the one checked way to open a camera
(``connector``), and the live view. A feature beside ``streams``: it reads streams' cameras, and
streams never imports it."""


def init_app(app) -> None:
    """The live-view API (csrf-exempt: the API checks CSRF itself for cookie sessions) and ``camnet worker``."""
    from ..extensions import csrf
    from .api import bp as api_bp
    from .cli import worker_command

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(worker_command)
