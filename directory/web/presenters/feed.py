"""Atom feeds of any search, and what an activity looks like in a feed and in the embed.

All provider text reaches XML through xml.etree (which escapes) after characters XML cannot
carry are dropped; none of it is ever concatenated into markup.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import request, url_for

from directory.search import (
    DATE_WINDOWS,
    FACET_NAMES,
    SCOPE_SEPARATOR,
    SearchRequest,
    SearchResult,
    facet_label,
)
from directory.web.presenters.cards import card
from directory.web.presenters.requirements import Origin, mandate_label, radius_text

FEED_ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"
SITE_NAME = "CME Directory"
# Tag URIs name a date the authority owned the name; it never changes once published.
TAG_DATE = "2026"
# Characters XML 1.0 cannot carry at all, even escaped (most C0 controls, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def present(doc: dict[str, Any], search: SearchRequest | None = None) -> dict[str, Any]:
    """The card the site, the API and the widget show (`presenters.cards`), with absolute links:
    the embed's links leave the frame, and a feed's are read anywhere. With the search, the
    card lists its `my_state`'s requirements and how far it is from its `near`; the link to
    the activity's page carries the state, so that page lists the same requirements."""
    if search is None:
        return card(doc, base_url=request.url_root.rstrip("/"))
    item = card(doc, request.url_root.rstrip("/"), None, search.my_state, Origin.of(search))
    if search.my_state:
        item["url"] += "?" + urlencode([("my_state", search.my_state)])
    return item


def credits_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g} CME credit" + ("" if value == 1 else "s")


def points_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g} point" + ("" if value == 1 else "s")


def summary_text(item: dict[str, Any]) -> str:
    """One line for a feed reader: when · where · credits · fee · MOC · provider."""
    parts = [item["when"], item["where"], credits_text(item.get("cme_credits")), item["fee"]]
    boards = [
        f"{b['board']} {points_text(b.get('points'))}".strip() for b in item.get("boards") or []
    ]
    if boards:
        parts.append("MOC: " + ", ".join(boards))
    distance = item.get("distance")
    if distance:
        parts.append(
            distance["text"]
            + (f" ({distance['nearest_city']})" if distance.get("nearest_city") else "")
        )
    requirements = item.get("requirements") or []
    if requirements:
        parts.append(
            "may count toward " + "; ".join(f"{r['label']} ({r['summary']})" for r in requirements)
        )
    if item["provider"]["name"]:
        parts.append(f"by {item['provider']['name']}")
    return " · ".join(p for p in parts if p)


def _feed_params(search: SearchRequest) -> list[tuple[str, str]]:
    """A feed is always the newest first, one page: sort and paging don't belong in its URL."""
    return [(k, v) for k, v in search.to_params() if k not in ("sort", "page", "per_page")]


def feed_url(search: SearchRequest, external: bool = False) -> str:
    """The Atom feed of a search (its newest matching activities), for pages to link to."""
    params = _feed_params(search)
    base = url_for("feeds.search_feed", _external=external)
    return base + ("?" + urlencode(params) if params else "")


def feed_title(search: SearchRequest, result: SearchResult | None = None) -> str:
    """'CME activities: ABIM · Cardiovascular Disease', or 'New CME activities' for everything."""
    parts = describe(search, result)
    return "CME activities: " + " · ".join(parts) if parts else "New CME activities"


def describe(search: SearchRequest, result: SearchResult | None = None) -> list[str]:
    """The selections of a search as a person would say them, one part per facet."""
    labels: dict[tuple[str, str], str] = {}
    if result is not None:
        for f in result.facets:
            labels.update({(f.name, v.value): v.label for v in f.values if v.selected})
    scoped_boards = {
        v.split(SCOPE_SEPARATOR, 1)[0]
        for facet in ("practice_area", "credit_type")
        for v in search.selected(facet)
        if SCOPE_SEPARATOR in v
    }
    parts = []
    if search.text:
        parts.append(f"“{search.text}”")
    for facet in FACET_NAMES:
        values = search.selected(facet)
        if facet == "board":
            # "ABIM · Cardiovascular Disease" already says ABIM.
            values = tuple(v for v in values if v not in scoped_boards)
        if facet == "provider":
            shown = [labels.get((facet, v)) or f"provider {v}" for v in values]
        elif facet == "mandate":
            # "Counts toward TX: Human trafficking prevention", whichever state the reader's.
            shown = [f"Counts toward {mandate_label(v)}" for v in values]
        else:
            shown = [labels.get((facet, v)) or facet_label(facet, v) for v in values]
        if shown:
            parts.append(" or ".join(shown))
    short = {w.name: w.short for w in DATE_WINDOWS}.get(search.when)
    if short:
        parts.append(short.lower())
    elif search.when == "custom" and (search.date_from or search.date_to):
        start = search.date_from.isoformat() if search.date_from else "…"
        end = search.date_to.isoformat() if search.date_to else "…"
        parts.append(f"{start} to {end}")
    if search.credits_min is not None or search.credits_max is not None:
        low, high = search.credits_min, search.credits_max
        if low is not None and high is not None:
            parts.append(f"{low:g}–{high:g} credits")
        elif low is not None:
            parts.append(f"at least {low:g} credits")
        else:
            parts.append(f"at most {high:g} credits")
    if search.claim_within_days is not None:
        parts.append(f"claim within {search.claim_within_days} days")
    radius = radius_text(search)
    if radius:
        parts.append(radius)
    return parts


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    # SQLite hands back naive datetimes; the registry writes them in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def build_feed(search: SearchRequest, result: SearchResult) -> bytes:
    """An Atom 1.0 document of a search's hits, built with xml.etree (which escapes)."""
    host = urlsplit(request.host_url).hostname or "localhost"
    params = _feed_params(search)
    query = urlencode(params)
    self_url = feed_url(search, external=True)
    html_url = site_url(params + [("sort", "newest")])

    feed = ET.Element("feed", {"xmlns": ATOM})
    _add(feed, "id", f"tag:{host},{TAG_DATE}:search" + (f"?{query}" if query else ""))
    _add(feed, "title", feed_title(search, result))
    _add(feed, "subtitle", f"The newest accredited CME activities in the {SITE_NAME}")
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=html_url)
    author = _add(feed, "author")
    _add(author, "name", SITE_NAME)
    _add(author, "uri", request.url_root)
    _add(feed, "generator", SITE_NAME)
    updated_el = _add(feed, "updated")

    newest: datetime | None = None
    for doc in result.hits:
        item = present(doc, search)
        created = _timestamp(doc.get("created_at"))
        changed = _timestamp(doc.get("updated_at")) or created
        entry_updated = max(filter(None, (created, changed)), default=None) or datetime.now(UTC)
        newest = entry_updated if newest is None else max(newest, entry_updated)
        entry = _add(feed, "entry")
        _add(entry, "id", f"tag:{host},{TAG_DATE}:activity-{int(doc['id'])}")
        _add(entry, "title", item["title"])
        _add(entry, "link", rel="alternate", type="text/html", href=item["url"])
        if created:
            _add(entry, "published", _rfc3339(created))
        _add(entry, "updated", _rfc3339(entry_updated))
        if item["provider"]["name"]:
            _add(_add(entry, "author"), "name", item["provider"]["name"])
        _add(entry, "summary", summary_text(item))
        for board in doc.get("board") or []:
            _add(entry, "category", term=board, label=board)
    # The feed changed when its newest entry did; with no entries, say now.
    updated_el.text = _rfc3339(newest or datetime.now(UTC))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def site_url(params: Iterable[tuple[str, str]]) -> str:
    """The full search page on our site for these parameters (absolute: it leaves the frame)."""
    query = urlencode(list(params))
    return request.url_root + (f"?{query}" if query else "")
