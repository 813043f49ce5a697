"""WSGI entry point for gunicorn: ``gunicorn -k gevent camnet.wsgi:app``."""
from . import create_app

app = create_app()
