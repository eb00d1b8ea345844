"""A SearchRequest as SQL over the embedded index: filters, disjunctive facets, sorts, typeahead.

Every value is a bound "?" parameter; the SQL itself is assembled from fixed fragments only
(the user's text reaches FTS5 as the bound MATCH expression of `indexer.embedded.matching`).

Facet counts are plain GROUP BYs over the (facet, value, doc) table. Each distinct set of
matching documents is computed once, into a temporary table: the facets nobody selected all
share the full selection's set; a selected facet gets the set of every other selection
(disjunctive counts, as `directory.search` describes).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from typing import Any

from directory.search import (
    FACETS,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchResult,
    facet_label,
)
from indexer.embedded.store import WEIGHTS
from indexer.engine import Suggestion


def search(
    conn: sqlite3.Connection, request: SearchRequest, today: date, match: str | None
) -> SearchResult:
    """One page of `request` and every facet, the text already made a MATCH expression."""
    base = ["d.end_date >= ?"]
    params: list[Any] = [today.isoformat()]
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
        table = materialize(f"m_{facet.name}", facet.name) if facet.name in selected else matching
        rows = conn.execute(
            f"SELECT f.value, count(*) AS n FROM facets f JOIN temp.{table} m ON m.id = f.doc_id "
            "WHERE f.facet = ? GROUP BY f.value ORDER BY n DESC, f.value LIMIT ?",
            [facet.name, facet.size],
        ).fetchall()
        facets.append(_facet_result(conn, facet.name, facet.label, rows, request))

    total = conn.execute(f"SELECT count(*) FROM temp.{matching}").fetchone()[0]
    order, join, order_args = _order(request, match, boards)
    rows = conn.execute(
        f"SELECT d.body FROM temp.{matching} m JOIN docs d ON d.id = m.id {join} "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [*order_args, request.per_page, request.offset],
    ).fetchall()
    hits = tuple(json.loads(r[0]) for r in rows)
    return SearchResult(request, total, hits, tuple(facets))


def _facet_result(
    conn: sqlite3.Connection,
    name: str,
    label: str,
    rows: list[Any],
    request: SearchRequest,
) -> FacetResult:
    """The counted values in their order, then selected values nothing matched (count 0)."""
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
    request: SearchRequest, match: str | None, boards: tuple[str, ...]
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


def suggest(conn: sqlite3.Connection, words: list[str], limit: int) -> list[Suggestion]:
    """Practice areas, then providers, then titles with a word starting with each typed word
    (`words` folded by `indexer.embedded.store.folded_words`)."""
    # Every typed word must start a word of the suggestion; the last may be partial.
    like = " AND ".join(["(' ' || folded) LIKE ? ESCAPE '\\'"] * len(words))
    rows = conn.execute(
        f"SELECT kind, text FROM suggestions WHERE {like} "
        "ORDER BY CASE kind WHEN 'practice_area' THEN 0 WHEN 'provider' THEN 1 ELSE 2 END,"
        " uses DESC, text LIMIT ?",
        [*(f"% {w}%" for w in words), limit],
    ).fetchall()
    return [Suggestion(text, kind) for kind, text in rows]
