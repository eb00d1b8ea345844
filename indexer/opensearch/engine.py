"""The OpenSearch engine: `indexer.engine.SearchEngine` on an OpenSearch cluster.

- The index is defined once, in `indexer/mapping.json` (settings, analyzers, mappings); the
  clinical synonyms of `indexer/synonyms.txt` are injected into its `cme_synonyms` filter
  when an index is created, so a synonym change takes effect at the next `reindex`.
- Searches go through the alias `<prefix>-activities`. `reindex` builds a new versioned index
  `<prefix>-activities-<UTC timestamp>` (no refresh, no replicas while loading), then moves the
  alias to it in one atomic `update_aliases` call and deletes the older indices: searches are
  answered by the old index until the very moment the new one is complete.
- User text reaches OpenSearch only as the `query` of `multi_match` queries.
- Facet selections go into `post_filter`; each facet's aggregation applies every other facet's
  selection, so the counts are disjunctive.
- Engine trouble (unreachable, timeout, 429, 5xx) becomes `SearchUnavailable`; a 4xx answer
  to a search means the query we built is wrong, and is raised as is.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError
from opensearchpy.helpers import scan, streaming_bulk

from directory.registry.reference import reference
from directory.search import (
    FACETS,
    MAX_RESULT_WINDOW,
    Facet,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchResult,
    facet_label,
)
from indexer.engine import IndexingError, ReindexStats, SearchUnavailable, Suggestion
from indexer.synonyms import synonym_lines

log = logging.getLogger(__name__)

MAPPING_FILE = Path(__file__).resolve().parent / "mapping.json"

# Where user text is looked for, and how much each field weighs.
TEXT_FIELDS = (
    "title^6",
    "practice_area_names^4",
    # Counted boards' codes and names: "ABIM cardiology" finds ABIM's cardiology activities.
    "board_names^2",
    "keywords^3",
    "provider_name^3",
    "objectives^2",
    "description^1",
)
# Every text field is also copied, unstemmed, into this field: the vocabulary that typos are
# corrected against (corrections read as real words: "cardiology", not the stem "cardiologi").
SPELLING_FIELD = "spelling"
# Typeahead: kind -> the field whose whole values are suggested (edge n-grams in `.prefix`,
# the value itself in `.raw`). Listed in the order the kinds are shown.
SUGGEST_FIELDS = (
    ("practice_area", "practice_area_names"),
    ("provider", "provider_name"),
    ("title", "title"),
)
MAX_SUGGEST_PREFIX = 100

BULK_CHUNK_SIZE = 1000
BULK_MAX_CHUNK_BYTES = 20 * 1024 * 1024
BULK_REQUEST_TIMEOUT = 120  # seconds; a 1000-document chunk on a busy cluster
WRITE_ATTEMPTS = 3  # upsert/delete: whole-request retries on 429, 5xx and connection trouble
# Settings that differ while an index is being loaded; mapping.json holds their final values.
LOADING_SETTINGS = {
    "refresh_interval": "-1",
    "number_of_replicas": 0,
    "auto_expand_replicas": "false",
}
_TIMESTAMP_FORMAT = "%Y%m%dt%H%M%S%f"
_QUOTED = re.compile(r'"([^"]*)"')


# --- the index definition --------------------------------------------------------------------


@cache
def _mapping_file() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    return loaded


def index_definition(synonyms: Iterable[str] | None = None) -> dict[str, Any]:
    """The body that creates an index: mapping.json with the synonym rules filled in."""
    body = copy.deepcopy(_mapping_file())
    rules = list(synonym_lines() if synonyms is None else synonyms)
    body["settings"]["analysis"]["filter"]["cme_synonyms"]["synonyms"] = rules
    return body


def _final_settings() -> dict[str, Any]:
    """The per-index settings an index returns to once loaded (from mapping.json)."""
    declared = _mapping_file()["settings"]["index"]
    return {k: declared[k] for k in ("refresh_interval", "auto_expand_replicas")}


# --- errors ----------------------------------------------------------------------------------


def _unavailable_reason(error: TransportError) -> str | None:
    """Why the engine cannot answer now, or None when the error is not about availability."""
    if isinstance(error, TransportConnectionError):
        if isinstance(error, ConnectionTimeout):
            return "the search engine did not answer in time"
        return "the search engine cannot be reached"
    status = error.status_code
    if status == 429:
        return "the search engine is overloaded"
    if isinstance(status, int) and status >= 500:
        return f"the search engine failed (HTTP {status})"
    return None


@contextmanager
def _answering() -> Iterator[None]:
    """Turn availability trouble into SearchUnavailable; let anything else (a bug) through."""
    try:
        yield
    except NotFoundError as e:
        if e.error == "index_not_found_exception":
            raise SearchUnavailable("the search index has not been built yet") from e
        raise
    except TransportError as e:
        reason = _unavailable_reason(e)
        if reason is None:
            raise
        raise SearchUnavailable(reason) from e


def _failure_reason(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause.get('type', 'cause')}: {cause['reason']})"
    else:
        reason = str(error or f"HTTP {item.get('status')}")
    return reason[:500]


def _document_id(item: dict[str, Any]) -> int:
    raw = item.get("_id")
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return -1


# --- text ------------------------------------------------------------------------------------


def _split_text(text: str) -> tuple[list[str], str]:
    """'"heart failure" guideline' -> (['heart failure'], 'guideline'); stray quotes dropped."""
    phrases = [p.strip() for p in _QUOTED.findall(text) if p.strip()]
    rest = " ".join(_QUOTED.sub(" ", text).replace('"', " ").split())
    return phrases, rest


def _text_clauses(text: str) -> list[dict[str, Any]]:
    """Every term must match somewhere among the text fields; quoted phrases as phrases."""
    phrases, rest = _split_text(text)
    clauses: list[dict[str, Any]] = [
        {"multi_match": {"query": p, "type": "phrase", "fields": list(TEXT_FIELDS)}}
        for p in phrases
    ]
    if rest or not clauses:
        clauses.append(
            {
                "multi_match": {
                    "query": rest,
                    "type": "cross_fields",
                    "operator": "and",
                    "fields": list(TEXT_FIELDS),
                    # Text that analyzes to nothing ("?!") asks for nothing: no constraint.
                    "zero_terms_query": "all",
                }
            }
        )
    return clauses


def _max_edits(word: str) -> int:
    """The typo budget of OpenSearch's fuzziness AUTO: 0 edits up to 2 letters, 1 up to 5."""
    return 0 if len(word) <= 2 else 1 if len(word) <= 5 else 2


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions, swaps)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _correction(text: str, entries: list[dict[str, Any]]) -> str | None:
    """`text` with each unknown word replaced by the term suggester's closest indexed word."""
    changes: list[tuple[int, int, str]] = []
    for entry in entries:
        word, start, length = entry.get("text", ""), entry.get("offset", 0), entry.get("length", 0)
        original = _fold(text[start : start + length])
        if original != word:
            # The analyzer drops a possessive "'s"; keep it. Other offsets we cannot map back.
            if re.sub(r"['\u2019]s$", "", original) != word:
                continue
            length -= 2
        for option in entry.get("options", []):
            candidate = option.get("text", "")
            if candidate and _edit_distance(word, candidate) <= _max_edits(word):
                changes.append((start, length, candidate))
                break
    if not changes:
        return None
    corrected = text
    for start, length, candidate in sorted(changes, reverse=True):
        corrected = corrected[:start] + candidate + corrected[start + length :]
    return corrected


def _fold(text: str) -> str:
    """Lowercase without accents, as the analyzers see it ('Sjögren's' -> "sjogren's")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", _fold(text))


# --- building a search -----------------------------------------------------------------------


def _day(d: date) -> str:
    return d.isoformat()


def _filters(request: SearchRequest, today: date) -> list[dict[str, Any]]:
    """Everything but text and facets: what is listed today, when, how many credits."""
    filters: list[dict[str, Any]] = [{"range": {"end_date": {"gte": _day(today)}}}]
    if request.when == "upcoming":
        filters.append({"range": {"next_start": {"gte": _day(today)}}})
    elif request.when in ("this_month", "custom"):
        start, end = request.date_window(today)
        if end is not None:
            filters.append({"range": {"start_date": {"lte": _day(end)}}})
        if start is not None:
            filters.append({"range": {"end_date": {"gte": _day(start)}}})
    elif request.when == "available_now":
        filters.append({"term": {"enduring": True}})
        filters.append({"range": {"start_date": {"lte": _day(today)}}})
    credits: dict[str, float] = {}
    if request.credits_min is not None:
        credits["gte"] = request.credits_min
    if request.credits_max is not None:
        credits["lte"] = request.credits_max
    if credits:
        filters.append({"range": {"cme_credits": credits}})
    if request.claim_within_days is not None:
        boards = request.selected("board") or tuple(reference().boards)
        window = {
            "gte": _day(today),
            "lte": _day(today + timedelta(days=request.claim_within_days)),
        }
        filters.append(
            {
                "bool": {
                    "should": [{"range": {f"deadlines.{b}": window}} for b in boards],
                    "minimum_should_match": 1,
                }
            }
        )
    return filters


def _facet_filter(request: SearchRequest, facet: Facet) -> dict[str, Any] | None:
    values = request.selected(facet.name)
    return {"terms": {facet.name: list(values)}} if values else None


def _selections(request: SearchRequest, skip: str | None = None) -> list[dict[str, Any]]:
    return [f for facet in FACETS if facet.name != skip and (f := _facet_filter(request, facet))]


_PROVIDER_NAME = {"top_hits": {"size": 1, "_source": {"includes": ["provider_name"]}}}


def _aggregations(request: SearchRequest) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    for facet in FACETS:
        values: dict[str, Any] = {
            "terms": {
                "field": facet.name,
                "size": facet.size,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
        selected = request.selected(facet.name)
        inner: dict[str, Any] = {"values": values}
        if selected:
            # Exact counts of the selected values, which may not be among the top `size`.
            inner["selected"] = {
                "terms": {"field": facet.name, "size": len(selected), "include": list(selected)}
            }
        if facet.name == "provider":
            values["aggs"] = {"name": _PROVIDER_NAME}
        aggs[facet.name] = {
            "filter": {"bool": {"filter": _selections(request, skip=facet.name)}},
            "aggs": inner,
        }
    providers = request.selected("provider")
    if providers:
        # Names of selected providers that nothing matches now: look in the whole index.
        aggs["selected_provider_names"] = {
            "global": {},
            "aggs": {
                "only": {
                    "filter": {"terms": {"provider": list(providers)}},
                    "aggs": {
                        "values": {
                            "terms": {"field": "provider", "size": len(providers)},
                            "aggs": {"name": _PROVIDER_NAME},
                        }
                    },
                }
            },
        }
    return aggs


_DEADLINE_SCRIPT = """
long best = Long.MAX_VALUE;
for (String field : params.fields) {
  if (doc.containsKey(field) && doc[field].size() > 0) {
    long value = doc[field].value.toInstant().toEpochMilli();
    if (value < best) { best = value; }
  }
}
return best;
"""


def _sort(request: SearchRequest) -> list[dict[str, Any]]:
    name = request.effective_sort
    if name == "relevance" and not request.text.strip():
        name = "soonest"

    def field(path: str, order: str, unmapped: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"order": order, "missing": "_last"}
        if unmapped:
            spec["unmapped_type"] = unmapped
        return {path: spec}

    keys: list[dict[str, Any]]
    if name == "relevance":
        keys = [{"_score": {"order": "desc"}}]
    elif name == "credits":
        keys = [field("cme_credits", "desc")]
    elif name == "points":
        board = request.points_board
        keys = [field(f"points.{board}", "desc", "float") if board else field("max_points", "desc")]
    elif name == "deadline":
        boards = request.selected("board")
        if not boards:
            keys = [field("claim_deadline", "asc")]
        elif len(boards) == 1:
            keys = [field(f"deadlines.{boards[0]}", "asc", "date")]
        else:
            keys = [
                {
                    "_script": {
                        "type": "number",
                        "order": "asc",
                        "script": {
                            "lang": "painless",
                            "source": _DEADLINE_SCRIPT,
                            "params": {"fields": [f"deadlines.{b}" for b in boards]},
                        },
                    }
                }
            ]
    elif name == "newest":
        keys = [field("created_at", "desc")]
    else:  # soonest
        keys = [field("next_start", "asc")]
    return [*keys, {"id": {"order": "asc"}}]


def search_body(
    request: SearchRequest, today: date, text: str | None = None, spelling: bool = False
) -> dict[str, Any]:
    """The OpenSearch request for `request` (with `text` instead of request.text if given)."""
    text = (request.text if text is None else text).strip()
    query: dict[str, Any] = {"filter": _filters(request, today)}
    if text:
        query["must"] = _text_clauses(text)
    offset = max(0, request.offset)
    body: dict[str, Any] = {
        "query": {"bool": query},
        "aggs": _aggregations(request),
        "sort": _sort(replace(request, text=text)),
        "from": offset,
        # OpenSearch refuses from + size beyond its window: the last page is cut short.
        "size": max(0, min(request.per_page, MAX_RESULT_WINDOW - offset)),
        "track_total_hits": True,
    }
    selections = _selections(request)
    if selections:
        body["post_filter"] = {"bool": {"filter": selections}}
    if text and spelling:
        body["suggest"] = {
            "text": text,
            "spelling": {
                "term": {
                    "field": SPELLING_FIELD,
                    "suggest_mode": "missing",
                    "max_edits": 2,
                    "prefix_length": 1,
                    "min_word_length": 3,
                    "size": 3,
                }
            },
        }
    return body


def _facets(request: SearchRequest, aggs: dict[str, Any]) -> tuple[FacetResult, ...]:
    names: dict[str, str] = {}
    for bucket in (
        aggs.get("selected_provider_names", {}).get("only", {}).get("values", {}).get("buckets", [])
    ):
        names[bucket["key"]] = _top_provider_name(bucket) or bucket["key"]
    results = []
    for facet in FACETS:
        agg = aggs.get(facet.name, {})
        counts: dict[str, int] = {}
        for bucket in agg.get("values", {}).get("buckets", []):
            counts[str(bucket["key"])] = bucket["doc_count"]
            if facet.name == "provider":
                names.setdefault(str(bucket["key"]), _top_provider_name(bucket) or bucket["key"])
        for bucket in agg.get("selected", {}).get("buckets", []):
            counts.setdefault(str(bucket["key"]), bucket["doc_count"])
        selected = request.selected(facet.name)
        for value in selected:
            counts.setdefault(value, 0)

        def label(value: str, facet: Facet = facet) -> str:
            if facet.name == "provider":
                return names.get(value, value)
            return facet_label(facet.name, value)

        values = tuple(
            FacetValue(value=v, label=label(v), count=n, selected=v in selected)
            for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        results.append(FacetResult(name=facet.name, label=facet.label, values=values))
    return tuple(results)


def _top_provider_name(bucket: dict[str, Any]) -> str | None:
    hits = bucket.get("name", {}).get("hits", {}).get("hits", [])
    name = hits[0].get("_source", {}).get("provider_name") if hits else None
    return str(name) if name else None


# --- the engine ------------------------------------------------------------------------------


class OpenSearchEngine:
    """`SearchEngine` on OpenSearch, behind the alias `<prefix>-activities`."""

    def __init__(self, client: OpenSearch, prefix: str = "cme") -> None:
        self.client = client
        self.prefix = prefix
        self.alias = f"{prefix}-activities"
        self._own_index = re.compile(rf"{re.escape(self.alias)}-\d{{8}}t\d{{12}}")

    @classmethod
    def from_config(
        cls, url: str, prefix: str, user: str | None = None, password: str | None = None
    ) -> OpenSearchEngine:
        client = OpenSearch(
            hosts=[url],
            http_auth=(user, password or "") if user else None,
            timeout=10,
            max_retries=2,
            retry_on_timeout=True,
            http_compress=True,
        )
        return cls(client, prefix=prefix)

    # --- indices ------------------------------------------------------------------------------

    def _new_index_name(self) -> str:
        return f"{self.alias}-{datetime.now(UTC).strftime(_TIMESTAMP_FORMAT)}"

    def _alias_targets(self) -> list[str]:
        """The indices the alias points at (none before the first reindex)."""
        if not self.client.indices.exists_alias(name=self.alias):
            return []
        return sorted(self.client.indices.get_alias(name=self.alias))

    def _own_indices(self) -> list[str]:
        """Every versioned index of this prefix, whether the alias points at it or not."""
        found = self.client.indices.get(
            index=f"{self.alias}-*",
            expand_wildcards="all",
            allow_no_indices=True,
            ignore_unavailable=True,
        )
        return sorted(name for name in found if self._own_index.fullmatch(name))

    def _create_index(self, name: str, loading: bool) -> None:
        body = index_definition()
        if loading:
            body["settings"]["index"].update(LOADING_SETTINGS)
        self.client.indices.create(index=name, body=body)

    def _delete_indices(self, names: Iterable[str]) -> None:
        names = list(names)
        for start in range(0, len(names), 50):
            self.client.indices.delete(index=",".join(names[start : start + 50]), ignore=[404])

    def drop(self) -> None:
        """Delete the alias and every index of this prefix (tests, and starting over)."""
        for index in self._alias_targets():
            self.client.indices.delete_alias(index=index, name=self.alias, ignore=[404])
        self._delete_indices(self._own_indices())

    # --- writing ------------------------------------------------------------------------------

    def reindex(self, documents: Iterable[dict[str, Any]], progress: bool = False) -> ReindexStats:
        """Load `documents` into a new index, then point the alias at it in one atomic step.

        On any failure the new index is deleted and the alias stays where it was.
        """
        from tqdm import tqdm

        started = time.monotonic()
        index = self._new_index_name()
        self._create_index(index, loading=True)
        try:
            total = len(documents) if isinstance(documents, Sized) else None
            with tqdm(total=total, unit="doc", desc=index, disable=not progress) as bar:
                written, failures = self._load(index, documents, bar.update)
            if failures:
                raise IndexingError(failures)
            self.client.indices.put_settings(index=index, body={"index": _final_settings()})
            self.client.indices.refresh(index=index)
            actions: list[dict[str, Any]] = [
                {"remove": {"index": old, "alias": self.alias}} for old in self._alias_targets()
            ]
            actions.append({"add": {"index": index, "alias": self.alias}})
            self.client.indices.update_aliases(body={"actions": actions})
        except BaseException:
            try:
                self.client.indices.delete(index=index, ignore=[404])
            except Exception:
                log.warning("could not delete the half-built index %s", index, exc_info=True)
            raise
        try:
            # Older ones only: a reindex started after this one may still be loading its index.
            self._delete_indices(name for name in self._own_indices() if name < index)
        except TransportError:  # searches are fine; the next reindex deletes them
            log.warning("could not delete the indices replaced by %s", index, exc_info=True)
        return ReindexStats(index=index, documents=written, seconds=time.monotonic() - started)

    def _load(
        self, index: str, documents: Iterable[dict[str, Any]], advance: Callable[[int], Any]
    ) -> tuple[int, dict[int, str]]:
        """Stream documents into `index` in chunks: (documents written, failures by id)."""
        actions = (
            {"_op_type": "index", "_index": index, "_id": doc["id"], "_source": doc}
            for doc in documents
        )
        written, failures = 0, {}
        for ok, result in streaming_bulk(
            self.client,
            actions,
            chunk_size=BULK_CHUNK_SIZE,
            max_chunk_bytes=BULK_MAX_CHUNK_BYTES,
            raise_on_error=False,
            max_retries=5,
            initial_backoff=1,
            max_backoff=30,
            request_timeout=BULK_REQUEST_TIMEOUT,
        ):
            advance(1)
            if ok:
                written += 1
            else:
                item = next(iter(result.values()))
                failures[_document_id(item)] = _failure_reason(item)
        return written, failures

    def _ensure_alias(self) -> None:
        """Before the first reindex, writes go to a new empty index behind the alias."""
        if self.client.indices.exists_alias(name=self.alias):
            return
        index = self._new_index_name()
        self._create_index(index, loading=False)
        self.client.indices.update_aliases(
            body={"actions": [{"add": {"index": index, "alias": self.alias}}]}
        )

    def upsert(self, documents: list[dict[str, Any]]) -> None:
        """Index (insert or replace) documents by id; visible to searches on return."""
        if not documents:
            return
        self._write(
            [
                {"_op_type": "index", "_index": self.alias, "_id": d["id"], "_source": d}
                for d in documents
            ],
            create=True,
        )

    def delete(self, ids: list[int]) -> None:
        """Remove documents by id; ids that are not indexed are no failure."""
        if not ids:
            return
        self._write([{"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids])

    def _write(self, actions: list[dict[str, Any]], create: bool = False) -> None:
        """Bulk-write through the alias, retrying engine trouble; raise IndexingError if any fail."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                if create:
                    self._ensure_alias()
                elif not self.client.indices.exists_alias(name=self.alias):
                    return  # nothing indexed yet, so nothing to delete
                failures: dict[int, str] = {}
                for ok, result in streaming_bulk(
                    self.client,
                    actions,
                    chunk_size=BULK_CHUNK_SIZE,
                    max_chunk_bytes=BULK_MAX_CHUNK_BYTES,
                    raise_on_error=False,
                    max_retries=3,
                    initial_backoff=1,
                    max_backoff=8,
                    request_timeout=BULK_REQUEST_TIMEOUT,
                    # Visible to searches when we return, without forcing a refresh per call.
                    refresh="wait_for",
                    # Never let a write auto-create an index named like the alias.
                    require_alias=True,
                ):
                    op, item = next(iter(result.items()))
                    if not ok and not (op == "delete" and item.get("status") == 404):
                        failures[_document_id(item)] = _failure_reason(item)
            except TransportError as e:
                reason = _unavailable_reason(e)
                if reason is None:
                    raise
                if attempt == WRITE_ATTEMPTS:
                    raise IndexingError({_document_id(a): reason for a in actions}) from e
                log.warning("bulk write failed (%s), retrying", reason)
                time.sleep(0.5 * 2 ** (attempt - 1))
                continue
            if failures:
                raise IndexingError(failures)
            return

    # --- reading ------------------------------------------------------------------------------

    def search(self, request: SearchRequest, today: date) -> SearchResult:
        """Answer `request` per the contract of `indexer.engine`; typos corrected if need be."""
        text = request.text.strip()
        with _answering():
            response = self.client.search(
                index=self.alias, body=search_body(request, today, spelling=bool(text))
            )
            result = self._result(request, response)
            if result.total or not text:
                return result
            corrected = _correction(text, response.get("suggest", {}).get("spelling", []))
            if not corrected or corrected == text:
                return result
            retry = self._result(
                request,
                self.client.search(index=self.alias, body=search_body(request, today, corrected)),
            )
        if not retry.total:
            return result
        return replace(retry, corrected_text=corrected)

    def _result(self, request: SearchRequest, response: dict[str, Any]) -> SearchResult:
        hits = response["hits"]
        return SearchResult(
            request=request,
            total=hits["total"]["value"],
            hits=tuple(h["_source"] for h in hits["hits"]),
            facets=_facets(request, response.get("aggregations", {})),
        )

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Practice areas, providers and titles with a word starting with each typed word."""
        text = " ".join(prefix.split())[:MAX_SUGGEST_PREFIX]
        typed = _words(text)
        if not typed or limit <= 0:
            return []

        def typed_in(field: str) -> dict[str, Any]:
            return {
                "multi_match": {"query": text, "fields": [f"{field}.prefix"], "operator": "and"}
            }

        body = {
            "size": 0,
            "query": {
                "bool": {
                    "should": [typed_in(field) for _, field in SUGGEST_FIELDS],
                    "minimum_should_match": 1,
                }
            },
            "aggs": {
                kind: {
                    "filter": typed_in(field),
                    "aggs": {
                        "values": {
                            "terms": {
                                "field": f"{field}.raw",
                                # A document lists several practice areas; only some match.
                                "size": 1000 if kind == "practice_area" else max(50, 4 * limit),
                                "order": [{"_count": "desc"}, {"_key": "asc"}],
                            }
                        }
                    },
                }
                for kind, field in SUGGEST_FIELDS
            },
        }
        with _answering():
            aggs = self.client.search(index=self.alias, body=body)["aggregations"]

        def matches(value: str) -> bool:
            words = _words(value)
            return all(any(w.startswith(t) for w in words) for t in typed)

        folded = " ".join(typed)
        ranked: dict[str, list[str]] = {}
        for kind, _ in SUGGEST_FIELDS:
            buckets = [b for b in aggs[kind]["values"]["buckets"] if matches(b["key"])]
            buckets.sort(
                key=lambda b: (not " ".join(_words(b["key"])).startswith(folded), -b["doc_count"])
            )
            ranked[kind] = [b["key"] for b in buckets]

        chosen: list[Suggestion] = []
        seen: set[str] = set()
        position = 0
        while len(chosen) < limit and any(position < len(v) for v in ranked.values()):
            for kind, _ in SUGGEST_FIELDS:  # one of each kind in turn, so no kind crowds out
                values = ranked[kind]
                if position < len(values) and len(chosen) < limit:
                    key = _fold(values[position])
                    if key not in seen:
                        seen.add(key)
                        chosen.append(Suggestion(text=values[position], kind=kind))
            position += 1
        order = [kind for kind, _ in SUGGEST_FIELDS]
        return sorted(chosen, key=lambda s: order.index(s.kind))

    def count(self) -> int:
        """Documents behind the alias (0 before the first reindex)."""
        with _answering():
            try:
                return int(self.client.count(index=self.alias)["count"])
            except NotFoundError:
                return 0

    def ids(self) -> set[int]:
        """The ids of every indexed document."""
        with _answering():
            try:
                return {
                    int(hit["_id"])
                    for hit in scan(
                        self.client,
                        index=self.alias,
                        query={"query": {"match_all": {}}, "_source": False},
                        size=5000,
                        scroll="2m",
                    )
                }
            except NotFoundError:
                return set()
