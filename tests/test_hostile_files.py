"""Hostile and malformed provider input: property tests over every importer, and the web service.

Every way in (CSV, Excel, XML and JSON files, and `files.read_document` for the web service's
parsed JSON) is fed arbitrary bytes and structured-but-wrong content. Whatever comes in, a
reader either refuses the whole file with `FileRejected` or yields records whose problems are
short, valid text; it never raises anything else, and never answers without bound. The value
rules (text, numbers) and the URL rule get properties of their own.

Each property counts the cases it ran in `CASES`; the last test checks that each ran at least
nine tenths of its `max_examples` (run with `-s` to see the counts).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.provider_data import batch, files
from directory.provider_data.files import FileReader, FileRejected, Record, read_document
from directory.provider_data.layout import LAYOUT, flat_columns
from directory.provider_data.published import example
from directory.provider_data.values import BadValue, coerce_value
from directory.registry import api_keys, rules
from directory.registry.models import Activity
from tests import factories as f

CASES: dict[str, int] = {}
EXAMPLES = {
    "csv bytes": 150,
    "csv text": 150,
    "xlsx bytes": 60,
    "xlsx sheets": 40,
    "xlsx damaged": 60,
    "xml bytes": 150,
    "xml trees": 150,
    "json bytes": 150,
    "json documents": 150,
    "read_document": 150,
    "tags and places": 200,
    "values": 400,
    "text rules": 400,
    "url rule": 400,
    "unsafe urls": 300,
}


def _settings(name: str) -> settings:
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        database=None,  # no .hypothesis/ folder in the checkout
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _ran(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


# --- what every answer must be ---------------------------------------------------------------

MAX_MESSAGE = 1_500  # characters of one problem, or of the message refusing a file
_BAD_IN_MESSAGE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_BAD_IN_VALUE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _message_ok(text: str) -> None:
    text.encode("utf-8")  # a lone surrogate cannot be written: not on a page, not as JSON
    assert not _BAD_IN_MESSAGE.search(text), repr(text)
    assert len(text) <= MAX_MESSAGE, len(text)


def _values_ok(value: Any) -> None:
    if isinstance(value, str):
        value.encode("utf-8")
        assert not _BAD_IN_VALUE.search(value), repr(value)
    elif isinstance(value, dict):
        for item in value.values():
            _values_ok(item)
    elif isinstance(value, list):
        for item in value:
            _values_ok(item)


def _records_ok(records: list[Record]) -> None:
    assert len(records) <= files.MAX_ACTIVITIES
    for record in records:
        _message_ok(record.location)
        assert len(record.problems) <= files.MAX_PROBLEMS_PER_ACTIVITY + 1
        for problem in record.problems:
            assert problem.severity in ("error", "incomplete", "warning")
            _message_ok(str(problem))
        if not any(p.severity == "error" for p in record.problems):
            _values_ok(record.payload)  # what could be saved is valid text


def read_file(name: str, data: bytes) -> list[Record] | None:
    """The file's records, or None if it is refused; any other exception fails the test."""
    try:
        reader = FileReader(name, data)
        records = list(reader.records())
    except FileRejected as e:
        _message_ok(str(e))
        return None
    for warning in reader.warnings:
        _message_ok(str(warning))
    _records_ok(records)
    return records


# --- strategies -----------------------------------------------------------------------------

ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and controls too
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
# Text a provider might plausibly send, and pieces that mean something to a reader.
PIECES = st.sampled_from(
    [
        "",
        " ",
        ",",
        ";",
        "\t",
        '"',
        "'",
        "\r\n",
        "\n",
        "|",
        "..",
        "=",
        "=1+1",
        "+1",
        "@x",
        "-",
        "$",
        "free",
        "yes",
        "no",
        "Course",
        "Active",
        "ABIM",
        "2027-03-11",
        "2027-02-30",
        "6.5",
        "-2",
        "1e400",
        "NaN",
        "1" * 60,
        "https://cme.example.org/x",
        "javascript:alert(1)",
        "2027-03-11..2027-03-12 Chicago, IL, US",
        " @ 41.8916, -87.6094",
        "@",
        "TX-TMB HT-2026-0193",
        "Texas Medical Board",
        "human trafficking",
        "91",
        "-181",
        "é",
        "\u00a0",
        "\ufeff",
        "\x00",
        "\x07",
        "\udfff",
        "<",
        "&amp;",
        "&#0;",
        "]]>",
        "{",
        "[",
        "\\u",
    ]
)
CELL = st.lists(st.one_of(PIECES, ANY_TEXT), max_size=4).map("".join)
KEYS = [f.name for f in LAYOUT.fields] + [
    "occurrences",
    "moc",
    "rems",
    "approvals",
    "board",
    "body",
    "id",
    "activities",
]
KEY = st.one_of(st.sampled_from(KEYS), ANY_TEXT)


def _json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**20, max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        CELL,
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(KEY, children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


ACTIVITY = st.dictionaries(KEY, _json_values(), max_size=8)
DOCUMENT = st.one_of(
    st.lists(st.one_of(ACTIVITY, _json_values(4)), max_size=4),
    st.fixed_dictionaries({"activities": st.lists(ACTIVITY, max_size=4)}),
    st.dictionaries(KEY, st.lists(ACTIVITY, max_size=3), max_size=3),
    _json_values(6),
)


# --- every importer: only FileRejected, or records with short, valid problems ----------------


@_settings("csv bytes")
@given(st.binary(max_size=3000))
def test_csv_bytes_never_crash(data):
    _ran("csv bytes")
    read_file("a.csv", data)


@_settings("csv text")
@given(
    header=st.lists(st.one_of(st.sampled_from(flat_columns()), CELL), min_size=1, max_size=8),
    rows=st.lists(st.lists(CELL, max_size=9), max_size=6),
    delimiter=st.sampled_from([",", ";", "\t"]),
    quoting=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "mixed"]),
)
def test_csv_files_never_crash(header, rows, delimiter, quoting, encoding):
    _ran("csv text")
    lines = [header, *rows]
    if quoting:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter).writerows(lines)
        text = out.getvalue()
    else:
        text = "".join(delimiter.join(line) + "\r\n" for line in lines)
    if encoding == "mixed":  # UTF-8 and Windows-1252 in one file
        half = len(text) // 2
        data = text[:half].encode("utf-8", "replace") + text[half:].encode("cp1252", "ignore")
    else:
        data = text.encode(encoding, "ignore" if encoding == "cp1252" else "surrogatepass")
    read_file("a.csv", data)


@_settings("xlsx bytes")
@given(st.binary(max_size=3000))
def test_xlsx_bytes_never_crash(data):
    _ran("xlsx bytes")
    read_file("a.xlsx", data)


SHEET_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    # openpyxl refuses to write control characters; a formula is any text starting with "=".
    CELL.map(lambda t: _BAD_IN_VALUE.sub("", t)),
)


@_settings("xlsx sheets")
@given(
    header=st.lists(st.one_of(st.sampled_from(flat_columns()), CELL), min_size=1, max_size=8),
    rows=st.lists(st.lists(SHEET_VALUE, max_size=10), max_size=5),
    title=st.sampled_from(["Activities", "Sheet1", "activities "]),
)
def test_xlsx_workbooks_never_crash(header, rows, title):
    _ran("xlsx sheets")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in [[_BAD_IN_VALUE.sub("", h) for h in header], *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    read_file("a.xlsx", out.getvalue())


EXAMPLE_XLSX = example("xlsx")[2]


@_settings("xlsx damaged")
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(EXAMPLE_XLSX) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    ),
    cut=st.one_of(st.none(), st.integers(0, len(EXAMPLE_XLSX))),
)
def test_damaged_workbooks_never_crash(flips, cut):
    _ran("xlsx damaged")
    data = bytearray(EXAMPLE_XLSX)
    for at, value in flips:
        data[at] = value
    read_file("a.xlsx", bytes(data[:cut] if cut is not None else data))


@_settings("xml bytes")
@given(st.binary(max_size=3000))
def test_xml_bytes_never_crash(data):
    _ran("xml bytes")
    read_file("a.xml", b"<" + data)


XML_TAGS = [
    *(f.name for f in LAYOUT.fields),
    "activities",
    "activity",
    "occurrences",
    "occurrence",
    "moc",
    "registration",
    "rems",
    "approvals",
    "approval",
    "body",
    "id",
    "topic",
    "keyword",
    "objective",
    "practice_area",
    "colour",
]
XML_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from("\t\n\r"),
    max_size=20,
) | st.sampled_from(["2027-03-11", "Course", "ABIM", "yes", "6.5", "javascript:x"])


def _xml_element(depth: int) -> st.SearchStrategy[str]:
    tag = st.sampled_from(XML_TAGS)
    attrs = st.dictionaries(st.sampled_from(["board", "program", "x"]), XML_TEXT, max_size=2)
    if depth == 0:
        children: st.SearchStrategy[list[str]] = st.just([])
    else:
        children = st.lists(_xml_element(depth - 1), max_size=4)
    return st.builds(_xml, tag, attrs, XML_TEXT, children)


def _xml(tag: str, attrs: dict[str, str], text: str, children: list[str]) -> str:
    from xml.sax.saxutils import escape, quoteattr

    attributes = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{tag}{attributes}>{escape(text)}{''.join(children)}</{tag}>"


@_settings("xml trees")
@given(
    activities=st.lists(_xml_element(3), max_size=4),
    root=st.sampled_from(["activities", "activities", "courses"]),
    prolog=st.sampled_from(
        [
            "",
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<?xml version="1.0" encoding="shift_jis"?>',
            '<?xml version="1.0" encoding="latin-1"?>',
            "<!DOCTYPE activities>",
            '<!DOCTYPE a [<!ENTITY e "x">]>',
        ]
    ),
)
def test_xml_files_never_crash(activities, root, prolog):
    _ran("xml trees")
    text = f"{prolog}<{root}>{''.join(activities)}</{root}>"
    read_file("a.xml", text.encode("utf-8"))


@_settings("json bytes")
@given(st.binary(max_size=3000))
def test_json_bytes_never_crash(data):
    _ran("json bytes")
    read_file("a.json", b"[" + data)


@_settings("json documents")
@given(document=DOCUMENT, ascii_only=st.booleans())
def test_json_files_never_crash(document, ascii_only):
    _ran("json documents")
    try:
        text = json.dumps(document, ensure_ascii=ascii_only)
    except ValueError:  # an integer too long for Python to write as text
        return
    read_file("a.json", text.encode("utf-8", "surrogatepass"))


@_settings("read_document")
@given(document=DOCUMENT)
def test_web_service_documents_never_crash(document):
    _ran("read_document")
    try:
        records = list(read_document(document, size=1000, name="activity.json"))
    except FileRejected as e:
        _message_ok(str(e))
        return
    _records_ok(records)


# Any value where the topic tags, approvals and places go, on an activity that is otherwise
# fine, so that the registry's rules (not only the readers) meet them.
PLACE_KEYS = ["latitude", "longitude", "city", "state", "country", "venue", "x"]
HOSTILE_TAGS = st.fixed_dictionaries(
    {},
    optional={
        "topics": st.one_of(_json_values(8), st.lists(st.one_of(PIECES, CELL), max_size=40)),
        "approvals": st.one_of(
            _json_values(8),
            CELL,
            st.lists(
                st.dictionaries(
                    st.sampled_from(["body", "id", "x"]), st.one_of(PIECES, _json_values(2))
                ),
                max_size=25,
            ),
        ),
        "latitude": _json_values(2),
        "longitude": _json_values(2),
        "delivery": st.sampled_from(["in person", "online", "both"]),
        "city": st.one_of(PIECES, CELL),
        "occurrences": st.one_of(
            CELL,
            st.lists(
                st.fixed_dictionaries(
                    {"start_date": st.just("2027-03-11"), "end_date": st.just("2027-03-12")},
                    optional={k: st.one_of(PIECES, _json_values(2)) for k in PLACE_KEYS},
                ),
                max_size=3,
            ),
        ),
    },
)


@_settings("tags and places")
@given(extra=HOSTILE_TAGS)
def test_the_rules_judge_any_tags_approvals_and_places_in_words(extra):
    _ran("tags and places")
    document = {"activities": [body(**extra)]}
    try:
        records = list(read_document(document, size=1000, name="activity.json"))
    except FileRejected as e:
        _message_ok(str(e))
        return
    _records_ok(records)
    for record in records:
        for problem in batch.check_record(record, None, date(2026, 11, 22)):
            assert problem.severity in ("error", "incomplete", "warning")
            _message_ok(str(problem))


# --- the value rules -------------------------------------------------------------------------

ALL_SPECS = [
    *LAYOUT.fields,
    *LAYOUT.occurrence_fields,
    *LAYOUT.moc_fields,
    *LAYOUT.rems_fields,
    *LAYOUT.approval_fields,
]


@_settings("values")
@given(spec=st.sampled_from(ALL_SPECS), raw=_json_values(6))
def test_coerce_value_raises_only_bad_value(spec, raw):
    _ran("values")
    try:
        value = coerce_value(spec, raw)
    except BadValue as e:
        _message_ok(str(e))
        return
    _values_ok(value)


TEXT_SPECS = [f for f in LAYOUT.fields if f.kind in ("text", "long_text", "list")]


@_settings("text rules")
@given(spec=st.sampled_from(TEXT_SPECS), raw=st.text(ANY_CHAR, max_size=30))
def test_text_with_a_lone_surrogate_or_a_control_character_is_refused(spec, raw):
    _ran("text rules")
    surrogate = re.search(r"[\ud800-\udfff]", raw)
    control = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw)
    try:
        value = coerce_value(spec, raw)
    except BadValue as e:
        _message_ok(str(e))
        if surrogate is not None:
            assert f"a lone surrogate at position {surrogate.start() + 1})" in str(e)
        elif control is not None:
            assert f"at position {control.start() + 1}; remove it" in str(e)
        return
    assert surrogate is None and control is None
    _values_ok(value)


# --- the URL rule ----------------------------------------------------------------------------

_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


@_settings("url rule")
@given(
    st.one_of(
        ANY_TEXT,
        st.builds(
            lambda scheme, rest: scheme + rest,
            st.sampled_from(["http://", "https://", "HTTPS://", "hTTp://", " https://"]),
            ANY_TEXT,
        ),
    )
)
def test_safe_url_returns_only_http_addresses_with_a_host(text):
    _ran("url rule")
    url = rules.safe_url(text)
    assert rules.is_safe_url(text) is (url is not None)
    if url is None:
        return
    assert url == text.strip()
    assert url.lower().startswith(("http://", "https://"))
    assert not _SPACE_OR_CONTROL.search(url)
    assert urlsplit(url).hostname


@_settings("unsafe urls")
@given(
    before=st.text(st.sampled_from(" \t\n\r\x00\x01\x0b\x0c\x1f\u00a0\u2028\ufeff"), max_size=3),
    scheme=st.sampled_from(
        ["javascript", "data", "vbscript", "file", "jav\tascript", "java\nscript"]
    ),
    case=st.lists(st.booleans(), min_size=12, max_size=12),
    rest=ANY_TEXT,
)
def test_script_and_other_schemes_are_always_refused(before, scheme, case, rest):
    _ran("unsafe urls")
    cased = "".join(c.upper() if up else c for c, up in zip(scheme, case, strict=False))
    assert rules.safe_url(f"{before}{cased}:{rest}") is None


# --- the web service: the same rules, a 4xx, nothing saved -----------------------------------


@pytest.fixture
def key(engine):
    with Session(engine) as session:
        provider = f.provider(id=1, name="Provider A")
        session.add(provider)
        issued = api_keys.issue(session, provider, "test").key
        session.commit()
    return {"Authorization": f"Bearer {issued}"}


def body(**overrides: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "provider_activity_id": "NEW-1",
        "title": "Update in Atrial Fibrillation",
        "format": "Enduring Material",
        "status": "Draft",
        "start_date": "2026-11-01",
        "end_date": "2027-10-31",
        "keywords": ["atrial fibrillation"],
        "url": "https://cme.example.org/afib",
    }
    activity.update(overrides)
    return activity


def saved(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Activity)) or 0


def _error(response) -> str:
    return response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "keywords",
            ["\udfff"],
            "keywords: item 1: contains characters that are not valid text (a lone surrogate at position 1)",
        ),
        (
            "title",
            "Heart\ud83d failure",
            "title: contains characters that are not valid text (a lone surrogate at position 6)",
        ),
        (
            "description",
            "a\x00b",
            "description: contains a control character (U+0000) at position 2",
        ),
    ],
)
def test_the_web_service_refuses_text_that_is_not_valid_and_saves_nothing(
    client, engine, key, field, value, message
):
    for response in (
        client.post("/api/v1/provider/activities", json=body(**{field: value}), headers=key),
        client.put("/api/v1/provider/activities/NEW-1", json=body(**{field: value}), headers=key),
    ):
        assert response.status_code == 422, response.get_data(as_text=True)
        assert message in _error(response)
    assert saved(engine) == 0


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_the_web_service_refuses_an_activity_url_that_is_not_http(client, engine, key, url):
    response = client.post("/api/v1/provider/activities", json=body(url=url), headers=key)
    assert response.status_code == 422
    assert "activity URL: must be an http:// or https:// address" in _error(response)
    assert saved(engine) == 0


def test_the_web_service_refuses_an_id_with_a_slash_and_reads_every_other(client, engine, key):
    refused = client.post(
        "/api/v1/provider/activities", json=body(provider_activity_id="LU/2027/1"), headers=key
    )
    assert refused.status_code == 422
    assert "your activity id: must not contain '/'" in _error(refused)
    assert saved(engine) == 0
    for activity_id in ("LU 2027.1:a_b-c", "12345", "Kurs-Ü1"):
        created = client.post(
            "/api/v1/provider/activities", json=body(provider_activity_id=activity_id), headers=key
        )
        assert created.status_code == 201, created.get_json()
        got = client.get(f"/api/v1/provider/activities/{activity_id}", headers=key)
        assert got.status_code == 200 and got.get_json()["provider_activity_id"] == activity_id


def test_a_number_of_thousands_of_digits_in_a_body_is_a_4xx(client, engine, key):
    raw = json.dumps(body()).replace('"keywords"', '"cme_credits": ' + "1" * 4000 + ', "keywords"')
    response = client.post(
        "/api/v1/provider/activities", data=raw, content_type="application/json", headers=key
    )
    assert response.status_code == 422
    assert "has too many digits (4,000)" in _error(response)
    assert saved(engine) == 0


def test_a_deeply_nested_batch_file_is_refused_in_words(client, key):
    response = client.post(
        "/api/v1/provider/batch?filename=a.json", data=b"[" * 100_000, headers=key
    )
    assert response.status_code == 422
    assert _error(response).startswith("the JSON nests objects and lists more than 20 levels deep")


def test_a_deeply_nested_activity_body_is_a_4xx(client, key):
    response = client.post(
        "/api/v1/provider/activities",
        data=b"[" * 100_000,
        content_type="application/json",
        headers=key,
    )
    assert response.status_code == 400
    assert _error(response).startswith("the JSON nests objects and lists more than 20 levels deep")


def test_a_batch_of_many_bad_rows_answers_briefly(client, engine, key, monkeypatch):
    monkeypatch.setattr(batch, "MAX_REPORTED_PROBLEMS", 5)
    rows = "".join(f"ID-{i},T,Course,soon,later\r\n" for i in range(20))
    data = f"Your activity id,Title,Format,Start date,End date\r\n{rows}".encode()
    response = client.post(
        "/api/v1/provider/batch",
        data={"file": (io.BytesIO(data), "a.csv")},
        headers=key,
    )
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["error_count"] == 40 and len(answer["errors"]) == 6
    assert answer["errors"][-1]["message"].startswith("and 35 more problems (not listed)")
    assert saved(engine) == 0


# --- the counts ------------------------------------------------------------------------------


def test_every_property_ran_its_cases():
    ran = {name: CASES[name] for name in EXAMPLES if name in CASES}
    if not ran:
        pytest.skip("no property test ran in this session")
    for name, count in ran.items():
        print(f"{name}: {count} cases (max_examples {EXAMPLES[name]})")
        assert count >= 0.9 * EXAMPLES[name], (name, count)
