"""The search page: text with typeahead, facets with counts, chips, sort and pages, a place
to search near, and the "My board" and "My state" choices.

It searches through `search_service.run_search` with a request parsed by
`search.parse_request`, exactly like the JSON API and the widget. The page works as plain GET
forms; `static/search.js` only makes it quicker.

Its facets, chips and their links are `presenters.facets`' (a provider's page shows them too).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, redirect, render_template, request, url_for

from directory.registry.reference import reference
from directory.search import (
    DEFAULT_WITHIN_MILES,
    SORTS,
    SearchRequest,
    SearchRequestError,
    state_code,
)
from directory.web.context import MY_BOARD_COOKIE, MY_STATE_COOKIE, my_board, my_state
from directory.web.presenters.cards import card, fee_text
from directory.web.presenters.facets import filters_context, read_search, search_url
from directory.web.presenters.feed import feed_url
from directory.web.presenters.requirements import (
    CONFIRM,
    Origin,
    radius_text,
)
from directory.web.search_service import run_search
from indexer.engine import SearchUnavailable

bp = Blueprint("search", __name__)
# Said with every requirement a page lists (cards, detail, embed); macros see only globals.
bp.record_once(lambda state: state.app.jinja_env.globals.update(confirm_requirement=CONFIRM))

# The radius choices of the "near" field, in the search's unit (50 miles when none is given).
WITHIN_CHOICES = (25, 50, 75, 100, 250, 500)
# Anything a browser would read as another host, or drop before reading: controls, spaces,
# backslashes (which browsers treat as "/").
_NOT_A_PATH = re.compile(r"[\x00-\x20\x7f\\]")


def within_choices(req: SearchRequest) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of the radius choices: the default (50 miles) is the blank
    value, so a form sent without a place carries no radius (which alone would be refused)."""
    unit = req.unit
    chosen = req.within
    choices = []
    values = sorted({*WITHIN_CHOICES, *([chosen] if chosen is not None else [])})
    for value in values:
        default = unit == "mi" and value == DEFAULT_WITHIN_MILES
        selected = chosen == value or (chosen is None and default)
        choices.append(("" if default else f"{value:g}", f"{value:g} {unit}", selected))
    if unit != "mi" and chosen is None:
        choices.insert(0, ("", f"{DEFAULT_WITHIN_MILES} mi", True))
    return choices


def _page_url(req: SearchRequest, page: int) -> str:
    return search_url(replace(req, page=page))


@bp.get("/")
def home() -> Any:
    board = my_board()
    try:
        req, expanded = read_search(request.args)
    except SearchRequestError as exc:
        empty = SearchRequest()
        return render_template(
            "search.html",
            req=empty,
            result=None,
            problems=exc.problems,
            within_choices=within_choices(empty),
        ), 400
    try:
        result = run_search(req)
    except SearchUnavailable:
        return render_template(
            "search.html",
            req=req,
            result=None,
            unavailable=True,
            within_choices=within_choices(req),
        ), 503
    # The URL's state (a shared "counts for Texas" link) before the one remembered.
    state = req.my_state or my_state()
    cards = [card(h, "", board, state, Origin.of(req)) for h in result.hits]
    if req.my_state:
        # The activity's page then lists the same state's requirements.
        for c in cards:
            c["url"] += "?" + urlencode([("my_state", req.my_state)])
    return render_template(
        "search.html",
        req=req,
        result=result,
        cards=cards,
        state_name=reference().jurisdiction_name(state) if state else None,
        radius=radius_text(req),
        use_my_state_url=search_url(replace(req, my_state=None, page=1)),
        within_choices=within_choices(req),
        **filters_context(req, result, expanded, state),
        clear_url=url_for("search.home"),
        sorts=SORTS,
        page_url=lambda page: _page_url(req, page),
        only_my_board_url=search_url(
            replace(req, filters={**req.filters, "board": (board,)}, page=1)
        )
        if board and board not in req.selected("board")
        else None,
        boards=reference().boards,
        feed_url=feed_url(req),
    )


def same_site_path(target: str | None) -> str | None:
    """`target` if it is a path on this site ("/?q=heart"), else None.

    Not "//host", "/\\host" or "/<tab>/host" (browsers read each as another host), nor a
    scheme, nor a line break that would end the Location header."""
    if not target or not target.startswith("/") or _NOT_A_PATH.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


def _remembered(cookie: str, value: str | None) -> Any:
    """Back to the page the choice was made on, the choice kept for a year (or forgotten)."""
    back = same_site_path(request.form.get("next")) or url_for("search.home")
    response = redirect(back, code=303)
    if value:
        response.set_cookie(
            cookie,
            value,
            max_age=365 * 86400,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    else:
        response.delete_cookie(cookie, samesite="Lax", httponly=True)
    return response


@bp.post("/my-board")
def set_my_board() -> Any:
    board = request.form.get("board", "")
    return _remembered(MY_BOARD_COOKIE, board if board in reference().boards else None)


@bp.post("/my-state")
def set_my_state() -> Any:
    raw = request.form.get("state", "")
    return _remembered(MY_STATE_COOKIE, state_code(raw) if raw and len(raw) <= 40 else None)


@bp.app_template_filter("fee")
def _fee_filter(cents: int | None) -> str:
    return fee_text(cents)
