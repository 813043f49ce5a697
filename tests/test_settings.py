"""Settings come from the environment; production refuses unsafe defaults."""
import pytest

from camnet import create_app, settings
from camnet.coord import InProcessStore, RedisStore
from camnet.storage import LocalStore, S3Store


def test_embedded_defaults_use_sqlite_local_folder_and_in_process(tmp_path):
    cfg = settings.from_env(env={}, instance_path=str(tmp_path))
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and str(tmp_path) in cfg["SQLALCHEMY_DATABASE_URI"]
    app = create_app({"INSTANCE_DIR": str(tmp_path), "OBJECT_DIR": str(tmp_path / "o"),
                      "SQLALCHEMY_DATABASE_URI": cfg["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": None,
                      "S3_ENDPOINT": None})
    assert isinstance(app.extensions["camnet.coord"], InProcessStore)
    assert isinstance(app.extensions["camnet.storage"], LocalStore)


def test_environment_selects_postgres_s3_and_redis_cluster(tmp_path, live_services):
    env = {"DATABASE_URL": "postgresql+psycopg://camnet@127.0.0.1/x",
           "S3_ENDPOINT": live_services["CAMNET_TEST_S3"], "S3_BUCKET": "settings-test",
           "REDIS_URL": "redis+cluster://" + live_services["CAMNET_TEST_REDIS_CLUSTER"].split("://")[1]}
    cfg = settings.from_env(env=env, instance_path=str(tmp_path))
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    app = create_app({k: v for k, v in cfg.items()})
    store = app.extensions["camnet.coord"]
    assert isinstance(store, RedisStore)
    from redis.cluster import RedisCluster
    assert isinstance(store.client, RedisCluster) and store.ping()
    assert isinstance(app.extensions["camnet.storage"], S3Store)
    assert app.extensions["camnet.storage"].ping()


def test_minio_variable_names_work_too(tmp_path):
    cfg = settings.from_env(env={"MINIO_ENDPOINT": "127.0.0.1:9", "MINIO_BUCKET": "b"}, instance_path=str(tmp_path))
    assert cfg["S3_ENDPOINT"] == "127.0.0.1:9" and cfg["S3_BUCKET"] == "b"


@pytest.mark.parametrize("secret", [None, settings.DEFAULT_SECRET, "short"])
def test_production_refuses_default_or_missing_secret(tmp_path, secret):
    with pytest.raises(settings.SettingsError, match="SECRET_KEY"):
        create_app({"INSTANCE_DIR": str(tmp_path), "ENV_NAME": "production", "SECRET_KEY": secret,
                    "CAMERA_SECRET_KEY": "x"})


def test_production_sets_secure_cookies(tmp_path):
    cfg = settings.from_env(env={"CAMNET_ENV": "production"}, instance_path=str(tmp_path))
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_HTTPONLY"]
    assert cfg["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_bad_typed_setting_names_the_variable():
    with pytest.raises(settings.SettingsError, match="LOGIN_MAX_FAILURES"):
        settings.from_env(env={"LOGIN_MAX_FAILURES": "many"})


def test_connection_pool_is_sized_for_a_server_database_only(make_app, tmp_path):
    """The sizes follow the final URL: a caller's config may turn the environment's SQLite into
    PostgreSQL (as the tests do), and SQLite's pools refuse a size."""
    from camnet.extensions import db

    app = make_app("postgres", {"DB_POOL_SIZE": 7, "DB_MAX_OVERFLOW": 3})
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (7, 3)
    app = make_app("sqlite", {"DB_POOL_SIZE": 7})
    assert "pool_size" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    with app.app_context():
        assert db.engine.dialect.name == "sqlite"
    assert settings.from_env(env={"DB_POOL_SIZE": "12"}, instance_path=str(tmp_path))["DB_POOL_SIZE"] == 12
    with pytest.raises(settings.SettingsError, match="DB_POOL_SIZE"):
        settings.from_env(env={"DB_POOL_SIZE": "many"}, instance_path=str(tmp_path))


@pytest.mark.parametrize("secret", [settings.DEFAULT_SECRET, " camnet-dev-secret-change-me ", "changeme"])
def test_a_publicly_known_secret_is_refused_even_in_development(tmp_path, secret):
    """A cookie signed with a key from the docs or the old default would be anyone's admin session."""
    with pytest.raises(settings.SettingsError, match="SECRET_KEY is a publicly known value"):
        create_app({"INSTANCE_DIR": str(tmp_path), "SECRET_KEY": secret})


def test_without_a_secret_development_generates_one_and_production_refuses(tmp_path):
    cfg = settings.from_env(env={}, instance_path=str(tmp_path))
    assert cfg["SECRET_KEY"] is None
    settings.ensure_secret_key(cfg)
    assert len(cfg["SECRET_KEY"]) >= 32 and (tmp_path / settings.SECRET_FILE).read_text() == cfg["SECRET_KEY"]
    prod = settings.from_env(env={"CAMNET_ENV": "production"}, instance_path=str(tmp_path / "p"))
    with pytest.raises(settings.SettingsError, match="SECRET_KEY must be set"):
        settings.ensure_secret_key(prod)
    assert not (tmp_path / "p" / settings.SECRET_FILE).exists()  # replicas must share one key: none is made


def test_request_limits_come_from_the_environment(tmp_path):
    cfg = settings.from_env(env={"MAX_REQUEST_BYTES": "1048576", "MAX_JSON_DEPTH": "8"}, instance_path=str(tmp_path))
    assert (cfg["MAX_REQUEST_BYTES"], cfg["MAX_JSON_DEPTH"]) == (1048576, 8)
    assert settings.from_env(env={}, instance_path=str(tmp_path))["MAX_REQUEST_BYTES"] == 16 * 1024 * 1024
