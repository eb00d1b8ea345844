"""Faults a deployment meets: a long batch import holding the registry's locks (SQLite's one
write lock, PostgreSQL's row locks), and several worker processes that must sign sessions
with one key."""

from __future__ import annotations

import sqlite3
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from directory.config import Config, persistent_secret
from directory.registry import api_keys
from directory.registry.db import make_engine
from directory.registry.models import ApiKey
from directory.web.app import create_app
from tests import factories as f


@pytest.fixture
def busy_app(database_url, tmp_path):
    # A short busy timeout keeps the test quick; production waits DATABASE_BUSY_TIMEOUT (5 s).
    config = Config(
        database_url=database_url, data_dir=tmp_path, secret_key="test", database_busy_timeout=0.2
    )
    return create_app(config)


@pytest.fixture
def key(engine):
    with Session(engine) as session:
        provider = f.provider(id=1, name="Provider A")
        session.add(f.activity(id=None, provider=provider, provider_activity_id="A-1"))
        issued = api_keys.issue(session, provider, "test")
        session.commit()
    return issued.key


@pytest.fixture
def write_lock(database_url, database_kind):
    """Another process's batch import, in a transaction that holds its locks: on SQLite the
    one write lock; on PostgreSQL, which locks rows, those of the activities it rewrites."""
    if database_kind == "sqlite":
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE providers SET name = name")
        yield holder
        holder.execute("ROLLBACK")
        holder.close()
        return
    engine = make_engine(database_url)
    with engine.connect() as holder:
        holder.execute(text("UPDATE activities SET title = title"))
        yield holder
        holder.rollback()
    engine.dispose()


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def test_reads_need_no_write_lock(busy_app, key, write_lock):
    client = busy_app.test_client()
    listing = client.get("/api/v1/provider/activities", headers=auth(key))
    assert listing.status_code == 200, listing.get_data(as_text=True)
    assert listing.get_json()["total"] == 1
    assert client.get("/").status_code == 200
    assert client.get("/providers/1").status_code == 200


def test_a_write_that_cannot_get_the_lock_is_503_with_retry_after(busy_app, key, write_lock):
    client = busy_app.test_client()
    response = client.post("/api/v1/provider/activities/A-1/withdraw", headers=auth(key))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "try again" in response.get_json()["error"]["message"]


def test_key_use_is_recorded_at_most_once_a_minute(busy_app, key, engine):
    client = busy_app.test_client()
    assert client.get("/api/v1/provider/activities", headers=auth(key)).status_code == 200
    with Session(engine) as session:
        first = session.scalar(select(ApiKey.last_used_at))
    assert first is not None
    assert client.get("/api/v1/provider/activities", headers=auth(key)).status_code == 200
    with Session(engine) as session:
        assert session.scalar(select(ApiKey.last_used_at)) == first
        record = session.scalar(select(ApiKey))
        record.last_used_at = first - timedelta(minutes=2)
        session.commit()
    assert client.get("/api/v1/provider/activities", headers=auth(key)).status_code == 200
    with Session(engine) as session:
        assert session.scalar(select(ApiKey.last_used_at)) > first - timedelta(minutes=2)


def test_workers_without_secret_key_share_one_kept_in_the_data_folder(database_url, tmp_path):
    one = create_app(Config(database_url=database_url, data_dir=tmp_path))
    two = create_app(Config(database_url=database_url, data_dir=tmp_path))
    assert one.config["SECRET_KEY"] == two.config["SECRET_KEY"]
    assert len(one.config["SECRET_KEY"]) >= 32
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert persistent_secret(tmp_path) == one.config["SECRET_KEY"]


def test_a_set_secret_key_wins(database_url, tmp_path):
    app = create_app(Config(database_url=database_url, data_dir=tmp_path, secret_key="set"))
    assert app.config["SECRET_KEY"] == "set"
    assert not (tmp_path / "secret_key").exists()
