"""The one search model: what a search asks (SearchRequest) and what it answers (SearchResult).

The HTML pages, the JSON API and the widget all parse their query string with
`parse_request` and render a `SearchResult`; the OpenSearch and embedded engines both take a
`SearchRequest` and return a `SearchResult`. What a search can ask for is declared here as
data, once, and read by the engines and the pages alike: the text fields and their weights
(`TEXT_FIELDS`), the facets (`FACETS`) and how their values read (`FACET_VALUE_LABELS`), the
date windows (`DATE_WINDOWS`) and the sorts (`SORTS`).

Facet semantics, the same in both engines:
- values within one facet are OR-ed (ABIM or ABA), facets are AND-ed (ABIM and online);
- a facet with a fixed vocabulary (`Facet.vocabulary`: boards, formats, delivery, fee...)
  refuses a value outside it, naming the valid ones, rather than silently matching nothing;
  states, countries and providers are open: a value nothing has matches nothing;
- counts are disjunctive: each facet's counts apply every selection except its own, so
  choosing ABIM still shows how many ABA activities there are;
- practice areas and credit types are scoped to their board, as "ABIM:Cardiovascular
  Disease", because "Critical Care Medicine" for ABIM and for ABA are different registrations.

State requirements: `mandate`'s values are the ids of the state (and federal) licensure
mandates of `directory/registry/data/state_mandates.toml` an activity matches (its topic tags,
and the approval where a state counts only approved courses), decided at index time. The
engines count every mandate; the physician's state (`SearchRequest.my_state`, which never
filters by itself) says which of them a page shows ("Counts toward Texas requirements").

Distance: `near` (a place, resolved once here by `directory.registry.places`) and `within`
(miles, or km with `unit=km`) keep the activities with an in-person place inside the radius;
online ones too only with `include_online=yes`; `sort=distance` orders by the nearest place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from directory.registry import places
from directory.registry.reference import Reference, reference

MAX_QUERY_LENGTH = 200
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
# Deep pages cost the engine more than they help anyone: at most 100 pages of at most 100,
# which keeps every request inside OpenSearch's 10,000-result window.
MAX_PAGE = 100
MAX_RESULT_WINDOW = MAX_PAGE * MAX_PER_PAGE
MAX_VALUES_PER_FACET = 50
# However they are spread over the facets: every selection is a filter the engines apply and a
# chip the page shows, so a request carries a bounded number, in a bounded query string.
MAX_SELECTIONS = 50
MAX_QUERY_STRING_LENGTH = 4000
SCOPE_SEPARATOR = ":"
# Radius of a distance search: 50 miles unless said, at most 500 miles (about a day's drive).
DEFAULT_WITHIN_MILES = 50
MAX_WITHIN = {"mi": 500.0, "km": 800.0}
UNITS = {"mi": places.KM_PER_MILE, "km": 1.0}
YES_NO = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


@dataclass(frozen=True)
class TextField:
    name: str  # document field (see `indexer.document.SearchDocument`)
    weight: float  # how much a match in it counts towards relevance, relative to the others


# Where a search's text is looked for, and how much a match in each field weighs: a title
# match outranks a description one. OpenSearch boosts each field by its weight (`title^6`);
# the embedded engine gives its FTS5 columns these weights in bm25().
TEXT_FIELDS: tuple[TextField, ...] = (
    TextField("title", 6),
    TextField("practice_area_names", 4),
    # Counted boards' codes and names: "ABIM cardiology" finds ABIM's cardiology activities.
    TextField("board_names", 2),
    TextField("keywords", 3),
    TextField("provider_name", 3),
    TextField("objectives", 2),
    TextField("description", 1),
)
TEXT_FIELD_NAMES = tuple(f.name for f in TEXT_FIELDS)


@dataclass(frozen=True)
class Facet:
    name: str  # query-string parameter and document field
    label: str
    size: int  # how many values a facet shows at most (most frequent first)
    # Every value the facet can have, where that is a fixed list (from the reference data, or
    # what `indexer.document` makes): a request for another one is refused by name. None: an
    # open facet (states, countries, providers), where a value nothing has matches nothing.
    vocabulary: Callable[[Reference], Iterable[str]] | None = None


def _practice_areas(ref: Reference) -> list[str]:
    """'ABIM:Cardiovascular Disease': each practice area of each board taking registrations."""
    return [
        f"{b.code}{SCOPE_SEPARATOR}{a}"
        for b in ref.boards.values()
        if b.collaborating
        for a in b.practice_areas
    ]


def _credit_types(ref: Reference) -> list[str]:
    """'ABIM:Medical Knowledge': each MOC credit type of each board taking registrations."""
    return [
        f"{b.code}{SCOPE_SEPARATOR}{c}"
        for b in ref.boards.values()
        if b.collaborating
        for c in b.credit_type_names
    ]


FACETS: tuple[Facet, ...] = (
    Facet("board", "Board", 50, lambda ref: ref.boards),
    Facet("practice_area", "Practice area", 500, _practice_areas),
    Facet("credit_type", "MOC credit type", 100, _credit_types),
    # Every mandate (all states'); a page shows the physician's state's and the federal ones.
    Facet("mandate", "Counts toward state requirements", 1000, lambda ref: ref.mandates),
    Facet("topic", "Required topic", 100, lambda ref: ref.topics),
    Facet("format", "Format", 50, lambda ref: ref.formats),
    # One value per activity, the registry's: "in person" (only), "online" (only) or "both"
    # (in person and online, e.g. live-streamed). Everything a physician can attend from
    # home is two values, OR-ed: online and both (`ONLINE_DELIVERY`).
    Facet("delivery", "Delivery", 10, lambda ref: ref.delivery),
    Facet("state", "State or province", 100),
    Facet("country", "Country", 100),
    Facet("fee", "Fee", 10, lambda ref: ("free", "paid")),
    Facet("registration", "Registration", 10, lambda ref: ref.registration),
    Facet("mips", "MIPS", 10, lambda ref: ("yes",)),
    Facet("rems", "REMS", 10, lambda ref: ref.rems_programs),
    Facet("provider", "Provider", 100),
)
FACET_NAMES = tuple(f.name for f in FACETS)

# How the values of a facet read to a person, where the value itself is not what they'd say,
# in the order a page lists them. Values not listed read as themselves; practice areas and
# credit types read as "ABIM · Cardiovascular Disease" (see `facet_label`); providers are
# labelled by name, which only the index knows.
FACET_VALUE_LABELS: Mapping[str, Mapping[str, str]] = {
    "fee": {"free": "Free", "paid": "Paid"},
    "mips": {"yes": "Registered for MIPS"},
    "registration": {"open to all": "Open to all", "limited": "Limited"},
    # Online first and "both" next to it: the two a physician at home ticks together.
    "delivery": {
        "online": "Online only",
        "both": "In person and online",
        "in person": "In person only",
    },
}
# Everything a physician can attend without travelling: online only, and in person and online.
ONLINE_DELIVERY = ("online", "both")


def facet_vocabulary(name: str, ref: Reference | None = None) -> tuple[str, ...] | None:
    """Every value facet `name` can have, or None for an open facet (see `Facet.vocabulary`)."""
    facet = next(f for f in FACETS if f.name == name)
    if facet.vocabulary is None:
        return None
    return tuple(facet.vocabulary(ref or reference()))


@dataclass(frozen=True)
class Sort:
    name: str
    label: str
    needs_text: bool = False
    needs_board: bool = False
    needs_near: bool = False


SORTS: tuple[Sort, ...] = (
    Sort("relevance", "Best match", needs_text=True),
    Sort("soonest", "Soonest start"),
    Sort("credits", "Most CME credits"),
    Sort("points", "Most MOC points for your board", needs_board=True),
    Sort("deadline", "Claim deadline soonest"),
    Sort("newest", "Newest"),
    Sort("distance", "Nearest", needs_near=True),
)
SORT_NAMES = tuple(s.name for s in SORTS)


@dataclass(frozen=True)
class DateWindow:
    name: str  # the `when` query-string value
    label: str  # the choice in the search form
    short: str  # a chip or a feed title ("Available now"); empty for any and custom windows


# Date windows a physician picks from; "custom" uses date_from / date_to (and reads as those
# dates, so it has no short label). What each one matches: `SearchRequest.date_window` and
# the contract in `indexer.engine`.
DATE_WINDOWS: tuple[DateWindow, ...] = (
    DateWindow("any", "Any time", ""),
    DateWindow("upcoming", "Upcoming", "Upcoming"),
    DateWindow("this_month", "This month", "This month"),
    DateWindow("available_now", "Available now (enduring)", "Available now"),
    DateWindow("custom", "Between dates", ""),
)
WHEN = tuple(w.name for w in DATE_WINDOWS)


class SearchRequestError(ValueError):
    """Bad search input: `problems` maps a parameter to a message a person can act on."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    when: str = "any"
    date_from: date | None = None
    date_to: date | None = None
    credits_min: float | None = None
    credits_max: float | None = None
    claim_within_days: int | None = None
    sort: str | None = None  # None: relevance with text, soonest without
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    # The physician's licensing state (a USPS code): which mandates a page shows. Never a filter.
    my_state: str | None = None
    # A distance search: the place as typed, where it is, the radius in `unit`s, and whether
    # online activities are kept too.
    near: str | None = None
    near_place: places.Place | None = None
    within: float | None = None
    unit: str = "mi"
    include_online: bool = False

    @property
    def radius(self) -> tuple[float, str]:
        """The radius as asked (`within`, in `unit`), or the default 50 miles when not."""
        if self.within is None:
            return DEFAULT_WITHIN_MILES, "mi"
        return self.within, self.unit

    @property
    def radius_km(self) -> float | None:
        """The radius in km, when this is a distance search."""
        if self.near_place is None:
            return None
        within, unit = self.radius
        return within * UNITS[unit]

    @property
    def origin(self) -> places.Point | None:
        return self.near_place.point if self.near_place else None

    @property
    def effective_sort(self) -> str:
        if self.sort:
            return self.sort
        return "relevance" if self.text else "soonest"

    @property
    def points_board(self) -> str | None:
        """The board whose points the 'points' sort uses: the one selected board, if one."""
        boards = self.filters.get("board", ())
        return boards[0] if len(boards) == 1 else None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def selected(self, facet: str) -> tuple[str, ...]:
        return self.filters.get(facet, ())

    def without(self, facet: str, value: str | None = None) -> SearchRequest:
        """The same search with one facet (or one value of it) removed: a chip's link."""
        filters = dict(self.filters)
        if value is None:
            filters.pop(facet, None)
        else:
            remaining = tuple(v for v in filters.get(facet, ()) if v != value)
            if remaining:
                filters[facet] = remaining
            else:
                filters.pop(facet, None)
        return replace(self, filters=filters, page=1)

    def to_params(self) -> list[tuple[str, str]]:
        """Query-string pairs that `parse_request` reads back into an equal request."""
        params: list[tuple[str, str]] = []
        if self.text:
            params.append(("q", self.text))
        for facet in FACET_NAMES:
            params += [(facet, v) for v in self.filters.get(facet, ())]
        if self.when != "any":
            params.append(("when", self.when))
        if self.date_from:
            params.append(("date_from", self.date_from.isoformat()))
        if self.date_to:
            params.append(("date_to", self.date_to.isoformat()))
        if self.credits_min is not None:
            params.append(("credits_min", f"{self.credits_min:g}"))
        if self.credits_max is not None:
            params.append(("credits_max", f"{self.credits_max:g}"))
        if self.claim_within_days is not None:
            params.append(("claim_within", str(self.claim_within_days)))
        if self.sort:
            params.append(("sort", self.sort))
        if self.page != 1:
            params.append(("page", str(self.page)))
        if self.per_page != DEFAULT_PER_PAGE:
            params.append(("per_page", str(self.per_page)))
        if self.my_state:
            params.append(("my_state", self.my_state))
        if self.near:
            params.append(("near", self.near))
        if self.within is not None:
            params.append(("within", f"{self.within:g}"))
        if self.unit != "mi":
            params.append(("unit", self.unit))
        if self.include_online:
            params.append(("include_online", "yes"))
        return params

    def date_window(self, today: date) -> tuple[date | None, date | None]:
        """The [from, to] window an activity's dates must overlap, from `when`."""
        if self.when == "this_month":
            next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
            return today, next_month - timedelta(days=1)
        if self.when == "custom":
            return self.date_from, self.date_to
        return None, None


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class FacetResult:
    name: str
    label: str
    values: tuple[FacetValue, ...]


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    total: int
    hits: tuple[dict[str, Any], ...]  # index documents, in order
    facets: tuple[FacetResult, ...]
    # Set when the engine corrected a typo to find anything ("cardiolgy" -> "cardiology").
    corrected_text: str | None = None

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, -(-self.total // self.request.per_page)))

    def facet(self, name: str) -> FacetResult:
        return next(f for f in self.facets if f.name == name)

    def counts(self, name: str) -> dict[str, int]:
        return {v.value: v.count for v in self.facet(name).values}


def facet_label(facet: str, value: str) -> str:
    """How a facet value reads to a person: 'ABIM · Cardiovascular Disease', 'Free'."""
    if facet in ("practice_area", "credit_type") and SCOPE_SEPARATOR in value:
        board, name = value.split(SCOPE_SEPARATOR, 1)
        return f"{board} · {name}"
    if facet == "mandate":
        mandate = reference().mandates.get(value)
        return f"{mandate.jurisdiction}: {mandate.name}" if mandate else value
    if facet == "topic":
        topic = reference().topics.get(value)
        return topic.name if topic else value
    return FACET_VALUE_LABELS.get(facet, {}).get(value, value)


# --- parsing a query string -------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one(args: Mapping[str, Any], name: str) -> str | None:
    getlist = getattr(args, "getlist", None)
    values = getlist(name) if getlist else ([args[name]] if name in args else [])
    values = [v for v in values if v is not None and str(v).strip() != ""]
    if len(values) > 1:
        raise SearchRequestError({name: "give it once"})
    return str(values[0]).strip() if values else None


def _many(args: Mapping[str, Any], name: str) -> tuple[str, ...]:
    getlist = getattr(args, "getlist", None)
    raw = getlist(name) if getlist else ([args[name]] if name in args else [])
    if isinstance(raw, str):
        raw = [raw]
    seen: dict[str, None] = {}
    for v in raw:
        v = str(v).strip()
        if v:
            seen[v] = None
    return tuple(seen)


def _query_string_length(args: Mapping[str, Any]) -> int:
    """About how long the query string is: every name=value pair and its separator."""
    getlist = getattr(args, "getlist", None)
    total = 0
    for name in args:
        values = getlist(name) if getlist else args[name]
        if not isinstance(values, list | tuple):
            values = [values]
        total += sum(len(str(name)) + len(str(v)) + 2 for v in values)
    return total


def _shown(value: str) -> str:
    return f"'{value[:60]}'" if len(value) <= 60 else f"'{value[:60]}…'"


def _noun(facet: Facet) -> str:
    """'board', 'practice area', 'MOC credit type', 'MIPS': the facet's label in a sentence."""
    label = facet.label
    return label if label[:2].isupper() else label[0].lower() + label[1:]


def _with_meaning(facet: str, value: str) -> str:
    """'both (In person and online)': a value with its label, where that says more."""
    label = FACET_VALUE_LABELS.get(facet, {}).get(value)
    return f"{value} ({label})" if label and label.lower() != value.lower() else value


def _unknown_values(facet: Facet, values: tuple[str, ...], ref: Reference) -> str | None:
    """Why some of `values` are not in the facet's vocabulary, with the valid ones; or None."""
    assert facet.vocabulary is not None
    vocabulary = tuple(facet.vocabulary(ref))
    known = set(vocabulary)
    unknown = [v for v in values if v not in known]
    if not unknown:
        return None
    if facet.name in ("practice_area", "credit_type"):
        return "; ".join(_unknown_scoped(facet, v, vocabulary, ref) for v in unknown[:3])
    shown = ", ".join(_shown(v) for v in unknown[:3])
    if len(unknown) > 3:
        shown += f" and {len(unknown) - 3} more"
    valid = ", ".join(_with_meaning(facet.name, v) for v in vocabulary)
    values_word = "value" if len(unknown) == 1 else "values"
    return f"unknown {_noun(facet)} {values_word} {shown}; use one of: {valid}"


def _unknown_scoped(facet: Facet, value: str, vocabulary: tuple[str, ...], ref: Reference) -> str:
    """A practice area or credit type that is not one: the board's own list, or the boards."""
    noun = _noun(facet)
    boards = [b.code for b in ref.boards.values() if b.collaborating]
    if SCOPE_SEPARATOR not in value:
        return (
            f"{_shown(value)} names no board; write a {noun} as BOARD{SCOPE_SEPARATOR}name, "
            f"e.g. '{vocabulary[0]}'"
        )
    board, _ = value.split(SCOPE_SEPARATOR, 1)
    if board not in boards:
        return (
            f"{_shown(value)}: {_shown(board)} is not a board that registers activities for "
            f"MOC; use one of: {', '.join(boards)}"
        )
    prefix = board + SCOPE_SEPARATOR
    names = [v[len(prefix) :] for v in vocabulary if v.startswith(prefix)]
    return f"{_shown(value)} is not one of {board}'s {noun}s: {', '.join(names)}"


def _current_area_names(values: tuple[str, ...], ref: Reference) -> tuple[str, ...]:
    """'ABOS:Spine' as 'ABOS:Surgery of the Spine': a link made before a board renamed an area
    (or written in another case) still selects it, as the registry stores it now."""
    out = []
    for value in values:
        board_code, sep, name = value.partition(SCOPE_SEPARATOR)
        board = ref.boards.get(board_code)
        current = board.canonical_area(name) if sep and board else None
        value = f"{board_code}{SCOPE_SEPARATOR}{current}" if current else value
        if value not in out:
            out.append(value)
    return tuple(out)


def parse_request(args: Mapping[str, Any]) -> SearchRequest:
    """Read a search from query-string arguments; every problem is reported at once."""
    problems: dict[str, str] = {}
    length = _query_string_length(args)
    if length > MAX_QUERY_STRING_LENGTH:
        raise SearchRequestError(
            {
                "query": f"the search is {length:,} characters long; at most "
                f"{MAX_QUERY_STRING_LENGTH:,}, please: remove some selections"
            }
        )

    def number(name: str, kind: type, low: float, high: float) -> Any:
        try:
            raw = _one(args, name)
        except SearchRequestError as e:
            problems.update(e.problems)
            return None
        if raw is None:
            return None
        try:
            value = kind(raw)
        except ValueError:
            problems[name] = f"'{raw[:40]}' is not a {'whole ' if kind is int else ''}number"
            return None
        if value != value or not (low <= value <= high):  # NaN, or out of range
            problems[name] = f"must be between {low:g} and {high:g}"
            return None
        return value

    def day(name: str) -> date | None:
        raw = _one(args, name)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems[name] = f"'{raw[:40]}' is not a date; write it as YYYY-MM-DD"
            return None

    text = _one(args, "q") or ""
    text = _CONTROL.sub(" ", text).strip()
    if not re.search(r"\w", text):
        text = ""  # only punctuation ("*", "?!"): a search for everything, in every engine
    if len(text) > MAX_QUERY_LENGTH:
        problems["q"] = f"at most {MAX_QUERY_LENGTH} characters, please"

    filters = {}
    for facet in FACET_NAMES:
        values = _many(args, facet)
        if len(values) > MAX_VALUES_PER_FACET:
            problems[facet] = f"at most {MAX_VALUES_PER_FACET} values"
        elif any(len(v) > 200 for v in values):
            problems[facet] = "a value is longer than 200 characters"
        elif values:
            filters[facet] = values
    ref = reference()
    if "practice_area" in filters:
        filters["practice_area"] = _current_area_names(filters["practice_area"], ref)
    for fixed in FACETS:
        if fixed.name in filters and fixed.vocabulary is not None:
            unknown = _unknown_values(fixed, filters[fixed.name], ref)
            if unknown:
                problems[fixed.name] = unknown
    selections = sum(len(v) for v in filters.values())
    if selections > MAX_SELECTIONS:
        problems["filters"] = (
            f"{selections} values are selected; at most {MAX_SELECTIONS} in all, please"
        )

    when = _one(args, "when") or "any"
    if when not in WHEN:
        problems["when"] = f"'{when[:40]}' is not one of: {', '.join(WHEN)}"
    date_from, date_to = day("date_from"), day("date_to")
    if (date_from or date_to) and when == "any":
        when = "custom"
    if date_from and date_to and date_to < date_from:
        date_from, date_to = date_to, date_from  # a range typed backwards means the same range

    credits_min = number("credits_min", float, 0, 1000)
    credits_max = number("credits_max", float, 0, 1000)
    if credits_min is not None and credits_max is not None and credits_max < credits_min:
        credits_min, credits_max = credits_max, credits_min
    claim_within = number("claim_within", int, 0, 3650)

    sort = _one(args, "sort")
    if sort is not None and sort not in SORT_NAMES:
        problems["sort"] = f"'{sort[:40]}' is not a sort; use one of: {', '.join(SORT_NAMES)}"
    page = number("page", int, 1, MAX_PAGE)
    per_page = number("per_page", int, 1, MAX_PER_PAGE)
    page, per_page = page or 1, per_page or DEFAULT_PER_PAGE

    my_state = _state(args, ref, problems)
    near, near_place, within, unit, include_online = _distance(args, problems, number)
    if sort == "distance" and near_place is None and "near" not in problems:
        problems["sort"] = "sorting by distance needs a place: give near, like near=Omaha, NE"

    if problems:
        raise SearchRequestError(problems)
    return SearchRequest(
        text=text,
        filters=filters,
        when=when,
        date_from=date_from,
        date_to=date_to,
        credits_min=credits_min,
        credits_max=credits_max,
        claim_within_days=claim_within,
        sort=sort,
        page=page,
        per_page=per_page,
        my_state=my_state,
        near=near,
        near_place=near_place,
        within=within,
        unit=unit,
        include_online=include_online,
    )


def state_code(value: str, ref: Reference | None = None) -> str | None:
    """A US state (or DC, or a territory) as its USPS code: 'tx', 'Texas' -> 'TX'; else None."""
    ref = ref or reference()
    text = value.strip()
    if text.upper() in ref.jurisdictions:
        return text.upper()
    folded = text.casefold()
    return next((c for c, n in ref.jurisdictions.items() if n.casefold() == folded), None)


def _state(args: Mapping[str, Any], ref: Reference, problems: dict[str, str]) -> str | None:
    try:
        raw = _one(args, "my_state")
    except SearchRequestError as e:
        problems.update(e.problems)
        return None
    if raw is None:
        return None
    code = state_code(raw, ref)
    if code is None:
        problems["my_state"] = (
            f"{_shown(raw)} is not a US state; use its two-letter code, like TX or NY "
            "(DC and the territories too)"
        )
    return code


def _distance(
    args: Mapping[str, Any], problems: dict[str, str], number: Callable[..., Any]
) -> tuple[str | None, places.Place | None, float | None, str, bool]:
    """near, the place it names, within, unit and include_online, checked together."""
    try:
        near = _one(args, "near")
        unit = (_one(args, "unit") or "mi").lower()
        online = (_one(args, "include_online") or "no").lower()
    except SearchRequestError as e:
        problems.update(e.problems)
        return None, None, None, "mi", False
    if unit not in UNITS:
        problems["unit"] = f"{_shown(unit)} is not a unit; use mi (miles) or km"
        unit = "mi"
    include_online = YES_NO.get(online)
    if include_online is None:
        problems["include_online"] = "use yes or no"
        include_online = False
    within = number("within", float, 1, MAX_WITHIN[unit])
    if "within" in problems:
        problems["within"] = f"the radius must be between 1 and {MAX_WITHIN[unit]:g} {unit}"
    place = None
    if near is not None:
        near = _CONTROL.sub(" ", near).strip()[:200]
        try:
            place = places.resolve(near)
        except places.PlaceNotFound as e:
            problems["near"] = str(e)
    elif within is not None or include_online:
        name = "within" if within is not None else "include_online"
        problems[name] = "goes with near: say near what, like near=Omaha, NE"
    return near, place, within, unit, include_online
