"""CLI: ``camnet alerts worker``, ``camnet alerts check``, ``camnet alerts dispatch``, ``camnet alerts vapid-key``."""
from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import AppGroup

alerts_cli = AppGroup("alerts", help="Cảnh báo / alerts: worker, checks, keys")


@alerts_cli.command("worker")
@click.option("--no-checks", is_flag=True, help="Only dispatch and deliver (another process runs the checks)")
def worker_command(no_checks):
    """Dispatch the outbox and deliver alerts until stopped (SIGTERM/SIGINT: finish the round, exit)."""
    from .worker import AlertsWorker

    app = current_app._get_current_object()
    worker = AlertsWorker(app, checks_on=not no_checks)

    def stop(*_):
        worker.stop.set()
        worker.wake.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"alerts worker {worker.name}")
    worker.run()


@alerts_cli.command("check")
def check_command():
    """One round of the periodic checks (lost workers, deadlines, overdue money, quota, ledger, escalation)."""
    from .checks import run_all

    click.echo(" ".join(f"{k}={v}" for k, v in run_all().items()))


@alerts_cli.command("dispatch")
def dispatch_command():
    """Dispatch pending outbox events and deliver what is due, once."""
    from .worker import AlertsWorker

    click.echo(f"handled={AlertsWorker(current_app._get_current_object(), checks_on=False).round()}")


@alerts_cli.command("vapid-key")
def vapid_key_command():
    """Print a new VAPID private key (PEM) for ALERTS_VAPID_PRIVATE_KEY."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    click.echo(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode())


COMMANDS = [alerts_cli]
