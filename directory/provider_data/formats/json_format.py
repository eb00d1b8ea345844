"""JSON: reading a provider's JSON file or web-service body, and writing the JSON template and
example.

A document is `{"activities": [...]}` or just the list, one object per activity with the
layout's field names as keys (`fee` in dollars, dates as "YYYY-MM-DD" strings). Unlike CSV and
XML, a JSON file is parsed whole (`parse`); the file size limit bounds it, and a scan of its
brackets before parsing bounds how deeply it nests and how many objects and lists it makes
(the memory of parsing). `activities` then reads an already-parsed document, so that the web
service, which has parsed its request body, goes through the same checks and messages as a
file without writing the body out again; it checks the nesting of the document too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from directory.provider_data.coerce import coerce_activity, empty_payload
from directory.provider_data.layout import LAYOUT, FieldSpec
from directory.provider_data.reading import Activity, FileRejected, first_char, named
from directory.provider_data.values import plain_number, printable
from directory.registry.rules import Problem

_SHAPE = 'the JSON should be {"activities": [ ... ]} or a list of activities'
# A string, escapes and all, and what is left once strings are gone but brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
# Integers longer than this are kept as their text: `values` refuses them as having too many
# digits, where `int()` would be slow (and Python refuses one of more than 4,300 digits).
_LONGEST_INT = 100


def too_deep(max_depth: int) -> FileRejected:
    return FileRejected(
        f"the JSON nests objects and lists more than {max_depth} levels deep; an activity "
        "needs 6 (activities, an activity, its board registrations, a registration, its "
        "practice areas)"
    )


def check(data: bytes) -> None:
    """Refuse, before parsing, a file that is not a JSON object or list at all."""
    if first_char(data) not in ("{", "["):
        raise FileRejected(
            "this is not a JSON file: it should begin with '{' (an object with "
            "\"activities\") or '[' (a list of activities)"
        )


# --- reading ----------------------------------------------------------------------------------


def _scan(text: str, max_depth: int, max_containers: int) -> None:
    """Refuse, before parsing, JSON nesting deeper than `max_depth` or making more than
    `max_containers` objects and lists: the brackets outside strings, counted and peeled
    (each pass removes the innermost pairs), at the speed of regular expressions and
    `str.replace`. Malformed JSON passes here, for `json.loads` to place its error."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    if brackets.count("[") + brackets.count("{") > max_containers:
        raise FileRejected(
            f"the JSON holds more than {max_containers:,} objects and lists, more than a "
            "file of activities needs: split it into smaller files"
        )
    for _ in range(max_depth):
        peeled = brackets.replace("[]", "").replace("{}", "")
        if peeled == brackets:
            return
        brackets = peeled
    if "[]" in brackets or "{}" in brackets:
        raise too_deep(max_depth)


def _int(text: str) -> int | str:
    return int(text) if len(text) <= _LONGEST_INT else text


def parse(data: bytes, *, max_depth: int, max_containers: int) -> Any:
    """The file's bytes as a JSON document, or FileRejected saying where it is broken."""
    try:
        # As json.loads(bytes) decodes (UTF-8, or UTF-16/32 told by their first bytes).
        text = data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as e:
        raise FileRejected("the JSON is not UTF-8 text") from e
    _scan(text, max_depth, max_containers)
    try:
        return json.loads(text, parse_int=_int)
    except json.JSONDecodeError as e:
        raise FileRejected(
            f"the JSON is not valid at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from e
    except RecursionError as e:  # unbalanced brackets, deeper than the scan could peel
        raise too_deep(max_depth) from e
    except ValueError as e:
        raise FileRejected("the JSON cannot be read: it is not valid JSON") from e


def check_depth(document: Any, max_depth: int) -> None:
    """Refuse a parsed document nesting deeper than `max_depth` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth > max_depth:
            raise too_deep(max_depth)
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | tuple)
        )


def activities(document: Any, *, max_depth: int) -> Iterator[Activity]:
    """The activities of a parsed document, "activity 1", "activity 2", ...; a document of
    another shape or nesting deeper than `max_depth` raises FileRejected (when the first
    activity is asked for)."""
    check_depth(document, max_depth)
    if isinstance(document, dict):
        extra = sorted(str(key) for key in document if key != "activities")
        if extra or not isinstance(document.get("activities"), list):
            unknown = named([printable(key) for key in extra])
            raise FileRejected(_SHAPE + (f"; unknown keys: {unknown}" if extra else ""))
        items = document["activities"]
    elif isinstance(document, list):
        items = document
    else:
        raise FileRejected(_SHAPE)
    del document
    for n, item in enumerate(items, start=1):
        where = f"activity {n}"
        if not isinstance(item, dict):
            yield where, empty_payload(), [Problem(where, "must be an object {...}")]
            continue
        payload, problems = coerce_activity(item, where=f"{where}/")
        yield where, payload, problems


def read(data: bytes, *, max_depth: int, max_containers: int) -> Iterator[Activity]:
    """The file's activities; `check` first."""
    # `parse` runs when the first activity is asked for, as the other formats' readers do.
    yield from activities(
        parse(data, max_depth=max_depth, max_containers=max_containers), max_depth=max_depth
    )


# --- writing ----------------------------------------------------------------------------------


def _json_value(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if spec.kind in ("number", "degrees") and value is not None:
        return plain_number(value)
    if spec.kind == "money" and value is not None:
        return plain_number(value / 100)
    return value


def _nonempty(value: Any) -> bool:
    return value not in (None, [], "")


def json_activity(payload: Mapping[str, Any], skip_empty: bool = True) -> dict[str, Any]:
    """One activity as a JSON object (fee in dollars), empty values left out."""
    out: dict[str, Any] = {}
    for spec in LAYOUT.fields:
        value = payload["fee_cents" if spec.name == "fee" else spec.name]
        if _nonempty(value) or not skip_empty:
            out[spec.name] = _json_value(spec, value)
    nested = (
        ("occurrences", LAYOUT.occurrence_fields, ()),
        ("moc", LAYOUT.moc_fields, ("board",)),
        ("rems", LAYOUT.rems_fields, ()),
        ("approvals", LAYOUT.approval_fields, ()),
    )
    for key, specs, leading in nested:
        items = []
        for item in payload.get(key) or []:
            obj = {k: item[k] for k in leading}
            for spec in specs:
                if _nonempty(item[spec.name]) or not skip_empty:
                    obj[spec.name] = _json_value(spec, item[spec.name])
            items.append(obj)
        if items or not skip_empty:
            out[key] = items
    return out


def skeleton() -> dict[str, Any]:
    """Every JSON key of one activity, empty: what to fill in."""
    activity: dict[str, Any] = {f.name: [] if f.kind == "list" else None for f in LAYOUT.fields}
    activity["occurrences"] = [{f.name: None for f in LAYOUT.occurrence_fields}]
    activity["moc"] = [
        {"board": "ABIM", **{f.name: [] if f.kind == "list" else None for f in LAYOUT.moc_fields}}
    ]
    activity["rems"] = [{f.name: None for f in LAYOUT.rems_fields}]
    activity["approvals"] = [{f.name: None for f in LAYOUT.approval_fields}]
    return activity


def write(document: Any) -> bytes:
    """A JSON file of `document`, indented, non-ASCII written as itself."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
