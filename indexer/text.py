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

import re
import unicodedata

_QUOTED = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def strip_accents(text: str) -> str:
    """Compatibility-decomposed, without combining marks: 'Sjögren' -> 'Sjogren', 'ﬁ' -> 'fi'."""
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
