"""Incremental sync: applies every kind of change, and survives a failure midway."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from directory.demo import generate_into
from directory.registry.models import (
    Activity,
    IndexState,
    MocRegistration,
    Provider,
    utcnow,
    with_children,
)
from directory.search import SearchRequest
from indexer import sync
from indexer.document import document_json, to_document
from indexer.embedded import EmbeddedEngine
from indexer.engine import IndexingError
from indexer.sync import full_reindex, incremental_sync, iter_documents
from tests.factories import TODAY
from tests.test_search_contract import make_engine_for

KEY = "sync-test"


@pytest.fixture(params=["embedded", "opensearch"])
def search_engine(request, tmp_path_factory):
    engine, cleanup = make_engine_for(request.param, tmp_path_factory)
    yield engine
    cleanup()


@pytest.fixture
def sessions(engine):
    from directory.registry.db import make_sessionmaker

    generate_into(engine, count=1200, seed=9, today=TODAY)
    return make_sessionmaker(engine)


def indexed_documents(search_engine, today):
    docs, page = {}, 1
    while True:
        result = search_engine.search(SearchRequest(sort="newest", per_page=100, page=page), today)
        docs.update({h["id"]: h for h in result.hits})
        if page >= result.pages:
            return docs
        page += 1


def assert_index_equals_registry(search_engine, sessions, today):
    expected = {d["id"]: d for d in iter_documents(sessions, today)}
    assert search_engine.ids() == set(expected)
    assert indexed_documents(search_engine, today) == expected


def edit_registry(sessions):
    """One of each change the sync must apply; returns the ids it touched."""
    with sessions.begin() as session:
        listed = sorted(d["id"] for d in iter_documents(sessions, TODAY))
        retitled = session.get(Activity, listed[0])
        retitled.title = "Retitled: Sepsis Bundles in 2027"
        hidden = session.get(Activity, listed[1])
        hidden.show_in_directory = False
        deleted = session.get(Activity, listed[2])
        deleted.completions_reported = 0
        session.delete(deleted)
        provider = session.get(Provider, session.get(Activity, listed[3]).provider_id)
        provider.accreditation_status = "Probation"
        draft = session.scalars(
            select(Activity).where(Activity.status == "Draft", Activity.description.is_not(None))
        ).first()
        if draft is not None and draft.end_date and draft.end_date >= TODAY:
            draft.status = "Active"
    return retitled.id, hidden.id, deleted.id, provider.id


# --- the registry as the indexer reads it -----------------------------------------------------


def orm_documents(sessions, today, preview=False):
    """Every activity's document (None when not listed) rendered from its ORM object."""
    with sessions() as session:
        activities = session.scalars(
            select(Activity).options(*with_children()).order_by(Activity.id)
        )
        return {a.id: to_document(a, today, preview=preview) for a in activities}


def test_the_indexer_renders_exactly_the_documents_of_the_orm_objects(sessions):
    # The indexer reads rows with SQLAlchemy Core (indexer.records) and renders them with the
    # function the web layer calls on ORM activities: the same documents, to the byte.
    listed = {i: d for i, d in orm_documents(sessions, TODAY).items() if d is not None}
    read = list(iter_documents(sessions, TODAY))
    assert len(read) > 300
    assert [document_json(d) for d in read] == [document_json(listed[i]) for i in sorted(listed)]
    # What the data exercises: occurrences, REMS, board points and deadlines, several boards.
    assert all(any(d[k] for d in read) for k in ("occurrences", "rems", "points", "deadlines"))
    assert any(len(d["occurrences"]) > 1 for d in read) and any(len(d["board"]) > 1 for d in read)

    # Every activity, listed or not, as the incremental sync reads it: previews render them all.
    previews = orm_documents(sessions, TODAY, preview=True)
    skipped: dict[int, str] = {}
    with sessions() as session:
        records = sync._load(session, [*sorted(previews), 999_999_999], skipped)
    assert skipped == {}
    assert [r.id for r in records] == sorted(previews)
    assert [document_json(to_document(r, TODAY, preview=True)) for r in records] == [
        document_json(previews[i]) for i in sorted(previews)
    ]


def test_sync_applies_edits_unpublishing_deletion_and_provider_changes(search_engine, sessions):
    full_reindex(sessions, search_engine, KEY, TODAY)
    retitled, hidden, deleted, provider = edit_registry(sessions)
    stats = incremental_sync(sessions, search_engine, KEY, TODAY)
    assert stats.upserted > 0 and stats.deleted > 2
    assert_index_equals_registry(search_engine, sessions, TODAY)
    found = search_engine.search(SearchRequest(text="retitled sepsis bundles"), TODAY)
    assert [h["id"] for h in found.hits] == [retitled]
    assert hidden not in search_engine.ids() and deleted not in search_engine.ids()
    assert (
        search_engine.search(SearchRequest(filters={"provider": (str(provider),)}), TODAY).total
        == 0
    )


def test_sync_applies_the_passing_of_time(search_engine, sessions):
    full_reindex(sessions, search_engine, KEY, TODAY)
    later = TODAY + timedelta(days=45)
    with sessions() as session:
        ended = (
            set(
                session.scalars(
                    select(Activity.id).where(Activity.end_date >= TODAY, Activity.end_date < later)
                )
            )
            & search_engine.ids()
        )
        lapsed = set(
            session.scalars(
                select(MocRegistration.activity_id).where(
                    MocRegistration.claim_deadline >= TODAY, MocRegistration.claim_deadline < later
                )
            )
        )
    assert ended and lapsed
    incremental_sync(sessions, search_engine, KEY, later)
    assert not (ended & search_engine.ids())
    assert_index_equals_registry(search_engine, sessions, later)


class FailingMidway:
    """The real engine, failing on its second bulk write as an overloaded cluster would."""

    def __init__(self, engine):
        self.engine = engine
        self.writes = 0

    def upsert(self, docs):
        self.writes += 1
        if self.writes == 2:
            raise IndexingError({d["id"]: "simulated 429 after retries" for d in docs[:3]})
        return self.engine.upsert(docs)

    def __getattr__(self, name):
        return getattr(self.engine, name)


def test_a_sync_that_fails_midway_loses_nothing_and_a_rerun_completes_it(
    search_engine, sessions, monkeypatch
):
    full_reindex(sessions, search_engine, KEY, TODAY)
    with sessions() as session:
        checkpoint = session.get(IndexState, KEY).changed_since
    # Touch enough activities for several batches, so the failure lands in the middle.
    monkeypatch.setattr(sync, "BATCH", 100)
    with sessions.begin() as session:
        for a in session.scalars(select(Activity).order_by(Activity.id).limit(450)):
            a.title = a.title + " (updated)"
    edit_registry(sessions)

    with pytest.raises(IndexingError):
        incremental_sync(sessions, FailingMidway(search_engine), KEY, TODAY)
    with sessions() as session:
        assert session.get(IndexState, KEY).changed_since == checkpoint  # progress not recorded
    assert search_engine.ids() != {d["id"] for d in iter_documents(sessions, TODAY)}

    incremental_sync(sessions, search_engine, KEY, TODAY)
    assert_index_equals_registry(search_engine, sessions, TODAY)
    incremental_sync(sessions, search_engine, KEY, TODAY)  # a re-run changes nothing
    assert_index_equals_registry(search_engine, sessions, TODAY)


def test_first_sync_without_a_checkpoint_is_a_full_reindex(search_engine, sessions):
    stats = incremental_sync(sessions, search_engine, KEY, TODAY)
    assert stats.full
    assert_index_equals_registry(search_engine, sessions, TODAY)
    with Session(sessions.kw["bind"]) as session:
        assert session.get(IndexState, KEY).as_of_day == TODAY


# --- a sync reports what it changed, and a sync with nothing to do changes nothing -------------


def held(search_engine, today):
    """What the index holds, by id (every document, whatever its dates)."""
    return indexed_documents(search_engine, today - timedelta(days=3650))


def test_a_sync_with_nothing_changed_writes_and_removes_nothing(search_engine, sessions):
    # Rows stamped ahead of the sync's clock (the demo data stamps "today" at noon UTC; a web
    # server whose clock runs ahead does the same) are re-read by every sync until the clock
    # passes them: listed ones and unlisted ones alike.
    ahead = utcnow() + timedelta(hours=6)
    with sessions() as session:
        listed = sorted(d["id"] for d in iter_documents(sessions, TODAY))[:20]
        unlisted = session.scalars(
            select(Activity.id).where(Activity.status == "Draft").limit(20)
        ).all()
    assert listed and unlisted
    with sessions.begin() as session:
        session.execute(
            update(Activity).where(Activity.id.in_([*listed, *unlisted])).values(updated_at=ahead)
        )
    full_reindex(sessions, search_engine, KEY, TODAY)

    for _ in range(2):
        stats = incremental_sync(sessions, search_engine, KEY, TODAY)
        assert (stats.upserted, stats.deleted) == (0, 0)
    assert_index_equals_registry(search_engine, sessions, TODAY)

    # A real change is written once; the next sync re-reads it (it is within the minute of
    # overlap) and finds nothing to do.
    with sessions.begin() as session:
        session.get(Activity, listed[5]).title = "Retitled: Zygomycosis Rounds"
    assert incremental_sync(sessions, search_engine, KEY, TODAY).upserted == 1
    stats = incremental_sync(sessions, search_engine, KEY, TODAY)
    assert (stats.upserted, stats.deleted) == (0, 0)
    assert [
        h["id"] for h in search_engine.search(SearchRequest(text="zygomycosis"), TODAY).hits
    ] == [listed[5]]


def test_a_sync_across_days_reports_exactly_the_endings_and_lapsed_deadlines(
    search_engine, sessions
):
    full_reindex(sessions, search_engine, KEY, TODAY)
    later = TODAY + timedelta(days=45)
    before = held(search_engine, TODAY)

    stats = incremental_sync(sessions, search_engine, KEY, later)

    after = held(search_engine, later)
    ended = set(before) - set(after)
    rewritten = {i for i in after if before.get(i) != after[i]}
    assert ended and rewritten  # listings ended, claim deadlines passed
    # Counted by what changed in the index, not by how many rows the calendar touched (many
    # of them drafts or withdrawn activities that were never indexed).
    assert stats.deleted == len(ended)
    assert stats.upserted == len(rewritten)
    assert_index_equals_registry(search_engine, sessions, later)
    again = incremental_sync(sessions, search_engine, KEY, later)
    assert (again.upserted, again.deleted) == (0, 0)


# --- a full reindex rendered in a process of its own (`directory index`) ----------------------


def test_a_reindex_rendered_apart_indexes_what_one_rendered_here_does(
    search_engine, sessions, tmp_path, monkeypatch
):
    """`render_apart`: a forked process reads and renders, this one writes. Same documents,
    same skipped records (one that cannot be rendered comes back by id with its reason), and
    the checkpoint a sync goes on from."""
    bad_id = sorted(d["id"] for d in iter_documents(sessions, TODAY))[5]
    render = sync.to_document

    renderers = tmp_path / "renderers"

    def broken(activity, *args, **kwargs):  # one record holds what the rules cannot read
        if activity.id == bad_id:
            with renderers.open("a") as out:  # which process rendered it
                out.write(f"{os.getpid()}\n")
            raise ValueError("a claim deadline that is not a date")
        return render(activity, *args, **kwargs)

    monkeypatch.setattr(sync, "to_document", broken)  # the fork inherits it
    # Other tests' servers may still run threads in this process; the child only renders.
    monkeypatch.setattr(sync, "_alone", lambda: True)
    here = EmbeddedEngine(tmp_path / "here.sqlite3")
    expected = full_reindex(sessions, here, "here", TODAY)
    assert "not a date" in expected.skipped[bad_id]

    stats = full_reindex(sessions, search_engine, KEY, TODAY, render_apart=True)
    here_pid, apart_pid = (int(p) for p in renderers.read_text().split())
    assert here_pid == os.getpid() != apart_pid

    assert stats.skipped == expected.skipped and stats.documents == expected.documents
    assert indexed_documents(search_engine, TODAY) == indexed_documents(here, TODAY)
    sync_stats = incremental_sync(sessions, search_engine, KEY, TODAY)
    assert not sync_stats.full and sync_stats.upserted == sync_stats.deleted == 0


def test_a_registry_failing_in_the_rendering_process_fails_the_reindex(
    search_engine, sessions, monkeypatch
):
    """What the rendering process raises is raised by the reindex, as the same exception,
    and no checkpoint is written."""
    from sqlalchemy.exc import OperationalError

    def gone(session, ids, skipped):
        raise OperationalError("SELECT", {}, Exception("the registry went away"))

    monkeypatch.setattr(sync, "_load", gone)  # the fork inherits it
    monkeypatch.setattr(sync, "_alone", lambda: True)
    with pytest.raises(OperationalError, match="registry went away"):
        full_reindex(sessions, search_engine, KEY, TODAY, render_apart=True)
    with sessions() as session:
        assert session.get(IndexState, KEY) is None


def test_with_another_thread_running_a_reindex_renders_in_place(sessions, tmp_path, monkeypatch):
    """A fork would copy the locks another thread holds (a web worker's): then the documents
    are rendered in this process, and the reindex is the same."""
    import threading

    pids = tmp_path / "renderers"
    render = sync.to_document

    def noted(activity, *args, **kwargs):
        with pids.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return render(activity, *args, **kwargs)

    monkeypatch.setattr(sync, "to_document", noted)
    release = threading.Event()
    other = threading.Thread(target=release.wait, name="a-web-request")
    other.start()
    try:
        stats = full_reindex(
            sessions, EmbeddedEngine(tmp_path / "x.sqlite3"), KEY, TODAY, render_apart=True
        )
    finally:
        release.set()
        other.join()
    assert stats.documents > 0
    assert set(pids.read_text().split()) == {str(os.getpid())}
