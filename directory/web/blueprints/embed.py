"""The embeddable search: `GET /embed?<search query>`, a compact, self-contained search page
that other sites frame (the only page they may: see `headers.py`). It needs no JavaScript:
its GET form re-renders here with results. The script widget (`static/widget.js`) is the
other way to embed; it keeps the same named colours and facets, and tests/test_embed.py
checks that the two agree. A board or state society presets `my_state=TX` to show which of
Texas's requirements each activity may count toward (and `mandate=` to list only those).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for

from directory.registry.reference import reference
from directory.search import DEFAULT_PER_PAGE, SearchRequest, SearchRequestError, parse_request
from directory.web.headers import embed_policy
from directory.web.presenters.feed import credits_text, feed_url, points_text, present, site_url
from directory.web.presenters.requirements import radius_text
from directory.web.search_service import run_search
from indexer.engine import SearchUnavailable

bp = Blueprint("embed", __name__)

EMBED_ENDPOINT = "embed.embed_page"
EMBED_DEFAULT_PER_PAGE = 10
EMBED_MAX_PER_PAGE = 20
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
        result = run_search(search)
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
        items=[present(doc, search) for doc in result.hits],
        state_name=reference().jurisdiction_name(search.my_state) if search.my_state else None,
        radius=radius_text(search),
        # The preset filters ride along in hidden fields, so typing a query keeps them.
        preset=params(1, {"q", "page"}),
        prev_url=page_url(search.page - 1) if search.page > 1 else None,
        next_url=page_url(search.page + 1) if search.page < result.pages else None,
        full_search_url=site_url(replace(search, page=1, per_page=DEFAULT_PER_PAGE).to_params()),
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
    response.headers["Content-Security-Policy"] = embed_policy(nonce)
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
