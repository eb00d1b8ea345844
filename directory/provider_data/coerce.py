"""Raw values from any format to the canonical payload of one whole activity.

The canonical payload of one activity is a dict holding every layout field by name, except that
`fee` (dollars) becomes `fee_cents` (whole cents), plus `occurrences`, `moc`, `rems` and
`approvals`: lists of dicts keyed by the layout's occurrence, MOC (with `board`), REMS and
approval field names. Empty values are None, or [] for lists, or False for yes/no.

Each field's value is read by `values.coerce_value`; this module assembles them: unknown keys,
the nested occurrences, registrations and approvals, the CSV occurrences and approvals cells, a
spreadsheet row's columns.
Whether the values make sense together (points within credits, a board's credit types, dates in
order) is `directory.registry.rules`' business, later.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from directory.provider_data.layout import (
    LAYOUT,
    REMS_PREFIX,
    FieldSpec,
    FlatColumn,
    human,
)
from directory.provider_data.reading import Unknowns
from directory.provider_data.values import (
    BadValue,
    coerce_value,
    empty_value,
    is_empty,
    printable,
    shown,
    text_problem,
)
from directory.registry.reference import fold_name, reference
from directory.registry.rules import Problem

OCCURRENCE_SEPARATOR = "|"
OCCURRENCE_SHAPE = (
    "write each occurrence as START..END City, State, Country, e.g. "
    "'2027-03-11..2027-03-12 Chicago, IL, US' (leave the state empty outside the US and "
    "Canada: '2027-05-06..2027-05-07 London, , GB'; a venue may come first: "
    "'Navy Pier, Chicago, IL, US'; its latitude and longitude may come last: "
    "'Chicago, IL, US @ 41.8916, -87.6094'), and separate occurrences with |"
)
_OCCURRENCE = re.compile(r"\s*(\S+?)\s*\.\.\s*(\S+)(?:\s+(.*?))?\s*")
# What follows an occurrence's place: "@ 41.8916, -87.6094" (a comma or spaces between).
COORDINATES_MARK = "@"
_COORDINATES = re.compile(r"\s*([^,\s]+)\s*(?:,\s*|\s+)([^,\s]+)\s*")
_LETTER = re.compile(r"[^\W\d_]")
APPROVAL_SEPARATOR = "|"
# The most approvals one activity carries: a few states approve courses for their own
# requirements, so a handful at most; a longer list is a mistake in what wrote it.
MAX_APPROVALS = 20

TOP_FIELDS: tuple[FieldSpec, ...] = LAYOUT.fields
NESTED_KEYS = ("occurrences", "moc", "rems", "approvals")
PAYLOAD_KEYS: tuple[str, ...] = (
    tuple("fee_cents" if f.name == "fee" else f.name for f in TOP_FIELDS) + NESTED_KEYS
)


def _unknown_keys(
    raw: Mapping[str, Any], known: Iterable[str], where: str, what: str, unknowns: Unknowns
) -> list[Problem]:
    known = list(known)
    problems: list[Problem] = []
    for key in raw:
        if key in known:
            continue

        def problem(key: Any = key) -> Problem:
            text = str(key)
            hint = difflib.get_close_matches(text[:100], known, n=1)
            suggestion = (
                f" (did you mean '{hint[0]}'?)"
                if hint
                else f"; {what} keys are: " + ", ".join(known)
            )
            return Problem(f"{where}{printable(text)}", f"unknown key{suggestion}")

        unknowns.add(problems, problem)
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
        where, coordinates, readable = (match.group(3) if match else None), None, True
        if where and COORDINATES_MARK in where:
            before, _, tail = where.rpartition(COORDINATES_MARK)
            pair = _COORDINATES.fullmatch(tail)
            if pair is not None:
                where, coordinates = before, (pair.group(1), pair.group(2))
            elif not _LETTER.search(tail):
                readable = False  # numbers after "@", but not a pair of them
            # else an "@" in a venue's name ("Hotel @ the Pier"): part of the place
        place = [p.strip() for p in where.split(",")] if where and where.strip() else []
        if match is None or not readable or 0 < len(place) < 3:
            problems.append(
                Problem(f"occurrence {n}", f"'{shown(part)}' cannot be read; {OCCURRENCE_SHAPE}")
            )
            occurrences.append({})
            continue
        raw: dict[str, Any] = {"start_date": match.group(1), "end_date": match.group(2)}
        if coordinates is not None:
            raw["latitude"], raw["longitude"] = coordinates
        if place:
            # The last three are city, state, country; anything before is the venue.
            venue = ", ".join(place[:-3])
            raw.update(
                zip(("venue", "city", "state", "country"), [venue, *place[-3:]], strict=True)
            )
        occurrences.append(raw)
    return occurrences, problems


def _occurrences(
    raw: Any, where: str, problems: list[Problem], unknowns: Unknowns
) -> list[dict[str, Any]]:
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
            item,
            (s.name for s in specs),
            f"{where}occurrences[{n}]/",
            "an occurrence's",
            unknowns,
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
    if is_empty(raw) or not isinstance(raw, str) or text_problem(raw) is not None:
        return None
    wanted = raw.strip().casefold()
    for code in reference().boards:
        if code.casefold() == wanted:
            return code
    return raw.strip()


def _moc(raw: Any, where: str, problems: list[Problem], unknowns: Unknowns) -> list[dict[str, Any]]:
    specs = LAYOUT.moc_fields
    out = []
    for n, item in enumerate(_as_list(raw, "MOC", "board registrations", problems), start=1):
        if not isinstance(item, Mapping):
            problems.append(Problem(f"MOC registration {n}", "must be an object with a board"))
            continue
        given = item.get("board")
        if isinstance(given, str) and text_problem(given) is not None:
            problems.append(Problem(f"MOC registration {n}", f"the board {text_problem(given)}"))
            continue
        board = _board_code(given)
        if board is None:
            problems.append(Problem(f"MOC registration {n}", "the board is required, e.g. ABIM"))
            continue
        problems += _unknown_keys(
            item,
            ["board", *(s.name for s in specs)],
            f"{where}moc[{printable(board)}]/",
            "a registration's",
            unknowns,
        )
        reg = {"board": board}
        label = printable(board)
        reg.update(_record(specs, item, lambda s, b=label: (f"{b} {s.label}", ""), problems))
        out.append(reg)
    return out


def _rems(
    raw: Any, where: str, problems: list[Problem], unknowns: Unknowns
) -> list[dict[str, Any]]:
    specs = LAYOUT.rems_fields
    out = []
    for n, item in enumerate(_as_list(raw, "REMS", "REMS registrations", problems), start=1):
        prefix = REMS_PREFIX if n == 1 else f"{REMS_PREFIX} {n}"
        if not isinstance(item, Mapping):
            problems.append(Problem(prefix, "must be an object with a program"))
            continue
        program = item.get("program")
        problems += _unknown_keys(
            item,
            (s.name for s in specs),
            f"{where}rems[{printable(str(program)) if program else n}]/",
            "a REMS registration's",
            unknowns,
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


def approver_code(text: str) -> str | None:
    """The approving body a provider names, as its code: the code in any case ("tx-tmb") or
    its full name as written in state_mandates.toml, in any case and spacing; None if it names
    no body."""
    approvers = reference().approvers
    if text in approvers:
        return text
    wanted = text.strip().casefold()
    for code in approvers:
        if code.casefold() == wanted:
            return code
    folded = fold_name(text)
    return next((a.code for a in approvers.values() if fold_name(a.name) == folded), None)


def parse_approvals_cell(text: str) -> list[dict[str, Any]]:
    """'TX-TMB HT-2026-0193 | Florida Board of Medicine 20-48213' to raw approval dicts.

    The body is the item's first word (a code), or its first words when they are a body's
    full name; a colon after it is allowed ("TX-TMB: HT-2026-0193"); the id is the rest."""
    approvals: list[dict[str, Any]] = []
    parts = [p.strip() for p in text.split(APPROVAL_SEPARATOR) if p.strip()]
    for part in parts[: MAX_APPROVALS + 1]:  # one more than allowed: enough to refuse it
        words = part.split()
        split = 1
        # The longest run of leading words that is a body's name, if any; a code is one word.
        for k in range(min(len(words), 20), 1, -1):
            if approver_code(" ".join(words[:k]).rstrip(":")) is not None:
                split = k
                break
        body = " ".join(words[:split])
        rest = " ".join(words[split:])
        if body.endswith(":") and len(body) > 1:
            body = body[:-1]
        elif rest.startswith(":"):
            rest = rest[1:].strip()
        approvals.append({"body": body, "id": rest or None})
    return approvals


def _approvals(
    raw: Any, where: str, problems: list[Problem], unknowns: Unknowns
) -> list[dict[str, Any]]:
    items = (
        parse_approvals_cell(raw)
        if isinstance(raw, str)
        else _as_list(raw, "approvals", "approvals", problems)
    )
    if len(items) > MAX_APPROVALS:
        problems.append(
            Problem(
                "approvals",
                f"more than {MAX_APPROVALS} approvals; an activity carries at most "
                f"{MAX_APPROVALS} (one per approving body, usually)",
            )
        )
        return []
    specs = LAYOUT.approval_fields
    out = []
    for n, item in enumerate(items, start=1):
        field = f"approval {n}"
        if not isinstance(item, Mapping):
            problems.append(
                Problem(
                    field, 'must be an object with body and id: {"body": "TX-TMB", "id": "..."}'
                )
            )
            continue
        problems += _unknown_keys(
            item, (s.name for s in specs), f"{where}approvals[{n}]/", "an approval's", unknowns
        )
        before = len(problems)
        approval = _record(specs, item, lambda s, f=field: (f, f"{s.name}: "), problems)
        if approval["body"] is None:
            if len(problems) == before:
                problems.append(
                    Problem(field, "body is required: the approving body's code, e.g. TX-TMB")
                )
            continue
        out.append(approval)
    return out


def empty_payload() -> dict[str, Any]:
    payload = {("fee_cents" if f.name == "fee" else f.name): empty_value(f) for f in TOP_FIELDS}
    payload.update(occurrences=[], moc=[], rems=[], approvals=[])
    return payload


def coerce_activity(
    raw: Mapping[str, Any], where: str = ""
) -> tuple[dict[str, Any], list[Problem]]:
    """The canonical payload of one activity from raw values keyed by field name.

    `raw` holds layout field names (`fee` in dollars), and optionally `occurrences` (a list of
    dicts, or a CSV occurrences cell), `moc` (a list of dicts with `board`), `rems` and
    `approvals` (a list of dicts with `body` and `id`, or a CSV approvals cell). Unknown keys
    are errors, named with the `where` prefix ("activity 3/").
    """
    unknowns = Unknowns("unknown keys")
    problems: list[Problem] = _unknown_keys(
        raw, [*(f.name for f in TOP_FIELDS), *NESTED_KEYS], where, "an activity's", unknowns
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
    payload["occurrences"] = _occurrences(raw.get("occurrences"), where, problems, unknowns)
    payload["moc"] = _moc(raw.get("moc"), where, problems, unknowns)
    payload["rems"] = _rems(raw.get("rems"), where, problems, unknowns)
    payload["approvals"] = _approvals(raw.get("approvals"), where, problems, unknowns)
    unknowns.finish(problems, where.rstrip("/") or "activity")
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
        elif column.group in ("occurrences", "approvals"):
            raw[column.group] = value if isinstance(value, str) or value is None else str(value)
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
