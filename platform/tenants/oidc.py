"""OpenID Connect, the relying party's side: discovery, PKCE, the code exchange and the ID token checks.

JOSE is joserfc's (signature against the provider's JWKS, then ``iss``, ``aud``, ``exp``, ``iat``
and ``nonce``); HTTP is requests'. Nothing here touches the database: ``sso`` does.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.errors import (BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError,
                            MissingClaimError)
from joserfc.jwk import KeySet

# Asymmetric signatures only: "none" and HS* (keyed by the client secret) are refused.
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
# Discovery documents and key sets are kept this long per process; an unknown key id fetches
# the key set again at once (the provider rotated its keys).
CACHE_SECONDS = 300


class OidcError(Exception):
    """The provider's answer cannot be accepted. ``reason`` goes to the audit log (a short code),
    ``status`` and the message to the person signing in."""

    def __init__(self, reason: str, detail: str = "", status: int = 401, subject: str | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.subject = subject  # the token's sub, when its signature held


@dataclass(frozen=True)
class Metadata:
    """What camnet reads of ``<issuer>/.well-known/openid-configuration``."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]


_cache: dict[str, tuple[float, object]] = {}
_lock = threading.Lock()


def _cached(key: str, load, refresh: bool = False):
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit and not refresh and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = load()
    with _lock:
        _cache[key] = (now, value)
    return value


def check_url(url: str, field: str, allow_http: bool) -> str:
    """An absolute https URL (http too when ``allow_http``), without credentials or fragment."""
    parts = urlsplit(url or "")
    if parts.scheme not in (("https", "http") if allow_http else ("https",)) or not parts.hostname:
        raise OidcError("bad_metadata", f"{field}: must be an {'http(s)' if allow_http else 'https'} URL",
                        status=502)
    if parts.username or parts.password or parts.fragment:
        raise OidcError("bad_metadata", f"{field}: no credentials or fragment allowed", status=502)
    return url


def _get_json(url: str, timeout: float, headers: dict | None = None) -> dict:
    try:
        resp = requests.get(url, timeout=timeout, headers=headers or {}, allow_redirects=False)
    except requests.RequestException as exc:
        raise OidcError("provider_unreachable", f"{url}: {type(exc).__name__}", status=502) from None
    if resp.status_code != 200:
        raise OidcError("provider_error", f"{url}: HTTP {resp.status_code}", status=502)
    try:
        data = resp.json()
    except ValueError:
        raise OidcError("provider_error", f"{url}: not JSON", status=502) from None
    if not isinstance(data, dict):
        raise OidcError("provider_error", f"{url}: not a JSON object", status=502)
    return data


def discover(issuer: str, *, timeout: float, allow_http: bool, refresh: bool = False) -> Metadata:
    """The provider's metadata. Its ``issuer`` must be exactly the configured one (OIDC Discovery 4.3),
    or a document served elsewhere could speak for this provider."""

    def load() -> Metadata:
        doc = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout)
        if doc.get("issuer") != issuer:
            raise OidcError("issuer_mismatch", f"discovery names {doc.get('issuer')!r}", status=502)
        methods = doc.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            raise OidcError("bad_metadata", "the provider does not support PKCE S256", status=502)
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in offered if a in SIGNING_ALGS)
        if not algorithms:
            raise OidcError("bad_metadata", f"no acceptable ID token algorithm in {offered}", status=502)
        userinfo = doc.get("userinfo_endpoint")
        return Metadata(
            issuer=issuer,
            authorization_endpoint=check_url(doc.get("authorization_endpoint"), "authorization_endpoint", allow_http),
            token_endpoint=check_url(doc.get("token_endpoint"), "token_endpoint", allow_http),
            jwks_uri=check_url(doc.get("jwks_uri"), "jwks_uri", allow_http),
            userinfo_endpoint=check_url(userinfo, "userinfo_endpoint", allow_http) if userinfo else None,
            algorithms=algorithms,
        )

    check_url(issuer, "issuer", allow_http)
    return _cached("meta:" + issuer, load, refresh)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 4.1-4.2 define them."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    return verifier, challenge.decode("ascii")


def authorization_url(meta: Metadata, *, client_id: str, redirect_uri: str, scopes: str, state: str,
                      nonce: str, code_challenge: str) -> str:
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scopes,
        "state": state, "nonce": nonce, "code_challenge": code_challenge, "code_challenge_method": "S256",
    })
    sep = "&" if urlsplit(meta.authorization_endpoint).query else "?"
    return f"{meta.authorization_endpoint}{sep}{query}"


def exchange_code(meta: Metadata, *, client_id: str, client_secret: str, code: str, redirect_uri: str,
                  code_verifier: str, timeout: float) -> dict:
    """The token response for an authorization code (client_secret_basic, RFC 6749 2.3.1)."""
    basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()).decode()
    try:
        resp = requests.post(meta.token_endpoint, timeout=timeout, allow_redirects=False,
                             headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": redirect_uri, "code_verifier": code_verifier})
    except requests.RequestException as exc:
        raise OidcError("provider_unreachable", f"token endpoint: {type(exc).__name__}", status=502) from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise OidcError("token_refused", f"HTTP {resp.status_code} {error or ''}".strip(), status=401)
    if not isinstance(body.get("id_token"), str):
        raise OidcError("no_id_token", "the token response holds no id_token", status=502)
    return body


def _key_set(meta: Metadata, timeout: float, refresh: bool = False) -> KeySet:
    def load() -> KeySet:
        try:
            return KeySet.import_key_set(_get_json(meta.jwks_uri, timeout))
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise OidcError("bad_jwks", type(exc).__name__, status=502) from None

    return _cached("jwks:" + meta.issuer, load, refresh)


def verify_id_token(id_token: str, meta: Metadata, *, client_id: str, nonce: str, leeway: int,
                    timeout: float) -> dict:
    """The ID token's claims once its signature, issuer, audience, times and nonce hold (OIDC Core 3.1.3.7)."""
    token = None
    for refresh in (False, True):
        try:
            token = jwt.decode(id_token, _key_set(meta, timeout, refresh), algorithms=list(meta.algorithms))
            break
        except InvalidKeyIdError:
            if refresh:
                raise OidcError("unknown_key", "no key of the provider matches the token") from None
        except BadSignatureError:
            raise OidcError("bad_signature") from None
        except (JoseError, ValueError) as exc:
            raise OidcError("malformed_token", type(exc).__name__) from None
    claims = token.claims
    subject = claims.get("sub") if isinstance(claims.get("sub"), str) else None
    registry = jwt.JWTClaimsRegistry(
        leeway=leeway,
        iss={"essential": True, "value": meta.issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise OidcError("expired_token", f"exp {claims.get('exp')}", subject=subject) from None
    except MissingClaimError as exc:
        raise OidcError("missing_claim", exc.claim, subject=subject) from None
    except ClaimError as exc:
        reason = {"aud": "wrong_audience", "iss": "wrong_issuer", "nonce": "nonce_mismatch"}.get(exc.claim, "bad_claim")
        raise OidcError(reason, f"{exc.claim}: {claims.get(exc.claim)!r}"[:200], subject=subject) from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:  # OIDC Core 3.1.3.7 (4)-(5)
        raise OidcError("wrong_audience", f"azp: {claims.get('azp')!r}", subject=subject)
    return dict(claims)


def userinfo(meta: Metadata, access_token: str | None, subject: str, timeout: float) -> dict:
    """Claims from the userinfo endpoint (providers that keep the ID token small put profile and
    group claims there). Its ``sub`` must be the ID token's (OIDC Core 5.3.2)."""
    if not meta.userinfo_endpoint or not access_token:
        return {}
    data = _get_json(meta.userinfo_endpoint, timeout, {"Authorization": f"Bearer {access_token}"})
    if data.get("sub") != subject:
        raise OidcError("userinfo_subject_mismatch")
    return data
