"""A provider's filtered list of activities as a CSV or Excel file in the batch import's own
layout, so that the provider can fix what the list shows and upload the file back.

Each row is one activity exactly as an upload would give it (`batch.payload_of`, then
`rows.flat_row`), then the report columns (`layout.REPORT_COLUMNS`: the registry id, listed or
not, every reason, each board registration's state), which the readers ignore. Uploading an
export unchanged therefore changes nothing; uploading it with one cell fixed updates that one
activity.

The file must be one an upload accepts, so the batch import's limits (`files.py`, read when an
export is made, so a test can lower them there) bound it: a list of more activities than one
file may hold is refused before anything is written, and one whose file grows past the size
limit is refused as soon as it does. Only then can the answer be a 400 rather than half a file,
so the file is written first, into a temporary file (on disk past a few megabytes), and sent
from there a chunk at a time. The activities are read a batch at a time
(`standing.all_matching`), never all of them at once.

Text cells are safe to open in a spreadsheet: CSV text that could start a formula is guarded
with an apostrophe (`rows.csv_guarded`), which reading drops; Excel text is a string cell.
An activity with more than one REMS program cannot be one row (`flat_row` refuses it): its row
holds the first, and its "Export note" says what uploading that row would do.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import IO, Any

from sqlalchemy.orm import Session

from directory.provider_data import files
from directory.provider_data.batch import payload_of
from directory.provider_data.formats import csv_format, xlsx_format
from directory.provider_data.formats.rows import flat_row
from directory.provider_data.layout import FlatColumn, flat_column_specs, report_column_specs
from directory.provider_data.reading import human_size
from directory.registry import standing
from directory.registry.models import Provider

__all__ = [
    "FORMATS",
    "Download",
    "ExportTooLarge",
    "columns",
    "export",
    "export_row",
    "filename",
]

FORMATS = ("csv", "xlsx")
# Sent to the client this much at a time; the file stays in memory up to SPOOL_IN_MEMORY.
CHUNK_BYTES = 64 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
NARROW = "narrow the filters (a listing state, a reason, a status, a board) and export each part"


class ExportTooLarge(ValueError):
    """The filtered list would make a file that one upload could not hold; the message says
    how many activities, which limit, and to narrow the filters."""


@dataclass
class Download:
    filename: str
    content_type: str
    size: int
    chunks: Iterator[bytes]


def columns() -> tuple[FlatColumn, ...]:
    """The export's columns: the layout's, then the report columns."""
    return (*flat_column_specs(), *report_column_specs())


def _rems_note(payload: dict[str, Any]) -> str | None:
    programs = [r["program"] for r in payload["rems"]]
    if len(programs) <= 1:
        return None
    return (
        f"this activity has {len(programs)} REMS programs ({'; '.join(programs)}) but a CSV or "
        f"Excel row holds one, so this row holds only {programs[0]}: uploading the row would "
        "replace the activity's REMS programs with that one. Send this activity as XML or "
        "JSON instead, or delete its row before uploading"
    )


def export_row(row: standing.Row, *, native: bool) -> list[Any]:
    """One activity as an export row: the layout's cells (Excel's native ones when `native`),
    then the report columns."""
    payload = payload_of(row.activity)
    note = _rems_note(payload)
    if note is not None:
        payload = {**payload, "rems": payload["rems"][:1]}
    cells = flat_row(payload, native=native)
    report = [
        row.activity.id,
        "yes" if row.listed else "no",
        "\n".join(r.text for r in row.reasons) or None,
        "\n".join(line.status.summary() for line in row.boards) or None,
        note,
    ]
    return cells + report


def filename(query: standing.Query, day: date, fmt: str) -> str:
    """`activities-not-listed-2026-12-01.csv`: the filters in a few words, and the day."""
    words: list[str] = []
    if query.listed is not None:
        words.append("listed" if query.listed else "not listed")
    words += query.reasons
    words += [w for w in (query.field, *query.statuses, *query.formats, query.board) if w]
    words += [w for w in (query.board_state, query.board_field) if w]
    if query.text:
        words += ["matching", query.text]
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join(words).lower()).strip("-")
    slug = slug[:80].rstrip("-")
    return f"activities-{slug}-{day.isoformat()}.{fmt}" if slug else f"activities-{day}.{fmt}"


def _count_problem(total: int, fmt: str, width: int) -> str | None:
    """Why `total` activities cannot be one upload, or None."""
    if total > files.MAX_ACTIVITIES or total + 1 > files.MAX_SHEET_ROWS:
        most = min(files.MAX_ACTIVITIES, files.MAX_SHEET_ROWS - 1)
        return (
            f"{total:,} activities match these filters, more than one upload may hold (at most "
            f"{most:,} activities a file): {NARROW}"
        )
    cells = (total + 1) * width
    if fmt == "xlsx" and cells > files.MAX_SHEET_CELLS:
        return (
            f"{total:,} activities of {width} columns make {cells:,} cells, more than an "
            f"uploaded sheet may hold ({files.MAX_SHEET_CELLS:,} cells): {NARROW}, or export CSV"
        )
    return None


def _too_big(fmt: str, total: int) -> ExportTooLarge:
    kind = "CSV" if fmt == "csv" else "Excel"
    return ExportTooLarge(
        f"the {kind} file of these {total:,} activities would be more than "
        f"{human_size(files.MAX_FILE_BYTES)}, the most one upload may hold: {NARROW}"
    )


def _write_csv(rows: Iterable[standing.Row], total: int, out: IO[bytes]) -> None:
    written = 0
    for chunk in csv_format.stream(columns(), (export_row(r, native=False) for r in rows)):
        written += len(chunk)
        if written > files.MAX_FILE_BYTES:
            raise _too_big("csv", total)
        out.write(chunk)


def _record_size(sheet: Any, columns: int, rows: int) -> None:
    """Make a write-only sheet record its size (`<dimension>`) before its rows.

    An upload refuses a big sheet that does not (`files.MAX_XLSX_UNSIZED_SHEET_BYTES`: openpyxl
    would read it whole on opening the workbook). openpyxl's write-only sheet writes one only
    when asked through this hook, and the size is known before the first row: the activities
    counted, the header, the columns. (Readers read the rows that are there, whatever it says.)
    """
    from openpyxl.utils import get_column_letter

    sheet.calculate_dimension = lambda: f"A1:{get_column_letter(columns)}{rows}"


def _write_xlsx(rows: Iterable[standing.Row], total: int, out: IO[bytes]) -> None:
    """The Activities sheet and the Help sheet, in openpyxl's write-only mode: each row goes to
    a temporary file as it is made, so 20,000 activities never sit in memory as cells."""
    from openpyxl import Workbook  # imported when needed: it is slow to import
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    all_columns = columns()
    book = Workbook(write_only=True)
    sheet = book.create_sheet(xlsx_format.EXCEL_SHEET)
    _record_size(sheet, len(all_columns), total + 1)
    for i, column in enumerate(all_columns, start=1):
        width = 50 if column.group == "report" else min(max(len(column.header) + 2, 12), 60)
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")

    money = {i for i, c in enumerate(all_columns) if c.spec is not None and c.spec.kind == "money"}

    def styled(value: Any, *, on: Any = sheet, **style: Any) -> Any:
        made = WriteOnlyCell(on, value)
        if isinstance(value, str):
            made.data_type = "s"  # text, never a formula or an error, whatever it holds
        for name, setting in style.items():
            setattr(made, name, setting)
        return made

    def cells(values: list[Any]) -> list[Any]:
        """The row's values, most as they are (openpyxl makes a plain value a cell at a
        fraction of the cost of a cell made here); a cell only for what needs one."""
        out = []
        for i, value in enumerate(values):
            if isinstance(value, str):
                if value.startswith("=") or value in ERROR_CODES:
                    value = styled(value)  # openpyxl would write a formula or an error
                elif "\n" in value:
                    value = styled(value, alignment=wrap)  # a report's lines, shown as lines
            elif i in money and value is not None:
                value = styled(value, number_format="0.00")
            out.append(value)
        return out

    sheet.append([styled(c.header, font=bold) for c in all_columns])
    for row in rows:
        sheet.append(cells(export_row(row, native=True)))

    help_sheet = book.create_sheet("Help")
    _record_size(help_sheet, len(xlsx_format.HELP_TITLES), len(all_columns) + 1)
    for i, width in enumerate(xlsx_format.HELP_WIDTHS, start=1):
        help_sheet.column_dimensions[get_column_letter(i)].width = width
    help_sheet.freeze_panes = "A2"
    help_sheet.append([styled(t, on=help_sheet, font=bold) for t in xlsx_format.HELP_TITLES])
    for help_row in xlsx_format.help_rows(all_columns):
        help_sheet.append([styled(t, on=help_sheet, alignment=wrap) for t in help_row])
    book.save(out)
    if out.tell() > files.MAX_FILE_BYTES:
        raise _too_big("xlsx", total)
    out.seek(0)
    with zipfile.ZipFile(out) as archive:
        unpacked = sum(entry.file_size for entry in archive.infolist())
    if unpacked > files.MAX_XLSX_UNCOMPRESSED_BYTES:
        raise ExportTooLarge(
            f"the Excel file of these {total:,} activities would unpack to "
            f"{human_size(unpacked)}, more than an uploaded workbook may "
            f"({human_size(files.MAX_XLSX_UNCOMPRESSED_BYTES)}): {NARROW}, or export CSV"
        )


def _sent(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


def export(
    session: Session, provider: Provider, query: standing.Query, day: date, fmt: str
) -> Download:
    """The provider's activities matching `query` (its page aside: the whole list) as a file
    in `fmt` ("csv" or "xlsx"), or ExportTooLarge. Call `standing.refresh` first."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    whole = replace(query, page=1, per_page=1)
    total = standing.page(session, provider, whole, day).total
    problem = _count_problem(total, fmt, len(columns()))
    if problem is not None:
        raise ExportTooLarge(problem)
    rows = standing.all_matching(session, provider, whole, day)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - _sent closes it
    try:
        if fmt == "csv":
            _write_csv(rows, total, spool)
        else:
            _write_xlsx(rows, total, spool)
        spool.seek(0, 2)
        size = spool.tell()
    except BaseException:
        spool.close()
        raise
    return Download(filename(query, day, fmt), files.CONTENT_TYPES[f".{fmt}"], size, _sent(spool))
