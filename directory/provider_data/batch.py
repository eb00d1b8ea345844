"""Writing providers' activities: every way in (file, web service, command line) comes here.

All or nothing: a first pass reads every record and checks it (shape, then the registry's
rules, then status changes); only a batch with no error is written, in one transaction, by a
second pass. Both passes stream records in chunks, so a 50,000-row file needs the memory of a
chunk, not of the file. Records are keyed by the provider's own activity id: a record equal
to what the registry holds changes nothing, an edited one updates that activity.

The report lists the first `MAX_REPORTED_PROBLEMS` errors (and warnings) and counts the rest
("and 399,800 more problems"), so that the answer to a file of 200,000 bad rows stays small;
the file's own warnings (the encoding it was read with) come first among the warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from directory.provider_data.layout import LAYOUT
from directory.provider_data.reading import Record
from directory.registry import rules
from directory.registry.models import (
    Activity,
    ActivityChange,
    MocRegistration,
    Occurrence,
    Provider,
    RemsRegistration,
    utcnow,
    with_children,
)
from directory.registry.reference import reference

CHUNK = 500
# Errors, and warnings, listed one by one in a report; the rest are counted. Read when a
# report is made, so a test can lower it here.
MAX_REPORTED_PROBLEMS = 200


@dataclass(frozen=True)
class Message:
    location: str
    field: str
    message: str
    # "error" (nothing is saved), "incomplete" (saved; a board or REMS registration does not
    # count until completed) or "warning" (saved and counted; worth a second look).
    severity: str = "error"
    # For a name a board's list lacks: the valid names closest to it, best first.
    nearest: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.location}, {self.field}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "location": self.location,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
            "text": str(self),
        }
        if self.nearest is not None:
            out["nearest"] = list(self.nearest)
        return out


@dataclass
class BatchReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # The first MAX_REPORTED_PROBLEMS errors and warnings, then one message counting the rest.
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    written: bool = False
    # Registry ids of what was created or updated, in order: for the caller's response.
    activity_ids: list[int] = field(default_factory=list)
    # Every error and warning found, listed or not.
    error_count: int = 0
    warning_count: int = 0
    # The provider may not register activities (accreditation not in good standing): the
    # file was not read at all.
    refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, message: Message, severity: str) -> None:
        """One problem: listed while fewer than MAX_REPORTED_PROBLEMS are, else counted."""
        if severity == "error":
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED_PROBLEMS:
                self.errors.append(message)
        else:
            self.warning_count += 1
            if len(self.warnings) < MAX_REPORTED_PROBLEMS:
                self.warnings.append(message)

    def close(self) -> None:
        """Add, after those listed, one message counting the problems not listed."""
        hidden = self.error_count - len(self.errors)
        if hidden > 0:
            self.errors.append(
                Message(
                    "file",
                    "more problems",
                    f"and {hidden:,} more problems (not listed); fix those above and send "
                    "the file again",
                )
            )
        hidden = self.warning_count - len(self.warnings)
        if hidden > 0:
            self.warnings.append(
                Message(
                    "file", "more warnings", f"and {hidden:,} more warnings (not listed)", "warning"
                )
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "error_count": self.error_count,
            "warning_count": self.warning_count,
            "errors": [m.as_dict() for m in self.errors],
            "warnings": [m.as_dict() for m in self.warnings],
        }


# --- payload <-> registry ---------------------------------------------------------------------

SCALARS = tuple("fee_cents" if f.name == "fee" else f.name for f in LAYOUT.fields)


def _nested(payload: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        "occurrences": sorted(
            (dict(o) for o in payload.get("occurrences") or []),
            key=lambda o: (o["start_date"], o.get("city") or ""),
        ),
        "moc": sorted((dict(m) for m in payload.get("moc") or []), key=lambda m: m["board"]),
        "rems": sorted((dict(r) for r in payload.get("rems") or []), key=lambda r: r["program"]),
    }


def payload_of(activity: Activity) -> dict[str, Any]:
    """The registry's activity in the canonical payload shape, to compare with a record."""
    payload = {name: getattr(activity, name) for name in SCALARS}
    payload["occurrences"] = [
        {f.name: getattr(o, f.name) for f in LAYOUT.occurrence_fields} for o in activity.occurrences
    ]
    payload["moc"] = [
        {"board": m.board, **{f.name: getattr(m, f.name) for f in LAYOUT.moc_fields}}
        for m in activity.moc
    ]
    payload["rems"] = [
        {f.name: getattr(r, f.name) for f in LAYOUT.rems_fields} for r in activity.rems
    ]
    payload.update(_nested(payload))
    return payload


def _normalized(payload: dict[str, Any], existing: Activity | None) -> dict[str, Any]:
    """The record as it would be stored: defaults filled in, children in a stable order."""
    out: dict[str, Any] = {name: payload.get(name) for name in SCALARS}
    for name in ("objectives", "keywords", "specialties"):
        out[name] = list(out[name] or [])
    if out["status"] is None:
        out["status"] = existing.status if existing else "Draft"
    for name in ("show_in_directory", "mips"):
        out[name] = bool(out[name])
    out["completions_reported"] = int(out["completions_reported"] or 0)
    nested = _nested(payload)
    out.update(nested)
    for m in nested["moc"]:
        for name in ("practice_areas", "credit_types", "content_areas"):
            m[name] = _canonical_names(m["board"], name, m.get(name) or [])
        m["attested"] = bool(m.get("attested"))
    for r in nested["rems"]:
        r["attested"] = bool(r.get("attested"))
    return out


def _canonical_names(board_code: str, name: str, values: Iterable[str]) -> list[str]:
    """A board registration's names as the board spells them now: an alias or an older name
    ("Orthopedic Sports Medicine", "Pain Medicine>General>...") becomes the current name, so
    that facets and re-uploads see one spelling. A name on no list is kept as written: the
    rules save the registration as incomplete and say which names would complete it."""
    ref = reference()
    board = ref.boards.get(board_code)
    out: list[str] = []
    for value in values:
        canonical: str | None = None
        if board is not None and name == "practice_areas":
            canonical = board.canonical_area(value)
        elif board is not None and name == "credit_types":
            canonical = board.canonical_credit_type(value)
        elif name == "content_areas":
            canonical = ref.canonical_outline_path(value)
        value = canonical or value
        if value not in out:
            out.append(value)
    return out


def _merge(current: list[Any], wanted: list[dict[str, Any]], key: str, model: type) -> list[Any]:
    """Update children in place by their key, so that a board's registration row is edited
    rather than deleted and inserted again (which the unique key would refuse mid-flush)."""
    by_key = {getattr(c, key): c for c in current}
    merged = []
    for values in wanted:
        child = by_key.get(values[key]) or model()
        for name, value in values.items():
            setattr(child, name, value)
        merged.append(child)
    return merged


def _assign(activity: Activity, payload: dict[str, Any]) -> None:
    for name in SCALARS:
        setattr(activity, name, payload[name])
    activity.occurrences = [Occurrence(**o) for o in payload["occurrences"]]
    activity.moc = _merge(activity.moc, payload["moc"], "board", MocRegistration)
    activity.rems = _merge(activity.rems, payload["rems"], "program", RemsRegistration)
    # Children may be all that changed; the incremental indexer reads this column.
    activity.updated_at = utcnow()


def _candidate(payload: dict[str, Any]) -> Activity:
    """The record in the shape the rules read. The rules only read attributes, so a plain
    namespace serves, without the ORM's bookkeeping (a third of a large import's time)."""
    activity = SimpleNamespace(**{name: payload[name] for name in SCALARS})
    activity.occurrences = [SimpleNamespace(**o) for o in payload["occurrences"]]
    activity.moc = [SimpleNamespace(**m) for m in payload["moc"]]
    activity.rems = [SimpleNamespace(**r) for r in payload["rems"]]
    activity.provider = None
    return cast(Activity, activity)


# --- checking and writing ---------------------------------------------------------------------


def _chunks(records: Iterable[Record]) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def _existing(session: Session, provider_id: int, chunk: list[Record]) -> dict[str, Activity]:
    ids = [r.payload.get("provider_activity_id") for r in chunk]
    ids = [i for i in ids if i]
    if not ids:
        return {}
    rows = session.scalars(
        select(Activity)
        .where(Activity.provider_id == provider_id, Activity.provider_activity_id.in_(ids))
        .options(*with_children())
    )
    return {a.provider_activity_id: a for a in rows}


def check_record(record: Record, existing: Activity | None, today: date) -> list[rules.Problem]:
    """Every problem with one record: its shape, the registry's rules, its status change."""
    problems = list(record.problems)
    if any(p.severity == "error" for p in problems):
        return problems  # a record that could not be read cannot be judged further
    payload = _normalized(record.payload, existing)
    candidate = _candidate(payload)
    problems += rules.validate_activity(candidate)
    # A new activity is created in the status its dates allow; an existing one moves from the
    # status it has now.
    mover = _candidate({**payload, "status": existing.status if existing else None})
    problems += rules.status_change_problems(
        mover, payload["status"], today, include_missing=False, new=existing is None
    )
    return problems


def import_records(
    sessions: sessionmaker[Session],
    provider_id: int,
    read: Callable[[], Iterable[Record]],
    today: date,
    *,
    source: str,
    api_key_id: int | None = None,
    dry_run: bool = False,
) -> BatchReport:
    """Check every record `read()` yields, then, if none has an error, write them all.

    `read` is called once per pass, so a file is streamed twice rather than held in memory.
    The file's own warnings (`read()`'s `warnings`, as `files.read_records` gives them) are
    reported first among the warnings.
    """
    report = BatchReport()
    with sessions() as session:
        refusal = rules.registration_refused(session.get(Provider, provider_id))
    if refusal is not None:
        # Checked here, where every way in meets, as well as at each door: a job queued before
        # the provider's accreditation changed is refused when it runs.
        report.refused = True
        report.add(Message("provider", "accreditation", f"{refusal}; nothing was saved"), "error")
        return report
    records = read()
    with sessions() as session:
        for chunk in _chunks(records):
            existing = _existing(session, provider_id, chunk)
            for record in chunk:
                found = existing.get(record.payload.get("provider_activity_id") or "")
                for p in check_record(record, found, today):
                    message = Message(record.location, p.field, p.message, p.severity, p.nearest)
                    report.add(message, p.severity)
            session.expunge_all()
    file_warnings = [
        Message("file", w.field, w.message, "warning") for w in getattr(records, "warnings", ())
    ]
    if file_warnings:
        report.warnings[:0] = file_warnings
        report.warning_count += len(file_warnings)
    report.close()
    if report.errors or dry_run:
        return report

    with sessions.begin() as session:
        for chunk in _chunks(read()):
            existing = _existing(session, provider_id, chunk)
            changed: list[tuple[Activity, str]] = []
            for record in chunk:
                activity_id = record.payload["provider_activity_id"]
                found = existing.get(activity_id)
                payload = _normalized(record.payload, found)
                if found is None:
                    activity = Activity(provider_id=provider_id)
                    _assign(activity, payload)
                    session.add(activity)
                    report.created.append(activity_id)
                    changed.append((activity, "created"))
                elif payload_of(found) != payload:
                    _assign(found, payload)
                    report.updated.append(activity_id)
                    changed.append((found, "updated"))
                else:
                    report.unchanged.append(activity_id)
            session.flush()
            for activity, action in changed:
                report.activity_ids.append(activity.id)
                session.add(
                    ActivityChange(
                        activity_id=activity.id,
                        provider_id=provider_id,
                        api_key_id=api_key_id,
                        source=source,
                        action=action,
                    )
                )
            session.flush()
            session.expunge_all()  # keep memory to one chunk
    report.written = True
    return report


def record_change(
    session: Session,
    activity: Activity,
    action: str,
    *,
    source: str,
    api_key_id: int | None,
    detail: str | None = None,
) -> None:
    session.add(
        ActivityChange(
            activity_id=activity.id,
            provider_id=activity.provider_id,
            api_key_id=api_key_id,
            source=source,
            action=action,
            detail=detail,
        )
    )
