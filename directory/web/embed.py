"""The embeddable search (iframe page) and Atom feeds of any search.

- `GET /embed?<search query>`: a compact, self-contained search page that other sites frame.
  It needs no JavaScript: its GET form re-renders here with results.
- `GET /feeds/search.atom?<search query>`: the newest 50 activities matching a search.
- Framing: only `/embed` may be framed by other sites. Every other response of the app gets
  `X-Frame-Options: DENY` and `frame-ancestors 'none'` (see `_deny_framing`). Static files
  (`/static/widget.js`, served to any origin) never reach Flask: WhiteNoise answers them, see
  `directory/assets.py`.

All provider text reaches HTML through Jinja's autoescaping and XML through xml.etree; none
of it is ever concatenated into markup.
"""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, render_template, request, url_for

from directory.search import (
    DEFAULT_PER_PAGE,
    FACET_NAMES,
    SCOPE_SEPARATOR,
    SearchRequest,
    SearchRequestError,
    SearchResult,
    facet_label,
    parse_request,
)
from directory.web.app import today
from directory.web.cards import card
from directory.web.search_service import search_engine
from indexer.engine import SearchUnavailable

bp = Blueprint("embed", __name__)

EMBED_ENDPOINT = "embed.embed_page"
EMBED_DEFAULT_PER_PAGE = 10
EMBED_MAX_PER_PAGE = 20
FEED_ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"
SITE_NAME = "CME Directory"
# Tag URIs name a date the authority owned the name; it never changes once published.
TAG_DATE = "2026"
# Named theme colours a host may pass (`color=` on /embed, `data-color` on the widget; widget.js
# keeps the same list), all dark enough for white text (contrast at least 4.5:1).
NAMED_COLOURS = frozenset(
    [
        "black",
        "navy",
        "darkblue",
        "blue",
        "royalblue",
        "teal",
        "darkgreen",
        "green",
        "darkslategray",
        "purple",
        "indigo",
        "rebeccapurple",
        "darkslateblue",
        "maroon",
        "darkred",
        "firebrick",
        "crimson",
        "brown",
        "dimgray",
    ]
)
_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Characters XML 1.0 cannot carry at all, even escaped (most C0 controls, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- the iframe page --------------------------------------------------------------------------


@bp.get("/embed")
def embed_page() -> Response:
    colour = theme_colour(request.args.get("color"))
    nonce = secrets.token_urlsafe(16)
    context: dict[str, Any] = {
        "colour": colour,
        "on_colour": text_on(colour) if colour else None,
        "nonce": nonce,
        "credits_text": credits_text,
        "points_text": points_text,
    }
    try:
        search = _embed_request(request.args)
    except SearchRequestError as exc:
        return _embed_response(
            render_template("embed.html", problems=exc.problems, **context), 400, nonce
        )

    try:
        result = search_engine().search(search, today())
    except SearchUnavailable:
        response = _embed_response(
            render_template("embed.html", unavailable=True, **context), 503, nonce
        )
        response.headers["Retry-After"] = "60"
        return response

    extra = [("color", colour)] if colour else []
    # Our default page size stays out of the URLs; one the host chose stays in.
    implicit = set() if request.args.get("per_page") else {"per_page"}

    def params(page: int, drop: set[str]) -> list[tuple[str, str]]:
        pairs = replace(search, page=page).to_params()
        return [(k, v) for k, v in pairs if k not in drop | implicit] + extra

    def page_url(page: int) -> str:
        return url_for(EMBED_ENDPOINT) + "?" + urlencode(params(page, set()))

    html = render_template(
        "embed.html",
        search=search,
        result=result,
        items=[present(doc) for doc in result.hits],
        # The preset filters ride along in hidden fields, so typing a query keeps them.
        preset=params(1, {"q", "page"}),
        prev_url=page_url(search.page - 1) if search.page > 1 else None,
        next_url=page_url(search.page + 1) if search.page < result.pages else None,
        full_search_url=_site_url(replace(search, page=1, per_page=DEFAULT_PER_PAGE).to_params()),
        feed_url=feed_url(search),
        **context,
    )
    response = _embed_response(html, 200, nonce)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def _embed_request(args: Mapping[str, Any]) -> SearchRequest:
    search = parse_request(args)
    if not args.get("per_page"):
        search = replace(search, per_page=EMBED_DEFAULT_PER_PAGE)
    return replace(search, per_page=min(search.per_page, EMBED_MAX_PER_PAGE))


def _embed_response(html: str, status: int, nonce: str) -> Response:
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    # The page needs no script at all; its styles come from us (plus one nonce'd theme rule).
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors *"
    )
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


def theme_colour(value: str | None) -> str | None:
    """A host's theme colour if it is a plain #rgb / #rrggbb or an allowed name, else None."""
    if not value:
        return None
    value = value.strip()
    if _HEX_COLOUR.fullmatch(value):
        return value
    return value.lower() if value.lower() in NAMED_COLOURS else None


def text_on(colour: str) -> str:
    """White or near-black, whichever reads better on a background of `colour`."""
    if not colour.startswith("#"):
        return "#fff"  # every allowed name is dark
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)

    def linear(channel: str) -> float:
        c = int(channel, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(digits[i : i + 2]) for i in (0, 2, 4))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05 / (L + .05); with #111 it is (L + .05) / .056.
    return "#fff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.056 else "#111"


# --- what an activity looks like in the embed and the feed ------------------------------------


def present(doc: dict[str, Any]) -> dict[str, Any]:
    """The card the site, the API and the widget show (`directory.web.cards`), with absolute links:
    the embed's links leave the frame, and a feed's are read anywhere."""
    return card(doc, base_url=request.url_root.rstrip("/"))


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
    if item["provider"]["name"]:
        parts.append(f"by {item['provider']['name']}")
    return " · ".join(p for p in parts if p)


# --- Atom feeds -------------------------------------------------------------------------------


def _feed_params(search: SearchRequest) -> list[tuple[str, str]]:
    """A feed is always the newest first, one page: sort and paging don't belong in its URL."""
    return [(k, v) for k, v in search.to_params() if k not in ("sort", "page", "per_page")]


def feed_url(search: SearchRequest, external: bool = False) -> str:
    """The Atom feed of a search (its newest matching activities), for pages to link to."""
    params = _feed_params(search)
    base = url_for("embed.search_feed", _external=external)
    return base + ("?" + urlencode(params) if params else "")


@bp.get("/feeds/search.atom")
def search_feed() -> Response:
    try:
        search = parse_request(request.args)
    except SearchRequestError as exc:
        lines = [f"{k}: {v}" for k, v in exc.problems.items()]
        return _text("This feed's search has problems:\n" + "\n".join(lines) + "\n", 400)
    search = replace(search, sort="newest", page=1, per_page=FEED_ENTRIES)
    try:
        result = search_engine().search(search, today())
    except SearchUnavailable:
        response = _text("Search is unavailable right now; please try again in a minute.\n", 503)
        response.headers["Retry-After"] = "60"
        return response
    body = build_feed(search, result)
    response = Response(body, content_type="application/atom+xml; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    response.make_conditional(request)
    return response


def _text(message: str, status: int) -> Response:
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


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
        else:
            shown = [labels.get((facet, v)) or facet_label(facet, v) for v in values]
        if shown:
            parts.append(" or ".join(shown))
    if search.when == "upcoming":
        parts.append("upcoming")
    elif search.when == "this_month":
        parts.append("this month")
    elif search.when == "available_now":
        parts.append("available now")
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
    html_url = _site_url(params + [("sort", "newest")])

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
        item = present(doc)
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


# --- links ------------------------------------------------------------------------------------


def _site_url(params: Iterable[tuple[str, str]]) -> str:
    """The full search page on our site for these parameters (absolute: it leaves the frame)."""
    query = urlencode(list(params))
    return request.url_root + (f"?{query}" if query else "")


# --- framing and the widget's CORS ------------------------------------------------------------


@bp.after_app_request
def _deny_framing(response: Response) -> Response:
    """Only /embed may be framed; every other response refuses framing, in both dialects."""
    if request.endpoint == EMBED_ENDPOINT:
        return response
    response.headers["X-Frame-Options"] = "DENY"
    policies = response.headers.getlist("Content-Security-Policy")
    if not policies:
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    elif not any(_has_directive(p, "frame-ancestors") for p in policies):
        last = policies[-1].strip().rstrip(";").rstrip()
        kept = policies[:-1] + [
            f"{last}; frame-ancestors 'none'" if last else "frame-ancestors 'none'"
        ]
        del response.headers["Content-Security-Policy"]
        for policy in kept:
            response.headers.add("Content-Security-Policy", policy)
    return response


def _has_directive(policy: str, name: str) -> bool:
    return any(part.strip().lower().split(" ", 1)[0] == name for part in policy.split(";"))
