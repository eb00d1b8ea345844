"""Text helpers both engines use on what a physician types: folding, words, phrases, typos.

Pure functions, no engine in sight. Each engine used to carry its own copy of these; they live
here once, so "one typo in a five-letter word" or "a quoted phrase" means the same in both.

Two folds, on purpose. Each engine folds user text the way its own index was folded, so that
a folded query word can be looked up among the indexed ones:
- `fold` (OpenSearch): full case folding first (ß -> ss, like the analyzers' asciifolding),
  then accents stripped;
- `fold_simple` (embedded): accents stripped first, then plain lower case (ß stays ß; a
  compatibility capital such as ™ or 𝐀 becomes "tm" / "a").
They agree on everything a physician is likely to type (ASCII, Latin letters with accents);
they differ on ß/ẞ and on compatibility capitals (™, ℃, 𝐀, 🄰, ...), which decompose to capital
letters after `fold` has already lowered the case.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from indexer.synonyms import distinct_rules, one_way_rules, synonym_groups

_QUOTED = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def strip_accents(text: str) -> str:
    """Compatibility-decomposed, without combining marks: 'Sjögren' -> 'Sjogren', 'ﬁ' -> 'fi'."""
    if text.isascii():  # most text: nothing to decompose (NFKD leaves ASCII as it is)
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lowercase without accents, as OpenSearch's analyzers see it ('Sjögren's' -> "sjogren's")."""
    return strip_accents(text.casefold())


def fold_simple(text: str) -> str:
    """Lower case without accents, as FTS5's unicode61 tokenizer folds: 'Sjögren' -> 'sjogren'."""
    return strip_accents(text).lower()


def words(text: str) -> list[str]:
    """The folded (`fold`) words of `text`: runs of Unicode letters, digits and underscores."""
    return _WORD.findall(fold(text))


def ascii_words(text: str) -> list[str]:
    """Runs of a-z and 0-9 in `text` as given (fold it first); anything else separates words.

    The embedded engine's words: only these reach an FTS5 query, each one quoted.
    """
    return _ASCII_WORD.findall(text)


def split_phrases(text: str) -> tuple[list[str], str]:
    """'"heart failure" guideline' -> (['heart failure'], 'guideline'); stray quotes dropped.

    Empty phrases ('""') are dropped; the rest is the text outside the quotes, its whitespace
    collapsed.
    """
    phrases = [p.strip() for p in _QUOTED.findall(text) if p.strip()]
    rest = " ".join(_QUOTED.sub(" ", text).replace('"', " ").split())
    return phrases, rest


def max_edits(word: str) -> int:
    """The typo budget of OpenSearch's fuzziness AUTO: no edits up to 2 letters, 1 up to 5,
    2 beyond. The embedded engine corrects within the same budget, so both fix the same typos."""
    return 0 if len(word) <= 2 else 1 if len(word) <= 5 else 2


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions, swaps of two
    neighbours), as OpenSearch's term suggester counts edits.

    With `limit`, gives up as soon as the distance must exceed it and returns `limit + 1`:
    the embedded engine compares a typed word with many indexed ones.
    """
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        # Once a whole row is past the limit, no later row comes back under it.
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


# --- possessives ----------------------------------------------------------------------------

# "Crohn's", "Crohn’s", "Crohn＇s" -> "Crohn": what OpenSearch's possessive_english filter does
# to a token. The embedded engine folds its indexed text with the same function (FTS5 would
# split "crohn's" into "crohn" and "s"), and both engines' queries are read through it.
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019\uff07]s\b", re.IGNORECASE)


def strip_possessives(text: str) -> str:
    """'Crohn's disease' -> 'Crohn disease'; "Physicians' Guide" keeps its plural."""
    return _POSSESSIVE.sub("", text)


# --- stems ----------------------------------------------------------------------------------


class _Porter:
    """The Porter stemmer both engines index with (OpenSearch's `english` stemmer and FTS5's
    `porter` tokenizer are the same algorithm), run through SQLite's FTS5, which ships with
    Python. Stems are cached: a query's words are looked up once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._conn: sqlite3.Connection | None = None

    def stems(self, words: Sequence[str]) -> tuple[str, ...]:
        missing = sorted({w for w in words if w not in self._cache})
        if missing:
            with self._lock:
                if self._conn is None:
                    self._conn = sqlite3.connect(":memory:", check_same_thread=False)
                    self._conn.execute(
                        "CREATE VIRTUAL TABLE tok USING fts5(x, tokenize='porter ascii')"
                    )
                    self._conn.execute("CREATE VIRTUAL TABLE tokv USING fts5vocab(tok, 'instance')")
                conn = self._conn
                with conn:
                    conn.execute("DELETE FROM tok")
                    conn.executemany(
                        "INSERT INTO tok (rowid, x) VALUES (?, ?)", list(enumerate(missing, 1))
                    )
                    found = dict(conn.execute("SELECT doc, term FROM tokv ORDER BY doc, offset"))
                for i, word in enumerate(missing, 1):
                    self._cache[word] = found.get(i, word)
        return tuple(self._cache[w] for w in words)


_PORTER = _Porter()


def stems(words: Sequence[str]) -> tuple[str, ...]:
    """The Porter stem of each word (folded ASCII words, as `query_words` gives them)."""
    return _PORTER.stems(words)


# --- query understanding: one plan, both engines ----------------------------------------------

# Words that say nothing on their own: not searched (nor counted) outside quotes, unless the
# query has nothing else. They still count inside a synonym term ("ear nose and throat") and a
# quoted phrase.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "vs",
        "versus",
        "with",
    ]
)
# The longest synonym term, in words, that a run of query words is checked against.
MAX_SYNONYM_WORDS = 8


def query_words(text: str) -> list[str]:
    """What both engines search for in `text`: possessives dropped, folded (`fold`), split
    into runs of ASCII letters and digits (any other character separates words)."""
    return ascii_words(fold(strip_possessives(text)))


def minimum_should_match(concepts: int) -> int:
    """How many of a query's concepts a record must match: all of them up to two, then all
    but one up to five, then three in four (3 -> 2, 4 -> 3, 5 -> 4, 6 -> 5, 8 -> 6)."""
    if concepts <= 2:
        return concepts
    return max(2, min(concepts - 1, math.ceil(concepts * 0.75)))


@dataclass(frozen=True)
class Concept:
    """One thing the physician asked for: a word, a run of words that is a synonym term
    ("heart attack"), or a quoted phrase.

    A record matches it when it holds the typed `words` (all of them, in any of the text
    fields, or together and in order when `quoted`), or any of the `alternatives` as a phrase
    in one field: the other terms of its synonym group, and a typo's correction.

    `distinct`: different conditions whose names contain the concept's terms ("pulmonary
    hypertension" for "hypertension", the `!=` rules of synonyms.txt). A record naming one
    of them (as a phrase) in a prominent field still matches the concept, but gets no
    prominent-field credit for it.
    """

    words: tuple[str, ...]
    quoted: bool = False
    alternatives: tuple[tuple[str, ...], ...] = ()
    corrected: str | None = None  # the correction among the alternatives, if any
    distinct: tuple[tuple[str, ...], ...] = ()

    @property
    def required(self) -> bool:
        """Quoted phrases are always required; other concepts count towards the minimum."""
        return self.quoted


@dataclass(frozen=True)
class QueryPlan:
    """What a physician typed, understood once for both engines (`understand`).

    A record matches when it matches every required concept and at least `minimum` concepts
    in all; it ranks by how many concepts it matches, then by how many of those it matches in
    its title, practice areas, boards or keywords (unless it names one of the concept's
    `distinct` conditions there), then by the engine's weighted score.
    """

    concepts: tuple[Concept, ...]

    @property
    def minimum(self) -> int:
        """How many concepts a record must match (required ones included)."""
        required = sum(c.required for c in self.concepts)
        return required + minimum_should_match(len(self.concepts) - required)

    def correctable(self, frequencies: Sequence[int] | None = None) -> list[str]:
        """The words a typo correction may be added to: single words outside quotes that no
        synonym covers, long enough to have a typo budget (`max_edits`), and (given how many
        records match each concept) that match no record."""
        return [
            c.words[0]
            for i, c in enumerate(self.concepts)
            if len(c.words) == 1
            and not c.quoted
            and not c.alternatives
            and max_edits(c.words[0])
            and (frequencies is None or not frequencies[i])
        ]

    def with_corrections(self, corrections: Mapping[str, str]) -> QueryPlan:
        """The plan with each correction added as an alternative of its word (never in place
        of it: the typed word is still searched)."""
        concepts = []
        for c in self.concepts:
            fix = corrections.get(c.words[0]) if len(c.words) == 1 and not c.quoted else None
            if fix and fix != c.words[0] and not c.alternatives:
                # The correction and its own synonyms: "cardiolgy" finds what "cardiology" does.
                fixed = understand(fix).concepts
                synonyms = fixed[0].alternatives if len(fixed) == 1 else ()
                distinct = fixed[0].distinct if len(fixed) == 1 else ()
                c = Concept(c.words, c.quoted, ((fix,), *synonyms), fix, distinct)
            concepts.append(c)
        return QueryPlan(tuple(concepts))

    def corrected_text(self, text: str) -> str | None:
        """`text` with each corrected word replaced by its correction, or None if none was."""
        fixes = {c.words[0]: c.corrected for c in self.concepts if c.corrected}
        if not fixes:
            return None

        def replace(m: re.Match[str]) -> str:
            folded = query_words(m.group(0))
            return fixes.get(folded[0], m.group(0)) if len(folded) == 1 else m.group(0)

        return re.sub(r"[^\W_]+", replace, text)


_Group = tuple[tuple[str, ...], ...]  # a group's terms, each as its words


@cache
def _groups() -> tuple[tuple[_Group, ...], tuple[tuple[int, ...], ...]]:
    """Every group of terms (`synonym_groups`, then each term of a one-way rule that is in no
    group, as a group of its own), and for each group the groups its one-way rules reach."""
    groups: list[_Group] = [
        tuple(tuple(ascii_words(t)) for t in group) for group in synonym_groups()
    ]
    index: dict[tuple[str, ...], int] = {}

    def group_of(words: tuple[str, ...]) -> int:
        key = stems(words)
        if key not in index:
            index[key] = len(groups)
            groups.append((words,))
        return index[key]

    for i, group in enumerate(groups):
        for words in group:
            index.setdefault(stems(words), i)
    reach: dict[int, list[int]] = {}
    for left, right in one_way_rules():
        targets = [group_of(tuple(ascii_words(t))) for t in right]
        for broad in left:
            found = reach.setdefault(group_of(tuple(ascii_words(broad))), [])
            found += [g for g in targets if g not in found]
    return tuple(groups), tuple(tuple(reach.get(i, ())) for i in range(len(groups)))


@cache
def _synonym_index() -> dict[tuple[str, ...], int]:
    """Stemmed synonym term -> the index of its group in `_groups()`."""
    index: dict[tuple[str, ...], int] = {}
    for i, group in enumerate(_groups()[0]):
        for term in group:
            key = stems(term)
            if key:
                index.setdefault(key, i)
    return index


def synonym_key(words: Sequence[str]) -> int | None:
    """The synonym group whose term these words are (stemmed), if any."""
    return _synonym_index().get(stems(words)) if words else None


def _alternatives(group: int, typed: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The other terms of the group, then the terms of the groups its one-way rules reach
    (one step: what those reach in turn is not added)."""
    groups, reach = _groups()
    typed_key = stems(typed)
    found: dict[tuple[str, ...], None] = {}
    for g in (group, *reach[group]):
        for term in groups[g]:
            if term and stems(term) != typed_key:
                found.setdefault(term)
    return tuple(found)


@cache
def _distinct_index() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Stemmed term -> the different conditions whose names contain it (`distinct_rules`)."""
    index: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for term, others in distinct_rules():
        key = stems(ascii_words(term))
        found = dict.fromkeys(index.get(key, ()))
        found.update(dict.fromkeys(tuple(ascii_words(o)) for o in others))
        index[key] = tuple(found)
    return index


def _distinct(
    group: int | None, typed: Sequence[str], query: frozenset[str]
) -> tuple[tuple[str, ...], ...]:
    """The different conditions whose names contain the typed words or a term of their
    synonym group, but not one the query names (every word of it is in the query, stemmed:
    a physician who types "pulmonary hypertension" asks for it), nor its kinds ("pulmonary
    arterial hypertension" holds every word of it)."""
    terms = [tuple(typed)] + (list(_groups()[0][group]) if group is not None else [])
    index = _distinct_index()
    found = {other: set(stems(other)) for term in terms for other in index.get(stems(term), ())}
    named = [words for words in found.values() if words <= query]
    return tuple(o for o, words in found.items() if not any(n <= words for n in named))


def understand(text: str) -> QueryPlan:
    """The plan of what `text` asks for (see `QueryPlan` and `Concept`).

    Quoted phrases are concepts of their own; outside quotes, the longest runs of words that
    are a synonym term become one concept each (also when typed run together or apart: "a fib"
    / "afib", "c-section"), every other word is one, and stopwords are left out.
    """
    # Folded before the quotes are found: a full-width quote (＂) folds to a quote.
    quoted, outside = split_phrases(fold(text))
    rest = query_words(outside)
    # Every word typed, stemmed: a distinct condition the query names is not held against it.
    typed = frozenset(stems([w for p in quoted for w in query_words(p)] + rest))
    concepts: list[Concept] = []
    for phrase in quoted:
        words = tuple(query_words(phrase))
        if words:
            group = synonym_key(words)
            alternatives = _alternatives(group, words) if group is not None else ()
            concepts.append(
                Concept(words, True, alternatives, None, _distinct(group, words, typed))
            )
    plain: list[Concept] = []
    stop: list[Concept] = []
    i = 0
    while i < len(rest):
        for size in range(min(MAX_SYNONYM_WORDS, len(rest) - i), 0, -1):
            run = rest[i : i + size]
            group = synonym_key(run)
            if group is None and 1 < size <= 3:
                group = synonym_key(["".join(run)])  # "a fib" for "afib", "ob gyn" for "obgyn"
            if group is not None:
                alternatives = _alternatives(group, run)
                plain.append(
                    Concept(tuple(run), False, alternatives, None, _distinct(group, run, typed))
                )
                i += size
                break
        else:
            word = (rest[i],)
            concept = Concept(word, distinct=_distinct(None, word, typed))
            (stop if rest[i] in STOPWORDS else plain).append(concept)
            i += 1
    if not plain and not concepts:
        plain = stop  # nothing but stopwords: search them after all
    return QueryPlan(tuple(concepts + plain))


def concept_weights(frequencies: Sequence[int], documents: int, minimum: int) -> tuple[float, ...]:
    """How much matching each concept counts when ranking records that match only some of
    them: its inverse document frequency (BM25's), scaled so the weights add up to the number
    of concepts. A rare concept ("heart failure") outweighs common ones ("management",
    "adults"). When every concept must match, each weighs 1.

    `frequencies`: how many records match each concept; `documents`: how many there are.
    """
    n = len(frequencies)
    if minimum >= n:
        return (1.0,) * n
    idf = [math.log(1 + (documents - df + 0.5) / (df + 0.5)) for df in frequencies]
    total = sum(idf)
    if total <= 0:
        return (1.0,) * n
    return tuple(n * i / total for i in idf)


def weights(plan: QueryPlan, frequencies: Sequence[int], documents: int) -> tuple[float, ...]:
    """Each concept's weight (`concept_weights`), from how many of the `documents` match it."""
    return concept_weights(frequencies, documents, plan.minimum)
