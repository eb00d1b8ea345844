"""A provider's filtered list exported as CSV and Excel (`provider_data.export`, the blueprint
`provider_export`): in the batch import's layout, so that the file uploads back unchanged, and
a cell fixed in it updates that activity alone; formula-safe; the provider's own activities
only; bounded by the import's limits. On SQLite and PostgreSQL."""

from __future__ import annotations

import codecs
import csv
import html
import io
from datetime import timedelta

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.provider_data import files
from directory.provider_data.batch import import_records
from directory.provider_data.files import read_records
from directory.provider_data.formats import csv_format, xlsx_format
from directory.provider_data.formats.rows import (
    CSV_GUARD,
    FORMULA_STARTS,
    csv_guarded,
    csv_unguarded,
    flat_row,
)
from directory.provider_data.layout import flat_columns, report_column_specs
from directory.provider_data.published import example_payloads
from directory.registry import api_keys, standing
from directory.registry.db import make_sessionmaker
from directory.registry.models import Activity, Provider, with_children
from tests import factories as f
from tests.test_web_security import sign_in

pytestmark = pytest.mark.both_databases

MINE = 9300
THEIRS = 9301
HEADERS = flat_columns() + [c.header for c in report_column_specs()]
# Titles and descriptions a spreadsheet would run, were they not guarded.
FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"]


@pytest.fixture
def day(app):
    with app.app_context():
        from directory.web.context import today

        return today()


def _activity(day, activity_id, provider, **fields):
    """A listed activity of `provider`, its dates and deadline counted from `day`."""
    deadline = day + timedelta(days=90)
    values = dict(
        id=activity_id,
        provider_activity_id=f"EX-{activity_id}",
        provider=provider,
        title=f"Export course {activity_id}",
        start_date=day + timedelta(days=10),
        end_date=day + timedelta(days=11),
        moc=[f.abim(claim_deadline=deadline)],
    )
    values.update(fields)
    return f.activity(**values)


@pytest.fixture
def providers(engine, day):
    """MINE's activities, one for each way to stand, and THEIRS, which share its words and
    its own ids: what MINE's export must never hold."""
    mine = f.provider(id=MINE, name="Export Institute")
    theirs = f.provider(id=THEIRS, name="Other Export College")
    deadline = day + timedelta(days=90)
    ended = dict(start_date=day - timedelta(days=20), end_date=day - timedelta(days=19))
    kinds = {
        "listed": [
            _activity(day, 1, mine),
            _activity(day, 2, mine, latitude=41.8916, longitude=-87.6094, keywords=["-x", "+y"]),
            _activity(day, 3, mine, rems=[f.rems()]),
        ],
        "draft": [_activity(day, 4, mine, status="Draft")],
        "hidden": [_activity(day, 5, mine, show_in_directory=False)],
        "ended": [_activity(day, 6, mine, **ended)],
        "incomplete": [
            _activity(day, 7, mine, moc=[f.abim(practice_areas=[], claim_deadline=deadline)])
        ],
        "formulas": [
            _activity(day, 10 + i, mine, title=text, description=text)
            for i, text in enumerate(FORMULAS)
        ],
        # What openpyxl would write as an error cell, which an upload refuses.
        "error_text": [_activity(day, 20, mine, title="#N/A")],
    }
    others = [
        _activity(day, 101, theirs, provider_activity_id="EX-1", title="Export course 1"),
        _activity(day, 102, theirs, provider_activity_id="EX-102", status="Draft", **ended),
    ]
    ids = {kind: {a.id for a in group} for kind, group in kinds.items()}
    ids["theirs"] = {a.id for a in others}
    with Session(engine) as session:
        session.add_all([a for group in kinds.values() for a in group] + others)
        session.commit()
    return ids


def _mine(providers) -> set[int]:
    return set().union(*(ids for kind, ids in providers.items() if kind != "theirs"))


def _signed_in(client, engine, provider_id):
    with Session(engine) as session:
        issued = api_keys.issue(session, session.get(Provider, provider_id), "export test")
        session.commit()
    assert sign_in(client, issued.key).status_code == 303
    return client


@pytest.fixture
def mine(client, engine, providers):
    return _signed_in(client, engine, MINE)


def _export(client, fmt="csv", query=""):
    response = client.get(f"/providers/{MINE}/activities.{fmt}" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == HEADERS
    return [dict(zip(HEADERS, row, strict=True)) for row in rows[1:]]


def _xlsx_sheet(data: bytes):
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Activities"]
    assert [c.value for c in sheet[1]] == HEADERS
    return book, sheet


def _ids(client, fmt="csv", query="") -> list[int]:
    data = _export(client, fmt, query).data
    if fmt == "csv":
        return [int(r["Registry ID"]) for r in _csv_rows(data)]
    _, sheet = _xlsx_sheet(data)
    column = HEADERS.index("Registry ID")
    return [row[column].value for row in sheet.iter_rows(min_row=2)]


def _import(engine, day, name, data):
    return import_records(
        make_sessionmaker(engine), MINE, lambda: read_records(name, data), day, source="batch"
    )


def _edited_xlsx(data: bytes, changes: dict[tuple[int, str], str]) -> bytes:
    """The workbook with cells (row, header) set, saved again as a provider's Excel would."""
    book, sheet = _xlsx_sheet(data)
    for (row, header), value in changes.items():
        sheet.cell(row=row, column=HEADERS.index(header) + 1, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_uploaded_back_changes_nothing(mine, engine, day, providers, fmt):
    response = _export(mine, fmt)
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="activities-{day.isoformat()}.{fmt}"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    assert int(response.headers["Content-Length"]) == len(response.data)
    report = _import(engine, day, f"activities.{fmt}", response.data)
    assert report.errors == [] and report.written
    assert report.created == [] and report.updated == []
    assert len(report.unchanged) == len(_mine(providers))


def test_the_report_columns_say_how_each_activity_stands(mine, providers, day):
    rows = {int(r["Registry ID"]): r for r in _csv_rows(_export(mine).data)}
    assert set(rows) == _mine(providers)
    for activity_id in providers["listed"]:
        assert rows[activity_id]["Listed"] == "yes"
        assert rows[activity_id]["Why not listed"] == ""
        assert rows[activity_id]["Board registrations"] == "registered for ABIM: complete"
    (draft,) = providers["draft"]
    assert rows[draft]["Listed"] == "no"
    assert rows[draft]["Why not listed"] == "its status is Draft, not Active"
    (ended,) = providers["ended"]
    assert rows[ended]["Why not listed"] == f"it ended on {day - timedelta(days=19)}"
    (hidden,) = providers["hidden"]
    assert "chose not to show it" in rows[hidden]["Why not listed"]
    (incomplete,) = providers["incomplete"]
    assert rows[incomplete]["Listed"] == "yes"
    assert rows[incomplete]["Board registrations"].startswith("ABIM: incomplete, not counted")
    assert "practice areas" in rows[incomplete]["Board registrations"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_fixed_cell_updates_that_activity_alone_and_it_is_listed(
    mine, engine, day, providers, fmt
):
    # Registry data older than a rule: Active without the description an Active one needs.
    with Session(engine) as session:
        provider = session.get(Provider, MINE)
        session.add(_activity(day, 50, provider, provider_activity_id="OLD-50", description=None))
        session.commit()
    assert _ids(mine, fmt, "reason=missing") == [50]

    data = _export(mine, fmt).data
    refused = _import(engine, day, f"activities.{fmt}", data)
    assert not refused.written
    assert [m.field for m in refused.errors] == ["status"]
    assert "description" in refused.errors[0].message

    text = "Two days of cases, filled in from the export."
    if fmt == "csv":
        rows = _csv_rows(data)
        for row in rows:
            if row["Your activity id"] == "OLD-50":
                row["Description"] = text
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows([row[h] for h in HEADERS] for row in rows)
        fixed = out.getvalue().encode("utf-8")
    else:
        (row,) = [i + 2 for i, n in enumerate(_ids(mine, "xlsx")) if n == 50]
        fixed = _edited_xlsx(data, {(row, "Description"): text})
    report = _import(engine, day, f"activities.{fmt}", fixed)
    assert report.errors == [] and report.written
    assert report.created == [] and report.updated == ["OLD-50"]
    assert len(report.unchanged) == len(_mine(providers))
    assert 50 in _ids(mine, fmt, "listed=yes")
    assert 50 not in _ids(mine, fmt, "listed=no")


def test_the_report_columns_are_ignored_on_upload_whatever_they_hold(mine, engine, day):
    data = _export(mine, "xlsx").data
    (row,) = [i + 2 for i, n in enumerate(_ids(mine, "xlsx")) if n == 4]
    edited = _edited_xlsx(
        data, {(row, "Listed"): "=1+1", (row, "Registry ID"): "999", (row, "Why not listed"): "x"}
    )
    report = _import(engine, day, "activities.xlsx", edited)
    assert report.errors == [] and report.updated == [] and report.created == []


def test_a_big_export_still_records_its_size_so_an_upload_reads_it_a_row_at_a_time(
    mine, engine, day, providers, monkeypatch
):
    # An upload refuses a big sheet that does not say its size before its rows; the export's
    # sheet is bigger than this lowered limit, so it must say it.
    monkeypatch.setattr(files, "MAX_XLSX_UNSIZED_SHEET_BYTES", 1000)
    report = _import(engine, day, "activities.xlsx", _export(mine, "xlsx").data)
    assert report.errors == [] and len(report.unchanged) == len(_mine(providers))


def test_several_rems_programs_are_written_with_the_first_and_a_note(mine, engine, day):
    with Session(engine) as session:
        provider = session.get(Provider, MINE)
        session.add(
            _activity(
                day,
                60,
                provider,
                rems=[f.rems(), f.rems(program="Mycophenolate REMS", rpc_id=None)],
            )
        )
        session.commit()
    rows = {int(r["Registry ID"]): r for r in _csv_rows(_export(mine).data)}
    assert rows[60]["REMS program"] == "Mycophenolate REMS"
    note = rows[60]["Export note"]
    assert "2 REMS programs" in note and "Opioid Analgesic REMS" in note
    assert "replace" in note and "XML or JSON" in note
    assert all(r["Export note"] == "" for n, r in rows.items() if n != 60)
    _, sheet = _xlsx_sheet(_export(mine, "xlsx").data)
    notes = [r[HEADERS.index("Export note")].value for r in sheet.iter_rows(min_row=2)]
    assert sum(1 for n in notes if n) == 1
    # What the note says is what an upload of the row does.
    report = _import(engine, day, "activities.csv", _export(mine).data)
    assert report.updated == ["EX-60"]
    with Session(engine) as session:
        activity = session.scalar(
            select(Activity).where(Activity.id == 60).options(*with_children())
        )
        assert [r.program for r in activity.rems] == ["Mycophenolate REMS"]


# --- formula injection --------------------------------------------------------------------------


def test_csv_text_that_could_run_is_guarded_and_reads_back_exactly(mine, engine, day, providers):
    data = _export(mine).data
    rows = {int(r["Registry ID"]): r for r in _csv_rows(data)}
    by_title = {}
    for activity_id in providers["formulas"]:
        row = rows[activity_id]
        assert row["Title"].startswith(CSV_GUARD)
        assert row["Title"] == row["Description"]
        by_title[row["Title"][1:]] = activity_id
    assert sorted(by_title) == sorted(FORMULAS)
    (located,) = [rows[n] for n in providers["listed"] if rows[n]["Longitude"]]
    assert located["Longitude"] == "-87.6094"  # a number, not guarded
    assert located["Keywords"] == "'-x | +y"
    assert rows[min(providers["listed"])]["Registry ID"] == str(min(providers["listed"]))

    payloads = {r.payload["provider_activity_id"]: r.payload for r in read_records("a.csv", data)}
    for text, activity_id in by_title.items():
        assert payloads[f"EX-{activity_id}"]["title"] == text
        assert payloads[f"EX-{activity_id}"]["description"] == text
    assert payloads["EX-2"]["keywords"] == ["-x", "+y"]
    assert payloads["EX-2"]["longitude"] == -87.6094
    report = _import(engine, day, "activities.csv", data)
    assert report.errors == [] and report.updated == []


def test_excel_text_that_could_run_is_a_string_cell(mine, engine, day, providers):
    data = _export(mine, "xlsx").data
    _, sheet = _xlsx_sheet(data)
    id_column, title_column = HEADERS.index("Registry ID"), HEADERS.index("Title")
    titles = {}
    for row in sheet.iter_rows(min_row=2):
        if row[id_column].value in providers["formulas"]:
            cell = row[title_column]
            assert cell.data_type == "s", cell.value
            titles[cell.value] = row[id_column].value
        assert all(c.data_type != "f" for c in row)
    assert sorted(titles) == sorted(FORMULAS)  # as written, no apostrophe
    (error_text,) = [r for r in sheet.iter_rows(min_row=2) if r[id_column].value == 20]
    assert error_text[title_column].value == "#N/A"
    assert error_text[title_column].data_type == "s"
    assert _xlsx_title(data, "EX-20") == "#N/A"
    longitude = HEADERS.index("Longitude")
    values = [r[longitude].value for r in sheet.iter_rows(min_row=2) if r[longitude].value]
    assert values == [-87.6094]
    payloads = {r.payload["provider_activity_id"]: r for r in read_records("a.xlsx", data)}
    for text, activity_id in titles.items():
        record = payloads[f"EX-{activity_id}"]
        assert record.problems == [] and record.payload["title"] == text


def _xlsx_title(data: bytes, activity_id: str) -> str:
    (record,) = [
        r for r in read_records("a.xlsx", data) if r.payload["provider_activity_id"] == activity_id
    ]
    assert record.problems == []
    return record.payload["title"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_example_writers_guard_text_too(fmt):
    payload = {**example_payloads()[0], "title": "=1+1", "description": "@cmd", "keywords": ["-x"]}
    row = flat_row(payload, native=fmt == "xlsx")
    data = csv_format.write([row]) if fmt == "csv" else xlsx_format.write([row])
    (record,) = read_records(f"a.{fmt}", data)
    assert record.problems == []
    assert record.payload == payload


@settings(max_examples=300, deadline=None, database=None)  # no .hypothesis/ in the checkout
@given(st.text(alphabet=st.sampled_from("'=+-@\t\r\n a1"), max_size=8) | st.text(max_size=12))
def test_a_guarded_text_never_starts_a_formula_and_unguards_to_itself(text):
    guarded = csv_guarded(text)
    assert csv_unguarded(guarded) == text
    assert not guarded.startswith(FORMULA_STARTS)
    assert not guarded.lstrip().startswith("=")


def test_a_guarded_csv_cell_is_text_and_an_unguarded_formula_is_still_refused():
    required = "Your activity id,Title,Format,Start date,End date"
    lines = [
        required,
        "G-1,'=1+1,Course,2027-03-11,2027-03-12",
        "G-2,=1+1,Course,2027-03-11,2027-03-12",
        "G-3,''quoted,Course,2027-03-11,2027-03-12",
        "G-4,'plain,Course,2027-03-11,2027-03-12",
    ]
    records = list(read_records("a.csv", "\r\n".join(lines).encode()))
    assert records[0].payload["title"] == "=1+1" and records[0].problems == []
    assert [p.field for p in records[1].problems] == ["title"]
    assert records[2].payload["title"] == "'quoted"
    assert records[3].payload["title"] == "'plain"


# --- filters and isolation ----------------------------------------------------------------------


def test_the_filters_apply(mine, providers):
    not_listed = providers["draft"] | providers["hidden"] | providers["ended"]
    assert set(_ids(mine, "csv", "listed=no")) == not_listed
    assert set(_ids(mine, "xlsx", "listed=no")) == not_listed
    assert set(_ids(mine, "csv", "listed=yes")) == _mine(providers) - not_listed
    assert _ids(mine, "csv", "reason=ended") == sorted(providers["ended"])
    assert set(_ids(mine, "csv", "reason=ended&reason=status")) == (
        providers["ended"] | providers["draft"]
    )
    assert _ids(mine, "csv", "status=Draft") == sorted(providers["draft"])
    assert _ids(mine, "csv", "board=ABIM&board_state=incomplete") == sorted(providers["incomplete"])
    assert _ids(mine, "csv", "q=EX-6") == sorted(providers["ended"])
    # The dashboard's paging is ignored: the export is the whole filtered list.
    assert set(_ids(mine, "csv", "listed=no&page=2&per_page=1")) == not_listed
    assert set(_ids(mine, "csv", "page=x")) == _mine(providers)
    assert _ids(mine, "csv", "sort=id")[:2] == [1, 10]  # "EX-1" < "EX-10" < ... < "EX-2"


def test_the_filename_names_the_filters(mine, day):
    cases = {
        "listed=no": "not-listed",
        "reason=ended": "ended",
        "board=ABIM&board_state=incomplete": "abim-incomplete",
        "q=Cardio%20%2F%20..": "matching-cardio",
    }
    for query, words in cases.items():
        disposition = _export(mine, "xlsx", query).headers["Content-Disposition"]
        assert disposition == f'attachment; filename="activities-{words}-{day.isoformat()}.xlsx"'


@pytest.mark.parametrize(
    "query",
    ["", "listed=no", "reason=status", "reason=ended", "q=Export", "q=EX-1", "q=101", "q=102"],
)
def test_an_export_holds_only_the_providers_own_activities(mine, providers, query):
    for fmt in ("csv", "xlsx"):
        ids = _ids(mine, fmt, query)
        assert set(ids) <= _mine(providers)
        assert not set(ids) & providers["theirs"]


# --- who may export, and what is refused ---------------------------------------------------------


def test_only_the_signed_in_provider_may_export(client, engine, providers):
    response = client.get(f"/providers/{MINE}/activities.csv")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/providers/sign-in")

    _signed_in(client, engine, THEIRS)
    refused = client.get(f"/providers/{MINE}/activities.csv")
    assert refused.status_code == 403
    assert "only your own activities" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "private, no-store"
    own = client.get(f"/providers/{THEIRS}/activities.csv")
    assert own.status_code == 200
    assert {int(r["Registry ID"]) for r in _csv_rows(own.data)} == providers["theirs"]


@pytest.mark.parametrize("fmt", ["xml", "json", "pdf", "CSV"])
def test_another_format_is_404(mine, fmt):
    assert mine.get(f"/providers/{MINE}/activities.{fmt}").status_code == 404


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("listed=maybe", "listed: yes or no"),
        ("reason=lazy", "'lazy' is not a reason"),
        ("board=XYZ", "'XYZ' is not a board"),
        ("board_state=gone", "board_state: one of"),
        ("status=Done", "'Done' is not a status"),
    ],
)
def test_a_filter_that_cannot_be_read_is_a_400_naming_it(mine, query, named):
    response = mine.get(f"/providers/{MINE}/activities.csv?{query}")
    assert response.status_code == 400
    assert named in html.unescape(response.get_data(as_text=True))


def test_more_activities_than_one_upload_holds_is_a_400_naming_the_limit(
    mine, providers, monkeypatch
):
    monkeypatch.setattr(files, "MAX_ACTIVITIES", 3)
    for fmt in ("csv", "xlsx"):
        response = mine.get(f"/providers/{MINE}/activities.{fmt}")
        assert response.status_code == 400
        text = response.get_data(as_text=True)
        assert f"{len(_mine(providers))} activities match these filters" in text
        assert "at most 3 activities a file" in text and "narrow the filters" in text
    assert set(_ids(mine, "csv", "listed=no")) == (
        providers["draft"] | providers["hidden"] | providers["ended"]
    )


def test_a_file_bigger_than_one_upload_holds_is_a_400_naming_the_size(mine, monkeypatch):
    size = len(_export(mine).data)
    monkeypatch.setattr(files, "MAX_FILE_BYTES", size - 1)
    response = mine.get(f"/providers/{MINE}/activities.csv")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "the most one upload may hold" in text and "narrow the filters" in text
    assert _export(mine, "csv", "reason=ended").status_code == 200
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    assert mine.get(f"/providers/{MINE}/activities.xlsx").status_code == 400


def test_with_activities_still_to_check_the_export_waits_rather_than_leave_them_out(
    mine, engine, monkeypatch
):
    _export(mine)  # every activity checked
    # One request checks at most WEB_LIMIT: here none, as when an import holds the lock.
    monkeypatch.setattr(standing, "WEB_LIMIT", 0)
    with Session(engine) as session:
        changed = session.get(Activity, 5)
        changed.show_in_directory = True
        changed.updated_at = changed.updated_at + timedelta(seconds=1)
        session.commit()
    response = mine.get(f"/providers/{MINE}/activities.csv")
    assert response.status_code == 503
    # The export is rate-limited, and Flask-Limiter rewrites every Retry-After of its routes
    # as whole seconds from now to the later of its own reset and ours: our 60, less the
    # fraction of a second already gone.
    assert int(response.headers["Retry-After"]) in (59, 60)
    assert "1 of your activities changed moments ago" in response.get_data(as_text=True)
    monkeypatch.setattr(standing, "WEB_LIMIT", 5_000)
    assert _export(mine).status_code == 200


def test_a_loop_of_exports_is_turned_away_with_a_429(mine):
    from directory.web.app import EXPORT_LIMIT

    allowed = int(EXPORT_LIMIT.split("/")[0])
    statuses = [
        mine.get(f"/providers/{MINE}/activities.csv").status_code for _ in range(allowed + 1)
    ]
    assert statuses == [200] * allowed + [429]
