"""Copying the registry into a search engine: a full reindex, and an incremental sync.

Both read the registry in id-ordered batches (constant memory at any size) with SQLAlchemy
Core, not the ORM (`indexer.records`: reading is half a full reindex's cost, and the ORM
doubled it), and render each activity with the one pure function
`indexer.document.to_document`, which the web layer calls on ORM activities too.

The incremental sync applies, since its last successful run:
- activities whose row changed, or whose provider changed (an accreditation decision
  changes every listing of that provider);
- activities deleted from the registry (tombstones);
- the passing of time: activities that ended, board registrations whose claim deadline
  passed, and occurrences that ended (a repeated course's next date moves on).
Its checkpoint is written only after the engine confirmed every write. A crash midway
means the next run redoes the same work, which is harmless: writes are upserts by id.

Each candidate is rendered and compared with what the index holds: only documents that differ
are written, and only documents the index holds are removed. Candidates are a superset of what
changed (the minute of overlap, rows stamped ahead of this clock, calendar boundaries that
touch unlisted activities), so `SyncStats` counts what changed in the index, and a sync with
nothing changed writes and removes nothing.

A record that cannot be indexed (it cannot be loaded or rendered, or the engine refuses the
document for what it holds) is skipped, named by activity id with the reason in the stats, and
the others go on; the engine itself failing still raises, and then no checkpoint is written.
What happens to skipped records is described at `_save_skipped`.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from directory.registry.db import oldest_transaction_start
from directory.registry.models import (
    Activity,
    DeletedActivity,
    IndexState,
    MocRegistration,
    Occurrence,
    Provider,
    utcnow,
)
from directory.registry.reference import Reference, reference
from indexer.document import SearchDocument, to_document, unindexable_reason
from indexer.engine import IndexingError, ReindexStats, SearchEngine
from indexer.records import load_activities

log = logging.getLogger(__name__)

BATCH = 500
# Rows committed by a transaction that started before the previous run's clock reading can
# carry an older updated_at; re-reading a minute of history costs little and misses none.
OVERLAP = timedelta(seconds=60)


@dataclass(frozen=True)
class SyncStats:
    upserted: int  # documents written because they were new or differed from the index's
    deleted: int  # documents the index held and no longer does
    seconds: float
    full: bool = False
    # Activities that could not be indexed, by id, with the reason (see _save_skipped).
    skipped: Mapping[int, str] = field(default_factory=dict)


# What reading one record can raise for what it holds (a JSON column that is not JSON, a
# date that is not a date, written by some other path): the rest of its batch is read anyway.
# The database failing (sqlalchemy's DBAPIError, an SQLAlchemyError) is not among them: that
# stops the run.
RECORD_ERRORS = (ValueError, TypeError, LookupError, AttributeError)


def _query(session: Session, ids: list[int]) -> list[Activity]:
    # Core selects, not the ORM: see indexer.records for why, and what the records are.
    return load_activities(session.connection(), ids)


def _load(session: Session, ids: Iterable[int], skipped: dict[int, str]) -> list[Activity]:
    """The activities with these ids, children loaded; one that cannot be read is skipped."""
    ids = list(ids)
    try:
        return _query(session, ids)
    except RECORD_ERRORS:
        session.rollback()
    activities = []
    for activity_id in ids:  # rare: find the record that cannot be read
        try:
            activities += _query(session, [activity_id])
        except RECORD_ERRORS as exc:
            session.rollback()
            _skip(skipped, activity_id, exc)
    return activities


def _skip(skipped: dict[int, str], activity_id: int, error: BaseException) -> None:
    skipped[activity_id] = unindexable_reason(error)
    log.warning("activity %s cannot be indexed: %s", activity_id, skipped[activity_id])


def _render(
    activity: Activity, today: date, ref: Reference, skipped: dict[int, str]
) -> SearchDocument | None:
    """`to_document`, or None with the activity in `skipped` when it cannot be rendered."""
    try:
        return to_document(activity, today, ref)
    except SQLAlchemyError:
        raise  # the database failing (a lazy load), not the record
    except Exception as exc:  # whatever one record holds, the others are indexed
        _skip(skipped, activity.id, exc)
        return None


def iter_documents(
    sessions: sessionmaker[Session],
    today: date,
    ref: Reference | None = None,
    skipped: dict[int, str] | None = None,
) -> Iterator[SearchDocument]:
    """Every listed activity's document, in id order, a batch of rows in memory at a time.
    An activity that cannot be read or rendered is left out (and put in `skipped`)."""
    ref = ref or reference()
    skipped = {} if skipped is None else skipped
    last = 0
    while True:
        with sessions() as session:
            # A sound pre-filter: the rules would refuse anything outside it anyway.
            ids = session.scalars(
                select(Activity.id)
                .where(
                    Activity.id > last,
                    Activity.status == "Active",
                    Activity.show_in_directory.is_(True),
                    Activity.end_date >= today,
                )
                .order_by(Activity.id)
                .limit(BATCH)
            ).all()
            if not ids:
                return
            for activity in _load(session, ids, skipped):
                doc = _render(activity, today, ref, skipped)
                if doc is not None:
                    yield doc
            last = ids[-1]


def _state(session: Session, key: str) -> IndexState | None:
    return session.get(IndexState, key)


def _save_state(
    sessions: sessionmaker[Session],
    key: str,
    changed_since: datetime,
    deleted_seq: int,
    day: date,
    skipped: Mapping[int, str],
) -> None:
    with sessions.begin() as session:
        state = _state(session, key) or IndexState(index_key=key)
        state.changed_since = changed_since
        state.deleted_seq = deleted_seq
        state.as_of_day = day
        session.add(state)
        _save_skipped(session, key, skipped, day)


# Skipped records are remembered, per index, and retried by every incremental sync until they
# index or leave the registry; each retry that fails reports them again. Why not forget them
# once reported: the checkpoint moves past them, so a record nobody edits would otherwise be
# missing from search for good, named once in a log line nobody may read. Retrying is what
# keeps it in every run's report (and `directory sync`'s output), and it indexes by itself when
# what stopped it goes away without an edit to the row (an indexer that copes, a provider's
# change). An edit to the row needs no list: it is a change like any other. The cost is
# re-rendering a handful of rows per sync. Kept as rows of index_state keyed
# "<index key>#skipped:<activity id>" (changed_since: when first skipped), so no schema change.
SKIPPED_MARK = "#skipped:"


def _skipped_rows(session: Session, key: str) -> dict[int, IndexState]:
    prefix = key + SKIPPED_MARK
    rows = session.scalars(
        select(IndexState).where(IndexState.index_key.startswith(prefix, autoescape=True))
    )
    return {int(row.index_key[len(prefix) :]): row for row in rows}


def _save_skipped(session: Session, key: str, skipped: Mapping[int, str], day: date) -> None:
    """Make the remembered list exactly `skipped`: this run retried every earlier one."""
    rows = _skipped_rows(session, key)
    for activity_id, row in rows.items():
        if activity_id not in skipped:
            session.delete(row)
    now = utcnow()
    for activity_id in sorted(set(skipped) - set(rows)):
        session.add(
            IndexState(
                index_key=f"{key}{SKIPPED_MARK}{activity_id}",
                changed_since=now,
                deleted_seq=0,
                as_of_day=day,
            )
        )


def _horizon(sessions: sessionmaker[Session]) -> datetime:
    """The moment this run sees every change from: now, or the start of the oldest transaction
    still open. On PostgreSQL writers run beside the sync, and a long one (a 20,000-row import
    takes a minute) commits rows it stamped well before the sync read, which a checkpoint of
    "now" would skip for good; on SQLite the one writer holds our checkpoint's write back."""
    now = utcnow()
    with sessions() as session:
        oldest = oldest_transaction_start(session.connection())
    return min(now, oldest) if oldest is not None else now


def _max_tombstone(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(DeletedActivity.seq), 0))) or 0


def full_reindex(
    sessions: sessionmaker[Session],
    engine: SearchEngine,
    key: str,
    today: date,
    progress: bool = False,
    render_apart: bool = False,
) -> ReindexStats:
    """Rebuild the whole index from the registry, then record the sync checkpoint. The stats
    name every listed activity that could not be indexed.

    `render_apart`: render the documents in a process of their own (`rendered_apart`), for a
    caller that is a process of its own too (`directory index`), not a web worker."""
    started = _horizon(sessions)
    with sessions() as session:
        deleted_seq = _max_tombstone(session)
    skipped: dict[int, str] = {}
    rendered = (
        rendered_apart(sessions, today, skipped)
        if render_apart
        else iter_documents(sessions, today, skipped=skipped)
    )
    documents = _some_rendered(rendered, skipped)
    stats = engine.reindex(documents, progress=progress)
    skipped.update(stats.skipped)
    _save_state(sessions, key, started - OVERLAP, deleted_seq, today, skipped)
    return replace(stats, skipped=skipped)


# Batches of documents a reindex's rendering process may have ready ahead of the engine.
RENDER_AHEAD = 4


def rendered_apart(
    sessions: sessionmaker[Session], today: date, skipped: dict[int, str]
) -> Iterator[SearchDocument]:
    """`iter_documents`, rendered by a process of its own while this one writes them.

    Why a process: reading the registry and applying the rules to each activity is Python,
    and so is most of what the embedded engine does with a document; in one process the two
    take turns at the GIL, and on two cores a reindex ran at about half its engine's own
    rate. A forked child renders and sends batches through a bounded queue; this process only
    unpickles them. Its skipped activities come back at the end (into `skipped`), and anything
    it raises is raised here.

    Rendered in this process instead when another thread is running: a fork copies the locks
    the other threads hold, which the child could then wait on for ever. (Except tqdm's
    monitor, which only reads its progress bars' counters: the child draws none.) The child
    is started now, before the engine starts threads of its own."""
    if not _alone() or "fork" not in multiprocessing.get_all_start_methods():
        return iter_documents(sessions, today, skipped=skipped)
    context = multiprocessing.get_context("fork")
    ready: multiprocessing.Queue[tuple[str, Any]] = context.Queue(maxsize=RENDER_AHEAD)
    child = context.Process(
        target=_render_into, args=(sessions, today, ready), name="reindex-render", daemon=True
    )
    child.start()
    return _received(child, ready, skipped)


def _alone() -> bool:
    """Whether this is the main thread and no other runs (tqdm's monitor aside)."""
    main = threading.main_thread()
    return threading.current_thread() is main and all(
        t is main or t.name == "tqdm_monitor" for t in threading.enumerate()
    )


def _render_into(
    sessions: sessionmaker[Session], today: date, ready: multiprocessing.Queue[tuple[str, Any]]
) -> None:
    """The rendering process: batches of documents, then ("done", skipped), or ("error", exc)."""
    # The parent's pooled connections stay the parent's: this process opens its own.
    sessions.kw["bind"].dispose(close=False)
    mine: dict[int, str] = {}
    try:
        batch: list[SearchDocument] = []
        for doc in iter_documents(sessions, today, skipped=mine):
            batch.append(doc)
            if len(batch) >= BATCH:
                ready.put(("documents", batch))
                batch = []
        ready.put(("documents", batch))
        ready.put(("done", mine))
    except BaseException as exc:
        try:
            pickle.dumps(exc)
        except Exception:  # an exception that cannot cross: its type and message can
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        ready.put(("error", exc))
    ready.close()
    ready.join_thread()


def _received(
    child: multiprocessing.process.BaseProcess,
    ready: multiprocessing.Queue[tuple[str, Any]],
    skipped: dict[int, str],
) -> Iterator[SearchDocument]:
    try:
        while True:
            try:
                kind, payload = ready.get(timeout=1.0)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(
                        f"the reindex's rendering process ended early (exit code {child.exitcode})"
                    ) from None
                continue
            if kind == "documents":
                yield from payload
            elif kind == "done":
                skipped.update(payload)
                return
            else:
                raise payload
    finally:
        if child.is_alive():  # the engine stopped reading (it failed): stop rendering too
            child.terminate()
        child.join()


def _some_rendered(
    documents: Iterator[SearchDocument], skipped: Mapping[int, str]
) -> Iterator[SearchDocument]:
    """`documents`, raising at the end if every listed activity failed to render: that is a
    bug or a broken deployment, not bad records, and the reindex keeps the previous index."""
    rendered = False
    for doc in documents:
        rendered = True
        yield doc
    if skipped and not rendered:
        raise IndexingError(dict(skipped))


def _changed_ids(session: Session, state: IndexState, today: date) -> tuple[set[int], set[int]]:
    """(activity ids to re-render, ids deleted from the registry) since `state`."""
    since = state.changed_since
    changed: set[int] = set()
    if since is not None:
        changed |= set(session.scalars(select(Activity.id).where(Activity.updated_at >= since)))
        changed |= set(
            session.scalars(select(Activity.id).join(Provider).where(Provider.updated_at >= since))
        )
    day = state.as_of_day
    if day is not None and day < today:
        # What the calendar changed: endings, claim deadlines, past occurrences.
        changed |= set(
            session.scalars(
                select(Activity.id).where(Activity.end_date >= day, Activity.end_date < today)
            )
        )
        changed |= set(
            session.scalars(
                select(MocRegistration.activity_id).where(
                    MocRegistration.claim_deadline >= day, MocRegistration.claim_deadline < today
                )
            )
        )
        changed |= set(
            session.scalars(
                select(Occurrence.activity_id).where(
                    Occurrence.end_date >= day, Occurrence.end_date < today
                )
            )
        )
    # Tombstones are numbered when the delete runs, not when it commits: on PostgreSQL, where
    # writers run side by side, a slow one can commit a number below the checkpoint a sync
    # took meanwhile. So the overlap's tombstones are read again, as rows changed in it are.
    tombstones = DeletedActivity.seq > state.deleted_seq
    if since is not None:
        tombstones = tombstones | (DeletedActivity.deleted_at >= since)
    tombstoned = select(DeletedActivity.activity_id).where(tombstones)
    deleted = set(session.scalars(tombstoned))
    # An id in the registry again (SQLite gives the highest id anew once its row is deleted)
    # is a new activity, not a deletion.
    if deleted:
        deleted -= set(session.scalars(select(Activity.id).where(Activity.id.in_(tombstoned))))
    return changed - deleted, deleted


class TooManyChanges(Exception):
    """More changes are waiting than the caller may apply now (a web request must answer
    within the server's timeout); the next scheduled sync applies them."""


def incremental_sync(
    sessions: sessionmaker[Session],
    engine: SearchEngine,
    key: str,
    today: date,
    progress: bool = False,
    max_changes: int | None = None,
) -> SyncStats:
    """Apply what changed since the last successful run; a first run is a full reindex.

    With `max_changes`, raise TooManyChanges instead of starting on more than that many
    (or on a first full reindex), leaving everything for a sync without a limit.
    """
    from tqdm import tqdm

    started_clock = time.perf_counter()
    started = _horizon(sessions)
    ref = reference()
    with sessions() as session:
        state = _state(session, key)
        if state is None and max_changes is not None:
            total = session.scalar(select(func.count()).select_from(Activity)) or 0
            if total > max_changes:
                raise TooManyChanges(f"the first sync is a full reindex of {total} activities")
        if state is None:
            stats = full_reindex(sessions, engine, key, today, progress)
            return SyncStats(stats.documents, 0, stats.seconds, full=True, skipped=stats.skipped)
        deleted_seq = _max_tombstone(session)
        changed, deleted = _changed_ids(session, state, today)
        changed |= set(_skipped_rows(session, key)) - deleted  # retried: see _save_skipped
    if max_changes is not None and len(changed) + len(deleted) > max_changes:
        raise TooManyChanges(f"{len(changed) + len(deleted)} changes are waiting")

    upserted = removed = 0
    skipped: dict[int, str] = {}
    ordered = sorted(changed)
    bar = tqdm(total=len(ordered), unit="activity", disable=not progress, desc="sync")
    for start in range(0, len(ordered), BATCH):
        batch = ordered[start : start + BATCH]
        with sessions() as session:
            docs = [
                doc
                for activity in _load(session, batch, skipped)
                if (doc := _render(activity, today, ref, skipped)) is not None
            ]
        held = engine.documents(batch)
        # Raises on the engine's failure: then no checkpoint is written below.
        changed_docs = [d for d in docs if held.get(d["id"]) != d]
        refused = engine.upsert(changed_docs)
        skipped.update(refused)
        listed = {d["id"] for d in docs} - set(refused)
        # Held but no longer listed, or no longer indexable (refused ones the engine removed).
        stale = sorted(set(held) - listed)
        engine.delete(stale)
        upserted += len(changed_docs) - len(refused)
        removed += len(stale)
        bar.update(len(batch))
    bar.close()
    ordered = sorted(deleted)
    for start in range(0, len(ordered), BATCH):
        held_ids = sorted(engine.documents(ordered[start : start + BATCH]))
        engine.delete(held_ids)
        removed += len(held_ids)
    _save_state(sessions, key, started - OVERLAP, deleted_seq, today, skipped)
    return SyncStats(
        upserted,
        removed,
        time.perf_counter() - started_clock,
        skipped=dict(sorted(skipped.items())),
    )


def registry_listed_ids(sessions: sessionmaker[Session], today: date) -> set[int]:
    """Ids the registry lists today, by the rules: what an index should hold exactly."""
    return {doc["id"] for doc in iter_documents(sessions, today)}
