"""CSV: reading a provider's CSV file, and writing the CSV template and example.

Reading streams: the text is decoded line by line from the file's bytes, so a 50,000-row file
needs the memory of a row. The encoding is settled first, over the whole file, so that a file
in the wrong encoding is refused at once, before any row is judged: UTF-8 (with or without a
byte order mark), UTF-16 with a byte order mark, or else Windows-1252 with a warning; a file
that mixes UTF-8 with another encoding is refused, naming the first line that is not UTF-8.
The delimiter (comma, semicolon or tab) is the one the header line uses most, outside quotes.
A cell starting with "=" is a formula: an error on its row, never taken as text (a
spreadsheet would run it), unless an apostrophe guards it ("'=..."): the guard is dropped and
the rest read as text (see `rows.csv_unguarded`). At most `max_rows` rows are read, counting
empty ones.

Writing puts a UTF-8 byte order mark first, so that Excel opens the file as UTF-8, and guards
every text cell a spreadsheet would run (`rows.csv_cell`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from typing import Any

from directory.provider_data.formats.rows import (
    CSV_GUARD,
    Cell,
    csv_cell,
    csv_unguarded,
    header_columns,
    row_activity,
    too_many_rows,
)
from directory.provider_data.layout import FlatColumn, flat_column_specs
from directory.provider_data.reading import Activity, FileRejected
from directory.registry.rules import Problem

NOT_UTF8 = "the file is not UTF-8 text; in Excel choose 'CSV UTF-8' when saving"
SAVE_AS_UTF8 = "save the file as UTF-8 (in Excel: Save As > 'CSV UTF-8')"
DELIMITERS = (",", ";", "\t")

_CHUNK = 1024 * 1024
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# One well-formed UTF-8 sequence of two to four bytes (no overlong forms, no surrogates).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_QUOTED = re.compile(r'"[^"]*"')


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


def _first_invalid_utf8(data: bytes) -> int | None:
    """The offset of the first byte that is not valid UTF-8, or None; a chunk at a time."""
    start = 0
    while start < len(data):
        end = start + _CHUNK
        try:
            _, used = codecs.utf_8_decode(data[start:end], "strict", end >= len(data))
        except UnicodeDecodeError as e:
            return start + e.start
        if used == 0:  # an incomplete sequence at the very end
            return start
        start += used
    return None


def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _mixed(data: bytes, bad: int) -> FileRejected | None:
    """A file whose byte at `bad` is not UTF-8 while it holds UTF-8 text elsewhere: two
    encodings in one file (rows pasted from another file, say). Read as either, some of its
    text would be garbled, so it is refused, naming the first line that is not UTF-8."""
    line = _line(data, bad)
    if data.startswith(codecs.BOM_UTF8):
        return FileRejected(
            f"line {line:,} is not UTF-8 while the file begins with a UTF-8 byte order mark: "
            + SAVE_AS_UTF8
        )
    # Everything before `bad` is valid UTF-8, so any byte above 127 there begins a UTF-8
    # character of two bytes or more.
    if _NON_ASCII.search(data, 0, bad):
        return FileRejected(f"line {line:,} is not UTF-8 while earlier lines are: " + SAVE_AS_UTF8)
    later = _UTF8_SEQUENCE.search(data, bad + 1)
    if later is not None:
        return FileRejected(
            f"line {line:,} is not UTF-8 while line {_line(data, later.start()):,} is: "
            + SAVE_AS_UTF8
        )
    return None


def encoding(data: bytes, warnings: list[Problem]) -> str:
    """The encoding to read the file with, or FileRejected; a file read as Windows-1252 adds a
    warning to `warnings` (the reader's file-level warnings)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if _decodes(data, "utf-16"):
            return "utf-16"  # NUL characters are checked line by line while reading
        raise FileRejected(NOT_UTF8)
    if b"\x00" in data:
        raise FileRejected(f"{NOT_UTF8} (it holds NUL bytes: is it really a CSV file?)")
    bad = _first_invalid_utf8(data)
    if bad is None:
        return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    mixed = _mixed(data, bad)
    if mixed is not None:
        raise mixed
    if not _CONTROL_BYTES.search(data) and _decodes(data, "cp1252"):
        warnings.append(
            Problem(
                "encoding",
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


def delimiter(header_line: str) -> str:
    """The delimiter the header line uses most, outside quoted cells; a comma if none.

    Counted, not sniffed: `csv.Sniffer` takes seconds (its regular expressions backtrack) on
    a long line of quotes and commas.
    """
    bare = _QUOTED.sub("", header_line)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_problem(error: csv.Error) -> str:
    """What the csv module's complaint means for the provider."""
    if "field larger than field limit" in str(error):
        return (
            f'a cell is longer than {csv.field_size_limit():,} characters; often a quote (") '
            "opens a cell and is never closed: check the quotes on this row"
        )
    return 'check the quotes (") and line breaks on this row: a cell holding a line break must be quoted'


def _cell(text: str, position: int) -> Cell:
    """One CSV cell: a guarded text is the text; an unguarded "=..." is a formula."""
    if text.startswith(CSV_GUARD):
        unguarded = csv_unguarded(text)
        if unguarded is not text:
            return Cell(unguarded, "value", str(position), position - 1)
    if text.lstrip().startswith("="):
        return Cell(text, "formula", str(position), position - 1)
    return Cell(text, "value", str(position), position - 1)


def cells(data: bytes, encoding: str, *, max_rows: int) -> Iterator[tuple[int, list[Cell]]]:
    """Every row of the file, the header first, as (row number, its cells); `encoding` is from
    `encoding()`. A file going past row `max_rows` (counting empty rows) is refused, and so is
    one the csv module cannot read, naming the row. Activity files and rosters read this."""
    lines = _text_lines(data, encoding)
    first = next(lines, None)
    if first is None:
        raise FileRejected("the file is empty")
    reader = csv.reader(chain([first], lines), delimiter=delimiter(first))
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            if number > max_rows:
                raise FileRejected(too_many_rows(max_rows))
            yield number, [_cell(text, i) for i, text in enumerate(row, start=1)]
    except csv.Error as e:
        raise FileRejected(f"row {number + 1}: the CSV cannot be read: {_csv_problem(e)}") from e


def read(data: bytes, encoding: str, *, max_rows: int) -> Iterator[Activity]:
    """The file's activities, one per row after the header; `encoding` is from `encoding()`.
    A file going past row `max_rows` (counting empty rows) is refused."""
    rows = cells(data, encoding, max_rows=max_rows)
    _, header = next(rows)
    columns = header_columns([c.value for c in header])
    for number, row in rows:
        if not any(c.value.strip() for c in row):
            continue
        yield row_activity(number, columns, row)


def stream(
    columns: Sequence[FlatColumn], rows: Iterable[list[Any]], *, rows_per_chunk: int = 200
) -> Iterator[bytes]:
    """A CSV file of `columns`' headers and `rows` (values in `columns`' order, as
    `rows.flat_row` gives them), a chunk of bytes at a time: the byte order mark and the
    header first, then `rows_per_chunk` rows a chunk."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    # With a byte order mark, Excel opens the file as UTF-8.
    yield codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
    batch = iter(rows)
    while chunk := list(islice(batch, rows_per_chunk)):
        out.seek(0)
        out.truncate()
        writer.writerows(
            [csv_cell(c, v) for c, v in zip(columns, row, strict=True)] for row in chunk
        )
        yield out.getvalue().encode("utf-8")


def write(rows: list[list[Any]]) -> bytes:
    """A CSV file of the header and `rows` (from `rows.flat_row`)."""
    return b"".join(stream(flat_column_specs(), rows))
