"""Alembic environment: the models' metadata is the target; the URL comes from the caller."""

from __future__ import annotations

import os

from alembic import context

from directory.registry.db import make_engine
from directory.registry.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from directory.config import Config

    return os.environ.get("DATABASE_URL") or Config.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection
        if sqlite and raw is not None:
            # Batch mode rebuilds a table by copy-and-rename; enforced foreign keys would refuse
            # to drop the original while other tables point at it. Checked again below.
            # (On the raw connection: the pragma is ignored inside a transaction.)
            raw.execute("PRAGMA foreign_keys=OFF")
        # Batch mode lets later migrations alter tables on SQLite, which cannot ALTER much.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
