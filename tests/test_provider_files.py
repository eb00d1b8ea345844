"""Reading providers' files: every format, every kind of bad cell, and hostile files."""

from __future__ import annotations

import codecs
import copy
import csv
import io
import json
import re
import struct
import tracemalloc
import zipfile
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from directory.provider_data import files
from directory.provider_data.coerce import approver_code, coerce_activity
from directory.provider_data.files import FileReader, FileRejected, Record, read_records
from directory.provider_data.formats import csv_format, json_format, xlsx_format, xml_format
from directory.provider_data.formats.rows import flat_row
from directory.provider_data.layout import (
    LAYOUT,
    choices,
    flat_columns,
    match_header,
    required_headers,
)
from directory.provider_data.published import (
    DOCS_PATH,
    example,
    example_payloads,
    render_docs,
    template,
)
from directory.provider_data.values import BadValue, coerce_value
from directory.registry import rules
from directory.registry.models import Activity, MocRegistration, Occurrence, RemsRegistration
from directory.registry.reference import reference

FORMATS = ("csv", "xlsx", "xml", "json")
REQUIRED = "Your activity id,Title,Format,Start date,End date"
GOOD = "LU-1,A title,Course,2027-03-11,2027-03-12"


def read(name: str, data: bytes) -> list[Record]:
    return list(read_records(name, data))


def texts(record: Record) -> list[str]:
    return [str(p) for p in record.problems]


def csv_file(header: str, *rows: str) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def xlsx_file(rows: list[list[Any]], title: str = "Activities") -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def activity_of(payload: dict[str, Any]) -> Activity:
    """A detached registry activity holding a payload, for the registry's rules."""
    scalars = {k: v for k, v in payload.items() if k not in ("occurrences", "moc", "rems")}
    activity = Activity(**scalars)
    activity.occurrences = [Occurrence(**o) for o in payload["occurrences"]]
    activity.moc = [MocRegistration(**m) for m in payload["moc"]]
    activity.rems = [RemsRegistration(**r) for r in payload["rems"]]
    return activity


# --- layout -----------------------------------------------------------------------------------


def test_flat_columns_follow_the_layout_and_the_boards():
    columns = flat_columns()
    assert columns[:3] == ["Your activity id", "Title", "Format"]
    assert columns[len(LAYOUT.fields)] == "Occurrences"
    for header in (
        "ABIM practice areas",
        "ABIM credit types",
        "ABIM points",
        "ABA content areas",
        "ABIM claim deadline",
        "ABIM attested",
        "ABP points",
    ):
        assert header in columns
    assert "ABIM content areas" not in columns
    assert "ABPMR points" not in columns  # not a collaborating board
    assert columns[-3:] == ["REMS program", "REMS RPC id", "REMS attested"]
    assert required_headers() == ["Your activity id", "Title", "Format", "Start date", "End date"]
    assert len(set(columns)) == len(columns)


def test_headers_match_case_insensitively_and_by_field_name():
    assert match_header("  your ACTIVITY id ") is match_header("provider_activity_id")
    assert match_header("abim POINTS").header == "ABIM points"
    assert match_header("fee").header == "Fee (USD)"
    assert match_header("Nonsense") is None


def test_choices_come_from_the_reference_data():
    assert choices(LAYOUT.field("delivery")) == ("in person", "online", "both")
    formats = choices(LAYOUT.field("format"))
    assert "Internet Live Course" in formats  # legacy: still accepted
    assert "Internet Live Course" not in choices(LAYOUT.field("format"), include_legacy=False)


# --- examples and templates -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_example_reads_without_problems_into_the_same_payloads(fmt):
    name, content_type, data = example(fmt)
    assert name == f"activities-example.{fmt}" and content_type
    records = read(name, data)
    assert [texts(r) for r in records] == [[], [], []]
    assert [r.payload for r in records] == example_payloads()
    if fmt in ("csv", "xlsx"):
        assert [r.location for r in records] == ["row 2", "row 3", "row 4"]
    else:
        assert [r.location for r in records] == [
            "activity 1 (LU-2027-014)",
            "activity 2 (LU-2027-031)",
            "activity 3 (LU-2027-052)",
        ]


def test_examples_are_identical_across_formats_and_valid_for_the_registry():
    payloads = {fmt: [r.payload for r in read(*example(fmt)[::2])] for fmt in FORMATS}
    assert payloads["csv"] == payloads["xlsx"] == payloads["xml"] == payloads["json"]
    first, repeated, online = payloads["csv"]
    assert {m["board"] for m in first["moc"]} == {"ABIM", "ABA"}
    assert first["city"] == "Chicago" and first["fee_cents"] == 39500
    assert len(repeated["occurrences"]) == 2
    assert repeated["occurrences"][1]["state"] is None  # "London, , GB"
    assert online["fee_cents"] == 0 and online["mips"] is True and online["delivery"] == "online"
    assert [m["board"] for m in online["moc"]] == ["ABP"]
    for payload in payloads["csv"]:
        assert rules.validate_activity(activity_of(payload)) == []


def test_payload_has_every_layout_field():
    payload = example_payloads()[0]
    names = ["fee_cents" if f.name == "fee" else f.name for f in LAYOUT.fields]
    assert list(payload) == [*names, "occurrences", "moc", "rems", "approvals"]
    assert payload["joint_provider"] is None and payload["occurrences"] == []
    assert payload["start_date"] == date(2027, 3, 11)
    assert set(payload["moc"][0]) == {"board", *(f.name for f in LAYOUT.moc_fields)}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "xml"])
def test_templates_read_as_no_activities(fmt):
    name, _, data = template(fmt)
    assert name == f"activities-template.{fmt}"
    assert read(name, data) == []


def test_json_template_is_one_empty_skeleton():
    name, _, data = template("json")
    (record,) = read(name, data)
    skeleton = json.loads(data)["activities"][0]
    assert set(skeleton) >= {f.name for f in LAYOUT.fields}
    assert record.payload["title"] is None
    assert all("required" in p.message for p in record.problems), texts(record)


def test_csv_template_is_the_header_row():
    _, _, data = template("csv")
    assert data.startswith(codecs.BOM_UTF8)
    assert next(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == flat_columns()


def test_xlsx_template_has_bold_frozen_headers_and_a_help_sheet():
    _, _, data = template("xlsx")
    book = load_workbook(io.BytesIO(data))
    sheet = book["Activities"]
    assert [c.value for c in sheet[1]] == flat_columns()
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 12
    help_rows = list(book["Help"].iter_rows(values_only=True))
    assert help_rows[0][:4] == ("Column", "XML/JSON name", "Kind", "Required")
    assert [r[0] for r in help_rows[1:]] == flat_columns()
    delivery = next(r for r in help_rows if r[0] == "Delivery")
    assert "in person" in delivery[4]


def test_the_committed_docs_are_the_rendered_layout():
    assert DOCS_PATH.read_text(encoding="utf-8") == render_docs(), (
        "docs/provider-data.md is stale: run .venv/bin/python -m directory.provider_data.published"
    )


def test_docs_cover_every_column_and_the_limits():
    docs = render_docs()
    for field in LAYOUT.fields:
        assert f"| {field.label} | {field.name} |" in docs
    for text in ("50 MB", "UTF-8", "formula", "DOCTYPE", "All or nothing", "```xml", "```json"):
        assert text in docs


# --- single values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("$395.00", 39500),
        ("395", 39500),
        ("1,295.50", 129550),
        ("free", 0),
        ("FREE", 0),
        ("0", 0),
        (0, 0),
        (395.0, 39500),
        (19.99, 1999),
    ],
)
def test_money(raw, cents):
    assert coerce_value(LAYOUT.field("fee"), raw) == cents


@pytest.mark.parametrize("raw", ["395 dollars", "12.345", "-5", "$-5", "1,29,5", True])
def test_bad_money(raw):
    with pytest.raises(BadValue):
        coerce_value(LAYOUT.field("fee"), raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("yes", True), ("No", False), ("TRUE", True), ("y", True), ("0", False), (1, True)],
)
def test_yes_no(raw, value):
    assert coerce_value(LAYOUT.field("mips"), raw) is value


def test_empty_values():
    assert coerce_value(LAYOUT.field("mips"), "  ") is False
    assert coerce_value(LAYOUT.field("keywords"), "") == []
    assert coerce_value(LAYOUT.field("cme_credits"), None) is None
    assert coerce_value(LAYOUT.field("keywords"), "a | | b ") == ["a", "b"]


def test_choices_match_any_case_and_return_the_registry_spelling():
    assert coerce_value(LAYOUT.field("format"), "enduring  MATERIAL") == "Enduring Material"
    assert coerce_value(LAYOUT.field("delivery"), "In Person") == "in person"


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "1e400", "6,5", "six"])
def test_bad_numbers(raw):
    with pytest.raises(BadValue):
        coerce_value(LAYOUT.field("cme_credits"), raw)


def test_native_dates_and_numbers():
    assert coerce_value(LAYOUT.field("start_date"), datetime(2027, 3, 11)) == date(2027, 3, 11)
    assert coerce_value(LAYOUT.field("provider_activity_id"), 12345.0) == "12345"
    assert coerce_value(LAYOUT.field("cme_credits"), 6) == 6.0
    with pytest.raises(BadValue, match="is not a date"):
        coerce_value(LAYOUT.field("start_date"), "2027-02-30")


# --- bad cells in a CSV: the right row, field and message ------------------------------------

BAD_CELLS = [
    ("ABIM claim deadline", "1/10/27", "ABIM claim deadline", "'1/10/27' is not a date; write"),
    ("AMA PRA Category 1 Credits", "six", "AMA PRA Category 1 Credits", "'six' is not a number"),
    ("ABIM points", "-2", "ABIM points", "-2 is negative"),
    ("Delivery", "by carrier pigeon", "delivery", "is not one of: in person, online, both"),
    ("Country", "USA", "country", "3 characters is too long; the limit is 2"),
    ("Registered for MIPS", "maybe", "registered for MIPS", "'maybe' is not yes or no"),
    ("Fee (USD)", "a lot", "fee (USD)", "is not an amount in US dollars"),
    ("Occurrences", "Chicago 2027-03-11", "occurrence 1", "START..END City, State, Country"),
    ("Occurrences", "2027-03-11..2027-03-12 Chicago", "occurrence 1", "cannot be read"),
    (
        "Occurrences",
        "2027-03-11..2027-03-12 Chicago, IL, US | 3/11..2027-03-12 Boston, MA, US",
        "occurrence 2",
        "start date: '3/11' is not a date",
    ),
    ("ABA content areas", "x" * 1, None, None),  # a valid cell: no problem
]


@pytest.mark.parametrize(("column", "cell", "field", "message"), BAD_CELLS)
def test_a_bad_cell_is_named_by_row_and_field(column, cell, field, message):
    data = csv_file(
        f"{REQUIRED},{column}",
        f"{GOOD},",
        f'LU-2,Second,Course,2027-03-11,2027-03-12,"{cell}"',
    )
    first, second = read("a.csv", data)
    assert first.problems == []
    assert second.location == "row 3"
    if field is None:
        assert second.problems == []
        return
    (problem,) = second.problems
    assert problem.field == field and problem.severity == "error"
    assert message in problem.message


def test_a_long_title_is_refused_with_the_limit():
    data = csv_file(REQUIRED, f"LU-1,{'x' * 501},Course,2027-03-11,2027-03-12")
    (record,) = read("a.csv", data)
    assert texts(record) == [
        f"title: 501 characters is too long; the limit is 500 (it starts '{'x' * 57}...')"
    ]


def test_unknown_columns_reject_the_file_naming_them():
    data = csv_file(f"{REQUIRED},ABIM pionts,Colour", f"{GOOD},2,blue")
    with pytest.raises(FileRejected) as e:
        read("a.csv", data)
    assert "'ABIM pionts' (did you mean 'ABIM points'?)" in str(e.value)
    assert "'Colour'" in str(e.value)


def test_a_missing_required_column_rejects_the_file():
    data = csv_file("Your activity id,Title,Format,Start date", "LU-1,T,Course,2027-03-11")
    with pytest.raises(FileRejected, match="missing required columns: End date"):
        read("a.csv", data)


def test_headers_in_any_case_and_order_and_by_field_name():
    data = csv_file(
        " end date ,START DATE,provider_activity_id,title,Format",
        "2027-03-12,2027-03-11,LU-1,T,course",
    )
    (record,) = read("a.csv", data)
    assert record.problems == []
    assert record.payload["end_date"] == date(2027, 3, 12)
    assert record.payload["format"] == "Course"


def test_a_repeated_activity_id_is_an_error_on_its_second_row():
    data = csv_file(REQUIRED, GOOD, "LU-2,T,Course,2027-03-11,2027-03-12", GOOD)
    records = read("a.csv", data)
    assert [r.location for r in records] == ["row 2", "row 3", "row 4"]
    assert records[0].problems == [] and records[1].problems == []
    assert texts(records[2]) == ["your activity id: 'LU-1' already appears in row 2"]


def test_a_missing_activity_id_is_an_error():
    (record,) = read("a.csv", csv_file(REQUIRED, ",T,Course,2027-03-11,2027-03-12"))
    assert record.problems[0].field == "your activity id"


def test_empty_rows_are_skipped_but_counted():
    data = csv_file(REQUIRED, GOOD, "", ",,,,", "LU-2,T,Course,2027-03-11,2027-03-12")
    assert [r.location for r in read("a.csv", data)] == ["row 2", "row 5"]


def test_board_columns_make_a_registration_only_when_filled():
    data = csv_file(
        f"{REQUIRED},ABIM points,ABIM practice areas,ABP points,REMS program,REMS attested",
        f"{GOOD},2,Cardiovascular Disease | Nephrology,,Mycophenolate rems,yes",
    )
    (record,) = read("a.csv", data)
    assert record.problems == []
    (abim,) = record.payload["moc"]
    assert abim == {
        "board": "ABIM",
        "practice_areas": ["Cardiovascular Disease", "Nephrology"],
        "credit_types": [],
        "points": 2.0,
        "content_areas": [],
        "claim_deadline": None,
        "attested": False,
    }
    assert record.payload["rems"] == [
        {"program": "Mycophenolate REMS", "rpc_id": None, "attested": True}
    ]


def test_a_value_under_no_header_is_an_error():
    data = csv_file(f"{REQUIRED},", f"{GOOD},stray")
    (record,) = read("a.csv", data)
    assert texts(record) == ["column 6: has a value but no header; add the header or clear it"]


# --- formulas ---------------------------------------------------------------------------------


def test_a_csv_formula_is_refused_not_evaluated():
    data = csv_file(f"{REQUIRED},Keywords", 'LU-1,"=1+1",Course,2027-03-11,2027-03-12,+1 | @x')
    (record,) = read("a.csv", data)
    assert texts(record) == ["title: formulas are not accepted; paste the value instead"]
    assert record.payload["title"] is None
    assert record.payload["keywords"] == ["+1", "@x"]  # allowed: read as written


def test_xlsx_formulas_are_refused_and_never_computed():
    data = xlsx_file(
        [
            REQUIRED.split(",") + ["Activity URL", "AMA PRA Category 1 Credits"],
            [
                "LU-1",
                '=HYPERLINK("http://evil","x")',
                "Course",
                "2027-03-11",
                "2027-03-12",
                "https://ok.example.org",
                "=1+1",
            ],
        ]
    )
    (record,) = read("a.xlsx", data)
    assert texts(record) == [
        "title: formulas are not accepted; paste the value instead (cell B2)",
        "AMA PRA Category 1 Credits: formulas are not accepted; paste the value instead (cell G2)",
    ]
    assert record.payload["title"] is None and record.payload["cme_credits"] is None
    assert "evil" not in repr(record.payload) and 2.0 not in record.payload.values()


# --- Excel ------------------------------------------------------------------------------------


def test_xlsx_native_cells_and_sheet_choice():
    rows = [
        REQUIRED.split(",") + ["Show in the public directory", "AMA PRA Category 1 Credits"],
        [12345, "A title", "Course", datetime(2027, 3, 11), date(2027, 3, 12), True, 6],
        [None] * 7,
        ["LU-2", "Second", "Course", "2027-03-11", "2027-03-12", "no", "1.5"],
    ]
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["not the activities"])
    sheet = book.create_sheet("Activities")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    records = read("a.xlsx", out.getvalue())
    assert [r.location for r in records] == ["row 2", "row 4"]
    assert [texts(r) for r in records] == [[], []]
    one, two = (r.payload for r in records)
    assert one["provider_activity_id"] == "12345"
    assert one["start_date"] == date(2027, 3, 11) and one["end_date"] == date(2027, 3, 12)
    assert one["show_in_directory"] is True and one["cme_credits"] == 6.0
    assert two["show_in_directory"] is False and two["cme_credits"] == 1.5


def test_xlsx_bad_cell_location():
    data = xlsx_file([REQUIRED.split(","), ["LU-1", "T", "Course", "11/03/2027", "2027-03-12"]])
    (record,) = read("a.xlsx", data)
    assert record.location == "row 2"
    assert texts(record) == ["start date: '11/03/2027' is not a date; write it as YYYY-MM-DD"]


def test_a_file_that_is_not_a_zip_is_not_an_xlsx():
    with pytest.raises(FileRejected, match="not an .xlsx workbook"):
        read("a.xlsx", b"Your activity id,Title\r\n")


def test_a_password_protected_or_old_workbook_is_refused():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512
    with pytest.raises(FileRejected, match="password-protected or an old .xls"):
        read("a.xlsx", ole)


@pytest.mark.parametrize("name", ["a.xls", "a.xlsm", "a.ods"])
def test_other_spreadsheet_types_are_refused(name):
    with pytest.raises(FileRejected, match=r"Excel Workbook \(.xlsx\)"):
        read(name, b"whatever")


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    with pytest.raises(FileRejected, match="not an Excel workbook"):
        read("a.xlsx", out.getvalue())


def test_a_damaged_workbook_is_refused():
    data = bytearray(xlsx_file([REQUIRED.split(",")]))
    data[len(data) // 2 : len(data) // 2 + 200] = b"\0" * 200
    with pytest.raises(FileRejected):
        read("a.xlsx", bytes(data))


def _declare_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite the central directory's uncompressed size of `member`: a lying zip."""
    data = bytearray(data)
    name = member.encode()
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + name_length] == name:
            struct.pack_into("<I", data, start + 24, size)
            return bytes(data)
        start += 4
    raise AssertionError(f"{member} not in the zip")


def test_a_zip_bomb_is_refused_before_unpacking():
    data = _declare_size(xlsx_file([REQUIRED.split(",")]), "xl/worksheets/sheet1.xml", 0xFFFFFF00)
    with pytest.raises(FileRejected, match=r"would unpack to 4096 MB; the limit is 200 MB"):
        read("a.xlsx", data)


def test_a_highly_compressed_workbook_is_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_XLSX_UNCOMPRESSED_BYTES", 1024 * 1024)
    out = io.BytesIO(xlsx_file([REQUIRED.split(",")]))
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * (2 * 1024 * 1024))
    with pytest.raises(FileRejected, match="would unpack to"):
        read("a.xlsx", out.getvalue())


def test_a_zip_of_too_many_parts_is_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_XLSX_ENTRIES", 3)
    with pytest.raises(FileRejected, match="parts"):
        read("a.xlsx", xlsx_file([REQUIRED.split(",")]))


def test_a_venue_with_commas_and_dates_only_occurrences():
    cell = "2027-03-11..2027-03-12 Navy Pier, Festival Hall B, Chicago, IL, US | 2027-04-01..2027-04-01"
    data = csv_file(f"{REQUIRED},Occurrences", f'{GOOD},"{cell}"')
    (record,) = read("a.csv", data)
    assert record.problems == []
    first, second = record.payload["occurrences"]
    assert first["venue"] == "Navy Pier, Festival Hall B" and first["city"] == "Chicago"
    assert second == {
        "start_date": date(2027, 4, 1),
        "end_date": date(2027, 4, 1),
        "venue": None,
        "city": None,
        "state": None,
        "country": None,
        "latitude": None,
        "longitude": None,
    }


def _with_sheet(data: bytes, sheet_xml: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            content = source.read(name)
            archive.writestr(name, sheet_xml if name == "xl/worksheets/sheet1.xml" else content)
    return out.getvalue()


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE worksheet [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE worksheet [<!ENTITY x "lol"><!ENTITY e "&x;&x;&x;&x;&x;&x;&x;&x;">]>',
    ],
)
def test_xlsx_with_entities_inside_is_refused(doctype):
    data = xlsx_file([REQUIRED.split(","), ["LU-1", "TITLE", "Course", "2027-03-11", "2027-03-12"]])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    hostile = doctype + sheet.replace(">TITLE<", ">&e;<")
    with pytest.raises(FileRejected) as e:
        read("a.xlsx", _with_sheet(data, hostile))
    assert "root:" not in str(e.value) and "\n" not in str(e.value)


# --- hostile XML ------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<activities><activity><provider_activity_id>X</provider_activity_id><title>&lol9;</title>
</activity></activities>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE activities [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<activities><activity><provider_activity_id>X</provider_activity_id>
<title>&xxe;</title></activity></activities>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE activities SYSTEM "http://evil.example.com/layout.dtd">
<activities><activity><provider_activity_id>X</provider_activity_id></activity></activities>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE activities [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<activities/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_xml_with_a_dtd_or_entities_is_refused(data):
    with pytest.raises(FileRejected) as e:
        read("a.xml", data)
    assert "XML with a DTD or entities is not accepted" in str(e.value)
    assert "root:" not in str(e.value)


def test_the_passwd_file_never_leaks_into_a_record():
    records: list[Record] = []
    with pytest.raises(FileRejected):
        records.extend(read_records("a.xml", EXTERNAL_ENTITY))
    assert records == []


def test_malformed_xml_is_refused_with_line_and_column():
    data = b"<activities>\n  <activity>\n    <title>x</titel>\n  </activity>\n</activities>"
    with pytest.raises(FileRejected, match=r"not well-formed at line 3, column \d+"):
        read("a.xml", data)


def test_an_undeclared_entity_is_malformed_xml():
    with pytest.raises(FileRejected, match="not well-formed"):
        read("a.xml", b"<activities><activity><title>&evil;</title></activity></activities>")


def test_xml_wrong_root_is_refused():
    with pytest.raises(FileRejected, match="must be <activities>, not <courses>"):
        read("a.xml", b"<courses/>")


def test_unknown_xml_elements_are_named_by_path():
    data = b"""<activities>
      <activity><provider_activity_id>A</provider_activity_id><title>T</title></activity>
      <activity><provider_activity_id>B</provider_activity_id><tilte>T</tilte></activity>
      <activity>
        <provider_activity_id>LU-2027-014</provider_activity_id>
        <moc><registration board="ABIM"><pionts>2</pionts></registration></moc>
      </activity>
    </activities>"""
    records = read("a.xml", data)
    assert records[0].problems == []
    assert texts(records[1]) == ["activity 2/tilte: unknown element (did you mean <title>?)"]
    assert records[2].location == "activity 3 (LU-2027-014)"
    assert texts(records[2]) == [
        "activity 3/moc/registration[ABIM]/pionts: unknown element (did you mean <points>?)"
    ]


def test_xml_bad_value_location_and_field():
    data = b"""<activities><activity>
      <provider_activity_id>LU-9</provider_activity_id><start_date>1/10/27</start_date>
      <keywords>a | b</keywords>
      <occurrences><occurrence><start_date>2027-03-11</start_date></occurrence></occurrences>
    </activity></activities>"""
    (record,) = read("a.xml", data)
    assert record.location == "activity 1 (LU-9)"
    assert texts(record) == [
        "start date: '1/10/27' is not a date; write it as YYYY-MM-DD",
        "occurrence 1: end date is required",
    ]
    assert record.payload["keywords"] == ["a", "b"]


def test_xml_streams_and_clears_finished_activities():
    body = "".join(
        f"<activity><provider_activity_id>ID-{i}</provider_activity_id></activity>"
        for i in range(2000)
    )
    data = f"<activities>{body}</activities>".encode()
    assert sum(1 for _ in read_records("a.xml", data)) == 2000


# --- JSON -------------------------------------------------------------------------------------


def test_json_list_and_unknown_keys():
    data = json.dumps(
        [
            {"provider_activity_id": "A", "title": "T", "colour": "blue"},
            {
                "provider_activity_id": "B",
                "moc": [{"board": "abim", "pionts": 2}],
                "occurrences": [{"start_date": "2027-03-11", "end_date": "2027-03-11"}],
                "fee": "$10",
            },
            "not an object",
        ]
    ).encode()
    one, two, three = read("a.json", data)
    assert texts(one)[0].startswith("activity 1/colour: unknown key")
    assert texts(two) == ["activity 2/moc[ABIM]/pionts: unknown key (did you mean 'points'?)"]
    assert two.payload["moc"][0]["board"] == "ABIM" and two.payload["fee_cents"] == 1000
    assert three.location == "activity 3" and texts(three) == [
        "activity 3: must be an object {...}"
    ]


def test_invalid_json_is_refused_with_line_and_column():
    with pytest.raises(FileRejected, match="not valid at line 2, column"):
        read("a.json", b'{"activities": [\n  {"title": }]}')


def test_json_duplicate_ids():
    data = json.dumps({"activities": [{"provider_activity_id": "X"}] * 2}).encode()
    _, second = read("a.json", data)
    assert second.location == "activity 2 (X)"
    assert "your activity id: 'X' already appears in activity 1" in texts(second)


@pytest.mark.parametrize(
    "data", [b'{"courses": []}', b'{"activities": {}}', b"[1", b'"text"', b"[" * 100000]
)
def test_json_of_the_wrong_shape_is_refused(data):
    with pytest.raises(FileRejected):
        read("a.json", data)


def test_coerce_activity_is_usable_directly_for_the_web_service():
    payload, problems = coerce_activity({"provider_activity_id": "X", "format": "course"})
    assert problems == [] and payload["format"] == "Course"


# --- file types, sizes and encodings ----------------------------------------------------------


def test_unknown_file_types_are_refused_listing_the_accepted_ones():
    with pytest.raises(
        FileRejected, match=r"\.pdf is not a type we read; .*\.csv, \.xlsx, \.xml, \.json"
    ):
        read("activities.pdf", b"%PDF-1.4")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.xml", b'{"activities": []}', "not an XML file"),
        ("a.json", b"<activities/>", "not a JSON file"),
        ("a.csv", b"", "empty"),
    ],
)
def test_content_must_match_the_extension(name, data, message):
    with pytest.raises(FileRejected, match=message):
        read(name, data)


def test_an_oversize_file_is_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1024 * 1024)
    data = csv_file(REQUIRED, *[GOOD] * 40000)
    with pytest.raises(FileRejected) as e:
        read("big.csv", data)
    assert str(e.value).startswith("big.csv is 1.6 MB; the limit is 1 MB: split it into")


def test_the_real_limit_reads_like_the_brief():
    assert files.MAX_FILE_BYTES == 50 * 1024 * 1024
    assert (
        files._size(61.2 * 1024 * 1024) == "61.2 MB"
        and files._size(files.MAX_FILE_BYTES) == "50 MB"
    )


def test_binary_is_not_a_csv():
    with pytest.raises(
        FileRejected, match="the file is not UTF-8 text; in Excel choose 'CSV UTF-8'"
    ):
        read("a.csv", bytes(range(256)) * 4)


def test_invalid_utf8_that_is_not_windows_1252_is_refused():
    # 0x81 is undefined in Windows-1252; 0xC3 0x28 is invalid UTF-8.
    data = csv_file(REQUIRED).replace(b"Title", b"Ti\x81\xc3(tle")
    with pytest.raises(FileRejected, match="not UTF-8 text"):
        read("a.csv", data)


def test_windows_1252_reads_with_a_warning():
    data = f"{REQUIRED},City\r\nLU-1,Cours à Montréal,Course,2027-03-11,2027-03-12,Montréal\r\n"
    reader = FileReader("a.csv", data.encode("cp1252"))
    (record,) = reader.records()
    assert record.payload["city"] == "Montréal" and record.problems == []
    (warning,) = reader.warnings
    assert warning.severity == "warning" and "Windows-1252" in warning.message


@pytest.mark.parametrize(
    "encoded",
    [
        lambda t: t.encode("utf-8"),
        lambda t: t.encode("utf-8-sig"),
        lambda t: t.encode("utf-16"),  # with a byte order mark
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    ],
)
def test_utf8_and_utf16_read_without_warnings(encoded):
    text = f"{REQUIRED},City\r\nLU-1,Cours à Montréal,Course,2027-03-11,2027-03-12,Zürich\r\n"
    reader = FileReader("a.csv", encoded(text))
    (record,) = reader.records()
    assert record.payload["city"] == "Zürich" and reader.warnings == []
    assert record.payload["provider_activity_id"] == "LU-1"


def test_nul_bytes_are_refused():
    with pytest.raises(FileRejected, match="NUL"):
        read("a.csv", csv_file(REQUIRED, "LU-1,T\x00,Course,2027-03-11,2027-03-12"))
    utf16 = f"{REQUIRED}\r\nLU-1,T\x00,Course,2027-03-11,2027-03-12\r\n".encode("utf-16")
    with pytest.raises(FileRejected, match="NUL"):
        read("a.csv", utf16)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated(delimiter):
    data = csv_file(REQUIRED.replace(",", delimiter), GOOD.replace(",", delimiter))
    (record,) = read("a.csv", data)
    assert record.problems == [] and record.payload["title"] == "A title"


def test_quoted_cells_with_separators_and_newlines():
    data = csv_file(f"{REQUIRED},Description", f'{GOOD},"Two lines,\r\nwith ""quotes"""')
    (record,) = read("a.csv", data)
    assert record.payload["description"] == 'Two lines,\r\nwith "quotes"'


def test_a_runaway_quote_is_refused_with_a_row():
    data = csv_file(REQUIRED, 'LU-1,"' + "x" * 200_000, "LU-2,T,Course,2027-03-11,2027-03-12")
    with pytest.raises(FileRejected, match=r"row 2: the CSV cannot be read"):
        read("a.csv", data)


def test_records_can_be_read_twice():
    reader = FileReader(*example("xml")[::2])
    assert [r.payload for r in reader.records()] == [r.payload for r in reader.records()]


def test_flat_row_is_in_column_order():
    row = flat_row(example_payloads()[0])
    assert len(row) == len(flat_columns()) and row[0] == "LU-2027-014"


# --- streaming --------------------------------------------------------------------------------


def test_a_50000_row_csv_streams_in_small_memory():
    rows = "".join(
        f"ID-{i},Course number {i},Course,2027-03-11,2027-03-12,a | b,$395.00\r\n"
        for i in range(50_000)
    )
    data = (f"{REQUIRED},Keywords,Fee (USD)\r\n{rows}").encode()
    del rows
    tracemalloc.start()
    try:
        count = 0
        for record in read_records("big.csv", data):
            count += 1
            assert not record.problems
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --- text that is not valid text: lone surrogates and control characters ---------------------


def _bad_text(spec, text):
    return [text] if spec.kind == "list" else text


@pytest.mark.parametrize("spec", LAYOUT.fields, ids=lambda s: s.name)
def test_a_lone_surrogate_is_refused_in_every_field(spec):
    with pytest.raises(BadValue) as e:
        coerce_value(spec, _bad_text(spec, "ab\udfffc"))
    assert "contains characters that are not valid text (a lone surrogate at position 3)" in str(
        e.value
    )
    str(e.value).encode("utf-8")  # the message itself is valid text


@pytest.mark.parametrize("spec", LAYOUT.fields, ids=lambda s: s.name)
def test_a_control_character_is_refused_in_every_field(spec):
    with pytest.raises(BadValue, match=r"contains a control character \(U\+001B\) at position 2"):
        coerce_value(spec, _bad_text(spec, "a\x1b[31m"))


def test_tabs_and_line_breaks_are_text_and_leading_controls_are_not_stripped_away():
    assert coerce_value(LAYOUT.field("description"), "one\ttwo\r\nthree") == "one\ttwo\r\nthree"
    with pytest.raises(BadValue, match="U\\+001F"):
        coerce_value(LAYOUT.field("title"), "\x1fA title")  # str.strip() would drop it


def test_a_json_file_with_lone_surrogates_names_each_field():
    data = json.dumps(
        [
            {
                "provider_activity_id": "A",
                "title": "T",
                "keywords": ["fine", "\udfff"],
                "moc": [{"board": "ABIM", "practice_areas": ["x\ud800"]}],
                "occurrences": [
                    {"start_date": "2027-03-11", "end_date": "2027-03-11", "city": "\udc00"}
                ],
            }
        ]
    ).encode()
    assert b"\\udfff" in data  # written as JSON escapes, as a careless client would
    (record,) = read("a.json", data)
    assert texts(record) == [
        "keywords: item 2: contains characters that are not valid text (a lone surrogate at position 1)",
        "occurrence 1: city: contains characters that are not valid text (a lone surrogate at position 1)",
        "ABIM practice areas: item 1: contains characters that are not valid text (a lone surrogate at position 2)",
    ]
    assert record.payload["keywords"] == []


def test_messages_never_quote_a_lone_surrogate_or_a_control_character():
    data = json.dumps(
        [{"provider_activity_id": "A", "ti\udfff\x07tle": "T", "moc": [{"board": "\udfff"}]}]
    ).encode()
    (record,) = read("a.json", data)
    for problem in record.problems:
        text = str(problem)
        text.encode("utf-8")
        assert "\x07" not in text
    assert texts(record)[0].startswith("activity 1/ti\ufffd\ufffdtle: unknown key")
    assert (
        "MOC registration 1: the board contains characters that are not valid text"
        in texts(record)[1]
    )


# --- bounded work: every limit on a file, each with a small hostile file ---------------------


def _activities(fmt: str, count: int) -> tuple[str, bytes]:
    ids = [f"ID-{i}" for i in range(count)]
    if fmt == "csv":
        return "a.csv", csv_file(REQUIRED, *(f"{i},T,Course,2027-03-11,2027-03-12" for i in ids))
    if fmt == "xlsx":
        rows = [[i, "T", "Course", "2027-03-11", "2027-03-12"] for i in ids]
        return "a.xlsx", xlsx_file([REQUIRED.split(","), *rows])
    if fmt == "xml":
        body = "".join(
            f"<activity><provider_activity_id>{i}</provider_activity_id></activity>" for i in ids
        )
        return "a.xml", f"<activities>{body}</activities>".encode()
    return "a.json", json.dumps([{"provider_activity_id": i} for i in ids]).encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_of_more_activities_than_the_limit_is_refused(monkeypatch, fmt):
    monkeypatch.setattr(files, "MAX_ACTIVITIES", 3)
    assert len(read(*_activities(fmt, 3))) == 3
    with pytest.raises(FileRejected) as e:
        read(*_activities(fmt, 4))
    assert str(e.value) == (
        "the file holds more than 3 activities, the most one file may hold: "
        "split it into files of at most 3"
    )


def test_the_activity_limit_applies_to_a_web_service_document(monkeypatch):
    monkeypatch.setattr(files, "MAX_ACTIVITIES", 2)
    document = {"activities": [{"provider_activity_id": f"X{i}"} for i in range(3)]}
    with pytest.raises(FileRejected, match="more than 2 activities"):
        list(files.read_document(document, size=100, name="body.json"))


def test_the_real_limits_are_what_the_layout_page_says():
    docs = render_docs()
    assert files.MAX_ACTIVITIES == 50_000 and "at most 50,000 activities" in docs
    assert "to row 100,000" in docs and "1,000,000 different texts" in docs
    assert "first 200 errors" in docs


def _sheet_with_rows(rows_xml: str) -> bytes:
    """A workbook whose sheet is the header row, then `rows_xml` as written."""
    data = xlsx_file([REQUIRED.split(",")])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    start = sheet.index("<sheetData>") + len("<sheetData>")
    end = sheet.index("</sheetData>")
    header_row = sheet[start:end]
    return _with_sheet(data, sheet[:start] + header_row + rows_xml + sheet[end:])


def test_a_sheet_of_empty_rows_past_the_row_limit_is_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_SHEET_ROWS", 50)
    fine = _sheet_with_rows('<row spans="1:5"/>' * 48)
    assert read("a.xlsx", fine) == []
    with pytest.raises(FileRejected) as e:
        read("a.xlsx", _sheet_with_rows('<row spans="1:5"/>' * 60))
    assert str(e.value).startswith("the sheet goes on past row 50 (counting empty rows)")


def test_a_sheet_whose_rows_jump_far_down_is_refused_at_once(monkeypatch):
    monkeypatch.setattr(files, "MAX_SHEET_ROWS", 1000)
    far = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    with pytest.raises(FileRejected, match="past row 1,000"):
        read("a.xlsx", _sheet_with_rows(far))


def test_a_sheet_of_cells_in_a_far_column_is_refused_at_the_cell_limit(monkeypatch):
    monkeypatch.setattr(files, "MAX_SHEET_CELLS", 50_000)
    far = "".join(
        f'<row r="{n}"><c r="XFD{n}" t="inlineStr"><is><t>x</t></is></c></row>'
        for n in range(2, 10)
    )
    with pytest.raises(FileRejected, match=r"more than 50,000 cells by row 5"):
        read("a.xlsx", _sheet_with_rows(far))


def test_a_big_sheet_that_does_not_record_its_size_is_refused_before_opening(monkeypatch):
    # openpyxl would parse such a sheet whole, and hold its rows, before the first row.
    monkeypatch.setattr(files, "MAX_XLSX_UNSIZED_SHEET_BYTES", 2_000)
    sized = _sheet_with_rows('<row spans="1:5"/>' * 200)
    assert b"<dimension" in zipfile.ZipFile(io.BytesIO(sized)).read("xl/worksheets/sheet1.xml")
    assert read("a.xlsx", sized) == []
    sheet = zipfile.ZipFile(io.BytesIO(sized)).read("xl/worksheets/sheet1.xml").decode()
    unsized = _with_sheet(sized, re.sub(r"<dimension[^>]*/>", "", sheet))
    with pytest.raises(FileRejected) as e:
        FileReader("a.xlsx", unsized)
    assert "does not record its size (no <dimension> before its rows)" in str(e.value)
    small = re.sub(r"<dimension[^>]*/>", "", sheet).replace('<row spans="1:5"/>', "")
    assert read("a.xlsx", _with_sheet(sized, small)) == []  # under the limit: read as before


def test_a_csv_of_empty_lines_past_the_row_limit_is_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_SHEET_ROWS", 100)
    assert len(read("a.csv", csv_file(REQUIRED, GOOD, *[""] * 90))) == 1
    with pytest.raises(FileRejected, match="the file goes on past row 100"):
        read("a.csv", csv_file(REQUIRED, GOOD, *[""] * 200))


def _with_shared_strings(count: int, text: str = "s") -> bytes:
    data = xlsx_file([REQUIRED.split(",")])
    source = zipfile.ZipFile(io.BytesIO(data))
    types = source.read("[Content_Types].xml").decode()
    strings = "".join(f"<si><t>{text}{i}</t></si>" for i in range(count))
    sst = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>'
    override = (
        '<Override PartName="/xl/strings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            content = source.read(name)
            archive.writestr(
                name,
                types.replace("</Types>", override + "</Types>")
                if name == "[Content_Types].xml"
                else content,
            )
        archive.writestr("xl/strings.xml", sst)  # named as the content types say, not as usual
    return out.getvalue()


def test_too_many_shared_strings_are_refused_before_openpyxl_reads_them(monkeypatch):
    monkeypatch.setattr(files, "MAX_XLSX_SHARED_STRINGS", 100)
    assert read("a.xlsx", _with_shared_strings(100)) == []
    with pytest.raises(FileRejected) as e:
        FileReader("a.xlsx", _with_shared_strings(101))  # the constructor: nothing read yet
    assert "more than 100 different texts (shared strings)" in str(e.value)


def test_shared_strings_over_the_size_limit_are_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_XLSX_SHARED_STRING_BYTES", 10_000)
    with pytest.raises(FileRejected, match=r"shared strings\) unpacks to .* the limit is 9.8 KB"):
        FileReader("a.xlsx", _with_shared_strings(20, "x" * 1000))


def test_unknown_xml_elements_are_listed_up_to_a_limit_and_the_rest_counted():
    unknown = "".join(f"<colour{i}/>" for i in range(500))
    data = f"<activities><activity><provider_activity_id>A</provider_activity_id>{unknown}</activity></activities>"
    (record,) = read("a.xml", data.encode())
    assert len(record.problems) == 21
    assert texts(record)[0].startswith("activity 1/colour0: unknown element")
    assert texts(record)[-1] == "activity 1: and 480 more unknown elements (not listed)"


def test_an_xml_activity_of_too_many_elements_is_refused(monkeypatch):
    monkeypatch.setattr(files, "MAX_XML_ELEMENTS_PER_ACTIVITY", 100)
    many = "<keywords>" + "<keyword>k</keyword>" * 98 + "</keywords>"  # 100 with the id
    fine = f"<activities><activity><provider_activity_id>A</provider_activity_id>{many}</activity></activities>"
    (record,) = read("a.xml", fine.encode())
    assert len(record.payload["keywords"]) == 98
    too_many = fine.replace("</keywords>", "<keyword>k</keyword></keywords>")
    with pytest.raises(FileRejected, match="activity 1 holds more than 100 elements"):
        read("a.xml", too_many.encode())


def test_unknown_json_keys_are_listed_up_to_a_limit_and_the_rest_counted():
    activity = {"provider_activity_id": "A", **{f"colour{i}": 1 for i in range(300)}}
    activity["moc"] = [{"board": "ABIM", "pionts": 1}]
    (record,) = read("a.json", json.dumps([activity]).encode())
    assert len(record.problems) == 21
    assert texts(record)[-1] == "activity 1: and 281 more unknown keys (not listed)"


def test_cells_without_a_header_are_listed_up_to_a_limit_and_the_rest_counted():
    (record,) = read("a.csv", csv_file(REQUIRED, GOOD + ",x" * 100))
    assert len(record.problems) == 21
    assert texts(record)[-1] == "row: and 80 more cells without a header (not listed)"


def test_one_activitys_problems_are_listed_up_to_a_limit_and_the_rest_counted():
    occurrences = [{"start_date": "soon", "end_date": "later"} for _ in range(200)]
    data = json.dumps([{"provider_activity_id": "A", "occurrences": occurrences}]).encode()
    (record,) = read("a.json", data)
    assert len(record.problems) == files.MAX_PROBLEMS_PER_ACTIVITY + 1
    assert texts(record)[-1] == "more problems: and 350 more on this activity (not listed)"


def test_unknown_headers_are_named_up_to_a_limit():
    header = REQUIRED + "," + ",".join(f"Colour {i}" for i in range(5000))
    with pytest.raises(FileRejected) as e:
        read("a.csv", csv_file(header, GOOD))
    assert "'Colour 19', and 4,980 more" not in str(e.value)
    assert "'Colour 19' and 4,980 more; use the headers" in str(e.value)
    assert len(str(e.value)) < 1000


def test_json_of_too_many_objects_and_lists_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(files, "MAX_JSON_CONTAINERS", 100)
    assert (
        len(
            read(
                "a.json",
                json.dumps([{"provider_activity_id": "A", "keywords": ["[{"]}] * 33).encode(),
            )
        )
        == 33
    )
    with pytest.raises(FileRejected, match="more than 100 objects and lists"):
        read("a.json", b"[" + b",".join([b"{}"] * 101) + b"]")


# --- a CSV mixing UTF-8 and Windows-1252 -----------------------------------------------------


def test_a_csv_mixing_utf8_and_windows_1252_is_refused_naming_the_first_bad_line():
    utf8 = "LU-1,Cours à Zürich,Course,2027-03-11,2027-03-12\r\n".encode()
    cp1252 = "LU-2,Cours à Montréal,Course,2027-03-11,2027-03-12\r\n".encode("cp1252")
    head = f"{REQUIRED}\r\n".encode()
    with pytest.raises(FileRejected) as e:
        FileReader("a.csv", head + utf8 + cp1252)
    assert str(e.value) == (
        "line 3 is not UTF-8 while earlier lines are: save the file as UTF-8 "
        "(in Excel: Save As > 'CSV UTF-8')"
    )
    with pytest.raises(FileRejected, match="line 2 is not UTF-8 while line 3 is"):
        FileReader("a.csv", head + cp1252 + utf8)
    with pytest.raises(
        FileRejected, match="line 2 is not UTF-8 while the file begins with a UTF-8 byte order mark"
    ):
        FileReader("a.csv", codecs.BOM_UTF8 + head + cp1252)


# --- no Python internals in messages ---------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * 21 + b"]" * 21,
        b'{"activities": [{"provider_activity_id": "A", "title": ' + b"[" * 30 + b"]" * 30 + b"}]}",
    ],
    ids=["100k open", "100k balanced", "21 deep", "30 deep in a value"],
)
def test_deeply_nested_json_is_refused_in_words(data):
    with pytest.raises(FileRejected) as e:
        read("a.json", data)
    assert str(e.value).startswith("the JSON nests objects and lists more than 20 levels deep")
    assert "recursion" not in str(e.value)


def test_json_nesting_20_deep_is_read():
    # {"activities": [{"moc": [{"practice_areas": [...]}]}]} is 6 deep; 14 lists more make 20.
    areas: Any = ["x"]
    for _ in range(14):
        areas = [areas]
    deep = {"provider_activity_id": "A", "moc": [{"board": "ABIM", "practice_areas": areas}]}
    (record,) = read("a.json", json.dumps({"activities": [deep]}).encode())
    assert texts(record) == ["ABIM practice areas: item 1: must be text, not a list"]
    with pytest.raises(FileRejected, match="more than 20 levels deep"):
        read(
            "a.json",
            json.dumps(
                {"activities": [{**deep, "moc": [{"board": "ABIM", "practice_areas": [areas]}]}]}
            ).encode(),
        )


def test_read_document_refuses_deep_nesting_like_a_file():
    deep: Any = "x"
    for _ in range(25):
        deep = [deep]
    with pytest.raises(FileRejected, match="more than 20 levels deep"):
        list(files.read_document({"activities": [{"title": deep}]}, size=100, name="body.json"))


def test_parse_json_body_refuses_deep_nesting_in_words():
    with pytest.raises(FileRejected, match="more than 20 levels deep"):
        files.parse_json_body(b"[" * 100_000)
    assert files.parse_json_body(b'{"title": "T"}') == {"title": "T"}


def test_a_json_number_of_too_many_digits_is_a_problem_on_its_field():
    data = b'[{"provider_activity_id": "A", "cme_credits": ' + b"1" * 5000 + b"}]"
    (record,) = read("a.json", data)
    (message,) = texts(record)
    assert message.startswith("AMA PRA Category 1 Credits: '1111")
    assert "has too many digits (5,000); write it with at most 30 digits" in message
    assert "sys." not in message


@pytest.mark.parametrize(
    "name", ["cme_credits", "fee", "completions_reported", "title", "format", "mips", "start_date"]
)
@pytest.mark.parametrize("number", [10**400, 10**5000, -(10**40)], ids=["400", "5000", "-40"])
def test_huge_numbers_are_refused_in_words_never_with_a_python_error(name, number):
    spec = LAYOUT.field(name)
    try:
        value = coerce_value(spec, number)
    except BadValue as e:
        assert "sys." not in str(e) and "int " not in str(e)
        if spec.kind in ("number", "money"):
            assert "too many digits" in str(e)
    else:
        assert spec.kind == "text" and len(value) <= 500  # a number written as a title


def test_an_xlsx_number_of_too_many_digits_is_refused_in_words():
    row = '<row r="2"><c r="A2"><v>' + "1" * 5000 + "</v></c></row>"
    with pytest.raises(FileRejected) as e:
        read("a.xlsx", _sheet_with_rows(row))
    assert str(e.value) == (
        "the workbook cannot be read (a number in it has too many digits); "
        "save it again from Excel as 'Excel Workbook (.xlsx)'"
    )


def test_a_workbook_missing_a_part_is_refused_in_words():
    data = xlsx_file([REQUIRED.split(",")])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            if name != "xl/_rels/workbook.xml.rels":
                archive.writestr(name, source.read(name))
    with pytest.raises(FileRejected) as e:
        read("a.xlsx", out.getvalue())
    assert "a part it refers to is missing" in str(e.value)
    assert "Error" not in str(e.value) and "archive" not in str(e.value)


def test_a_truncated_workbook_is_refused_in_words():
    data = xlsx_file([REQUIRED.split(",")])
    with pytest.raises(FileRejected) as e:
        read("a.xlsx", data[: len(data) // 2])
    assert str(e.value) == (
        "the .xlsx file is damaged (it is not a complete zip archive); "
        "save it again from Excel as 'Excel Workbook (.xlsx)'"
    )


@pytest.mark.parametrize("encoding", ["shift_jis", "utf-32", "x-mac-roman", "klingon"])
def test_xml_in_an_encoding_we_do_not_read_is_refused_in_words(encoding):
    data = f'<?xml version="1.0" encoding="{encoding}"?><activities/>'.encode()
    with pytest.raises(FileRejected, match="the XML declares an encoding we do not read"):
        read("a.xml", data)


def test_a_runaway_quote_is_explained_in_words():
    data = csv_file(REQUIRED, 'LU-1,"' + "x" * 200_000)
    with pytest.raises(FileRejected) as e:
        read("a.csv", data)
    assert str(e.value).startswith(
        "row 2: the CSV cannot be read: a cell is longer than 131,072 characters"
    )
    assert "field limit" not in str(e.value)


def test_a_long_header_of_quotes_and_commas_is_read_without_the_sniffer(monkeypatch):
    # csv.Sniffer's expressions backtrack on such a line: seconds, growing with its square. The
    # delimiter is counted instead; the sniffer must never be asked (no timing: a shared
    # machine makes any time limit flaky, and BENCHMARKS.md is where speed is measured).
    import csv

    def no_sniffing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("csv.Sniffer was asked to read a header line")

    monkeypatch.setattr(csv.Sniffer, "sniff", no_sniffing)
    monkeypatch.setattr(csv.Sniffer, "has_header", no_sniffing)
    with pytest.raises(FileRejected, match="unknown columns"):
        read("a.csv", csv_file(',"' * 20_000, GOOD))


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x"])
def test_an_unsafe_url_in_a_file_is_read_for_the_rules_to_refuse(url):
    # The rule is the registry's (tests/test_provider_batch.py has the whole file refused);
    # reading only strips the surrounding spaces.
    (record,) = read("a.csv", csv_file(f"{REQUIRED},Activity URL", f'{GOOD},"{url}"'))
    assert record.payload["url"] == url.strip()
    assert rules.safe_url(record.payload["url"]) is None


# --- topic tags, approvals and coordinates ----------------------------------------------------


def _tagged() -> dict[str, Any]:
    """The example given twice, with tags written as a provider might (a name in its own
    case, a code), two approvals, and coordinates on the activity and one occurrence."""
    ref = reference()
    first, second = list(ref.topics.values())[:2]
    payload = copy.deepcopy(example_payloads()[1])
    payload["topics"] = [first.name.upper(), second.code]
    payload["approvals"] = [
        {"body": "tx-tmb", "id": "HT-2026-0193"},
        {"body": list(ref.approvers.values())[1].name, "id": "20 48213"},
    ]
    payload["latitude"], payload["longitude"] = 42.35843, -71.05977
    payload["occurrences"][1]["latitude"] = 51.5072
    payload["occurrences"][1]["longitude"] = -0.1276
    return payload


def _written(fmt: str, payload: dict[str, Any]) -> bytes:
    if fmt == "csv":
        return csv_format.write([flat_row(payload)])
    if fmt == "xlsx":
        return xlsx_format.write([flat_row(payload, native=True)])
    if fmt == "xml":
        return xml_format.write([payload])
    return json_format.write({"activities": [json_format.json_activity(payload)]})


@pytest.mark.parametrize("fmt", FORMATS)
def test_topics_approvals_and_coordinates_read_back_in_every_format(fmt):
    payload = _tagged()
    (record,) = read(f"a.{fmt}", _written(fmt, payload))
    assert record.problems == []
    # Read as written: the tags and bodies become codes when saved (the batch's business).
    assert record.payload == payload
    assert record.payload["occurrences"][1]["longitude"] == -0.1276


def test_the_approvals_cell_takes_codes_names_and_a_colon():
    ref = reference()
    named = next(a for a in ref.approvers.values() if " " in a.name)
    cell = f"tx-tmb HT-2026-0193 | {named.name.lower()}: 12345 | NY-DOH | XX-BOARD 7"
    data = csv_file(f"{REQUIRED},Approvals", f'{GOOD},"{cell}"')
    (record,) = read("a.csv", data)
    assert record.problems == []
    assert record.payload["approvals"] == [
        {"body": "tx-tmb", "id": "HT-2026-0193"},
        {"body": named.name.lower(), "id": "12345"},
        {"body": "NY-DOH", "id": None},
        {"body": "XX-BOARD", "id": "7"},
    ]


def test_approver_code_accepts_the_code_in_any_case_and_the_full_name():
    for approver in reference().approvers.values():
        assert approver_code(approver.code.lower()) == approver.code
        assert approver_code(f"  {approver.name.upper()} ") == approver.code
    assert approver_code("Board of Nowhere") is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2027-03-11..2027-03-12 Chicago, IL, US @ 41.8916, -87.6094", (41.8916, -87.6094)),
        ("2027-03-11..2027-03-12 Chicago, IL, US @41.8916 -87.6094", (41.8916, -87.6094)),
        ("2027-03-11..2027-03-12 @ -33.8688, 151.2093", (-33.8688, 151.2093)),
    ],
)
def test_an_occurrence_cell_may_end_with_its_coordinates(cell, expected):
    (record,) = read("a.csv", csv_file(f"{REQUIRED},Occurrences", f'{GOOD},"{cell}"'))
    assert record.problems == []
    (occurrence,) = record.payload["occurrences"]
    assert (occurrence["latitude"], occurrence["longitude"]) == expected


def test_an_at_sign_in_a_venue_is_part_of_the_place():
    cell = "2027-03-11..2027-03-12 Hotel @ the Pier, Chicago, IL, US"
    (record,) = read("a.csv", csv_file(f"{REQUIRED},Occurrences", f'{GOOD},"{cell}"'))
    assert record.problems == []
    (occurrence,) = record.payload["occurrences"]
    assert occurrence["venue"] == "Hotel @ the Pier" and occurrence["latitude"] is None


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("@ 41.8916", "its latitude and longitude may come last"),
        ("@ north, west", "latitude: 'north' is not a number of decimal degrees"),
    ],
)
def test_unreadable_occurrence_coordinates_are_named_by_occurrence(tail, message):
    cell = f"2027-03-11..2027-03-12 Chicago, IL, US {tail}"
    (record,) = read("a.csv", csv_file(f"{REQUIRED},Occurrences", f'{GOOD},"{cell}"'))
    problem = record.problems[0]
    assert problem.field == "occurrence 1" and message in problem.message
    assert {p.field for p in record.problems} == {"occurrence 1"}


@pytest.mark.parametrize(
    ("raw", "value"), [("41.8916", 41.8916), (" -87.6094 ", -87.6094), (-0.0, 0.0), (12, 12.0)]
)
def test_degrees_may_be_negative(raw, value):
    assert coerce_value(LAYOUT.field("longitude"), raw) == value


@pytest.mark.parametrize("raw", ["41,89", "N41.8", "nan", "1e400", True, [41.8], {"lat": 1}])
def test_bad_degrees_say_how_to_write_them(raw):
    with pytest.raises(BadValue, match="decimal degrees|too many digits"):
        coerce_value(LAYOUT.field("latitude"), raw)


def test_a_huge_list_of_topics_is_refused_at_the_limit():
    limit = LAYOUT.field("topics").max_items
    document = {"activities": [{"provider_activity_id": "X", "topics": ["ethics"] * 100_000}]}
    (record,) = read("a.json", json.dumps(document).encode())
    [problem] = record.problems
    assert problem.field == "mandated topics"
    assert f"more than {limit} items" in problem.message
    assert record.payload["topics"] == []


@pytest.mark.parametrize(
    ("approvals", "field", "message"),
    [
        ([{"body": "TX-TMB", "id": str(n)} for n in range(1000)], "approvals", "more than 20"),
        ([{"id": "HT-1"}], "approval 1", "body is required"),
        (["TX-TMB HT-1", 7], "approval 1", "must be an object with body and id"),
        ([{"body": ["TX-TMB"]}], "approval 1", "body: must be text, not a list"),
        ([{"body": "TX-TMB", "id": {"n": 1}}], "approval 1", "id: must be text, not an object"),
        (42, "approvals", "must be a list of approvals"),
    ],
)
def test_malformed_approvals_are_clear_problems(approvals, field, message):
    document = [{"provider_activity_id": "X", "approvals": approvals}]
    (record,) = read("a.json", json.dumps(document).encode())
    assert any(p.field == field and message in p.message for p in record.problems), texts(record)


def test_an_unknown_approval_key_is_named_with_a_suggestion():
    document = [{"provider_activity_id": "X", "approvals": [{"body": "TX-TMB", "number": "1"}]}]
    (record,) = read("a.json", json.dumps(document).encode())
    [problem] = record.problems
    assert problem.field == "activity 1/approvals[1]/number"


def test_xml_approvals_and_topics_are_elements():
    data = (
        b"<activities><activity><provider_activity_id>X</provider_activity_id>"
        b"<topics><topic>Human Trafficking</topic><topic>ethics</topic></topics>"
        b"<approvals><approval><body>TX-TMB</body><id>HT-1</id></approval>"
        b"<approval><body>FL-BOM</body><number>2</number></approval></approvals>"
        b"</activity></activities>"
    )
    (record,) = read("a.xml", data)
    assert record.payload["topics"] == ["Human Trafficking", "ethics"]
    assert record.payload["approvals"][0] == {"body": "TX-TMB", "id": "HT-1"}
    assert [p.field for p in record.problems] == ["activity 1/approvals/approval[2]/number"]
    # Written as text, as in a CSV cell, rather than lost.
    text = b"<activities><activity><provider_activity_id>X</provider_activity_id>"
    text += b"<approvals>TX-TMB HT-1 | FL-BOM 2</approvals></activity></activities>"
    (record,) = read("a.xml", text)
    assert record.payload["approvals"] == [
        {"body": "TX-TMB", "id": "HT-1"},
        {"body": "FL-BOM", "id": "2"},
    ]


def test_the_docs_and_the_help_sheet_list_the_tags_and_the_bodies():
    ref = reference()
    docs = render_docs()
    for topic in ref.topics.values():
        assert f"| {topic.code} | {topic.name} |" in docs
    for approver in ref.approvers.values():
        assert f"| {approver.code} | {approver.name} |" in docs
    book = load_workbook(io.BytesIO(template("xlsx")[2]))
    help_rows = {r[0]: r for r in book["Help"].iter_rows(values_only=True)}
    assert all(code in help_rows["Mandated topics"][4] for code in ref.topics)
    assert all(code in help_rows["Approvals"][4] for code in ref.approvers)
    assert help_rows["Latitude"][2] == "decimal degrees"
