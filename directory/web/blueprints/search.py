"""The search page: text with typeahead, facets with counts, chips, sort and pages, a place
to search near, and the "My board" and "My state" choices.

It searches through `search_service.run_search` with a request parsed by
`search.parse_request`, exactly like the JSON API and the widget. The page works as plain GET
forms; `static/search.js` only makes it quicker.

Each facet shows its first values (and every selected one); the rest are not on the page but
behind a link to the same search with `show=<facet>`, which shows that facet whole (with
JavaScript, the link fills the facet in place). Listing every value of every facet behind
"show more" disclosures rendered some 300 checkboxes on every search, half of them never opened.

The mandate facet is not listed like the others: the engines count every state's rules, and
the page shows the physician's state's (then the federal ones) as "Counts toward Texas
requirements", each with how many hours how often; without a state, only the federal ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, redirect, render_template, request, url_for

from directory.registry.models import Provider
from directory.registry.reference import FEDERAL, reference
from directory.search import (
    DATE_WINDOWS,
    DEFAULT_WITHIN_MILES,
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
    state_code,
)
from directory.web.context import MY_BOARD_COOKIE, MY_STATE_COOKIE, db_session, my_board, my_state
from directory.web.presenters.cards import card, fee_text
from directory.web.presenters.feed import feed_url
from directory.web.presenters.requirements import (
    CONFIRM,
    Origin,
    mandate_label,
    radius_text,
    short_name,
)
from directory.web.search_service import run_search
from indexer.engine import SearchUnavailable

bp = Blueprint("search", __name__)
# Said with every requirement a page lists (cards, detail, embed); macros see only globals.
bp.record_once(lambda state: state.app.jinja_env.globals.update(confirm_requirement=CONFIRM))

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
# The radius choices of the "near" field, in the search's unit (50 miles when none is given).
WITHIN_CHOICES = (25, 50, 75, 100, 250, 500)
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
    hint: str = ""  # said on hover: what a required topic covers


@dataclass(frozen=True)
class ShownRequirement:
    """One row of "Counts toward Texas requirements": a rule, how much how often, its count."""

    value: str
    text: str
    count: str
    selected: bool
    summary: str  # "1 hour every 3 renewals"
    who: str
    url: str  # this search with the rule selected, or no longer selected


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
    # The mandate facet only: the chosen state's rules and the federal ones, in that order.
    requirements: tuple[ShownRequirement, ...] = ()
    state: str | None = None


def _shown_value(v: FacetValue, facet: str = "") -> ShownValue:
    # "ABIM · Cardiovascular Disease" reads "Cardiovascular Disease" under its board's title.
    text = v.label.split(" · ", 1)[1] if " · " in v.label else v.label
    topic = reference().topics.get(v.value) if facet == "topic" else None
    return ShownValue(v.value, text, f"{v.count:,}", v.selected, topic.definition if topic else "")


def _value_group(
    board: str | None, values: list[FacetValue], expanded: bool, facet: str = ""
) -> ValueGroup:
    """The first values, and any selected one beyond them (its checkbox must be in the form,
    or the next submit would drop it); all of them when `expanded`."""
    if expanded or len(values) <= VISIBLE_FACET_VALUES:
        return ValueGroup(board, tuple(_shown_value(v, facet) for v in values), 0)
    shown = [v for i, v in enumerate(values) if i < VISIBLE_FACET_VALUES or v.selected]
    return ValueGroup(board, tuple(_shown_value(v, facet) for v in shown), len(values) - len(shown))


def _toggled(req: SearchRequest, facet: str, value: str) -> SearchRequest:
    """The same search with `value` of `facet` selected, or no longer selected if it was."""
    if value in req.selected(facet):
        return req.without(facet, value)
    values = (*req.selected(facet), value)
    return replace(req, filters={**req.filters, facet: values}, page=1)


def requirements_facet(req: SearchRequest, state: str | None, facet: FacetResult) -> ShownFacet:
    """ "Counts toward Texas requirements": the state's rules, then the federal ones, each with
    its count among these results (0 when none), its hours and cadence, and a link that
    selects it; and any other rule the URL selects, so that the next submit keeps it."""
    ref = reference()
    counts = {v.value: v.count for v in facet.values}
    chosen = set(req.selected("mandate"))
    rules = ref.mandates_for(state)
    listed = {m.id for m in rules}
    rules += [ref.mandates[v] for v in req.selected("mandate") if v not in listed]
    rows = tuple(
        ShownRequirement(
            value=m.id,
            text=short_name(m) if m.jurisdiction in (state, FEDERAL) else mandate_label(m.id),
            count=f"{counts.get(m.id, 0):,}",
            selected=m.id in chosen,
            summary=m.summary,
            who=m.who,
            url=search_url(_toggled(req, "mandate", m.id)),
        )
        for m in rules
    )
    name = ref.jurisdiction_name(state) if state else None
    return ShownFacet(
        name="mandate",
        label=f"Counts toward {name} requirements" if name else "Licensure requirements",
        groups=(),
        expanded=True,
        show_url="",
        noun="requirement",
        requirements=rows,
        state=state,
    )


def shown_facets(
    req: SearchRequest,
    facets: dict[str, FacetResult],
    expanded: tuple[str, ...],
    state: str | None = None,
) -> list[ShownFacet]:
    """The facets with values, in declared order, as the page lists them."""
    shown: list[ShownFacet] = []
    for definition in FACETS:
        facet = facets[definition.name]
        if facet.name == "mandate":
            # A physician who named a state came for its requirements: they lead the facets.
            requirements = requirements_facet(req, state, facet)
            if state:
                shown.insert(0, requirements)
            else:
                shown.append(requirements)
            continue
        if not facet.values:
            continue
        is_expanded = facet.name in expanded
        if facet.name in GROUPED_FACETS:
            groups = tuple(
                _value_group(board, values, is_expanded) for board, values in _grouped(facet)
            )
        else:
            groups = (_value_group(None, list(facet.values), is_expanded, facet.name),)
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
    if facet == "mandate":
        return mandate_label(value)
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
                    "label": f"Counts toward {_value_label(facet.name, value)}"
                    if facet.name == "mandate"
                    else f"{facet.label}: {_value_label(facet.name, value)}",
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
    radius = radius_text(req)
    if radius:
        chips.append({"label": radius[0].upper() + radius[1:], "url": search_url(not_near(req))})
    return chips


def not_near(req: SearchRequest) -> SearchRequest:
    """The same search anywhere: no place, radius or online option, nor the distance sort."""
    return replace(
        req,
        near=None,
        near_place=None,
        within=None,
        unit="mi",
        include_online=False,
        sort=None if req.sort == "distance" else req.sort,
        page=1,
    )


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
        empty = SearchRequest()
        return render_template(
            "search.html",
            req=empty,
            result=None,
            problems=problems,
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
    facets = {f.name: _in_declared_order(f) for f in result.facets}
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
        shown_facets=shown_facets(req, facets, expanded, state),
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
