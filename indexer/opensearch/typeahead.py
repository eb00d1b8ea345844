"""Typeahead on OpenSearch, pure: what to ask for the words typed so far, and what to show.

One `_search` of size 0 asks, per kind (practice area, provider, title), for the whole values
whose words start with every typed word (edge n-grams in the field's `.prefix` subfield, the
value itself in `.raw`, see mapping.json). The answer is then re-checked and ranked here: the
n-grams match a typed word anywhere in a value that has several, and a value that starts with
the typed text reads as the better suggestion.
"""

from __future__ import annotations

from typing import Any

from indexer.engine import Suggestion
from indexer.text import fold, words

# kind -> the field whose whole values are suggested. Listed in the order the kinds are shown.
SUGGEST_FIELDS = (
    ("practice_area", "practice_area_names"),
    ("provider", "provider_name"),
    ("title", "title"),
)
MAX_SUGGEST_PREFIX = 100


def typed_words(prefix: str) -> tuple[str, list[str]]:
    """The typed text as sent (whitespace collapsed, cut short) and its folded words."""
    text = " ".join(prefix.split())[:MAX_SUGGEST_PREFIX]
    return text, words(text)


def suggest_body(text: str, limit: int) -> dict[str, Any]:
    """Values of every kind with a word starting with each typed word, most used first."""

    def typed_in(field: str) -> dict[str, Any]:
        return {"multi_match": {"query": text, "fields": [f"{field}.prefix"], "operator": "and"}}

    return {
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


def suggestions(typed: list[str], aggs: dict[str, Any], limit: int) -> list[Suggestion]:
    """At most `limit` suggestions from the aggregations of `suggest_body`, kinds in turn."""

    def matches(value: str) -> bool:
        value_words = words(value)
        return all(any(w.startswith(t) for w in value_words) for t in typed)

    folded = " ".join(typed)
    ranked: dict[str, list[str]] = {}
    for kind, _ in SUGGEST_FIELDS:
        buckets = [b for b in aggs[kind]["values"]["buckets"] if matches(b["key"])]
        buckets.sort(
            key=lambda b: (not " ".join(words(b["key"])).startswith(folded), -b["doc_count"])
        )
        ranked[kind] = [b["key"] for b in buckets]

    chosen: list[Suggestion] = []
    seen: set[str] = set()
    position = 0
    while len(chosen) < limit and any(position < len(v) for v in ranked.values()):
        for kind, _ in SUGGEST_FIELDS:  # one of each kind in turn, so no kind crowds out
            values = ranked[kind]
            if position < len(values) and len(chosen) < limit:
                key = fold(values[position])
                if key not in seen:
                    seen.add(key)
                    chosen.append(Suggestion(text=values[position], kind=kind))
        position += 1
    order = [kind for kind, _ in SUGGEST_FIELDS]
    return sorted(chosen, key=lambda s: order.index(s.kind))
