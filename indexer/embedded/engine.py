"""The embedded search engine: SQLite FTS5 in one file beside the registry, no server.

Why SQLite FTS5: it ships with Python, ranks with BM25, stems (porter) and folds accents
(unicode61 remove_diacritics), and facet counts are plain SQL GROUP BYs over a
(facet, value, doc) table. A small deployment gets real search with nothing to install.

Layout of the index file:
- docs: one row per document, the JSON body plus the columns filters and sorts read;
- fts: FTS5 table over the searchable text (rowid = document id), weighted per column;
- facets: (facet, value, doc_id) rows, one per value a document has for a facet;
- deadlines: (doc_id, board, points, deadline) for per-board sorts and the claim window;
- words: the unstemmed words of titles, keywords, practice areas and providers, for typo
  correction and typeahead.

A full reindex builds a new file and `os.replace`s it over the old one: an atomic rename, so
a search sees the old index or the new one, never an empty or half-built one. The file uses
a rollback journal, not WAL, because a WAL file belongs to its database by name and must
never be paired with a different file after the rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import time
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from directory.search import (
    FACETS,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchResult,
    facet_label,
)
from indexer.engine import IndexingError, ReindexStats, SearchUnavailable, Suggestion
from indexer.synonyms import synonym_groups

TOKENIZER = "porter unicode61 remove_diacritics 2"
# Column order of the fts table and its BM25 weights: a title match outranks a description one.
TEXT_COLUMNS = ("title", "practice_areas", "keywords", "provider", "objectives", "description")
WEIGHTS = (6.0, 4.0, 3.0, 3.0, 2.0, 1.0)

SCHEMA = f"""
CREATE TABLE docs (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    end_date TEXT NOT NULL,
    start_date TEXT,
    next_start TEXT,
    enduring INTEGER NOT NULL,
    cme_credits REAL,
    max_points REAL,
    claim_deadline TEXT,
    created_at TEXT
);
CREATE VIRTUAL TABLE fts USING fts5({", ".join(TEXT_COLUMNS)}, tokenize='{TOKENIZER}');
CREATE TABLE facets (
    facet TEXT NOT NULL, value TEXT NOT NULL, doc_id INTEGER NOT NULL,
    PRIMARY KEY (facet, value, doc_id)
) WITHOUT ROWID;
CREATE INDEX facets_by_doc ON facets (doc_id);
CREATE TABLE labels (facet TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY (facet, value)) WITHOUT ROWID;
CREATE TABLE deadlines (
    doc_id INTEGER NOT NULL, board TEXT NOT NULL, points REAL, deadline TEXT,
    PRIMARY KEY (doc_id, board)
) WITHOUT ROWID;
CREATE TABLE words (word TEXT PRIMARY KEY, uses INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE suggestions (
    kind TEXT NOT NULL, text TEXT NOT NULL, folded TEXT NOT NULL, uses INTEGER NOT NULL,
    PRIMARY KEY (kind, text)
) WITHOUT ROWID;
CREATE INDEX suggestions_by_folded ON suggestions (folded);
"""

_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents: 'Sjögren' -> 'sjogren'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _edits_allowed(word: str) -> int:
    # OpenSearch's fuzziness AUTO: no edits below 3 characters, one up to 5, two beyond.
    return 0 if len(word) < 3 else 1 if len(word) <= 5 else 2


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance with transpositions, giving up past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class _Stemmer:
    """FTS5's own tokenizer, run on arbitrary text: the stems it would index or match."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.execute(f"CREATE VIRTUAL TABLE tok USING fts5(x, tokenize='{TOKENIZER}')")
        self.conn.execute("CREATE VIRTUAL TABLE tokv USING fts5vocab(tok, 'instance')")

    def stems(self, texts: list[str]) -> list[tuple[str, ...]]:
        with self.conn:
            self.conn.execute("DELETE FROM tok")
            self.conn.executemany(
                "INSERT INTO tok (rowid, x) VALUES (?, ?)", list(enumerate(texts, 1))
            )
            out: list[list[str]] = [[] for _ in texts]
            for doc, term in self.conn.execute("SELECT doc, term FROM tokv ORDER BY doc, offset"):
                out[doc - 1].append(term)
        return [tuple(t) for t in out]


class EmbeddedEngine:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # --- connections ---------------------------------------------------------------------

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        target = path or self.path
        if path is None and not target.exists():
            self._create(target)
        conn = sqlite3.connect(target, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=DELETE")
        return conn

    def _create(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.new-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        conn.executescript(SCHEMA)
        conn.close()
        with contextlib.suppress(FileExistsError):
            os.link(tmp, target)  # create only if still absent: never replace a built index
        tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time (a full reindex and a sync must not interleave)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # --- writing -------------------------------------------------------------------------

    def reindex(self, documents: Iterable[dict[str, Any]], progress: bool = False) -> ReindexStats:
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
                conn.executescript(SCHEMA)
                count = 0
                bar = tqdm(unit="doc", disable=not progress, desc="embedded index")
                batch: list[dict[str, Any]] = []
                conn.execute("BEGIN")
                for doc in documents:
                    batch.append(doc)
                    if len(batch) >= 1000:
                        self._insert(conn, batch)
                        count += len(batch)
                        bar.update(len(batch))
                        batch = []
                self._insert(conn, batch)
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

    def upsert(self, documents: list[dict[str, Any]]) -> None:
        if not documents:
            return
        with self._writer():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._remove(conn, [d["id"] for d in documents])
                self._insert(conn, documents)
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
                self._remove(conn, ids)
                conn.execute("COMMIT")
            finally:
                conn.close()

    def _remove(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            # Words and suggestions are left as they are: a stale one costs a wasted lookup.
            for sql in (
                f"DELETE FROM docs WHERE id IN ({marks})",
                f"DELETE FROM fts WHERE rowid IN ({marks})",
                f"DELETE FROM facets WHERE doc_id IN ({marks})",
                f"DELETE FROM deadlines WHERE doc_id IN ({marks})",
            ):
                conn.execute(sql, chunk)

    def _insert(self, conn: sqlite3.Connection, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        conn.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d["id"], json.dumps(d, separators=(",", ":")), d["end_date"], d["start_date"],
                    d["next_start"], int(d["enduring"]), d["cme_credits"], d["max_points"],
                    d["claim_deadline"], d["created_at"],
                )
                for d in docs
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO fts (rowid, title, practice_areas, keywords, provider, objectives,"
            " description) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d["id"], d["title"], " | ".join(d["practice_area_names"] + d["board_names"]),
                    " | ".join(d["keywords"]), d["provider_name"], " | ".join(d["objectives"]),
                    d["description"],
                )
                for d in docs
            ],
        )  # fmt: skip
        facet_rows = []
        for d in docs:
            for facet in FACETS:
                value = d.get(facet.name)
                values = value if isinstance(value, list) else [value]
                facet_rows += [(facet.name, str(v), d["id"]) for v in values if v not in (None, "")]
        conn.executemany("INSERT OR IGNORE INTO facets VALUES (?, ?, ?)", facet_rows)
        conn.executemany(
            "INSERT OR REPLACE INTO labels VALUES ('provider', ?, ?)",
            {(d["provider"], d["provider_name"]) for d in docs},
        )
        conn.executemany(
            "INSERT INTO deadlines VALUES (?, ?, ?, ?)",
            [
                (d["id"], board, d["points"].get(board), d["deadlines"].get(board))
                for d in docs
                for board in sorted(set(d["points"]) | set(d["deadlines"]))
            ],
        )
        words: dict[str, int] = {}
        suggestions: dict[tuple[str, str], int] = {}
        for d in docs:
            for text in [
                d["title"],
                d["provider_name"],
                *d["keywords"],
                *d["practice_area_names"],
                *d["board_names"],
            ]:
                for w in _WORD.findall(fold(text)):
                    if len(w) > 2:
                        words[w] = words.get(w, 0) + 1
            for kind, texts in (
                ("title", [d["title"]]),
                ("practice_area", d["practice_area_names"]),
                ("provider", [d["provider_name"]]),
            ):
                for text in texts:
                    suggestions[(kind, text)] = suggestions.get((kind, text), 0) + 1
        conn.executemany(
            "INSERT INTO words VALUES (?, ?) ON CONFLICT (word) DO UPDATE SET uses = uses + excluded.uses",
            words.items(),
        )
        conn.executemany(
            "INSERT INTO suggestions VALUES (?, ?, ?, ?) ON CONFLICT (kind, text) DO UPDATE SET uses = uses + excluded.uses",
            [(k, t, " ".join(_WORD.findall(fold(t))), n) for (k, t), n in suggestions.items()],
        )

    # --- reading -------------------------------------------------------------------------

    def count(self) -> int:
        conn = self._connect()
        try:
            return conn.execute("SELECT count(*) FROM docs").fetchone()[0]
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
    def _stemmer(self) -> _Stemmer:
        return _Stemmer()

    @cached_property
    def _synonyms(self) -> dict[tuple[str, ...], int]:
        """Stemmed synonym term -> its group's index."""
        groups = synonym_groups()
        terms = [(i, t) for i, group in enumerate(groups) for t in group]
        stems = self._stemmer.stems([t for _, t in terms])
        return {s: i for (i, _), s in zip(terms, stems, strict=True) if s}

    def _phrase(self, words: Iterable[str]) -> str:
        return '"' + " ".join(words) + '"'

    def _group(self, index: int) -> str:
        alternatives = sorted({self._phrase(_WORD.findall(t)) for t in synonym_groups()[index]})
        return "(" + " OR ".join(alternatives) + ")"

    def match_expression(self, text: str) -> str | None:
        """User text -> an FTS5 query: every term required, phrases kept, synonyms OR-ed.

        Every word is quoted, so nothing the user types is read as FTS5 syntax (no column
        filters, NEAR, NOT or prefix stars from the query string).
        """
        folded = fold(text)
        phrases = [_WORD.findall(p) for p in _PHRASE.findall(folded)]
        rest = _WORD.findall(_PHRASE.sub(" ", folded))
        clauses: list[str] = []
        stems = self._stemmer.stems([" ".join(p) for p in phrases] + rest)
        for words, stem in zip(phrases, stems[: len(phrases)], strict=True):
            if words:
                group = self._synonyms.get(stem)
                clauses.append(self._group(group) if group is not None else self._phrase(words))
        rest_stems = stems[len(phrases) :]
        i = 0
        while i < len(rest):
            # Longest run of words that is a synonym term ("heart attack", "type 2 diabetes").
            for size in range(min(6, len(rest) - i), 0, -1):
                key = tuple(s for st in rest_stems[i : i + size] for s in st)
                group = self._synonyms.get(key) if key else None
                if group is not None:
                    clauses.append(self._group(group))
                    i += size
                    break
            else:
                if rest_stems[i]:
                    clauses.append(self._phrase(rest[i : i + 1]))
                i += 1
        return " AND ".join(clauses) or None

    def _correct(self, conn: sqlite3.Connection, text: str) -> str | None:
        """The text with each unknown word replaced by the most used word within its edits."""
        words = _WORD.findall(fold(_PHRASE.sub(" ", text)))
        changed = False
        corrected = []
        for w in words:
            limit = _edits_allowed(w)
            known = conn.execute("SELECT 1 FROM words WHERE word = ?", (w,)).fetchone()
            if known or limit == 0:
                corrected.append(w)
                continue
            # Same first letter (as OpenSearch's prefix_length 1) and a similar length.
            candidates = conn.execute(
                "SELECT word, uses FROM words WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
                (w[0], chr(ord(w[0]) + 1), len(w) - limit, len(w) + limit),
            ).fetchall()
            scored = [(_distance(w, c, limit), -uses, c) for c, uses in candidates]
            best = min((s for s in scored if s[0] <= limit), default=None)
            corrected.append(best[2] if best else w)
            changed = changed or best is not None
        return " ".join(corrected) if changed else None

    def search(self, request: SearchRequest, today: date) -> SearchResult:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"the search index cannot be opened: {exc}") from exc
        try:
            result = self._search(conn, request, today, request.text)
            if request.text and result.total == 0:
                corrected = self._correct(conn, request.text)
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
        base = ["d.end_date >= ?"]
        params: list[Any] = [today.isoformat()]
        match = self.match_expression(text) if text else None
        if match:
            base.append("d.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(match)
        if request.when == "upcoming":
            base.append("d.next_start >= ?")
            params.append(today.isoformat())
        elif request.when == "available_now":
            base.append("d.enduring = 1 AND d.start_date <= ?")
            params.append(today.isoformat())
        low, high = request.date_window(today)
        if low:
            base.append("d.end_date >= ?")
            params.append(low.isoformat())
        if high:
            base.append("d.start_date <= ?")
            params.append(high.isoformat())
        if request.credits_min is not None:
            base.append("d.cme_credits >= ?")
            params.append(request.credits_min)
        if request.credits_max is not None:
            base.append("d.cme_credits <= ?")
            params.append(request.credits_max)
        boards = request.selected("board")
        if request.claim_within_days is not None:
            window = "dl.deadline BETWEEN ? AND ?"
            board_clause = ""
            if boards:
                board_clause = f" AND dl.board IN ({','.join('?' * len(boards))})"
            base.append(
                f"EXISTS (SELECT 1 FROM deadlines dl WHERE dl.doc_id = d.id AND {window}{board_clause})"
            )
            params += [
                today.isoformat(),
                (today + timedelta(days=request.claim_within_days)).isoformat(),
            ]
            params += list(boards)

        def selection(facet: str) -> tuple[str, list[Any]]:
            values = request.selected(facet)
            marks = ",".join("?" * len(values))
            return (
                f"d.id IN (SELECT doc_id FROM facets WHERE facet = ? AND value IN ({marks}))",
                [facet, *values],
            )

        selected = [f.name for f in FACETS if request.selected(f.name)]

        def where(except_facet: str | None = None) -> tuple[str, list[Any]]:
            clauses, args = list(base), list(params)
            for facet in selected:
                if facet != except_facet:
                    clause, more = selection(facet)
                    clauses.append(clause)
                    args += more
            return " AND ".join(clauses), args

        # Each distinct matching set is computed once, into a temporary table: the facets
        # nobody selected all share the full selection's set; a selected facet gets the set
        # of every other selection (disjunctive counts).
        conn.execute("PRAGMA temp_store=MEMORY")

        def materialize(name: str, except_facet: str | None) -> str:
            clause, args = where(except_facet)
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            conn.execute(f"CREATE TEMP TABLE {name} (id INTEGER PRIMARY KEY)")
            conn.execute(f"INSERT INTO temp.{name} SELECT d.id FROM docs d WHERE {clause}", args)
            return name

        matching = materialize("m_all", None)
        facets = []
        for facet in FACETS:
            table = (
                materialize(f"m_{facet.name}", facet.name) if facet.name in selected else matching
            )
            rows = conn.execute(
                f"SELECT f.value, count(*) AS n FROM facets f JOIN temp.{table} m ON m.id = f.doc_id "
                "WHERE f.facet = ? GROUP BY f.value ORDER BY n DESC, f.value LIMIT ?",
                [facet.name, facet.size],
            ).fetchall()
            facets.append(self._facet_result(conn, facet.name, facet.label, rows, request))

        total = conn.execute(f"SELECT count(*) FROM temp.{matching}").fetchone()[0]
        order, join, order_args = self._order(request, match, boards)
        rows = conn.execute(
            f"SELECT d.body FROM temp.{matching} m JOIN docs d ON d.id = m.id {join} "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            [*order_args, request.per_page, request.offset],
        ).fetchall()
        hits = tuple(json.loads(r[0]) for r in rows)
        return SearchResult(request, total, hits, tuple(facets))

    def _facet_result(
        self,
        conn: sqlite3.Connection,
        name: str,
        label: str,
        rows: list[Any],
        request: SearchRequest,
    ) -> FacetResult:
        counts = dict(rows)
        order = [value for value, _ in rows]
        for value in request.selected(name):
            if value not in counts:
                counts[value] = 0
                order.append(value)
        labels: dict[str, str] = {}
        if name == "provider" and order:
            marks = ",".join("?" * len(order))
            labels = dict(
                conn.execute(
                    f"SELECT value, label FROM labels WHERE facet = 'provider' AND value IN ({marks})",
                    order,
                ).fetchall()
            )
        chosen = set(request.selected(name))
        return FacetResult(
            name,
            label,
            tuple(
                FacetValue(v, labels.get(v) or facet_label(name, v), counts[v], v in chosen)
                for v in order
            ),
        )

    def _order(
        self, request: SearchRequest, match: str | None, boards: tuple[str, ...]
    ) -> tuple[str, str, list[Any]]:
        """ORDER BY clause, an extra JOIN, and their parameters (JOIN's first)."""
        sort = request.effective_sort
        if sort == "relevance" and match:
            weights = ", ".join(f"{w:g}" for w in WEIGHTS)
            join = (
                "JOIN (SELECT rowid AS rid, bm25(fts, "
                + weights
                + ") AS rank FROM fts WHERE fts MATCH ?) r ON r.rid = d.id"
            )
            return "r.rank, d.id", join, [match]
        if sort == "credits":
            return "d.cme_credits IS NULL, d.cme_credits DESC, d.id", "", []
        if sort == "points":
            board = request.points_board
            if board:
                join = "LEFT JOIN deadlines p ON p.doc_id = d.id AND p.board = ?"
                return "p.points IS NULL, p.points DESC, d.id", join, [board]
            return "d.max_points IS NULL, d.max_points DESC, d.id", "", []
        if sort == "deadline":
            if boards:
                marks = ",".join("?" * len(boards))
                join = (
                    "LEFT JOIN (SELECT doc_id, min(deadline) AS dl FROM deadlines "
                    f"WHERE board IN ({marks}) GROUP BY doc_id) b ON b.doc_id = d.id"
                )
                return "b.dl IS NULL, b.dl, d.id", join, list(boards)
            return "d.claim_deadline IS NULL, d.claim_deadline, d.id", "", []
        if sort == "newest":
            return "d.created_at IS NULL, d.created_at DESC, d.id", "", []
        return "d.next_start IS NULL, d.next_start, d.id", "", []

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        words = _WORD.findall(fold(prefix))
        if not words:
            return []
        conn = self._connect()
        try:
            # Every typed word must start a word of the suggestion; the last may be partial.
            like = " AND ".join(["(' ' || folded) LIKE ? ESCAPE '\\'"] * len(words))
            rows = conn.execute(
                f"SELECT kind, text FROM suggestions WHERE {like} "
                "ORDER BY CASE kind WHEN 'practice_area' THEN 0 WHEN 'provider' THEN 1 ELSE 2 END,"
                " uses DESC, text LIMIT ?",
                [*(f"% {w}%" for w in words), limit],
            ).fetchall()
        finally:
            conn.close()
        return [Suggestion(text, kind) for kind, text in rows]
