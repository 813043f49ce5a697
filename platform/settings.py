"""Settings read from the environment, in one place, with embedded defaults."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

# The development default of earlier releases: public, so a cookie signed with it is forged by anyone.
DEFAULT_SECRET = "camnet-dev-secret-change-me"
# Keys anyone can read (the old default, placeholders from docs and examples): refused everywhere.
KNOWN_SECRETS = frozenset({DEFAULT_SECRET, "change-me", "changeme", "secret", "dev", "development"})
SECRET_FILE = "secret.key"
MIN_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


def env_str(name: str, default: str | None = None, env=None) -> str | None:
    env = os.environ if env is None else env
    value = env.get(name)
    return default if value in (None, "") else value


def env_int(name: str, default: int, env=None) -> int:
    raw = env_str(name, None, env)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def env_bool(name: str, default: bool, env=None) -> bool:
    raw = env_str(name, None, env)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_list(name: str, default: list[str], env=None) -> list[str]:
    raw = env_str(name, None, env)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def numbers_from_config(cls, prefix: str, config=None):
    """Fill a dataclass of int/float settings from ``PREFIX_FIELD`` in the app config or environment."""
    from dataclasses import fields

    config = config or {}
    values = {}
    for f in fields(cls):
        name = f"{prefix}_{f.name.upper()}"
        raw = config.get(name, os.environ.get(name))
        if raw in (None, ""):
            continue
        try:
            values[f.name] = int(raw) if f.type in ("int", int) else float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    return cls(**values)


def from_env(env=None, instance_path: str | None = None) -> dict:
    """Build the Flask config mapping from environment variables.

    With nothing set, camnet runs embedded: SQLite and a local object folder under
    ``instance/`` and in-process coordination.
    """
    env = os.environ if env is None else env
    instance = Path(instance_path or env_str("CAMNET_INSTANCE", "instance", env)).resolve()
    environment = env_str("CAMNET_ENV", "development", env)
    s3_endpoint = env_str("S3_ENDPOINT", env_str("MINIO_ENDPOINT", None, env), env)
    return {
        "ENV_NAME": environment,
        "INSTANCE_DIR": str(instance),
        "MIGRATIONS_DIR": env_str("CAMNET_MIGRATIONS_DIR", None, env),
        # None: generated once into instance/secret.key (``ensure_secret_key``); production must set it.
        "SECRET_KEY": env_str("SECRET_KEY", None, env),
        "SQLALCHEMY_DATABASE_URI": env_str(
            "DATABASE_URL", f"sqlite:///{instance / 'camnet.db'}", env
        ),
        # ---- database roles (issue #12: 1) ----
        # `camnet db upgrade` connects here, as the role owning the schema; empty: DATABASE_URL.
        "DATABASE_MIGRATE_URL": env_str("DATABASE_MIGRATE_URL", None, env),
        # The role given data privileges after each upgrade; empty: the user of DATABASE_URL.
        "DATABASE_APP_ROLE": env_str("DATABASE_APP_ROLE", None, env),
        # Signs the scope handed to PostgreSQL's row-level security (``scope_signing_key``); empty:
        # derived from SECRET_KEY. The web, workers and `camnet db upgrade` need the same value.
        "SCOPE_SIGNING_KEY": env_str("SCOPE_SIGNING_KEY", None, env),
        # Object storage: S3/MinIO when an endpoint is given, else a local folder.
        "S3_ENDPOINT": s3_endpoint,
        "S3_ACCESS_KEY": env_str("S3_ACCESS_KEY", env_str("MINIO_ACCESS_KEY", "camnet", env), env),
        "S3_SECRET_KEY": env_str("S3_SECRET_KEY", env_str("MINIO_SECRET_KEY", "camnet-secret", env), env),
        "S3_BUCKET": env_str("S3_BUCKET", env_str("MINIO_BUCKET", "camnet-media", env), env),
        "S3_REGION": env_str("S3_REGION", "us-east-1", env),
        "S3_SECURE": env_bool("S3_SECURE", False, env),
        "OBJECT_DIR": env_str("CAMNET_OBJECT_DIR", str(instance / "objects"), env),
        "SPOOL_DIR": env_str("CAMNET_SPOOL_DIR", str(instance / "spool"), env),
        "SPOOL_MAX_BYTES": env_int("CAMNET_SPOOL_MAX_BYTES", 512 * 1024 * 1024, env),
        # Coordination: redis://host:port (single) or redis+cluster://host:port (cluster).
        "REDIS_URL": env_str("REDIS_URL", None, env),
        "REDIS_PREFIX": env_str("REDIS_PREFIX", "camnet:", env),
        "CAMERA_SECRET_KEY": env_str("CAMERA_SECRET_KEY", None, env),
        "CAMERA_ALLOWED_NETWORKS": env_list(
            "CAMERA_ALLOWED_NETWORKS",
            ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"]
            # development only: the built-in RTSP (8554) and HTTP (8090) camera simulators
            + ([] if environment == "production" else ["127.0.0.1:8554", "127.0.0.1:8090"]),
            env,
        ),
        # Refused whatever CAMERA_ALLOWED_NETWORKS says (same syntax). Always refused besides these:
        # link-local, cloud metadata addresses, the platform's own services and the Kubernetes API.
        "CAMERA_DENIED_NETWORKS": env_list("CAMERA_DENIED_NETWORKS", [], env),
        "LOGIN_MAX_FAILURES": env_int("LOGIN_MAX_FAILURES", 5, env),
        "LOGIN_FAILURE_WINDOW": env_int("LOGIN_FAILURE_WINDOW", 30, env),
        "LOGIN_LOCKOUT_SECONDS": env_int("LOGIN_LOCKOUT_SECONDS", 300, env),
        "PRESIGN_SECONDS": min(env_int("PRESIGN_SECONDS", 300, env), 300),
        "DEFAULT_LANG": env_str("CAMNET_LANG", "vi", env),
        # Map tiles (e.g. a tile server inside the district network); empty: no tiles, cameras on a plain map.
        "MAP_TILE_URL": env_str("MAP_TILE_URL", "", env),
        # A raster PMTiles file served by camnet itself (monitoring rooms without internet); when set
        # it is the map's base layer instead of MAP_TILE_URL.
        "MAP_PMTILES_PATH": env_str("MAP_PMTILES_PATH", "", env),
        # Above this many cameras the overview map shows one marker per commune.
        "MAP_POINT_LIMIT": env_int("MAP_POINT_LIMIT", 2000, env),
        # The oversight API's figures may be this many seconds old (0: computed on every request);
        # a stale answer is served for as long again while one request recomputes it.
        "OVERVIEW_CACHE_SECONDS": env_int("OVERVIEW_CACHE_SECONDS", 30, env),
        # The capture worker's own /metrics port (0: off); the Helm chart sets 9108.
        "WORKER_METRICS_PORT": env_int("WORKER_METRICS_PORT", 0, env),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": environment == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": environment == "production",
        "WTF_CSRF_TIME_LIMIT": None,
        # Request bodies above this many bytes answer 413 (Flask's MAX_CONTENT_LENGTH).
        "MAX_REQUEST_BYTES": env_int("MAX_REQUEST_BYTES", 16 * 1024 * 1024, env),
        # ... except an evidence archive uploaded to be verified (it carries its clips).
        "MAX_EVIDENCE_UPLOAD_BYTES": env_int("MAX_EVIDENCE_UPLOAD_BYTES", 512 * 1024 * 1024, env),
        # JSON bodies nested deeper than this answer 422 before they are parsed.
        "MAX_JSON_DEPTH": env_int("MAX_JSON_DEPTH", 32, env),
        # Sent as Strict-Transport-Security in production (0: not sent).
        "HSTS_SECONDS": env_int("HSTS_SECONDS", 31536000, env),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # PostgreSQL connections kept, and allowed beyond, per process (``pool_options``)
        "DB_POOL_SIZE": env_int("DB_POOL_SIZE", 20, env),
        "DB_MAX_OVERFLOW": env_int("DB_MAX_OVERFLOW", 10, env),
        "DB_POOL_TIMEOUT": env_int("DB_POOL_TIMEOUT", 10, env),
        # ---- accounts: proxies, sign-in, sessions, tokens, passwords (issue #12: 5, 9, 14) ----
        # Networks of the reverse proxies (the Ingress) whose X-Forwarded-For is believed; empty: none.
        "TRUSTED_PROXIES": env_list("TRUSTED_PROXIES", [], env),
        # Failed sign-ins from one real client address in LOGIN_FAILURE_WINDOW that lock that address.
        "LOGIN_ADDRESS_MAX_FAILURES": env_int("LOGIN_ADDRESS_MAX_FAILURES", 20, env),
        # Server-side sessions of the roles in SESSION_STRICT_ROLES (ASVS L2), then of everyone else.
        "SESSION_STRICT_ROLES": env_list("SESSION_STRICT_ROLES", ["admin", "police"], env),
        "SESSION_IDLE_MINUTES": env_int("SESSION_IDLE_MINUTES", 30, env),
        "SESSION_MAX_HOURS": env_int("SESSION_MAX_HOURS", 12, env),
        "SESSION_IDLE_MINUTES_OTHER": env_int("SESSION_IDLE_MINUTES_OTHER", 8 * 60, env),
        "SESSION_MAX_HOURS_OTHER": env_int("SESSION_MAX_HOURS_OTHER", 7 * 24, env),
        # A session's last-seen time is written at most this often (not on every request).
        "SESSION_TOUCH_SECONDS": env_int("SESSION_TOUCH_SECONDS", 60, env),
        "API_TOKEN_DEFAULT_DAYS": env_int("API_TOKEN_DEFAULT_DAYS", 90, env),
        "API_TOKEN_MAX_DAYS": env_int("API_TOKEN_MAX_DAYS", 365, env),
        "PASSWORD_RESET_MINUTES": env_int("PASSWORD_RESET_MINUTES", 30, env),
        "PASSWORD_MIN_LENGTH_STAFF": env_int("PASSWORD_MIN_LENGTH_STAFF", 12, env),
        "PASSWORD_MIN_LENGTH_RESIDENT": env_int("PASSWORD_MIN_LENGTH_RESIDENT", 8, env),
    }


def pool_options(config) -> None:
    """Size the connection pool of each process, once the database URL is final (a caller's config
    may change it; SQLite's pools take no size). A gevent worker serves many requests at once:
    with the library's 5 kept connections, every request beyond them opened and closed its own
    (a new PostgreSQL backend each time). Processes x (size + overflow) must stay under the
    server's max_connections, or PgBouncer's pool."""
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        return
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    options.setdefault("pool_size", config["DB_POOL_SIZE"])
    options.setdefault("max_overflow", config["DB_MAX_OVERFLOW"])
    options.setdefault("pool_timeout", config["DB_POOL_TIMEOUT"])
    # the engine carries the key that signs each transaction's scope (``rls_session.rls_settings``)
    options["execution_options"] = {**options.get("execution_options", {}),
                                    SCOPE_KEY_OPTION: scope_signing_key(config)}
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


SCOPE_KEY_OPTION = "camnet_scope_key"


def scope_signing_key(config) -> bytes:
    """The 32-byte key of the scope's HMAC: from SCOPE_SIGNING_KEY, else derived from SECRET_KEY
    (a one-way derivation: the database, which stores this key, learns nothing of SECRET_KEY)."""
    import hashlib
    import hmac

    source = config.get("SCOPE_SIGNING_KEY") or config.get("SECRET_KEY") or ""
    return hmac.new(source.encode(), b"camnet row-level security scope v1", hashlib.sha256).digest()


def _instance_secret(instance_dir: str) -> str:
    """A random key generated once into instance/secret.key (mode 0600), as the camera key is."""
    path = Path(instance_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the same instance wrote it first
            return path.read_text().strip()
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
        finally:
            os.close(fd)
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(f"SECRET_KEY: {path} holds fewer than {MIN_SECRET_LENGTH} characters; "
                            "delete it to have a new one generated")
    return value


def ensure_secret_key(config) -> None:
    """SECRET_KEY signs sessions: a known value lets anyone forge an admin's cookie.

    A publicly known key is refused everywhere; a short one in production. With none set,
    production refuses to start (every replica needs the same key) and elsewhere a random key
    is generated into the instance folder on first start.
    """
    secret = config.get("SECRET_KEY")
    production = config.get("ENV_NAME") == "production"
    if secret and secret.strip().lower() in KNOWN_SECRETS:
        raise SettingsError("SECRET_KEY is a publicly known value: set a random one of at least "
                            f"{MIN_SECRET_LENGTH} characters (python -c 'import secrets; "
                            "print(secrets.token_urlsafe(48))'), or unset it outside production "
                            f"to have one generated into the instance folder ({SECRET_FILE})")
    if not secret:
        if production:
            raise SettingsError(f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                                "characters in production")
        config["SECRET_KEY"] = _instance_secret(config["INSTANCE_DIR"])
    elif production and len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"SECRET_KEY must be a random value of at least {MIN_SECRET_LENGTH} characters "
                            f"in production (it has {len(secret)})")


def validate(config) -> None:
    """Refuse known secrets anywhere, and defaults that are only safe on a laptop in production."""
    ensure_secret_key(config)
    scope_key = config.get("SCOPE_SIGNING_KEY")
    if scope_key and (scope_key.strip().lower() in KNOWN_SECRETS
                      or (config.get("ENV_NAME") == "production" and len(scope_key) < MIN_SECRET_LENGTH)):
        raise SettingsError(f"SCOPE_SIGNING_KEY must be a random value of at least {MIN_SECRET_LENGTH} characters")
    if config.get("ENV_NAME") == "production":
        if not config.get("CAMERA_SECRET_KEY"):
            raise SettingsError("CAMERA_SECRET_KEY must be set in production")


def sso_from_env(env=None) -> dict:
    """Single sign-on (OpenID Connect) settings, read by ``tenants.sso_views.init_app``."""
    env = os.environ if env is None else env
    production = env_str("CAMNET_ENV", "development", env) == "production"
    return {
        # Clock skew allowed on an ID token's exp and iat (seconds).
        "OIDC_LEEWAY_SECONDS": env_int("OIDC_LEEWAY_SECONDS", 60, env),
        # How long a sign-in started at a provider may take before its state is refused (seconds).
        "OIDC_STATE_TTL_SECONDS": env_int("OIDC_STATE_TTL_SECONDS", 600, env),
        # Timeout of each call to a provider (discovery, keys, token, userinfo), seconds.
        "OIDC_HTTP_TIMEOUT": env_int("OIDC_HTTP_TIMEOUT", 10, env),
        # Issuers over plain http (a provider on loopback in development); never in production.
        "OIDC_ALLOW_HTTP": env_bool("OIDC_ALLOW_HTTP", not production, env) and not production,
    }


def evidence_from_env(env=None) -> dict:
    """Evidence signing settings, read by ``incidents.api`` when its blueprint is registered."""
    return {
        # The Ed25519 key that signs each evidence export's manifest.json: a PEM private key or the
        # 32-byte seed in base64. Unset: generated once into instance/evidence-signing.key. Every web
        # process of an install must use the same key (set it when running several replicas).
        "EVIDENCE_SIGNING_KEY": env_str("EVIDENCE_SIGNING_KEY", None, env),
    }


def mfa_from_env(env=None) -> dict:
    """Two-factor sign-in settings, read by ``tenants.mfa.init_app`` (issue #12)."""
    env = os.environ if env is None else env
    return {
        # Role codes whose holders must pass a second factor (comma list; empty: nobody must, anyone may).
        "MFA_REQUIRED_ROLES": env_list("MFA_REQUIRED_ROLES", ["admin", "police"], env),
        # Seconds between the password (or single sign-on) and the second factor before starting over.
        "MFA_PENDING_SECONDS": env_int("MFA_PENDING_SECONDS", 300, env),
        # Passkeys: the relying party id (a domain) and the origin browsers report; empty: the request's host.
        "WEBAUTHN_RP_ID": env_str("WEBAUTHN_RP_ID", None, env),
        "WEBAUTHN_ORIGIN": env_str("WEBAUTHN_ORIGIN", None, env),
        # Seconds a passkey challenge stays valid (each is used at most once).
        "WEBAUTHN_CHALLENGE_SECONDS": env_int("WEBAUTHN_CHALLENGE_SECONDS", 300, env),
    }


def alerts_from_env(env=None) -> dict:
    """Alert settings (issue #16), read by ``alerts.init_app``: channels, queue, grouping, escalation."""
    env = os.environ if env is None else env
    production = env_str("CAMNET_ENV", "development", env) == "production"
    return {
        # Deliver in the web process itself (embedded mode); "auto": on with SQLite outside tests.
        "ALERTS_INPROCESS": env_str("ALERTS_INPROCESS", "auto", env),
        # Seconds between the worker's looks at the outbox and the delivery queue.
        "ALERTS_POLL_SECONDS": float(env_str("ALERTS_POLL_SECONDS", "0.5", env)),
        # Deliveries a worker takes at once, and how long it holds them before another may retry them.
        "ALERTS_BATCH": env_int("ALERTS_BATCH", 100, env),
        "ALERTS_LEASE_SECONDS": env_int("ALERTS_LEASE_SECONDS", 60, env),
        # Retries: exponential backoff from RETRY_BASE seconds, at most RETRY_MAX apart; given up after GIVE_UP_HOURS.
        "ALERTS_RETRY_BASE_SECONDS": float(env_str("ALERTS_RETRY_BASE_SECONDS", "1", env)),
        "ALERTS_RETRY_MAX_SECONDS": float(env_str("ALERTS_RETRY_MAX_SECONDS", "20", env)),
        "ALERTS_GIVE_UP_HOURS": env_int("ALERTS_GIVE_UP_HOURS", 24, env),
        # A commune with at least GROUP_MIN cameras down within one capture interval (at most
        # GROUP_WINDOW_MAX seconds) gets one alert; more cameras within GROUP_HOLD seconds join it.
        "ALERTS_GROUP_MIN": env_int("ALERTS_GROUP_MIN", 3, env),
        "ALERTS_GROUP_WINDOW_MAX": env_int("ALERTS_GROUP_WINDOW_MAX", 120, env),
        "ALERTS_GROUP_HOLD": env_int("ALERTS_GROUP_HOLD", 900, env),
        # Minutes before an unacknowledged alert goes to the next person on the rota (per commune too).
        "ALERTS_ESCALATE_MINUTES": env_int("ALERTS_ESCALATE_MINUTES", 15, env),
        # Hours a fault may stay open before "fault.overdue" (per commune and rule too).
        "ALERTS_FAULT_DEADLINE_HOURS": env_int("ALERTS_FAULT_DEADLINE_HOURS", 24, env),
        # Storage quota per commune in GB (0: none unless set per commune) and the share that warns.
        "ALERTS_STORAGE_QUOTA_GB": float(env_str("ALERTS_STORAGE_QUOTA_GB", "0", env)),
        "ALERTS_QUOTA_WARN_PERCENT": env_int("ALERTS_QUOTA_WARN_PERCENT", 85, env),
        # Seconds between the checker's rounds; minutes between ledger chain checks (0: never).
        "ALERTS_CHECK_SECONDS": env_int("ALERTS_CHECK_SECONDS", 30, env),
        "ALERTS_CHAIN_CHECK_MINUTES": env_int("ALERTS_CHAIN_CHECK_MINUTES", 60, env),
        # Links in messages (acknowledge, open) start with this; the signed ack link lives this long.
        "ALERTS_BASE_URL": env_str("ALERTS_BASE_URL", "http://127.0.0.1:8000", env),
        "ALERTS_ACK_LINK_HOURS": env_int("ALERTS_ACK_LINK_HOURS", 72, env),
        # E-mail over SMTP (empty host: no e-mail channel).
        "ALERTS_SMTP_HOST": env_str("ALERTS_SMTP_HOST", None, env),
        "ALERTS_SMTP_PORT": env_int("ALERTS_SMTP_PORT", 587, env),
        "ALERTS_SMTP_USER": env_str("ALERTS_SMTP_USER", None, env),
        "ALERTS_SMTP_PASSWORD": env_str("ALERTS_SMTP_PASSWORD", None, env),
        "ALERTS_SMTP_STARTTLS": env_bool("ALERTS_SMTP_STARTTLS", production, env),
        "ALERTS_SMTP_TIMEOUT": env_int("ALERTS_SMTP_TIMEOUT", 10, env),
        "ALERTS_MAIL_FROM": env_str("ALERTS_MAIL_FROM", "camnet <canh-bao@camnet.invalid>", env),
        # Webhooks: timeout, and networks a webhook or push address may point into besides the
        # public internet (loopback and private networks are refused unless listed here).
        "ALERTS_HTTP_TIMEOUT": env_int("ALERTS_HTTP_TIMEOUT", 10, env),
        "ALERTS_ALLOWED_NETWORKS": env_list("ALERTS_ALLOWED_NETWORKS", [], env),
        # Web Push (VAPID): the private key (PEM or base64url); empty: generated into the instance folder.
        "ALERTS_VAPID_PRIVATE_KEY": env_str("ALERTS_VAPID_PRIVATE_KEY", None, env),
        "ALERTS_VAPID_SUBJECT": env_str("ALERTS_VAPID_SUBJECT", "mailto:canh-bao@camnet.invalid", env),
        # SMS through an Apprise URL with {to} for the number (e.g. a gateway's URL); empty: no SMS.
        "ALERTS_SMS_URL": env_str("ALERTS_SMS_URL", None, env),
        # Zalo Official Account: the OA message API and its access token; empty token: no Zalo.
        "ALERTS_ZALO_API_URL": env_str("ALERTS_ZALO_API_URL", "https://openapi.zalo.me/v3.0/oa/message/cs", env),
        "ALERTS_ZALO_ACCESS_TOKEN": env_str("ALERTS_ZALO_ACCESS_TOKEN", None, env),
    }
