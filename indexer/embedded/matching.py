"""What a physician typed, for FTS5: the shared query plan as MATCH expressions, and typos.

The plan (`indexer.text.understand`) is the same for both engines; here each of its concepts
becomes one FTS5 expression: the typed words (all of them, anywhere in the record; or the
quoted phrase), OR-ed with its alternatives as phrases (synonyms, a typo's correction). Every
word is quoted, so nothing the user types is read as FTS5 syntax (no column filters, NEAR, NOT
or prefix stars from the query string).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from indexer.text import Concept, QueryPlan, edit_distance, max_edits

# The columns a concept matched in makes a record rank above one matching it elsewhere
# (`indexer.text.QueryPlan`): title, practice areas (and boards: they share the column) and
# keywords.
PROMINENT_COLUMNS = ("title", "practice_areas", "keywords")


@dataclass(frozen=True)
class TextMatch:
    """The plan as FTS5: one expression per concept, and the same within the prominent
    columns (NOT a record naming one of the concept's distinct conditions there); all of
    them OR-ed (`any`, for bm25)."""

    plan: QueryPlan
    concepts: tuple[str, ...]
    prominent: tuple[str, ...]

    @property
    def any(self) -> str:
        return " OR ".join(f"({c})" for c in self.concepts)


def _phrase(words: Iterable[str]) -> str:
    return '"' + " ".join(words) + '"'


def concept_expression(concept: Concept) -> str:
    """The typed words (AND, anywhere; a phrase when quoted) OR-ed with the alternatives."""
    if concept.quoted or len(concept.words) == 1:
        typed = _phrase(concept.words)
    else:
        typed = "(" + " AND ".join(_phrase([w]) for w in concept.words) + ")"
    alternatives = sorted({_phrase(a) for a in concept.alternatives})
    return " OR ".join([typed, *alternatives])


def text_match(plan: QueryPlan) -> TextMatch | None:
    """The plan as FTS5 expressions, or None when it asks for nothing."""
    if not plan.concepts:
        return None
    expressions = tuple(concept_expression(c) for c in plan.concepts)
    return TextMatch(
        plan=plan,
        concepts=expressions,
        prominent=tuple(
            prominent_expression(c, e) for c, e in zip(plan.concepts, expressions, strict=True)
        ),
    )


def prominent_expression(concept: Concept, expression: str) -> str:
    """`expression` within the prominent columns, NOT where those name one of the concept's
    `distinct` conditions (as a phrase): "Pulmonary Hypertension" in a title is no title
    match for "hypertension"."""
    columns = "{" + " ".join(PROMINENT_COLUMNS) + "}"
    within = f"{columns} : ({expression})"
    if not concept.distinct:
        return within
    others = " OR ".join(sorted({_phrase(d) for d in concept.distinct}))
    return f"({within}) NOT ({columns} : ({others}))"


def corrections(conn: sqlite3.Connection, plan: QueryPlan) -> dict[str, str]:
    """For each correctable word of the plan that the index does not hold, the most used
    indexed word within its typo budget (same first letter, as OpenSearch's prefix_length 1).

    The index holds a word when the words table (titles, keywords, practice areas, boards,
    providers) has it, or when any record matches it (descriptions, objectives)."""
    found: dict[str, str] = {}
    for w in plan.correctable():
        limit = max_edits(w)
        if conn.execute("SELECT 1 FROM words WHERE word = ?", (w,)).fetchone():
            continue
        if conn.execute("SELECT 1 FROM fts WHERE fts MATCH ? LIMIT 1", (_phrase([w]),)).fetchone():
            continue
        candidates = conn.execute(
            "SELECT word, uses FROM words WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
            (w[0], chr(ord(w[0]) + 1), len(w) - limit, len(w) + limit),
        ).fetchall()
        scored = [(edit_distance(w, c, limit), -uses, c) for c, uses in candidates]
        best = min((s for s in scored if s[0] <= limit), default=None)
        if best:
            found[w] = best[2]
    return found
