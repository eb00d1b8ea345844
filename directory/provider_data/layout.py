"""The one layout of a provider's activity, loaded and checked once from `activity_layout.toml`.

Every way in (CSV and Excel columns, XML elements, JSON keys), the templates and the published
documentation are made from `LAYOUT`, so they cannot disagree. A malformed layout file stops the
application at import with a message naming the entry, like the reference data does.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from directory.registry.reference import reference

LAYOUT_FILE = Path(__file__).resolve().parent / "activity_layout.toml"

KINDS = ("text", "long_text", "date", "number", "degrees", "money", "yes_no", "choice", "list")
REQUIRED_LEVELS = ("always", "active")
# `choices_from` names an attribute of `Reference`.
CHOICE_SOURCES = (
    "formats",
    "statuses",
    "delivery",
    "providership",
    "registration",
    "rems_programs",
)

OCCURRENCES_HEADER = "Occurrences"
APPROVALS_HEADER = "Approvals"
REMS_PREFIX = "REMS"
# Words written in capitals when a label is made from a field name ("rpc_id" -> "RPC id").
_ACRONYMS = {"rpc": "RPC", "url": "URL", "cme": "CME", "mips": "MIPS", "rems": "REMS"}


class LayoutError(ValueError):
    """The layout file is malformed; the message names the entry."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str
    required: str | None  # "always" (even a draft), "active" (before Active), or None
    max_length: int | None
    help: str
    example: Any = field(compare=False)  # may be a list: kept out of equality and hashing
    choices_from: str | None
    max_items: int | None = None  # for a list: how many items it may hold


@dataclass(frozen=True)
class Layout:
    fields: tuple[FieldSpec, ...]
    occurrence_fields: tuple[FieldSpec, ...]
    moc_fields: tuple[FieldSpec, ...]
    rems_fields: tuple[FieldSpec, ...]
    approval_fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:  # noqa: F811 - the method, not dataclasses.field
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def required_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.required == "always")


def label_from_name(name: str) -> str:
    """'rpc_id' -> 'RPC id', 'start_date' -> 'start date'."""
    return " ".join(_ACRONYMS.get(word, word) for word in name.split("_"))


def human(label: str) -> str:
    """How a label reads inside a sentence: 'Start date' -> 'start date', 'ABIM points' stays."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _fail(where: str, message: str) -> LayoutError:
    return LayoutError(f"{LAYOUT_FILE.name} {where}: {message}")


def _spec(entry: dict[str, Any], group: str, index: int) -> FieldSpec:
    name = entry.get("name")
    where = f"{group} {name or f'#{index + 1}'}"
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise _fail(where, "needs a lower_case name")
    unknown = sorted(
        set(entry)
        - {
            "name",
            "label",
            "kind",
            "required",
            "max_length",
            "max_items",
            "help",
            "example",
            "choices_from",
        }
    )
    if unknown:
        raise _fail(where, f"unknown keys {unknown}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "money" and group != "fields":
        raise _fail(where, "money is only for top-level fields")
    required = entry.get("required")
    if required is not None and required not in REQUIRED_LEVELS:
        raise _fail(where, f"required {required!r} is not one of {', '.join(REQUIRED_LEVELS)}")
    choices_from = entry.get("choices_from")
    if (kind == "choice") != (choices_from is not None):
        raise _fail(where, "a choice needs choices_from, and only a choice has it")
    if choices_from is not None and choices_from not in CHOICE_SOURCES:
        raise _fail(where, f"choices_from {choices_from!r} is not one of {CHOICE_SOURCES}")
    max_length = entry.get("max_length")
    if max_length is not None and not (isinstance(max_length, int) and max_length > 0):
        raise _fail(where, "max_length must be a positive whole number")
    max_items = entry.get("max_items")
    if max_items is not None and not (
        kind == "list" and isinstance(max_items, int) and max_items > 0
    ):
        raise _fail(where, "max_items must be a positive whole number, and only a list has it")
    label = entry.get("label") or label_from_name(name)
    return FieldSpec(
        name=name,
        label=str(label),
        kind=kind,
        required=required,
        max_length=max_length,
        help=str(entry.get("help", "")),
        example=entry.get("example"),
        choices_from=choices_from,
        max_items=max_items,
    )


def _group(raw: dict[str, Any], group: str) -> tuple[FieldSpec, ...]:
    entries = raw.get(group)
    if not isinstance(entries, list) or not entries:
        raise _fail(group, "is missing or empty")
    specs = tuple(_spec(e, group, i) for i, e in enumerate(entries))
    for attr in ("name", "label"):
        values = [getattr(s, attr).casefold() for s in specs]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise _fail(group, f"repeated {attr}s: {', '.join(repeated)}")
    return specs


def load_layout(path: Path = LAYOUT_FILE) -> Layout:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    layout = Layout(
        fields=_group(raw, "fields"),
        occurrence_fields=_group(raw, "occurrence_fields"),
        moc_fields=_group(raw, "moc_fields"),
        rems_fields=_group(raw, "rems_fields"),
        approval_fields=_group(raw, "approval_fields"),
    )
    names = {f.name for f in layout.fields}
    for needed in ("provider_activity_id", "fee", "start_date", "end_date"):
        if needed not in names:
            raise _fail("fields", f"needs a field named {needed}")
    clash = names & {"fee_cents", "occurrences", "moc", "rems", "approvals"}
    if clash:
        raise _fail("fields", f"names reserved for the payload: {sorted(clash)}")
    if {"board"} & {f.name for f in layout.moc_fields}:
        raise _fail("moc_fields", "'board' is implied, not a field")
    if "program" not in {f.name for f in layout.rems_fields}:
        raise _fail("rems_fields", "needs a field named program")
    for group in ("occurrence_fields",):
        if not {"start_date", "end_date"} <= {f.name for f in getattr(layout, group)}:
            raise _fail(group, "needs start_date and end_date")
    if [f.name for f in layout.approval_fields] != ["body", "id"]:
        raise _fail("approval_fields", "must be body, then id (the registry stores those)")
    return layout


LAYOUT = load_layout()


def choices(spec: FieldSpec, *, include_legacy: bool = True) -> tuple[str, ...]:
    """The values a choice field accepts, spelled as the registry spells them.

    Legacy formats (older registry data) are accepted, and listed last; pass
    `include_legacy=False` for the values to offer a provider.
    """
    if spec.choices_from is None:
        return ()
    ref = reference()
    if spec.choices_from == "formats":
        current = tuple(f.name for f in ref.formats.values() if not f.legacy)
        legacy = tuple(f.name for f in ref.formats.values() if f.legacy)
        return current + legacy if include_legacy else current
    values: tuple[str, ...] = getattr(ref, spec.choices_from)
    return tuple(values)


# --- the flat (CSV / Excel) columns -----------------------------------------------------------

ColumnGroup = Literal["field", "occurrences", "approvals", "moc", "rems", "report"]


@dataclass(frozen=True, eq=False)  # one instance per column: compared and hashed by identity
class FlatColumn:
    """One CSV/Excel column: a top-level field, the occurrences or approvals cell, a board's
    or REMS item, or a report column (written by the export, ignored on upload)."""

    header: str
    group: ColumnGroup
    spec: FieldSpec | None = None  # None for the occurrences and approvals cells
    board: str | None = None  # for group "moc"
    aliases: tuple[str, ...] = ()
    help: str = ""  # for group "report": what the export writes in it

    @property
    def label(self) -> str:
        """The column as named in a problem: 'start date', 'ABIM points', 'occurrences'."""
        return human(self.header)


def _norm(header: str) -> str:
    return " ".join(header.replace("_", " ").split()).casefold()


@cache
def _flat_columns() -> tuple[FlatColumn, ...]:
    ref = reference()
    columns = [FlatColumn(f.label, "field", f, aliases=(f.name,)) for f in LAYOUT.fields]
    columns.append(FlatColumn(OCCURRENCES_HEADER, "occurrences", aliases=("occurrences",)))
    columns.append(FlatColumn(APPROVALS_HEADER, "approvals", aliases=("approvals",)))
    for board in ref.collaborating_boards:
        for f in LAYOUT.moc_fields:
            if f.name == "content_areas" and not board.requires_content_areas:
                continue
            columns.append(
                FlatColumn(
                    f"{board.code} {f.label}",
                    "moc",
                    f,
                    board=board.code,
                    aliases=(f"{board.code} {f.name}",),
                )
            )
    for f in LAYOUT.rems_fields:
        columns.append(
            FlatColumn(f"{REMS_PREFIX} {f.label}", "rems", f, aliases=(f"{REMS_PREFIX} {f.name}",))
        )
    return tuple(columns)


def flat_column_specs() -> tuple[FlatColumn, ...]:
    """Every CSV/Excel column, in template order."""
    return _flat_columns()


def flat_columns() -> list[str]:
    """The CSV/Excel headers, in template order."""
    return [c.header for c in flat_column_specs()]


# The columns an export of a provider's activities adds after the layout's own, saying how
# each activity stands. A provider fixes the exported file and uploads it back as it is, so the
# readers know these headers and ignore what is under them: they are the directory's answer,
# not the provider's data.
REPORT_COLUMNS = (
    FlatColumn(
        "Registry ID",
        "report",
        help="the directory's own number for the activity (in its address, /activities/N)",
    ),
    FlatColumn("Listed", "report", help="yes when the activity is in the public directory today"),
    FlatColumn(
        "Why not listed",
        "report",
        help="every reason the activity is not listed today, one a line",
    ),
    FlatColumn(
        "Board registrations",
        "report",
        help="how each board registration stands: counted, or what it lacks; one a line",
    ),
    FlatColumn(
        "Export note",
        "report",
        help="what the row could not hold (a second REMS program) and how to send it instead",
    ),
)


def report_column_specs() -> tuple[FlatColumn, ...]:
    """The columns an export adds after `flat_column_specs()`; ignored on upload."""
    return REPORT_COLUMNS


@cache
def _header_index() -> dict[str, FlatColumn]:
    index: dict[str, FlatColumn] = {}
    for column in (*_flat_columns(), *REPORT_COLUMNS):
        for text in (column.header, *column.aliases):
            if column.group == "report" and _norm(text) in index:
                raise _fail("fields", f"'{index[_norm(text)].header}' is a report column's name")
            index.setdefault(_norm(text), column)
    return index


def match_header(header: str) -> FlatColumn | None:
    """The column a header names: case-insensitive, surrounding spaces ignored, and a field's
    name accepted for its label ("provider_activity_id" for "Your activity id"). A report
    column's header names that report column (group "report"), which readers ignore."""
    return _header_index().get(_norm(header))


def required_headers() -> list[str]:
    return [f.label for f in LAYOUT.required_fields]
