"""CLI for units, villages, users, grants and tokens (``camnet unit create ...``)."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from pydantic import ValidationError
from sqlalchemy import select

from ..errors import DomainError, NotFoundError, pydantic_errors
from ..extensions import db
from . import services
from .models import AdminUnit, User
from .schemas import GrantIn, TokenIn, UnitIn, UserIn, VillageIn
from .scoping import system_scope

unit_cli = AppGroup("unit", help="Đơn vị hành chính / administrative units")
village_cli = AppGroup("village", help="Thôn, tổ dân phố / villages")
user_cli = AppGroup("user", help="Người dùng và vai trò / users and roles")
token_cli = AppGroup("token", help="Mã truy cập API / API tokens")


def run(fn, *args):
    """Run a service under the system scope and turn domain errors into a clean CLI error."""
    try:
        with system_scope():
            return fn(*args)
    except ValidationError as exc:
        raise click.ClickException(pydantic_errors(exc).message) from None
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


def unit_by_code(code: str) -> AdminUnit:
    with system_scope():
        unit = db.session.execute(select(AdminUnit).where(AdminUnit.code == code)).scalar_one_or_none()
    if unit is None:
        raise click.ClickException(f"--unit: no unit with code {code!r}")
    return unit


def user_by_name(username: str) -> User:
    with system_scope():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"--user: no user {username!r}")
    return user


@unit_cli.command("create")
@click.option("--parent", "parent_code", help="Parent unit code (empty for the root)")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--level", required=True, help="tỉnh, huyện, xã, thị trấn, phường ...")
@click.option("--commune", is_flag=True, help="The unit is a commune (a tenant)")
@click.option("--households", type=int)
@click.option("--population", type=int)
def unit_create(parent_code, code, name, level, commune, households, population):
    parent_id = unit_by_code(parent_code).id if parent_code else None
    unit = run(lambda: services.create_unit(UnitIn(
        parent_id=parent_id, code=code, name=name, level=level, is_commune=commune,
        households=households, population=population)))
    click.echo(f"{unit.id}\t{unit.code}\t{unit.name}")


@unit_cli.command("list")
def unit_list():
    for unit in run(services.list_units):
        click.echo(f"{unit.id}\t{'  ' * unit.depth}{unit.name}\t{unit.code}\t{unit.level}")


@village_cli.command("create")
@click.option("--commune", "commune_code", required=True)
@click.option("--name", required=True)
@click.option("--kind", default="thôn")
@click.option("--households", type=int, default=0)
@click.option("--population", type=int, default=0)
def village_create(commune_code, name, kind, households, population):
    commune = unit_by_code(commune_code)
    village = run(lambda: services.create_village(commune.id, VillageIn(
        name=name, kind=kind, households=households, population=population)))
    click.echo(f"{village.id}\t{village.name}")


@user_cli.command("create")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--unit", "unit_code", required=True)
@click.option("--email")
@click.password_option()
def user_create(username, full_name, unit_code, email, password):
    unit = unit_by_code(unit_code)
    user = run(lambda: services.create_user(UserIn(
        username=username, full_name=full_name, unit_id=unit.id, email=email, password=password)))
    click.echo(f"{user.id}\t{user.username}")


@user_cli.command("grant")
@click.option("--user", "username", required=True)
@click.option("--role", required=True)
@click.option("--unit", "unit_code", required=True)
def user_grant(username, role, unit_code):
    user, unit = user_by_name(username), unit_by_code(unit_code)
    grant = run(lambda: services.grant_role(user.id, GrantIn(role=role, unit_id=unit.id)))
    click.echo(f"{grant.id}\t{username}\t{role}\t{unit.name}")


@token_cli.command("create")
@click.option("--user", "username", required=True)
@click.option("--name", required=True)
def token_create(username, name):
    user = user_by_name(username)
    token, secret = run(lambda: services.create_token(user, TokenIn(name=name)))
    click.echo(secret)


@token_cli.command("list")
@click.option("--user", "username", required=True)
def token_list(username):
    for token in run(services.list_tokens, user_by_name(username)):
        state = "revoked" if token.revoked_at else "active"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.name}\t{state}")


@token_cli.command("revoke")
@click.option("--user", "username", required=True)
@click.option("--id", "token_id", type=int, required=True)
def token_revoke(username, token_id):
    try:
        run(services.revoke_token, user_by_name(username), token_id)
    except NotFoundError:
        raise click.ClickException("--id: no such token") from None
    click.echo("revoked")


COMMANDS = [unit_cli, village_cli, user_cli, token_cli]
