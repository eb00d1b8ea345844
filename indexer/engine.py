"""What a search engine must do for the directory; OpenSearch and the embedded engine both do it.

Documents are the dicts of `indexer.document.to_document` (`SearchDocument`). The behaviour
below is the contract that `tests/test_search_contract.py` runs, unchanged, against both
engines.

Matching a SearchRequest (see `directory.search`):
- Always: `end_date >= today` (an activity that ended since the last sync is never shown).
- text: the query is read once for both engines (`indexer.text.understand`) into concepts:
  a word, a run of words that is a synonym term, a "quoted phrase" (stopwords left out). A
  concept matches when the typed words all appear among the text fields of
  `directory.search.TEXT_FIELDS` (a quoted phrase: together, in order), or when one of its
  alternatives appears as a phrase: the other terms of its clinical synonym group
  (`indexer/synonyms.txt`), and, for a word no record holds, the indexed word within one
  edit budget of it (`SearchResult.corrected_text`). A record matches every quoted phrase and
  at least `QueryPlan.minimum` concepts (all up to two, then most). English stemming
  (pediatric ~ pediatrics), accents and possessives folded (Crohn's ~ Crohn).
  Relevance: every concept matched first; then the concepts matched, weighted by rarity
  (when partial matches are possible); then those matched in the title, practice areas,
  boards or keywords; then the weighted text score (title weighs most, then practice areas,
  keywords and provider, then objectives, then description); then soonest, most credits, id.
- facets: values OR-ed within a facet, AND-ed across facets; each facet's counts apply every
  selection but its own (disjunctive); values ordered by count descending, then value
  ascending; at most `Facet.size` values; selected values are always present (count 0 if so).
- when: "upcoming": next_start >= today; "this_month" / "custom": the activity's
  [start_date, end_date] overlaps the window from `SearchRequest.date_window` (open ends
  allowed); "available_now": enduring and start_date <= today.
- credits_min / credits_max: inclusive bounds on cme_credits.
- claim_within_days N: some deadline d with today <= d <= today + N, among the deadlines of
  the selected boards if boards are selected, else among all of the document's deadlines.
- mandate / topic: ordinary facets over the document's `mandate` (the ids of the state and
  federal mandates it matches, decided by `indexer.document`) and `topic`; every mandate
  is counted, whatever `my_state` says (a page picks the ones it shows).
- near: `request.origin` and `request.radius_km` given: some point of the document's
  `locations` at a great-circle distance (haversine, mean Earth radius 6371.0088 km,
  `directory.registry.places.distance_km`) <= radius_km; with `include_online`, also any
  document whose delivery is "online" or "both", wherever it is.
- sorts (ties broken by id ascending unless said; missing values last):
  relevance: as above (only with text; without text it behaves as soonest);
  soonest: next_start ascending; credits: cme_credits descending;
  points: points of `request.points_board` descending, or max_points when no single board;
  deadline: the earliest deadline of the selected boards (or claim_deadline) ascending;
  newest: created_at descending;
  distance (only with near): the distance to the nearest of `locations` ascending (documents
  with none last), then next_start ascending, then id.

Writing (`reindex`, `upsert`): a document the engine cannot store for what it holds (text that
is not valid Unicode, a value that is not plain JSON, a value its index refuses) is refused
alone, named by id with the reason (`ReindexStats.skipped`, or `upsert`'s answer), and the
others are written. A refused document is not in the index afterwards, not even in an older
version: the index never shows what the registry no longer says. A reindex that could write
no document at all because every one was refused raises IndexingError and keeps the previous
index: that is a broken mapping or code, not a bad record. The engine failing (unreachable,
overloaded, disk full) is never a refusal: it raises SearchUnavailable or IndexingError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from directory.search import SearchRequest, SearchResult
from indexer.document import SearchDocument


class SearchUnavailable(RuntimeError):
    """The engine cannot answer now (down, overloaded): the web answers 503, not 500."""


class IndexingError(RuntimeError):
    """Some documents were not written; `failures` maps document id to the engine's reason."""

    def __init__(self, failures: dict[int, str], message: str | None = None) -> None:
        sample = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:5])
        super().__init__(message or f"{len(failures)} documents failed to index ({sample})")
        self.failures = failures


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str  # "title", "practice_area" or "provider"


@dataclass(frozen=True)
class ReindexStats:
    index: str
    documents: int  # written
    seconds: float
    # Documents refused for what they hold, by id, with the reason (see the module's doc).
    skipped: Mapping[int, str] = field(default_factory=dict)


class SearchEngine(Protocol):
    def reindex(self, documents: Iterable[SearchDocument], progress: bool = False) -> ReindexStats:
        """Build a new index from scratch and switch searches to it in one atomic step."""

    def upsert(self, documents: list[SearchDocument]) -> dict[int, str]:
        """Write documents (insert or replace by id), durably, or raise IndexingError when the
        engine fails. Answers the documents refused for what they hold (by id, with the
        reason): those are not written, and no older version of them stays in the index."""

    def delete(self, ids: list[int]) -> None:
        """Remove documents by id; ids not in the index are fine."""

    def documents(self, ids: list[int]) -> dict[int, SearchDocument]:
        """The indexed documents with these ids, as the engine holds them (ids it does not
        hold are absent), read through to the latest write."""

    def search(self, request: SearchRequest, today: date) -> SearchResult: ...

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Titles, practice areas and providers that start with (or contain a word starting
        with) what the physician has typed so far."""

    def count(self) -> int: ...

    def ids(self) -> set[int]: ...

    def generation(self) -> str:
        """A token for what searches see now: it changes whenever a write through any engine
        instance, in any process, may have changed an answer (upsert, delete, reindex), and is
        the same again only while nothing has. Cheap enough to ask before every search: a
        cache of answers (the web's) is keyed by it. Read it before the search it keys, so an
        answer is never stored under a token newer than what it saw. Raises SearchUnavailable
        when the engine cannot say."""
