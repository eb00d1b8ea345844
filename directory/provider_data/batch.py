"""Writing providers' activities: every way in (file, web service, command line) comes here.

All or nothing, in one pass over the file: each chunk of records is checked (shape, then the
registry's rules, then status changes) and, while no record so far has an error, written in
the one transaction that the end of the file commits. The first error rolls back what was
written, at once (so the write lock is let go), and the rest of the file is only checked, so
that the report names every problem; a batch with an error, or a dry run, writes nothing.
Records are streamed in chunks, so a 50,000-row file needs the memory of a chunk, not of the
file, and it is parsed once. Records are keyed by the provider's own activity id: a record
equal to what the registry holds changes nothing, an edited one updates that activity.

New activities, their registrations and occurrences go in as SQLAlchemy Core executemany
inserts (the ORM's unit of work cost most of a large import's time); an activity that exists
is updated through the ORM, whose merge edits a board's registration row in place.

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

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from directory.provider_data.coerce import approver_code
from directory.provider_data.layout import LAYOUT
from directory.provider_data.reading import Record
from directory.registry import rules
from directory.registry.models import (
    Activity,
    ActivityChange,
    Base,
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

# The activity's own columns: the layout's fields, and its approvals (a JSON column of
# {"body", "id"}, not a table of their own).
SCALARS = (*("fee_cents" if f.name == "fee" else f.name for f in LAYOUT.fields), "approvals")


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
    payload["topics"] = list(payload["topics"] or [])
    payload["approvals"] = [
        {"body": a.get("body"), "id": a.get("id")} for a in payload["approvals"] or []
    ]
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
    out["topics"] = _canonical_topics(out["topics"] or [])
    out["approvals"] = _canonical_approvals(out["approvals"] or [])
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


def _canonical_topics(values: Iterable[str]) -> list[str]:
    """Topic tags as their codes ("Human Trafficking" -> "human-trafficking"), each once; a
    value that is no tag is kept as written, for the rules to warn about (saved, counted
    toward nothing)."""
    ref = reference()
    out: list[str] = []
    for value in values:
        value = rules.canonical_topic(value, ref) or value
        if value not in out:
            out.append(value)
    return out


def _canonical_approvals(values: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Approvals with the body as its code ("tx-tmb", "Texas Medical Board" -> "TX-TMB"),
    each once; a body that is none is kept as written, for the rules to warn about."""
    out: list[dict[str, Any]] = []
    for value in values:
        body = value.get("body")
        approval = {
            "body": (approver_code(body) or body) if isinstance(body, str) else body,
            "id": value.get("id"),
        }
        if approval not in out:
            out.append(approval)
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


def _checked(
    record: Record, existing: Activity | None, today: date
) -> tuple[list[rules.Problem], dict[str, Any] | None]:
    """`check_record`'s problems, and the record as it would be stored (None when it could
    not be read): the write uses the payload the check judged, not a second normalization."""
    problems = list(record.problems)
    if any(p.severity == "error" for p in problems):
        return problems, None  # a record that could not be read cannot be judged further
    payload = _normalized(record.payload, existing)
    candidate = _candidate(payload)
    problems += rules.validate_activity(candidate)
    # A new activity is created in the status its dates allow; an existing one moves from the
    # status it has now.
    mover = _candidate({**payload, "status": existing.status if existing else None})
    problems += rules.status_change_problems(
        mover, payload["status"], today, include_missing=False, new=existing is None
    )
    return problems, payload


def check_record(record: Record, existing: Activity | None, today: date) -> list[rules.Problem]:
    """Every problem with one record: its shape, the registry's rules, its status change."""
    return _checked(record, existing, today)[0]


# One record checked without error: the activity the registry holds under its id (or None),
# and the record as it would be stored.
Checked = tuple[Activity | None, dict[str, Any]]


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


_ACTIVITIES = _table(Activity)
_CHANGES = _table(ActivityChange)
# Each child table, the payload list that fills it, and its columns as the layout names them:
# a row is built from these names alone, so every row of an executemany has the same keys and
# a field the record leaves out is NULL, as the ORM stored it.
_CHILDREN = (
    (_table(MocRegistration), "moc", ("board", *(f.name for f in LAYOUT.moc_fields))),
    (_table(RemsRegistration), "rems", tuple(f.name for f in LAYOUT.rems_fields)),
    (_table(Occurrence), "occurrences", tuple(f.name for f in LAYOUT.occurrence_fields)),
)


@dataclass
class _Written:
    """What the write has done so far; the report gets it only once the transaction commits."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    activity_ids: list[int] = field(default_factory=list)


def _insert_new(conn: Connection, provider_id: int, payloads: list[dict[str, Any]]) -> list[int]:
    """Insert new activities and their children; their registry ids, in the order given."""
    if not payloads:
        return []
    # One stamp for the chunk, taken as it is written, as the ORM's flush stamped it: the
    # incremental indexer reads "changed since" from updated_at.
    now = utcnow()
    rows = [
        {
            **{name: p[name] for name in SCALARS},
            "provider_id": provider_id,
            "created_at": now,
            "updated_at": now,
        }
        for p in payloads
    ]
    # RETURNING with sort_by_parameter_order gives the ids in the rows' order on SQLite and
    # PostgreSQL alike (SQLAlchemy's "insertmanyvalues": batched where the database can order
    # them, a row at a time where it cannot), without a query back by provider activity id.
    ids = list(
        conn.execute(
            insert(_ACTIVITIES).returning(_ACTIVITIES.c.id, sort_by_parameter_order=True), rows
        ).scalars()
    )
    for table, key, columns in _CHILDREN:
        children = [
            {"activity_id": activity_id, **{c: child.get(c) for c in columns}}
            for activity_id, p in zip(ids, payloads, strict=True)
            for child in p[key]
        ]
        if children:
            conn.execute(insert(table), children)
    return ids


def _write_chunk(
    session: Session,
    provider_id: int,
    checked: list[Checked],
    written: _Written,
    *,
    source: str,
    api_key_id: int | None,
) -> None:
    """Write one chunk of checked records: new activities by Core inserts, edited ones through
    the ORM, and a change record for each, in the records' order."""
    new: list[dict[str, Any]] = []
    # Per activity created or updated, in the records' order: its place in `new`, or the
    # activity updated.
    changed: list[int | Activity] = []
    for found, payload in checked:
        activity_id = payload["provider_activity_id"]
        if found is None:
            changed.append(len(new))
            new.append(payload)
            written.created.append(activity_id)
        elif payload_of(found) != payload:
            _assign(found, payload)
            changed.append(found)
            written.updated.append(activity_id)
        else:
            written.unchanged.append(activity_id)
    session.flush()  # the updates, before Core writes on the same connection
    conn = session.connection()
    new_ids = _insert_new(conn, provider_id, new)
    if not changed:
        return
    at = utcnow()
    changes = []
    for item in changed:
        activity_id, action = (
            (new_ids[item], "created") if isinstance(item, int) else (item.id, "updated")
        )
        written.activity_ids.append(activity_id)
        changes.append(
            {
                "activity_id": activity_id,
                "provider_id": provider_id,
                "api_key_id": api_key_id,
                "source": source,
                "action": action,
                "detail": None,
                "at": at,
            }
        )
    conn.execute(insert(_CHANGES), changes)


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
    """Check every record `read()` yields and, if none has an error, write them all.

    `read` is called once: the file is parsed once, checked and written chunk by chunk in one
    transaction, which is committed only if no record had an error (see the module's
    docstring). The file's own warnings (`read()`'s `warnings`, as `files.read_records` gives
    them) are reported first among the warnings.
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
    written = _Written()
    # Closing the session without a commit (an error, a dry run, an exception such as a file
    # found malformed halfway) rolls back whatever was written.
    with sessions() as session:
        writing = not dry_run
        for chunk in _chunks(records):
            existing = _existing(session, provider_id, chunk)
            checked: list[Checked] = []
            for record in chunk:
                found = existing.get(record.payload.get("provider_activity_id") or "")
                problems, payload = _checked(record, found, today)
                for p in problems:
                    message = Message(record.location, p.field, p.message, p.severity, p.nearest)
                    report.add(message, p.severity)
                if payload is not None:
                    checked.append((found, payload))
            if writing and report.error_count:
                # Nothing of this file will be saved: undo what was written now, rather than
                # hold the write lock while the rest of the file is checked.
                session.rollback()
                writing = False
            if writing:
                _write_chunk(
                    session, provider_id, checked, written, source=source, api_key_id=api_key_id
                )
            session.expunge_all()  # keep memory to one chunk
        file_warnings = [
            Message("file", w.field, w.message, "warning") for w in getattr(records, "warnings", ())
        ]
        if file_warnings:
            report.warnings[:0] = file_warnings
            report.warning_count += len(file_warnings)
        report.close()
        if report.errors or dry_run:
            return report
        session.commit()
    report.created = written.created
    report.updated = written.updated
    report.unchanged = written.unchanged
    report.activity_ids = written.activity_ids
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
