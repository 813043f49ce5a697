"""CLI: ``camnet incident verify-archive FILE``, ``release-holds`` and ``seed-categories``."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from ..extensions import db
from ..tenants.scope import system_scope
from . import evidence, services

incident_cli = AppGroup("incident", help="Vụ việc / incidents and their evidence")


@incident_cli.command("verify-archive", help="Kiểm tra gói chứng cứ theo manifest / verify an evidence archive")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print the full result as JSON")
def verify_archive_command(file, as_json):
    with open(file, "rb") as fh:
        result = evidence.verify_archive(fh.read())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        for f in result["files"]:
            click.echo(f"{'OK ' if f['ok'] else 'BAD'} {f['name']}" + (f"  ({f['problem']})" if f.get("problem") else ""))
        for p in result["problems"]:
            click.echo(f"PROBLEM {p}")
        click.echo("VERIFIED: archive matches its manifest" if result["ok"] else "FAILED: archive does not match its manifest")
    sys.exit(0 if result["ok"] else 1)


@incident_cli.command("release-holds", help="Bỏ giữ chứng cứ đã hết hạn / release evidence past its hold period")
def release_holds_command():
    click.echo(f"released {services.release_expired_holds()} evidence item(s)")


@incident_cli.command("seed-categories", help="Thêm các loại vụ việc mặc định còn thiếu / add missing default categories")
def seed_categories_command():
    with system_scope():
        added = services.ensure_default_categories()
    db.session.remove()
    click.echo(f"added {added} categories")


COMMANDS = [incident_cli]
