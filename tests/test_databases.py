"""What the registry must do alike on SQLite and PostgreSQL, where the two databases differ:
numbering rows, time zones, locks, and writers that run side by side.

Every test runs on both (BOTH_DATABASES in conftest.py), except those marked
`postgresql_only`: what cannot happen on SQLite, which has one writer at a time.
"""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from directory.demo import generate_into
from directory.provider_data.batch import import_records
from directory.provider_data.files import read_records
from directory.provider_data.formats.json_format import json_activity
from directory.provider_data.published import example_payloads
from directory.registry.db import is_busy, make_engine, make_sessionmaker
from directory.registry.models import Activity, Provider, utcnow
from indexer import sync
from indexer.embedded import EmbeddedEngine
from indexer.sync import full_reindex, incremental_sync
from tests import factories as f
from tests.factories import TODAY


def import_one(sessions, provider_id: int) -> int:
    """Create one activity through a provider's file, as the web service does; its id."""
    import json

    payload = dict(example_payloads()[0], provider_activity_id="NEW-1")
    data = json.dumps({"activities": [json_activity(payload)]}).encode()
    report = import_records(
        sessions, provider_id, lambda: read_records("new.json", data), TODAY, source="batch"
    )
    assert report.written, [str(m) for m in report.errors]
    (activity_id,) = report.activity_ids
    return activity_id


def test_rows_numbered_by_the_database_follow_rows_loaded_with_their_ids(engine):
    generate_into(engine, count=40, seed=5, today=TODAY)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        top_provider = session.scalar(select(func.max(Provider.id)))
        top_activity = session.scalar(select(func.max(Activity.id)))
        provider = Provider(name="A provider added later", accreditation_status="Accreditation")
        session.add(provider)
        session.flush()  # PostgreSQL without advance_sequences: duplicate key, id 1
        assert provider.id > top_provider
    assert import_one(sessions, provider.id) > top_activity


def test_datetimes_come_back_in_utc_as_written(engine):
    written = utcnow().replace(microsecond=0)
    with Session(engine) as session:
        session.add(f.provider(id=1, created_at=written))
        session.commit()
    with Session(engine) as session:
        read = session.scalar(select(Provider.created_at))
    # SQLite hands back naive datetimes (in UTC); PostgreSQL aware ones, in the session's zone,
    # which the registry sets to UTC whatever the server's default.
    assert read.utcoffset() in (None, timedelta(0))
    assert read.replace(tzinfo=UTC) == written


@pytest.fixture
def one_activity(engine):
    with Session(engine) as session:
        session.add(f.activity(id=1, provider_activity_id="A-1"))
        session.commit()


def hold_the_activity(database_url, database_kind):
    """A connection in a transaction that has written the activity, as a batch import would;
    on SQLite that takes the one write lock, on PostgreSQL the row's."""
    import sqlite3

    if database_kind == "sqlite":
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE activities SET title = title")
        return holder, lambda: (holder.execute("ROLLBACK"), holder.close())
    engine = make_engine(database_url)
    holder = engine.connect()
    holder.execute(text("UPDATE activities SET title = title"))

    def release():
        holder.rollback()
        holder.close()
        engine.dispose()

    return holder, release


def test_a_write_that_waits_for_another_writer_gives_up_busy_after_the_timeout(
    one_activity, database_url, database_kind
):
    _, release = hold_the_activity(database_url, database_kind)
    waiting = make_engine(database_url, busy_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised, waiting.begin() as conn:
            conn.execute(update(Activity).values(title="Edited"))
        # PostgreSQL, by default, waits for a row lock for ever.
        assert time.monotonic() - started < 5
        assert is_busy(raised.value), raised.value
    finally:
        waiting.dispose()
        release()


@pytest.mark.postgresql_only
def test_a_conflict_between_serializable_writers_is_busy(one_activity, database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as one, engine.connect() as two:
            for conn in (one, two):
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                conn.execute(select(Activity.title)).all()  # both take their snapshot
            one.execute(update(Activity).values(title="One"))
            one.commit()
            with pytest.raises(OperationalError) as raised:
                two.execute(update(Activity).values(title="Two"))
            assert is_busy(raised.value), raised.value
    finally:
        engine.dispose()


@pytest.mark.postgresql_only
def test_a_deletion_committed_after_a_later_one_still_leaves_search(engine, tmp_path):
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        provider = f.provider(id=1)
        session.add(f.activity(id=1, provider_activity_id="A-1", provider=provider))
        session.add(f.activity(id=2, provider_activity_id="B-1", provider=provider))
    search = EmbeddedEngine(tmp_path / "search.sqlite3")
    full_reindex(sessions, search, "key", TODAY)
    assert search.ids() == {1, 2}

    slow = sessions()  # deletes activity 1 first: its tombstone gets the lower number ...
    slow.delete(slow.get(Activity, 1))
    slow.flush()
    with sessions.begin() as session:  # ... but commits after activity 2's deletion
        session.delete(session.get(Activity, 2))
    incremental_sync(sessions, search, "key", TODAY)  # sees 2's tombstone, not 1's
    slow.commit()
    slow.close()

    incremental_sync(sessions, search, "key", TODAY)
    assert search.ids() == set()


@pytest.mark.postgresql_only
def test_what_a_long_import_stamped_before_a_sync_read_is_indexed_once_it_commits(
    engine, tmp_path, monkeypatch
):
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(f.provider(id=1))
    search = EmbeddedEngine(tmp_path / "search.sqlite3")
    full_reindex(sessions, search, "key", TODAY)

    importing = sessions()  # stamps its rows now, and commits minutes later
    provider = importing.get(Provider, 1)
    importing.add(f.activity(id=1, provider_activity_id="A-1", provider=provider))
    importing.flush()
    clock = sync.utcnow
    monkeypatch.setattr(sync, "utcnow", lambda: clock() + timedelta(minutes=5))
    incremental_sync(sessions, search, "key", TODAY)  # meanwhile: nothing new to see yet
    importing.commit()
    importing.close()

    incremental_sync(sessions, search, "key", TODAY)
    assert search.ids() == {1}


def test_an_id_given_again_after_its_deletion_is_indexed(engine, tmp_path):
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add(f.provider(id=1))
    search = EmbeddedEngine(tmp_path / "search.sqlite3")
    full_reindex(sessions, search, "key", TODAY)
    first = import_one(sessions, 1)
    incremental_sync(sessions, search, "key", TODAY)
    with sessions.begin() as session:
        session.delete(session.get(Activity, first))
    again = import_one(sessions, 1)  # SQLite gives the highest id anew; PostgreSQL does not
    incremental_sync(sessions, search, "key", TODAY)
    assert search.ids() == {again}


@pytest.fixture
def key(engine):
    from directory.registry import api_keys

    with Session(engine) as session:
        provider = f.provider(id=1)
        session.add(provider)
        issued = api_keys.issue(session, provider, "t").key
        session.commit()
    return issued


@pytest.mark.parametrize(
    "filename", ["x" * 300 + ".csv", "activities\x00.csv"], ids=["300 characters", "a NUL"]
)
def test_any_upload_name_is_kept_with_its_job(client, key, filename):
    from urllib.parse import quote

    from directory.provider_data import published

    auth = {"Authorization": f"Bearer {key}"}
    response = client.post(
        f"/api/v1/provider/batch?job=1&filename={quote(filename)}",
        data=published.example("csv")[2],
        headers=auth,
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    for _ in range(300):  # the job runs in a thread: let it finish before the database goes
        job = client.get(response.get_json()["links"]["job"], headers=auth).get_json()["job"]
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert job["filename"].endswith(".csv") and len(job["filename"]) <= 255
