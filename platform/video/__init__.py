"""Video: live view through a shared restream (``restream``, ``live``), the live player and the
monitoring wall (``views_live``, ``wall``). A feature above capture and streams: it opens cameras
only through capture's connector, and capture asks it for live frames through a hook registered
here (capture never imports video)."""


def init_app(app) -> None:
    """The live restream hub of this process, its API and pages, and the capture hook."""
    import atexit

    from ..capture import grab
    from ..extensions import csrf
    from . import live, views_playback, views_recorder
    from .restream import Hub
    from .views_live import api_bp, bp

    cfg = live.LiveSettings.from_config(app.config)
    app.extensions[live.SETTINGS_KEY] = cfg
    the_hub = Hub(cfg.idle_seconds, cfg.frame_seconds, live.publisher(app))
    app.extensions[live.HUB_KEY] = the_hub
    atexit.register(the_hub.stop_all)
    live.ACTIVE["app"] = app
    grab.add_live_frame_source(live.live_frame_hook)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(bp)
    views_playback.register(app)  # recording, playback on a timeline, range export
    views_recorder.register(app)  # pulls from the commune's recorders
