"""Settings read from the environment, in one place, with embedded defaults."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET = "camnet-dev-secret-change-me"


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
        "SECRET_KEY": env_str("SECRET_KEY", DEFAULT_SECRET, env),
        "SQLALCHEMY_DATABASE_URI": env_str(
            "DATABASE_URL", f"sqlite:///{instance / 'camnet.db'}", env
        ),
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
        "LOGIN_MAX_FAILURES": env_int("LOGIN_MAX_FAILURES", 5, env),
        "LOGIN_FAILURE_WINDOW": env_int("LOGIN_FAILURE_WINDOW", 30, env),
        "LOGIN_LOCKOUT_SECONDS": env_int("LOGIN_LOCKOUT_SECONDS", 300, env),
        "PRESIGN_SECONDS": min(env_int("PRESIGN_SECONDS", 300, env), 300),
        "DEFAULT_LANG": env_str("CAMNET_LANG", "vi", env),
        # Map tiles (e.g. a tile server inside the district network); empty: no tiles, cameras on a plain map.
        "MAP_TILE_URL": env_str("MAP_TILE_URL", "", env),
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
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # PostgreSQL connections kept, and allowed beyond, per process (``pool_options``)
        "DB_POOL_SIZE": env_int("DB_POOL_SIZE", 20, env),
        "DB_MAX_OVERFLOW": env_int("DB_MAX_OVERFLOW", 10, env),
        "DB_POOL_TIMEOUT": env_int("DB_POOL_TIMEOUT", 10, env),
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
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def validate(config) -> None:
    """Refuse to run in production on defaults that are only safe on a laptop."""
    if config.get("ENV_NAME") == "production":
        secret = config.get("SECRET_KEY")
        if not secret or secret == DEFAULT_SECRET or len(secret) < 32:
            raise SettingsError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        if not config.get("CAMERA_SECRET_KEY"):
            raise SettingsError("CAMERA_SECRET_KEY must be set in production")
