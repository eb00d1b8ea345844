"""Alembic is the only way the schema changes: `upgrade head` must give what the models declare."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from directory.db import alembic_config, make_engine, upgrade
from directory.models import Base


def schema_diff(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def test_upgrade_head_on_an_empty_database_yields_the_models_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(url)
    assert schema_diff(url) == []
    tables = set(inspect(make_engine(url)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_upgrade_is_idempotent_and_downgrade_round_trips(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    upgrade(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    assert set(inspect(make_engine(url)).get_table_names()) <= {"alembic_version"}
    upgrade(url)
    assert schema_diff(url) == []
