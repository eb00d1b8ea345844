"""What a search engine must do for the directory; OpenSearch and the embedded engine both do it.

Documents are the dicts of `indexer.document.to_document` (`SearchDocument`). The behaviour
below is the contract that `tests/test_search_contract.py` runs, unchanged, against both
engines.

Matching a SearchRequest (see `directory.search`):
- Always: `end_date >= today` (an activity that ended since the last sync is never shown).
- text: every query term must match (AND) in the text fields of `directory.search.TEXT_FIELDS`
  (title, description, objectives, keywords, provider_name, practice_area_names,
  board_names), weighted as declared there (title weighs most, then practice areas, keywords
  and provider, then objectives, then description); English stemming (pediatric ~ pediatrics,
  diabetic ~ diabetes); accents folded; clinical synonyms from `indexer/synonyms.txt` (a query
  term or phrase in a group matches any term of the group); "quoted phrases" match as
  phrases; when nothing matches, a term within one edit of an indexed word is corrected
  (`SearchResult.corrected_text`).
- facets: values OR-ed within a facet, AND-ed across facets; each facet's counts apply every
  selection but its own (disjunctive); values ordered by count descending, then value
  ascending; at most `Facet.size` values; selected values are always present (count 0 if so).
- when: "upcoming": next_start >= today; "this_month" / "custom": the activity's
  [start_date, end_date] overlaps the window from `SearchRequest.date_window` (open ends
  allowed); "available_now": enduring and start_date <= today.
- credits_min / credits_max: inclusive bounds on cme_credits.
- claim_within_days N: some deadline d with today <= d <= today + N, among the deadlines of
  the selected boards if boards are selected, else among all of the document's deadlines.
- sorts (ties broken by id ascending; missing values last):
  relevance: score descending (only with text; without text it behaves as soonest);
  soonest: next_start ascending; credits: cme_credits descending;
  points: points of `request.points_board` descending, or max_points when no single board;
  deadline: the earliest deadline of the selected boards (or claim_deadline) ascending;
  newest: created_at descending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from directory.search import SearchRequest, SearchResult
from indexer.document import SearchDocument


class SearchUnavailable(RuntimeError):
    """The engine cannot answer now (down, overloaded): the web answers 503, not 500."""


class IndexingError(RuntimeError):
    """Some documents were not written; `failures` maps document id to the engine's reason."""

    def __init__(self, failures: dict[int, str]) -> None:
        sample = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:5])
        super().__init__(f"{len(failures)} documents failed to index ({sample})")
        self.failures = failures


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str  # "title", "practice_area" or "provider"


@dataclass(frozen=True)
class ReindexStats:
    index: str
    documents: int
    seconds: float


class SearchEngine(Protocol):
    def reindex(self, documents: Iterable[SearchDocument], progress: bool = False) -> ReindexStats:
        """Build a new index from scratch and switch searches to it in one atomic step."""

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Write documents (insert or replace by id), durably, or raise IndexingError."""

    def delete(self, ids: list[int]) -> None:
        """Remove documents by id; ids not in the index are fine."""

    def search(self, request: SearchRequest, today: date) -> SearchResult: ...

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Titles, practice areas and providers that start with (or contain a word starting
        with) what the physician has typed so far."""

    def count(self) -> int: ...

    def ids(self) -> set[int]: ...
