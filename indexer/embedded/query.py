"""A SearchRequest answered from the embedded index: text through FTS5, filters and
disjunctive facet counts on bitmaps, the page through SQL; and typeahead.

Every value is a bound "?" parameter; the SQL itself is assembled from fixed fragments only
(the user's text reaches FTS5 as the bound MATCH expressions of `indexer.embedded.matching`).

Text: each concept of the query (`indexer.text.QueryPlan`) is matched by FTS5 twice, anywhere
and within the prominent columns, into bitmaps; the records matching every required concept
and enough of them in all are the text's part of the matching set (`_text_hits`). By
relevance, the matching records split into groups that tie on the plan's tiers (`_groups`),
and only the best groups, enough for the page, are scored: each column's bm25, from its own
score table (`indexer.embedded.store.SCORE_TABLES`), times the column's weight, summed, as
OpenSearch scores fields (`_by_relevance`).

Everything else is bitmaps (`indexer.embedded.bitmaps`): the filters (listed, dates, credits,
claim window) intersected, each facet's selected values united, and a facet value's count
the cardinality of its bitmap's intersection with the matching set. The facets nobody
selected are counted over the full selection; a selected facet over every other selection
(disjunctive counts, as `directory.search` describes).

Distance: the documents with a point within the radius come from the places of the
snapshot (`indexer.embedded.geo`), as a bitmap intersected with the filters (united, with
include_online, with the delivery bitmaps of what can be attended from home); sorted by
distance, those with a point come nearest first, then the others as soonest orders them.
"""

from __future__ import annotations

import heapq
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from pyroaring import BitMap

from directory.search import (
    FACETS,
    ONLINE_DELIVERY,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchResult,
    facet_label,
)
from indexer.embedded import geo
from indexer.embedded.bitmaps import (
    ANY_DEADLINE,
    CREDITS,
    DEADLINE,
    END,
    NEXT,
    START,
    Snapshot,
    union,
)
from indexer.embedded.matching import TextMatch
from indexer.embedded.store import SCORE_TABLES, WEIGHTS
from indexer.engine import Suggestion
from indexer.text import weights


@dataclass
class TextHits:
    """The records matching the text, and what ranks them: for each concept, the records
    matching it anywhere and in a prominent column, and each concept's weight."""

    text: TextMatch
    matched: BitMap
    anywhere: list[BitMap]
    prominent: list[BitMap]
    weights: tuple[float, ...]


def _ids(conn: sqlite3.Connection, expression: str) -> BitMap:
    """The records matching `expression`. As one JSON array built in SQLite and parsed in C:
    about half the time of a Python loop over the rows, which a common word makes long."""
    (found,) = conn.execute(
        "SELECT json_group_array(rowid) FROM fts WHERE fts MATCH ?", (expression,)
    ).fetchone()
    return BitMap(json.loads(found))


def _text_hits(conn: sqlite3.Connection, text: TextMatch, documents: int) -> TextHits:
    """The records matching every required concept and at least `minimum` in all."""
    plan = text.plan
    anywhere = [_ids(conn, expression) for expression in text.concepts]
    prominent = [
        _ids(conn, expression) & found
        for expression, found in zip(text.prominent, anywhere, strict=True)
    ]
    # at_least[j]: the records matching j or more of the concepts seen so far.
    at_least = [BitMap.union(*anywhere)] + [BitMap() for _ in plan.concepts]
    for found in anywhere:
        for j in range(len(at_least) - 1, 0, -1):
            at_least[j] |= at_least[j - 1] & found
    matched = at_least[plan.minimum]
    for concept, found in zip(plan.concepts, anywhere, strict=True):
        if concept.required:
            matched &= found
    frequencies = [len(found) for found in anywhere]
    return TextHits(text, matched, anywhere, prominent, weights(plan, frequencies, documents))


def search(
    conn: sqlite3.Connection,
    snapshot: Snapshot,
    request: SearchRequest,
    today: date,
    text: TextMatch | None,
) -> SearchResult:
    """One page of `request` and every facet, the text already made MATCH expressions, in the
    caller's read transaction; `snapshot` holds the bitmaps of the generation it reads."""
    base = _filters(snapshot, request, today)
    close = None
    if request.origin is not None and request.radius_km is not None:
        close = geo.near(snapshot.places, request.origin, request.radius_km)
        where = close.documents
        if request.include_online:
            where = where | snapshot.any_of("delivery", ONLINE_DELIVERY)
        base &= where
    hits = None
    if text:
        hits = _text_hits(conn, text, snapshot.documents)
        base &= hits.matched

    selected = {
        f.name: snapshot.any_of(f.name, request.selected(f.name))
        for f in FACETS
        if request.selected(f.name)
    }
    matching = BitMap.intersection(base, *selected.values()) if selected else base
    facets = []
    for facet in FACETS:
        within = matching
        if facet.name in selected:  # disjunctive: every selection but this facet's own
            others = [bits for name, bits in selected.items() if name != facet.name]
            within = BitMap.intersection(base, *others) if others else base
        counted = [
            (value, bits.intersection_cardinality(within))
            for value, bits in (snapshot.facets[facet.name].items() if within else ())
        ]
        # The `size` most frequent values, most first, then by value (as OpenSearch's terms).
        rows = heapq.nsmallest(
            facet.size, [r for r in counted if r[1]], key=lambda r: (-r[1], r[0])
        )
        facets.append(_facet_result(conn, facet.name, facet.label, rows, request))

    boards = request.selected("board")
    end = request.offset + request.per_page
    if request.offset >= len(matching):
        ids = []  # past the last page
    elif hits is not None and request.effective_sort == "relevance":
        ids = _by_relevance(conn, matching, hits, end)
    elif close is not None and request.effective_sort == "distance":
        ids = _by_distance(conn, matching, close, snapshot.documents, request, end)
    else:
        ids = _in_order(conn, matching, snapshot.documents, request, boards, end)
    return SearchResult(request, len(matching), _bodies(conn, ids[request.offset :]), tuple(facets))


def _filters(snapshot: Snapshot, request: SearchRequest, today: date) -> BitMap:
    """The documents every filter but text and facets lets through: listed (not yet ended),
    and the request's dates, credits and claim window."""
    day = today.isoformat()
    found = [snapshot.between(END, low=day)]
    if request.when == "upcoming":
        found.append(snapshot.between(NEXT, low=day))
    elif request.when == "available_now":
        found += [snapshot.enduring, snapshot.between(START, high=day)]
    low, high = request.date_window(today)
    if low:
        found.append(snapshot.between(END, low=low.isoformat()))
    if high:
        found.append(snapshot.between(START, high=high.isoformat()))
    if request.credits_min is not None or request.credits_max is not None:
        found.append(snapshot.between(CREDITS, request.credits_min, request.credits_max))
    if request.claim_within_days is not None:
        until = (today + timedelta(days=request.claim_within_days)).isoformat()
        boards = request.selected("board")
        names = [DEADLINE + b for b in boards] if boards else [ANY_DEADLINE]
        found.append(union(snapshot.between(n, day, until) for n in names))
    return BitMap.intersection(*found) if len(found) > 1 else BitMap(found[0])


# A page in any order but relevance is read one of two ways: the matching documents' rows
# looked up and sorted (cheap when few match), or the sort's index walked in order, keeping
# the matching ones until the page is full (cheap when many match: about page-end x documents
# / matches rows). Looked up when matches <= LOOKUP_MATCHES or matches^2 <= page-end x
# documents.
LOOKUP_MATCHES = 2000


def walks(matches: int, end: int, documents: int) -> bool:
    return matches > LOOKUP_MATCHES and matches**2 > end * documents


def _by_distance(
    conn: sqlite3.Connection,
    matching: BitMap,
    close: geo.Near,
    documents: int,
    request: SearchRequest,
    end: int,
) -> list[int]:
    """The ids of `matching` by the distance to their nearest point, then soonest, then id, up
    to `end`. Those with a point within the radius come first (nearer than any other); then,
    kept by include_online, those whose points are all farther (looked up only when the page
    reaches them); then those with no point at all, as the soonest sort orders them."""
    located = matching & close.documents
    soonest = replace(request, sort="soonest", page=1)
    ranked = _nearest_first(conn, close.groups, located, documents, soonest, end)
    rest = matching - located
    if len(ranked) >= end or not rest:
        return ranked
    assert request.origin is not None
    far = geo.nearest_groups(conn, request.origin, rest)
    ranked += _nearest_first(conn, far, rest, documents, soonest, end - len(ranked))
    if len(ranked) >= end:
        return ranked
    nowhere = rest - BitMap.union(*(bits for _, bits in far)) if far else rest
    return ranked + _in_order(conn, nowhere, documents, soonest, (), end - len(ranked))


def _nearest_first(
    conn: sqlite3.Connection,
    groups: list[geo.Group],
    ids: BitMap,
    documents: int,
    soonest: SearchRequest,
    end: int,
) -> list[int]:
    """`ids` by distance (each at its nearest group of `groups`, which come nearest first),
    then soonest, then id, up to `end`. Whole groups are ties (a city's documents share its
    point), so each group is put in soonest order as that sort does it (`_in_order`), and
    only as far as the page still needs."""
    ranked: list[int] = []
    seen = BitMap()
    pending: tuple[float, BitMap] | None = None  # the documents at one distance, not yet ranked
    for km, bits in [*groups, (math.inf, BitMap())]:
        if pending is not None and km != pending[0]:
            ranked += _in_order(conn, pending[1], documents, soonest, (), end - len(ranked))
            pending = None
            if len(ranked) >= end:
                break
        part = (bits & ids) - seen
        if part:
            seen |= part
            pending = (km, pending[1] | part) if pending else (km, part)
    return ranked


def _in_order(
    conn: sqlite3.Connection,
    matching: BitMap,
    documents: int,
    request: SearchRequest,
    boards: tuple[str, ...],
    end: int,
) -> list[int]:
    """The ids of `matching` (of `documents` in the index) in the request's order (not by
    relevance), up to `end`, the end of the requested page."""
    if not matching or end <= 0:
        return []
    rows: Iterable[int]
    if walks(len(matching), end, documents):
        rows = _walk(conn, request, boards)
    else:
        order, join, args = _order(request, boards)
        rows = (
            row[0]
            for row in conn.execute(
                f"SELECT d.id FROM docs d {join} WHERE d.id IN (SELECT value FROM json_each(?))"
                f" ORDER BY {order} LIMIT ?",
                [*args, _json_ids(matching), end],  # a per-board join's are the only others
            )
        )
    wanted: list[int] = []
    for doc_id in rows:
        if doc_id in matching:
            wanted.append(doc_id)
            if len(wanted) >= end:
                break
    return wanted


def _walk(
    conn: sqlite3.Connection, request: SearchRequest, boards: tuple[str, ...]
) -> Iterator[int]:
    """Every document id in the request's order (as `_order`), read from indexes in order
    (store), so the caller stops as soon as its page is full."""
    sort = request.effective_sort
    if sort == "points" and request.points_board:
        ranked = (
            row[0]
            for row in conn.execute(
                "SELECT doc_id FROM deadlines WHERE board = ? AND points IS NOT NULL"
                " ORDER BY points DESC, doc_id",
                (request.points_board,),
            )
        )
        return _then_the_rest(conn, ranked)
    if sort == "deadline" and boards:
        per_board = [
            conn.execute(
                "SELECT deadline, doc_id FROM deadlines WHERE board = ? AND deadline IS NOT NULL"
                " ORDER BY deadline, doc_id",
                (board,),
            )
            for board in boards
        ]
        # A document's first appearance in the merged order is at its earliest deadline.
        return _then_the_rest(conn, (doc_id for _, doc_id in heapq.merge(*per_board)))
    order, _, _ = _order(request, boards)
    return (row[0] for row in conn.execute(f"SELECT d.id FROM docs d ORDER BY {order}"))


def _then_the_rest(conn: sqlite3.Connection, ranked: Iterable[int]) -> Iterator[int]:
    """`ranked` without repeats, then every other document by id (those with no value, last)."""
    seen: set[int] = set()
    for doc_id in ranked:
        if doc_id not in seen:
            seen.add(doc_id)
            yield doc_id
    for (doc_id,) in conn.execute("SELECT id FROM docs ORDER BY id"):
        if doc_id not in seen:
            yield doc_id


def _json_ids(ids: BitMap) -> str:
    return json.dumps(ids.to_array().tolist())


def _bodies(conn: sqlite3.Connection, ids: list[int]) -> tuple[dict[str, Any], ...]:
    if not ids:
        return ()
    marks = ",".join("?" * len(ids))
    bodies = dict(conn.execute(f"SELECT id, body FROM docs WHERE id IN ({marks})", ids))
    return tuple(json.loads(bodies[i]) for i in ids)


def _groups(matching: BitMap, hits: TextHits) -> list[tuple[tuple[bool, float, float], BitMap]]:
    """`matching` split into groups of records that tie on the relevance tiers
    (`indexer.text.QueryPlan`): every concept matched, the weights of the concepts matched,
    of those matched in a prominent column. Found by splitting on each concept in turn
    (not matched / matched elsewhere / matched in a prominent column), empty parts dropped,
    so there are never more groups than records."""
    parts = [(matching, 0, 0.0, 0.0)]
    for found, prominent, weight in zip(hits.anywhere, hits.prominent, hits.weights, strict=True):
        split = []
        for bits, count, coverage, prominence in parts:
            inside = bits & found
            top = inside & prominent
            for part, more, cov, prom in (
                (bits - found, 0, 0.0, 0.0),
                (inside - top, 1, weight, 0.0),
                (top, 1, weight, weight),
            ):
                if part:
                    split.append((part, count + more, coverage + cov, prominence + prom))
        parts = split
    every = len(hits.anywhere)
    return [
        ((count == every, coverage, prominence), bits)
        for bits, count, coverage, prominence in parts
    ]


def _by_relevance(
    conn: sqlite3.Connection, matching: BitMap, hits: TextHits, end: int
) -> list[int]:
    """The ids of `matching` by relevance, up to `end`: the best groups (`_groups`) until they
    hold `end` records, ordered within by score (each column's bm25 times its weight, summed,
    `indexer.embedded.store.SCORE_TABLES`), then soonest, then most credits."""
    if not matching:
        return []
    taken: list[tuple[tuple[bool, float, float], BitMap]] = []
    count = 0
    for key, bits in sorted(_groups(matching, hits), key=lambda g: g[0], reverse=True):
        taken.append((key, bits))
        count += len(bits)
        if count >= end:
            break
    ranked = BitMap.union(*(bits for _, bits in taken))
    ids = _json_ids(ranked)
    # One statement over the score tables, bm25 computed only for the records being ranked
    # ("+rowid": a filter on each match, not a constraint FTS5 would run the query once for
    # each value of); bm25() is negative: lower ranks first.
    per_table = " UNION ALL ".join(
        f"SELECT rowid AS id, {weight:g} * bm25({table}) AS score FROM {table}"
        f" WHERE {table} MATCH :text AND +rowid IN (SELECT value FROM json_each(:ids))"
        for (table, _), weight in zip(SCORE_TABLES, WEIGHTS, strict=True)
    )
    score = dict.fromkeys(ranked, 0.0)
    score.update(
        conn.execute(
            f"SELECT id, sum(score) FROM ({per_table}) GROUP BY id",
            {"text": hits.text.any, "ids": ids},
        )
    )
    # Within a group, by score; the page's records (and any tied with its last) then by the
    # tie-breaks, which are looked up for those alone.
    chosen: list[list[int]] = []
    room = end
    for _, bits in taken:
        members = sorted(bits, key=score.__getitem__)
        if len(members) > room:
            last = score[members[room - 1]]
            stop = room
            while stop < len(members) and score[members[stop]] == last:
                stop += 1
            members = members[:stop]
        chosen.append(members)
        room -= len(members)
        if room <= 0:
            break
    ties = {
        doc_id: (next_start is None, next_start or "", credits is None, -(credits or 0), doc_id)
        for doc_id, next_start, credits in conn.execute(
            "SELECT id, next_start, cme_credits FROM docs"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([i for members in chosen for i in members]),),
        )
    }
    ordered: list[int] = []
    for members in chosen:
        ordered += sorted(members, key=lambda i: (score[i], ties[i]))
    return ordered[:end]


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


def _order(request: SearchRequest, boards: tuple[str, ...]) -> tuple[str, str, list[Any]]:
    """ORDER BY clause, an extra JOIN, and the JOIN's parameters, for every sort but relevance
    (`_by_relevance`); relevance without text is soonest."""
    sort = request.effective_sort
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
