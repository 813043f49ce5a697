"""Alembic environment: the app's engine and metadata (Flask-SQLAlchemy 3)."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
# Migrations run as the owner role (DATABASE_MIGRATE_URL) when one is set; else as DATABASE_URL.
MIGRATE_URL = current_app.config.get("DATABASE_MIGRATE_URL") or None
config.set_main_option(
    "sqlalchemy.url",
    (MIGRATE_URL or target_db.engine.url.render_as_string(hide_password=False)).replace("%", "%%"),
)


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_as_batch", True)  # SQLite needs batch mode for ALTERs
    engine = target_db.engine
    if MIGRATE_URL:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(MIGRATE_URL, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
                # upgrade, downgrade and stamp name a revision (current, check and heads do not):
                # then the scope key and the application role's privileges are written too
                if connection.dialect.name == "postgresql" and _names_revision():
                    _after_migrations(connection)
    finally:
        if engine is not target_db.engine:
            engine.dispose()


def _names_revision() -> bool:
    try:
        return context.get_revision_argument() is not None
    except KeyError:  # a command without a destination
        return False


def _after_migrations(connection):
    from camnet import settings
    from camnet.tenants import rls

    app_role = current_app.config.get("DATABASE_APP_ROLE") or target_db.engine.url.username
    for note in rls.after_migrations(connection, settings.scope_signing_key(current_app.config), app_role):
        logger.info(note)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
