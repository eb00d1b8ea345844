"""What every format's reader shares: the `Record` it yields and the `FileRejected` it raises.

The format modules (`directory.provider_data.formats`) each turn a file into `Activity` tuples;
`files.py` checks the file as a whole, picks the format by the file's name and makes the tuples
into `Record`s. They live here, apart from `files.py`, so that the format modules can use them
without importing the dispatcher that imports them.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from directory.registry.rules import Problem

# Unknown keys, elements or cells reported one by one on one activity; the rest are counted in
# one more problem. Read when a record is read, so a test can lower it here.
MAX_UNKNOWN_REPORTED = 20

# One activity as a format reads it, before the batch-wide checks (a repeated id): where it is
# ("row 14", "activity 3"), its canonical payload, and the problems found reading it.
Activity = tuple[str, dict[str, Any], list[Problem]]


class FileRejected(ValueError):
    """The whole file cannot be read; the message says why and what to do."""


@dataclass
class Record:
    """One activity as read from a file: where it is, its canonical payload, its problems."""

    location: str
    payload: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


class Records(Iterator[Record]):
    """The records of one file, one at a time, and the file's warnings (the encoding it was
    read with, ...), which the batch report passes on to the provider."""

    def __init__(self, records: Iterator[Record], warnings: list[Problem] | None = None) -> None:
        self._records = records
        self.warnings: list[Problem] = warnings if warnings is not None else []

    def __iter__(self) -> Records:
        return self

    def __next__(self) -> Record:
        return next(self._records)


class Unknowns:
    """The unknown keys, elements or cells of one activity: the first `MAX_UNKNOWN_REPORTED`
    are reported, each with its suggestion (made only for those), the rest counted, so that a
    file of 100,000 unknown elements gives a short answer quickly."""

    def __init__(self, what: str) -> None:
        self.what = what  # "unknown elements", as the count of the rest says it
        self.count = 0

    def add(self, problems: list[Problem], make: Callable[[], Problem]) -> None:
        self.count += 1
        if self.count <= MAX_UNKNOWN_REPORTED:
            problems.append(make())

    def finish(self, problems: list[Problem], where: str) -> None:
        """Add the count of those not reported, as one problem at `where`."""
        hidden = self.count - MAX_UNKNOWN_REPORTED
        if hidden > 0:
            problems.append(Problem(where, f"and {hidden:,} more {self.what} (not listed)"))


def named(items: list[str]) -> str:
    """The first `MAX_UNKNOWN_REPORTED` of `items` (already quoted), and how many more."""
    text = ", ".join(items[:MAX_UNKNOWN_REPORTED])
    if len(items) > MAX_UNKNOWN_REPORTED:
        text += f" and {len(items) - MAX_UNKNOWN_REPORTED:,} more"
    return text


def human_size(n: float) -> str:
    """A byte count as a person reads it in a message: "61.2 MB", "12 KB", "300 bytes"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{round(n / scale, 1):g} {unit}"
    return f"{int(n)} bytes"


def first_char(data: bytes) -> str:
    """The first character that is not white space, after any byte order mark.

    XML and JSON files are told apart from a mislabelled file by this alone, before parsing,
    so that the message can say what the file should begin with.
    """
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
