"""CLI: ``camnet camera import --commune CODE file.csv``, ``camnet camera export``, ``camnet retention sweep``."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..errors import DomainError
from ..tenants.cli import unit_by_code
from ..tenants.scoping import system_scope

camera_cli = AppGroup("camera", help="Camera: nhập/xuất CSV / cameras: CSV import and export")
retention_cli = AppGroup("retention", help="Lưu trữ: xóa dữ liệu hết hạn / retention")


@camera_cli.command("import")
@click.option("--commune", "commune_code", required=True, help="Commune code")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def camera_import(commune_code, path):
    from . import importer

    commune = unit_by_code(commune_code)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        with system_scope():
            result = importer.import_csv(commune.id, importer.decode(raw))
    except DomainError as exc:
        for err in exc.errors:
            click.echo(f"line {err['line']}: {err['field']}: {err['reason']}", err=True)
        raise click.ClickException(exc.message) from None
    click.echo("created={created} updated={updated} unchanged={unchanged}".format(**result.as_dict()))


@camera_cli.command("export")
@click.option("--commune", "commune_code", required=True)
def camera_export(commune_code):
    from . import importer

    commune = unit_by_code(commune_code)
    with system_scope():
        click.echo(importer.export_csv(commune.id), nl=False)


@retention_cli.command("sweep")
def retention_sweep():
    from .retention import sweep

    result = sweep(current_app._get_current_object())
    click.echo(", ".join(f"{k}={v}" for k, v in result.as_dict().items()))
    for err in result.errors[:20]:
        click.echo(err, err=True)


COMMANDS = [camera_cli, retention_cli]
