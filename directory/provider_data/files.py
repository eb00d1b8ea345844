"""Reading a provider's batch file (CSV, Excel .xlsx, XML or JSON) into records, streaming.

A file problem that stops the whole file (wrong type, too big, not text, unreadable, a DTD,
unknown columns) raises `FileRejected` with a message a person can act on. A problem with one
activity becomes a `Problem` on its `Record`, located so the provider can find it: "row 14"
(CSV/Excel, the header is row 1) or "activity 3 (LU-2027-014)" (XML/JSON).

Records are produced one at a time: a 50,000-row CSV or XML file needs the memory of a row, not
of the file (beyond the file's bytes themselves). JSON is parsed whole; it is capped by the same
size limit.

Nothing in a file is ever evaluated: spreadsheet formulas are refused, not computed, and XML
with a DTD or entities is refused before anything is expanded.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
import os
import re
import struct
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal, NamedTuple
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from directory.provider_data.coerce import (
    NESTED_KEYS,
    coerce_activity,
    empty_payload,
    is_empty,
    raw_from_flat,
)
from directory.provider_data.layout import (
    LAYOUT,
    FlatColumn,
    flat_columns,
    human,
    match_header,
    required_headers,
)
from directory.registry.rules import Problem

MAX_FILE_BYTES = 50 * 1024 * 1024
# An .xlsx is a zip: refuse one that would unpack to more than this (a "zip bomb").
MAX_XLSX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_XLSX_ENTRIES = 10_000
ACCEPTED_EXTENSIONS = (".csv", ".xlsx", ".xml", ".json")
CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xml": "application/xml",
    ".json": "application/json",
}
EXCEL_SHEET = "Activities"
FORMULA_MESSAGE = "formulas are not accepted; paste the value instead"
NOT_UTF8 = "the file is not UTF-8 text; in Excel choose 'CSV UTF-8' when saving"
DTD_MESSAGE = (
    "XML with a DTD or entities is not accepted: remove the <!DOCTYPE ...> declaration and "
    "write characters directly (UTF-8) or as &amp; &lt; &gt; &quot; &apos;"
)

_ID_FIELD = LAYOUT.field("provider_activity_id")
_ID_LABEL = human(_ID_FIELD.label)
_CHUNK = 1024 * 1024
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected workbook


class FileRejected(ValueError):
    """The whole file cannot be read; the message says why and what to do."""


@dataclass
class Record:
    """One activity as read from a file: where it is, its canonical payload, its problems."""

    location: str
    payload: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


class Cell(NamedTuple):
    """One spreadsheet cell: its value, whether it is a formula or an error, its column name."""

    value: Any
    kind: Literal["value", "formula", "error"]
    column: str  # "B" in Excel, "2" in a CSV


def _brief(error: BaseException) -> str:
    """An exception in one line, for a message to a person."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _size(n: float) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{round(n / scale, 1):g} {unit}"
    return f"{int(n)} bytes"


def _first_char(data: bytes) -> str:
    """The first character that is not white space, after any byte order mark."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            head = data[len(bom) : len(bom) + 4096].decode(encoding, errors="ignore")
            break
    else:
        head = data[:4096].decode("utf-8", errors="ignore")
    head = head.lstrip()
    return head[:1]


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether `data` decodes cleanly, checked a chunk at a time (no copy of the whole text)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(data[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


class FileReader:
    """Reads one uploaded file. The constructor checks what can be checked at once (type, size,
    encoding) and raises `FileRejected`; `records()` streams the activities and may raise
    `FileRejected` too (a bad header, malformed XML found halfway). `records()` can be called
    again for a second pass. `warnings` holds file-level warnings (e.g. the encoding used)."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self.data = data
        self.warnings: list[Problem] = []
        self.extension = self._extension(filename)
        if len(data) > MAX_FILE_BYTES:
            raise FileRejected(
                f"{os.path.basename(filename) or 'the file'} is {_size(len(data))}; the limit "
                f"is {_size(MAX_FILE_BYTES)}: split it into smaller files"
            )
        if not data[:65536].strip() and not data.strip():
            raise FileRejected("the file is empty")
        self.encoding = ""
        if self.extension == ".csv":
            self.encoding = self._csv_encoding(data)
        elif self.extension == ".xlsx":
            self._check_xlsx(data)
        elif self.extension == ".xml" and _first_char(data) != "<":
            raise FileRejected("this is not an XML file: it should begin with '<'")
        elif self.extension == ".json" and _first_char(data) not in ("{", "["):
            raise FileRejected(
                "this is not a JSON file: it should begin with '{' (an object with "
                "\"activities\") or '[' (a list of activities)"
            )

    # --- checks -------------------------------------------------------------------------------

    @staticmethod
    def _extension(filename: str) -> str:
        extension = os.path.splitext(filename)[1].lower()
        if extension in ACCEPTED_EXTENSIONS:
            return extension
        accepted = ", ".join(ACCEPTED_EXTENSIONS)
        if extension in (".xls", ".xlsm", ".xlsb", ".xltx", ".xltm", ".ods", ".numbers"):
            raise FileRejected(
                f"{extension} files are not accepted; in Excel choose Save As > "
                f"'Excel Workbook (.xlsx)' (or 'CSV UTF-8'). Accepted types: {accepted}"
            )
        shown = extension or "a file without an extension"
        raise FileRejected(f"{shown} is not a type we read; send one of: {accepted}")

    def _csv_encoding(self, data: bytes) -> str:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            if _decodes(data, "utf-16"):
                return "utf-16"  # NUL characters are checked line by line while reading
            raise FileRejected(NOT_UTF8)
        if b"\x00" in data:
            raise FileRejected(f"{NOT_UTF8} (it holds NUL bytes: is it really a CSV file?)")
        if data.startswith(codecs.BOM_UTF8):
            if _decodes(data, "utf-8-sig"):
                return "utf-8-sig"
            raise FileRejected(NOT_UTF8)
        if _decodes(data, "utf-8"):
            return "utf-8"
        if not _CONTROL_BYTES.search(data) and _decodes(data, "cp1252"):
            self.warnings.append(
                Problem(
                    "file",
                    "the file is not UTF-8, so it was read as Windows-1252 (Western European); "
                    "check accented letters, and next time choose 'CSV UTF-8' when saving",
                    "warning",
                )
            )
            return "cp1252"
        raise FileRejected(NOT_UTF8)

    @staticmethod
    def _check_xlsx(data: bytes) -> None:
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
            if count > MAX_XLSX_ENTRIES:
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
        if unpacked > MAX_XLSX_UNCOMPRESSED_BYTES:
            raise FileRejected(
                f"the workbook would unpack to {_size(unpacked)}; the limit is "
                f"{_size(MAX_XLSX_UNCOMPRESSED_BYTES)}: split it into smaller files"
            )
        if any(entry.flag_bits & 0x1 for entry in entries):
            raise FileRejected("the workbook is encrypted; remove the password and save it again")
        names = {entry.filename for entry in entries}
        if "xl/workbook.xml" not in names:
            raise FileRejected(
                "this is a zip file but not an Excel workbook; save it as 'Excel Workbook (.xlsx)'"
            )

    # --- records ------------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every activity in the file, in order, with its problems; a repeated activity id is
        an error on its second appearance."""
        readers = {
            ".csv": self._csv_rows,
            ".xlsx": self._xlsx_rows,
            ".xml": self._xml_activities,
            ".json": self._json_activities,
        }
        seen: dict[str, str] = {}
        for where, payload, problems in readers[self.extension]():
            activity_id = payload.get("provider_activity_id")
            location = where
            if activity_id:
                first = seen.get(activity_id)
                if first is None:
                    seen[activity_id] = where
                else:
                    problems.append(
                        Problem(_ID_LABEL, f"'{activity_id}' already appears in {first}")
                    )
                if self.extension in (".xml", ".json"):
                    location = f"{where} ({activity_id})"
            yield Record(location, payload, problems)

    # --- CSV and Excel ------------------------------------------------------------------------

    @staticmethod
    def _columns(headers: list[Any]) -> list[FlatColumn | None]:
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
                hint = difflib.get_close_matches(text, flat_columns(), n=1, cutoff=0.75)
                unknown.append(f"'{text}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
            elif column in columns:
                repeated.append(f"'{text}'")
            columns.append(column)
        problems = []
        if unknown:
            problems.append(
                f"unknown columns: {', '.join(unknown)}; use the headers of the template "
                "(they are listed in the layout documentation)"
            )
        if repeated:
            problems.append(f"columns given twice: {', '.join(repeated)}")
        present = {c.header for c in columns if c is not None}
        missing = [h for h in required_headers() if h not in present]
        if missing:
            problems.append(f"missing required columns: {', '.join(missing)}")
        if problems:
            raise FileRejected("row 1 (the header): " + "; ".join(problems))
        return columns

    @staticmethod
    def _flat_record(
        row: int,
        columns: list[FlatColumn | None],
        cells: list[Cell],
    ) -> tuple[str, dict[str, Any], list[Problem]]:
        """One spreadsheet row."""
        problems: list[Problem] = []
        values: dict[FlatColumn, Any] = {}
        for i, cell in enumerate(cells):
            column = columns[i] if i < len(columns) else None
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
                        label, f"holds the spreadsheet error {cell.value}{where}; type the value"
                    )
                )
            elif not is_empty(cell.value):
                problems.append(
                    Problem(label, "has a value but no header; add the header or clear it")
                )
        payload, more = coerce_activity(raw_from_flat(values))
        return f"row {row}", payload, problems + more

    def _text_lines(self) -> Iterator[str]:
        stream = io.TextIOWrapper(io.BytesIO(self.data), encoding=self.encoding, newline="")
        for number, line in enumerate(stream, start=1):
            if "\x00" in line:
                raise FileRejected(f"{NOT_UTF8} (line {number} holds a NUL character)")
            yield line

    def _csv_rows(self) -> Iterator[tuple[str, dict[str, Any], list[Problem]]]:
        lines = self._text_lines()
        first = next(lines, None)
        if first is None:
            raise FileRejected("the file is empty")
        try:
            delimiter = csv.Sniffer().sniff(first[:65536], delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
        reader = csv.reader(chain([first], lines), delimiter=delimiter)
        number = 0
        try:
            header = next(reader)
            number = 1
            columns = self._columns(header)
            for number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                cells = [
                    Cell(text, "formula" if text.lstrip().startswith("=") else "value", str(i))
                    for i, text in enumerate(row, start=1)
                ]
                yield self._flat_record(number, columns, cells)
        except csv.Error as e:
            raise FileRejected(f"row {number + 1}: the CSV cannot be read ({e})") from e

    def _xlsx_rows(self) -> Iterator[tuple[str, dict[str, Any], list[Problem]]]:
        rows = self._xlsx_cells()
        header = next(rows, None)
        if header is None:
            raise FileRejected("the sheet is empty: row 1 should hold the headers")
        columns = self._columns([cell.value for cell in header[1]])
        for number, cells in rows:
            if all(c.kind == "value" and is_empty(c.value) for c in cells):
                continue
            yield self._flat_record(number, columns, cells)

    def _xlsx_cells(self) -> Iterator[tuple[int, list[Cell]]]:
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
                book = load_workbook(io.BytesIO(self.data), read_only=True, data_only=False)
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

    # --- XML ----------------------------------------------------------------------------------

    def _xml_activities(self) -> Iterator[tuple[str, dict[str, Any], list[Problem]]]:
        events = SafeET.iterparse(
            io.BytesIO(self.data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        depth = 0
        count = 0
        root: Element | None = None
        try:
            for event, element in events:
                if event == "start":
                    depth += 1
                    tag = _local(element.tag)
                    if depth == 1:
                        if tag != "activities":
                            raise FileRejected(
                                f"the XML's top element must be <activities>, not <{tag}>"
                            )
                        root = element
                    elif depth == 2 and tag != "activity":
                        raise FileRejected(
                            f"<activities> holds only <activity> elements; found <{tag}> "
                            f"after activity {count}"
                        )
                    continue
                depth -= 1
                if depth == 1:
                    count += 1
                    where = f"activity {count}"
                    raw, problems = _xml_raw(element, where)
                    payload, more = coerce_activity(raw, where=f"{where}/")
                    assert root is not None
                    root.clear()  # forget the activities already read: constant memory
                    yield where, payload, problems + more
        except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as e:
            raise FileRejected(DTD_MESSAGE) from e
        except SafeET.ParseError as e:
            line, column = getattr(e, "position", (0, 0))
            message = str(e).split(":")[0]
            raise FileRejected(
                f"the XML is not well-formed at line {line}, column {column + 1}: {message}"
            ) from e

    # --- JSON ---------------------------------------------------------------------------------

    def _json_activities(self) -> Iterator[tuple[str, dict[str, Any], list[Problem]]]:
        try:
            document = json.loads(self.data)
        except json.JSONDecodeError as e:
            raise FileRejected(
                f"the JSON is not valid at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from e
        except UnicodeDecodeError as e:
            raise FileRejected("the JSON is not UTF-8 text") from e
        except (ValueError, RecursionError) as e:
            raise FileRejected(f"the JSON cannot be read: {e}") from e
        if isinstance(document, dict):
            extra = sorted(set(document) - {"activities"})
            if extra or not isinstance(document.get("activities"), list):
                raise FileRejected(
                    'the JSON should be {"activities": [ ... ]} or a list of activities'
                    + (f"; unknown keys: {', '.join(extra)}" if extra else "")
                )
            activities = document["activities"]
        elif isinstance(document, list):
            activities = document
        else:
            raise FileRejected('the JSON should be {"activities": [ ... ]} or a list of activities')
        del document
        for n, item in enumerate(activities, start=1):
            where = f"activity {n}"
            if not isinstance(item, dict):
                yield where, empty_payload(), [Problem(where, "must be an object {...}")]
                continue
            payload, problems = coerce_activity(item, where=f"{where}/")
            yield where, payload, problems


def read_records(filename: str, data: bytes) -> Iterator[Record]:
    """The activities in an uploaded file, one at a time (see `FileReader`)."""
    return FileReader(filename, data).records()


# --- XML elements to the raw shape ------------------------------------------------------------

_FIELDS = {f.name: f for f in LAYOUT.fields}
_OCCURRENCE_FIELDS = {f.name: f for f in LAYOUT.occurrence_fields}
_MOC_FIELDS = {f.name: f for f in LAYOUT.moc_fields}
_REMS_FIELDS = {f.name: f for f in LAYOUT.rems_fields if f.name != "program"}


def item_tag(list_name: str) -> str:
    """The element of one item of a list: objectives/objective, specialties/specialty."""
    return list_name[:-3] + "y" if list_name.endswith("ies") else list_name.removesuffix("s")


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _unknown(path: str, tag: str, known: Any) -> Problem:
    hint = difflib.get_close_matches(tag, list(known), n=1)
    return Problem(path, "unknown element" + (f" (did you mean <{hint[0]}>?)" if hint else ""))


def _xml_text(element: Element, path: str, problems: list[Problem]) -> str | None:
    if len(element):
        problems.append(Problem(path, "should hold text, not other elements"))
        return None
    return element.text


def _xml_list(element: Element, path: str, problems: list[Problem]) -> Any:
    name = _local(element.tag)
    if not len(element):
        return element.text  # "a | b" written as text: split like a spreadsheet cell
    items: list[Any] = []
    for n, child in enumerate(element, start=1):
        tag = _local(child.tag)
        if tag != item_tag(name):
            problems.append(_unknown(f"{path}/{tag}", tag, [item_tag(name)]))
            continue
        items.append(_xml_text(child, f"{path}/{tag}[{n}]", problems))
    return items


def _xml_fields(
    element: Element, specs: dict[str, Any], path: str, problems: list[Problem]
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for child in element:
        tag = _local(child.tag)
        child_path = f"{path}/{tag}"
        if tag not in specs:
            problems.append(_unknown(child_path, tag, specs))
        elif tag in raw:
            problems.append(Problem(child_path, "appears twice; give it once"))
        elif specs[tag].kind == "list":
            raw[tag] = _xml_list(child, child_path, problems)
        else:
            raw[tag] = _xml_text(child, child_path, problems)
    return raw


def _xml_group(
    element: Element,
    item: str,
    key: str | None,
    specs: dict[str, Any],
    path: str,
    problems: list[Problem],
) -> list[dict[str, Any]]:
    """<occurrences><occurrence>..</occurrence></occurrences>, or <moc>/<rems> registrations
    identified by the attribute `key` (board="ABIM", program="...")."""
    out = []
    for n, child in enumerate(element, start=1):
        tag = _local(child.tag)
        if tag != item:
            problems.append(_unknown(f"{path}/{tag}", tag, [item]))
            continue
        label = child.get(key) if key else None
        child_path = f"{path}/{item}[{label or n}]"
        raw = _xml_fields(child, specs, child_path, problems)
        if key is not None:
            raw[key] = label
        out.append(raw)
    return out


def _xml_raw(activity: Element, path: str) -> tuple[dict[str, Any], list[Problem]]:
    """An <activity> element as the raw dict `coerce_activity` reads, and its unknown elements."""
    problems: list[Problem] = []
    known = {**_FIELDS, **dict.fromkeys(NESTED_KEYS)}
    raw: dict[str, Any] = {}
    for child in activity:
        tag = _local(child.tag)
        child_path = f"{path}/{tag}"
        if tag not in known:
            problems.append(_unknown(child_path, tag, known))
        elif tag in raw:
            problems.append(Problem(child_path, "appears twice; give it once"))
        elif tag == "occurrences":
            raw[tag] = _xml_group(
                child, "occurrence", None, _OCCURRENCE_FIELDS, child_path, problems
            )
        elif tag == "moc":
            raw[tag] = _xml_group(child, "registration", "board", _MOC_FIELDS, child_path, problems)
        elif tag == "rems":
            raw[tag] = _xml_group(
                child, "registration", "program", _REMS_FIELDS, child_path, problems
            )
        elif _FIELDS[tag].kind == "list":
            raw[tag] = _xml_list(child, child_path, problems)
        else:
            raw[tag] = _xml_text(child, child_path, problems)
    return raw, problems
