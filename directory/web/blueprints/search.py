"""The search page: text with typeahead, facets with counts, chips, sort and pages, and the
"My board" choice.

It searches through `search_service.run_search` with a request parsed by
`search.parse_request`, exactly like the JSON API and the widget. The page works as plain GET
forms; `static/search.js` only makes it quicker.

Each facet shows its first values (and every selected one); the rest are not on the page but
behind a link to the same search with `show=<facet>`, which shows that facet whole (with
JavaScript, the link fills the facet in place). Listing every value of every facet behind
"show more" disclosures rendered some 300 checkboxes on every search, half of them never opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, redirect, render_template, request, url_for

from directory.registry.models import Provider
from directory.registry.reference import reference
from directory.search import (
    DATE_WINDOWS,
    FACET_NAMES,
    FACET_VALUE_LABELS,
    FACETS,
    ONLINE_DELIVERY,
    SORTS,
    FacetResult,
    FacetValue,
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
# The query parameter naming a facet to show whole (`show=practice_area`); it may be repeated.
SHOW = "show"
# Practice areas and credit types are listed under their board.
GROUPED_FACETS = ("practice_area", "credit_type")
WINDOW_CHIPS = {w.name: w.short for w in DATE_WINDOWS}
# Each chip's link is the whole search less one selection, so one chip per value would make
# the page grow with the square of its URL. Up to this many values, a chip each; beyond it,
# one chip per facet ("Practice area: 14 selected"), which keeps the page linear in its URL.
CHIP_PER_VALUE_LIMIT = 10
# providers.id is a 32-bit integer in PostgreSQL; a larger number names no provider.
MAX_PROVIDER_ID = 2**31 - 1
# Anything a browser would read as another host, or drop before reading: controls, spaces,
# backslashes (which browsers treat as "/").
_NOT_A_PATH = re.compile(r"[\x00-\x20\x7f\\]")


def search_url(req: SearchRequest, endpoint: str = "search.home") -> str:
    query = urlencode(req.to_params())
    return url_for(endpoint) + (f"?{query}" if query else "")


@dataclass(frozen=True)
class ShownValue:
    """One checkbox, its text and count already written out (the template only places them)."""

    value: str
    text: str
    count: str
    selected: bool


@dataclass(frozen=True)
class ValueGroup:
    board: str | None  # practice areas and credit types: the board they belong to
    values: tuple[ShownValue, ...]
    hidden: int  # values behind the facet's "show all" link


@dataclass(frozen=True)
class ShownFacet:
    name: str
    label: str
    groups: tuple[ValueGroup, ...]
    expanded: bool
    show_url: str  # this search, with this facet shown whole too
    noun: str  # "practice area", "MIPS": the facet's label in a sentence


def _shown_value(v: FacetValue) -> ShownValue:
    # "ABIM · Cardiovascular Disease" reads "Cardiovascular Disease" under its board's title.
    text = v.label.split(" · ", 1)[1] if " · " in v.label else v.label
    return ShownValue(v.value, text, f"{v.count:,}", v.selected)


def _value_group(board: str | None, values: list[FacetValue], expanded: bool) -> ValueGroup:
    """The first values, and any selected one beyond them (its checkbox must be in the form,
    or the next submit would drop it); all of them when `expanded`."""
    if expanded or len(values) <= VISIBLE_FACET_VALUES:
        return ValueGroup(board, tuple(_shown_value(v) for v in values), 0)
    shown = [v for i, v in enumerate(values) if i < VISIBLE_FACET_VALUES or v.selected]
    return ValueGroup(board, tuple(_shown_value(v) for v in shown), len(values) - len(shown))


def shown_facets(
    req: SearchRequest, facets: dict[str, FacetResult], expanded: tuple[str, ...]
) -> list[ShownFacet]:
    """The facets with values, in declared order, as the page lists them."""
    shown = []
    for definition in FACETS:
        facet = facets[definition.name]
        if not facet.values:
            continue
        is_expanded = facet.name in expanded
        if facet.name in GROUPED_FACETS:
            groups = tuple(
                _value_group(board, values, is_expanded) for board, values in _grouped(facet)
            )
        else:
            groups = (_value_group(None, list(facet.values), is_expanded),)
        link = urlencode([*req.to_params(), *((SHOW, f) for f in (*expanded, facet.name))])
        shown.append(
            ShownFacet(
                name=facet.name,
                label=facet.label,
                groups=groups,
                expanded=is_expanded,
                show_url=f"{url_for('search.home')}?{link}",
                noun=facet.label if facet.label[:2].isupper() else facet.label.lower(),
            )
        )
    return shown


def expanded_facets(args: Any) -> tuple[str, ...]:
    """The facets `show=` names, each once; a name that is no facet is a 400."""
    names = tuple(dict.fromkeys(v.strip() for v in args.getlist(SHOW) if v.strip()))
    unknown = [n for n in names if n not in FACET_NAMES]
    if unknown:
        raise SearchRequestError(
            {SHOW: f"'{unknown[0][:40]}' is not a facet; use one of: " + ", ".join(FACET_NAMES)}
        )
    return names


def _grouped(facet: FacetResult) -> list[tuple[str, list[Any]]]:
    """Practice areas and credit types under their board: [("ABIM", values), ...]."""
    groups: dict[str, list[Any]] = {}
    for v in facet.values:
        board = v.value.split(":", 1)[0]
        groups.setdefault(board, []).append(v)
    return sorted(groups.items(), key=lambda kv: (kv[0] != my_board(), kv[0]))


def _in_declared_order(facet: FacetResult) -> FacetResult:
    """A small fixed facet (delivery, fee...) in the order `directory.search` declares its
    values, so its rows stay put as counts change; others as the engine orders them."""
    order = {value: i for i, value in enumerate(FACET_VALUE_LABELS.get(facet.name, {}))}
    if not order:
        return facet
    values = sorted(facet.values, key=lambda v: order.get(v.value, len(order)))
    return replace(facet, values=tuple(values))


def _online_url(req: SearchRequest, delivery: FacetResult) -> str | None:
    """The same search for everything available online (online only, or in person and
    online), unless that is what it asks already or nothing would be offered."""
    if set(req.selected("delivery")) == set(ONLINE_DELIVERY):
        return None
    if not any(v.count for v in delivery.values if v.value in ONLINE_DELIVERY):
        return None
    return search_url(replace(req, filters={**req.filters, "delivery": ONLINE_DELIVERY}, page=1))


def _value_label(facet: str, value: str) -> str:
    if facet == "provider":
        number = int(value) if value.isdigit() and len(value) <= 10 else 0
        provider = db_session().get(Provider, number) if 0 < number <= MAX_PROVIDER_ID else None
        return provider.name if provider else value
    return facet_label(facet, value)


def _chips(req: SearchRequest) -> list[dict[str, str]]:
    chips = []
    per_value = sum(len(req.selected(f.name)) for f in FACETS) <= CHIP_PER_VALUE_LIMIT
    for facet in FACETS:
        values = req.selected(facet.name)
        if len(values) > 1 and not per_value:
            chips.append(
                {
                    "label": f"{facet.label}: {len(values)} selected",
                    "url": search_url(req.without(facet.name)),
                }
            )
            continue
        for value in values:
            chips.append(
                {
                    "label": f"{facet.label}: {_value_label(facet.name, value)}",
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
    problems: dict[str, str] = {}
    try:
        req = parse_request(request.args)
    except SearchRequestError as exc:
        problems.update(exc.problems)
    try:
        expanded = expanded_facets(request.args)
    except SearchRequestError as exc:
        problems.update(exc.problems)
    if problems:
        return render_template(
            "search.html", req=SearchRequest(), result=None, problems=problems
        ), 400
    try:
        result = run_search(req)
    except SearchUnavailable:
        return render_template("search.html", req=req, result=None, unavailable=True), 503
    facets = {f.name: _in_declared_order(f) for f in result.facets}
    return render_template(
        "search.html",
        req=req,
        result=result,
        cards=[card(h, "", board) for h in result.hits],
        shown_facets=shown_facets(req, facets, expanded),
        chips=_chips(req),
        online_url=_online_url(req, facets["delivery"]),
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


@bp.post("/my-board")
def set_my_board() -> Any:
    board = request.form.get("board", "")
    back = same_site_path(request.form.get("next")) or url_for("search.home")
    response = redirect(back, code=303)
    if board in reference().boards:
        response.set_cookie(
            MY_BOARD_COOKIE,
            board,
            max_age=365 * 86400,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    else:
        response.delete_cookie(MY_BOARD_COOKIE, samesite="Lax", httponly=True)
    return response


@bp.app_template_filter("fee")
def _fee_filter(cents: int | None) -> str:
    return fee_text(cents)
