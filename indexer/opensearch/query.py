"""The OpenSearch query compiler: a SearchRequest in, a request body out, and back again.

Pure: no client, no network. `search_body` turns a `SearchRequest` into the body of one
`_search` call; `parse_result` turns its response into a `SearchResult`; `correction` reads the
term suggester's answer into a corrected text. Being pure, the exact bodies can be checked
without a cluster, and the engine (`indexer.opensearch.engine`) only sends them.

- User text reaches OpenSearch only as the `query` of `multi_match` queries, over the text
  fields and weights of `directory.search.TEXT_FIELDS`: the shared plan of
  `indexer.text.understand`, one clause per concept (typed words `cross_fields`, alternatives
  as phrases), with its minimum as `minimum_should_match`.
- Facet selections go into `post_filter`; each facet's aggregation applies every other facet's
  selection, so the counts are disjunctive.
- A distance search is a base filter (`geo_distance` on the `locations` geo_point, arc), like
  the dates: the hits and every facet's counts apply it. `sort=distance` is `_geo_distance`
  from the same origin, the nearest point of each document (a document with none sorts last).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from directory.registry.reference import reference
from directory.search import (
    FACETS,
    MAX_RESULT_WINDOW,
    ONLINE_DELIVERY,
    TEXT_FIELDS,
    Facet,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchResult,
    facet_label,
)
from indexer.text import Concept, QueryPlan, edit_distance, max_edits, understand

# Where user text is looked for, and how much each field weighs ("title^6").
BOOSTED_FIELDS = tuple(f"{f.name}^{f.weight:g}" for f in TEXT_FIELDS)
# Every text field is also copied, unstemmed, into this field: the vocabulary that typos are
# corrected against (corrections read as real words: "cardiology", not the stem "cardiologi").
SPELLING_FIELD = "spelling"


# --- text ------------------------------------------------------------------------------------

# The analyzer the text fields are indexed with: queries name it, so the typed words are
# searched as they are (synonyms are the plan's alternatives, `indexer.text.understand`, added
# at query time: a synonym change needs no reindex).
TEXT_ANALYZER = "cme_text"
# The fields a concept matched in makes a record rank above one matching it elsewhere.
PROMINENT_FIELDS = ("title", "practice_area_names", "board_names", "keywords")
# Score tiers (see `indexer.text.QueryPlan`): every concept matched, then the weights of the
# concepts matched, then of those matched in prominent fields, then the weighted BM25 (scaled
# down to stay under a step of the tier above).
EVERY_CONCEPT = 1_000_000.0
COVERAGE = 10_000.0
PROMINENCE = 100.0
BM25 = 0.1


def _concept_query(concept: Concept, fields: list[str]) -> dict[str, Any]:
    """The typed words (all of them across `fields`, or the quoted phrase), or any of the
    concept's alternatives as a phrase."""
    common = {"fields": fields, "analyzer": TEXT_ANALYZER}
    typed: dict[str, Any]
    if concept.quoted:
        typed = {"multi_match": {"query": " ".join(concept.words), "type": "phrase", **common}}
    else:
        typed = {
            "multi_match": {
                "query": " ".join(concept.words),
                "type": "cross_fields",
                "operator": "and",
                **common,
            }
        }
    alternatives = [
        {"multi_match": {"query": " ".join(a), "type": "phrase", "tie_breaker": 1.0, **common}}
        for a in concept.alternatives
    ]
    if not alternatives:
        return typed
    return {"dis_max": {"queries": [typed, *alternatives], "tie_breaker": 1.0}}


def _prominent_query(concept: Concept) -> dict[str, Any]:
    """The concept within the prominent fields, except in a record naming one of its
    `distinct` conditions there (as a phrase): "Pulmonary Hypertension" in a title is no
    title match for "hypertension"."""
    prominent = _concept_query(concept, list(PROMINENT_FIELDS))
    if not concept.distinct:
        return prominent
    common = {"fields": list(PROMINENT_FIELDS), "analyzer": TEXT_ANALYZER}
    others = [
        {"multi_match": {"query": " ".join(d), "type": "phrase", **common}}
        for d in concept.distinct
    ]
    return {"bool": {"must": [prominent], "must_not": others}}


def _concept_clause(concept: Concept, weight: float) -> dict[str, Any]:
    anywhere = _concept_query(concept, list(BOOSTED_FIELDS))
    prominent = _prominent_query(concept)
    return {
        "bool": {
            "should": [
                {"constant_score": {"filter": anywhere, "boost": COVERAGE * weight}},
                {"constant_score": {"filter": prominent, "boost": PROMINENCE * weight}},
                {"bool": {"must": anywhere, "boost": BM25}},
            ],
            "minimum_should_match": 1,
        }
    }


def text_query(plan: QueryPlan, weights: tuple[float, ...] | None = None) -> dict[str, Any]:
    """The plan as one bool query: every required concept, at least `plan.minimum` in all."""
    weights = weights or (1.0,) * len(plan.concepts)
    clauses = [_concept_clause(c, w) for c, w in zip(plan.concepts, weights, strict=True)]
    required = [cl for c, cl in zip(plan.concepts, clauses, strict=True) if c.required]
    optional = [cl for c, cl in zip(plan.concepts, clauses, strict=True) if not c.required]
    every = {
        "constant_score": {
            "filter": {
                "bool": {"filter": [_concept_query(c, list(BOOSTED_FIELDS)) for c in plan.concepts]}
            },
            "boost": EVERY_CONCEPT,
        }
    }
    query: dict[str, Any] = {"must": required, "should": [*optional, every]}
    needed = plan.minimum - len(required)
    if needed > 0:
        # `every` is one of the should clauses, matched only when all the others are.
        query["minimum_should_match"] = needed
    return {"bool": query}


def concept_frequencies(plan: QueryPlan) -> dict[str, Any]:
    """Aggregations counting the records matching each concept, whatever the query
    (`frequencies` reads them): for `indexer.text.weights`, and to know which words no record
    holds (`QueryPlan.correctable`)."""
    return {
        "concepts": {
            "global": {},
            "aggs": {
                f"c{i}": {"filter": _concept_query(c, list(BOOSTED_FIELDS))}
                for i, c in enumerate(plan.concepts)
            },
        }
    }


def frequencies(plan: QueryPlan, response: dict[str, Any]) -> list[int]:
    """How many records match each concept, from a response with `concept_frequencies`."""
    counts = response.get("aggregations", {}).get("concepts", {})
    return [counts.get(f"c{i}", {}).get("doc_count", 0) for i in range(len(plan.concepts))]


def spelling_suggest(plan: QueryPlan) -> dict[str, Any] | None:
    """The term suggester for the plan's correctable words (`QueryPlan.correctable`)."""
    words = plan.correctable()
    if not words:
        return None
    return {
        "text": " ".join(words),
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


def corrections(
    plan: QueryPlan, entries: list[dict[str, Any]], counts: list[int] | None = None
) -> dict[str, str]:
    """Word -> the term suggester's closest indexed word within its typo budget (`max_edits`),
    for the words of the plan that no record holds (`counts`: records matching each concept)."""
    wanted = set(plan.correctable(counts))
    found: dict[str, str] = {}
    for entry in entries:
        word = entry.get("text", "")
        if word not in wanted:
            continue
        for option in entry.get("options", []):
            candidate = option.get("text", "")
            if candidate and edit_distance(word, candidate) <= max_edits(word):
                found[word] = candidate
                break
    return found


# --- filters and facets ----------------------------------------------------------------------


def _day(d: date) -> str:
    return d.isoformat()


def _near(request: SearchRequest) -> dict[str, Any] | None:
    """The distance filter: a point of `locations` within the radius (great-circle, the
    haversine `directory.registry.places.distance_km` computes), or, with include_online,
    anything that can be attended from home wherever it is."""
    origin, radius = request.origin, request.radius_km
    if origin is None or radius is None:
        return None
    within = {
        "geo_distance": {
            "distance": f"{radius}km",
            "distance_type": "arc",
            "locations": {"lat": origin.lat, "lon": origin.lon},
            # An index built before documents had locations matches nothing near anywhere
            # (until `directory index` rebuilds it), rather than failing every such search.
            "ignore_unmapped": True,
        }
    }
    if not request.include_online:
        return within
    online = {"terms": {"delivery": list(ONLINE_DELIVERY)}}
    return {"bool": {"should": [within, online], "minimum_should_match": 1}}


def _filters(request: SearchRequest, today: date) -> list[dict[str, Any]]:
    """Everything but text and facets: what is listed today, when, how many credits, where.
    A base filter: the hits and every facet's counts apply it."""
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
    near = _near(request)
    if near is not None:
        filters.append(near)
    return filters


def _facet_filter(request: SearchRequest, facet: Facet) -> dict[str, Any] | None:
    values = request.selected(facet.name)
    return {"terms": {facet.name: list(values)}} if values else None


def _selections(request: SearchRequest, skip: str | None = None) -> list[dict[str, Any]]:
    return [f for facet in FACETS if facet.name != skip and (f := _facet_filter(request, facet))]


# A provider value is its id; its label is the name its documents hold, read from the keyword
# subfield `provider_name.raw` by a one-bucket terms sub-aggregation (the name most of them
# hold, so a rename shows as soon as its documents are synced). Not `top_hits`: that fetched
# one document's _source per provider bucket: searches took 30-40% longer than with no label
# at all, this takes 2-8% longer (p50 of the bench mix, 100,000 and 10,000 activities). A map
# of names kept by the engine would save those few per cent but must be refreshed after every
# write, in every worker; this needs no mapping change and cannot disagree with the counts.
_PROVIDER_NAME = {"terms": {"field": "provider_name.raw", "size": 1}}


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


def _sort(request: SearchRequest, text: bool) -> list[dict[str, Any]]:
    name = request.effective_sort
    if name == "relevance" and not text:
        name = "soonest"

    def field(path: str, order: str, unmapped: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"order": order, "missing": "_last"}
        if unmapped:
            spec["unmapped_type"] = unmapped
        return {path: spec}

    keys: list[dict[str, Any]]
    if name == "relevance":
        # Ties: soonest, then most credits.
        keys = [
            {"_score": {"order": "desc"}},
            field("next_start", "asc"),
            field("cme_credits", "desc"),
        ]
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
    elif name == "distance" and request.origin is not None:
        # The nearest of a document's points; one with none (online, with include_online)
        # sorts as infinitely far, so last.
        origin = request.origin
        keys = [
            {
                "_geo_distance": {
                    "locations": {"lat": origin.lat, "lon": origin.lon},
                    "order": "asc",
                    "unit": "km",
                    "mode": "min",
                    "distance_type": "arc",
                    "ignore_unmapped": True,
                }
            },
            field("next_start", "asc"),
        ]
    else:  # soonest (and distance without a place, which parse_request never lets through)
        keys = [field("next_start", "asc")]
    return [*keys, {"id": {"order": "asc"}}]


# --- the request, and its response -----------------------------------------------------------


def search_body(
    request: SearchRequest,
    today: date,
    plan: QueryPlan | None = None,
    weights: tuple[float, ...] | None = None,
    spelling: bool = False,
) -> dict[str, Any]:
    """The OpenSearch request for `request`, its text understood as `plan` (by default
    `indexer.text.understand(request.text)`), the concepts weighted by `weights`.

    `spelling` adds the term suggester that `corrections` reads.
    """
    if plan is None:
        plan = understand(request.text.strip())
    query: dict[str, Any] = {"filter": _filters(request, today)}
    if plan.concepts:
        query["must"] = [text_query(plan, weights)]
    offset = max(0, request.offset)
    body: dict[str, Any] = {
        "query": {"bool": query},
        "aggs": _aggregations(request),
        "sort": _sort(request, bool(plan.concepts)),
        "from": offset,
        # OpenSearch refuses from + size beyond its window: the last page is cut short.
        "size": max(0, min(request.per_page, MAX_RESULT_WINDOW - offset)),
        "track_total_hits": True,
    }
    selections = _selections(request)
    if selections:
        body["post_filter"] = {"bool": {"filter": selections}}
    suggest = spelling_suggest(plan) if spelling else None
    if suggest:
        body["suggest"] = suggest
        body["aggs"].update(concept_frequencies(plan))
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
    names = bucket.get("name", {}).get("buckets", [])
    name = names[0].get("key") if names else None
    return str(name) if name else None
