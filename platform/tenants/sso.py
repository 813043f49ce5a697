"""Single sign-on services: OpenID Connect providers per province, their claim rules, and signing in
through them (the identity linked to a camnet user, grants kept in step with the claims)."""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select, update

from ..clock import utc_now
from ..errors import DomainError, NotFoundError, ValidationFailed
from ..extensions import db
from ..schemas import DbId
from .. import crypto  # the platform's Fernet helper (CAMERA_SECRET_KEY): secrets at rest
from . import audit, oidc
from .models import AdminUnit, RoleGrant, SsoClaimRule, SsoIdentity, SsoLoginState, SsoProvider, User
from .roles import ROLES
from .scope import system_scope

# A provider's rules give these roles; "admin" (the whole platform) never comes from a province.
RULE_ROLES = tuple(r for r in ROLES if r != "admin")
COMMUNE_ROLES = frozenset({"chairman", "operator", "technician", "household", "sponsor"})
NO_PASSWORD = "!sso"  # not an argon2 hash: a password never matches it (passwords.verify_password)
SESSION_KEY = "sso_states"  # the hashes of the states this browser started (at most MAX_PENDING)
MAX_PENDING = 5


class SsoRefused(DomainError):
    """Sign-in through a provider refused; the message is for the person, ``reason`` for the audit."""

    code = "sso_refused"

    def __init__(self, message: str, reason: str, status: int = 403):
        super().__init__(message)
        self.reason = reason
        self.status = status


# ---- configuration ------------------------------------------------------------------------

class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    claim: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]+$")
    value: str = Field(..., min_length=1, max_length=200)
    role: str
    unit_id: DbId

    @field_validator("role")
    @classmethod
    def rule_role(cls, value: str) -> str:
        if value not in RULE_ROLES:
            raise ValueError(f"one of {', '.join(RULE_ROLES)} (admin is never granted by a provider)")
        return value


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    unit_id: DbId = Field(..., description="The province")
    name: str = Field(..., min_length=1, max_length=200)
    issuer: str = Field(..., min_length=8, max_length=300)
    client_id: str = Field(..., min_length=1, max_length=200)
    client_secret: str = Field(..., min_length=1, max_length=500)
    scopes: str = Field("openid profile email", max_length=300)
    rules: list[RuleIn] = Field(..., min_length=1, max_length=200)

    @field_validator("scopes")
    @classmethod
    def has_openid(cls, value: str) -> str:
        scopes = value.split()
        if "openid" not in scopes:
            raise ValueError("must include openid")
        return " ".join(dict.fromkeys(scopes))


def _province(unit_id: int) -> AdminUnit:
    unit = db.session.get(AdminUnit, unit_id)
    if unit is None:
        raise ValidationFailed("province: no such unit", field="province")
    parent = db.session.get(AdminUnit, unit.parent_id) if unit.parent_id else None
    if parent is None or parent.parent_id is not None or unit.is_commune:
        raise ValidationFailed(f"province: {unit.code} is not a province (a unit right below the country)",
                               field="province")
    return unit


def check_rule(province: AdminUnit, role: str, unit: AdminUnit | None, field: str) -> None:
    """A rule grants only inside its provider's province, and commune roles only at a commune."""
    if unit is None:
        raise ValidationFailed(f"{field}: no such unit", field=field)
    if not unit.path.startswith(province.path):
        raise ValidationFailed(f"{field}: {unit.code} lies outside the province {province.code}", field=field)
    if role in COMMUNE_ROLES and not unit.is_commune:
        raise ValidationFailed(f"{field}: the {role} role is held at a commune", field=field)


def create_provider(data: ProviderIn, config) -> SsoProvider:
    """Add a provider for a province (the platform's act: CLI, under the system scope)."""
    province = _province(data.unit_id)
    try:
        oidc.check_url(data.issuer, "issuer", config.get("OIDC_ALLOW_HTTP", False))
    except oidc.OidcError as exc:
        raise ValidationFailed(exc.detail, field="issuer") from None
    rules = []
    for n, rule in enumerate(data.rules):
        unit = db.session.get(AdminUnit, rule.unit_id)
        check_rule(province, rule.role, unit, f"rules.{n}.unit")
        rules.append(SsoClaimRule(position=n, claim=rule.claim, value=rule.value, role=rule.role, unit_id=unit.id))
    provider = SsoProvider(unit_id=province.id, name=data.name, issuer=data.issuer, client_id=data.client_id,
                           client_secret_enc=crypto.encrypt(data.client_secret, config), scopes=data.scopes,
                           enabled=True, rules=rules)
    db.session.add(provider)
    db.session.flush()
    audit.record("sso.provider.create", unit_id=province.id, object_type="sso_provider", object_id=provider.id,
                 detail={"name": data.name, "issuer": data.issuer, "client_id": data.client_id,
                         "rules": [[r.claim, r.value, r.role, r.unit_id] for r in rules]})
    db.session.commit()
    return provider


def set_enabled(provider_id: int, enabled: bool) -> SsoProvider:
    provider = db.session.get(SsoProvider, provider_id)
    if provider is None:
        raise NotFoundError()
    provider.enabled = enabled
    audit.record("sso.provider.enable" if enabled else "sso.provider.disable", unit_id=provider.unit_id,
                 object_type="sso_provider", object_id=provider.id)
    db.session.commit()
    return provider


def list_providers() -> list[SsoProvider]:
    return list(db.session.execute(select(SsoProvider).order_by(SsoProvider.id)).scalars())


def login_buttons() -> list[tuple[int, str]]:
    """(id, name) of every enabled provider, for the sign-in page (read before anyone signs in)."""
    with system_scope():
        return [tuple(row) for row in db.session.execute(
            select(SsoProvider.id, SsoProvider.name).where(SsoProvider.enabled.is_(True)).order_by(SsoProvider.name))]


# ---- signing in ----------------------------------------------------------------------------


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _settings(config) -> dict:
    return {"timeout": config["OIDC_HTTP_TIMEOUT"], "allow_http": config["OIDC_ALLOW_HTTP"]}


def _enabled_provider(provider_id: int) -> SsoProvider:
    provider = db.session.get(SsoProvider, provider_id)
    if provider is None or not provider.enabled:
        raise NotFoundError("Không có nhà cung cấp đăng nhập này / No such sign-in provider")
    return provider


def start(provider_id: int, redirect_uri: str, next_url: str, config, pending: list) -> str:
    """Begin a sign-in: a single-use state, a nonce and a PKCE verifier kept on the server, and the
    provider's authorization URL to send the browser to. ``pending`` (the browser's session list)
    gets the state's hash."""
    with system_scope():
        provider = _enabled_provider(provider_id)
        try:
            meta = oidc.discover(provider.issuer, **_settings(config))
        except oidc.OidcError as exc:
            _refuse_audit(provider, exc.reason, exc.detail, None)
            raise SsoRefused(_MESSAGES["provider"], exc.reason, 502) from None
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, challenge = oidc.pkce_pair()
        now = utc_now()
        # States past their time are refused anyway; keep them an hour so a late replay is named as one.
        db.session.execute(delete(SsoLoginState).where(SsoLoginState.expires_at < now - timedelta(hours=1)))
        db.session.add(SsoLoginState(
            state_hash=_hash(state), provider_id=provider.id, nonce=nonce, code_verifier=verifier,
            redirect_uri=redirect_uri, next_url=next_url, created_at=now,
            expires_at=now + timedelta(seconds=config["OIDC_STATE_TTL_SECONDS"])))
        db.session.commit()
        pending[:] = (pending + [_hash(state)])[-MAX_PENDING:]
        return oidc.authorization_url(meta, client_id=provider.client_id, redirect_uri=redirect_uri,
                                      scopes=provider.scopes, state=state, nonce=nonce, code_challenge=challenge)


_MESSAGES = {
    "state": ("Yêu cầu đăng nhập không hợp lệ, đã hết hạn hoặc đã được dùng; hãy đăng nhập lại / "
              "The sign-in request is invalid, expired or already used; please sign in again"),
    "token": ("Nhà cung cấp định danh trả về mã không hợp lệ; không thể đăng nhập / "
              "The identity provider's token was not accepted; you were not signed in"),
    "expired": ("Mã định danh đã hết hạn; hãy đăng nhập lại / The identity token has expired; please sign in again"),
    "provider": ("Nhà cung cấp định danh không trả lời được; hãy thử lại sau / "
                 "The identity provider could not be reached; please try again later"),
    "unmapped": ("Tài khoản của bạn tại {provider} chưa được gán vai trò nào trong camnet; hãy liên hệ quản trị "
                 "viên của tỉnh / Your account at {provider} maps to no camnet role; ask your province's "
                 "administrator"),
    "disabled": "Tài khoản đã bị khóa / This account is disabled",
    "denied": "Nhà cung cấp định danh đã từ chối đăng nhập / The identity provider refused the sign-in",
}


def _refuse_audit(provider: SsoProvider | None, reason: str, detail: str, subject: str | None) -> None:
    """Write the refusal to the audit log under the provider's province, in its own transaction."""
    db.session.rollback()
    with system_scope():
        audit.record("auth.sso", outcome="refused", unit_id=provider.unit_id if provider else None,
                     object_type="sso_provider", object_id=provider.id if provider else None,
                     reason=reason, actor_name=(subject or "")[:80] or None,
                     detail={"provider_id": provider.id if provider else None,
                             "issuer": provider.issuer if provider else None,
                             "sub": subject, "detail": (detail or "")[:300]})
        db.session.commit()


def _consume_state(state: str, pending: list) -> SsoLoginState:
    """The state's row, marked used in one conditional UPDATE (two callbacks racing: one wins)."""
    if not state or len(state) > 200:
        raise SsoRefused(_MESSAGES["state"], "missing_state", 400)
    digest = _hash(state)
    row = db.session.execute(select(SsoLoginState).where(SsoLoginState.state_hash == digest)).scalar_one_or_none()
    if row is None:
        _refuse_audit(None, "unknown_state", "", None)
        raise SsoRefused(_MESSAGES["state"], "unknown_state", 400)
    provider = db.session.get(SsoProvider, row.provider_id)
    now = utc_now()
    won = db.session.execute(
        update(SsoLoginState).where(SsoLoginState.id == row.id, SsoLoginState.used_at.is_(None),
                                    SsoLoginState.expires_at > now).values(used_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    if not won:
        reason = "replayed_state" if row.used_at is not None else "expired_state"  # (row reloaded at commit)
        _refuse_audit(provider, reason, "", None)
        raise SsoRefused(_MESSAGES["state"], reason, 400)
    if digest not in pending:  # started in another browser: a login forced on this one (login CSRF)
        _refuse_audit(provider, "state_not_from_this_browser", "", None)
        raise SsoRefused(_MESSAGES["state"], "state_not_from_this_browser", 400)
    pending.remove(digest)
    return row


def finish(state: str, code: str, error: str | None, config, pending: list,
           iss: str | None = None) -> tuple[User, SsoProvider, str]:
    """Complete a sign-in at the callback: the user (created or found, grants in step with the claims),
    the provider, and where to go next. Every refusal is audited under the provider's province."""
    with system_scope():
        row = _consume_state(state, pending)
        provider = db.session.get(SsoProvider, row.provider_id)
        if provider is None or not provider.enabled:
            _refuse_audit(provider, "provider_disabled", "", None)
            raise SsoRefused(_MESSAGES["state"], "provider_disabled", 400)
        if iss is not None and iss != provider.issuer:  # RFC 9207: an answer from another provider (mix-up)
            _refuse_audit(provider, "issuer_mismatch", iss[:200], None)
            raise SsoRefused(_MESSAGES["token"], "issuer_mismatch", 401)
        if error or not code:
            _refuse_audit(provider, "provider_denied", (error or "no code")[:100], None)
            raise SsoRefused(_MESSAGES["denied"], "provider_denied", 400)
        try:
            claims = _verified_claims(provider, row, code, config)
        except oidc.OidcError as exc:
            _refuse_audit(provider, exc.reason, exc.detail, exc.subject)
            kind = "expired" if exc.reason == "expired_token" else "provider" if exc.status == 502 else "token"
            raise SsoRefused(_MESSAGES[kind], exc.reason, exc.status) from None
        user = _sign_in(provider, claims)
        return user, provider, row.next_url


def _verified_claims(provider: SsoProvider, row: SsoLoginState, code: str, config) -> dict:
    settings = _settings(config)
    meta = oidc.discover(provider.issuer, **settings)
    tokens = oidc.exchange_code(meta, client_id=provider.client_id,
                                client_secret=crypto.decrypt(provider.client_secret_enc, config), code=code,
                                redirect_uri=row.redirect_uri, code_verifier=row.code_verifier,
                                timeout=settings["timeout"])
    claims = oidc.verify_id_token(tokens["id_token"], meta, client_id=provider.client_id, nonce=row.nonce,
                                  leeway=config["OIDC_LEEWAY_SECONDS"], timeout=settings["timeout"])
    extra = oidc.userinfo(meta, tokens.get("access_token"), claims["sub"], settings["timeout"])
    return {**extra, **claims}  # the signed ID token wins where both speak


def claim_matches(claims: dict, claim: str, value: str) -> bool:
    """A claim holds ``value`` itself, or a list holding it (groups, roles)."""
    found = claims.get(claim)
    if isinstance(found, list):
        return value in [str(v) for v in found if isinstance(v, (str, int))]
    if isinstance(found, bool):
        return value == ("true" if found else "false")
    return isinstance(found, (str, int)) and str(found) == value


def desired_grants(provider: SsoProvider, claims: dict) -> list[tuple[str, int]]:
    """The grants the provider's rules give for these claims, in rule order. A rule whose unit lies
    outside the province (written around ``create_provider``) gives nothing."""
    province = db.session.get(AdminUnit, provider.unit_id)
    found: list[tuple[str, int]] = []
    for rule in provider.rules:
        if not claim_matches(claims, rule.claim, rule.value):
            continue
        unit = db.session.get(AdminUnit, rule.unit_id)
        try:
            check_rule(province, rule.role, unit, "rule")
        except ValidationFailed:
            continue
        if (rule.role, unit.id) not in found:
            found.append((rule.role, unit.id))
    return found


def _sign_in(provider: SsoProvider, claims: dict) -> User:
    subject = claims["sub"]
    identity = db.session.execute(select(SsoIdentity).where(
        SsoIdentity.issuer == provider.issuer, SsoIdentity.subject == subject)).scalar_one_or_none()
    wanted = desired_grants(provider, claims)
    if identity is not None:
        user = db.session.get(User, identity.user_id)
        if not user.active:
            _refuse_audit(provider, "user_disabled", "", subject)
            raise SsoRefused(_MESSAGES["disabled"], "user_disabled", 403)
        _sync_grants(identity, provider, wanted)
        if not wanted:
            db.session.commit()  # the mapped grants are gone with the claims: keep that
            _refuse_audit(provider, "no_grant", _claims_summary(claims), subject)
            raise SsoRefused(_MESSAGES["unmapped"].format(provider=provider.name), "no_grant", 403)
        _refresh_profile(user, claims)
    else:
        if not wanted:
            _refuse_audit(provider, "no_grant", _claims_summary(claims), subject)
            raise SsoRefused(_MESSAGES["unmapped"].format(provider=provider.name), "no_grant", 403)
        user = _create_user(provider, claims, home_unit=wanted[0][1])
        identity = SsoIdentity(provider_id=provider.id, issuer=provider.issuer, subject=subject, user_id=user.id,
                               unit_id=provider.unit_id, mapped_grants={})
        db.session.add(identity)
        db.session.flush()
        _sync_grants(identity, provider, wanted)
    identity.last_login_at = utc_now()
    audit.record("auth.signin", unit_id=user.unit_id, actor=user,
                 detail={"method": f"oidc:{provider.id}", "sub": subject})
    db.session.commit()
    return user


def _claims_summary(claims: dict) -> str:
    """Which claims the rules looked at held what (for the audit log; no tokens)."""
    return ", ".join(f"{k}={claims[k]!r}" for k in sorted(claims)
                     if k not in ("sub", "iss", "aud", "exp", "iat", "nonce", "at_hash", "auth_time", "azp"))[:300]


def _sync_grants(identity: SsoIdentity, provider: SsoProvider, wanted: list[tuple[str, int]]) -> None:
    """Grant what the claims give and the user lacks; revoke what this provider's rules granted
    before and the claims no longer give. Grants given by hand are never touched."""
    mapped = dict(identity.mapped_grants or {})
    before = {(role, unit_id) for role, unit_id in mapped.get(str(provider.id), [])}
    held = {(g.role, g.unit_id): g for g in db.session.execute(
        select(RoleGrant).where(RoleGrant.user_id == identity.user_id)).scalars()}
    kept = set()
    for role, unit_id in wanted:
        if (role, unit_id) in held:
            if (role, unit_id) in before:
                kept.add((role, unit_id))
            continue  # held by hand: stays a hand-given grant
        db.session.add(RoleGrant(user_id=identity.user_id, role=role, unit_id=unit_id))
        audit.record("role.grant", unit_id=unit_id, object_type="user", object_id=identity.user_id,
                     actor_name=f"oidc:{provider.id}", detail={"role": role, "unit_id": unit_id, "source": "sso"})
        kept.add((role, unit_id))
    for role, unit_id in before - set(wanted):
        grant = held.get((role, unit_id))
        if grant is not None:
            db.session.delete(grant)
            audit.record("role.revoke", unit_id=unit_id, object_type="user", object_id=identity.user_id,
                         actor_name=f"oidc:{provider.id}", detail={"role": role, "unit_id": unit_id, "source": "sso"})
    mapped[str(provider.id)] = sorted([role, unit_id] for role, unit_id in kept)
    identity.mapped_grants = mapped
    db.session.flush()


def _refresh_profile(user: User, claims: dict) -> None:
    name = full_name(claims)
    if name and name != user.full_name:
        user.full_name = name
    email = claims.get("email")
    if isinstance(email, str) and email and email != user.email:
        user.email = email[:200]


def full_name(claims: dict) -> str | None:
    """The person's name as the provider writes it (diacritics kept: "Nguyễn Văn An")."""
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("family_name"), claims.get("middle_name"), claims.get("given_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    name = unicodedata.normalize("NFC", name.strip()) if name else ""
    return name[:200] or None


def username_base(claims: dict) -> str:
    """A camnet username from preferred_username or the email's local part: ASCII (Vietnamese
    letters lose their marks, đ becomes d), lower case, [a-z0-9_.-] only."""
    raw = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0] or "sso"
    if not isinstance(raw, str):
        raw = "sso"
    raw = raw.replace("đ", "d").replace("Đ", "D")
    ascii_ = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9_.-]+", "-", ascii_).strip("-.")[:60]
    return base if len(base) >= 3 else f"sso-{base}".rstrip("-") if base else "sso-user"


def _create_user(provider: SsoProvider, claims: dict, home_unit: int) -> User:
    """A new camnet user for a first sign-in. Never linked to an existing account by name or email:
    whoever controls a provider account must not take over a local one."""
    base = username_base(claims)
    username = base
    for n in range(2, 1000):
        if db.session.execute(select(User.id).where(User.username == username)).first() is None:
            break
        username = f"{base}-{n}"
    else:
        username = f"{base}-{secrets.token_hex(4)}"
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    user = User(username=username, full_name=full_name(claims) or username, email=(email or None) and email[:200],
                password_hash=NO_PASSWORD, unit_id=home_unit, lang="vi", active=True)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", unit_id=home_unit, object_type="user", object_id=user.id,
                 actor_name=f"oidc:{provider.id}",
                 detail={"username": username, "source": "sso", "provider_id": provider.id, "sub": claims["sub"]})
    return user
