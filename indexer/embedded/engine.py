"""The embedded search engine: SQLite FTS5 in one file beside the registry, no server.

Why SQLite FTS5: it ships with Python, ranks with BM25, stems (porter) and folds accents
(unicode61 remove_diacritics); beside it, compressed bitmaps (`indexer.embedded.bitmaps`)
count facets and apply filters without reading rows. A small deployment gets real search
with nothing to install.

The class ties together, for one index file:
- `indexer.embedded.store`: the file's tables and writing documents into them;
- `indexer.embedded.matching`: the shared query plan (`indexer.text.understand`) as FTS5
  MATCH expressions, and typo corrections;
- `indexer.embedded.bitmaps`: the per-value document sets, written with the documents, read
  once per generation of the file;
- `indexer.embedded.query`: a SearchRequest answered: text through FTS5, filters and facet
  counts on bitmaps, the page through SQL; and typeahead.

A full reindex builds a new file and `os.replace`s it over the old one: an atomic rename, so
a search sees the old index or the new one, never an empty or half-built one. Writers take
a lock file, so a reindex and a sync never interleave. A file an older version of the
directory wrote is upgraded in place, in one transaction, when it is first opened
(`store.upgrade`); one a newer version wrote is refused (SearchUnavailable) until a reindex.

A document SQLite cannot store (text that is not valid Unicode, a missing or mistyped value)
is refused alone: a batch that fails for what a document holds is taken out again and written
one document at a time, leaving out the ones that fail. SQLite failing itself (disk full, I/O
error, a lock held too long: `sqlite3.OperationalError`, or a damaged file) is no refusal; it
raises IndexingError.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from directory.search import SearchRequest, SearchResult
from indexer.document import DOCUMENT_JSON_ERRORS, SearchDocument, unindexable_reason
from indexer.embedded import bitmaps, query, store
from indexer.embedded.matching import TextMatch, corrections, text_match
from indexer.engine import IndexingError, ReindexStats, SearchUnavailable, Suggestion
from indexer.text import understand

BATCH = 1000  # documents per executemany during a full reindex
# Documents whose bitmap entries a full reindex holds before writing them out: a reindex's
# memory is bounded by this, not by the size of the index.
FLUSH_EVERY = 50 * BATCH

# What one document can make `store.insert` raise: the JSON check, parameter binding (a value
# of a type SQLite does not take, an int too large), a constraint (NOT NULL, a repeated id),
# or a document missing a field. sqlite3.OperationalError and DatabaseError are SQLite's own.
DOCUMENT_ERRORS = (
    *DOCUMENT_JSON_ERRORS,
    KeyError,
    AttributeError,
    OverflowError,
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
)


def _insert_or_refuse(
    conn: sqlite3.Connection, docs: list[SearchDocument], pending: bitmaps.Pending
) -> dict[int, str]:
    """Insert `docs` in the caller's transaction, leaving out (and answering, by id with the
    reason) those SQLite refuses for what they hold. The rest of the batch is written.

    A failed batch is undone by deleting its ids (not by a savepoint: a reindex loads with no
    journal, and sub-journalling every batch would cost a fifth of its time); words and
    suggestions a failed attempt counted stay, as they do after any removal (see store)."""
    try:
        store.insert(conn, docs, pending)
        return {}
    except DOCUMENT_ERRORS:
        store.remove(conn, [d["id"] for d in docs], pending)
    # Rare (a bad record): the batch again, one document at a time.
    refused: dict[int, str] = {}
    for doc in docs:
        try:
            store.insert(conn, [doc], pending)
        except DOCUMENT_ERRORS as exc:
            store.remove(conn, [doc["id"]], pending)
            refused[doc["id"]] = unindexable_reason(exc)
    return refused


_END = object()


def _batches_ahead(
    documents: Iterable[SearchDocument], size: int, ahead: int = 4
) -> Iterator[list[SearchDocument]]:
    """`documents` in lists of `size`, read by a thread of their own up to `ahead` lists
    ahead of the caller: a reindex's documents are rendered (Python) while SQLite writes the
    previous batch (the sqlite3 module lets go of the GIL while a statement runs), so the two
    overlap instead of taking turns; with `directory index`'s forked renderer
    (`indexer.sync.rendered_apart`) it is receiving and unpickling its batches that overlaps
    (measured at 100,000 activities: 10-15% faster than reading them in turn). An error reading
    them is raised here, in the caller."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False  # the caller has stopped reading

    def read() -> None:
        try:
            batch: list[SearchDocument] = []
            for doc in documents:
                batch.append(doc)
                if len(batch) >= size:
                    if not put(batch):
                        return
                    batch = []
            if (not batch or put(batch)) and put(_END):
                return
        except BaseException as exc:  # to be raised in the caller's thread
            put(exc)

    reader = threading.Thread(target=read, name="reindex-reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _engine_failure(ids: Iterable[int], exc: sqlite3.Error) -> IndexingError:
    reason = f"the embedded index could not be written: {exc}"
    return IndexingError(dict.fromkeys(ids, reason), reason)


class EmbeddedEngine:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # The bitmaps of the file's latest generation this process has read (see bitmaps).
        self._snapshots = bitmaps.Snapshots()

    # --- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A connection to the index, brought up to `store.VERSION` first if an older version
        of the directory wrote it (see `store.upgrade`): never misread."""
        conn = store.connect(self.path)
        try:
            if store.version(conn) != store.VERSION:
                store.upgrade(conn)
        except store.NewerIndex as exc:
            conn.close()
            raise SearchUnavailable(str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time (a full reindex and a sync must not interleave)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # --- writing -------------------------------------------------------------------------

    def reindex(self, documents: Iterable[SearchDocument], progress: bool = False) -> ReindexStats:
        from tqdm import tqdm

        started = time.perf_counter()
        count = 0
        refused: dict[int, str] = {}
        batch: list[SearchDocument] = []
        with self._writer():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.building-{os.getpid()}")
            tmp.unlink(missing_ok=True)
            try:
                conn = sqlite3.connect(tmp, isolation_level=None)
                try:
                    # Bulk load: no journal, no fsync per batch; the file is not live until
                    # renamed.
                    conn.execute("PRAGMA journal_mode=OFF")
                    conn.execute("PRAGMA synchronous=OFF")
                    conn.executescript(store.SCHEMA)
                    bar = tqdm(unit="doc", disable=not progress, desc="embedded index")
                    conn.execute("BEGIN")
                    pending = bitmaps.Pending()
                    for batch in _batches_ahead(documents, BATCH):
                        refused.update(_insert_or_refuse(conn, batch, pending))
                        count += len(batch)
                        bar.update(len(batch))
                        if count % FLUSH_EVERY == 0:
                            pending.flush(conn)  # memory stays flat at any size
                    bar.close()
                    if refused and count == len(refused):
                        raise IndexingError(refused)  # none written: keep the previous index
                    pending.flush(conn)
                    conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
                    conn.execute("COMMIT")
                    conn.execute("PRAGMA journal_mode=DELETE")
                finally:
                    conn.close()
                os.replace(tmp, self.path)  # the atomic swap
            except sqlite3.Error as exc:
                raise _engine_failure((d["id"] for d in batch), exc) from exc
            finally:
                tmp.unlink(missing_ok=True)
        return ReindexStats(
            str(self.path), count - len(refused), time.perf_counter() - started, skipped=refused
        )

    def upsert(self, documents: list[SearchDocument]) -> dict[int, str]:
        if not documents:
            return {}
        with self._writer():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                pending = bitmaps.Pending()
                # Every id's older version goes, refused or not (see indexer.engine).
                store.remove(conn, [d["id"] for d in documents], pending)
                refused = _insert_or_refuse(conn, documents, pending)
                pending.flush(conn)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise _engine_failure((d["id"] for d in documents), exc) from exc
            finally:
                conn.close()
        return refused

    def delete(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._writer():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                pending = bitmaps.Pending()
                store.remove(conn, ids, pending)
                pending.flush(conn)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise _engine_failure(ids, exc) from exc
            finally:
                conn.close()

    # --- reading -------------------------------------------------------------------------

    def count(self) -> int:
        conn = self._connect()
        try:
            return int(conn.execute("SELECT count(*) FROM docs").fetchone()[0])
        finally:
            conn.close()

    def ids(self) -> set[int]:
        conn = self._connect()
        try:
            return {row[0] for row in conn.execute("SELECT id FROM docs")}
        finally:
            conn.close()

    def documents(self, ids: list[int]) -> dict[int, SearchDocument]:
        found: dict[int, SearchDocument] = {}
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"the search index cannot be opened: {exc}") from exc
        try:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT id, body FROM docs WHERE id IN ({marks})", chunk)
                found.update((row[0], json.loads(row[1])) for row in rows)
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"the search index is busy or damaged: {exc}") from exc
        finally:
            conn.close()
        return found

    def document(self, doc_id: int) -> dict[str, Any] | None:
        conn = self._connect()
        try:
            row = conn.execute("SELECT body FROM docs WHERE id = ?", (doc_id,)).fetchone()
            return json.loads(row[0]) if row else None
        finally:
            conn.close()

    def text_match(self, text: str) -> TextMatch | None:
        """User text as FTS5 expressions (see `indexer.embedded.matching`), no corrections."""
        return text_match(understand(text))

    def search(self, request: SearchRequest, today: date) -> SearchResult:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"the search index cannot be opened: {exc}") from exc
        try:
            # One read transaction: the documents, the text index and the bitmaps of one
            # generation, whatever a writer commits meanwhile.
            conn.execute("BEGIN")
            snapshot = self._snapshots.read(conn)
            plan = understand(request.text) if request.text else None
            corrected = None
            if plan is not None:
                fixes = corrections(conn, plan)
                if fixes:
                    # Added to the typed words, never in their place (`QueryPlan`).
                    plan = plan.with_corrections(fixes)
                    corrected = plan.corrected_text(request.text)
            result = query.search(
                conn, snapshot, request, today, text_match(plan) if plan else None
            )
            if corrected and result.total:
                return replace(result, corrected_text=corrected)
            return result
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"the search index is busy or damaged: {exc}") from exc
        finally:
            conn.close()

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        words = store.folded_words(prefix)
        if not words:
            return []
        conn = self._connect()
        try:
            return query.suggest(conn, words, limit)
        finally:
            conn.close()

    def generation(self) -> str:
        """The index file's fingerprint, without opening SQLite: its inode (a reindex renames
        a new file over it), size and mtime, and the file change counter of its header (bytes
        24-27, which SQLite bumps on every commit in rollback-journal mode: mtime alone may
        not move between two commits in the same clock tick)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return "unbuilt"
        except OSError as exc:
            raise SearchUnavailable(f"the search index cannot be opened: {exc}") from exc
        try:
            st = os.fstat(fd)
            counter = os.pread(fd, 4, 24).hex()
        finally:
            os.close(fd)
        return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{counter}"
