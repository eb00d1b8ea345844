"""The indexer against records it cannot index, and against engines that fail.

A record that cannot be indexed is skipped, named and retried, and never stops the others; the
engine failing is never mistaken for one: it raises and the checkpoint stays where it was.
The contract suite (tests/test_search_contract.py) holds the same cases for both engines;
these are the paths around them: the command line, a provider's write, a record that cannot
even be read or rendered, and each engine failing.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from opensearchpy import OpenSearch
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from directory.cli import cli
from directory.config import Config
from directory.registry import api_keys
from directory.registry.db import make_sessionmaker
from directory.registry.models import Activity, IndexState, Provider
from directory.web.app import create_app
from indexer import sync
from indexer.embedded import EmbeddedEngine
from indexer.engine import IndexingError, SearchUnavailable
from indexer.opensearch import OpenSearchEngine
from indexer.sync import full_reindex, incremental_sync
from tests import factories as f
from tests.factories import TODAY
from tests.opensearch_server import (
    connect_or_skip,
    delete_indices,
    opensearch_url,
    unique_index_prefix,
)

BAD = 210000123
KEY = "faults"


def listed_activities(today, count=4):
    provider = f.provider(id=9000, name="Northfield Academy of Medicine")
    return [
        f.activity(
            id=i,
            provider_activity_id=f"G{i}",
            provider=provider,
            title=f"Course {i}",
            start_date=today + timedelta(days=30),
            end_date=today + timedelta(days=31),
            moc=[f.abim(claim_deadline=today + timedelta(days=120))],
        )
        for i in range(1, count + 1)
    ]


def unencodable(session, today):
    """A record saved before input validation existed: a lone surrogate in its keywords."""
    return f.activity(
        id=BAD,
        provider_activity_id="OLD-1",
        provider=session.get(Provider, 9000),
        keywords=["\udfff"],
        start_date=today + timedelta(days=30),
        end_date=today + timedelta(days=31),
        moc=[f.abim(claim_deadline=today + timedelta(days=120))],
    )


@pytest.fixture
def sessions(engine):
    with Session(engine) as session:
        session.add_all(listed_activities(TODAY))
        session.commit()
    return make_sessionmaker(engine)


@pytest.fixture
def embedded(tmp_path):
    return EmbeddedEngine(tmp_path / "search.sqlite3")


def state(sessions, key=KEY):
    with sessions() as session:
        rows = session.scalars(select(IndexState).order_by(IndexState.index_key)).all()
        return {
            r.index_key: (r.changed_since, r.as_of_day) for r in rows if r.index_key.startswith(key)
        }


# --- the command line and a provider's write ------------------------------------------------


@pytest.fixture(params=["embedded", "opensearch"])
def cli_app(request, database_url, tmp_path):
    backend = {"search_backend": request.param}
    cleanup = None
    if request.param == "opensearch":
        client = connect_or_skip()
        prefix = unique_index_prefix("faults-cli")
        backend |= {"opensearch_url": opensearch_url(), "opensearch_index_prefix": prefix}
        cleanup = lambda: delete_indices(client, prefix)  # noqa: E731
    app = create_app(
        Config(database_url=database_url, data_dir=tmp_path, secret_key="test", **backend)
    )
    yield app
    if cleanup:
        cleanup()


def test_index_and_sync_name_the_activity_they_skipped_and_index_the_rest(cli_app, engine):
    with cli_app.app_context():
        from directory.web.context import today

        day = today()
    with Session(engine) as session:
        session.add_all(listed_activities(day))
        session.commit()
        session.add(unencodable(session, day))
        session.commit()
    runner = cli_app.test_cli_runner()
    line = "skipped 1 activity that could not be indexed: 210000123 (text is not valid Unicode)"

    indexed = runner.invoke(cli, ["index"])
    assert indexed.exit_code == 0, indexed.output
    assert "indexed 4 listed activities" in indexed.output
    assert line in indexed.output.splitlines()

    synced = runner.invoke(cli, ["sync"])
    assert synced.exit_code == 0, synced.output
    assert "incremental sync: 0 written, 0 removed" in synced.output
    assert line in synced.output.splitlines()  # retried, and still reported


def test_a_provider_can_write_while_an_old_record_cannot_be_indexed(app, client, engine):
    with app.app_context():
        from directory.web.context import today

        day = today()
    with Session(engine) as session:
        session.add_all(listed_activities(day))
        session.commit()
        session.add(unencodable(session, day))
        key = api_keys.issue(session, session.get(Provider, 9000), "test").key
        session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    course = f"""{{
        "provider_activity_id": "NEW-1", "title": "Update in Atrial Fibrillation",
        "format": "Enduring Material", "status": "Active",
        "start_date": "{day - timedelta(days=1)}", "end_date": "{day + timedelta(days=300)}",
        "description": "Anticoagulation after the latest trials.", "delivery": "online",
        "cme_credits": 2, "providership": "direct", "show_in_directory": true, "fee": 0,
        "registration": "open to all", "url": "https://cme.example.org/afib",
        "moc": [{{"board": "ABIM", "practice_areas": ["Cardiovascular Disease"],
                  "credit_types": ["Medical Knowledge"], "points": 2,
                  "claim_deadline": "{day + timedelta(days=300)}", "attested": true}}]
    }}"""

    for _ in range(2):  # the first write's sync is a full reindex, the second's incremental
        response = client.put(
            "/api/v1/provider/activities/NEW-1",
            data=course,
            headers=headers | {"Content-Type": "application/json"},
        )
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        assert response.get_json()["search"]["appears"] == "now"
    found = client.get("/api/v1/search?q=atrial+fibrillation").get_json()
    assert found["total"] == 1


# --- records that cannot be read or rendered ------------------------------------------------


def test_a_record_that_cannot_be_read_is_skipped(sessions, embedded, engine):
    with engine.begin() as conn:  # a JSON column holding what is not JSON, as raw SQL can
        conn.execute(text("UPDATE activities SET objectives = '[not json' WHERE id = 2"))

    stats = full_reindex(sessions, embedded, KEY, TODAY)

    assert list(stats.skipped) == [2] and "JSONDecodeError" in stats.skipped[2]
    assert embedded.ids() == {1, 3, 4}
    with engine.begin() as conn:
        conn.execute(text("""UPDATE activities SET objectives = '["Fixed"]' WHERE id = 2"""))
    assert incremental_sync(sessions, embedded, KEY, TODAY).skipped == {}  # retried: indexed
    assert embedded.ids() == {1, 2, 3, 4}


def test_a_record_that_cannot_be_rendered_is_skipped_and_a_deleted_one_forgotten(
    sessions, embedded, monkeypatch
):
    real = sync.to_document

    def to_document(activity, today, ref=None):
        if activity.id == 3:
            raise KeyError("Hologram")  # e.g. a format the reference data no longer has
        return real(activity, today, ref)

    full_reindex(sessions, embedded, KEY, TODAY)
    monkeypatch.setattr(sync, "to_document", to_document)
    with sessions.begin() as session:
        session.get(Activity, 3).title = "Course 3, revised"
        session.get(Activity, 4).title = "Course 4, revised"

    stats = incremental_sync(sessions, embedded, KEY, TODAY)

    assert stats.skipped == {3: "KeyError: 'Hologram'"}
    assert (stats.upserted, stats.deleted) == (1, 1)  # 4 rewritten; 3's stale version removed
    assert embedded.ids() == {1, 2, 4}
    assert f"{KEY}#skipped:3" in state(sessions)

    with sessions.begin() as session:
        session.delete(session.get(Activity, 3))
    stats = incremental_sync(sessions, embedded, KEY, TODAY)
    assert stats.skipped == {} and (stats.upserted, stats.deleted) == (0, 0)
    assert list(state(sessions)) == [KEY]  # the deleted record is no longer retried


def test_a_reindex_where_nothing_renders_keeps_the_previous_index(sessions, embedded, monkeypatch):
    full_reindex(sessions, embedded, KEY, TODAY)
    before = state(sessions)

    def broken(activity, today, ref=None):
        raise AttributeError("'NoneType' object has no attribute 'live'")

    monkeypatch.setattr(sync, "to_document", broken)
    with pytest.raises(IndexingError) as caught:
        full_reindex(sessions, embedded, KEY, TODAY)
    assert set(caught.value.failures) == {1, 2, 3, 4}
    assert embedded.ids() == {1, 2, 3, 4}  # the previous index, still serving
    assert state(sessions) == before


# --- what SQLite refuses of one document ----------------------------------------------------


def test_the_embedded_engine_refuses_a_document_sqlite_cannot_store_alone(sessions, embedded):
    docs = list(sync.iter_documents(sessions, TODAY))
    no_end = dict(docs[1], end_date=None)  # NOT NULL in the docs table
    list_as_date = dict(docs[2], claim_deadline=["2027-01-01"])  # binds no list

    stats = embedded.reindex([docs[0], no_end, list_as_date, docs[3]])

    assert set(stats.skipped) == {2, 3} and stats.documents == 2
    assert "NOT NULL constraint failed: docs.end_date" in stats.skipped[2]
    assert embedded.ids() == {1, 4}
    # An upsert likewise; and the version a refused document would replace is gone.
    refused = embedded.upsert([dict(docs[0], title="\ud83d broken emoji"), docs[1]])
    assert refused == {1: "text is not valid Unicode"}
    assert embedded.ids() == {2, 4}
    assert embedded.documents([1, 2, 99]) == {2: docs[1]}


# --- the engine failing is not a bad record -------------------------------------------------


def test_an_embedded_engine_that_fails_raises_and_records_no_progress(
    sessions, embedded, monkeypatch
):
    full_reindex(sessions, embedded, KEY, TODAY)
    before = state(sessions)
    with sessions.begin() as session:
        session.get(Activity, 2).title = "Course 2, revised"

    def disk_full(conn, docs, pending):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("indexer.embedded.store.insert", disk_full)
    with pytest.raises(IndexingError, match="disk is full") as caught:
        incremental_sync(sessions, embedded, KEY, TODAY)
    assert set(caught.value.failures) == {2}
    with pytest.raises(IndexingError, match="disk is full"):
        full_reindex(sessions, embedded, KEY, TODAY)
    assert state(sessions) == before
    assert embedded.ids() == {1, 2, 3, 4}


def test_an_opensearch_that_cannot_be_reached_raises_and_records_no_progress(sessions):
    client = connect_or_skip()
    prefix = unique_index_prefix("faults")
    try:
        full_reindex(sessions, OpenSearchEngine(client, prefix=prefix), KEY, TODAY)
        before = state(sessions)
        with sessions.begin() as session:
            session.get(Activity, 2).title = "Course 2, revised"
            session.add(unencodable(session, TODAY))
        down = OpenSearchEngine(
            OpenSearch(hosts=["http://127.0.0.1:9"], timeout=2, max_retries=0), prefix=prefix
        )
        # Either is the contract's "the engine failed"; neither is a record skipped.
        with pytest.raises((SearchUnavailable, IndexingError), match="cannot be reached"):
            incremental_sync(sessions, down, KEY, TODAY)
        with pytest.raises((SearchUnavailable, IndexingError), match="cannot be reached"):
            full_reindex(sessions, down, KEY, TODAY)
        assert state(sessions) == before  # neither progress nor a skipped record recorded
    finally:
        delete_indices(client, prefix)


def test_an_embedded_reindex_whose_documents_fail_midway_keeps_the_previous_index(
    sessions, embedded, monkeypatch
):
    """Documents are read by a thread of their own while SQLite writes the previous batch
    (indexer.embedded.engine._batches_ahead): the registry failing there is raised from the
    reindex, as it would be without the thread, and the index in place stays."""
    from indexer.embedded import engine as embedded_engine

    full_reindex(sessions, embedded, KEY, TODAY)
    docs = list(sync.iter_documents(sessions, TODAY))
    monkeypatch.setattr(embedded_engine, "BATCH", 1)

    def failing():
        yield from docs[:3]
        raise ConnectionError("the registry went away")

    with pytest.raises(ConnectionError, match="registry went away"):
        embedded.reindex(failing())
    assert embedded.ids() == {d["id"] for d in docs}
    assert not list(embedded.path.parent.glob("*.building-*"))
    stats = embedded.reindex(iter(docs))
    assert stats.documents == len(docs) and embedded.ids() == {d["id"] for d in docs}
