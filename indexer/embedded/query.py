"""A SearchRequest as SQL over the embedded index: filters, disjunctive facets, sorts, typeahead.

Every value is a bound "?" parameter; the SQL itself is assembled from fixed fragments only
(the user's text reaches FTS5 as the bound MATCH expressions of `indexer.embedded.matching`).

Text is matched once, into a temporary table `text_hits`: for each record matching enough of
the query's concepts (`indexer.text.QueryPlan`), how many it matches, how many of those in its
title, practice areas or keywords, and its score: each column's bm25 (from its own score
table, `indexer.embedded.store.SCORE_TABLES`) times the column's weight, summed, as
OpenSearch scores fields. Filters, facets and the
relevance sort all read that table.

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
from indexer.embedded.matching import TextMatch
from indexer.embedded.store import SCORE_TABLES, WEIGHTS
from indexer.engine import Suggestion
from indexer.text import weights


def _text_hits(conn: sqlite3.Connection, text: TextMatch) -> None:
    """Fill temp.text_hits (id, matched, coverage, rank) with the records matching `text`."""
    conn.execute("DROP TABLE IF EXISTS temp.concept_hits")
    conn.execute(
        "CREATE TEMP TABLE concept_hits (id INTEGER, concept INTEGER, prominent INTEGER,"
        " PRIMARY KEY (id, concept, prominent)) WITHOUT ROWID"
    )
    for i, (anywhere, prominent) in enumerate(zip(text.concepts, text.prominent, strict=True)):
        for flag, expression in ((0, anywhere), (1, prominent)):
            conn.execute(
                "INSERT OR IGNORE INTO temp.concept_hits"
                " SELECT rowid, ?, ? FROM fts WHERE fts MATCH ?",
                (i, flag, expression),
            )
    plan = text.plan
    frequencies = [0] * len(plan.concepts)
    documents = 0
    if plan.minimum < len(plan.concepts):  # partial matches: weigh the concepts
        for concept, n in conn.execute(
            "SELECT concept, count(*) FROM temp.concept_hits WHERE prominent = 0 GROUP BY concept"
        ):
            frequencies[concept] = n
        documents = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
    conn.execute("DROP TABLE IF EXISTS temp.concept_weights")
    conn.execute(
        "CREATE TEMP TABLE concept_weights (concept INTEGER PRIMARY KEY, weight REAL,"
        " required INTEGER)"
    )
    conn.executemany(
        "INSERT INTO temp.concept_weights VALUES (?, ?, ?)",
        [
            (i, w, c.required)
            for i, (c, w) in enumerate(
                zip(plan.concepts, weights(plan, frequencies, documents), strict=True)
            )
        ],
    )
    conn.execute("DROP TABLE IF EXISTS temp.text_hits")
    conn.execute(
        "CREATE TEMP TABLE text_hits (id INTEGER PRIMARY KEY, matched INTEGER,"
        " coverage REAL, prominence REAL, rank REAL)"
    )
    # Every required concept and `minimum` in all; coverage: the weights of the concepts
    # matched; prominence: of those matched in a prominent column.
    conn.execute(
        "INSERT INTO temp.text_hits SELECT h.id, count(DISTINCT h.concept),"
        " sum(CASE WHEN h.prominent THEN 0 ELSE w.weight END),"
        " sum(CASE WHEN h.prominent THEN w.weight ELSE 0 END), 0"
        " FROM temp.concept_hits h JOIN temp.concept_weights w ON w.concept = h.concept"
        " GROUP BY h.id"
        " HAVING count(DISTINCT CASE WHEN w.required THEN h.concept END) = ?"
        " AND count(DISTINCT h.concept) >= ?",
        [sum(c.required for c in plan.concepts), plan.minimum],
    )
    # bm25() is negative: lower ranks first.
    for (table, _), weight in zip(SCORE_TABLES, WEIGHTS, strict=True):
        conn.execute(
            f"UPDATE temp.text_hits SET rank = rank + ? * r.score FROM (SELECT rowid AS rid,"
            f" bm25({table}) AS score FROM {table} WHERE {table} MATCH ?) r"
            " WHERE r.rid = text_hits.id",
            (weight, text.any),
        )


def search(
    conn: sqlite3.Connection, request: SearchRequest, today: date, text: TextMatch | None
) -> SearchResult:
    """One page of `request` and every facet, the text already made MATCH expressions."""
    base = ["d.end_date >= ?"]
    params: list[Any] = [today.isoformat()]
    conn.execute("PRAGMA temp_store=MEMORY")
    if text:
        _text_hits(conn, text)
        base.append("d.id IN (SELECT id FROM temp.text_hits)")
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
    order, join, order_args = _order(request, len(text.concepts) if text else 0, boards)
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
    request: SearchRequest, concepts: int, boards: tuple[str, ...]
) -> tuple[str, str, list[Any]]:
    """ORDER BY clause, an extra JOIN, and their parameters (in the order they appear)."""
    sort = request.effective_sort
    if sort == "relevance" and concepts:
        # Every concept matched first, then the weights of the concepts matched, then of those
        # matched in prominent columns, then bm25 (lower is better); ties: soonest, then most
        # credits (`indexer.text.QueryPlan`).
        return (
            "t.matched = ? DESC, t.coverage DESC, t.prominence DESC, t.rank,"
            " d.next_start IS NULL, d.next_start,"
            " d.cme_credits IS NULL, d.cme_credits DESC, d.id",
            "JOIN temp.text_hits t ON t.id = d.id",
            [concepts],
        )
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
