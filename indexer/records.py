"""The registry as the indexer reads it: activities and their children through SQLAlchemy Core.

A full reindex renders every listed activity, so how a row becomes something `to_document` can
read is most of its cost. Loading through the ORM (identity map, instrumented attributes,
relationship collections) cost about as much per activity as rendering it, and every
attribute the rules read went through the instrumentation again. Here each batch is a few
Core selects (the activities, then their board and REMS registrations, occurrences and
providers, each by the batch's ids) and every row becomes a plain `Record`.

A record has the attribute names of its mapped class, with the values the ORM would give: the
same columns through the same column types (JSON lists, dates, time stamps), children in the
order of the relationships' `order_by` (occurrences by start date, board registrations by
board), the provider shared by its activities. So `indexer.document.to_document` and the rules
read a record exactly as they read an `Activity`: one rendering function for both, and the
tests hold the documents of both equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, inspect, select
from sqlalchemy.orm import DeclarativeBase

from directory.registry.models import (
    Activity,
    MocRegistration,
    Occurrence,
    Provider,
    RemsRegistration,
)


class Record:
    """Plain attributes: a row's columns, under the mapped class's attribute names, and the
    children an activity's relationships would hold."""

    if TYPE_CHECKING:  # attributes are set from rows, so their names are known at run time

        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def __repr__(self) -> str:
        return f"<Record {vars(self)!r}>"


def _columns(model: type[DeclarativeBase]) -> tuple[tuple[str, ...], list[Any]]:
    """Attribute names and the columns that hold them, for every column attribute."""
    attrs = [a for a in inspect(model).column_attrs if len(a.columns) == 1]
    return tuple(a.key for a in attrs), [a.columns[0] for a in attrs]


_ACTIVITY = _columns(Activity)
_MOC = _columns(MocRegistration)
_REMS = _columns(RemsRegistration)
_OCCURRENCE = _columns(Occurrence)
_PROVIDER = _columns(Provider)


def _records(
    conn: Connection, spec: tuple[tuple[str, ...], list[Any]], where: Any, *order: Any
) -> list[Record]:
    keys, columns = spec
    made = []
    for row in conn.execute(select(*columns).where(where).order_by(*order)).all():
        record = Record()
        # The instance dict set at once: the cheapest way to a plain object with these names.
        record.__dict__ = dict(zip(keys, row, strict=True))
        made.append(record)
    return made


def _by_activity(records: list[Record]) -> dict[int, list[Record]]:
    grouped: dict[int, list[Record]] = {}
    for record in records:
        grouped.setdefault(record.activity_id, []).append(record)
    return grouped


def load_activities(conn: Connection, ids: Sequence[int]) -> list[Activity]:
    """The activities with these ids, in id order, each with its provider, board and REMS
    registrations and occurrences, as records (see the module's docstring).

    Typed as `Activity` because that is what a record stands in for: it has every attribute
    `to_document` and the rules read of one. What one row holds that its column type cannot
    read (a JSON column that is not JSON) raises here, as the ORM's load would.
    """
    if not ids:
        return []
    activities = _records(conn, _ACTIVITY, Activity.id.in_(ids), Activity.id)
    found = [a.id for a in activities]
    if not found:
        return []
    moc = _by_activity(
        _records(
            conn,
            _MOC,
            MocRegistration.activity_id.in_(found),
            MocRegistration.activity_id,
            MocRegistration.board,
        )
    )
    rems = _by_activity(
        _records(
            conn,
            _REMS,
            RemsRegistration.activity_id.in_(found),
            RemsRegistration.activity_id,
            RemsRegistration.id,
        )
    )
    occurrences = _by_activity(
        _records(
            conn,
            _OCCURRENCE,
            Occurrence.activity_id.in_(found),
            Occurrence.activity_id,
            Occurrence.start_date,
            Occurrence.id,  # the relationship orders by start date; this only breaks ties
        )
    )
    provider_ids = sorted({a.provider_id for a in activities})
    providers = {
        p.id: p for p in _records(conn, _PROVIDER, Provider.id.in_(provider_ids), Provider.id)
    }
    for a in activities:
        # A list of its own for each, as the ORM gives: no record shares a mutable default.
        a.moc = moc.get(a.id, [])
        a.rems = rems.get(a.id, [])
        a.occurrences = occurrences.get(a.id, [])
        a.provider = providers.get(a.provider_id)
    return cast(list[Activity], activities)
