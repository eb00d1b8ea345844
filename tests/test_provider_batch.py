"""Batch import in every format: all or nothing, upsert by the provider's id, exact messages."""

from __future__ import annotations

import copy
import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.provider_data.batch import import_records, payload_of
from directory.provider_data.files import FileRejected, read_records
from directory.provider_data.formats.json_format import json_activity
from directory.provider_data.formats.rows import flat_row
from directory.provider_data.formats.xml_format import xml_activity
from directory.provider_data.layout import flat_columns
from directory.provider_data.published import example_payloads
from directory.registry.db import make_sessionmaker
from directory.registry.models import Activity, ActivityChange, with_children
from directory.registry.reference import reference
from tests import factories as f
from tests.conftest import dump_database

FORMATS = ["csv", "xlsx", "xml", "json"]
TODAY = date(2026, 11, 22)


def render(fmt: str, payloads: list[dict]) -> tuple[str, bytes]:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(flat_columns())
        writer.writerows(flat_row(p) for p in payloads)
        return "activities.csv", out.getvalue().encode()
    if fmt == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(flat_columns())
        for p in payloads:
            sheet.append(flat_row(p, native=True))
        buffer = io.BytesIO()
        book.save(buffer)
        return "activities.xlsx", buffer.getvalue()
    if fmt == "xml":
        root = ET.Element("activities")
        root.extend(xml_activity(p) for p in payloads)
        return "activities.xml", ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return "activities.json", json.dumps(
        {"activities": [json_activity(p) for p in payloads]}
    ).encode()


def location(fmt: str, index: int) -> str:
    """Where the index-th record (0-based) is, as the importer names it."""
    return f"row {index + 2}" if fmt in ("csv", "xlsx") else f"activity {index + 1}"


@pytest.fixture
def sessions(engine):
    with Session(engine) as session:
        session.add(f.provider(id=1, name="Lakeshore University School of Medicine"))
        session.commit()
    return make_sessionmaker(engine)


def run(sessions, fmt, payloads, **kw):
    name, data = render(fmt, payloads)
    return import_records(
        sessions, 1, lambda: read_records(name, data), TODAY, source="batch", **kw
    )


def dump(database_url) -> str:
    return dump_database(database_url)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_valid_file_imports_and_the_same_file_again_changes_nothing(sessions, database_url, fmt):
    payloads = example_payloads()
    report = run(sessions, fmt, payloads)
    assert report.ok and report.written, [str(m) for m in report.errors]
    assert sorted(report.created) == sorted(p["provider_activity_id"] for p in payloads)
    before = dump(database_url)
    again = run(sessions, fmt, payloads)
    assert again.ok and again.created == [] and again.updated == []
    assert sorted(again.unchanged) == sorted(report.created)
    assert dump(database_url) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_edited_file_updates_exactly_what_changed(sessions, fmt):
    payloads = example_payloads()
    run(sessions, fmt, payloads)
    with sessions() as session:
        stamps = {a.provider_activity_id: a.updated_at for a in session.scalars(select(Activity))}
    edited = copy.deepcopy(payloads)
    edited[1]["title"] = "A New Title for the Second Activity"
    edited[2]["moc"][0]["points"] = 0.5
    report = run(sessions, fmt, edited)
    assert sorted(report.updated) == sorted(
        [edited[1]["provider_activity_id"], edited[2]["provider_activity_id"]]
    )
    assert report.unchanged == [edited[0]["provider_activity_id"]]
    with sessions() as session:
        rows = {a.provider_activity_id: a for a in session.scalars(select(Activity))}
        assert (
            rows[edited[1]["provider_activity_id"]].title == "A New Title for the Second Activity"
        )
        assert (
            rows[edited[0]["provider_activity_id"]].updated_at
            == stamps[edited[0]["provider_activity_id"]]
        )
        assert (
            rows[edited[2]["provider_activity_id"]].updated_at
            > stamps[edited[2]["provider_activity_id"]]
        )
        actions = [
            c.action for c in session.scalars(select(ActivityChange).order_by(ActivityChange.id))
        ]
    assert actions == ["created"] * 3 + ["updated"] * 2


def bad(kind: str, base: dict) -> tuple[dict, str]:
    """One invalid record of each kind, and the message the provider must see."""
    p = copy.deepcopy(base)
    p["provider_activity_id"] = "BAD-1"
    credits = p["cme_credits"]
    if kind == "points above credits":
        p["moc"][0]["points"] = credits + 1
        return (
            p,
            f"{p['moc'][0]['board']} points: {credits + 1:g} exceeds the activity's {credits:g} CME credits",
        )
    if kind == "credit type not offered":
        p["moc"] = [
            {
                **p["moc"][0],
                "board": "ABP",
                "practice_areas": ["General Pediatrics"],
                "credit_types": ["Patient Safety"],
                "content_areas": [],
            }
        ]
        return p, "ABP credit types: ABP does not offer 'Patient Safety'"
    if kind == "end before start":
        p["end_date"] = date(2026, 1, 1)
        p["start_date"] = date(2026, 1, 2)
        p["occurrences"] = []
        return p, "end date: 2026-01-01 is before the start date 2026-01-02"
    if kind == "unknown format":
        p["format"] = "Webinar"
        return p, "Webinar"
    if kind == "duplicate id":
        p["provider_activity_id"] = base["provider_activity_id"]
        return p, "already appears"
    if kind == "new activity closed":
        p["status"] = "Closed"
        return p, "status: Closed is for an activity that has ended"
    raise AssertionError(kind)


KINDS = [
    "points above credits",
    "credit type not offered",
    "end before start",
    "unknown format",
    "duplicate id",
    "new activity closed",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_any_invalid_record_writes_nothing_and_says_where_and_why(
    sessions, database_url, fmt, kind
):
    payloads = example_payloads()
    run(sessions, fmt, payloads)
    before = dump(database_url)
    edited = copy.deepcopy(payloads)
    edited[0]["title"] = "An edit that must not land"
    record, expected = bad(kind, payloads[0])
    report = run(sessions, fmt, [*edited, record])
    assert not report.ok and not report.written
    texts = [str(m) for m in report.errors]
    assert any(t.startswith(location(fmt, 3)) and expected in t for t in texts), texts
    assert dump(database_url) == before


def test_warnings_are_reported_but_do_not_block(sessions):
    payloads = example_payloads()
    low = copy.deepcopy(payloads[0])
    low.update(provider_activity_id="MIPS-LOW", mips=True, cme_credits=1.0)
    for m in low["moc"]:
        m["points"] = 1.0
    report = run(sessions, "csv", [low])
    assert report.written
    assert any("lower than usual for MIPS" in str(m) for m in report.warnings)


def test_a_dry_run_checks_everything_and_writes_nothing(sessions, database_url):
    before = dump(database_url)
    report = run(sessions, "json", example_payloads(), dry_run=True)
    assert report.ok and not report.written and dump(database_url) == before


HOSTILE_XML = {
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<activities><activity><provider_activity_id>X</provider_activity_id><title>&lol3;</title></activity></activities>""",
    "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<activities><activity><provider_activity_id>X</provider_activity_id><title>&xxe;</title></activity></activities>""",
}


@pytest.mark.parametrize("name", HOSTILE_XML)
def test_hostile_xml_is_refused_and_nothing_is_written(sessions, database_url, name):
    before = dump(database_url)
    data = HOSTILE_XML[name]
    with pytest.raises(FileRejected):
        import_records(sessions, 1, lambda: read_records("evil.xml", data), TODAY, source="batch")
    assert dump(database_url) == before
    assert "root:" not in dump(database_url)


def test_a_spreadsheet_formula_is_refused_not_evaluated(sessions, database_url):
    name, data = render("xlsx", example_payloads())
    book = openpyxl.load_workbook(io.BytesIO(data))
    book.active["B2"] = '=HYPERLINK("http://evil.example","click")'
    buffer = io.BytesIO()
    book.save(buffer)
    before = dump(database_url)
    report = import_records(
        sessions, 1, lambda: read_records(name, buffer.getvalue()), TODAY, source="batch"
    )
    assert not report.written
    assert any(str(m).startswith("row 2") and "formula" in str(m) for m in report.errors)
    assert dump(database_url) == before


# --- what the registry's rules refuse, in every format ---------------------------------------

UNSAFE_URLS = [
    "javascript:alert(1)",
    "  JavaScript:alert(document.cookie)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_activity_url_that_is_not_http_is_refused_and_nothing_is_written(
    sessions, database_url, fmt, url
):
    payloads = example_payloads()
    payloads[1]["url"] = url
    before = dump(database_url)
    report = run(sessions, fmt, payloads)
    assert not report.written
    texts = [str(m) for m in report.errors]
    assert texts == [
        f"{location(fmt, 1)}{' (LU-2027-031)' if fmt in ('xml', 'json') else ''}, activity URL: "
        "must be an http:// or https:// address, like https://cme.example.org/course"
    ]
    assert dump(database_url) == before


def test_a_json_file_with_a_lone_surrogate_is_refused_and_nothing_is_written(
    sessions, database_url
):
    activity = json_activity(example_payloads()[0])
    activity["keywords"] = ["HFpEF", "\udfff"]
    data = json.dumps({"activities": [activity]}).encode()  # "\udfff" as a JSON escape
    before = dump(database_url)
    report = import_records(
        sessions, 1, lambda: read_records("a.json", data), TODAY, source="batch"
    )
    assert not report.written and dump(database_url) == before
    assert [str(m) for m in report.errors] == [
        "activity 1 (LU-2027-014), keywords: item 2: contains characters that are not valid "
        "text (a lone surrogate at position 1)"
    ]


# --- a short answer, whatever the file -------------------------------------------------------


def test_the_report_lists_the_first_problems_and_counts_the_rest(sessions, monkeypatch):
    import directory.provider_data.batch as batch_module

    monkeypatch.setattr(batch_module, "MAX_REPORTED_PROBLEMS", 10)
    rows = "".join(f"ID-{i},T,Course,not a date,nor this\r\n" for i in range(30))
    data = f"Your activity id,Title,Format,Start date,End date\r\n{rows}".encode()
    report = import_records(sessions, 1, lambda: read_records("a.csv", data), TODAY, source="batch")
    assert not report.ok and not report.written
    assert report.error_count == 60 and len(report.errors) == 11
    assert str(report.errors[0]) == (
        "row 2, start date: 'not a date' is not a date; write it as YYYY-MM-DD"
    )
    assert str(report.errors[-1]) == (
        "file, more problems: and 50 more problems (not listed); fix those above and send "
        "the file again"
    )
    body = report.as_dict()
    assert body["error_count"] == 60 and len(body["errors"]) == 11


def test_a_windows_1252_files_warning_reaches_the_report(sessions):
    name, data = render("csv", example_payloads())
    data = data.decode().replace("Chicago", "Montréal").encode("cp1252")
    report = import_records(sessions, 1, lambda: read_records(name, data), TODAY, source="batch")
    assert report.written
    assert str(report.warnings[0]).startswith(
        "file, encoding: the file is not UTF-8, so it was read as Windows-1252"
    )
    assert report.warning_count == len(report.warnings)
    with sessions() as session:
        assert "Montréal" in set(session.scalars(select(Activity.city)))


# --- one pass, chunk by chunk, in one transaction ----------------------------------------------


def more(count: int) -> list[dict]:
    """`count` valid new activities, copies of the examples under ids of their own."""
    base = example_payloads()
    return [
        dict(copy.deepcopy(base[i % len(base)]), provider_activity_id=f"MORE-{i}")
        for i in range(count)
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_is_read_once_and_written_chunk_by_chunk_in_its_order(sessions, monkeypatch, fmt):
    import directory.provider_data.batch as batch_module

    monkeypatch.setattr(batch_module, "CHUNK", 2)
    payloads = example_payloads()
    first = run(sessions, fmt, payloads[:1])
    edited = copy.deepcopy(payloads)
    edited[0]["title"] = "An edit in the first chunk, beside a new activity"
    records = [*edited, *more(4)]  # chunks: updated + created, created + created, ...
    name, data = render(fmt, records)
    reads = []

    def read():
        reads.append(1)
        return read_records(name, data)

    report = import_records(sessions, 1, read, TODAY, source="batch")
    assert report.written, [str(m) for m in report.errors]
    assert len(reads) == 1  # parsed once: checked and written in the same pass
    ids = [p["provider_activity_id"] for p in records]
    assert report.updated == ids[:1] and report.created == ids[1:] and report.unchanged == []
    with sessions() as session:
        stored = {a.provider_activity_id: a for a in session.scalars(select(Activity))}
        assert stored[ids[0]].title == "An edit in the first chunk, beside a new activity"
        assert report.activity_ids == [stored[i].id for i in ids]
        assert stored[ids[0]].id == first.activity_ids[0]
        changes = session.scalars(select(ActivityChange).order_by(ActivityChange.id))
        assert [(c.activity_id, c.action) for c in changes] == [
            (first.activity_ids[0], "created"),
            (stored[ids[0]].id, "updated"),
            *((stored[i].id, "created") for i in ids[1:]),
        ]
    # What was written is what the file holds, children and all: the same file changes nothing.
    again = run(sessions, fmt, records)
    assert again.written and again.unchanged == ids and again.created == again.updated == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_in_later_chunks_undo_the_chunks_written_before_them(
    sessions, database_url, monkeypatch, fmt
):
    import directory.provider_data.batch as batch_module

    monkeypatch.setattr(batch_module, "CHUNK", 2)
    payloads = example_payloads()
    run(sessions, fmt, payloads)
    before = dump(database_url)
    edited = copy.deepcopy(payloads)
    edited[0]["title"] = "An edit that must not land"
    early, early_message = bad("points above credits", payloads[0])
    late, late_message = bad("end before start", payloads[0])
    late["provider_activity_id"] = "BAD-2"
    # The first two chunks are written before the first error, in the fourth record's chunk;
    # the next chunks are still checked, and their error reported too.
    records = [*edited, early, *more(3), late]
    report = run(sessions, fmt, records)
    assert not report.ok and not report.written
    assert report.created == report.updated == report.unchanged == report.activity_ids == []
    texts = [str(m) for m in report.errors]
    assert any(t.startswith(location(fmt, 3)) and early_message in t for t in texts), texts
    assert any(t.startswith(location(fmt, 7)) and late_message in t for t in texts), texts
    assert dump(database_url) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_refused_after_chunks_were_written_leaves_nothing_of_them(
    sessions, database_url, monkeypatch, fmt
):
    import directory.provider_data.batch as batch_module
    import directory.provider_data.files as files_module

    monkeypatch.setattr(batch_module, "CHUNK", 2)
    monkeypatch.setattr(files_module, "MAX_ACTIVITIES", 5)
    before = dump(database_url)
    with pytest.raises(FileRejected, match="more than 5 activities"):
        run(sessions, fmt, more(6))  # two chunks are written before the sixth is read
    assert dump(database_url) == before


# --- topic tags, approvals and coordinates ----------------------------------------------------


def approved_rule():
    """A mandate that counts only approved courses: its first topic and its approver."""
    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only)
    assert rule.approver is not None
    return rule, ref.topics[rule.topics[0]], ref.approvers[rule.approver]


def tagged() -> dict:
    """The example given twice (Boston, London), tagged with the approved rule's topic by its
    name in capitals and with another tag's code in its own spacing, the same approval twice
    (the body's code in lower case, then its full name), and coordinates."""
    rule, topic, approver = approved_rule()
    other = next(t for t in reference().topics.values() if t.code != topic.code)
    p = copy.deepcopy(example_payloads()[1])
    p["provider_activity_id"] = "TAGGED-1"
    p["topics"] = [topic.name.upper(), other.code.replace("-", " "), topic.code]
    p["approvals"] = [
        {"body": approver.code.lower(), "id": "HT-2026-0193"},
        {"body": approver.name, "id": "HT-2026-0193"},
    ]
    p["latitude"], p["longitude"] = 42.3479, -71.0877
    p["occurrences"][1].update(latitude=51.5072, longitude=-0.1276)
    return p


def stored(sessions, provider_activity_id: str) -> Activity:
    with sessions() as session:
        activity = session.scalar(
            select(Activity)
            .where(Activity.provider_activity_id == provider_activity_id)
            .options(*with_children())
        )
        session.expunge_all()
        return activity


@pytest.mark.parametrize("fmt", FORMATS)
def test_topics_approvals_and_coordinates_are_stored_as_codes_and_read_back(sessions, fmt):
    rule, topic, approver = approved_rule()
    payload = tagged()
    report = run(sessions, fmt, [payload])
    assert report.ok and report.written, [str(m) for m in report.errors]
    assert report.warnings == [], [str(m) for m in report.warnings]
    activity = stored(sessions, "TAGGED-1")
    other = next(t for t in reference().topics.values() if t.code != topic.code)
    assert activity.topics == [topic.code, other.code]
    assert activity.approvals == [{"body": approver.code, "id": "HT-2026-0193"}]
    assert (activity.latitude, activity.longitude) == (42.3479, -71.0877)
    london = next(o for o in activity.occurrences if o.city == "London")
    assert (london.latitude, london.longitude) == (51.5072, -0.1276)
    bodies = [a["body"] for a in activity.approvals]
    assert rule.id in reference().matched_mandates(activity.topics, bodies)

    # The same file again changes nothing, and so does what the registry holds, written out.
    assert run(sessions, fmt, [payload]).unchanged == ["TAGGED-1"]
    assert run(sessions, fmt, [payload_of(activity)]).unchanged == ["TAGGED-1"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_tag_is_a_warning_with_the_nearest_tags_and_the_rest_is_saved(sessions, fmt):
    _, topic, _ = approved_rule()
    misspelt = topic.name[:-1]
    payload = copy.deepcopy(example_payloads()[0])
    payload["topics"] = [misspelt]
    report = run(sessions, fmt, [example_payloads()[2], payload])
    assert report.ok and report.written, [str(m) for m in report.errors]
    [warning] = report.warnings
    assert warning.location.startswith(location(fmt, 1))
    assert (warning.field, warning.severity) == ("topics", "warning")
    assert f"'{misspelt}' is not a mandated-topic tag" in warning.message
    assert warning.nearest and topic.name in warning.nearest
    assert sorted(report.created) == sorted(
        [payload["provider_activity_id"], example_payloads()[2]["provider_activity_id"]]
    )
    # Saved as written: counted toward nothing, but kept for the provider to correct.
    assert stored(sessions, payload["provider_activity_id"]).topics == [misspelt]


BAD_COORDINATES = [
    ("activity", (95.0, -87.6), "latitude/longitude", "95, -87.6 is not a place"),
    ("activity", (41.89, None), "latitude/longitude", "give both latitude and longitude"),
    ("occurrence", (None, 200.0), "occurrence 2 latitude/longitude", "give both latitude"),
    ("occurrence", (51.5, 200.0), "occurrence 2 latitude/longitude", "-180 to 180"),
]


@pytest.mark.parametrize(
    ("fmt", "where", "values", "field", "message"),
    [
        (fmt, *case)
        for fmt in FORMATS
        for case in BAD_COORDINATES
        # The occurrences cell cannot hold half a pair: its reader refuses "@ 41.8" instead
        # (test_provider_files: unreadable occurrence coordinates).
        if not (fmt in ("csv", "xlsx") and case[0] == "occurrence" and None in case[1])
    ],
)
def test_bad_coordinates_are_an_error_naming_the_row(
    sessions, database_url, fmt, where, values, field, message
):
    payload = copy.deepcopy(example_payloads()[1])
    target = payload if where == "activity" else payload["occurrences"][1]
    target["latitude"], target["longitude"] = values
    before = dump(database_url)
    report = run(sessions, fmt, [example_payloads()[0], payload])
    assert not report.written
    [error] = report.errors
    assert error.location.startswith(location(fmt, 1))
    assert error.field == field and message in error.message
    assert dump(database_url) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_place_that_cannot_be_located_is_saved_with_a_warning(sessions, fmt):
    payload = copy.deepcopy(example_payloads()[1])
    payload["occurrences"][1].update(city="Qwxzyville", state=None, country="GB")
    report = run(sessions, fmt, [payload])
    assert report.ok and report.written
    [warning] = report.warnings
    assert warning.location.startswith(location(fmt, 0))
    assert (warning.field, warning.severity) == ("occurrence 2", "warning")
    assert "could not locate 'Qwxzyville, GB'" in warning.message


def write_csv(tmp_path, payloads: list[dict]) -> str:
    name, data = render("csv", payloads)
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_the_command_line_prints_each_kind_of_message_with_its_row(app, sessions, tmp_path):
    from directory.cli import cli

    _, topic, _ = approved_rule()
    unknown = copy.deepcopy(example_payloads()[1])
    unknown["topics"] = [*unknown["topics"], topic.name[:-1]]
    unknown["occurrences"][1].update(city="Qwxzyville", state=None, country="GB")
    unfinished = copy.deepcopy(example_payloads()[0])
    unfinished["moc"][0]["attested"] = False
    path = write_csv(tmp_path, [unknown, unfinished])

    result = app.test_cli_runner().invoke(cli, ["import", path, "--provider", "1", "--dry-run"])
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("check: row 2, topics: ") for line in lines), lines
    assert any(
        line.startswith("check: row 2, occurrence 2: we could not locate") for line in lines
    ), lines
    assert any(line.startswith("incomplete: row 3, ") for line in lines), lines
    assert not any(line.startswith("error:") for line in lines)
    assert "1 incomplete registration (would be saved, but it does not count" in result.stdout
    assert "; 2 warnings" in result.stdout, result.stderr

    bad = copy.deepcopy(example_payloads()[0])
    bad["latitude"] = 123.0
    result = app.test_cli_runner().invoke(
        cli, ["import", write_csv(tmp_path, [bad]), "--provider", "1"]
    )
    assert result.exit_code == 1
    assert "error: row 2, latitude/longitude: 123, -87.6094 is not a place" in result.stderr
    assert "Error: 1 problem; nothing was saved" in result.stderr
