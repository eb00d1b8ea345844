"""The one function that turns a registry activity into a search document.

Pure: an activity (with its provider, board and REMS registrations and occurrences loaded),
`today` and the reference data in; a `SearchDocument` out, or None when the activity is not
listed today. Both engines index exactly this dict, so what a physician can find is decided
here and in `directory.registry.rules`, never in an engine.

`SearchDocument` says what the dict holds. It is the plain JSON-able dict the engines store and
return as hits; dates are ISO strings ("2026-11-22"), so a hit reads the same from either
engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, TypedDict

from directory.registry import places, rules
from directory.registry.models import Activity
from directory.registry.reference import Reference, reference
from directory.search import SCOPE_SEPARATOR

ENDURING_FORMATS = frozenset({"Enduring Material", "Internet Enduring Material"})


class OccurrenceDocument(TypedDict):
    """One session of a repeated or multi-site course."""

    start_date: str | None
    end_date: str | None
    city: str | None
    state: str | None
    country: str | None
    # Where it is: the provider's coordinates, or its city located (None when unknown).
    lat: float | None
    lon: float | None


class GeoPoint(TypedDict):
    lat: float
    lon: float


class Approval(TypedDict):
    body: str  # an approver's code (state_mandates.toml)
    id: str  # the approval's id, as the approving body gave it


class SearchDocument(TypedDict):
    """A listed activity as both engines index it. Facet fields are named as the facets of
    `directory.search.FACETS`; text fields as `directory.search.TEXT_FIELDS`."""

    id: int
    # Text (searched): see directory.search.TEXT_FIELDS.
    title: str
    description: str
    objectives: list[str]
    keywords: list[str]
    provider: str  # the provider's id, as the provider facet's value
    provider_name: str
    practice_area_names: list[str]
    board_names: list[str]
    # Facets (and filters).
    format: str
    # One value, the registry's: "in person" (only), "online" (only) or "both" (in person and
    # online). Exclusive, so each delivery count is exact; "online + both" is what a physician
    # can attend from home. None only in a preview of an activity that does not say yet.
    delivery: str | None
    # Where it is held in person: its own place (unless online only) and every occurrence's.
    city: str | None
    state: list[str]
    country: list[str]
    cities: list[str]
    start_date: str | None
    end_date: str | None
    next_start: str | None
    live: bool
    enduring: bool
    cme_credits: float | None
    fee_cents: int | None
    fee: str  # "free" or "paid"
    registration: str | None
    mips: list[str]  # ["yes"] or []
    rems: list[str]
    board: list[str]
    practice_area: list[str]  # "ABIM:Cardiovascular Disease", see SCOPE_SEPARATOR
    credit_type: list[str]
    # Per-board points and claim deadlines, for the points and deadline sorts.
    points: dict[str, float | None]
    max_points: float | None
    deadlines: dict[str, str | None]
    claim_deadline: str | None
    occurrences: list[OccurrenceDocument]
    # Every in-person place that could be located (its own and its occurrences'), once each:
    # what a distance search matches and sorts by.
    locations: list[GeoPoint]
    # Mandated-topic tags (facet "topic"), the approvals the provider recorded, and the ids of
    # the state and federal mandates they match (facet "mandate"; `Reference.matched_mandates`).
    topic: list[str]
    approvals: list[Approval]
    mandate: list[str]
    url: str | None
    created_at: str | None
    updated_at: str | None


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _point(
    lat: float | None, lon: float | None, city: str | None, state: str | None, country: str | None
) -> places.Point | None:
    """The provider's coordinates when it gave both, else the city located, else None."""
    if lat is not None and lon is not None:
        return places.Point(lat, lon)
    return places.locate(city, state, country)


def to_document(
    activity: Activity, today: date, ref: Reference | None = None, *, preview: bool = False
) -> SearchDocument | None:
    """The search document, or None when not listed. `preview=True` renders it anyway, for
    a provider checking how an unlisted activity's card would read once listed."""
    ref = ref or reference()
    if not preview and not rules.is_listed(activity, today, ref):
        return None
    counted = rules.counted_registrations(activity, today, ref)
    boards = rules.boards_for(activity, counted, ref)

    in_person = activity.delivery != "online"
    where = [(activity.city, activity.state, activity.country)] if in_person else []
    where += [(o.city, o.state, o.country) for o in activity.occurrences]
    own = (
        _point(activity.latitude, activity.longitude, *where[0])
        if in_person and (activity.city or activity.latitude is not None)
        else None
    )
    sessions = [
        _point(o.latitude, o.longitude, o.city, o.state, o.country) for o in activity.occurrences
    ]
    located = ([own] if own else []) + [p for p in sessions if p]
    locations: list[GeoPoint] = [{"lat": p.lat, "lon": p.lon} for p in dict.fromkeys(located)]
    topics = sorted(t for t in dict.fromkeys(activity.topics or []) if t in ref.topics)
    approvals: list[Approval] = [
        {"body": str(a.get("body")), "id": str(a.get("id"))}
        for a in activity.approvals or []
        if isinstance(a, dict) and a.get("body") in ref.approvers and a.get("id")
    ]
    # The soonest session that has not ended yet: what "soonest start" sorts a repeated course by.
    upcoming = sorted(o.start_date for o in activity.occurrences if o.end_date >= today)
    next_start = upcoming[0] if upcoming else activity.start_date

    points = {r.board: r.points for r in counted}
    deadlines = {r.board: _iso(r.claim_deadline) for r in counted}
    provider = activity.provider
    document: SearchDocument = {
        "id": activity.id,
        "title": activity.title,
        "description": activity.description or "",
        "objectives": list(activity.objectives or []),
        "keywords": list(activity.keywords or []),
        "provider": str(provider.id),
        "provider_name": provider.name,
        # Plain practice-area and specialty names, for text search ("sleep medicine").
        "practice_area_names": sorted(
            {a for r in counted for a in r.practice_areas} | set(activity.specialties or [])
        ),
        # The boards it counts for, as typed in a search box: "ABIM", or the board's name.
        "board_names": [n for code in boards for n in (code, ref.boards[code].name)],
        "format": activity.format,
        "delivery": activity.delivery or None,
        "city": activity.city if activity.delivery != "online" else None,
        "state": sorted({s for _, s, _ in where if s}),
        "country": sorted({c for _, _, c in where if c}),
        "cities": sorted({c for c, _, _ in where if c}),
        "start_date": _iso(activity.start_date),
        "end_date": _iso(activity.end_date),
        "next_start": _iso(next_start),
        "live": ref.formats[activity.format].live,
        "enduring": activity.format in ENDURING_FORMATS,
        "cme_credits": activity.cme_credits,
        "fee_cents": activity.fee_cents,
        "fee": "free" if not activity.fee_cents else "paid",
        "registration": activity.registration,
        "mips": ["yes"] if activity.mips else [],
        "rems": sorted(
            r.program
            for r in activity.rems
            if not [p for p in rules.rems_problems(r, ref) if p.severity != "warning"]
        ),
        "board": boards,
        "practice_area": sorted(
            {f"{r.board}{SCOPE_SEPARATOR}{a}" for r in counted for a in r.practice_areas}
        ),
        "credit_type": sorted(
            {f"{r.board}{SCOPE_SEPARATOR}{c}" for r in counted for c in r.credit_types}
        ),
        "points": points,
        "max_points": max((p for p in points.values() if p is not None), default=None),
        "deadlines": deadlines,
        "claim_deadline": min((d for d in deadlines.values() if d), default=None),
        "occurrences": [
            {
                "start_date": _iso(o.start_date),
                "end_date": _iso(o.end_date),
                "city": o.city,
                "state": o.state,
                "country": o.country,
                "lat": p.lat if p else None,
                "lon": p.lon if p else None,
            }
            for o, p in zip(activity.occurrences, sessions, strict=True)
        ],
        "locations": locations,
        "topic": topics,
        "approvals": approvals,
        "mandate": ref.matched_mandates(topics, [a["body"] for a in approvals]),
        "url": activity.url,
        "created_at": activity.created_at.isoformat() if activity.created_at else None,
        "updated_at": activity.updated_at.isoformat() if activity.updated_at else None,
    }
    return document


# --- a document as the engines store it -------------------------------------------------------

# What a document itself can make the JSON encoder raise (UnicodeEncodeError is a ValueError).
DOCUMENT_JSON_ERRORS = (ValueError, TypeError, RecursionError)
# `json.dumps` with these options, made once: dumps builds an encoder per call otherwise,
# once per document of a reindex. It keeps no state between calls, so threads may share it.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def document_json(document: Mapping[str, Any]) -> str:
    """The document as the JSON text both engines store, checked to encode as UTF-8.

    Strict on purpose: a document that is not plain JSON in valid Unicode (a lone surrogate in
    a str, NaN, a value of no JSON type) raises here, for that document alone, instead of deep
    in an engine's batch (SQLite's parameter binding, an OpenSearch bulk request's sizing),
    where it would fail every document of the batch with it.
    """
    text = _ENCODER.encode(document)
    text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError here
    return text


def unindexable_reason(error: BaseException) -> str:
    """Why a record could not be indexed, as an operator reads it next to the activity id."""
    if isinstance(error, UnicodeError):
        return "text is not valid Unicode"
    detail = str(error).strip()
    reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return reason[:300]
