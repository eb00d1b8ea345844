"""`GET /feeds/search.atom?<search query>`: the newest activities matching any search, as Atom."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, request

from directory.search import SearchRequestError, parse_request
from directory.web.presenters.feed import FEED_ENTRIES, build_feed
from directory.web.search_service import run_search
from indexer.engine import SearchUnavailable

bp = Blueprint("feeds", __name__)


@bp.get("/feeds/search.atom")
def search_feed() -> Response:
    try:
        search = parse_request(request.args)
    except SearchRequestError as exc:
        lines = [f"{k}: {v}" for k, v in exc.problems.items()]
        return _text("This feed's search has problems:\n" + "\n".join(lines) + "\n", 400)
    search = replace(search, sort="newest", page=1, per_page=FEED_ENTRIES)
    try:
        result = run_search(search)
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
