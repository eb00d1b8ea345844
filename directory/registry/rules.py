"""The registry's rules, in one place: validation, board completeness, and publishability.

Everything here is a pure function of an activity (an ORM object, attached or not), the
reference data and `today`: no database, no clock. The web forms, the batch importer, the
web service, the indexer and the provider's "why is my activity not listed" view all call
these, so a rule changes in one place and every path agrees. The rule for the links providers
give (`safe_url`, `is_safe_url`: http and https addresses only) is here too, for the importers
on the way in and for the pages on the way out.

Problems have a severity:
- "error": the registry refuses to save it (points above credits, end before start, ...);
- "incomplete": saved, but the board or REMS registration does not count until completed
  (the registry's "Missing Required Information");
- "warning": saved and counted; worth a second look (low credits for MIPS).

It is one module of about 600 lines on purpose: the rules refer to one another (listing needs
completeness, completeness needs validation), and one file is the single place a provider's
"why" and the indexer's "whether" are read from, side by side.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from directory.registry import places
from directory.registry.models import Activity, MocRegistration, Provider, RemsRegistration
from directory.registry.reference import Board, Reference, fold_name, nearest, reference

Severity = Literal["error", "incomplete", "warning"]


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    severity: Severity = "error"
    # For a name the board's list lacks: the valid names closest to it, best first (the
    # message says them too; this is for code, such as the web service's answer).
    nearest: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class BoardStatus:
    """How one board registration stands: complete or not, and counted today or not."""

    board: str
    complete: bool
    counted: bool
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    # A name the board's list lacks, with the names that would complete the registration.
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.complete:
            state = "complete" if self.counted else "complete, but " + "; ".join(self.reasons)
            return f"registered for {self.board}: {state}"
        names = [
            m for m in dict.fromkeys(self.missing) if not any(n.startswith(m) for n in self.notes)
        ]
        parts = ([f"missing {', '.join(names)}"] if names else []) + list(self.notes)
        return f"{self.board}: incomplete, not counted: {'; '.join(parts)}"


def _num(x: float) -> str:
    """2.0 -> '2', 1.5 -> '1.5': how a provider wrote the number."""
    return f"{x:g}"


def add_months(d: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month."""
    month_index = d.month - 1 + months
    year, month = d.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


# --- what an activity needs -------------------------------------------------------------------

# Fields a draft cannot be saved without.
DRAFT_FIELDS = ("title", "format", "start_date", "end_date")

FIELD_LABELS = {
    "title": "title",
    "format": "format",
    "start_date": "start date",
    "end_date": "end date",
    "delivery": "delivery",
    "city": "city",
    "state": "state",
    "country": "country",
    "cme_credits": "CME credits",
    "description": "description",
    "providership": "providership",
    "fee_cents": "fee",
    "registration": "registration",
    "url": "activity URL",
    "provider_activity_id": "your activity id",
}

URL_MESSAGE = "must be an http:// or https:// address, like https://cme.example.org/course"
ACTIVITY_ID_FORBIDDEN = "/"
_URL_SCHEME = re.compile(r"https?://", re.IGNORECASE)


def _has_control_or_space(text: str) -> bool:
    """Whether `text` holds white space, or a control, format, surrogate or unassigned
    character (Unicode categories Z* and C*): what a browser may drop or rewrite in a URL."""
    if text.isascii():
        # The common case, without a look-up per character: ASCII's C* are the controls (not
        # printable) and its Z* the space.
        return not text.isprintable() or " " in text
    return any(ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in text)


def safe_url(value: object) -> str | None:
    """The address a provider gave, stripped of surrounding white space, if it is an absolute
    http:// or https:// URL with a host; else None.

    Anything else is refused, so that no stored link can run script in a browser
    (`javascript:`, `data:`, `vbscript:` in any case, or hidden behind leading spaces or
    control characters: browsers drop those before reading the scheme). White space or
    control characters inside the address are refused too, rather than guessed at.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not _URL_SCHEME.match(url) or _has_control_or_space(url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- a port that is not a number raises ValueError
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url


def is_safe_url(url: object) -> bool:
    """Whether `url` may be written as a link (an `href`) as it is: an http:// or https://
    address with a host, by `safe_url`'s rule. For the web layer, on output: a value stored
    before the rule existed, or by any other way in, is shown as text, not as a link."""
    return safe_url(url) is not None


def activity_id_problems(value: object) -> list[Problem]:
    """Why a provider's own activity id cannot be used, if it cannot.

    The id is part of the web service's addresses (`/api/v1/provider/activities/<id>`), so a
    "/" would make an activity that cannot be read or changed there. Letters, digits, spaces
    inside and other punctuation (- _ . : # and so on) are all fine.
    """
    label = FIELD_LABELS["provider_activity_id"]
    if not isinstance(value, str) or not value:
        return []
    if value != value.strip():
        return [Problem(label, "must not begin or end with spaces")]
    if ACTIVITY_ID_FORBIDDEN in value:
        return [
            Problem(
                label,
                "must not contain '/' (the id is part of the web service's addresses); "
                "use '-' instead",
            )
        ]
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        return [Problem(label, "must not contain control characters")]
    return []


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def missing_for_active(activity: Activity) -> list[str]:
    """Labels of the fields the registry requires before an activity may be Active."""
    needed = ["delivery", "cme_credits", "description", "providership"]
    # A course given in several cities names its places on its occurrences: they are the
    # places, and the activity itself then needs none.
    occurrences = list(activity.occurrences or [])
    places_on_occurrences = bool(occurrences) and all(
        not _blank(o.city) and not _blank(o.country) for o in occurrences
    )
    if activity.delivery in ("in person", "both") and not places_on_occurrences:
        needed += ["city", "country"]
        if (activity.country or "").upper() in ("US", "CA"):
            needed.append("state")
    if activity.show_in_directory:
        needed += ["fee_cents", "registration", "url"]
    missing = [f for f in needed if _blank(getattr(activity, f))]
    if "cme_credits" not in missing and (activity.cme_credits or 0) <= 0:
        missing.append("cme_credits")
    labels = [FIELD_LABELS[f] for f in missing]
    if activity.delivery in ("in person", "both") and places_on_occurrences:
        labels += [
            f"the state of occurrence {n}"
            for n, o in enumerate(occurrences, start=1)
            if (o.country or "").upper() in ("US", "CA") and _blank(o.state)
        ]
    return labels


def _choice(value: str | None, allowed: Iterable[str], label: str) -> list[Problem]:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        return [Problem(label, f"'{value}' is not one of: {', '.join(allowed)}")]
    return []


def _basics(activity: Activity, ref: Reference) -> list[Problem]:
    problems = [
        Problem(FIELD_LABELS[f], "required, even for a draft")
        for f in DRAFT_FIELDS
        if _blank(getattr(activity, f))
    ]
    if not _blank(activity.format) and activity.format not in ref.formats:
        names = ", ".join(f.name for f in ref.formats.values() if not f.legacy)
        problems.append(
            Problem("format", f"'{activity.format}' is not a format; use one of: {names}")
        )
    problems += _choice(activity.status, ref.statuses, "status")
    problems += _choice(activity.delivery, ref.delivery, "delivery")
    problems += _choice(activity.providership, ref.providership, "providership")
    problems += _choice(activity.registration, ref.registration, "registration")
    if activity.cme_credits is not None and activity.cme_credits < 0:
        problems.append(Problem("CME credits", f"{_num(activity.cme_credits)} is negative"))
    if activity.fee_cents is not None and activity.fee_cents < 0:
        problems.append(Problem("fee", "cannot be negative; use 0 for a free activity"))
    if not _blank(activity.url) and not is_safe_url(activity.url):
        problems.append(Problem(FIELD_LABELS["url"], URL_MESSAGE))
    return problems


def _dates(activity: Activity, ref: Reference) -> list[Problem]:
    start, end = activity.start_date, activity.end_date
    if start is None or end is None:
        return []
    if end < start:
        return [Problem("end date", f"{end} is before the start date {start}")]
    fmt = ref.formats.get(activity.format)
    if fmt and fmt.max_months and end > add_months(start, fmt.max_months):
        span = f"{fmt.max_months // 12} years" if fmt.max_months % 12 == 0 else ""
        limit = span if fmt.max_months > 12 else f"{fmt.max_months} months"
        return [
            Problem(
                "end date",
                f"{'an' if fmt.name[0] in 'AEIOU' else 'a'} {fmt.name} may run at most {limit}: from {start} it must end by "
                f"{add_months(start, fmt.max_months)}, not {end}",
            )
        ]
    return []


def _occurrences(activity: Activity) -> list[Problem]:
    problems = []
    for n, occ in enumerate(activity.occurrences, start=1):
        label = f"occurrence {n}"
        if occ.end_date < occ.start_date:
            problems.append(
                Problem(label, f"ends {occ.end_date}, before it starts {occ.start_date}")
            )
        elif (
            activity.start_date
            and activity.end_date
            and not (activity.start_date <= occ.start_date and occ.end_date <= activity.end_date)
        ):
            problems.append(
                Problem(
                    label,
                    f"{occ.start_date} to {occ.end_date} falls outside the activity's dates "
                    f"{activity.start_date} to {activity.end_date}",
                )
            )
    return problems


def canonical_topic(value: str, ref: Reference | None = None) -> str | None:
    """A mandated-topic tag as its code, however written: 'Human Trafficking',
    'human_trafficking' and 'human-trafficking' are 'human-trafficking'; None if no tag."""
    ref = ref or reference()
    if value in ref.topics:
        return value
    folded = fold_name(value)
    return next(
        (
            code
            for code, topic in ref.topics.items()
            if folded in (fold_name(code), fold_name(topic.name))
        ),
        None,
    )


def topic_problems(activity: Activity, ref: Reference) -> list[Problem]:
    """Topic tags and state approvals. Never errors: a tag or an approval that is not one is
    saved and not counted (a warning, with the nearest tags), so one unfamiliar name never
    refuses a provider's file."""
    problems = []
    tags = list(activity.topics or [])
    for tag in tags:
        if tag not in ref.topics:
            close = nearest(str(tag), [t.name for t in ref.topics.values()], 3)
            near = f"; nearest: {', '.join(repr(n) for n in close)}" if close else ""
            problems.append(
                Problem(
                    "topics",
                    f"'{tag}' is not a mandated-topic tag, so it counts toward no state "
                    f"requirement{near} (the tags: the directory's page for providers)",
                    "warning",
                    tuple(close) or None,
                )
            )
    for n, approval in enumerate(activity.approvals or [], start=1):
        label = f"approval {n}"
        body = approval.get("body") if isinstance(approval, dict) else None
        approval_id = approval.get("id") if isinstance(approval, dict) else None
        if body not in ref.approvers:
            known = ", ".join(f"{a.code} ({a.name})" for a in ref.approvers.values())
            problems.append(
                Problem(
                    label,
                    f"'{body}' is not a body whose approvals a state mandate counts; "
                    f"use one of: {known}",
                    "warning",
                )
            )
            continue
        if _blank(approval_id):
            problems.append(
                Problem(label, f"the approval by {body} needs its approval id", "warning")
            )
        needed = {t for m in ref.mandates.values() if m.approver == body for t in m.topics}
        if needed and needed.isdisjoint(tags):
            names = ", ".join(sorted(needed))
            problems.append(
                Problem(
                    label,
                    f"an approval by {body} counts with a topic tag it approves ({names}); "
                    "the activity has none of them",
                    "warning",
                )
            )
    return problems


def _coordinates(label: str, lat: float | None, lon: float | None) -> list[Problem]:
    if lat is None and lon is None:
        return []
    if lat is None or lon is None:
        return [Problem(label, "give both latitude and longitude, or neither")]
    if not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
        return [
            Problem(
                label,
                f"{lat:g}, {lon:g} is not a place: latitude is -90 to 90 and longitude "
                "-180 to 180 (in decimal degrees, like 41.2565, -95.9345)",
            )
        ]
    return []


def place_problems(activity: Activity) -> list[Problem]:
    """Coordinates out of range (errors), and in-person places that cannot be located from
    their city (a warning: listed, but not found by a distance search)."""
    problems = _coordinates("latitude/longitude", activity.latitude, activity.longitude)
    where = []
    if activity.delivery in ("in person", "both"):
        where.append(
            (
                "place",
                activity.city,
                activity.state,
                activity.country,
                activity.latitude,
                activity.longitude,
            )
        )
    for n, o in enumerate(activity.occurrences or [], start=1):
        problems += _coordinates(f"occurrence {n} latitude/longitude", o.latitude, o.longitude)
        where.append((f"occurrence {n}", o.city, o.state, o.country, o.latitude, o.longitude))
    for label, city, state, country, lat, lon in where:
        if _blank(city) or lat is not None or lon is not None:
            continue
        if places.locate(city, state, country) is None:
            shown = ", ".join(str(x) for x in (city, state, country) if not _blank(x))
            problems.append(
                Problem(
                    label,
                    f"we could not locate '{shown}', so distance searches will not find it; "
                    "check the city's spelling and its state, or send its latitude and "
                    "longitude",
                    "warning",
                )
            )
    return problems


def _off_list(
    field: str,
    name: str,
    names: Iterable[str],
    what: str,
    consequence: str,
    hints: Mapping[str, str] | None = None,
) -> Problem:
    """A name the board's list lacks: the registration is saved, incomplete, with the valid
    names closest to it."""
    close = tuple(nearest(name, names, 3, hints))
    near = (
        "nearest: " + ", ".join(f"'{n}'" for n in close)
        if close
        else "no name on the list is close (the lists are in the provider data guide)"
    )
    return Problem(field, f"{what}; {near}; {consequence}", "incomplete", nearest=close)


def moc_problems(reg: MocRegistration, activity: Activity, ref: Reference) -> list[Problem]:
    """Errors and missing items of one board registration."""
    board: Board | None = ref.boards.get(reg.board)
    if board is None or not board.collaborating:
        boards = ", ".join(b.code for b in ref.collaborating_boards)
        why = (
            f"{reg.board} has no MOC registration program; any Category 1 activity counts for it"
            if board
            else f"'{reg.board}' is not a board that takes MOC registrations"
        )
        return [Problem("MOC board", f"{why}. Boards that do: {boards}")]

    code = board.code
    problems: list[Problem] = []

    def missing(item: str, message: str) -> None:
        problems.append(Problem(f"{code} {item}", message, "incomplete"))

    # A name the board's list lacks does not refuse the record: the lists are our reading of
    # the boards' publications and lag behind them. The registration is saved, incomplete,
    # and says which names would complete it.
    for area in reg.practice_areas:
        if board.canonical_area(area) is None:
            problems.append(
                _off_list(
                    f"{code} practice areas",
                    area,
                    board.practice_areas,
                    f"'{area}' is not on our list for {code}",
                    f"this registration does not count for {code} until it names one from the list",
                    board.hints,
                )
            )
    for credit_type in reg.credit_types:
        if credit_type not in board.credit_type_names:
            problems.append(
                Problem(
                    f"{code} credit types",
                    f"{code} does not offer '{credit_type}'; its credit types are "
                    f"{', '.join(board.credit_type_names)}",
                )
            )
    if reg.points is not None:
        if reg.points <= 0:
            problems.append(Problem(f"{code} points", f"{_num(reg.points)} must be above zero"))
        elif activity.cme_credits is not None and reg.points > activity.cme_credits:
            # The registry's own words are "MOC credit value must be less than CME value listed".
            problems.append(
                Problem(
                    f"{code} points",
                    f"{_num(reg.points)} exceeds the activity's {_num(activity.cme_credits)} "
                    "CME credits; MOC points may not be more than the CME credits",
                )
            )
    if board.requires_content_areas:
        for path in reg.content_areas:
            if ref.canonical_outline_path(path) is None:
                shape = "" if ">" in path else " (a path is written 'Area > Section > Topic')"
                problems.append(
                    _off_list(
                        f"{code} content areas",
                        path,
                        ref.aba_outline,
                        f"'{path}' is not in our copy of the {code} content outline{shape}",
                        f"this registration does not count for {code} until it names 1 or 2 "
                        "content areas from the outline",
                    )
                )
        if len(reg.content_areas) > 2:
            problems.append(
                Problem(f"{code} content areas", f"{len(reg.content_areas)} given; choose 1 or 2")
            )
    elif reg.content_areas:
        problems.append(Problem(f"{code} content areas", f"{code} does not use content areas"))

    if not reg.practice_areas:
        missing("practice areas", f"choose at least one {code} practice area")
    if not reg.credit_types:
        missing("credit types", f"choose at least one of {', '.join(board.credit_type_names)}")
    if reg.points is None:
        missing("points", f"how many {code} points the activity offers")
    if board.requires_content_areas and not reg.content_areas:
        missing("content areas", f"{code} needs 1 or 2 content areas from its content outline")
    if reg.claim_deadline is None:
        missing("claim deadline", "the last day a learner can claim MOC credit")
    if not reg.attested:
        missing("attestation", f"attest that the activity meets {code}'s requirements")
    return problems


def rems_problems(reg: RemsRegistration, ref: Reference) -> list[Problem]:
    if reg.program not in ref.rems_programs:
        return [
            Problem(
                "REMS", f"'{reg.program}' is not a REMS; use one of {', '.join(ref.rems_programs)}"
            )
        ]
    problems = []
    if _blank(reg.rpc_id):
        problems.append(
            Problem(f"{reg.program} RPC id", "the RPC activity id is required", "incomplete")
        )
    if not reg.attested:
        problems.append(
            Problem(
                f"{reg.program} attestation",
                "attest to the REMS program requirements",
                "incomplete",
            )
        )
    return problems


def validate_activity(activity: Activity, ref: Reference | None = None) -> list[Problem]:
    """Every problem with an activity, errors first. No errors means it may be saved."""
    ref = ref or reference()
    problems = activity_id_problems(getattr(activity, "provider_activity_id", None))
    problems += _basics(activity, ref) + _dates(activity, ref) + _occurrences(activity)
    problems += topic_problems(activity, ref) + place_problems(activity)
    if activity.status == "Active":
        missing = missing_for_active(activity)
        if missing:
            problems.append(Problem("status", f"an Active activity needs: {', '.join(missing)}"))
    seen: set[str] = set()
    for reg in activity.moc:
        if reg.board in seen:
            problems.append(Problem("MOC board", f"{reg.board} is registered twice"))
        seen.add(reg.board)
        problems += moc_problems(reg, activity, ref)
    for rems in activity.rems:
        problems += rems_problems(rems, ref)
    if (
        activity.mips
        and activity.cme_credits is not None
        and (activity.cme_credits < ref.mips_low_credit_below)
    ):
        problems.append(
            Problem(
                "MIPS",
                f"{_num(activity.cme_credits)} credits is lower than usual for MIPS; check the "
                "MIPS requirements (if the amount is right, ignore this)",
                "warning",
            )
        )
    order = {"error": 0, "incomplete": 1, "warning": 2}
    return sorted(problems, key=lambda p: order[p.severity])


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


# --- status changes ---------------------------------------------------------------------------


def status_change_problems(
    activity: Activity,
    new_status: str,
    today: date,
    ref: Reference | None = None,
    *,
    include_missing: bool = True,
    new: bool = False,
) -> list[Problem]:
    """Whether `activity` may move to `new_status` today, or (`new=True`) be created in it.

    Statuses move forward only (Draft -> Active -> Ready to Close -> Closed), and may skip
    steps: a provider moving its history in creates last year's course as Closed in one
    upload. The dates decide what is honest: Active only while the activity has not ended,
    Ready to Close and Closed only once it has. An activity that reaches Ready to Close or
    Closed without having been Active here went through Active elsewhere, so it needs what an
    Active activity needs.

    `include_missing=False` leaves out the fields an Active activity needs, for callers that
    already report them through `validate_activity` (which checks them for Active only).
    """
    ref = ref or reference()
    order = ref.statuses
    old = None if new else activity.status
    if new_status == old:
        return []
    if new_status not in order:
        return [Problem("status", f"'{new_status}' is not one of: {', '.join(order)}")]
    if old in order and order.index(new_status) < order.index(old):
        return [
            Problem(
                "status",
                f"cannot go back from {old} to {new_status}; statuses only move forward: "
                + " -> ".join(order),
            )
        ]
    end = activity.end_date
    ended = end is not None and end < today
    problems = []
    if new_status == "Active":
        missing = missing_for_active(activity) if include_missing else []
        if missing:
            problems.append(Problem("status", f"to make it Active, add: {', '.join(missing)}"))
        if ended:
            problems.append(
                Problem(
                    "end date",
                    f"{end} has passed; an Active activity must end today or later (an "
                    "activity that has ended is Ready to Close or Closed)",
                )
            )
    elif new_status != order[0]:
        if not ended:
            until = f"it ends {end}" if end else "it has no end date"
            problems.append(
                Problem(
                    "status",
                    f"{new_status} is for an activity that has ended, and {until}; until "
                    "then it is Draft or Active",
                )
            )
        if old in (None, order[0]):
            missing = missing_for_active(activity)
            if missing:
                problems.append(
                    Problem(
                        "status",
                        f"a {new_status} activity was Active once, so it needs what an Active "
                        f"activity needs: add {', '.join(missing)}",
                    )
                )
    return problems


def deletion_problems(activity: Activity) -> list[Problem]:
    if activity.completions_reported:
        return [
            Problem(
                "activity",
                f"{activity.completions_reported} learner completions are reported for it, so it "
                "cannot be deleted; withdraw it from the directory instead",
            )
        ]
    return []


# --- completeness and publishability ----------------------------------------------------------


def board_status(
    reg: MocRegistration, activity: Activity, today: date, ref: Reference | None = None
) -> BoardStatus:
    ref = ref or reference()
    problems = [p for p in moc_problems(reg, activity, ref) if p.severity != "warning"]
    missing = tuple(
        dict.fromkeys(
            p.field.removeprefix(f"{reg.board} ") for p in problems if p.severity == "incomplete"
        )
    )
    # The items that are there but name something off the board's list, said in full.
    notes = tuple(
        f"{p.field.removeprefix(f'{reg.board} ')}: {p.message}"
        for p in problems
        if p.nearest is not None
    )
    invalid = tuple(str(p) for p in problems if p.severity == "error")
    complete = not problems
    reasons: list[str] = list(invalid)
    if complete and reg.claim_deadline is not None and reg.claim_deadline < today:
        reasons.append(f"its claim deadline {reg.claim_deadline} has passed")
    return BoardStatus(
        board=reg.board,
        complete=complete,
        counted=complete and not reasons,
        missing=missing + (("valid entries",) if invalid else ()),
        reasons=tuple(reasons),
        notes=notes,
    )


def registration_gaps(
    reg: MocRegistration, activity: Activity, ref: Reference | None = None
) -> tuple[str, ...]:
    """What the registration lacks to be complete (empty when it is), as `board_status` names
    it: the part of its standing that depends on its fields alone, not on the day."""
    # No claim deadline is before date.min: the status is its completeness alone.
    status = board_status(reg, activity, date.min, ref)
    return () if status.complete else status.missing


# Every code a Reason may have, in the order the provider's summary lists them.
REASON_CODES = ("provider", "status", "hidden", "ended", "missing", "invalid")


@dataclass(frozen=True)
class Reason:
    """Why an activity is not listed: a stable code for code to act on, a sentence for people.

    Codes: "provider" (none, or not in good standing), "status" (not Active), "hidden" (the
    provider chose not to show it), "ended", "missing" (required fields empty), "invalid" (a
    field breaks a rule).
    """

    code: str
    text: str

    def __str__(self) -> str:
        return self.text


def not_listed_reasons(
    activity: Activity, today: date, ref: Reference | None = None
) -> list[Reason]:
    """Every reason the activity is not in the public directory today; empty when it is."""
    ref = ref or reference()
    reasons = []
    provider = activity.provider
    if provider is None:
        reasons.append(Reason("provider", "it has no provider"))
    elif provider.accreditation_status not in ref.good_standing:
        reasons.append(
            Reason(
                "provider",
                f"the provider's accreditation ({provider.accreditation_status}) is not in good standing",
            )
        )
    if activity.status != "Active":
        reasons.append(Reason("status", f"its status is {activity.status}, not Active"))
    if not activity.show_in_directory:
        reasons.append(
            Reason("hidden", "the provider chose not to show it in the public directory")
        )
    if activity.end_date is not None and activity.end_date < today:
        reasons.append(Reason("ended", f"it ended on {activity.end_date}"))
    missing, invalid = listing_gaps(activity, ref)
    if missing:
        reasons.append(Reason("missing", f"it is missing {', '.join(missing)}"))
    reasons += [Reason("invalid", str(p)) for p in invalid]
    return reasons


def listing_gaps(
    activity: Activity, ref: Reference | None = None
) -> tuple[list[str], list[Problem]]:
    """The reasons not to list the activity that depend on its own fields alone, not on the day
    or its provider: (labels of the required fields it lacks, the rules its fields break).
    What `directory.registry.standing` keeps per activity, to count them without the rules."""
    ref = ref or reference()
    return missing_for_active(activity), _basics(activity, ref) + _dates(activity, ref)


def why_not_listed(activity: Activity, today: date, ref: Reference | None = None) -> list[str]:
    """The sentences of `not_listed_reasons`, as the provider view and web service show them."""
    return [r.text for r in not_listed_reasons(activity, today, ref)]


def is_listed(activity: Activity, today: date, ref: Reference | None = None) -> bool:
    return not not_listed_reasons(activity, today, ref)


def counted_boards(activity: Activity, today: date, ref: Reference | None = None) -> list[str]:
    """Boards a listed activity counts toward: complete registrations still open for claims.

    A board with no registration program (ABPMR) accepts any Category 1 activity; the listing
    counts for it when the activity is meant for one of that board's specialties or practice
    areas.
    """
    ref = ref or reference()
    if not is_listed(activity, today, ref):
        return []
    return boards_if_listed(activity, today, ref)


def counted_registrations(
    activity: Activity, today: date, ref: Reference | None = None
) -> list[MocRegistration]:
    """The board registrations that are complete and still open for claims today."""
    ref = ref or reference()
    return [r for r in activity.moc if board_status(r, activity, today, ref).counted]


def boards_for(
    activity: Activity, counted: list[MocRegistration], ref: Reference | None = None
) -> list[str]:
    """Boards given the counted registrations: theirs, then boards with no registration
    program whose specialties or practice areas the activity is about."""
    ref = ref or reference()
    # Only what the provider declared and completed says what the activity is about.
    areas = {a for r in counted for a in r.practice_areas} | set(activity.specialties)
    by_specialty = [
        b.code
        for b in ref.boards.values()
        if not b.collaborating and areas & (set(b.specialties) | set(b.practice_areas))
    ]
    return sorted(r.board for r in counted) + by_specialty


def boards_if_listed(activity: Activity, today: date, ref: Reference | None = None) -> list[str]:
    """The boards the activity would count toward if it were listed (a provider's preview)."""
    return boards_for(activity, counted_registrations(activity, today, ref), ref)


# --- providers --------------------------------------------------------------------------------

# The accreditor's provider id: digits and letters, as its roster prints them ("0001234").
_ACCREDITOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")
# Enough to catch a name or a phone number in the e-mail column; mail servers judge the rest.
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+")


def provider_problems(provider: Provider, ref: Reference | None = None) -> list[Problem]:
    """What is wrong with one provider's roster entry; empty when it may be saved."""
    ref = ref or reference()
    problems = []
    if _blank(provider.name):
        problems.append(Problem("name", "required"))
    accreditor_id = provider.accreditor_id
    if _blank(accreditor_id):
        problems.append(Problem("provider id", "required: the accreditor's id for the provider"))
    elif not _ACCREDITOR_ID.fullmatch(str(accreditor_id)):
        problems.append(
            Problem(
                "provider id",
                f"'{accreditor_id}' is not an accreditor's provider id (letters, digits and "
                "hyphens, at most 40)",
            )
        )
    if provider.accreditation_status not in ref.accreditation_statuses:
        problems.append(
            Problem(
                "accreditation status",
                f"'{provider.accreditation_status}' is not an accreditation status; use one of: "
                + ", ".join(ref.accreditation_statuses),
            )
        )
    country = provider.country
    if not _blank(country) and not re.fullmatch(r"[A-Z]{2}", str(country)):
        problems.append(
            Problem("country", f"'{country}' is not a two-letter country code such as US or CA")
        )
    if not _blank(provider.url) and not is_safe_url(provider.url):
        problems.append(Problem("web site", URL_MESSAGE.replace("/course", "")))
    email = provider.contact_email
    if not _blank(email) and not _EMAIL.fullmatch(str(email)):
        problems.append(
            Problem("contact e-mail", f"'{email}' is not an e-mail address like cme@example.org")
        )
    return problems


def may_register(provider: Provider | None, ref: Reference | None = None) -> bool:
    """Only a provider in good standing may register activities or change them."""
    ref = ref or reference()
    return provider is not None and provider.accreditation_status in ref.good_standing


def registration_refused(provider: Provider | None, ref: Reference | None = None) -> str | None:
    """Why `provider` may not register or change activities now, in words a provider can act
    on; None when it may. Every way in (file, web service, command line) asks this first."""
    ref = ref or reference()
    if provider is None:
        return "no such provider"
    if may_register(provider, ref):
        return None
    good = ", ".join(s for s in ref.accreditation_statuses if s in ref.good_standing)
    return (
        f"{provider.name}'s accreditation status is {provider.accreditation_status}, which is "
        f"not in good standing ({good}), so it may not register or change activities, and its "
        "activities are not listed in the directory until the accreditor restores its "
        "accreditation"
    )
