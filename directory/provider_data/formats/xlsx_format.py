"""Excel .xlsx: reading a provider's workbook, and writing the Excel template and example.

An .xlsx file is a zip of XML parts, so it is checked as a zip before openpyxl opens it: a
password-protected or old .xls file, too many parts, or parts that would unpack to too much
(a "zip bomb") are refused with a message, not an exception from deep inside openpyxl. The
limits themselves are the caller's (`files.py` keeps every limit on a file in one place).

Reading takes the sheet named "Activities", or else the first, in openpyxl's read-only mode
(rows streamed, not the workbook held); formulas are never calculated: a formula cell is an
error on its row. Writing adds a Help sheet made from `column_help`, the same words as the
layout page.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any, Literal

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from directory.provider_data.column_help import column_help
from directory.provider_data.formats.rows import Cell, header_columns, row_activity
from directory.provider_data.layout import flat_column_specs
from directory.provider_data.reading import Activity, FileRejected, human_size
from directory.provider_data.values import is_empty

EXCEL_SHEET = "Activities"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected workbook


def _brief(error: BaseException) -> str:
    """An exception in one line, for a message to a person."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def check(data: bytes, *, max_unpacked: int, max_entries: int) -> None:
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
        raise FileRejected(f"the .xlsx file is damaged ({e}); save it again from Excel") from e
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


# --- reading ----------------------------------------------------------------------------------


def read(data: bytes) -> Iterator[Activity]:
    """The workbook's activities, one per non-empty row after the header; `check` first."""
    rows = _cells(data)
    header = next(rows, None)
    if header is None:
        raise FileRejected("the sheet is empty: row 1 should hold the headers")
    columns = header_columns([cell.value for cell in header[1]])
    for number, cells in rows:
        if all(c.kind == "value" and is_empty(c.value) for c in cells):
            continue
        yield row_activity(number, columns, cells)


def _cells(data: bytes) -> Iterator[tuple[int, list[Cell]]]:
    """The worksheet's rows as (row number, cells); a workbook that cannot be read, even
    halfway through, raises FileRejected."""
    from openpyxl import load_workbook  # imported when needed: it is slow to import
    from openpyxl.utils import get_column_letter

    damaged = (
        "the workbook cannot be read ({}); save it again from Excel as 'Excel Workbook (.xlsx)'"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes about styles it ignores
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as e:  # openpyxl raises many kinds for a broken workbook
        raise FileRejected(damaged.format(_brief(e))) from e
    try:
        sheets = book.worksheets
        if not sheets:
            raise FileRejected("the workbook has no worksheet")
        named = [s for s in sheets if s.title.strip().casefold() == EXCEL_SHEET.casefold()]
        sheet = named[0] if named else sheets[0]
        # The stored dimensions may be wrong (too small: rows lost; too big: a flood of
        # empty rows); read the rows that are there.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(), start=1):
            cells = []
            for i, cell in enumerate(row, start=1):
                value = cell.value
                kind: Literal["value", "formula", "error"] = "value"
                if cell.data_type == "f" or (
                    isinstance(value, str) and value.lstrip().startswith("=")
                ):
                    kind = "formula"
                elif cell.data_type == "e":
                    kind = "error"
                cells.append(Cell(value, kind, get_column_letter(i)))
            yield number, cells
    except FileRejected:
        raise
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as e:
        raise FileRejected(f"the workbook holds XML with a DTD or entities ({e})") from e
    except Exception as e:  # a damaged sheet is found while reading it
        raise FileRejected(damaged.format(_brief(e))) from e
    finally:
        book.close()


# --- writing ----------------------------------------------------------------------------------


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
    titles = ["Column", "XML/JSON name", "Kind", "Required", "Allowed values", "Help", "Example"]
    keys = ["column", "name", "kind", "required", "allowed", "help", "example"]
    help_sheet.append(titles)
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for column in columns:
        info = column_help(column)
        help_sheet.append([info[k] for k in keys])
    for i, width in enumerate((30, 34, 28, 24, 60, 60, 30), start=1):
        help_sheet.column_dimensions[get_column_letter(i)].width = width
    for row in help_sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    help_sheet.freeze_panes = "A2"

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
