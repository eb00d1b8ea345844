"""A provider's standing (`directory.registry.standing`) as the dashboard and the web service
show it: each summary line with the URL of the list it counts, each row with its reasons.

One shape for both, so that the page and the API never disagree on what a count links to or
how a reason is named: the page renders these dicts, the API returns them as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from directory.registry.standing import (
    BOARD_STATES,
    Count,
    Query,
    Row,
    Summary,
)

# A query's URL on the page or the API that lists it.
QueryUrl = Callable[[Query], str]


def query_url(base: str, query: Query) -> str:
    """`base` with `query` as its query string (none for the unfiltered first page)."""
    params = query.to_params()
    return f"{base}?{urlencode(params)}" if params else base


def _count(count: Count, url: QueryUrl) -> dict[str, Any]:
    line: dict[str, Any] = {"label": count.label, "count": count.count, "url": url(count.query)}
    if count.parts:
        line["parts"] = [_count(p, url) for p in count.parts]
    return line


def summary_dict(summary: Summary, url: QueryUrl) -> dict[str, Any]:
    """The summary: totals, why activities are not listed, and each board's registrations."""
    return {
        "total": summary.total,
        "listed": _count(summary.listed, url),
        "not_listed": _count(summary.not_listed, url),
        "provider_not_in_good_standing": summary.provider_refused,
        "boards": [
            {
                "board": b.board,
                "name": b.name,
                "registrations": b.registrations,
                "states": [
                    {
                        **_count(s, url),
                        "state": s.query.board_state,
                    }
                    for s in b.states
                ],
            }
            for b in summary.boards
        ],
    }


def row_dict(row: Row) -> dict[str, Any]:
    """One activity's standing: listed or every reason it is not, and each registration's."""
    return {
        "listed": row.listed,
        "reasons": [{"code": r.code, "text": r.text} for r in row.reasons],
        "boards": [
            {
                "board": line.board,
                "state": line.state,
                "state_label": BOARD_STATES[line.state],
                "summary": line.status.summary(),
                "missing": list(line.status.missing),
            }
            for line in row.boards
        ],
    }
