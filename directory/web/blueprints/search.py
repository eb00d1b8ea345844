"""The search page: text with typeahead, facets with counts, chips, sort and pages, and the
"My board" choice.

It searches through `search_service.run_search` with a request parsed by
`search.parse_request`, exactly like the JSON API and the widget. The page works as plain GET
forms; `static/search.js` only makes it quicker.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for

from directory.registry.models import Provider
from directory.registry.reference import reference
from directory.search import (
    DATE_WINDOWS,
    FACETS,
    SORTS,
    FacetResult,
    SearchRequest,
    SearchRequestError,
    facet_label,
    parse_request,
)
from directory.web.context import MY_BOARD_COOKIE, db_session, my_board
from directory.web.presenters.cards import card, fee_text
from directory.web.presenters.feed import feed_url
from directory.web.search_service import run_search
from indexer.engine import SearchUnavailable

bp = Blueprint("search", __name__)

VISIBLE_FACET_VALUES = 10
WINDOW_CHIPS = {w.name: w.short for w in DATE_WINDOWS}


def search_url(req: SearchRequest, endpoint: str = "search.home") -> str:
    query = urlencode(req.to_params())
    return url_for(endpoint) + (f"?{query}" if query else "")


def _grouped(facet: FacetResult) -> list[tuple[str, list[Any]]]:
    """Practice areas and credit types under their board: [("ABIM", values), ...]."""
    groups: dict[str, list[Any]] = {}
    for v in facet.values:
        board = v.value.split(":", 1)[0]
        groups.setdefault(board, []).append(v)
    return sorted(groups.items(), key=lambda kv: (kv[0] != my_board(), kv[0]))


def _chips(req: SearchRequest) -> list[dict[str, str]]:
    chips = []
    labels = {f.name: f.label for f in FACETS}
    for facet in FACETS:
        for value in req.selected(facet.name):
            label = facet_label(facet.name, value)
            if facet.name == "provider":
                provider = db_session().get(Provider, int(value)) if value.isdigit() else None
                label = provider.name if provider else value
            chips.append(
                {
                    "label": f"{labels[facet.name]}: {label}",
                    "url": search_url(req.without(facet.name, value)),
                }
            )
    if req.text:
        chips.insert(
            0, {"label": f"“{req.text}”", "url": search_url(replace(req, text="", page=1))}
        )
    if req.when != "any":
        short = WINDOW_CHIPS.get(req.when)
        label = short or f"{req.date_from or '…'} to {req.date_to or '…'}"
        chips.append(
            {
                "label": label,
                "url": search_url(replace(req, when="any", date_from=None, date_to=None, page=1)),
            }
        )
    if req.credits_min is not None or req.credits_max is not None:
        low = f"{req.credits_min:g}" if req.credits_min is not None else "0"
        high = f"{req.credits_max:g}" if req.credits_max is not None else "any"
        chips.append(
            {
                "label": f"Credits {low}–{high}",
                "url": search_url(replace(req, credits_min=None, credits_max=None, page=1)),
            }
        )
    if req.claim_within_days is not None:
        chips.append(
            {
                "label": f"Claim deadline within {req.claim_within_days} days",
                "url": search_url(replace(req, claim_within_days=None, page=1)),
            }
        )
    return chips


def _page_url(req: SearchRequest, page: int) -> str:
    return search_url(replace(req, page=page))


@bp.get("/")
def home() -> Any:
    board = my_board()
    try:
        req = parse_request(request.args)
    except SearchRequestError as exc:
        return render_template(
            "search.html", req=SearchRequest(), result=None, problems=exc.problems
        ), 400
    try:
        result = run_search(req)
    except SearchUnavailable:
        return render_template("search.html", req=req, result=None, unavailable=True), 503
    facets = {f.name: f for f in result.facets}
    return render_template(
        "search.html",
        req=req,
        result=result,
        cards=[card(h, "", board) for h in result.hits],
        facets=facets,
        facet_defs=FACETS,
        grouped={name: _grouped(facets[name]) for name in ("practice_area", "credit_type")},
        chips=_chips(req),
        clear_url=url_for("search.home"),
        sorts=SORTS,
        page_url=lambda page: _page_url(req, page),
        only_my_board_url=search_url(
            replace(req, filters={**req.filters, "board": (board,)}, page=1)
        )
        if board and board not in req.selected("board")
        else None,
        boards=reference().boards,
        visible=VISIBLE_FACET_VALUES,
        feed_url=feed_url(req),
    )


@bp.post("/my-board")
def set_my_board() -> Any:
    board = request.form.get("board", "")
    back = request.form.get("next") or url_for("search.home")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("search.home")  # never redirect off-site
    response = redirect(back, code=303)
    if board in reference().boards:
        response.set_cookie(
            MY_BOARD_COOKIE, board, max_age=365 * 86400, samesite="Lax", httponly=True
        )
    else:
        response.delete_cookie(MY_BOARD_COOKIE)
    return response


@bp.app_template_filter("fee")
def _fee_filter(cents: int | None) -> str:
    return fee_text(cents)
