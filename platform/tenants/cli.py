"""CLI for units, villages, users, grants and tokens (``camnet unit create ...``)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from pydantic import ValidationError
from sqlalchemy import select

from ..errors import DomainError, NotFoundError, pydantic_errors
from ..extensions import db
from . import services
from .models import AdminUnit, User
from .schemas import GrantIn, TokenIn, UnitIn, UserIn, VillageIn
from .scope import system_scope
from .sso import ProviderIn, create_provider, list_providers, set_enabled

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


sso_cli = AppGroup("sso", help="Đăng nhập một lần (OpenID Connect) / single sign-on providers per province")


def parse_rule(text: str, province: AdminUnit) -> dict:
    """``CLAIM=VALUE:ROLE@UNIT``: UNIT is a unit code, or a path of codes from the province
    (``THANHHOA/HUYEN1/XA2`` or ``HUYEN1/XA2``). Example: ``groups=congan-tinh:police@THANHHOA``."""
    try:
        head, unit_ref = text.rsplit("@", 1)
        claim_value, role = head.rsplit(":", 1)
        claim, value = claim_value.split("=", 1)
    except ValueError:
        raise click.ClickException(f"--rule {text!r}: expected CLAIM=VALUE:ROLE@UNIT") from None
    if "/" in unit_ref:
        unit, codes = province, [c for c in unit_ref.split("/") if c]
        for code in codes[1:] if codes and codes[0] == province.code else codes:
            with system_scope():
                unit = db.session.execute(select(AdminUnit).where(
                    AdminUnit.parent_id == unit.id, AdminUnit.code == code)).scalar_one_or_none()
            if unit is None:
                raise click.ClickException(f"--rule {text!r}: no unit {code!r} on the path below {province.code}")
    else:
        unit = unit_by_code(unit_ref)
    return {"claim": claim.strip(), "value": value.strip(), "role": role.strip(), "unit_id": unit.id}


@sso_cli.command("add")
@click.option("--province", "province_code", required=True, help="Code of the province unit")
@click.option("--name", required=True, help="Tên hiển thị / display name, e.g. 'Cổng định danh tỉnh Thanh Hóa'")
@click.option("--issuer", required=True, help="Issuer URL (its /.well-known/openid-configuration is read)")
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True, prompt=True, hide_input=True, envvar="CAMNET_SSO_CLIENT_SECRET")
@click.option("--scopes", default="openid profile email", show_default=True)
@click.option("--rule", "rules", multiple=True, required=True,
              help="CLAIM=VALUE:ROLE@UNIT, in order; e.g. groups=congan-tinh:police@THANHHOA")
def sso_add(province_code, name, issuer, client_id, client_secret, scopes, rules):
    province = unit_by_code(province_code)
    data = {"unit_id": province.id, "name": name, "issuer": issuer, "client_id": client_id,
            "client_secret": client_secret, "scopes": scopes, "rules": [parse_rule(r, province) for r in rules]}
    provider = run(lambda: create_provider(ProviderIn.model_validate(data), current_app.config))
    click.echo(f"{provider.id}\t{provider.name}\t{provider.issuer}")


@sso_cli.command("list")
def sso_list():
    with system_scope():
        for p in run(list_providers):
            state = "enabled" if p.enabled else "disabled"
            click.echo(f"{p.id}\t{p.unit.code}\t{p.name}\t{p.issuer}\t{p.client_id}\t{state}")
            for r in p.rules:
                click.echo(f"\t{r.position}: {r.claim}={r.value} -> {r.role}@{r.unit.code}")


@sso_cli.command("disable")
@click.option("--id", "provider_id", type=int, required=True)
def sso_disable(provider_id):
    run(set_enabled, provider_id, False)
    click.echo("disabled")


@sso_cli.command("enable")
@click.option("--id", "provider_id", type=int, required=True)
def sso_enable(provider_id):
    run(set_enabled, provider_id, True)
    click.echo("enabled")


COMMANDS = [unit_cli, village_cli, user_cli, token_cli, sso_cli]
