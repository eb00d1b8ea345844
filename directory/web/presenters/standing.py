"""A provider's standing (`directory.registry.standing`) as the dashboard and the web service
show it: each summary line with the URL of the list it counts, each row with its reasons.

One shape for both, so that the page and the API never disagree on what a count links to or
how a reason is named: the page renders these dicts, the API returns them as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from directory.registry import standing
from directory.registry.db import is_busy
from directory.registry.standing import (
    BOARD_STATES,
    DEFAULT_PER_PAGE,
    REASON_LABELS,
    Count,
    Query,
    Row,
    Summary,
)


def refresh_checks(session: Session, provider_id: int) -> int:
    """Check again what changed since the last look (`standing.refresh`, as much as one
    request may), so that the filters and counts read current checks; returns how many
    still wait (for `standing.summary`). It writes: when a batch import holds the registry's
    write lock, the answer is read from the checks as they stand (the summary says how many
    are `unchecked`) rather than waiting for the import. Writes and import jobs check their
    own activities at once, so that is rarely any."""
    try:
        return standing.refresh_waiting(session, provider_id, limit=standing.WEB_LIMIT)
    except DBAPIError as exc:
        if not is_busy(exc):
            raise
        session.rollback()
        return standing.unchecked(session, provider_id)


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
        # Changed moments ago and not checked yet: not in the counts until they are.
        "unchecked": summary.unchecked,
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


def chips(query: Query, url: QueryUrl) -> list[dict[str, str]]:
    """One chip per active filter value, each linking to the list without it (from page 1):
    the filters a summary line set (`field`, `board_field`) as much as the form's."""
    first = replace(query, page=1)
    out: list[dict[str, str]] = []

    def chip(label: str, without: Query) -> None:
        out.append({"label": label, "url": url(without)})

    if query.listed is not None:
        chip("Listed" if query.listed else "Not listed", replace(first, listed=None))
    for code in query.reasons:
        left = tuple(r for r in query.reasons if r != code)
        chip(f"Not listed: {REASON_LABELS[code]}", replace(first, reasons=left))
    if query.field:
        chip(f"Field: {query.field}", replace(first, field=None))
    for status in query.statuses:
        left = tuple(s for s in query.statuses if s != status)
        chip(f"Status: {status}", replace(first, statuses=left))
    for fmt in query.formats:
        left = tuple(f for f in query.formats if f != fmt)
        chip(f"Format: {fmt}", replace(first, formats=left))
    if query.board:
        chip(f"Board: {query.board}", replace(first, board=None))
    if query.board_state:
        chip(f"Registration {BOARD_STATES[query.board_state]}", replace(first, board_state=None))
    if query.board_field:
        chip(f"Registration missing {query.board_field}", replace(first, board_field=None))
    if query.text:
        chip(f"Text: “{query.text}”", replace(first, text=""))
    return out


def export_query(query: Query) -> Query:
    """The filters and sort of `query` without its page: what an export of the list writes."""
    return replace(query, page=1, per_page=DEFAULT_PER_PAGE)
