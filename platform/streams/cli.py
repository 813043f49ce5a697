"""CLI: ``camnet camera import|export``, ``camnet retention sweep``."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..errors import DomainError
from ..tenants.cli import unit_by_code
from ..tenants.scope import system_scope

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


LABELS = (
    ("holds_released", "Chứng cứ hết hạn giữ đã bỏ giữ", "evidence holds released"),
    ("snapshots_deleted", "Ảnh hết hạn đã xóa", "expired snapshots deleted"),
    ("clips_deleted", "Đoạn ghi hình hết hạn đã xóa", "expired clips deleted"),
    ("stuck_clips_failed", "Đoạn ghi hình bị treo, đánh dấu lỗi", "clips stuck recording marked failed"),
    ("objects_scanned", "Đối tượng lưu trữ đã duyệt", "stored objects scanned"),
    ("orphans_deleted", "Đối tượng mồ côi đã xóa", "orphan objects deleted"),
    ("orphans_locked", "Đối tượng mồ côi đang bị giữ pháp lý, bỏ qua", "orphan objects under legal hold, skipped"),
    ("errors", "Lỗi", "errors"),
)


@retention_cli.command("sweep", help="Bỏ giữ chứng cứ hết hạn, xóa dữ liệu hết hạn, đoạn ghi bị treo và đối tượng "
                                     "mồ côi / release expired holds, delete expired media, fail stuck clips, "
                                     "delete orphan objects")
@click.option("--orphan-grace", type=click.IntRange(min=5), default=None, envvar="RETENTION_ORPHAN_GRACE_MINUTES",
              help="Phút: đối tượng không có bản ghi trẻ hơn thế được giữ lại / minutes an object without "
                   "a row is left alone (default 60, or RETENTION_ORPHAN_GRACE_SECONDS)")
@click.option("--skip-orphans", is_flag=True, envvar="RETENTION_SKIP_ORPHANS",
              help="Không duyệt kho đối tượng / do not list the object store")
def retention_sweep(orphan_grace, skip_orphans):
    from datetime import timedelta

    from .retention import sweep

    result = sweep(current_app._get_current_object(), orphans=not skip_orphans,
                   orphan_grace=timedelta(minutes=orphan_grace) if orphan_grace else None)
    counts = result.as_dict()
    for key, vi, en in LABELS:
        click.echo(f"{vi} / {en}: {counts[key]}")
    click.echo(", ".join(f"{k}={v}" for k, v in counts.items()))
    for err in result.errors[:20]:
        click.echo(err, err=True)


COMMANDS = [camera_cli, retention_cli]

