"""What a provider needs to know about each column: its kind, whether it is required, the
values it allows, a note and an example, all in words.

The Excel template's Help sheet (`formats.xlsx_format`) and the tables of the layout page
(`published.render_docs`) both read `column_help`, so the two cannot disagree; both are made
from `LAYOUT` and the reference data, so neither can disagree with what the readers accept.
"""

from __future__ import annotations

from directory.provider_data.coerce import APPROVAL_SEPARATOR, COORDINATES_MARK, MAX_APPROVALS
from directory.provider_data.layout import FieldSpec, FlatColumn, choices
from directory.provider_data.values import LIST_SEPARATOR
from directory.registry.reference import reference

_KIND_WORDS = {
    "text": "text",
    "long_text": "long text",
    "date": "date (YYYY-MM-DD)",
    "number": "number",
    "degrees": "decimal degrees",
    "money": "US dollars",
    "yes_no": "yes or no",
    "choice": "one of a list",
    "list": f"list (separated by {LIST_SEPARATOR})",
}


def kind_text(spec: FieldSpec | None, group: str = "occurrences") -> str:
    """A field's kind in words, with its limits; None is the occurrences (or, with that
    group, the approvals) column."""
    if spec is None:
        return f"approvals, at most {MAX_APPROVALS}" if group == "approvals" else "occurrences"
    kind = _KIND_WORDS[spec.kind]
    if spec.max_length and spec.kind in ("text", "long_text"):
        kind += f", at most {spec.max_length:,} characters"
    elif spec.kind == "list" and (spec.max_length or spec.max_items):
        if spec.max_items:
            kind += f", at most {spec.max_items:,} items"
        if spec.max_length:
            kind += f", each at most {spec.max_length:,} characters"
    return kind


def _required(column: FlatColumn) -> str:
    spec = column.spec
    if column.group == "moc":
        return "for a complete registration"
    if column.group == "rems":
        return "to register for REMS" if spec and spec.name == "program" else "for a complete REMS"
    if spec is None or spec.required is None:
        return ""
    return {"always": "always", "active": "to be Active"}[spec.required]


def _allowed(column: FlatColumn) -> str:
    spec = column.spec
    ref = reference()
    if column.group == "approvals":
        bodies = "; ".join(f"{a.code} ({a.name})" for a in ref.approvers.values())
        return f"BODY ID for each, the body one of: {bodies}"
    if spec is not None and spec.name == "topics":
        return "the tags' codes or names: " + "; ".join(ref.topics)
    if spec is not None and spec.kind == "degrees":
        bound = 90 if spec.name == "latitude" else 180
        return f"-{bound} to {bound}"
    if column.group == "moc" and spec is not None and column.board:
        board = ref.boards[column.board]
        if spec.name == "practice_areas":
            return "; ".join(board.practice_areas)
        if spec.name == "credit_types":
            return "; ".join(board.credit_type_names)
        if spec.name == "content_areas":
            return f"1 or 2 paths of the {board.code} content outline ('Area > Section > Topic')"
    if spec is not None and spec.kind == "choice":
        values = choices(spec, include_legacy=False)
        legacy = [v for v in choices(spec) if v not in values]
        text = "; ".join(values)
        return text + (f" (older data may also say: {'; '.join(legacy)})" if legacy else "")
    if spec is not None and spec.kind == "yes_no":
        return "yes or no (empty means no)"
    if spec is not None and spec.kind == "money":
        return "an amount like 395.00; 0 or free for a free activity"
    return ""


def _help(column: FlatColumn) -> str:
    if column.group == "occurrences":
        return (
            "For an activity given more than once: START..END City, State, Country for each, "
            f"separated by {LIST_SEPARATOR}, e.g. 2027-03-11..2027-03-12 Chicago, IL, US; a "
            f"place's latitude and longitude may follow: ... Chicago, IL, US {COORDINATES_MARK} "
            "41.8916, -87.6094"
        )
    if column.group == "approvals":
        return (
            "Approvals of the course by a body that approves courses for a state's "
            "requirement (some states count only approved courses): the body's code or full "
            f"name, then the approval's id, separated by {APPROVAL_SEPARATOR}, e.g. "
            f"TX-TMB HT-2026-0193 {APPROVAL_SEPARATOR} FL-BOM 20-48213. Give the topic tag "
            "it approves too: an approval counts with its tag."
        )
    spec = column.spec
    assert spec is not None
    if column.group == "moc" and not spec.help:
        return f"{column.board} registration: {spec.label}"
    return spec.help


def _example_text(spec: FieldSpec | None, group: str = "occurrences") -> str:
    if spec is None and group == "approvals":
        return "TX-TMB HT-2026-0193"
    if spec is None:
        return "2027-03-11..2027-03-12 Chicago, IL, US"
    example = spec.example
    if example in (None, ""):
        return ""
    if isinstance(example, list):
        return f" {LIST_SEPARATOR} ".join(example)
    if isinstance(example, bool):
        return "yes" if example else "no"
    if isinstance(example, float):
        return f"{example:.2f}" if spec.kind == "money" else f"{example:g}"
    return str(example)


def column_help(column: FlatColumn) -> dict[str, str]:
    """What a provider needs to know about one column (the Help sheet and the docs)."""
    name = column.group if column.spec is None else column.spec.name
    if column.group == "moc":
        name = f"moc/registration[board]/{name}"
    elif column.group == "rems":
        name = f"rems/registration[program]/{name}" if name != "program" else "rems: program"
    return {
        "column": column.header,
        "name": name,
        "kind": kind_text(column.spec, column.group),
        "required": _required(column),
        "allowed": _allowed(column),
        "help": _help(column),
        "example": _example_text(column.spec, column.group) if column.group != "moc" else "",
    }
