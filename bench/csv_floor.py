"""The CSV import's floor: parse, normalize and insert the same rows with SQLAlchemy Core.

    .venv/bin/python -m bench.csv_floor [--reader] FILE.csv DATABASE_URL

What importing a provider's CSV costs at least on this stack: the csv module reads the file,
each cell becomes its column's Python value (dates, numbers, yes/no, " | " lists, the board
and REMS columns and the occurrences as child rows), and Core `executemany` inserts them in one
transaction into the registry's own tables. No rule checks, no ORM objects, no report: those
are what the product adds, and what `bench.ratios` measures it against. Run as a process of its
own, as `directory import` is, so both sides pay the interpreter's start-up alike.
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select

from directory.registry.db import make_engine
from directory.registry.models import Activity, MocRegistration, Occurrence, RemsRegistration

SEP = " | "
ACTIVITY_COLUMNS = {
    "Your activity id": ("provider_activity_id", "text"),
    "Title": ("title", "text"),
    "Format": ("format", "text"),
    "Status": ("status", "text"),
    "Start date": ("start_date", "date"),
    "End date": ("end_date", "date"),
    "Description": ("description", "text"),
    "Learning objectives": ("objectives", "list"),
    "Keywords": ("keywords", "list"),
    "Specialties": ("specialties", "list"),
    "Delivery": ("delivery", "text"),
    "City": ("city", "text"),
    "State or province": ("state", "text"),
    "Country": ("country", "text"),
    "AMA PRA Category 1 Credits": ("cme_credits", "number"),
    "Providership": ("providership", "text"),
    "Joint provider": ("joint_provider", "text"),
    "Show in the public directory": ("show_in_directory", "yes_no"),
    "Fee (USD)": ("fee_cents", "money"),
    "Registration": ("registration", "text"),
    "Activity URL": ("url", "text"),
    "Registered for MIPS": ("mips", "yes_no"),
    "Learner completions reported": ("completions_reported", "int"),
}
BOARD_FIELDS = {
    "practice areas": ("practice_areas", "list"),
    "credit types": ("credit_types", "list"),
    "points": ("points", "number"),
    "content areas": ("content_areas", "list"),
    "claim deadline": ("claim_deadline", "date"),
    "attested": ("attested", "yes_no"),
}


def value(cell: str, kind: str) -> Any:
    cell = cell.strip()
    if kind == "list":
        return [v.strip() for v in cell.split(SEP) if v.strip()] if cell else []
    if not cell:
        return False if kind == "yes_no" else (0 if kind == "int" else None)
    if kind == "date":
        return date.fromisoformat(cell)
    if kind == "number":
        return float(cell)
    if kind == "int":
        return int(cell)
    if kind == "yes_no":
        return cell.lower() in ("yes", "y", "true", "1")
    if kind == "money":
        return 0 if cell.lower() == "free" else round(float(cell.replace("$", "")) * 100)
    return cell


def occurrences(cell: str, activity_id: int) -> list[dict[str, Any]]:
    """ "2026-10-17..2026-10-19 Anchorage, AK, US | ..." as occurrence rows."""
    rows = []
    for part in cell.split(SEP) if cell.strip() else []:
        dates, _, place = part.strip().partition(" ")
        start, _, end = dates.partition("..")
        city, state, country = ([p.strip() or None for p in place.split(",")] + [None] * 3)[:3]
        rows.append(
            {
                "activity_id": activity_id,
                "start_date": date.fromisoformat(start),
                "end_date": date.fromisoformat(end or start),
                "venue": None,
                "city": city,
                "state": state,
                "country": country,
            }
        )
    return rows


def load(path: str, url: str, provider_id: int = 1) -> int:
    engine = make_engine(url)
    now = datetime.now(UTC)
    activities, moc, rems, occ = [], [], [], []
    with engine.connect() as conn:
        next_id = (conn.scalar(select(func.max(Activity.id))) or 210_000_000) + 1
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        boards = sorted({h.split(" ", 1)[0] for h in header if h.endswith(" practice areas")})
        for row in reader:
            cells = dict(zip(header, row, strict=False))
            activity: dict[str, Any] = {
                name: value(cells.get(column, ""), kind)
                for column, (name, kind) in ACTIVITY_COLUMNS.items()
            }
            activity.update(id=next_id, provider_id=provider_id, created_at=now, updated_at=now)
            activities.append(activity)
            for board in boards:
                fields = {
                    name: value(cells.get(f"{board} {label}", ""), kind)
                    for label, (name, kind) in BOARD_FIELDS.items()
                }
                if fields["practice_areas"] or fields["credit_types"] or fields["points"]:
                    moc.append({"activity_id": next_id, "board": board, **fields})
            if cells.get("REMS program", "").strip():
                rems.append(
                    {
                        "activity_id": next_id,
                        "program": cells["REMS program"].strip(),
                        "rpc_id": cells.get("REMS RPC id", "").strip() or None,
                        "attested": value(cells.get("REMS attested", ""), "yes_no"),
                    }
                )
            occ += occurrences(cells.get("Occurrences", ""), next_id)
            next_id += 1
    with engine.begin() as conn:
        for model, rows in (
            (Activity, activities),
            (MocRegistration, moc),
            (RemsRegistration, rems),
            (Occurrence, occ),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(model), rows[start : start + 5000])
    engine.dispose()
    return len(activities)


def load_with_reader(path: str, url: str, provider_id: int = 1) -> int:
    """The floor as the performance issue first stated it: the product's own reader and
    normalization of each record (`read_records`, `batch._normalized`), then Core inserts in
    one transaction: what the importer adds above it is the rules, the report and its own
    bookkeeping."""
    from itertools import islice
    from pathlib import Path

    from directory.provider_data.batch import SCALARS, _normalized
    from directory.provider_data.files import read_records
    from directory.registry.models import utcnow

    engine = make_engine(url)
    data = Path(path).read_bytes()
    tables = [
        cast(Table, m.__table__) for m in (Activity, MocRegistration, RemsRegistration, Occurrence)
    ]
    activities, moc_table, rems_table, occurrence_table = tables
    written = 0
    with engine.begin() as conn:
        records = iter(read_records(Path(path).name, data))
        while chunk := list(islice(records, 500)):
            now = utcnow()
            payloads = [_normalized(r.payload, None) for r in chunk]
            rows = [
                {**{k: p[k] for k in SCALARS}, "provider_id": provider_id}
                | {"created_at": now, "updated_at": now}
                for p in payloads
            ]
            ids = (
                conn.execute(
                    insert(activities).returning(activities.c.id, sort_by_parameter_order=True),
                    rows,
                )
                .scalars()
                .all()
            )
            for table, key in (
                (moc_table, "moc"),
                (rems_table, "rems"),
                (occurrence_table, "occurrences"),
            ):
                children = [
                    {**child, "activity_id": i}
                    for i, p in zip(ids, payloads, strict=True)
                    for child in p[key]
                ]
                if children:
                    conn.execute(insert(table), children)
            written += len(rows)
    engine.dispose()
    return written


if __name__ == "__main__":
    if sys.argv[1] == "--reader":
        print(load_with_reader(sys.argv[2], sys.argv[3]))
    else:
        print(load(sys.argv[1], sys.argv[2]))
