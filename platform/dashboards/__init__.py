"""Dashboards: the pages of the three audiences (police oversight with drill-down, the chairman's
coverage and funding, the sponsor portal) and their API. They read incidents and funding, so they
sit above both."""


def init_app(app) -> None:
    """The API (csrf-exempt: it checks CSRF itself for cookie sessions), the pages, and the hook
    through which a sponsor's funding report counts the cases its cameras helped with."""
    from ..billing_socialization import reports
    from ..extensions import csrf
    from ..incidents.services import incidents_for_cameras
    from .api import bp as api_bp
    from .map import bp as map_bp
    from .views import bp as views_bp

    reports.add_camera_cases(incidents_for_cameras)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    app.register_blueprint(map_bp)  # the offline base map (MAP_PMTILES_PATH)
