"""The ``camnet`` command: Flask's CLI with camnet's commands (``flask --app camnet`` works too)."""
from __future__ import annotations

import os

import click
from flask.cli import FlaskGroup, with_appcontext


@click.command("demo", help="Nạp dữ liệu mẫu / load the demo district (idempotent)")
@with_appcontext
def demo_command():
    from .demo import load_all

    summary = load_all()
    click.echo("Demo loaded: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    from .tenants.demo import DEMO_PASSWORD, USERS

    click.echo(f"Demo users (password {DEMO_PASSWORD}): " + ", ".join(u[0] for u in USERS))


@click.command("serve", help="Chạy máy chủ web / run the web server (gevent)")
@click.option("--host", default=lambda: os.environ.get("CAMNET_HOST", "127.0.0.1"))
@click.option("--port", type=int, default=lambda: int(os.environ.get("CAMNET_PORT", "8000")))
@click.option("--worker/--no-worker", default=True, help="Run the embedded capture worker too")
@with_appcontext
def serve_command(host, port, worker):
    from .serve import serve

    serve(host, port, embedded_worker=worker)


@click.command("web", help="Chạy web sản xuất / production web server (gunicorn + gevent)")
@click.option("--bind", default=lambda: os.environ.get("CAMNET_BIND", "0.0.0.0:8000"))
def web_command(bind):
    import shutil
    import sys

    gunicorn = shutil.which("gunicorn") or os.path.join(os.path.dirname(sys.executable), "gunicorn")
    os.execv(gunicorn, [gunicorn, "-c", "python:camnet.gunicorn_conf", "--bind", bind, "camnet.wsgi:app"])


def register(group) -> None:
    """The core's commands; each feature adds its own in its ``init_app``."""
    for command in (demo_command, serve_command, web_command):
        group.add_command(command)


def main():
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "worker"):
        from gevent import monkey

        monkey.patch_all()
    # The app is found as `flask --app camnet` finds it (its create_app), so this module, which
    # create_app imports for the core's commands, never imports create_app back. The features'
    # commands (registered by their init_app) appear here and under `flask --app camnet`.
    os.environ.setdefault("FLASK_APP", "camnet")
    cli = FlaskGroup(help="camnet: mạng camera an ninh cộng đồng")
    cli.main(prog_name="camnet")
