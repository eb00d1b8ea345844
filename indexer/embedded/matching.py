"""What a physician typed, for FTS5: a MATCH expression with synonyms, and typo corrections.

FTS5 stems (porter) but knows nothing of clinical synonyms, so the expansion happens here:
the query is stemmed with FTS5's own tokenizer, the longest runs of stems that are a synonym
term ("heart attack", "type 2 diabetes") become an OR of the group's terms, and every other
word is required. Every word is quoted, so nothing the user types is read as FTS5 syntax.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import cached_property

from indexer.embedded.store import TOKENIZER, folded_words
from indexer.synonyms import synonym_groups
from indexer.text import ascii_words, edit_distance, fold_simple, max_edits, split_phrases

# The longest synonym term, in words, that a run of query words is checked against.
MAX_SYNONYM_WORDS = 6


class Stemmer:
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


class Matcher:
    """Builds MATCH expressions; holds the stemmer and the stemmed synonyms it needs."""

    @cached_property
    def stemmer(self) -> Stemmer:
        return Stemmer()

    @cached_property
    def _synonyms(self) -> dict[tuple[str, ...], int]:
        """Stemmed synonym term -> its group's index."""
        groups = synonym_groups()
        terms = [(i, t) for i, group in enumerate(groups) for t in group]
        stems = self.stemmer.stems([t for _, t in terms])
        return {s: i for (i, _), s in zip(terms, stems, strict=True) if s}

    @staticmethod
    def _phrase(words: Iterable[str]) -> str:
        return '"' + " ".join(words) + '"'

    def _group(self, index: int) -> str:
        alternatives = sorted({self._phrase(ascii_words(t)) for t in synonym_groups()[index]})
        return "(" + " OR ".join(alternatives) + ")"

    def match_expression(self, text: str) -> str | None:
        """User text -> an FTS5 query: every term required, phrases kept, synonyms OR-ed.

        Every word is quoted, so nothing the user types is read as FTS5 syntax (no column
        filters, NEAR, NOT or prefix stars from the query string).
        """
        # Folded before the quotes are found: a full-width quote (＂) folds to a quote.
        quoted, outside = split_phrases(fold_simple(text))
        phrases = [ascii_words(p) for p in quoted]
        rest = ascii_words(outside)
        clauses: list[str] = []
        stems = self.stemmer.stems([" ".join(p) for p in phrases] + rest)
        for words, stem in zip(phrases, stems[: len(phrases)], strict=True):
            if words:
                group = self._synonyms.get(stem)
                clauses.append(self._group(group) if group is not None else self._phrase(words))
        rest_stems = stems[len(phrases) :]
        i = 0
        while i < len(rest):
            # Longest run of words that is a synonym term ("heart attack", "type 2 diabetes").
            for size in range(min(MAX_SYNONYM_WORDS, len(rest) - i), 0, -1):
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


def correct(conn: sqlite3.Connection, text: str) -> str | None:
    """The text with each unknown word replaced by the most used word within its edits.

    Only the words outside quotes are read, and only they make up the corrected text: quoted
    phrases are left out of it (and so out of the search retried with it), where OpenSearch's
    correction keeps them.
    """
    words = folded_words(split_phrases(text)[1])
    changed = False
    corrected = []
    for w in words:
        limit = max_edits(w)
        known = conn.execute("SELECT 1 FROM words WHERE word = ?", (w,)).fetchone()
        if known or limit == 0:
            corrected.append(w)
            continue
        # Same first letter (as OpenSearch's prefix_length 1) and a similar length.
        candidates = conn.execute(
            "SELECT word, uses FROM words WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
            (w[0], chr(ord(w[0]) + 1), len(w) - limit, len(w) + limit),
        ).fetchall()
        scored = [(edit_distance(w, c, limit), -uses, c) for c, uses in candidates]
        best = min((s for s in scored if s[0] <= limit), default=None)
        corrected.append(best[2] if best else w)
        changed = changed or best is not None
    return " ".join(corrected) if changed else None
