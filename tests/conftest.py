"""Shared fixtures: a migrated registry per test, and the Flask app on top of it.

The registry is SQLite, except in the modules of BOTH_DATABASES (or marked `both_databases`):
there every test that uses a database runs twice, as `test[sqlite]` and `test[postgresql]`,
the second on the throwaway PostgreSQL of `scripts/postgres` (see tests/postgres_server.py).
"""

from __future__ import annotations

import threading

import pytest

from directory.config import Config
from directory.registry.db import make_engine, upgrade
from directory.web.app import create_app

DATABASE_KINDS = ("sqlite", "postgresql")

# Test modules whose database tests run on SQLite and on PostgreSQL: one line per module (or
# `pytestmark = pytest.mark.both_databases` in the module). A test is run on both when it uses
# `database_url` or `empty_database_url`, directly or through `engine`, `app` or `client`.
BOTH_DATABASES = frozenset(
    {
        "test_migrations",
        "test_rules",
        "test_provider_batch",
        "test_provider_files",
        "test_provider_api",
        "test_sync",
        "test_jobs",
        "test_databases",
        "test_demo",
        "test_faults",
        "test_reference",
        "test_roster",
        "test_real_provider_batch",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run this module's database tests on SQLite and PostgreSQL"
    )
    config.addinivalue_line(
        "markers",
        "postgresql_only: in a both-databases module, a test of what cannot happen on SQLite",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_kind" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rpartition(".")[2]
    if module in BOTH_DATABASES or metafunc.definition.get_closest_marker("both_databases"):
        only = metafunc.definition.get_closest_marker("postgresql_only")
        kinds = ("postgresql",) if only else DATABASE_KINDS
        metafunc.parametrize("database_kind", kinds, indirect=True)


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    """The database of this test: "sqlite" unless pytest_generate_tests says otherwise."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_databases():
    """This session's PostgreSQL databases (skips, or fails under CI, without a server)."""
    from tests.postgres_server import connect_or_skip

    databases = connect_or_skip()
    yield databases
    databases.close()


@pytest.fixture
def database_url(database_kind, tmp_path, request):
    """A registry at the newest schema, of its own for this test."""
    if database_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
        upgrade(url)
        yield url
        return
    databases = request.getfixturevalue("postgres_databases")
    name = databases.create(template=databases.migrated_template())
    yield databases.url(name)
    databases.drop(name)


@pytest.fixture
def empty_database_url(database_kind, tmp_path, request):
    """An empty database (no schema), of its own for this test: for migration tests."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    databases = request.getfixturevalue("postgres_databases")
    name = databases.create()
    yield databases.url(name)
    databases.drop(name)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(Config(database_url=database_url, data_dir=tmp_path, secret_key="test"))
    yield app
    # A batch job's worker thread (directory/web/jobs.py) may still be finishing with the
    # registry; then the pooled connections would outlive the test (and its PostgreSQL database).
    for thread in threading.enumerate():
        if thread.name == "batch-jobs":
            thread.join(timeout=30)
    app.extensions["directory_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def dump_database(url: str) -> str:
    """Every row of every table in primary-key order, as text: equal dumps, equal contents.
    (Through SQLAlchemy, so that it reads SQLite and PostgreSQL alike.)"""
    from sqlalchemy import MetaData, select

    engine = make_engine(url)
    lines = []
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in sorted(metadata.tables.values(), key=lambda t: t.name):
                order = list(table.primary_key.columns) or list(table.columns)
                lines.append(f"-- {table.name}")
                lines += [repr(tuple(row)) for row in conn.execute(select(table).order_by(*order))]
    finally:
        engine.dispose()
    return "\n".join(lines)


def index_app(app) -> None:
    """Build the app's configured search index from its registry, as `directory index` does."""
    from directory.web.context import today
    from directory.web.search_service import search_engine
    from indexer import index_key
    from indexer.sync import full_reindex

    with app.app_context():
        full_reindex(
            app.extensions["directory_sessions"],
            search_engine(),
            index_key(app.config["DIRECTORY"]),
            today(),
        )
