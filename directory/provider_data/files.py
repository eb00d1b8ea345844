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
size limit. A JSON document already parsed (the web service's request body) is read by
`read_document`, with the same checks and messages as a JSON file.

Nothing in a file is ever evaluated: spreadsheet formulas are refused, not computed, and XML
with a DTD or entities is refused before anything is expanded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from directory.provider_data.formats import csv_format, json_format, xlsx_format, xml_format
from directory.provider_data.layout import LAYOUT, human
from directory.provider_data.reading import Activity, FileRejected, Record
from directory.provider_data.reading import human_size as _size
from directory.registry.rules import Problem

__all__ = [
    "ACCEPTED_EXTENSIONS",
    "CONTENT_TYPES",
    "MAX_FILE_BYTES",
    "MAX_XLSX_ENTRIES",
    "MAX_XLSX_UNCOMPRESSED_BYTES",
    "FileReader",
    "FileRejected",
    "Record",
    "read_document",
    "read_records",
]

# The limits are read when a file is read, not when a format module is imported, so that a
# test can lower them here; the layout page quotes them from here too.
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
    again for a second pass. `warnings` holds file-level warnings (e.g. the encoding used)."""

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
                data, max_unpacked=MAX_XLSX_UNCOMPRESSED_BYTES, max_entries=MAX_XLSX_ENTRIES
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

    def records(self) -> Iterator[Record]:
        """Every activity in the file, in order, with its problems; a repeated activity id is
        an error on its second appearance."""
        if self.extension == ".csv":
            activities = csv_format.read(self.data, self.encoding)
        elif self.extension == ".xlsx":
            activities = xlsx_format.read(self.data)
        elif self.extension == ".xml":
            activities = xml_format.read(self.data)
        else:
            activities = json_format.read(self.data)
        # XML and JSON activities are numbered, not on a row: their id helps find them.
        return _records(activities, name_ids=self.extension in (".xml", ".json"))


def _records(activities: Iterable[Activity], *, name_ids: bool) -> Iterator[Record]:
    seen: dict[str, str] = {}
    for where, payload, problems in activities:
        activity_id = payload.get("provider_activity_id")
        location = where
        if activity_id:
            first = seen.get(activity_id)
            if first is None:
                seen[activity_id] = where
            else:
                problems.append(Problem(_ID_LABEL, f"'{activity_id}' already appears in {first}"))
            if name_ids:
                location = f"{where} ({activity_id})"
        yield Record(location, payload, problems)


def read_records(filename: str, data: bytes) -> Iterator[Record]:
    """The activities in an uploaded file, one at a time (see `FileReader`)."""
    return FileReader(filename, data).records()


def read_document(document: Any, *, size: int, name: str) -> Iterator[Record]:
    """The activities of a JSON document that is already parsed (a dict or a list), read as
    the JSON file `name` of `size` bytes would be: the same limit, coercion, checks and
    messages, so a web-service body and an uploaded file are judged alike.

    `size` is the length of what the document was parsed from. Like `read_records`, the size
    is checked at once; the document's shape when the first record is asked for.
    """
    too_big = _too_big(name, size)
    if too_big is not None:
        raise too_big
    return _records(json_format.activities(document), name_ids=True)
