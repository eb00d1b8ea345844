"""Shared fixtures: a migrated SQLite registry per test, and the Flask app on top of it."""

from __future__ import annotations

import pytest

from directory.config import Config
from directory.registry.db import make_engine, upgrade
from directory.web.app import create_app


@pytest.fixture
def database_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    return create_app(Config(database_url=database_url, data_dir=tmp_path, secret_key="test"))


@pytest.fixture
def client(app):
    return app.test_client()


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
