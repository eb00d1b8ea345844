"""The embedded search's floor: SQLite FTS5 for the text, per-facet-value bitmaps for the rest.

What a search of the embedded engine could cost at best, built with the same tools it has
(SQLite's FTS5 with its tokenizer, and pyroaring): the text is matched by FTS5, one MATCH per
concept of the shared query plan (`indexer.text.understand`, typo corrections included), and
everything after that (the filters, the disjunctive facet counts, the total, the page) is
bitmap arithmetic over sets precomputed at load. `bench.ratios` checks on every query of the
mix that it answers the same total and the same facet counts as the engine, so the ratio
compares equal work; the page is ranked more simply (FTS5's bm25 over one table, or a
presorted order), which is why the hits themselves are not compared.

Nothing here is product code: it reads documents as the engine holds them and answers
(total, facets, hit ids) only for the benchmark.
"""

from __future__ import annotations

import bisect
import heapq
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pyroaring import BitMap

from directory.search import FACETS, TEXT_FIELD_NAMES, SearchRequest
from indexer.text import (
    Concept,
    QueryPlan,
    ascii_words,
    edit_distance,
    fold_simple,
    max_edits,
    strip_possessives,
    understand,
)

TOKENIZER = "porter unicode61 remove_diacritics 2"  # the embedded engine's
# The fields whose words typos are corrected against (the embedded engine's `words` table).
WORD_FIELDS = ("title", "provider_name", "keywords", "practice_area_names", "board_names")

# (total, ((facet name, ((value, count), ...)), ...)): what must equal the engine's answer.
Counts = tuple[int, tuple[tuple[str, tuple[tuple[str, int], ...]], ...]]


def result_counts(result: Any) -> Counts:
    """A `SearchResult`'s total and facet counts, in its order, for comparison."""
    return (
        result.total,
        tuple((f.name, tuple((v.value, v.count) for v in f.values)) for f in result.facets),
    )


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


class RangeIndex:
    """Documents by one sortable value (dates as ISO strings, numbers): a bitmap per distinct
    value, so a range is a union of bitmaps, done in C."""

    def __init__(self, pairs: Iterable[tuple[Any, int]]) -> None:
        by_value: dict[Any, list[int]] = {}
        for value, doc_id in pairs:
            if value is not None:
                by_value.setdefault(value, []).append(doc_id)
        self.keys = sorted(by_value)
        self.maps = [BitMap(by_value[k]) for k in self.keys]

    def between(self, low: Any = None, high: Any = None) -> BitMap:
        start = 0 if low is None else bisect.bisect_left(self.keys, low)
        end = len(self.keys) if high is None else bisect.bisect_right(self.keys, high)
        return BitMap.union(*self.maps[start:end]) if end > start else BitMap()


class _Default(dict):
    """A mapping that answers None for a missing key (a document without this board)."""

    def __missing__(self, key: Any) -> None:
        return None


class BitmapFloor:
    """Load documents once (`load`), then answer `search` as the floor described above."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    # --- loading ---------------------------------------------------------------------------

    def load(self, documents: Iterable[Mapping[str, Any]]) -> None:
        self.path.unlink(missing_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        columns = ", ".join(TEXT_FIELD_NAMES)
        conn.execute(f"CREATE VIRTUAL TABLE fts USING fts5({columns}, tokenize='{TOKENIZER}')")
        conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.execute("BEGIN")
        facet_ids: dict[str, dict[str, list[int]]] = {f.name: {} for f in FACETS}
        self.labels: dict[str, str] = {}
        self.words: dict[str, int] = {}
        ends, starts, nexts, credits = [], [], [], []
        deadlines: dict[str | None, list[tuple[str, int]]] = {}
        enduring: list[int] = []
        self.sort_values: dict[str, dict[int, Any]] = {
            k: {}
            for k in ("next_start", "cme_credits", "max_points", "claim_deadline", "created_at")
        }
        self.points: dict[str, dict[int, float]] = {}
        self.deadline_of: dict[int, dict[str, str]] = {}
        batch: list[Mapping[str, Any]] = []

        def flush() -> None:
            conn.executemany(
                # Fixed column names and "?" placeholders only; values are bound.
                f"INSERT INTO fts (rowid, {columns}) VALUES (?{', ?' * len(TEXT_FIELD_NAMES)})",  # noqa: S608
                [
                    (
                        d["id"],
                        *(
                            strip_possessives(" | ".join(str(t) for t in _values(d[f]) if t))
                            for f in TEXT_FIELD_NAMES
                        ),
                    )
                    for d in batch
                ],
            )
            conn.executemany(
                "INSERT INTO docs VALUES (?, ?)", [(d["id"], json.dumps(d)) for d in batch]
            )
            batch.clear()

        for d in documents:
            doc_id = d["id"]
            batch.append(d)
            if len(batch) >= 1000:
                flush()
            for facet in FACETS:
                for v in _values(d.get(facet.name)):
                    if v not in (None, ""):
                        facet_ids[facet.name].setdefault(str(v), []).append(doc_id)
            self.labels[str(d["provider"])] = d["provider_name"]
            for field in WORD_FIELDS:
                for text in _values(d[field]):
                    for w in ascii_words(fold_simple(text or "")):
                        if len(w) > 2:
                            self.words[w] = self.words.get(w, 0) + 1
            ends.append((d["end_date"], doc_id))
            starts.append((d["start_date"], doc_id))
            nexts.append((d["next_start"], doc_id))
            credits.append((d["cme_credits"], doc_id))
            if d["enduring"]:
                enduring.append(doc_id)
            for board, deadline in d["deadlines"].items():
                if deadline:
                    deadlines.setdefault(board, []).append((deadline, doc_id))
                    deadlines.setdefault(None, []).append((deadline, doc_id))
            for board, points in d["points"].items():
                self.points.setdefault(board, {})[doc_id] = points
            self.deadline_of[doc_id] = {b: x for b, x in d["deadlines"].items() if x}
            for key, values in self.sort_values.items():
                values[doc_id] = d.get(key)
        flush()
        conn.execute("COMMIT")
        self.conn = conn
        self.facets = {
            name: {v: BitMap(ids) for v, ids in by_value.items()}
            for name, by_value in facet_ids.items()
        }
        self.end = RangeIndex(ends)
        self.start = RangeIndex(starts)
        self.next_start = RangeIndex(nexts)
        self.credits = RangeIndex(credits)
        self.enduring = BitMap(enduring)
        self.deadlines = {board: RangeIndex(pairs) for board, pairs in deadlines.items()}
        self.all = BitMap(self.sort_values["next_start"])
        self.by_letter: dict[str, list[tuple[str, int]]] = {}
        for word, uses in self.words.items():
            self.by_letter.setdefault(word[0], []).append((word, uses))
        created = {
            i: -datetime.fromisoformat(v).timestamp() if v else None
            for i, v in self.sort_values["created_at"].items()
        }
        # The sorts that need no board, as keys (missing values last, ties by id) and as
        # presorted orders: a page of a dense set is its first members in that order.
        self.keys: dict[str, Callable[[int], Any]] = {
            "soonest": self._key(self.sort_values["next_start"], False),
            "credits": self._key(self.sort_values["cme_credits"], True),
            "points": self._key(self.sort_values["max_points"], True),
            "deadline": self._key(self.sort_values["claim_deadline"], False),
            "newest": self._key(created, False),
        }
        self.orders = {sort: sorted(self.all, key=key) for sort, key in self.keys.items()}

    @staticmethod
    def _key(values: Mapping[int, Any], descending: bool) -> Callable[[int], Any]:
        def key(i: int) -> Any:
            v = values[i]
            return (1, 0, i) if v is None else (0, -v if descending else v, i)

        return key

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.path.unlink(missing_ok=True)

    # --- text ------------------------------------------------------------------------------

    def _match(self, expression: str) -> BitMap:
        assert self.conn is not None
        rows = self.conn.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (expression,))
        return BitMap(r[0] for r in rows)

    def _holds(self, word: str) -> bool:
        assert self.conn is not None
        if word in self.words:
            return True
        row = self.conn.execute(
            "SELECT 1 FROM fts WHERE fts MATCH ? LIMIT 1", (_phrase([word]),)
        ).fetchone()
        return row is not None

    def _corrections(self, plan: QueryPlan) -> dict[str, str]:
        found: dict[str, str] = {}
        for w in plan.correctable():
            if self._holds(w):
                continue
            limit = max_edits(w)
            best = min(
                (
                    (dist, -uses, c)
                    for c, uses in self.by_letter.get(w[0], ())
                    if abs(len(c) - len(w)) <= limit
                    and (dist := edit_distance(w, c, limit)) <= limit
                ),
                default=None,
            )  # fmt: skip
            if best:
                found[w] = best[2]
        return found

    def _text(self, text: str) -> tuple[BitMap, str] | None:
        """The documents matching `text` by the shared plan, and an FTS5 expression of any
        of its concepts (for ranking); None when the plan asks for nothing."""
        plan = understand(text)
        if not plan.concepts:
            return None
        fixes = self._corrections(plan)
        if fixes:
            plan = plan.with_corrections(fixes)
        expressions = [_concept_expression(c) for c in plan.concepts]
        maps = [self._match(e) for e in expressions]
        required = [m for m, c in zip(maps, plan.concepts, strict=True) if c.required]
        # at_least[j]: documents matching at least j concepts, built one concept at a time.
        at_least = [self.all] + [BitMap() for _ in maps]
        for n, m in enumerate(maps, start=1):
            for j in range(n, 0, -1):
                at_least[j] = at_least[j] | (at_least[j - 1] & m)
        matched = at_least[plan.minimum]
        for m in required:
            matched &= m
        return matched, " OR ".join(f"({e})" for e in expressions)

    # --- searching -------------------------------------------------------------------------

    def _filters(self, request: SearchRequest, today: date) -> BitMap:
        day = today.isoformat()
        base = self.end.between(low=day)
        if request.when == "upcoming":
            base &= self.next_start.between(low=day)
        elif request.when == "available_now":
            base &= self.enduring & self.start.between(high=day)
        low, high = request.date_window(today)
        if low:
            base &= self.end.between(low=low.isoformat())
        if high:
            base &= self.start.between(high=high.isoformat())
        if request.credits_min is not None or request.credits_max is not None:
            base &= self.credits.between(request.credits_min, request.credits_max)
        if request.claim_within_days is not None:
            until = (today + timedelta(days=request.claim_within_days)).isoformat()
            boards = request.selected("board") or (None,)
            base &= BitMap.union(
                *(self.deadlines[b].between(day, until) for b in boards if b in self.deadlines),
                BitMap(),
            )
        return base

    def _selection(self, facet: str, values: tuple[str, ...]) -> BitMap:
        maps = self.facets[facet]
        return BitMap.union(*(maps[v] for v in values if v in maps), BitMap())

    def search(self, request: SearchRequest, today: date) -> tuple[Counts, list[int], list[Any]]:
        """(total and facet counts, the page's ids, the page's documents)."""
        assert self.conn is not None
        base = self._filters(request, today)
        text = self._text(request.text.strip()) if request.text else None
        if text is not None:
            base &= text[0]
        selections = {
            f.name: self._selection(f.name, request.selected(f.name))
            for f in FACETS
            if request.selected(f.name)
        }
        matching = base
        for chosen in selections.values():
            matching = matching & chosen
        facets = []
        for facet in FACETS:
            scope = matching
            if facet.name in selections:  # every selection but its own
                scope = base
                for other, chosen in selections.items():
                    if other != facet.name:
                        scope = scope & chosen
            counted = [
                (value, n)
                for value, bm in self.facets[facet.name].items()
                if (n := bm.intersection_cardinality(scope))
            ]
            counted.sort(key=lambda vn: (-vn[1], vn[0]))
            counted = counted[: facet.size]
            present = {v for v, _ in counted}
            counted += [(v, 0) for v in request.selected(facet.name) if v not in present]
            facets.append((facet.name, tuple(counted)))
        page = self._page(request, matching, text[1] if text else None)
        marks = ",".join("?" * len(page))
        query = f"SELECT body FROM docs WHERE id IN ({marks})"  # noqa: S608 - "?" marks only
        rows = self.conn.execute(query, page).fetchall()
        by_id = {d["id"]: d for d in (json.loads(r[0]) for r in rows)}
        return (len(matching), tuple(facets)), page, [by_id[i] for i in page]

    def _page(self, request: SearchRequest, matching: BitMap, text: str | None) -> list[int]:
        assert self.conn is not None
        wanted = request.offset + request.per_page
        sort = request.effective_sort
        if sort == "relevance" and text:
            rows = self.conn.execute(
                "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank", (text,)
            )
            ranked = [r[0] for r in rows if r[0] in matching]
            return ranked[request.offset : wanted]
        key: Callable[[int], Any] | None = None
        board = request.points_board
        boards = request.selected("board")
        if sort == "points" and board:
            points = self.points.get(board, {})
            key = self._key(_Default(points), True)
        elif sort == "deadline" and boards:

            def key(i: int) -> Any:
                held = [x for b, x in self.deadline_of[i].items() if b in boards]
                return (not held, min(held) if held else "", i)

        if key is not None:
            return heapq.nsmallest(wanted, matching, key=key)[request.offset :]
        sort = sort if sort in self.orders else "soonest"
        order = self.orders[sort]
        if len(matching) * 50 < len(order):  # sparse: sort the few members instead
            return heapq.nsmallest(wanted, matching, key=self.keys[sort])[request.offset :]
        page: list[int] = []
        for i in order:
            if i in matching:
                page.append(i)
                if len(page) == wanted:
                    break
        return page[request.offset :]


def _phrase(words: Iterable[str]) -> str:
    return '"' + " ".join(words) + '"'


def _concept_expression(concept: Concept) -> str:
    """A concept as FTS5: the typed words (all, anywhere; a phrase when quoted) OR-ed with
    its alternatives as phrases. Every word is quoted, so nothing typed is FTS5 syntax."""
    if concept.quoted or len(concept.words) == 1:
        typed = _phrase(concept.words)
    else:
        typed = "(" + " AND ".join(_phrase([w]) for w in concept.words) + ")"
    return " OR ".join([typed, *sorted({_phrase(a) for a in concept.alternatives})])
