"""WSGI entry point for gunicorn: ``gunicorn -k gevent camnet.wsgi:app``."""
import gc

from . import create_app

app = create_app()

# What import and start-up built (modules, mappers, the app: ~150,000 objects) lives as long as
# the process. Frozen, the collector no longer walks it on each full collection: a full
# collection paused a worker, and every request it was serving, for ~40 ms; now for well under 1.
gc.collect()
gc.freeze()
