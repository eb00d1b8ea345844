"""Alembic is the only way the schema changes: `upgrade head` must give what the models declare."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from directory.registry.db import alembic_config, make_engine, upgrade
from directory.registry.models import Base


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


def test_upgrading_a_populated_first_release_keeps_every_row(tmp_path):
    from directory.demo import TABLES, generate
    from tests.factories import TODAY

    url = f"sqlite:///{tmp_path / 'populated.sqlite3'}"
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
        conn.execute(TABLES["activities"].insert(), chunks["activities"])
    upgrade(url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM activities")) == 200
        assert (
            conn.scalar(text("SELECT count(*) FROM providers WHERE updated_at IS NOT NULL")) == 60
        )
        assert conn.scalar(text("PRAGMA foreign_keys")) == 1
    assert schema_diff(url) == []
