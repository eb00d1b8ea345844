"""The OpenSearch query compiler: a SearchRequest in, a request body out, and back again.

Pure: no client, no network. `search_body` turns a `SearchRequest` into the body of one
`_search` call; `parse_result` turns its response into a `SearchResult`; `correction` reads the
term suggester's answer into a corrected text. Being pure, the exact bodies can be checked
without a cluster, and the engine (`indexer.opensearch.engine`) only sends them.

- User text reaches OpenSearch only as the `query` of `multi_match` queries, over the text
  fields and weights of `directory.search.TEXT_FIELDS`.
- Facet selections go into `post_filter`; each facet's aggregation applies every other facet's
  selection, so the counts are disjunctive.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from directory.registry.reference import reference
from directory.search import (
    FACETS,
    MAX_RESULT_WINDOW,
    TEXT_FIELDS,
    Facet,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchResult,
    facet_label,
)
from indexer.text import edit_distance, fold, max_edits, split_phrases

# Where user text is looked for, and how much each field weighs ("title^6").
BOOSTED_FIELDS = tuple(f"{f.name}^{f.weight:g}" for f in TEXT_FIELDS)
# Every text field is also copied, unstemmed, into this field: the vocabulary that typos are
# corrected against (corrections read as real words: "cardiology", not the stem "cardiologi").
SPELLING_FIELD = "spelling"


# --- text ------------------------------------------------------------------------------------


def _text_clauses(text: str) -> list[dict[str, Any]]:
    """Every term must match somewhere among the text fields; quoted phrases as phrases."""
    phrases, rest = split_phrases(text)
    clauses: list[dict[str, Any]] = [
        {"multi_match": {"query": p, "type": "phrase", "fields": list(BOOSTED_FIELDS)}}
        for p in phrases
    ]
    if rest or not clauses:
        clauses.append(
            {
                "multi_match": {
                    "query": rest,
                    "type": "cross_fields",
                    "operator": "and",
                    "fields": list(BOOSTED_FIELDS),
                    # Text that analyzes to nothing ("?!") asks for nothing: no constraint.
                    "zero_terms_query": "all",
                }
            }
        )
    return clauses


def correction(text: str, entries: list[dict[str, Any]]) -> str | None:
    """`text` with each unknown word replaced by the term suggester's closest indexed word."""
    changes: list[tuple[int, int, str]] = []
    for entry in entries:
        word, start, length = entry.get("text", ""), entry.get("offset", 0), entry.get("length", 0)
        original = fold(text[start : start + length])
        if original != word:
            # The analyzer drops a possessive "'s"; keep it. Other offsets we cannot map back.
            if re.sub(r"['\u2019]s$", "", original) != word:
                continue
            length -= 2
        for option in entry.get("options", []):
            candidate = option.get("text", "")
            if candidate and edit_distance(word, candidate) <= max_edits(word):
                changes.append((start, length, candidate))
                break
    if not changes:
        return None
    corrected = text
    for start, length, candidate in sorted(changes, reverse=True):
        corrected = corrected[:start] + candidate + corrected[start + length :]
    return corrected


# --- filters and facets ----------------------------------------------------------------------


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


# --- sorts -----------------------------------------------------------------------------------

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


# --- the request, and its response -----------------------------------------------------------


def search_body(
    request: SearchRequest, today: date, text: str | None = None, spelling: bool = False
) -> dict[str, Any]:
    """The OpenSearch request for `request` (with `text` instead of request.text if given).

    `spelling` adds the term suggester that `correction` reads when nothing matches.
    """
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


def parse_result(request: SearchRequest, response: dict[str, Any]) -> SearchResult:
    """The `SearchResult` of a `search_body` response (hits in order, every facet)."""
    hits = response["hits"]
    return SearchResult(
        request=request,
        total=hits["total"]["value"],
        hits=tuple(h["_source"] for h in hits["hits"]),
        facets=_facets(request, response.get("aggregations", {})),
    )


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
