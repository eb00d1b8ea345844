"""What CSV and Excel share: one activity per row, under the layout's flat column headers.

Reading: row 1's headers are matched to the layout's columns (unknown, repeated and missing
columns refuse the file), then each row's cells become one activity, located as "row 14" with
the header as row 1; the report columns an export adds (`layout.REPORT_COLUMNS`) are known
and ignored. Writing: `flat_row` is one payload as a row in the same column order, with text
cells for CSV or native dates and numbers for Excel.

Formula injection: a spreadsheet runs a cell starting with = + - @ (or a tab or carriage
return), so a text written to CSV that starts with one of those gets an apostrophe before it
(`csv_guarded`), as spreadsheets themselves mark text; reading drops that apostrophe again
(`csv_unguarded`), so the text reads back exactly and a guarded "=..." is text, not a formula.
Excel cells need no guard: a text is written as a string cell, which is never calculated.

The two formats differ only in how cells are got (text and a delimiter; a workbook's typed
cells), which `csv_format` and `xlsx_format` hold.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from directory.provider_data import reading
from directory.provider_data.coerce import (
    APPROVAL_SEPARATOR,
    COORDINATES_MARK,
    coerce_activity,
    raw_from_flat,
)
from directory.provider_data.layout import (
    FieldSpec,
    FlatColumn,
    flat_column_specs,
    flat_columns,
    match_header,
    required_headers,
)
from directory.provider_data.reading import Activity, FileRejected, Unknowns, named
from directory.provider_data.values import (
    LIST_SEPARATOR,
    degrees_text,
    dollars,
    is_empty,
    plain_number,
    printable,
)
from directory.registry.rules import Problem

FORMULA_MESSAGE = "formulas are not accepted; paste the value instead"
# What makes a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_GUARD = "'"
# Kinds whose CSV cells are written from numbers, dates and yes/no: a negative longitude is a
# number, not a formula, and stays as written.
_UNGUARDED_KINDS = frozenset({"number", "degrees", "money", "date", "yes_no"})


class Cell(NamedTuple):
    """One spreadsheet cell: its value, whether it is a formula or an error, its column name
    and its position in the row (0 for the first column: a row may leave out empty cells)."""

    value: Any
    kind: Literal["value", "formula", "error"]
    column: str  # "B" in Excel, "2" in a CSV
    position: int


def too_many_rows(max_rows: int, what: str = "the file") -> str:
    """The message refusing a file or sheet that goes on past row `max_rows`."""
    return (
        f"{what} goes on past row {max_rows:,} (counting empty rows), more than we read in "
        "one file: delete any empty rows below your activities, or split the file"
    )


def _guard_follows(text: str) -> bool:
    """Whether a CSV_GUARD before `text` would be a guard: `text` starts with a tab or a
    carriage return, or its first character after blanks is one of the others or a guard."""
    if text[:1] in FORMULA_STARTS:
        return True
    first = text.lstrip()[:1]  # " =x" is read as a formula too
    return bool(first) and (first in FORMULA_STARTS or first == CSV_GUARD)


def csv_guarded(text: str) -> str:
    """`text` as a CSV cell that no spreadsheet runs: an apostrophe first when it could start
    a formula (" =x" too: the reader refuses it as one), or when it starts with what reads as
    a guard itself ("'=x", "'hello"), so that `csv_unguarded` gives `text` back exactly."""
    return CSV_GUARD + text if _guard_follows(text) else text


def csv_unguarded(text: str) -> str:
    """A CSV cell's text without the guard apostrophe `csv_guarded` puts before it."""
    if text.startswith(CSV_GUARD) and _guard_follows(text[1:]):
        return text[1:]
    return text


def csv_cell(column: FlatColumn, value: Any) -> str:
    """One value of `flat_row` (or a report column) as CSV text, guarded when it is text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    if column.spec is not None and column.spec.kind in _UNGUARDED_KINDS:
        return value
    return csv_guarded(value)


# --- reading ----------------------------------------------------------------------------------


def header_columns(headers: list[Any]) -> list[FlatColumn | None]:
    """Row 1's headers as layout columns (None under an empty header), or FileRejected naming
    every unknown, repeated and missing column at once."""
    columns: list[FlatColumn | None] = []
    unknown: list[str] = []
    repeated: list[str] = []
    for header in headers:
        text = "" if header is None else str(header).strip()
        if not text:
            columns.append(None)
            continue
        column = match_header(text)
        if column is None:
            hint = []
            if len(unknown) < reading.MAX_UNKNOWN_REPORTED:  # suggestions for those named
                hint = difflib.get_close_matches(text[:100], flat_columns(), n=1, cutoff=0.75)
            unknown.append(
                f"'{printable(text)}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
            )
        elif column in columns:
            repeated.append(f"'{printable(text)}'")
        columns.append(column)
    problems = []
    if unknown:
        problems.append(
            f"unknown columns: {named(unknown)}; use the headers of the template "
            "(they are listed in the layout documentation)"
        )
    if repeated:
        problems.append(f"columns given twice: {named(repeated)}")
    present = {c.header for c in columns if c is not None}
    missing = [h for h in required_headers() if h not in present]
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if problems:
        raise FileRejected("row 1 (the header): " + "; ".join(problems))
    return columns


def row_activity(row: int, columns: list[FlatColumn | None], cells: list[Cell]) -> Activity:
    """One spreadsheet row."""
    problems: list[Problem] = []
    values: dict[FlatColumn, Any] = {}
    stray = Unknowns("cells without a header")
    for cell in cells:
        column = columns[cell.position] if cell.position < len(columns) else None
        if column is not None and column.group == "report":
            continue  # the export's own answer, whatever the provider left there
        if cell.kind == "value" and column is not None:
            values[column] = cell.value
            continue
        label = column.label if column is not None else f"column {cell.column}"
        where = f" (cell {cell.column}{row})" if cell.column.isalpha() else ""
        if cell.kind == "formula":
            problems.append(Problem(label, FORMULA_MESSAGE + where))
        elif cell.kind == "error":
            problems.append(
                Problem(
                    label,
                    f"holds the spreadsheet error {printable(str(cell.value))}{where}; "
                    "type the value",
                )
            )
        elif not is_empty(cell.value):

            def no_header(label: str = label) -> Problem:
                return Problem(label, "has a value but no header; add the header or clear it")

            stray.add(problems, no_header)
    stray.finish(problems, "row")
    payload, more = coerce_activity(raw_from_flat(values))
    return f"row {row}", payload, problems + more


# --- writing ----------------------------------------------------------------------------------


def occurrences_cell(occurrences: list[dict[str, Any]]) -> str:
    """The occurrences as one cell, in the shape `coerce.parse_occurrences_cell` reads."""
    parts = []
    for occ in occurrences:
        text = f"{occ['start_date'].isoformat()}..{occ['end_date'].isoformat()}"
        place = [occ.get(k) or "" for k in ("city", "state", "country")]
        if occ.get("venue"):
            place.insert(0, occ["venue"])
        if any(place):
            text += " " + ", ".join(place)
        if occ.get("latitude") is not None and occ.get("longitude") is not None:
            text += (
                f" {COORDINATES_MARK} {degrees_text(occ['latitude'])}, "
                f"{degrees_text(occ['longitude'])}"
            )
        parts.append(text)
    return f" {LIST_SEPARATOR} ".join(parts)


def approvals_cell(approvals: list[dict[str, Any]]) -> str:
    """The approvals as one cell, in the shape `coerce.parse_approvals_cell` reads."""
    return f" {APPROVAL_SEPARATOR} ".join(
        " ".join(part for part in (a["body"], a.get("id")) if part) for a in approvals
    )


def _cell_value(spec: FieldSpec, value: Any, native: bool) -> Any:
    """A typed value as a CSV cell (text) or an Excel cell (native dates and numbers)."""
    if value is None or value == []:
        return None
    if spec.kind == "list":
        return f" {LIST_SEPARATOR} ".join(value)
    if spec.kind == "yes_no":
        return "yes" if value else "no"
    if spec.kind == "date":
        return value if native else value.isoformat()
    if spec.kind == "number":
        return plain_number(value) if native else f"{value:g}"
    if spec.kind == "degrees":
        return plain_number(value) if native else degrees_text(value)
    if spec.kind == "money":
        if value == 0:
            return "free"
        return value / 100 if native else dollars(value)
    return value


def flat_row(payload: Mapping[str, Any], native: bool = False) -> list[Any]:
    """One activity as a CSV/Excel row, in `flat_columns()` order."""
    boards = {m["board"]: m for m in payload["moc"]}
    if len(payload["rems"]) > 1:
        raise ValueError("a CSV/Excel row holds one REMS program; use XML or JSON for more")
    rems = payload["rems"][0] if payload["rems"] else None
    row: list[Any] = []
    for column in flat_column_specs():
        spec = column.spec
        if column.group == "occurrences":
            row.append(occurrences_cell(payload["occurrences"]) or None)
            continue
        if column.group == "approvals":
            row.append(approvals_cell(payload["approvals"]) or None)
            continue
        assert spec is not None
        if column.group == "field":
            key = "fee_cents" if spec.name == "fee" else spec.name
            row.append(_cell_value(spec, payload[key], native))
        elif column.group == "moc":
            reg = boards.get(column.board or "")
            row.append(_cell_value(spec, reg[spec.name], native) if reg else None)
        else:
            row.append(_cell_value(spec, rems[spec.name], native) if rems else None)
    return row
