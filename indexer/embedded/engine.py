"""The embedded search engine: SQLite FTS5 in one file beside the registry, no server.

Why SQLite FTS5: it ships with Python, ranks with BM25, stems (porter) and folds accents
(unicode61 remove_diacritics), and facet counts are plain SQL GROUP BYs over a
(facet, value, doc) table. A small deployment gets real search with nothing to install.

The class ties together, for one index file:
- `indexer.embedded.store`: the file's tables and writing documents into them;
- `indexer.embedded.matching`: the user's text as an FTS5 MATCH expression, and typo
  corrections;
- `indexer.embedded.query`: a SearchRequest as SQL (filters, facets, sorts) and typeahead.

A full reindex builds a new file and `os.replace`s it over the old one: an atomic rename, so
a search sees the old index or the new one, never an empty or half-built one. Writers take
a lock file, so a reindex and a sync never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from directory.search import SearchRequest, SearchResult
from indexer.document import SearchDocument
from indexer.embedded import query, store
from indexer.embedded.matching import Matcher, correct
from indexer.engine import IndexingError, ReindexStats, SearchUnavailable, Suggestion

BATCH = 1000  # documents per executemany during a full reindex


class EmbeddedEngine:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # --- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return store.connect(self.path)

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
        with self._writer():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.building-{os.getpid()}")
            tmp.unlink(missing_ok=True)
            try:
                conn = sqlite3.connect(tmp, isolation_level=None)
                # Bulk load: no journal, no fsync per batch; the file is not live until renamed.
                conn.execute("PRAGMA journal_mode=OFF")
                conn.execute("PRAGMA synchronous=OFF")
                conn.executescript(store.SCHEMA)
                count = 0
                bar = tqdm(unit="doc", disable=not progress, desc="embedded index")
                batch: list[SearchDocument] = []
                conn.execute("BEGIN")
                for doc in documents:
                    batch.append(doc)
                    if len(batch) >= BATCH:
                        store.insert(conn, batch)
                        count += len(batch)
                        bar.update(len(batch))
                        batch = []
                store.insert(conn, batch)
                count += len(batch)
                bar.update(len(batch))
                bar.close()
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode=DELETE")
                conn.close()
                os.replace(tmp, self.path)  # the atomic swap
            finally:
                tmp.unlink(missing_ok=True)
        return ReindexStats(str(self.path), count, time.perf_counter() - started)

    def upsert(self, documents: list[SearchDocument]) -> None:
        if not documents:
            return
        with self._writer():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                store.remove(conn, [d["id"] for d in documents])
                store.insert(conn, documents)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise IndexingError({d["id"]: str(exc) for d in documents}) from exc
            finally:
                conn.close()

    def delete(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._writer():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                store.remove(conn, ids)
                conn.execute("COMMIT")
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

    def document(self, doc_id: int) -> dict[str, Any] | None:
        conn = self._connect()
        try:
            row = conn.execute("SELECT body FROM docs WHERE id = ?", (doc_id,)).fetchone()
            return json.loads(row[0]) if row else None
        finally:
            conn.close()

    @cached_property
    def _matcher(self) -> Matcher:
        return Matcher()

    def match_expression(self, text: str) -> str | None:
        """User text as an FTS5 query (see `indexer.embedded.matching.Matcher`)."""
        return self._matcher.match_expression(text)

    def search(self, request: SearchRequest, today: date) -> SearchResult:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"the search index cannot be opened: {exc}") from exc
        try:
            result = self._search(conn, request, today, request.text)
            if request.text and result.total == 0:
                corrected = correct(conn, request.text)
                if corrected:
                    retry = self._search(conn, request, today, corrected)
                    if retry.total:
                        return SearchResult(
                            request, retry.total, retry.hits, retry.facets, corrected_text=corrected
                        )
            return result
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"the search index is busy or damaged: {exc}") from exc
        finally:
            conn.close()

    def _search(
        self, conn: sqlite3.Connection, request: SearchRequest, today: date, text: str
    ) -> SearchResult:
        match = self.match_expression(text) if text else None
        return query.search(conn, request, today, match)

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        words = store.folded_words(prefix)
        if not words:
            return []
        conn = self._connect()
        try:
            return query.suggest(conn, words, limit)
        finally:
            conn.close()
