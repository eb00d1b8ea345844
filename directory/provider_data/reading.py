"""What every format's reader shares: the `Record` it yields and the `FileRejected` it raises.

The format modules (`directory.provider_data.formats`) each turn a file into `Activity` tuples;
`files.py` checks the file as a whole, picks the format by the file's name and makes the tuples
into `Record`s. They live here, apart from `files.py`, so that the format modules can use them
without importing the dispatcher that imports them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from directory.registry.rules import Problem

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
