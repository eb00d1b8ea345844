"""What the directory publishes for providers: the upload templates, the example files and the
layout page, all made from `LAYOUT`.

`template(fmt)` is an empty file to fill in and `example(fmt)` the same three realistic
activities in each format (`examples.toml`; they read back to identical payloads, and pass the
registry's rules). `render_docs()` is the layout page (`provider-data.md.j2`), committed as
`docs/provider-data.md` and served at /provider-data. Regenerate the committed page with

    .venv/bin/python -m directory.provider_data.published
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import jinja2

from directory.provider_data import batch, files, reading
from directory.provider_data.coerce import COORDINATES_MARK, MAX_APPROVALS, coerce_activity
from directory.provider_data.column_help import column_help, kind_text
from directory.provider_data.files import CONTENT_TYPES, MAX_FILE_BYTES, MAX_XLSX_UNCOMPRESSED_BYTES
from directory.provider_data.formats import csv_format, json_format, xlsx_format, xml_format
from directory.provider_data.formats.rows import flat_row, occurrences_cell
from directory.provider_data.layout import (
    APPROVALS_HEADER,
    LAYOUT,
    OCCURRENCES_HEADER,
    flat_column_specs,
    report_column_specs,
    required_headers,
)
from directory.provider_data.values import LIST_SEPARATOR
from directory.registry.reference import reference

__all__ = [
    "DOCS_PATH",
    "FORMATS",
    "RAW_EXAMPLES",
    "example",
    "example_payloads",
    "main",
    "render_docs",
    "template",
]

HERE = Path(__file__).resolve().parent
FORMATS = ("csv", "xlsx", "xml", "json")
DOCS_PATH = HERE.parents[1] / "docs" / "provider-data.md"
EXAMPLES_FILE = HERE / "examples.toml"
DOCS_TEMPLATE = "provider-data.md.j2"

# --- the three example activities (raw, as a provider writes them in JSON: fee in dollars) ----


def _load_examples(path: Path = EXAMPLES_FILE) -> tuple[dict[str, Any], ...]:
    """The raw example activities: the layout's own `example` values with `[layout_example]`
    over them, then each `[[activities]]` as written."""
    with path.open("rb") as stream:
        data = tomllib.load(stream)
    first = {f.name: f.example for f in LAYOUT.fields if f.example not in ("", None)}
    first.update(data["layout_example"])
    return (first, *data["activities"])


# Read at import, like the layout: a malformed examples file fails there, not halfway through
# making a file.
RAW_EXAMPLES: tuple[dict[str, Any], ...] = _load_examples()


def example_payloads() -> list[dict[str, Any]]:
    """The canonical payloads of the example activities (what every example file reads as)."""
    payloads = []
    for raw in RAW_EXAMPLES:
        payload, problems = coerce_activity(raw)
        if problems:
            raise AssertionError(f"example {raw['provider_activity_id']}: {problems}")
        payloads.append(payload)
    return payloads


# --- the files ---------------------------------------------------------------------------------


def _check(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return fmt


def template(fmt: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of an empty file to fill in."""
    _check(fmt)
    if fmt == "csv":
        content = csv_format.write([])
    elif fmt == "xlsx":
        content = xlsx_format.write([])
    elif fmt == "xml":
        content = xml_format.template(example_payloads()[0])
    else:
        content = json_format.write({"activities": [json_format.skeleton()]})
    return f"activities-template.{fmt}", CONTENT_TYPES[f".{fmt}"], content


def example(fmt: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of the three example activities."""
    _check(fmt)
    payloads = example_payloads()
    if fmt == "csv":
        content = csv_format.write([flat_row(p) for p in payloads])
    elif fmt == "xlsx":
        content = xlsx_format.write([flat_row(p, native=True) for p in payloads])
    elif fmt == "xml":
        content = xml_format.write(payloads)
    else:
        content = json_format.write(
            {"activities": [json_format.json_activity(p) for p in payloads]}
        )
    return f"activities-example.{fmt}", CONTENT_TYPES[f".{fmt}"], content


# --- the layout page ---------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; a cell's "|" is escaped and its line breaks become spaces."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# Autoescape is off: the page is Markdown, not HTML, and HTML escaping would corrupt it (the
# XML example's "<activity>", "&amp;" in the prose, quotes in the JSON). Its values come from
# the layout, the reference data and the examples, never from a provider, and it is served as
# text/markdown: whatever turns it into HTML does the escaping. Undefined names are errors, so
# a value renamed here cannot leave a silent gap in the page.
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE),
    autoescape=False,  # noqa: S701 -- Markdown, see above
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def three_cities_example() -> str:
    """A CSV header and row for one course given in three cities: the occurrences carry the
    places, the activity's own place is left empty."""
    from datetime import date

    occurrences = [
        {
            "start_date": date(2027, 3, 5),
            "end_date": date(2027, 3, 6),
            "venue": None,
            "city": "Chicago",
            "state": "IL",
            "country": "US",
        },
        {
            "start_date": date(2027, 5, 14),
            "end_date": date(2027, 5, 15),
            "venue": None,
            "city": "Denver",
            "state": "CO",
            "country": "US",
        },
        {
            "start_date": date(2027, 9, 17),
            "end_date": date(2027, 9, 18),
            "venue": None,
            "city": "Toronto",
            "state": "ON",
            "country": "CA",
        },
    ]
    labels = {f.name: f.label for f in LAYOUT.fields}
    header = [
        labels[n]
        for n in (
            "provider_activity_id",
            "title",
            "format",
            "status",
            "start_date",
            "end_date",
            "delivery",
            "city",
            "state",
            "country",
        )
    ] + [OCCURRENCES_HEADER]
    row = [
        "RC-2027-03",
        "Regional Stroke Update",
        "Course",
        "Active",
        "2027-03-05",
        "2027-09-18",
        "in person",
        "",
        "",
        "",
        occurrences_cell(occurrences),
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, row])
    return buffer.getvalue().rstrip("\n")


def render_docs() -> str:
    """The provider data layout as Markdown: `docs/provider-data.md` is this, committed."""
    ref = reference()
    columns = flat_column_specs()
    # It has occurrences (one with coordinates), a board, REMS, topic tags and an approval:
    # every part shows.
    sample = example_payloads()[1]
    topics = LAYOUT.field("topics")
    keys = ["column", "name", "kind", "required", "allowed", "help", "example"]
    context = {
        "table": _table,
        "file_mb": MAX_FILE_BYTES // (1024 * 1024),
        "unpacked_mb": MAX_XLSX_UNCOMPRESSED_BYTES // (1024 * 1024),
        "max_activities": files.MAX_ACTIVITIES,
        "max_rows": files.MAX_SHEET_ROWS,
        "max_cells": files.MAX_SHEET_CELLS,
        "max_shared_strings": files.MAX_XLSX_SHARED_STRINGS,
        "shared_strings_mb": files.MAX_XLSX_SHARED_STRING_BYTES // (1024 * 1024),
        "max_xml_elements": files.MAX_XML_ELEMENTS_PER_ACTIVITY,
        "max_json_depth": files.MAX_JSON_DEPTH,
        "max_json_containers": files.MAX_JSON_CONTAINERS,
        "unsized_sheet_mb": files.MAX_XLSX_UNSIZED_SHEET_BYTES // (1024 * 1024),
        "max_reported": batch.MAX_REPORTED_PROBLEMS,
        "max_per_activity": files.MAX_PROBLEMS_PER_ACTIVITY,
        "max_unknown": reading.MAX_UNKNOWN_REPORTED,
        "excel_sheet": xlsx_format.EXCEL_SHEET,
        "required_headers": required_headers(),
        "list_separator": LIST_SEPARATOR,
        "occurrences_header": OCCURRENCES_HEADER,
        "approvals_header": APPROVALS_HEADER,
        "coordinates_mark": COORDINATES_MARK,
        "topics_label": topics.label,
        "max_topics": topics.max_items,
        "max_approvals": MAX_APPROVALS,
        "topic_rows": [[t.code, t.name, t.definition] for t in ref.topics.values()],
        "approver_rows": [
            [
                a.code,
                a.name,
                "; ".join(
                    f"{m.jurisdiction}: {m.name}"
                    for m in ref.mandates.values()
                    if m.approved_only and m.approver == a.code
                ),
            ]
            for a in ref.approvers.values()
        ],
        "approval_rows": [
            [f.name, kind_text(f), "always" if f.required == "always" else "", f.help]
            for f in LAYOUT.approval_fields
        ],
        "activity_rows": [
            [column_help(c)[k] for k in keys]
            for c in columns
            if c.group in ("field", "occurrences", "approvals")
        ],
        "occurrences_example": occurrences_cell(sample["occurrences"]),
        "three_cities_example": three_cities_example(),
        "good_standing": ", ".join(s for s in ref.accreditation_statuses if s in ref.good_standing),
        "occurrence_rows": [
            [f.name, kind_text(f), "always" if f.required == "always" else ""]
            for f in LAYOUT.occurrence_fields
        ],
        "moc_rows": [
            [f.name, f"BOARD {f.label}", kind_text(f), f.help or ""] for f in LAYOUT.moc_fields
        ],
        "board_rows": [
            [
                f"{b.code} ({b.name})",
                b.program,
                "; ".join(b.practice_areas),
                "; ".join(b.credit_type_names),
                "required (1 or 2)" if b.requires_content_areas else "not used",
            ]
            for b in ref.collaborating_boards
        ],
        "alias_rows": [
            [b.code, alias, current]
            for b in ref.collaborating_boards
            for alias, current in sorted(b.aliases.items())
        ],
        "other_boards": [b.code for b in ref.boards.values() if not b.collaborating],
        # The REMS table names a field by its own name, not by its path in a registration.
        "rems_rows": [
            [
                column_help(c)["column"],
                c.spec.name if c.spec else "",
                kind_text(c.spec),
                column_help(c)["allowed"],
            ]
            for c in columns
            if c.group == "rems"
        ],
        "report_rows": [[c.header, c.help] for c in report_column_specs()],
        "csv_header": ",".join(c.header for c in columns[:6]),
        "xml_example": xml_format.xml_string(xml_format.xml_activity(sample), level=1),
        "json_example": json.dumps(
            {"activities": [json_format.json_activity(sample)]}, indent=2, ensure_ascii=False
        ),
        "outline": sorted(ref.aba_outline),
    }
    return _ENVIRONMENT.get_template(DOCS_TEMPLATE).render(context)


def main() -> None:
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(render_docs(), encoding="utf-8")
    print(f"wrote {DOCS_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
