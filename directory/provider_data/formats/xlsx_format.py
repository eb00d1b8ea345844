"""Excel .xlsx: reading a provider's workbook, and writing the Excel template and example.

An .xlsx file is a zip of XML parts, so it is checked as a zip before openpyxl opens it: a
password-protected or old .xls file, too many parts, or parts that would unpack to too much
(a "zip bomb") are refused with a message, not an exception from deep inside openpyxl; so is
a shared-strings table (which openpyxl reads whole, before any row) too big or of too many
strings. The limits themselves are the caller's (`files.py` keeps every limit on a file in one
place).

Reading takes the sheet named "Activities", or else the first, in openpyxl's read-only mode
(rows streamed, not the workbook held); formulas are never calculated: a formula cell is an
error on its row. A text cell is text, even one starting with "=" (Excel keeps "'=x", typed
in a cell, as the text "=x"; the export writes such a title so): only a formula cell is
refused. A sheet going on past a number of rows (counting empty ones) or of cells is refused
when reading reaches it, so that a small file of millions of empty rows costs a moment, not
minutes. Writing adds a Help sheet made from `column_help`, the same words as
the layout page, and writes every text as a string cell (openpyxl would make a text starting
with "=" a formula, and "#N/A" an error).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Literal
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from directory.provider_data.column_help import column_help
from directory.provider_data.formats.rows import Cell, header_columns, row_activity, too_many_rows
from directory.provider_data.layout import FlatColumn, flat_column_specs
from directory.provider_data.reading import Activity, FileRejected, human_size
from directory.provider_data.values import is_empty

EXCEL_SHEET = "Activities"
SAVE_AGAIN = "save it again from Excel as 'Excel Workbook (.xlsx)'"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected workbook
_CONTENT_TYPES = "[Content_Types].xml"
_SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024  # a workbook's is a few KB
# The start of one shared string, <si> (or <x:si ...> with a namespace prefix).
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
# A worksheet's first elements: it is one, it records its size, its rows begin.
_SHEET_HEAD = 1024 * 1024
_WORKSHEET = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?worksheet[\s/>]")
_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension[\s/>]")
_SHEET_DATA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheetData[\s/>]")


def _damaged(error: BaseException) -> FileRejected:
    """A workbook that openpyxl could not read, in words: what kind of damage, never the
    exception's own text (which speaks of Python, not of the workbook)."""
    if isinstance(error, DefusedXmlException):
        reason = "it holds XML with a DTD or entities, which are not accepted"
    elif isinstance(error, OverflowError) or (
        isinstance(error, ValueError) and "digits" in str(error)
    ):
        reason = "a number in it has too many digits"
    elif isinstance(error, KeyError):
        reason = "a part it refers to is missing"
    elif isinstance(error, zipfile.BadZipFile | zlib.error | EOFError):
        reason = "its compressed data is damaged"
    elif isinstance(error, ParseError | SyntaxError):
        reason = "a part of it is not well-formed XML"
    else:
        reason = "a part of it is damaged"
    return FileRejected(f"the workbook cannot be read ({reason}); {SAVE_AGAIN}")


def _shared_strings(
    archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], max_bytes: int, max_count: int
) -> None:
    """Refuse a shared-strings table over the limits, before openpyxl reads it whole: its size
    from the zip's directory, then its strings counted as it unpacks (stopping at the limit)."""
    types = entries.get(_CONTENT_TYPES)
    if types is None or types.file_size > _MAX_CONTENT_TYPES_BYTES:
        return  # openpyxl refuses the workbook, in words, when it opens it
    root = SafeET.fromstring(archive.read(types))
    part = next(
        (
            element.get("PartName", "")
            for element in root
            if element.tag.rsplit("}", 1)[-1] == "Override"
            and element.get("ContentType") == _SHARED_STRINGS_TYPE
        ),
        None,
    )
    entry = entries.get(part[1:]) if part else None
    if entry is None:
        return
    if entry.file_size > max_bytes:
        raise FileRejected(
            f"the workbook's text (its shared strings) unpacks to {human_size(entry.file_size)}; "
            f"the limit is {human_size(max_bytes)}: split it into smaller files"
        )
    count = 0
    tail = b""
    with archive.open(entry) as stream:
        while chunk := stream.read(1024 * 1024):
            window = tail + chunk
            # A match ending within the tail was counted with the chunk before.
            count += sum(1 for m in _SHARED_STRING.finditer(window) if m.end() > len(tail))
            tail = window[-16:]
            if count > max_count:
                raise FileRejected(
                    f"the workbook holds more than {max_count:,} different texts (shared "
                    "strings), more than a file of activities needs: save it again from "
                    "Excel, or split it into smaller files"
                )


def _sheet_sizes(
    archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], max_unsized: int
) -> None:
    """Refuse a big worksheet that does not say its size before its rows.

    openpyxl, opening a workbook, reads each sheet until its <dimension> element (which comes
    before the rows: Excel and every common writer put it there); a sheet without one is
    parsed whole at that moment, and its rows held, before the first row can be read or
    counted. Such a sheet is read if it is small, refused if not.
    """
    for entry in entries:
        if entry.file_size <= max_unsized:
            continue
        with archive.open(entry) as stream:
            head = stream.read(_SHEET_HEAD)
        if not _WORKSHEET.search(head):
            continue
        rows = _SHEET_DATA.search(head)
        dimension = _DIMENSION.search(head, 0, rows.start() if rows else len(head))
        if dimension is None:
            raise FileRejected(
                f"a sheet of the workbook ({entry.filename}) unpacks to "
                f"{human_size(entry.file_size)} but does not record its size (no <dimension> "
                f"before its rows), so it cannot be read a row at a time: {SAVE_AGAIN}"
            )


def check(
    data: bytes,
    *,
    max_unpacked: int,
    max_entries: int,
    max_shared_string_bytes: int,
    max_shared_strings: int,
    max_unsized_sheet_bytes: int,
) -> None:
    """Refuse, with FileRejected, what is not a readable workbook within the limits."""
    if data.startswith(_OLE_MAGIC):
        raise FileRejected(
            "this is not an .xlsx workbook: it is password-protected or an old .xls file; "
            "remove the password and save it as 'Excel Workbook (.xlsx)'"
        )
    if not data.startswith(b"PK\x03\x04"):
        raise FileRejected(
            "this is not an .xlsx workbook; save it from Excel as 'Excel Workbook (.xlsx)'"
        )
    # The entry count, from the end of central directory record, before zipfile reads
    # every entry: a workbook has dozens, a hostile zip may declare millions.
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if end != -1 and len(data) >= end + 12:
        (count,) = struct.unpack_from("<H", data, end + 10)
        if count > max_entries:
            raise FileRejected(
                f"the workbook holds {count:,} parts; an Excel workbook has at most a few "
                "hundred: save it again from Excel"
            )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        raise FileRejected(
            f"the .xlsx file is damaged (it is not a complete zip archive); {SAVE_AGAIN}"
        ) from e
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > max_unpacked:
        raise FileRejected(
            f"the workbook would unpack to {human_size(unpacked)}; the limit is "
            f"{human_size(max_unpacked)}: split it into smaller files"
        )
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise FileRejected("the workbook is encrypted; remove the password and save it again")
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        raise FileRejected(
            "this is a zip file but not an Excel workbook; save it as 'Excel Workbook (.xlsx)'"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            by_name = {entry.filename: entry for entry in archive.infolist()}
            _shared_strings(archive, by_name, max_shared_string_bytes, max_shared_strings)
            _sheet_sizes(archive, archive.infolist(), max_unsized_sheet_bytes)
    except FileRejected:
        raise
    except Exception as e:  # a damaged part: zip, zlib and XML errors of many kinds
        raise _damaged(e) from e


# --- reading ----------------------------------------------------------------------------------


def read(data: bytes, *, max_rows: int, max_cells: int) -> Iterator[Activity]:
    """The workbook's activities, one per non-empty row after the header; `check` first. A
    sheet going on past row `max_rows`, or past `max_cells` cells (empty ones within a row
    included), is refused when reading reaches it."""
    rows = cells(data, max_rows=max_rows, max_cells=max_cells)
    header = next(rows, None)
    if header is None:
        raise FileRejected("the sheet is empty: row 1 should hold the headers")
    headers: list[Any] = [None] * (max((c.position for c in header[1]), default=-1) + 1)
    for cell in header[1]:
        headers[cell.position] = cell.value
    columns = header_columns(headers)
    for number, row in rows:
        if all(c.kind == "value" and is_empty(c.value) for c in row):
            continue
        yield row_activity(number, columns, row)


def cells(data: bytes, *, max_rows: int, max_cells: int) -> Iterator[tuple[int, list[Cell]]]:
    """The worksheet's rows as (row number, the cells holding something); a workbook that
    cannot be read, even halfway through, raises FileRejected. `check` first. Activity files
    and rosters read this."""
    from openpyxl import load_workbook  # imported when needed: it is slow to import
    from openpyxl.utils import get_column_letter

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes about styles it ignores
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as e:  # openpyxl raises many kinds for a broken workbook
        raise _damaged(e) from e
    try:
        sheets = book.worksheets
        if not sheets:
            raise FileRejected("the workbook has no worksheet")
        named = [s for s in sheets if s.title.strip().casefold() == EXCEL_SHEET.casefold()]
        sheet = named[0] if named else sheets[0]
        # The stored dimensions may be wrong (too small: rows lost; too big: a flood of
        # empty rows); read the rows that are there.
        sheet.reset_dimensions()
        scanned = 0
        for number, row in enumerate(sheet.iter_rows(), start=1):
            if number > max_rows:
                raise FileRejected(too_many_rows(max_rows, "the sheet"))
            # openpyxl gives a row every cell up to its last one, empty ones included.
            scanned += len(row)
            if scanned > max_cells:
                raise FileRejected(
                    f"the sheet holds more than {max_cells:,} cells by row {number:,} (empty "
                    "cells within a row count too): delete unused columns to the right of "
                    "your activities, or split the file"
                )
            cells = []
            for i, cell in enumerate(row):
                value = cell.value
                if value is None:
                    continue  # an empty cell: nothing to read or report
                kind: Literal["value", "formula", "error"] = "value"
                if cell.data_type == "f":
                    kind = "formula"
                elif cell.data_type == "e":
                    kind = "error"
                cells.append(Cell(value, kind, get_column_letter(i + 1), i))
            yield number, cells
    except FileRejected:
        raise
    except Exception as e:  # a damaged sheet is found while reading it
        raise _damaged(e) from e
    finally:
        book.close()


# --- writing ----------------------------------------------------------------------------------

HELP_TITLES = ("Column", "XML/JSON name", "Kind", "Required", "Allowed values", "Help", "Example")
HELP_WIDTHS = (30, 34, 28, 24, 60, 60, 30)
_HELP_KEYS = ("column", "name", "kind", "required", "allowed", "help", "example")


def help_rows(columns: Iterable[FlatColumn]) -> Iterator[list[str]]:
    """The Help sheet's rows (after `HELP_TITLES`): what each column holds, in words."""
    for column in columns:
        if column.group == "report":
            yield [column.header, "", "", "", "", column.help + "; ignored on upload", ""]
        else:
            info = column_help(column)
            yield [info[k] for k in _HELP_KEYS]


def as_text_cells(cells: Iterable[Any]) -> None:
    """Keep each text cell a string: openpyxl makes a text starting with "=" a formula, which
    a spreadsheet would run, and "#N/A" an error cell (our own reader refuses both)."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def write(rows: list[list[Any]]) -> bytes:
    """A workbook of the "Activities" sheet (the header and `rows`, from `rows.flat_row` with
    native=True) and the Help sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = EXCEL_SHEET
    columns = flat_column_specs()
    sheet.append([c.header for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
        as_text_cells(sheet[sheet.max_row])
    for i, column in enumerate(columns, start=1):
        letter = get_column_letter(i)
        longest = max([len(column.header)] + [len(str(r[i - 1] or "")) for r in rows])
        sheet.column_dimensions[letter].width = min(max(longest + 2, 12), 60)
        spec = column.spec
        if spec is not None and spec.kind == "date":
            for cell in sheet[letter][1:]:
                cell.number_format = "yyyy-mm-dd"
        elif spec is not None and spec.kind == "money":
            for cell in sheet[letter][1:]:
                cell.number_format = "0.00"
    sheet.freeze_panes = "A2"

    help_sheet = book.create_sheet("Help")
    help_sheet.append(HELP_TITLES)
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for help_row in help_rows(columns):
        help_sheet.append(help_row)
        as_text_cells(help_sheet[help_sheet.max_row])
    for i, width in enumerate(HELP_WIDTHS, start=1):
        help_sheet.column_dimensions[get_column_letter(i)].width = width
    for row in help_sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    help_sheet.freeze_panes = "A2"

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
