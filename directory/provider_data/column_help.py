"""What a provider needs to know about each column: its kind, whether it is required, the
values it allows, a note and an example, all in words.

The Excel template's Help sheet (`formats.xlsx_format`) and the tables of the layout page
(`published.render_docs`) both read `column_help`, so the two cannot disagree; both are made
from `LAYOUT` and the reference data, so neither can disagree with what the readers accept.
"""

from __future__ import annotations

from directory.provider_data.layout import FieldSpec, FlatColumn, choices
from directory.provider_data.values import LIST_SEPARATOR
from directory.registry.reference import reference

_KIND_WORDS = {
    "text": "text",
    "long_text": "long text",
    "date": "date (YYYY-MM-DD)",
    "number": "number",
    "money": "US dollars",
    "yes_no": "yes or no",
    "choice": "one of a list",
    "list": f"list (separated by {LIST_SEPARATOR})",
}


def kind_text(spec: FieldSpec | None) -> str:
    """A field's kind in words, with its length limit; None is the occurrences column."""
    if spec is None:
        return "occurrences"
    kind = _KIND_WORDS[spec.kind]
    if spec.max_length and spec.kind in ("text", "long_text"):
        kind += f", at most {spec.max_length:,} characters"
    elif spec.max_length and spec.kind == "list":
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
    if column.group == "moc" and spec is not None and column.board:
        board = reference().boards[column.board]
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
            f"separated by {LIST_SEPARATOR}, e.g. 2027-03-11..2027-03-12 Chicago, IL, US"
        )
    spec = column.spec
    assert spec is not None
    if column.group == "moc" and not spec.help:
        return f"{column.board} registration: {spec.label}"
    return spec.help


def _example_text(spec: FieldSpec | None) -> str:
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
    name = "occurrences" if column.spec is None else column.spec.name
    if column.group == "moc":
        name = f"moc/registration[board]/{name}"
    elif column.group == "rems":
        name = f"rems/registration[program]/{name}" if name != "program" else "rems: program"
    return {
        "column": column.header,
        "name": name,
        "kind": kind_text(column.spec),
        "required": _required(column),
        "allowed": _allowed(column),
        "help": _help(column),
        "example": _example_text(column.spec) if column.group != "moc" else "",
    }
