"""CLI: ``camnet tlog ...`` (checkpoints, publishing tiles, migrating chains, audit, witnesses) and
``camnet witness ...`` (running a witness with its own key and state folder)."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..tenants.cli import unit_by_code
from ..tenants.scope import system_scope
from . import feeds, keys, services, tiles
from .models import KINDS
from .witness import Witness, http_transport, serve

tlog_cli = AppGroup("tlog", help="Nhật ký minh bạch / transparency logs")
witness_cli = AppGroup("witness", help="Nhân chứng đồng ký checkpoint / a witness cosigning checkpoints")
KIND = click.Choice(KINDS)


def _log(conn, code: str, kind: str):
    return services.get_log(conn, unit_by_code(code).id, kind)


@tlog_cli.command("checkpoint")
@click.option("--commune", "code", help="Mã xã / commune code (default: every log)")
@click.option("--kind", type=KIND)
@click.option("--force", is_flag=True, help="sign now even within TLOG_CHECKPOINT_INTERVAL")
def checkpoint_command(code, kind, force):
    """Sign checkpoints of logs that grew (run it from cron; at most one per interval per log)."""
    with system_scope():
        conn = db.session.connection()
        rows = [(unit_by_code(code).id, kind)] if code and kind else [
            (c, k) for c, k in tiles.all_logs(conn) if (not code or c == unit_by_code(code).id)
            and (not kind or k == kind)]
        for commune_id, k in rows:
            log = services.get_log(conn, commune_id, k)
            cp = services.issue_checkpoint(conn, log, force=force)
            click.echo(f"{log.origin}\t{cp.size if cp else 0}")
        db.session.commit()


@tlog_cli.command("publish")
@click.option("--commune", "code")
@click.option("--kind", type=KIND)
def publish_command(code, kind):
    """Write checkpoints and hash tiles (C2SP tlog-tiles) to the object store."""
    objects = current_app.extensions["camnet.storage"]
    with system_scope():
        conn = db.session.connection()
        for commune_id, k in tiles.all_logs(conn):
            if (code and commune_id != unit_by_code(code).id) or (kind and k != kind):
                continue
            click.echo(json.dumps(tiles.publish(conn, objects, commune_id, k)))
        db.session.commit()


@tlog_cli.command("migrate")
@click.option("--commune", "code", required=True)
def migrate_command(code):
    """Move the commune's existing hash chain into its funding log (checkpoint names the old head)."""
    with system_scope():
        result = feeds.migrate_chain(unit_by_code(code).id)
        db.session.commit()
    click.echo(json.dumps(result))


@tlog_cli.command("audit")
@click.option("--commune", "code", required=True)
@click.option("--kind", type=KIND, default="funding")
def audit_command(code, kind):
    """Re-hash every leaf and recompute the root of the latest checkpoint; exit 1 on any difference."""
    with system_scope():
        conn = db.session.connection()
        result = services.audit(conn, _log(conn, code, kind))
        db.session.rollback()
    click.echo(json.dumps(result))
    if not result["ok"]:
        sys.exit(1)


@tlog_cli.command("key")
@click.option("--commune", "code", required=True)
@click.option("--kind", type=KIND, default="funding")
def key_command(code, kind):
    """Print the log's verifier key (give it to witnesses and verifiers)."""
    with system_scope():
        log = _log(db.session.connection(), code, kind)
        db.session.rollback()
    click.echo(keys.verifier_key(log.origin))


@tlog_cli.command("witness")
@click.option("--commune", "code", required=True)
@click.option("--kind", type=KIND, default="funding")
@click.option("--url", required=True, help="the witness's base URL (POST <url>/add-checkpoint)")
@click.option("--witness-key", required=True, help="the witness's verifier key (name+id+key)")
def cosign_command(code, kind, url, witness_key):
    """Have a witness cosign the latest checkpoint; its cosignature is served with the checkpoint."""
    with system_scope():
        conn = db.session.connection()
        result = services.cosign(conn, _log(conn, code, kind), http_transport(url), witness_key)
        db.session.commit()
    click.echo(json.dumps(result))


@witness_cli.command("init")
@click.option("--dir", "folder", required=True, type=click.Path())
@click.option("--name", required=True, help="tên nhân chứng / witness key name, e.g. witness.congan-huyen.example")
def witness_init(folder, name):
    """Create the witness's key and state; print its verifier key."""
    click.echo(Witness.init(folder, name).verifier_key())


@witness_cli.command("trust")
@click.option("--dir", "folder", required=True, type=click.Path(exists=True))
@click.argument("log_key")
def witness_trust(folder, log_key):
    """Follow a log given its verifier key."""
    click.echo(Witness(folder).trust(log_key))


@witness_cli.command("add-checkpoint")
@click.option("--dir", "folder", required=True, type=click.Path(exists=True))
@click.argument("request_file", type=click.File("r"), default="-")
def witness_add(folder, request_file):
    """Process one add-checkpoint request (C2SP tlog-witness); print the cosignature or exit 1."""
    answer = Witness(folder).add_checkpoint(request_file.read())
    if answer.status != 200:
        click.echo(f"{answer.status} {answer.body}", err=True, nl=False)
        sys.exit(1)
    click.echo(answer.body, nl=False)


@witness_cli.command("serve")
@click.option("--dir", "folder", required=True, type=click.Path(exists=True))
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=7380, type=int)
def witness_serve(folder, host, port):
    """Answer POST /add-checkpoint over HTTP."""
    server = serve(Witness(folder), host, port)
    click.echo(f"witness listening on http://{host}:{server.server_address[1]}")
    server.serve_forever()


COMMANDS = [tlog_cli, witness_cli]
