"""The filters of a page of results: its facets with counts, the chips of what it selects and
the "everything online" shortcut, as the search page and a provider's page show them.

Each facet shows its first values (and every selected one); the rest are not on the page but
behind a link to the same search with `show=<facet>`, which shows that facet whole (with
JavaScript, the link fills the facet in place). Listing every value of every facet behind
"show more" disclosures rendered some 300 checkboxes on every search, half of them never opened.

The mandate facet is not listed like the others: the engines count every state's rules, and
the page shows the physician's state's (then the federal ones) as "Counts toward Texas
requirements", each with how many hours how often; without a state, only the federal ones.

Every link goes to the page at `base` (the search page when none is given) with the rest of the
search kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from flask import url_for

from directory.registry.models import Provider
from directory.registry.reference import FEDERAL, reference
from directory.search import (
    DATE_WINDOWS,
    FACET_NAMES,
    FACET_VALUE_LABELS,
    FACETS,
    ONLINE_DELIVERY,
    FacetResult,
    FacetValue,
    SearchRequest,
    SearchRequestError,
    SearchResult,
    facet_label,
    parse_request,
)
from directory.web.context import db_session, my_board
from directory.web.presenters.requirements import mandate_label, radius_text, short_name

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


def search_url(req: SearchRequest, base: str | None = None) -> str:
    """`req` as a link: to the search page, or to the page at path `base` that lists results
    the same way (a provider's page)."""
    query = urlencode(req.to_params())
    return (base or url_for("search.home")) + (f"?{query}" if query else "")


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


def toggled(req: SearchRequest, facet: str, value: str) -> SearchRequest:
    """The same search with `value` of `facet` selected, or no longer selected if it was."""
    if value in req.selected(facet):
        return req.without(facet, value)
    values = (*req.selected(facet), value)
    return replace(req, filters={**req.filters, facet: values}, page=1)


def requirements_facet(
    req: SearchRequest, state: str | None, facet: FacetResult, base: str | None = None
) -> ShownFacet:
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
            url=search_url(toggled(req, "mandate", m.id), base),
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
    base: str | None = None,
) -> list[ShownFacet]:
    """The facets with values, in declared order, as the page at `base` lists them (the
    search page by default); a facet missing from `facets` is not shown."""
    shown: list[ShownFacet] = []
    for definition in FACETS:
        facet = facets.get(definition.name)
        if facet is None:
            continue
        if facet.name == "mandate":
            # A physician who named a state came for its requirements: they lead the facets.
            requirements = requirements_facet(req, state, facet, base)
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
                show_url=f"{base or url_for('search.home')}?{link}",
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


def read_search(args: Any) -> tuple[SearchRequest, tuple[str, ...]]:
    """The search a page's query string asks for and the facets it shows in full (`show=`);
    a SearchRequestError names every problem of both at once."""
    problems: dict[str, str] = {}
    req = SearchRequest()
    expanded: tuple[str, ...] = ()
    try:
        req = parse_request(args)
    except SearchRequestError as exc:
        problems.update(exc.problems)
    try:
        expanded = expanded_facets(args)
    except SearchRequestError as exc:
        problems.update(exc.problems)
    if problems:
        raise SearchRequestError(problems)
    return req, expanded


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


def _online_url(req: SearchRequest, delivery: FacetResult, base: str | None = None) -> str | None:
    """The same search for everything available online (online only, or in person and
    online), unless that is what it asks already or nothing would be offered."""
    if set(req.selected("delivery")) == set(ONLINE_DELIVERY):
        return None
    if not any(v.count for v in delivery.values if v.value in ONLINE_DELIVERY):
        return None
    online = replace(req, filters={**req.filters, "delivery": ONLINE_DELIVERY}, page=1)
    return search_url(online, base)


def _value_label(facet: str, value: str) -> str:
    if facet == "mandate":
        return mandate_label(value)
    if facet == "provider":
        number = int(value) if value.isdigit() and len(value) <= 10 else 0
        provider = db_session().get(Provider, number) if 0 < number <= MAX_PROVIDER_ID else None
        return provider.name if provider else value
    return facet_label(facet, value)


def _chips(req: SearchRequest, base: str | None = None) -> list[dict[str, str]]:
    chips = []
    per_value = sum(len(req.selected(f.name)) for f in FACETS) <= CHIP_PER_VALUE_LIMIT
    for facet in FACETS:
        values = req.selected(facet.name)
        if len(values) > 1 and not per_value:
            chips.append(
                {
                    "label": f"{facet.label}: {len(values)} selected",
                    "url": search_url(req.without(facet.name), base),
                }
            )
            continue
        for value in values:
            chips.append(
                {
                    "label": f"Counts toward {_value_label(facet.name, value)}"
                    if facet.name == "mandate"
                    else f"{facet.label}: {_value_label(facet.name, value)}",
                    "url": search_url(req.without(facet.name, value), base),
                }
            )
    if req.text:
        chips.insert(
            0, {"label": f"“{req.text}”", "url": search_url(replace(req, text="", page=1), base)}
        )
    if req.when != "any":
        short = WINDOW_CHIPS.get(req.when)
        label = short or f"{req.date_from or '…'} to {req.date_to or '…'}"
        chips.append(
            {
                "label": label,
                "url": search_url(
                    replace(req, when="any", date_from=None, date_to=None, page=1), base
                ),
            }
        )
    if req.credits_min is not None or req.credits_max is not None:
        low = f"{req.credits_min:g}" if req.credits_min is not None else "0"
        high = f"{req.credits_max:g}" if req.credits_max is not None else "any"
        chips.append(
            {
                "label": f"Credits {low}–{high}",
                "url": search_url(replace(req, credits_min=None, credits_max=None, page=1), base),
            }
        )
    if req.claim_within_days is not None:
        chips.append(
            {
                "label": f"Claim deadline within {req.claim_within_days} days",
                "url": search_url(replace(req, claim_within_days=None, page=1), base),
            }
        )
    radius = radius_text(req)
    if radius:
        chips.append(
            {"label": radius[0].upper() + radius[1:], "url": search_url(not_near(req), base)}
        )
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


def filters_context(
    req: SearchRequest,
    result: SearchResult,
    expanded: tuple[str, ...],
    state: str | None,
    base: str | None = None,
    hidden: tuple[str, ...] = (),
) -> dict[str, Any]:
    """What a page of results shows of its filters: the facets (less those `hidden`), the
    chips of what is selected and the "everything online" shortcut, every link to the page at
    `base` (the search page by default) with the rest of `req` kept."""
    facets = {f.name: _in_declared_order(f) for f in result.facets if f.name not in hidden}
    return {
        "shown_facets": shown_facets(req, facets, expanded, state, base),
        "chips": _chips(req, base),
        "online_url": _online_url(req, facets["delivery"], base) if "delivery" in facets else None,
    }
