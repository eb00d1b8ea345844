"""Templates, example files and the published layout documentation, all made from `LAYOUT`.

`template(fmt)` is an empty file to fill in, `example(fmt)` the same three realistic activities in
each format (they read back to identical payloads, and pass the registry's rules), and
`render_docs()` the Markdown committed as `docs/provider-data.md`. Regenerate that with

    .venv/bin/python -m directory.provider_data.templates
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from directory.provider_data.coerce import (
    LIST_SEPARATOR,
    coerce_activity,
)
from directory.provider_data.files import (
    CONTENT_TYPES,
    EXCEL_SHEET,
    MAX_FILE_BYTES,
    MAX_XLSX_UNCOMPRESSED_BYTES,
    item_tag,
)
from directory.provider_data.layout import (
    LAYOUT,
    OCCURRENCES_HEADER,
    FieldSpec,
    FlatColumn,
    choices,
    flat_column_specs,
    required_headers,
)
from directory.registry.reference import reference

FORMATS = ("csv", "xlsx", "xml", "json")
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "provider-data.md"

# --- the three example activities (raw, as a provider writes them in JSON: fee in dollars) ----


def _layout_example() -> dict[str, Any]:
    """The first example is the layout's own `example` values: a live course in Chicago."""
    raw = {f.name: f.example for f in LAYOUT.fields if f.example not in ("", None)}
    raw["specialties"] = ["Internal Medicine", "Anesthesiology"]
    raw["moc"] = [
        {
            "board": "ABA",
            "practice_areas": ["Adult Cardiac Anesthesiology", "Critical Care Medicine"],
            "credit_types": ["Lifelong Learning"],
            "points": 6.5,
            "content_areas": [
                "Organ-Based Basic and Clinical Sciences > Cardiovascular System > Heart Failure"
            ],
            "claim_deadline": "2027-06-30",
            "attested": True,
        },
        {
            "board": "ABIM",
            "practice_areas": ["Cardiovascular Disease", "Geriatric Medicine"],
            "credit_types": ["Medical Knowledge"],
            "points": 6.5,
            "claim_deadline": "2027-06-30",
            "attested": True,
        },
    ]
    return raw


RAW_EXAMPLES: tuple[dict[str, Any], ...] = (
    _layout_example(),
    {
        "provider_activity_id": "LU-2027-031",
        "title": "Safer Opioid Prescribing for Acute and Chronic Pain: A Hands-On Workshop",
        "format": "Course",
        "status": "Active",
        "start_date": "2027-04-15",
        "end_date": "2027-10-08",
        "description": (
            "A one-day workshop, given in Boston in April and in London in October: opioid "
            "risk assessment, tapering, naloxone co-prescribing and non-opioid alternatives."
        ),
        "objectives": [
            "Assess a patient's risk before starting an opioid",
            "Plan a safe taper for a patient on long-term opioid therapy",
        ],
        "keywords": ["opioid prescribing", "naloxone", "pain management"],
        "specialties": ["Anesthesiology", "Family Medicine"],
        "delivery": "in person",
        "city": "Boston",
        "state": "MA",
        "country": "US",
        "cme_credits": 7,
        "providership": "joint",
        "joint_provider": "New England Pain Society",
        "show_in_directory": True,
        "fee": 250,
        "registration": "open to all",
        "url": "https://cme.lakeshore.example.org/safer-opioids-2027",
        "mips": False,
        "completions_reported": 0,
        "occurrences": [
            {
                "start_date": "2027-04-15",
                "end_date": "2027-04-15",
                "venue": "Hynes Convention Center",
                "city": "Boston",
                "state": "MA",
                "country": "US",
            },
            {
                "start_date": "2027-10-07",
                "end_date": "2027-10-08",
                "city": "London",
                "country": "GB",
            },
        ],
        "moc": [
            {
                "board": "ABA",
                "practice_areas": ["Pain Medicine"],
                "credit_types": ["Patient Safety"],
                "points": 7,
                "content_areas": [
                    "Pain Medicine > General > Pharmacology of Pain Transmission and Modulation"
                ],
                "claim_deadline": "2028-01-31",
                "attested": True,
            }
        ],
        "rems": [{"program": "Opioid Analgesic REMS", "rpc_id": "RPC-2027-0412", "attested": True}],
    },
    {
        "provider_activity_id": "LU-2027-052",
        "title": "Stepwise Management of Pediatric Asthma: 2027 Update",
        "format": "Enduring Material",
        "status": "Active",
        "start_date": "2027-01-15",
        "end_date": "2029-12-31",
        "description": (
            "An online, self-paced module with case videos and a self-assessment on the "
            "stepwise treatment of asthma in children and adolescents."
        ),
        "objectives": [
            "Classify asthma severity and control in children",
            "Step therapy up or down using current guidelines",
        ],
        "keywords": ["asthma", "inhaled corticosteroids", "pediatrics"],
        "specialties": ["Pediatrics"],
        "delivery": "online",
        "cme_credits": 3,
        "providership": "direct",
        "show_in_directory": True,
        "fee": 0,
        "registration": "open to all",
        "url": "https://cme.lakeshore.example.org/pediatric-asthma",
        "mips": True,
        "completions_reported": 0,
        "moc": [
            {
                "board": "ABP",
                "practice_areas": ["General Pediatrics", "Pediatric Pulmonology"],
                "credit_types": ["Lifelong Learning & Self-Assessment"],
                "points": 3,
                "claim_deadline": "2029-12-31",
                "attested": True,
            }
        ],
    },
)


def example_payloads() -> list[dict[str, Any]]:
    """The canonical payloads of the example activities (what every example file reads as)."""
    payloads = []
    for raw in RAW_EXAMPLES:
        payload, problems = coerce_activity(raw)
        if problems:
            raise AssertionError(f"example {raw['provider_activity_id']}: {problems}")
        payloads.append(payload)
    return payloads


# --- writing one payload in each format ------------------------------------------------------


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _dollars(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _occurrences_cell(occurrences: list[dict[str, Any]]) -> str:
    parts = []
    for occ in occurrences:
        text = f"{occ['start_date'].isoformat()}..{occ['end_date'].isoformat()}"
        place = [occ.get(k) or "" for k in ("city", "state", "country")]
        if occ.get("venue"):
            place.insert(0, occ["venue"])
        if any(place):
            text += " " + ", ".join(place)
        parts.append(text)
    return f" {LIST_SEPARATOR} ".join(parts)


def _flat_value(spec: FieldSpec, value: Any, native: bool) -> Any:
    """A typed value as a CSV cell (text) or an Excel cell (native dates and numbers)."""
    if value is None or value == []:
        return None
    if spec.kind == "list":
        return f" {LIST_SEPARATOR} ".join(value)
    if spec.kind == "yes_no":
        return "yes" if value else "no"
    if spec.kind == "date":
        return value if native else value.isoformat()
    if spec.kind == "number":
        return _num(value) if native else f"{value:g}"
    if spec.kind == "money":
        if value == 0:
            return "free"
        return value / 100 if native else _dollars(value)
    return value


def flat_row(payload: Mapping[str, Any], native: bool = False) -> list[Any]:
    """One activity as a CSV/Excel row, in `flat_columns()` order."""
    boards = {m["board"]: m for m in payload["moc"]}
    if len(payload["rems"]) > 1:
        raise ValueError("a CSV/Excel row holds one REMS program; use XML or JSON for more")
    rems = payload["rems"][0] if payload["rems"] else None
    row: list[Any] = []
    for column in flat_column_specs():
        spec = column.spec
        if column.group == "occurrences":
            row.append(_occurrences_cell(payload["occurrences"]) or None)
            continue
        assert spec is not None
        if column.group == "field":
            key = "fee_cents" if spec.name == "fee" else spec.name
            row.append(_flat_value(spec, payload[key], native))
        elif column.group == "moc":
            reg = boards.get(column.board or "")
            row.append(_flat_value(spec, reg[spec.name], native) if reg else None)
        else:
            row.append(_flat_value(spec, rems[spec.name], native) if rems else None)
    return row


def _json_value(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if spec.kind == "number" and value is not None:
        return _num(value)
    if spec.kind == "money" and value is not None:
        return _num(value / 100)
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


def _xml_text(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if spec.kind == "money":
        return _dollars(value)
    if spec.kind == "number":
        return f"{value:g}"
    return str(value)


def _xml_fields(
    parent: ET.Element, specs: tuple[FieldSpec, ...], values: Mapping[str, Any]
) -> None:
    for spec in specs:
        value: Any = values.get(spec.name)
        if not _nonempty(value):
            continue
        element = ET.SubElement(parent, spec.name)
        if spec.kind == "list":
            for item in value:
                ET.SubElement(element, item_tag(spec.name)).text = item
        else:
            element.text = _xml_text(spec, value)


def xml_activity(payload: Mapping[str, Any]) -> ET.Element:
    """One activity as an <activity> element, empty values left out."""
    activity = ET.Element("activity")
    values = {**payload, "fee": payload["fee_cents"]}
    _xml_fields(activity, LAYOUT.fields, values)
    if payload["occurrences"]:
        occurrences = ET.SubElement(activity, "occurrences")
        for occ in payload["occurrences"]:
            _xml_fields(ET.SubElement(occurrences, "occurrence"), LAYOUT.occurrence_fields, occ)
    if payload["moc"]:
        moc = ET.SubElement(activity, "moc")
        for reg in payload["moc"]:
            element = ET.SubElement(moc, "registration", board=reg["board"])
            _xml_fields(element, LAYOUT.moc_fields, reg)
    if payload["rems"]:
        rems = ET.SubElement(activity, "rems")
        for reg in payload["rems"]:
            element = ET.SubElement(rems, "registration", program=reg["program"])
            specs = tuple(s for s in LAYOUT.rems_fields if s.name != "program")
            _xml_fields(element, specs, reg)
    return activity


def _xml_string(element: ET.Element, level: int = 0) -> str:
    ET.indent(element, space="  ", level=level)
    return ET.tostring(element, encoding="unicode")


# --- files ------------------------------------------------------------------------------------


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in flat_column_specs()])
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    # With a byte order mark, Excel opens the file as UTF-8.
    return out.getvalue().encode("utf-8-sig")


def _xml_bytes(payloads: list[dict[str, Any]]) -> bytes:
    root = ET.Element("activities")
    for payload in payloads:
        root.append(xml_activity(payload))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + _xml_string(root).encode() + b"\n"


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _kind(spec: FieldSpec | None) -> str:
    if spec is None:
        return "occurrences"
    words = {
        "text": "text",
        "long_text": "long text",
        "date": "date (YYYY-MM-DD)",
        "number": "number",
        "money": "US dollars",
        "yes_no": "yes or no",
        "choice": "one of a list",
        "list": f"list (separated by {LIST_SEPARATOR})",
    }
    kind = words[spec.kind]
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
        "kind": _kind(column.spec),
        "required": _required(column),
        "allowed": _allowed(column),
        "help": _help(column),
        "example": _example_text(column.spec) if column.group != "moc" else "",
    }


def _xlsx_bytes(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = EXCEL_SHEET
    columns = flat_column_specs()
    sheet.append([c.header for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for i, column in enumerate(columns, start=1):
        letter = get_column_letter(i)
        longest = max([len(column.header)] + [len(str(r[i - 1] or "")) for r in rows])
        sheet.column_dimensions[letter].width = min(max(longest + 2, 12), 60)
        spec = column.spec
        if spec is not None and spec.kind == "date":
            for cell in sheet[letter][1:]:
                cell.number_format = "yyyy-mm-dd"
        elif spec is not None and spec.kind == "money":
            for cell in sheet[letter][1:]:
                cell.number_format = "0.00"
    sheet.freeze_panes = "A2"

    help_sheet = book.create_sheet("Help")
    titles = ["Column", "XML/JSON name", "Kind", "Required", "Allowed values", "Help", "Example"]
    keys = ["column", "name", "kind", "required", "allowed", "help", "example"]
    help_sheet.append(titles)
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for column in columns:
        info = column_help(column)
        help_sheet.append([info[k] for k in keys])
    for i, width in enumerate((30, 34, 28, 24, 60, 60, 30), start=1):
        help_sheet.column_dimensions[get_column_letter(i)].width = width
    for row in help_sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    help_sheet.freeze_panes = "A2"

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _skeleton() -> dict[str, Any]:
    """Every JSON key, empty: what to fill in."""
    activity: dict[str, Any] = {f.name: [] if f.kind == "list" else None for f in LAYOUT.fields}
    activity["occurrences"] = [{f.name: None for f in LAYOUT.occurrence_fields}]
    activity["moc"] = [
        {"board": "ABIM", **{f.name: [] if f.kind == "list" else None for f in LAYOUT.moc_fields}}
    ]
    activity["rems"] = [{f.name: None for f in LAYOUT.rems_fields}]
    return activity


def _xml_template() -> bytes:
    example = _xml_string(xml_activity(example_payloads()[0]), level=1)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Activities for the CME directory: one <activity> per activity. Every element is\n"
        "     described in the layout documentation (docs/provider-data.md). Leave out what you\n"
        "     do not have. The example below is a comment: copy it out and change it. -->\n"
        "<activities>\n"
        "  <!--\n"
        f"  {example}\n"
        "  -->\n"
        "</activities>\n"
    )
    return text.encode()


def _check(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return fmt


def template(fmt: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of an empty file to fill in."""
    _check(fmt)
    if fmt == "csv":
        content = _csv_bytes([])
    elif fmt == "xlsx":
        content = _xlsx_bytes([])
    elif fmt == "xml":
        content = _xml_template()
    else:
        content = _json_bytes({"activities": [_skeleton()]})
    return f"activities-template.{fmt}", CONTENT_TYPES[f".{fmt}"], content


def example(fmt: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of the three example activities."""
    _check(fmt)
    payloads = example_payloads()
    if fmt == "csv":
        content = _csv_bytes([flat_row(p) for p in payloads])
    elif fmt == "xlsx":
        content = _xlsx_bytes([flat_row(p, native=True) for p in payloads])
    elif fmt == "xml":
        content = _xml_bytes(payloads)
    else:
        content = _json_bytes({"activities": [json_activity(p) for p in payloads]})
    return f"activities-example.{fmt}", CONTENT_TYPES[f".{fmt}"], content


# --- the published documentation -------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_docs() -> str:
    """The provider data layout as Markdown: `docs/provider-data.md` is this, committed."""
    ref = reference()
    columns = flat_column_specs()
    top = [c for c in columns if c.group in ("field", "occurrences")]
    rems = [c for c in columns if c.group == "rems"]
    payloads = example_payloads()
    sample = payloads[1]
    limit = MAX_FILE_BYTES // (1024 * 1024)
    unpacked = MAX_XLSX_UNCOMPRESSED_BYTES // (1024 * 1024)
    boards = ref.collaborating_boards
    out: list[str] = [
        "# Provider data: the activity layout",
        "",
        "<!-- Generated from directory/data/activity_layout.toml by",
        "     `.venv/bin/python -m directory.provider_data.templates`; do not edit by hand. -->",
        "",
        "Accredited providers send their activities to the directory in one layout, whichever",
        "way they send them. This page lists every column (CSV and Excel), element (XML) and key",
        "(JSON), what each may hold, and what happens when you send a file.",
        "",
        "## Ways to send activities",
        "",
        "- **Batch file upload**: a CSV file, an Excel workbook (.xlsx), an XML file or a JSON",
        "  file, uploaded on the provider pages. Download a template (empty) or an example (three",
        "  realistic activities) in each format: `activities-template.csv`, `.xlsx`, `.xml`,",
        "  `.json` and `activities-example.csv`, `.xlsx`, `.xml`, `.json`.",
        "- **Web service**: your own system sends activities as JSON, with the keys below,",
        "  authenticated with your API key, one activity at a time or a whole batch. The checks",
        "  and the report are the same as for an upload.",
        "",
        "## What happens when you send activities",
        "",
        "- **All or nothing.** Every activity in the file is read and checked first. If any has an",
        "  error, nothing is saved and the report lists every error with where it is",
        '  ("row 14" in a CSV or Excel file, the header being row 1; "activity 3 (LU-2027-014)"',
        "  in XML or JSON) and which field. Fix them and send the whole file again.",
        "- **Your activity id is the key.** An activity whose id is new is created; one whose id",
        "  you sent before is updated, and takes the values in the file: an empty value clears",
        "  that field, and the occurrences and board and REMS registrations are replaced by the",
        "  ones in the file. An empty Status keeps the current status (Draft for a new activity).",
        "  Each id may appear only once in a file.",
        "- **Errors, incomplete registrations and warnings.** An error (a date that is not a date,",
        "  points above the credits, a practice area the board does not have) stops the file. A",
        "  board or REMS registration that lacks something (no claim deadline, not attested) is",
        "  saved but *incomplete*: it does not count toward that board until you complete it. A",
        "  warning (few credits for MIPS, a file read as Windows-1252) is saved; read it anyway.",
        "",
        "## Limits",
        "",
        f"- A file may be at most {limit} MB; split a bigger one. An Excel workbook may unpack",
        f"  to at most {unpacked} MB.",
        "- **CSV**: UTF-8, with or without a byte order mark (in Excel: *Save As > CSV UTF-8*),",
        "  or UTF-16 with a byte order mark. A file that is not UTF-8 but reads cleanly as",
        "  Windows-1252 is accepted with a warning; anything else is refused. Cells are separated",
        "  by commas (semicolons or tabs also work).",
        "- **Excel**: .xlsx only (not .xls, .xlsm or a password-protected workbook). The sheet",
        f'  named "{EXCEL_SHEET}", or else the first sheet; headers in row 1; empty rows are',
        "  skipped. Excel dates, numbers and TRUE/FALSE are understood.",
        "- **No formulas.** A cell holding a formula (in Excel, or a CSV cell starting with `=`)",
        "  is an error: formulas are never calculated, paste the value instead. Cells starting",
        "  with `+`, `-` or `@` are read as written. (Whenever the directory exports data to CSV",
        "  or Excel, it must escape cells starting with `=`, `+`, `-` or `@` so that a",
        "  spreadsheet does not run them.)",
        "- **XML**: no DTD (`<!DOCTYPE ...>`) and no entities of your own; a file with either is",
        "  refused. Write characters directly (UTF-8) or as `&amp;` `&lt;` `&gt;` `&quot;`",
        "  `&apos;` or character references.",
        "- **JSON**: UTF-8.",
        "- Unknown columns, elements or keys are errors, so that a misspelt one is not silently",
        "  lost. The required columns (" + ", ".join(required_headers()) + ") must be there.",
        "",
        "## The activity",
        "",
        "The CSV/Excel column is the header to use (case does not matter, and the XML/JSON name",
        'is accepted as a header too). "Required: always" means even a draft needs it; "to be',
        'Active" means the activity cannot be Active without it.',
        "",
    ]
    keys = ["column", "name", "kind", "required", "allowed", "help", "example"]
    out += _table(
        ["Column", "XML/JSON name", "Kind", "Required", "Allowed values", "Notes", "Example"],
        [[column_help(c)[k] for k in keys] for c in top],
    )
    out += [
        "",
        "Kinds:",
        "",
        "- **text**: as written, without surrounding spaces; at most the length shown.",
        "- **date**: `YYYY-MM-DD` (2027-03-11); in Excel a date cell also works.",
        "- **number**: like `6.5`; not negative.",
        "- **US dollars**: like `395.00`, `$1,295.50` or `395`; `0` or `free` for a free",
        "  activity. (The registry keeps cents.)",
        "- **yes or no**: yes/no, true/false, y/n or 1/0, any case; empty means no.",
        "- **one of a list**: one of the allowed values, any case.",
        f"- **list**: several values; in a CSV/Excel cell separated by `{LIST_SEPARATOR}`"
        " (`HFpEF | SGLT2 inhibitors`), in XML one element per item, in JSON an array.",
        "",
        "### Occurrences",
        "",
        "An activity given more than once (the same course in two cities) is sent once, with each",
        "occurrence's dates and place.",
        "",
        f'In CSV/Excel, the "{OCCURRENCES_HEADER}" cell holds them all, separated by'
        f" `{LIST_SEPARATOR}`, each as",
        "`START..END City, State, Country`; the state is empty outside the US and Canada, and a",
        "venue may come first:",
        "",
        "```text",
        _occurrences_cell(sample["occurrences"]),
        "```",
        "",
        "In XML and JSON each occurrence has these elements/keys:",
        "",
    ]
    out += _table(
        ["Name", "Kind", "Required"],
        [
            [f.name, _kind(f), "always" if f.required == "always" else ""]
            for f in LAYOUT.occurrence_fields
        ],
    )
    out += [
        "",
        "### MOC / Continuing Certification registrations",
        "",
        "An activity counts toward a board only once it is registered for that board and the",
        "registration is complete: practice areas, credit types, points (not more than the",
        "activity's AMA PRA Category 1 credits), a claim deadline, your attestation, and for",
        "boards that use them 1 or 2 content areas.",
        "",
        'In CSV/Excel each board has a group of columns named after it ("ABIM practice areas",',
        '"ABIM credit types", "ABIM points", ...). Leave all of a board\'s columns empty when the',
        "activity is not registered for it. In XML and JSON there is one registration per board,",
        "with the board's code.",
        "",
    ]
    out += _table(
        ["Name", "Column (per board)", "Kind", "Notes"],
        [[f.name, f"BOARD {f.label}", _kind(f), f.help or ""] for f in LAYOUT.moc_fields],
    )
    out += ["", "The boards, with their practice areas and credit types:", ""]
    out += _table(
        ["Board", "Program", "Practice areas", "Credit types", "Content areas"],
        [
            [
                f"{b.code} ({b.name})",
                b.program,
                "; ".join(b.practice_areas),
                "; ".join(b.credit_type_names),
                "required (1 or 2)" if b.requires_content_areas else "not used",
            ]
            for b in boards
        ],
    )
    others = [b for b in ref.boards.values() if not b.collaborating]
    if others:
        out += [
            "",
            "Boards without a registration program of their own ("
            + ", ".join(b.code for b in others)
            + ") accept any Category 1 activity:",
            "list the specialties the activity is meant for instead.",
        ]
    out += [
        "",
        "### REMS",
        "",
        "In CSV/Excel one REMS program per activity (XML and JSON may give several):",
        "",
    ]
    out += _table(
        ["Column", "XML/JSON name", "Kind", "Allowed values"],
        [
            [column_help(c)["column"], c.spec.name if c.spec else "", _kind(c.spec), _allowed(c)]
            for c in rems
        ],
    )
    csv_header = ",".join(c.header for c in columns[:6])
    out += [
        "",
        "## CSV and Excel",
        "",
        "Row 1 holds the headers, in any order; only the required columns must be there. Each",
        "following row is one activity. The template has every column:",
        "",
        "```text",
        csv_header + ",...",
        "```",
        "",
        "## XML",
        "",
        "One `<activity>` per activity inside `<activities>`; each field is an element named as",
        "in the table above (`<fee>` in dollars). Lists have one element per item (`<objectives>`",
        "holds `<objective>`s, `<specialties>` holds `<specialty>`s). Registrations name their",
        "board or program in an attribute. Yes/no is `true`/`false` (or yes/no). An example:",
        "",
        "```xml",
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<activities>",
        "  " + _xml_string(xml_activity(sample), level=1),
        "</activities>",
        "```",
        "",
        "## JSON",
        "",
        'An object `{"activities": [...]}` (or just the list), one object per activity, keys',
        "named as in the table above (`fee` in dollars, a number); lists are arrays, yes/no is",
        '`true`/`false`, dates are `"YYYY-MM-DD"` strings. An example:',
        "",
        "```json",
        json.dumps({"activities": [json_activity(sample)]}, indent=2, ensure_ascii=False),
        "```",
        "",
        "## The ABA content outline",
        "",
        "Content areas are written as paths `Area > Section > Topic`; any of these:",
        "",
        "<details><summary>All paths</summary>",
        "",
    ]
    out += [f"- {path}" for path in sorted(ref.aba_outline)]
    out += ["", "</details>", ""]
    return "\n".join(out)


def main() -> None:
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(render_docs(), encoding="utf-8")
    print(f"wrote {DOCS_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
