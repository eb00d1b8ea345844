"""Large batch uploads as jobs: the upload answers 202 at once, the import runs outside it.

A 20,000-activity file takes about a minute to check and write, longer than a WSGI worker
may hold a request (gunicorn kills it at 30 s and the provider sees a 500). So an upload over
`INLINE_MAX_BYTES` (or any upload with `?job=1`) is stored as a `BatchJob` row, file and all,
and a thread of the same process imports it; the provider polls the job's URL.

Why a thread and a table, not a queue: the import is one database transaction that either
writes the whole file or nothing, so the only state to keep is the row. A row is claimed by
an UPDATE that only one worker can win, and one left `running` by a worker that died is run
again (its transaction was rolled back, so nothing was half written). `directory jobs run`
runs the queue from the command line too, for a deployment that wants a separate process.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from directory.provider_data import batch
from directory.provider_data.files import FileRejected, read_records
from directory.registry import standing
from directory.registry.db import is_busy
from directory.registry.models import BatchJob, utcnow
from directory.web.context import today
from directory.web.search_service import sync_after_write

log = logging.getLogger(__name__)

# Uploads up to this size are imported in the request (a few seconds at most); larger ones
# become jobs. 1 MiB is a few thousand CSV rows.
INLINE_MAX_BYTES = 1024 * 1024
# A job still `running` this long after it started belongs to a worker that died.
STALE_AFTER = timedelta(minutes=30)
FILENAME_MAX = 255  # BatchJob.filename's length


@dataclass(frozen=True)
class JobView:
    token: str
    status: str
    filename: str
    dry_run: bool
    size: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: str | None

    def as_dict(self) -> dict[str, Any]:
        report = json.loads(self.result) if self.status == "done" and self.result else None
        return {
            "id": self.token,
            "status": self.status,
            "filename": self.filename,
            "dry_run": self.dry_run,
            "bytes": self.size,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "report": report,
            "failure": self.result if self.status == "failed" else None,
        }


def _view(job: BatchJob) -> JobView:
    return JobView(
        job.token,
        job.status,
        job.filename,
        job.dry_run,
        job.size,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.result,
    )


def submit(
    app: Flask, provider_id: int, api_key_id: int | None, filename: str, data: bytes, dry_run: bool
) -> JobView:
    """Store the upload as a queued job and start working the queue; returns at once."""
    sessions: sessionmaker[Session] = app.extensions["directory_sessions"]
    # The name is only shown back and read for its extension. PostgreSQL refuses a NUL in text
    # and a name longer than its column (SQLite stored both, so it was a 500 there only): keep
    # what the column holds, the end of a long name, with its extension.
    filename = filename.replace("\x00", "")[-FILENAME_MAX:]
    with sessions.begin() as session:
        job = BatchJob(
            token=secrets.token_urlsafe(16),
            provider_id=provider_id,
            api_key_id=api_key_id,
            filename=filename,
            dry_run=dry_run,
            status="queued",
            data=data,
            size=len(data),
        )
        session.add(job)
        session.flush()
        view = _view(job)
    start_worker(app)
    return view


def find(session: Session, provider_id: int, token: str) -> JobView | None:
    """A provider's own job; another provider's answers None, exactly like a missing one."""
    job = session.scalar(
        select(BatchJob).where(BatchJob.token == token, BatchJob.provider_id == provider_id)
    )
    return _view(job) if job else None


def recent(session: Session, provider_id: int, limit: int = 10) -> list[JobView]:
    jobs = session.scalars(
        select(BatchJob)
        .where(BatchJob.provider_id == provider_id)
        .order_by(BatchJob.id.desc())
        .limit(limit)
    )
    return [_view(j) for j in jobs]


_worker_lock = threading.Lock()


def start_worker(app: Flask) -> threading.Thread:
    """Work the queue in a daemon thread of this process (one at a time per process)."""
    thread = threading.Thread(target=_work, args=(app,), name="batch-jobs", daemon=True)
    thread.start()
    return thread


def _work(app: Flask) -> None:
    if not _worker_lock.acquire(blocking=False):
        return  # this process already has a worker; it will see the new job
    try:
        run_pending(app)
    finally:
        _worker_lock.release()
    # A job queued between the last claim and the release would wait for the next upload.
    if _queued(app):
        _work(app)


def _queued(app: Flask) -> bool:
    sessions: sessionmaker[Session] = app.extensions["directory_sessions"]
    with sessions() as session:
        return session.scalar(select(BatchJob.id).where(BatchJob.status == "queued")) is not None


def run_pending(app: Flask) -> int:
    """Run queued jobs (and stale ones) until none is left; returns how many ran."""
    ran = 0
    for job_id in _claims(app):
        _run(app, job_id)
        ran += 1
    return ran


def _claims(app: Flask) -> Iterator[int]:
    sessions: sessionmaker[Session] = app.extensions["directory_sessions"]
    while True:
        with sessions.begin() as session:
            stale = utcnow() - STALE_AFTER
            candidate = session.scalar(
                select(BatchJob.id)
                .where(
                    or_(
                        BatchJob.status == "queued",
                        (BatchJob.status == "running") & (BatchJob.started_at < stale),
                    )
                )
                .order_by(BatchJob.id)
                .limit(1)
            )
            if candidate is None:
                return
            # Only one worker's UPDATE matches the row it saw; the others try the next one.
            claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(BatchJob)
                .where(
                    BatchJob.id == candidate,
                    or_(BatchJob.status == "queued", BatchJob.started_at < stale),
                )
                .values(status="running", started_at=utcnow())
            )
        if claimed.rowcount:
            yield candidate


# A job that finds the registry's write lock taken (another writer, on SQLite) waits and tries
# again: its import is all or nothing, so a refused attempt wrote nothing.
BUSY_RETRIES = (2, 5, 10, 20, 40)


def _import_retrying_when_busy(attempt: Callable[[], batch.BatchReport]) -> batch.BatchReport:
    for wait in (*BUSY_RETRIES, None):
        try:
            return attempt()
        except DBAPIError as exc:
            if wait is None or not is_busy(exc):
                raise
            log.info("batch job waits %s s for the registry's write lock", wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _check_for_dashboard(sessions: sessionmaker[Session], provider_id: int) -> None:
    """Check what the import changed now, not on the provider's next look at its dashboard: a
    20,000-row file takes seconds to check, better spent here. The import is saved already,
    so a failure here only leaves the checks to the dashboard (which refreshes them too)."""
    try:
        with sessions() as session:
            standing.refresh(session, provider_id)
    except DBAPIError:
        log.warning("the dashboard checks of provider %s wait for its next look", provider_id)


def _run(app: Flask, job_id: int) -> None:
    sessions: sessionmaker[Session] = app.extensions["directory_sessions"]
    with sessions() as session:
        job = session.get(BatchJob, job_id)
        assert job is not None
        data, filename, provider_id = job.data or b"", job.filename, job.provider_id
        api_key_id, dry_run = job.api_key_id, job.dry_run
    status, result = "failed", None
    with app.app_context():
        try:
            report = _import_retrying_when_busy(
                lambda: batch.import_records(
                    sessions,
                    provider_id,
                    lambda: read_records(filename, data),
                    today(),
                    source="api",
                    api_key_id=api_key_id,
                    dry_run=dry_run,
                )
            )
            body = report.as_dict()
            if report.written:
                body["search"] = sync_after_write(bounded=False)  # no request deadline here
                _check_for_dashboard(sessions, provider_id)
            status, result = "done", json.dumps(body)
        except FileRejected as exc:
            status, result = "failed", str(exc)
        except Exception:  # the job must end either way; the log has the details
            log.exception("batch job %s failed", job_id)
            status, result = "failed", "the import failed unexpectedly; nothing was saved"
    with sessions.begin() as session:
        session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id)
            .values(status=status, result=result, finished_at=utcnow(), data=None)
        )
