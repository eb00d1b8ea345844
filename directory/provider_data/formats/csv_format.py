"""CSV: reading a provider's CSV file, and writing the CSV template and example.

Reading streams: the text is decoded line by line from the file's bytes, so a 50,000-row file
needs the memory of a row. The encoding is settled first, over the whole file, so that a file
in the wrong encoding is refused at once, before any row is judged: UTF-8 (with or without a
byte order mark), UTF-16 with a byte order mark, or else Windows-1252 with a warning. The
delimiter (comma, semicolon or tab) is sniffed from the header line. A cell starting with "="
is a formula: an error on its row, never taken as text (a spreadsheet would run it).

Writing puts a UTF-8 byte order mark first, so that Excel opens the file as UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from itertools import chain
from typing import Any

from directory.provider_data.formats.rows import Cell, header_columns, row_activity
from directory.provider_data.layout import flat_column_specs
from directory.provider_data.reading import Activity, FileRejected
from directory.registry.rules import Problem

NOT_UTF8 = "the file is not UTF-8 text; in Excel choose 'CSV UTF-8' when saving"

_CHUNK = 1024 * 1024
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


def encoding(data: bytes, warnings: list[Problem]) -> str:
    """The encoding to read the file with, or FileRejected; a file read as Windows-1252 adds a
    warning to `warnings` (the reader's file-level warnings)."""
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
        warnings.append(
            Problem(
                "file",
                "the file is not UTF-8, so it was read as Windows-1252 (Western European); "
                "check accented letters, and next time choose 'CSV UTF-8' when saving",
                "warning",
            )
        )
        return "cp1252"
    raise FileRejected(NOT_UTF8)


def _text_lines(data: bytes, encoding: str) -> Iterator[str]:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    for number, line in enumerate(stream, start=1):
        if "\x00" in line:
            raise FileRejected(f"{NOT_UTF8} (line {number} holds a NUL character)")
        yield line


def read(data: bytes, encoding: str) -> Iterator[Activity]:
    """The file's activities, one per row after the header; `encoding` is from `encoding()`."""
    lines = _text_lines(data, encoding)
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
        columns = header_columns(header)
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            cells = [
                Cell(text, "formula" if text.lstrip().startswith("=") else "value", str(i))
                for i, text in enumerate(row, start=1)
            ]
            yield row_activity(number, columns, cells)
    except csv.Error as e:
        raise FileRejected(f"row {number + 1}: the CSV cannot be read ({e})") from e


def write(rows: list[list[Any]]) -> bytes:
    """A CSV file of the header and `rows` (from `rows.flat_row`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in flat_column_specs()])
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    # With a byte order mark, Excel opens the file as UTF-8.
    return out.getvalue().encode("utf-8-sig")
