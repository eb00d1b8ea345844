"""Copying the registry into a search engine: a full reindex, and an incremental sync.

Both read the registry in id-ordered batches (constant memory at any size) and render each
activity with the one pure function `indexer.document.to_document`.

The incremental sync applies, since its last successful run:
- activities whose row changed, or whose provider changed (an accreditation decision
  changes every listing of that provider);
- activities deleted from the registry (tombstones);
- the passing of time: activities that ended, board registrations whose claim deadline
  passed, and occurrences that ended (a repeated course's next date moves on).
Its checkpoint is written only after the engine confirmed every write. A crash midway
means the next run redoes the same work, which is harmless: writes are upserts by id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from directory.registry.models import (
    Activity,
    DeletedActivity,
    IndexState,
    MocRegistration,
    Occurrence,
    Provider,
    utcnow,
    with_children,
)
from directory.registry.reference import Reference, reference
from indexer.document import SearchDocument, to_document
from indexer.engine import ReindexStats, SearchEngine

BATCH = 500
# Rows committed by a transaction that started before the previous run's clock reading can
# carry an older updated_at; re-reading a minute of history costs little and misses none.
OVERLAP = timedelta(seconds=60)


@dataclass(frozen=True)
class SyncStats:
    upserted: int
    deleted: int
    seconds: float
    full: bool = False


def _load(session: Session, ids: Iterable[int]) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.id.in_(list(ids)))
            .options(*with_children())
            .order_by(Activity.id)
        )
    )


def iter_documents(
    sessions: sessionmaker[Session], today: date, ref: Reference | None = None
) -> Iterator[SearchDocument]:
    """Every listed activity's document, in id order, a batch of rows in memory at a time."""
    ref = ref or reference()
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
            for activity in _load(session, ids):
                doc = to_document(activity, today, ref)
                if doc is not None:
                    yield doc
            last = ids[-1]


def _state(session: Session, key: str) -> IndexState | None:
    return session.get(IndexState, key)


def _save_state(
    sessions: sessionmaker[Session], key: str, changed_since: datetime, deleted_seq: int, day: date
) -> None:
    with sessions.begin() as session:
        state = _state(session, key) or IndexState(index_key=key)
        state.changed_since = changed_since
        state.deleted_seq = deleted_seq
        state.as_of_day = day
        session.add(state)


def _max_tombstone(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(DeletedActivity.seq), 0))) or 0


def full_reindex(
    sessions: sessionmaker[Session],
    engine: SearchEngine,
    key: str,
    today: date,
    progress: bool = False,
) -> ReindexStats:
    """Rebuild the whole index from the registry, then record the sync checkpoint."""
    started = utcnow()
    with sessions() as session:
        deleted_seq = _max_tombstone(session)
    stats = engine.reindex(iter_documents(sessions, today), progress=progress)
    _save_state(sessions, key, started - OVERLAP, deleted_seq, today)
    return stats


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
    deleted = set(
        session.scalars(
            select(DeletedActivity.activity_id).where(DeletedActivity.seq > state.deleted_seq)
        )
    )
    return changed - deleted, deleted


def incremental_sync(
    sessions: sessionmaker[Session],
    engine: SearchEngine,
    key: str,
    today: date,
    progress: bool = False,
) -> SyncStats:
    """Apply what changed since the last successful run; a first run is a full reindex."""
    from tqdm import tqdm

    started_clock = time.perf_counter()
    started = utcnow()
    ref = reference()
    with sessions() as session:
        state = _state(session, key)
        if state is None:
            stats = full_reindex(sessions, engine, key, today, progress)
            return SyncStats(stats.documents, 0, stats.seconds, full=True)
        deleted_seq = _max_tombstone(session)
        changed, deleted = _changed_ids(session, state, today)

    upserted = removed = 0
    ordered = sorted(changed)
    bar = tqdm(total=len(ordered), unit="activity", disable=not progress, desc="sync")
    for start in range(0, len(ordered), BATCH):
        batch = ordered[start : start + BATCH]
        with sessions() as session:
            docs, gone = [], set(batch)
            for activity in _load(session, batch):
                doc = to_document(activity, today, ref)
                if doc is not None:
                    docs.append(doc)
                    gone.discard(activity.id)
        # Raises on any failed document: then no checkpoint is written below.
        engine.upsert(docs)
        engine.delete(sorted(gone))
        upserted += len(docs)
        removed += len(gone)
        bar.update(len(batch))
    bar.close()
    engine.delete(sorted(deleted))
    removed += len(deleted)
    _save_state(sessions, key, started - OVERLAP, deleted_seq, today)
    return SyncStats(upserted, removed, time.perf_counter() - started_clock)


def registry_listed_ids(sessions: sessionmaker[Session], today: date) -> set[int]:
    """Ids the registry lists today, by the rules: what an index should hold exactly."""
    return {doc["id"] for doc in iter_documents(sessions, today)}
