"""Alembic is the only way the schema changes: `upgrade head` must give what the models declare.

Run on SQLite and on PostgreSQL (see BOTH_DATABASES in conftest.py), each from an empty database.
"""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect, text

from directory.registry.db import alembic_config, make_engine, upgrade
from directory.registry.models import Base


def schema_diff(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_database_yields_the_models_schema(empty_database_url):
    url = empty_database_url
    upgrade(url)
    assert schema_diff(url) == []
    assert set(Base.metadata.tables) <= table_names(url)


def test_upgrade_is_idempotent_and_downgrade_round_trips(empty_database_url):
    url = empty_database_url
    upgrade(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    assert table_names(url) <= {"alembic_version"}
    upgrade(url)
    assert schema_diff(url) == []


def test_upgrading_a_populated_first_release_keeps_every_row(empty_database_url):
    from directory.demo import generate
    from tests.factories import TODAY

    url = empty_database_url
    make_engine(url).dispose()
    command.upgrade(alembic_config(url), "0001")
    engine = make_engine(url)
    chunks = dict(list(generate(200, 1, TODAY))[:2])  # providers and the first activities
    with engine.begin() as conn:
        # The first release's providers table, as it was: no updated_at column yet.
        conn.execute(
            text(
                "INSERT INTO providers (id, name, accreditation_status, created_at) VALUES (:id, :name, :accreditation_status, :created_at)"
            ),
            chunks["providers"],
        )
        # The first release's activities table, as it was: only the columns it had then.
        first = Table("activities", MetaData(), autoload_with=conn)
        conn.execute(
            first.insert(),
            [{k: v for k, v in row.items() if k in first.c} for row in chunks["activities"]],
        )
    upgrade(url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM activities")) == 200
        assert (
            conn.scalar(text("SELECT count(*) FROM providers WHERE updated_at IS NOT NULL")) == 60
        )
        if conn.dialect.name == "sqlite":
            # The migrations turn SQLite's foreign keys off to rebuild tables: back on after.
            assert conn.scalar(text("PRAGMA foreign_keys")) == 1
    engine.dispose()
    assert schema_diff(url) == []
