"""Incidents (vụ việc), their evidence and exports, and their pages."""


def init_app(app) -> None:
    """Evidence settings, the API (csrf-exempt: it checks CSRF itself for cookie sessions), the pages,
    the ``incident`` CLI, and the hooks through which streams asks before it lifts or sweeps media."""
    from .. import settings
    from ..extensions import csrf
    from ..streams import media, retention
    from . import evidence, services
    from .api import bp as api_bp
    from .cli import COMMANDS
    from .models import STATUS_LABELS, STATUSES
    from .views import bp as views_bp

    for key, value in settings.evidence_from_env().items():
        app.config.setdefault(key, value)
    app.extensions[media.HOLD_RELEASE] = services.release_item_hold
    retention.add_hold_check(services.evidence_item_ids)
    retention.add_object_keys(evidence.export_keys)
    retention.add_expired_hold_releaser(services.release_expired_holds)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    app.context_processor(lambda: {"status_labels": STATUS_LABELS, "statuses": STATUSES})
    for command in COMMANDS:
        app.cli.add_command(command)
