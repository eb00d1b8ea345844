"""The curated clinical synonym groups of `synonyms.txt`, for both engines.

Both engines add the groups to queries (`indexer.text.understand`), so "MI" finds "myocardial
infarction" on both. Two kinds of line:
- a group of equivalent terms ("mi, myocardial infarction, heart attack"): each finds the
  others (`synonym_groups`);
- a one-way rule ("ibd => crohn disease, ulcerative colitis"): a query for the left-hand term
  (or any term of its group) also finds the right-hand terms and their groups' terms, never
  the reverse: a broad term reaching narrower ones (`one_way_rules`);
- a distinct-condition rule ("hypertension != pulmonary hypertension, portal hypertension"):
  each right-hand term is a different condition whose name contains the left-hand term, so a
  record naming it in a prominent field is not taken for the left-hand term there
  (`distinct_rules`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SYNONYMS_FILE = Path(__file__).resolve().parent / "synonyms.txt"
ONE_WAY = "=>"
DISTINCT = "!="


@cache
def synonym_lines() -> tuple[str, ...]:
    """Every rule as written: groups ("mi, myocardial infarction") and one-way rules."""
    lines = []
    for raw in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return tuple(lines)


def _terms(text: str) -> tuple[str, ...]:
    return tuple(term.strip() for term in text.split(",") if term.strip())


@cache
def synonym_groups() -> tuple[tuple[str, ...], ...]:
    """The groups of equivalent terms (one-way rules left out)."""
    return tuple(
        _terms(line) for line in synonym_lines() if ONE_WAY not in line and DISTINCT not in line
    )


@cache
def one_way_rules() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(left-hand terms, right-hand terms) of each one-way rule ("a => b, c")."""
    rules = []
    for line in synonym_lines():
        if ONE_WAY in line:
            left, _, right = line.partition(ONE_WAY)
            rules.append((_terms(left), _terms(right)))
    return tuple(rules)


def _contains_run(term: str, part: str) -> bool:
    """Whether the words of `part` occur in `term`, together and in order."""
    words, run = term.split(), part.split()
    return bool(run) and any(
        words[i : i + len(run)] == run for i in range(len(words) - len(run) + 1)
    )


@cache
def distinct_rules() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(term, the different conditions whose names contain it) of each "a != b, c" rule.

    Raises ValueError for a rule with other than one left-hand term, no right-hand term, or a
    right-hand term that does not contain the left-hand term's words as a run (or is it).
    """
    rules = []
    for line in synonym_lines():
        if DISTINCT not in line:
            continue
        left, _, right = line.partition(DISTINCT)
        lefts, rights = _terms(left), _terms(right)
        if len(lefts) != 1 or not rights:
            raise ValueError(f"{SYNONYMS_FILE.name}: one term != one or more terms: {line!r}")
        for term in rights:
            if term == lefts[0] or not _contains_run(term, lefts[0]):
                raise ValueError(
                    f"{SYNONYMS_FILE.name}: {term!r} does not contain {lefts[0]!r}: {line!r}"
                )
        rules.append((lefts[0], rights))
    return tuple(rules)
