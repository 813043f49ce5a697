"""CLI: ``camnet ledger verify --commune CODE`` and ``camnet ledger balances --commune CODE``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from ..tenants.cli import unit_by_code
from ..tenants.scope import system_scope
from . import ledger

ledger_cli = AppGroup("ledger", help="Sổ cái tài trợ / the funding ledger")


@ledger_cli.command("verify")
@click.option("--commune", "code", required=True, help="Mã xã / commune code")
def verify_command(code):
    """Recompute the commune's hash chain; exit 1 naming the first broken transaction."""
    unit = unit_by_code(code)
    with system_scope():
        result = ledger.verify(unit.id)
        diffs = ledger.check_balances(unit.id)
        db.session.rollback()
    if not result["ok"]:
        b = result["first_broken"]
        click.echo(f"BROKEN at seq {b['seq']} (transaction id {b['id']}): {b['reason']}", err=True)
        raise SystemExit(1)
    if diffs:
        click.echo(f"BALANCE CACHE differs from postings: {diffs[:5]}", err=True)
        raise SystemExit(1)
    click.echo(f"OK {unit.code}: {result['transactions']} transactions, {result['postings']} postings, "
               f"head #{result['head_seq']} {result['head_hash']}")


@ledger_cli.command("head")
@click.option("--commune", "code", required=True)
def head_command(code):
    """Print the chain head (seq and hash), the value reports carry."""
    unit = unit_by_code(code)
    with system_scope():
        seq, digest = ledger.head(unit.id)
        db.session.rollback()
    click.echo(f"{seq}\t{digest}")


COMMANDS = [ledger_cli]
