"""Raw values from any format (CSV text, Excel cells, XML text, JSON values) to one typed payload.

The canonical payload of one activity is a dict holding every layout field by name, except that
`fee` (dollars) becomes `fee_cents` (whole cents), plus `occurrences`, `moc` and `rems`: lists of
dicts keyed by the layout's occurrence, MOC (with `board`) and REMS field names. Empty values are
None, or [] for lists, or False for yes/no.

Only the shape of each value is checked here: its type, its spelling, its length and whether it
is one of a field's choices. Whether the values make sense together (points within credits, a
board's credit types, dates in order) is `directory.registry.rules`' business, later.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from directory.provider_data.layout import (
    LAYOUT,
    REMS_PREFIX,
    FieldSpec,
    FlatColumn,
    choices,
    human,
)
from directory.registry.reference import reference
from directory.registry.rules import Problem

LIST_SEPARATOR = "|"
OCCURRENCE_SEPARATOR = "|"
OCCURRENCE_SHAPE = (
    "write each occurrence as START..END City, State, Country, e.g. "
    "'2027-03-11..2027-03-12 Chicago, IL, US' (leave the state empty outside the US and "
    "Canada: '2027-05-06..2027-05-07 London, , GB'; a venue may come first: "
    "'Navy Pier, Chicago, IL, US'), and separate occurrences with |"
)
MAX_FEE_CENTS = 1_000_000_000  # ten million dollars: far above any fee, well inside an int column

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_MONEY = re.compile(r"\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_FREE = {"free"}
_OCCURRENCE = re.compile(r"\s*(\S+?)\s*\.\.\s*(\S+)(?:\s+(.*?))?\s*")

TOP_FIELDS: tuple[FieldSpec, ...] = LAYOUT.fields
NESTED_KEYS = ("occurrences", "moc", "rems")
PAYLOAD_KEYS: tuple[str, ...] = (
    tuple("fee_cents" if f.name == "fee" else f.name for f in TOP_FIELDS) + NESTED_KEYS
)


class BadValue(ValueError):
    """One value cannot be read; the message says what is wrong and how to write it."""


# --- single values ----------------------------------------------------------------------------


def is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _show(raw: Any) -> str:
    text = raw if isinstance(raw, str) else str(raw)
    text = text.strip()
    return text if len(text) <= 60 else text[:57] + "..."


def _text(raw: Any, spec: FieldSpec) -> str | None:
    if is_empty(raw):
        return None
    if isinstance(raw, bool):
        raise BadValue("must be text, not yes/no")
    if isinstance(raw, list | tuple | dict):
        raise BadValue(f"must be text, not {'an object' if isinstance(raw, dict) else 'a list'}")
    if isinstance(raw, datetime):
        text = raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat()
    elif isinstance(raw, date):
        text = raw.isoformat()
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))  # an id typed into Excel as a number: 1234, not 1234.0
    else:
        text = str(raw)
    text = text.strip()
    if _CONTROL.search(text):
        raise BadValue("contains control characters; remove them")
    if spec.max_length is not None and len(text) > spec.max_length:
        raise BadValue(
            f"{len(text)} characters is too long; the limit is {spec.max_length} "
            f"(it starts '{_show(text)}')"
        )
    return text or None


def _list(raw: Any, spec: FieldSpec) -> list[str]:
    if is_empty(raw):
        return []
    if isinstance(raw, str):
        items: Iterable[Any] = raw.split(LIST_SEPARATOR)
    elif isinstance(raw, list | tuple):
        items = raw
    elif isinstance(raw, dict):
        raise BadValue("must be a list of text, not an object")
    else:
        items = [raw]
    out: list[str] = []
    for n, item in enumerate(items, start=1):
        try:
            text = _text(item, spec)
        except BadValue as e:
            raise BadValue(f"item {n}: {e}") from None
        if text is not None:
            out.append(text)
    return out


def _date(raw: Any) -> date | None:
    if is_empty(raw):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise BadValue(f"'{_show(raw)}' is not a date; write it as YYYY-MM-DD")


def _number(raw: Any) -> float | None:
    if is_empty(raw):
        return None
    bad = BadValue(f"'{_show(raw)}' is not a number; write it like 6.5")
    if isinstance(raw, bool):
        raise bad
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
        value = float(raw.strip())
    else:
        raise bad
    if not math.isfinite(value):
        raise bad
    if value < 0:
        raise BadValue(f"{_show(raw)} is negative; it must be 0 or more")
    return value + 0.0  # -0.0 -> 0.0


def _money(raw: Any) -> int | None:
    """Dollars to whole cents: '$395.00', '395', '1,295.50', 395.0; 'free' or 0 is 0."""
    if is_empty(raw):
        return None
    bad = BadValue(
        f"'{_show(raw)}' is not an amount in US dollars; write it like 395.00, "
        "or 0 or free for a free activity"
    )
    if isinstance(raw, bool):
        raise bad
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise bad
        amount = Decimal(str(raw))
    elif isinstance(raw, str):
        text = raw.strip()
        if text.casefold() in _FREE:
            return 0
        negative = text.startswith("-")
        if negative and _MONEY.fullmatch(text[1:].strip()):
            raise BadValue("cannot be negative; use 0 for a free activity")
        if not _MONEY.fullmatch(text):
            raise bad
        try:
            amount = Decimal(text.replace("$", "").replace(",", "").strip())
        except InvalidOperation:
            raise bad from None
    else:
        raise bad
    if amount < 0:
        raise BadValue("cannot be negative; use 0 for a free activity")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise BadValue(f"'{_show(raw)}' has fractions of a cent; give at most 2 decimals")
    if cents > MAX_FEE_CENTS:
        raise BadValue(f"'{_show(raw)}' is too large for a fee")
    return int(cents)


def _yes_no(raw: Any) -> bool:
    if is_empty(raw):
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().casefold()
        if text in _YES:
            return True
        if text in _NO:
            return False
    raise BadValue(f"'{_show(raw)}' is not yes or no; write yes or no")


@cache
def _choice_index(spec: FieldSpec) -> dict[str, str]:
    return {value.casefold(): value for value in choices(spec)}


def _choice(raw: Any, spec: FieldSpec) -> str | None:
    if is_empty(raw):
        return None
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        found = _choice_index(spec).get(" ".join(str(raw).split()).casefold())
        if found is not None:
            return found
    offered = choices(spec, include_legacy=False)
    raise BadValue(f"'{_show(raw)}' is not one of: {', '.join(offered)}")


def coerce_value(spec: FieldSpec, raw: Any) -> Any:
    """The typed value of one field; raises BadValue with a message for the provider.

    Money comes back as whole cents.
    """
    if raw is None:  # the common case: an empty cell or an absent key
        return empty_value(spec)
    return _COERCERS[spec.kind](raw, spec)


_COERCERS: dict[str, Callable[[Any, FieldSpec], Any]] = {
    "text": _text,
    "long_text": _text,
    "list": _list,
    "date": lambda raw, spec: _date(raw),
    "number": lambda raw, spec: _number(raw),
    "money": lambda raw, spec: _money(raw),
    "yes_no": lambda raw, spec: _yes_no(raw),
    "choice": _choice,
}


def empty_value(spec: FieldSpec) -> Any:
    return [] if spec.kind == "list" else False if spec.kind == "yes_no" else None


# --- whole activities -------------------------------------------------------------------------


def _unknown_keys(
    raw: Mapping[str, Any], known: Iterable[str], where: str, what: str
) -> list[Problem]:
    known = list(known)
    problems = []
    for key in raw:
        if key in known:
            continue
        hint = difflib.get_close_matches(str(key), known, n=1)
        suggestion = (
            f" (did you mean '{hint[0]}'?)" if hint else f"; {what} keys are: " + ", ".join(known)
        )
        problems.append(Problem(f"{where}{key}", f"unknown key{suggestion}"))
    return problems


def _record(
    specs: Iterable[FieldSpec],
    raw: Mapping[str, Any],
    label: Any,
    problems: list[Problem],
) -> dict[str, Any]:
    """Typed values of `specs` from `raw`; `label(spec)` names a field in a problem, or is a
    (field, prefix) pair for children ("occurrence 2", "start date: ...")."""
    out: dict[str, Any] = {}
    for spec in specs:
        try:
            out[spec.name] = coerce_value(spec, raw.get(spec.name))
        except BadValue as e:
            out[spec.name] = empty_value(spec)
            field, prefix = label(spec)
            problems.append(Problem(field, f"{prefix}{e}"))
    return out


def _as_list(raw: Any, field: str, what: str, problems: list[Problem]) -> list[Any]:
    if is_empty(raw):
        return []
    if isinstance(raw, list | tuple):
        return list(raw)
    if isinstance(raw, dict):
        return [raw]
    problems.append(Problem(field, f"must be a list of {what}"))
    return []


def parse_occurrences_cell(text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """'2027-03-11..2027-03-12 Chicago, IL, US | ...' to raw occurrence dicts (still text)."""
    occurrences: list[dict[str, Any]] = []
    problems: list[Problem] = []
    parts = [p for p in text.split(OCCURRENCE_SEPARATOR) if p.strip()]
    for n, part in enumerate(parts, start=1):
        match = _OCCURRENCE.fullmatch(part)
        place = [p.strip() for p in match.group(3).split(",")] if match and match.group(3) else []
        if match is None or 0 < len(place) < 3:
            problems.append(
                Problem(f"occurrence {n}", f"'{_show(part)}' cannot be read; {OCCURRENCE_SHAPE}")
            )
            occurrences.append({})
            continue
        raw: dict[str, Any] = {"start_date": match.group(1), "end_date": match.group(2)}
        if place:
            # The last three are city, state, country; anything before is the venue.
            venue = ", ".join(place[:-3])
            raw.update(
                zip(("venue", "city", "state", "country"), [venue, *place[-3:]], strict=True)
            )
        occurrences.append(raw)
    return occurrences, problems


def _occurrences(raw: Any, where: str, problems: list[Problem]) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        items, cell_problems = parse_occurrences_cell(raw)
        problems += cell_problems
        broken = {p.field for p in cell_problems}
    else:
        items, broken = _as_list(raw, "occurrences", "occurrences", problems), set()
    specs = LAYOUT.occurrence_fields
    out = []
    for n, item in enumerate(items, start=1):
        field = f"occurrence {n}"
        if field in broken:
            continue
        if not isinstance(item, Mapping):
            problems.append(Problem(field, "must be an object with start_date, end_date, ..."))
            continue
        problems += _unknown_keys(
            item, (s.name for s in specs), f"{where}occurrences[{n}]/", "an occurrence's"
        )
        before = len(problems)
        occ = _record(specs, item, lambda s, f=field: (f, f"{human(s.label)}: "), problems)
        missing = [s for s in specs if s.required == "always" and occ[s.name] is None]
        if missing and len(problems) == before:
            problems += [Problem(field, f"{human(s.label)} is required") for s in missing]
        if not missing:  # an occurrence without its dates is reported, not passed on
            out.append(occ)
    return out


def _board_code(raw: Any) -> str | None:
    if is_empty(raw) or not isinstance(raw, str):
        return None
    wanted = raw.strip().casefold()
    for code in reference().boards:
        if code.casefold() == wanted:
            return code
    return raw.strip()


def _moc(raw: Any, where: str, problems: list[Problem]) -> list[dict[str, Any]]:
    specs = LAYOUT.moc_fields
    out = []
    for n, item in enumerate(_as_list(raw, "MOC", "board registrations", problems), start=1):
        if not isinstance(item, Mapping):
            problems.append(Problem(f"MOC registration {n}", "must be an object with a board"))
            continue
        board = _board_code(item.get("board"))
        if board is None:
            problems.append(Problem(f"MOC registration {n}", "the board is required, e.g. ABIM"))
            continue
        problems += _unknown_keys(
            item, ["board", *(s.name for s in specs)], f"{where}moc[{board}]/", "a registration's"
        )
        reg = {"board": board}
        reg.update(_record(specs, item, lambda s, b=board: (f"{b} {s.label}", ""), problems))
        out.append(reg)
    return out


def _rems(raw: Any, where: str, problems: list[Problem]) -> list[dict[str, Any]]:
    specs = LAYOUT.rems_fields
    out = []
    for n, item in enumerate(_as_list(raw, "REMS", "REMS registrations", problems), start=1):
        prefix = REMS_PREFIX if n == 1 else f"{REMS_PREFIX} {n}"
        if not isinstance(item, Mapping):
            problems.append(Problem(prefix, "must be an object with a program"))
            continue
        problems += _unknown_keys(
            item,
            (s.name for s in specs),
            f"{where}rems[{item.get('program') or n}]/",
            "a REMS registration's",
        )
        before = len(problems)
        reg = _record(specs, item, lambda s, p=prefix: (f"{p} {s.label}", ""), problems)
        if reg["program"] is None and len(problems) == before:
            problems.append(
                Problem(
                    f"{prefix} program",
                    f"is required for a REMS registration; one of: {', '.join(reference().rems_programs)}",
                )
            )
        if reg["program"] is not None:
            out.append(reg)
    return out


def empty_payload() -> dict[str, Any]:
    payload = {("fee_cents" if f.name == "fee" else f.name): empty_value(f) for f in TOP_FIELDS}
    payload.update(occurrences=[], moc=[], rems=[])
    return payload


def coerce_activity(
    raw: Mapping[str, Any], where: str = ""
) -> tuple[dict[str, Any], list[Problem]]:
    """The canonical payload of one activity from raw values keyed by field name.

    `raw` holds layout field names (`fee` in dollars), and optionally `occurrences` (a list of
    dicts, or a CSV occurrences cell), `moc` (a list of dicts with `board`) and `rems`. Unknown
    keys are errors, named with the `where` prefix ("activity 3/").
    """
    problems: list[Problem] = _unknown_keys(
        raw, [*(f.name for f in TOP_FIELDS), *NESTED_KEYS], where, "an activity's"
    )
    values = _record(TOP_FIELDS, raw, lambda s: (human(s.label), ""), problems)
    payload = {("fee_cents" if k == "fee" else k): v for k, v in values.items()}
    id_spec = LAYOUT.field("provider_activity_id")
    if payload["provider_activity_id"] is None and not any(
        p.field == human(id_spec.label) for p in problems
    ):
        problems.append(
            Problem(
                human(id_spec.label),
                "is required; a later upload with the same id updates this activity",
            )
        )
    payload["occurrences"] = _occurrences(raw.get("occurrences"), where, problems)
    payload["moc"] = _moc(raw.get("moc"), where, problems)
    payload["rems"] = _rems(raw.get("rems"), where, problems)
    return payload, problems


def raw_from_flat(cells: Mapping[FlatColumn, Any]) -> dict[str, Any]:
    """One CSV/Excel row (column -> cell) as the raw nested shape `coerce_activity` reads.

    A board with every column empty is not registered; REMS likewise.
    """
    raw: dict[str, Any] = {}
    boards: dict[str, dict[str, Any]] = {}
    rems: dict[str, Any] = {}
    for column, value in cells.items():
        if column.group == "field":
            assert column.spec is not None
            raw[column.spec.name] = value
        elif column.group == "occurrences":
            raw["occurrences"] = value if isinstance(value, str) or value is None else str(value)
        elif is_empty(value):
            continue
        elif column.group == "moc":
            assert column.spec is not None and column.board is not None
            boards.setdefault(column.board, {"board": column.board})[column.spec.name] = value
        else:
            assert column.spec is not None
            rems[column.spec.name] = value
    raw["moc"] = list(boards.values())
    raw["rems"] = [rems] if rems else []
    return raw
