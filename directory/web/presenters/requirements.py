"""State (and federal) licensure requirements as a physician reads them, and distances.

An activity's `mandate` ids (decided at index time from its topic tags and approvals, see
`indexer.document`) say which rules it may count toward; the physician's state says which of
them a page shows: that state's rules and the federal ones (`Reference.mandates_for`). A match
is the provider's claim about its content, never a guarantee, so every requirement line
carries the rule's source, the date it was checked, and a reminder to confirm with the board.

Distances are measured here from the search's origin to the document's `locations`, with the
formula both engines use (`places.nearest_km`), so "12 mi" on a card agrees with the radius
the engine applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from directory.registry import places
from directory.registry.reference import FEDERAL, Mandate, Reference, reference
from directory.search import UNITS, SearchRequest

# Said beside every match, on cards, the detail page, the widget and the embed.
CONFIRM = "A topic match is not a guarantee: confirm with your board."


def short_name(mandate: Mandate) -> str:
    """How a facet row names a rule: its own name for a state's (the legend names the state),
    'MATE Act (DEA)' for a federal one (the part before the colon: the law's name)."""
    if mandate.jurisdiction == FEDERAL:
        return f"{mandate.name.partition(':')[0].strip()} (DEA)"
    return mandate.name


def mandate_label(mandate_id: str, ref: Reference | None = None) -> str:
    """'TX: Identification and assistance of trafficked persons', 'MATE Act (DEA)'."""
    mandate = (ref or reference()).mandates.get(mandate_id)
    if mandate is None:
        return mandate_id
    if mandate.jurisdiction == FEDERAL:
        return short_name(mandate)
    return f"{mandate.jurisdiction}: {mandate.name}"


def requirement(mandate: Mandate, ref: Reference | None = None) -> dict[str, Any]:
    """One rule as the cards, the detail page and the JSON API show it."""
    ref = ref or reference()
    approver = ref.approvers.get(mandate.approver) if mandate.approver else None
    return {
        "id": mandate.id,
        "jurisdiction": mandate.jurisdiction,
        "jurisdiction_name": ref.jurisdiction_name(mandate.jurisdiction),
        "label": mandate_label(mandate.id, ref),
        "name": mandate.name,
        "hours": mandate.hours,
        "cadence": mandate.cadence_label,
        "summary": mandate.summary,
        "who": mandate.who,
        "source": mandate.source,
        "checked": mandate.checked.isoformat(),
        "checked_text": f"{mandate.checked:%b} {mandate.checked.day}, {mandate.checked.year}",
        "approved_only": mandate.approved_only,
        "approver": approver.name if approver else None,
    }


def requirements(
    matched: Iterable[str], state: str | None, ref: Reference | None = None
) -> list[dict[str, Any]]:
    """The rules of `state` (and the federal ones) among an activity's matched mandate ids, in
    the reference's order. Without a state, the federal ones only: they apply everywhere."""
    ids = set(matched or ())
    if not ids:
        return []
    ref = ref or reference()
    return [requirement(m, ref) for m in ref.mandates_for(state) if m.id in ids]


def missing_approvals(
    topics: Iterable[str],
    approvals: Iterable[Mapping[str, Any]],
    state: str | None,
    ref: Reference | None = None,
) -> list[dict[str, Any]]:
    """The state's rules that count only approved courses, whose topic this activity is tagged
    with but whose approving body it holds no approval from: the detail page says so plainly,
    so that a tag is never read as the approval the state asks for."""
    ref = ref or reference()
    tagged = set(topics or ())
    bodies = {str(a.get("body")) for a in approvals or ()}
    out = []
    for mandate in ref.mandates_for(state):
        if not mandate.approved_only or tagged.isdisjoint(mandate.topics):
            continue
        if mandate.approver in bodies:
            continue
        out.append(requirement(mandate, ref))
    return out


def topic_tags(codes: Iterable[str], ref: Reference | None = None) -> list[dict[str, str]]:
    ref = ref or reference()
    return [
        {"code": c, "name": ref.topics[c].name, "definition": ref.topics[c].definition}
        for c in codes or ()
        if c in ref.topics
    ]


def approval_list(
    approvals: Iterable[Mapping[str, Any]], ref: Reference | None = None
) -> list[dict[str, str]]:
    ref = ref or reference()
    out = []
    for a in approvals or ():
        body = str(a.get("body"))
        approver = ref.approvers.get(body)
        out.append(
            {"body": body, "name": approver.name if approver else body, "id": str(a.get("id"))}
        )
    return out


# --- distance ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a distance search is measured from, and the unit the physician reads it in."""

    point: places.Point
    unit: str = "mi"

    @classmethod
    def of(cls, req: SearchRequest) -> Origin | None:
        return cls(req.origin, req.unit) if req.origin is not None else None


def place_text(city: str | None, state: str | None, country: str | None) -> str:
    """'Chicago, IL', 'Toronto, ON', 'Lyon, FR'."""
    parts = [p for p in (city, state if state else None) if p]
    if country and country not in ("US",) and not (country == "CA" and state):
        parts.append(country)
    return ", ".join(parts)


def own_place(hit: Mapping[str, Any]) -> str | None:
    """The activity's own place ('Lincoln, NE'). The document lists the states and countries of
    all its places together, so its own is the one no session accounts for, or the only one."""
    if not hit.get("city"):
        return None

    def own(field: str) -> str | None:
        values = list(hit.get(field) or [])
        if len(values) == 1:
            return values[0]
        sessions = {o.get(field) for o in hit.get("occurrences") or []}
        rest = [v for v in values if v not in sessions]
        return rest[0] if len(rest) == 1 else None

    return place_text(hit["city"], own("state"), own("country"))


def _labelled_locations(hit: Mapping[str, Any]) -> list[tuple[places.Point, str | None]]:
    """Each of the document's locations with the city it is: a session's place when a session
    is there, else the activity's own place."""
    sessions: dict[tuple[float, float], str] = {}
    for o in hit.get("occurrences") or []:
        if o.get("lat") is not None and o.get("lon") is not None:
            key = (float(o["lat"]), float(o["lon"]))
            sessions.setdefault(key, place_text(o.get("city"), o.get("state"), o.get("country")))
    own = own_place(hit)
    out = []
    for loc in hit.get("locations") or []:
        key = (float(loc["lat"]), float(loc["lon"]))
        out.append((places.Point(*key), sessions.get(key) or own or None))
    return out


def distance(hit: Mapping[str, Any], origin: Origin) -> dict[str, Any] | None:
    """{"value": 12.3, "unit": "mi", "nearest_city": "Omaha, NE", "text": "12 mi"}: how far the
    nearest in-person place is; None for an activity with none (online only)."""
    located = _labelled_locations(hit)
    if not located:
        return None
    km, city = min(
        ((places.distance_km(origin.point, p), city) for p, city in located),
        key=lambda pair: pair[0],
    )
    value = km / UNITS[origin.unit]
    if value < 1:
        text = f"under 1 {origin.unit}"
    else:
        text = f"{round(value) if value >= 10 else round(value, 1):g} {origin.unit}"
    return {
        "value": round(value, 1),
        "unit": origin.unit,
        "nearest_city": city,
        "text": text,
        # How many places it is held in: which is nearest is worth saying only beyond one.
        "places": len(located),
    }


def radius_text(req: SearchRequest) -> str | None:
    """'within 75 mi of Omaha, NE' (and online activities), for the page, the chip and feeds."""
    if req.near_place is None or req.radius_km is None:
        return None
    within, unit = req.radius
    text = f"within {within:g} {unit} of {req.near_place.label}"
    return text + " or online" if req.include_online else text
