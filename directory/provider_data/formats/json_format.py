"""JSON: reading a provider's JSON file or web-service body, and writing the JSON template and
example.

A document is `{"activities": [...]}` or just the list, one object per activity with the
layout's field names as keys (`fee` in dollars, dates as "YYYY-MM-DD" strings). Unlike CSV and
XML, a JSON file is parsed whole (`parse`); the file size limit bounds it. `activities` then
reads an already-parsed document, so that the web service, which has parsed its request body,
goes through the same checks and messages as a file without writing the body out again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from directory.provider_data.coerce import coerce_activity, empty_payload
from directory.provider_data.layout import LAYOUT, FieldSpec
from directory.provider_data.reading import Activity, FileRejected, first_char
from directory.provider_data.values import plain_number
from directory.registry.rules import Problem

_SHAPE = 'the JSON should be {"activities": [ ... ]} or a list of activities'


def check(data: bytes) -> None:
    """Refuse, before parsing, a file that is not a JSON object or list at all."""
    if first_char(data) not in ("{", "["):
        raise FileRejected(
            "this is not a JSON file: it should begin with '{' (an object with "
            "\"activities\") or '[' (a list of activities)"
        )


# --- reading ----------------------------------------------------------------------------------


def parse(data: bytes) -> Any:
    """The file's bytes as a JSON document, or FileRejected saying where it is broken."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise FileRejected(
            f"the JSON is not valid at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from e
    except UnicodeDecodeError as e:
        raise FileRejected("the JSON is not UTF-8 text") from e
    except (ValueError, RecursionError) as e:
        raise FileRejected(f"the JSON cannot be read: {e}") from e


def activities(document: Any) -> Iterator[Activity]:
    """The activities of a parsed document, "activity 1", "activity 2", ...; a document of
    another shape raises FileRejected (when the first activity is asked for)."""
    if isinstance(document, dict):
        extra = sorted(set(document) - {"activities"})
        if extra or not isinstance(document.get("activities"), list):
            raise FileRejected(_SHAPE + (f"; unknown keys: {', '.join(extra)}" if extra else ""))
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


def read(data: bytes) -> Iterator[Activity]:
    """The file's activities; `check` first."""
    # `parse` runs when the first activity is asked for, as the other formats' readers do.
    yield from activities(parse(data))


# --- writing ----------------------------------------------------------------------------------


def _json_value(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if spec.kind == "number" and value is not None:
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
    )
    for key, specs, leading in nested:
        items = []
        for item in payload[key]:
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
    return activity


def write(document: Any) -> bytes:
    """A JSON file of `document`, indented, non-ASCII written as itself."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
