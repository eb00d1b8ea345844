"""Reading a provider's batch file (CSV, Excel .xlsx, XML or JSON) into records, streaming: the
public entry point. Each format is read by its module in `directory.provider_data.formats`;
this module picks the format by the file's name, holds the limits on a file, and checks what
every format shares (size, emptiness, a repeated activity id).

A file problem that stops the whole file (wrong type, too big, not text, unreadable, a DTD,
unknown columns) raises `FileRejected` with a message a person can act on. A problem with one
activity becomes a `Problem` on its `Record`, located so the provider can find it: "row 14"
(CSV/Excel, the header is row 1) or "activity 3 (LU-2027-014)" (XML/JSON).

Records are produced one at a time: a 50,000-row CSV or XML file needs the memory of a row, not
of the file (beyond the file's bytes themselves). JSON is parsed whole; it is capped by the same
size limit, and by how deeply it nests and how many objects and lists it holds. A JSON document
already parsed (the web service's request body) is read by `read_document`, with the same
checks and messages as a JSON file; `parse_json_body` parses one with the JSON file's checks.

The work of one file is bounded, whatever it holds: at most `MAX_ACTIVITIES` activities, rows
(even empty ones) and cells of a sheet, shared strings of a workbook, elements of an XML
activity; and the answer is short: an activity reports its first `MAX_PROBLEMS_PER_ACTIVITY`
problems and a count of the rest (the batch report does the same over the whole file).

Nothing in a file is ever evaluated: spreadsheet formulas are refused, not computed, and XML
with a DTD or entities is refused before anything is expanded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from directory.provider_data.formats import csv_format, json_format, xlsx_format, xml_format
from directory.provider_data.layout import LAYOUT, human
from directory.provider_data.reading import Activity, FileRejected, Record, Records
from directory.provider_data.reading import human_size as _size
from directory.provider_data.values import printable
from directory.registry.rules import Problem

__all__ = [
    "ACCEPTED_EXTENSIONS",
    "CONTENT_TYPES",
    "MAX_ACTIVITIES",
    "MAX_FILE_BYTES",
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
    "MAX_PROBLEMS_PER_ACTIVITY",
    "MAX_SHEET_CELLS",
    "MAX_SHEET_ROWS",
    "MAX_XLSX_ENTRIES",
    "MAX_XLSX_SHARED_STRINGS",
    "MAX_XLSX_SHARED_STRING_BYTES",
    "MAX_XLSX_UNCOMPRESSED_BYTES",
    "MAX_XLSX_UNSIZED_SHEET_BYTES",
    "MAX_XML_ELEMENTS_PER_ACTIVITY",
    "FileReader",
    "FileRejected",
    "Record",
    "Records",
    "parse_json_body",
    "read_document",
    "read_records",
]

# The limits are read when a file is read, not when a format module is imported, so that a
# test can lower them here; the layout page quotes them from here too.
MAX_FILE_BYTES = 50 * 1024 * 1024
# Activities in one file or request: the largest file we measure (BENCHMARKS.md: a 50,000-row
# CSV of 49 MB, imported in 45 s), which the size limit allows anyway.
MAX_ACTIVITIES = 50_000
# Rows of a CSV file or sheet read, empty ones included (room for blank rows between the
# activities), and cells of a sheet (openpyxl gives a row every cell up to its last one):
# a sheet of millions of empty rows or of one cell in its last column is refused in a moment.
MAX_SHEET_ROWS = 2 * MAX_ACTIVITIES
MAX_SHEET_CELLS = 5_000_000  # 100 a row at the activity limit; the template has 72 columns
# An .xlsx is a zip: refuse one that would unpack to more than this (a "zip bomb").
MAX_XLSX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_XLSX_ENTRIES = 10_000
# openpyxl reads a workbook's shared strings (its distinct texts) whole, before the first row,
# at some microseconds each: 20 per activity at the activity limit, in at most 100 MB.
MAX_XLSX_SHARED_STRINGS = 20 * MAX_ACTIVITIES
MAX_XLSX_SHARED_STRING_BYTES = 100 * 1024 * 1024
# openpyxl parses a sheet that does not record its size (no <dimension>) whole when it opens the
# workbook, holding its rows: such a sheet may unpack to this much (about 2 s), no more.
MAX_XLSX_UNSIZED_SHEET_BYTES = 8 * 1024 * 1024
# An XML activity needs a few dozen elements, or some hundreds with many occurrences.
MAX_XML_ELEMENTS_PER_ACTIVITY = 10_000
# JSON: an activity nests 6 deep ({"activities": [{"moc": [{"practice_areas": [...]}]}]}), and
# makes a dozen or two objects and lists; parsing makes each one a Python object.
MAX_JSON_DEPTH = 20
MAX_JSON_CONTAINERS = 40 * MAX_ACTIVITIES
# Problems listed for one activity; the rest are counted in one more.
MAX_PROBLEMS_PER_ACTIVITY = 50
ACCEPTED_EXTENSIONS = (".csv", ".xlsx", ".xml", ".json")
CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xml": "application/xml",
    ".json": "application/json",
}

_ID_LABEL = human(LAYOUT.field("provider_activity_id").label)


def _too_big(name: str, size: int) -> FileRejected | None:
    if size > MAX_FILE_BYTES:
        return FileRejected(
            f"{name or 'the file'} is {_size(size)}; the limit "
            f"is {_size(MAX_FILE_BYTES)}: split it into smaller files"
        )
    return None


class FileReader:
    """Reads one uploaded file. The constructor checks what can be checked at once (type, size,
    encoding) and raises `FileRejected`; `records()` streams the activities and may raise
    `FileRejected` too (a bad header, malformed XML found halfway). `records()` can be called
    again, and reads the file anew (the importer reads it once). `warnings` holds file-level warnings (e.g. the encoding used)."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self.data = data
        self.warnings: list[Problem] = []
        self.extension = self._extension(filename)
        too_big = _too_big(os.path.basename(filename), len(data))
        if too_big is not None:
            raise too_big
        if not data[:65536].strip() and not data.strip():
            raise FileRejected("the file is empty")
        self.encoding = ""
        if self.extension == ".csv":
            self.encoding = csv_format.encoding(data, self.warnings)
        elif self.extension == ".xlsx":
            xlsx_format.check(
                data,
                max_unpacked=MAX_XLSX_UNCOMPRESSED_BYTES,
                max_entries=MAX_XLSX_ENTRIES,
                max_shared_string_bytes=MAX_XLSX_SHARED_STRING_BYTES,
                max_shared_strings=MAX_XLSX_SHARED_STRINGS,
                max_unsized_sheet_bytes=MAX_XLSX_UNSIZED_SHEET_BYTES,
            )
        elif self.extension == ".xml":
            xml_format.check(data)
        elif self.extension == ".json":
            json_format.check(data)

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

    def records(self) -> Records:
        """Every activity in the file, in order, with its problems; a repeated activity id is
        an error on its second appearance. The records carry the file's `warnings`."""
        activities: Iterable[Activity]
        if self.extension == ".csv":
            activities = csv_format.read(self.data, self.encoding, max_rows=MAX_SHEET_ROWS)
        elif self.extension == ".xlsx":
            activities = xlsx_format.read(
                self.data, max_rows=MAX_SHEET_ROWS, max_cells=MAX_SHEET_CELLS
            )
        elif self.extension == ".xml":
            activities = xml_format.read(self.data, max_elements=MAX_XML_ELEMENTS_PER_ACTIVITY)
        else:
            activities = json_format.read(
                self.data, max_depth=MAX_JSON_DEPTH, max_containers=MAX_JSON_CONTAINERS
            )
        # XML and JSON activities are numbered, not on a row: their id helps find them.
        records = _records(activities, name_ids=self.extension in (".xml", ".json"))
        return Records(records, self.warnings)


def _capped(problems: list[Problem], where: str) -> list[Problem]:
    """The first `MAX_PROBLEMS_PER_ACTIVITY` problems, and a count of the rest."""
    if len(problems) <= MAX_PROBLEMS_PER_ACTIVITY:
        return problems
    hidden = len(problems) - MAX_PROBLEMS_PER_ACTIVITY
    kept = problems[:MAX_PROBLEMS_PER_ACTIVITY]
    what = "row" if where.startswith("row") else "activity"
    return [*kept, Problem("more problems", f"and {hidden:,} more on this {what} (not listed)")]


def _records(activities: Iterable[Activity], *, name_ids: bool) -> Iterator[Record]:
    seen: dict[str, str] = {}
    for count, (where, payload, problems) in enumerate(activities, start=1):
        if count > MAX_ACTIVITIES:
            raise FileRejected(
                f"the file holds more than {MAX_ACTIVITIES:,} activities, the most one file "
                f"may hold: split it into files of at most {MAX_ACTIVITIES:,}"
            )
        activity_id = payload.get("provider_activity_id")
        location = where
        if activity_id:
            first = seen.get(activity_id)
            if first is None:
                seen[activity_id] = where
            else:
                problems.append(
                    Problem(
                        _ID_LABEL, f"'{printable(activity_id, 100)}' already appears in {first}"
                    )
                )
            if name_ids:
                location = f"{where} ({printable(activity_id, 100)})"
        yield Record(location, payload, _capped(problems, where))


def read_records(filename: str, data: bytes) -> Records:
    """The activities in an uploaded file, one at a time (see `FileReader`), and the file's
    warnings (`.warnings`, for the batch report)."""
    return FileReader(filename, data).records()


def read_document(document: Any, *, size: int, name: str) -> Records:
    """The activities of a JSON document that is already parsed (a dict or a list), read as
    the JSON file `name` of `size` bytes would be: the same limits, coercion, checks and
    messages, so a web-service body and an uploaded file are judged alike.

    `size` is the length of what the document was parsed from. Like `read_records`, the size
    is checked at once; the document's shape and nesting when the first record is asked for.
    """
    too_big = _too_big(name, size)
    if too_big is not None:
        raise too_big
    return Records(
        _records(json_format.activities(document, max_depth=MAX_JSON_DEPTH), name_ids=True)
    )


def parse_json_body(data: bytes, *, name: str = "the body") -> Any:
    """A request body parsed as JSON with a JSON file's limits (size, nesting, number of objects
    and lists, digits of a number), or FileRejected saying, in words, what is wrong: for the web
    service, where a body nested thousands deep would otherwise exhaust the parser's recursion."""
    too_big = _too_big(name, len(data))
    if too_big is not None:
        raise too_big
    return json_format.parse(data, max_depth=MAX_JSON_DEPTH, max_containers=MAX_JSON_CONTAINERS)
