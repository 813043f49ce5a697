"""gunicorn settings for production: gevent workers, JSON logs, sizes from the environment."""
import multiprocessing
import os

bind = os.environ.get("CAMNET_BIND", "0.0.0.0:8000")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, multiprocessing.cpu_count()))))
worker_connections = int(os.environ.get("CAMNET_WORKER_CONNECTIONS", "200"))
timeout = int(os.environ.get("CAMNET_WORKER_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = None  # camnet logs each request itself, as JSON with its request id
errorlog = "-"
max_requests = 20000
max_requests_jitter = 2000


def post_fork(server, worker):
    from camnet.ops.logs import configure

    configure(os.environ.get("CAMNET_LOG_LEVEL", "INFO"))
