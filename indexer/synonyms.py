"""The curated clinical synonym groups of `synonyms.txt`, for both engines.

OpenSearch receives the lines as a `synonym_graph` filter; the embedded engine expands query
terms with the same groups, so "MI" finds "myocardial infarction" on both.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SYNONYMS_FILE = Path(__file__).resolve().parent / "synonyms.txt"


@cache
def synonym_lines() -> tuple[str, ...]:
    """The groups as Solr-format lines ("mi, myocardial infarction, heart attack")."""
    lines = []
    for raw in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return tuple(lines)


@cache
def synonym_groups() -> tuple[tuple[str, ...], ...]:
    return tuple(
        tuple(term.strip() for term in line.split(",") if term.strip()) for line in synonym_lines()
    )
