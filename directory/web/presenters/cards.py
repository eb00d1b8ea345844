"""How an activity reads to a physician: the card every page, the API and the widget show.

`card(hit)` takes a search document (see indexer/document.py) and returns plain data: the
HTML result card, the JSON API's hit and the widget all render exactly this.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from typing import Any

from directory.registry import rules
from directory.search import ONLINE_DELIVERY, SCOPE_SEPARATOR
from directory.web.presenters.requirements import (
    Origin,
    distance,
    own_place,
    place_text,
    requirements,
)


def safe_href(url: str | None) -> str | None:
    """`url` if it may be a link on our pages, else None, and it is not rendered as a link at
    all: the registry's own rule for providers' links (`rules.safe_url`: absolute http(s) with
    a host, no white space, control or format character a browser would read differently
    from us), applied again on the way out for rows written before or around that check. An
    address with surrounding white space is not one a provider's check let through."""
    return _safe_href(url) if isinstance(url, str) else None


# The check reads every character of the address (a tenth of the API's own time per page of
# cards); the same providers' addresses come back on every page, and the answer for a string
# never changes. Bounded: at most this many addresses, each at most its own length.
@functools.lru_cache(maxsize=4096)
def _safe_href(url: str) -> str | None:
    return url if rules.safe_url(url) == url else None


def _d(iso: str | None) -> date | None:
    return date.fromisoformat(iso) if iso else None


def when_text(start: date | None, end: date | None, enduring: bool) -> str:
    """'Mar 11–12, 2027', 'Mar 30 – Apr 2, 2027', or 'Available until Oct 31, 2027'."""
    if start is None or end is None:
        return ""
    if enduring:
        return f"Available until {end:%b} {end.day}, {end.year}"
    if start == end:
        return f"{start:%b} {start.day}, {start.year}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%b} {start.day}–{end.day}, {end.year}"
    if start.year == end.year:
        return f"{start:%b} {start.day} – {end:%b} {end.day}, {end.year}"
    return f"{start:%b} {start.day}, {start.year} – {end:%b} {end.day}, {end.year}"


def fee_text(fee_cents: int | None) -> str:
    if not fee_cents:
        return "Free"
    dollars, cents = divmod(fee_cents, 100)
    return f"${dollars:,}" + (f".{cents:02d}" if cents else "")


def where_text(hit: Mapping[str, Any]) -> str:
    """'Chicago, IL', 'Online', or 'Chicago, IL and online' (in person and online)."""
    delivery = hit.get("delivery")
    online = delivery in ONLINE_DELIVERY
    places = []
    if delivery in ("in person", "both"):
        own = own_place(hit)
        if own:
            places.append(own)
        for o in hit.get("occurrences") or []:
            text = place_text(o.get("city"), o.get("state"), o.get("country"))
            if text and text not in places:
                places.append(text)
    if not places:
        return "Online" if online else ""
    text = places[0] if len(places) == 1 else f"{places[0]} and {len(places) - 1} more"
    return f"{text} and online" if online else text


def board_badges(hit: Mapping[str, Any], my_board: str | None = None) -> list[dict[str, Any]]:
    """One badge per board the listing counts for: its points and credit types; mine first."""
    badges = []
    for board in hit.get("board") or []:
        prefix = board + SCOPE_SEPARATOR
        badges.append(
            {
                "board": board,
                "points": (hit.get("points") or {}).get(board),
                "credit_types": [
                    c[len(prefix) :] for c in hit.get("credit_type") or [] if c.startswith(prefix)
                ],
                "claim_deadline": (hit.get("deadlines") or {}).get(board),
            }
        )
    badges.sort(key=lambda b: (b["board"] != my_board, b["board"]))
    return badges


def card(
    hit: Mapping[str, Any],
    base_url: str = "",
    my_board: str | None = None,
    my_state: str | None = None,
    origin: Origin | None = None,
) -> dict[str, Any]:
    """The card of a search document. `my_state`: whose requirements it lists (the federal ones
    always); `origin`: a distance search's, which adds how far the nearest place is."""
    start, end = _d(hit.get("next_start") or hit.get("start_date")), _d(hit.get("end_date"))
    upcoming = [
        o for o in hit.get("occurrences") or [] if o.get("start_date") == hit.get("next_start")
    ]
    if upcoming:
        end = _d(upcoming[0]["end_date"])
    when = when_text(start, end, bool(hit.get("enduring")))
    more_dates = max(0, len(hit.get("occurrences") or []) - 1)
    if more_dates and not hit.get("enduring"):
        when += f" (+{more_dates} more date{'s' if more_dates > 1 else ''})"
    shown: dict[str, Any] = {
        "id": hit["id"],
        "title": hit["title"],
        "url": f"{base_url}/activities/{hit['id']}",
        "register_url": safe_href(hit.get("url")),
        "provider": {"id": int(hit["provider"]), "name": hit["provider_name"]},
        "format": hit["format"],
        # "in person", "online" or "both": the delivery facet's value (see directory.search).
        "delivery": hit.get("delivery"),
        "enduring": bool(hit.get("enduring")),
        "when": when,
        "start_date": hit.get("start_date"),
        "end_date": hit.get("end_date"),
        "where": where_text(hit),
        "cme_credits": hit.get("cme_credits"),
        "fee": fee_text(hit.get("fee_cents")),
        "boards": board_badges(hit, my_board),
        "requirements": requirements(hit.get("mandate") or (), my_state),
    }
    if origin is not None:
        shown["distance"] = distance(hit, origin)
    return shown
