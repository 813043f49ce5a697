"""CLI: ``camnet incident verify-archive FILE``, ``release-holds`` and ``seed-categories``."""
from __future__ import annotations

import json
import sys

import click

from ..extensions import db
from ..tenants.scoping import system_scope
from .views import bp

incident_cli = bp.cli  # registered with the blueprint as the ``incident`` group


@incident_cli.command("verify-archive", help="Kiểm tra gói chứng cứ theo manifest / verify an evidence archive")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print the full result as JSON")
def verify_archive_command(file, as_json):
    from .evidence import verify_archive

    with open(file, "rb") as fh:
        result = verify_archive(fh.read())
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
    from .services import release_expired_holds

    click.echo(f"released {release_expired_holds()} evidence item(s)")


@incident_cli.command("seed-categories", help="Thêm các loại vụ việc mặc định còn thiếu / add missing default categories")
def seed_categories_command():
    from .services import ensure_default_categories

    with system_scope():
        added = ensure_default_categories()
    db.session.remove()
    click.echo(f"added {added} categories")
