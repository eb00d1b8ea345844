"""The dashboard's filters and summary through the providers' web service, on SQLite and
PostgreSQL: every filter lists exactly what the rules say, every summary line's `url` lists
as many activities as the line counts, and a key never sees another provider's activities
through any of them.

The expected lists are the rules themselves applied to each activity (Python, one at a time),
not the SQL the list is read with."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from directory.config import Config
from directory.registry import api_keys, rules, standing
from directory.registry.db import make_engine
from directory.registry.models import Activity, utcnow, with_children
from directory.registry.reference import reference
from directory.web.app import create_app
from directory.web.presenters.openapi_provider import DEFAULT_PER_PAGE, MAX_PER_PAGE
from tests import factories as f
from tests.test_provider_api import auth

pytestmark = pytest.mark.both_databases

LIST = "/api/v1/provider/activities"
SUMMARY = "/api/v1/provider/summary"
B_TITLE = "Zebra Sepsis Update"
B_ID = "BRAVO-ONLY-7"


@pytest.fixture
def day(app):
    with app.app_context():
        from directory.web.context import today

        return today()


def _crafted(provider, day: date) -> list[Activity]:
    """One activity for each way not to be listed or counted, dated from the app's today."""
    soon = dict(start_date=day + timedelta(days=10), end_date=day + timedelta(days=11))

    def abim(**kw):
        return f.abim(**{"claim_deadline": day + timedelta(days=120), **kw})

    def aba(**kw):
        return f.aba(**{"claim_deadline": day + timedelta(days=120), **kw})

    def make(pid, **kw):
        values = {**soon, "moc": [abim()], **kw}
        return f.activity(id=None, provider=provider, provider_activity_id=pid, **values)

    return [
        make("OK-1", title="Heart Failure Review"),
        make("DRAFT-2", status="Draft"),
        make("HIDDEN-3", show_in_directory=False),
        make("ENDED-4", start_date=day - timedelta(days=10), end_date=day - timedelta(days=9)),
        make("NODESC-5", description=None, url=None),
        make("BADDATES-6", start_date=day + timedelta(days=40), end_date=day + timedelta(days=30)),
        make("BADFMT-7", format="Podcast Party"),
        make("INCOMPLETE-8", moc=[abim(practice_areas=[]), aba(content_areas=[])]),
        make("LAPSED-9", moc=[abim(claim_deadline=day - timedelta(days=1)), aba()]),
        make(
            "Mixed Case 10",
            title="Pulmonary Embolism ABCs",
            status="Draft",
            moc=[abim(), aba(claim_deadline=day + timedelta(days=60))],
        ),
        make("PCT_11%", title="Percent 100% and under_score", format="Enduring Material"),
        make("NOMOC-12", moc=[]),
    ]


@pytest.fixture
def world(app, engine, day):
    """Provider A (crafted activities), B (its own, one with A's id) and C (on probation)."""
    with Session(engine) as session:
        a = f.provider(id=1, name="Provider A")
        b = f.provider(id=2, name="Provider B")
        c = f.provider(id=3, name="Provider C", accreditation_status="Probation")
        session.add_all(_crafted(a, day))
        soon = dict(start_date=day + timedelta(days=10), end_date=day + timedelta(days=11))
        session.add_all(
            [
                f.activity(id=None, provider=b, provider_activity_id=B_ID, title=B_TITLE, **soon),
                f.activity(id=None, provider=b, provider_activity_id="OK-1", status="Draft"),
                f.activity(id=None, provider=b, provider_activity_id="B-3", description=None),
                f.activity(id=None, provider=c, provider_activity_id="C-1", **soon),
                f.activity(id=None, provider=c, provider_activity_id="C-2", status="Draft"),
            ]
        )
        keys = {p.name[-1]: api_keys.issue(session, p, "test").key for p in (a, b, c)}
        revoked = api_keys.issue(session, a, "old")
        revoked.record.revoked_at = revoked.record.created_at
        keys["revoked"] = revoked.key
        session.commit()
    return keys


# --- the oracle: the rules themselves -------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    id: int
    pid: str
    title: str
    status: str
    format: str
    reasons: frozenset[str]
    fields: frozenset[str]
    # (board, state, what it lacks) per registration
    boards: tuple[tuple[str, str, frozenset[str]], ...]


def _facts(engine, provider_id: int, day: date) -> list[Facts]:
    with Session(engine) as session:
        out = []
        for a in session.scalars(
            select(Activity).where(Activity.provider_id == provider_id).options(*with_children())
        ):
            reasons = frozenset(r.code for r in rules.not_listed_reasons(a, day))
            missing, invalid = rules.listing_gaps(a)
            boards = []
            for reg in a.moc:
                status = rules.board_status(reg, a, day)
                if not status.complete:
                    state = "incomplete"
                elif reg.claim_deadline is not None and reg.claim_deadline < day:
                    state = "past_deadline"
                else:
                    state = "unlisted" if reasons else "counted"
                boards.append((reg.board, state, frozenset(status.missing)))
            out.append(
                Facts(
                    a.id,
                    a.provider_activity_id,
                    a.title,
                    a.status,
                    a.format,
                    reasons,
                    frozenset(missing) | {p.field for p in invalid},
                    tuple(boards),
                )
            )
        return out


def _matches(params: dict[str, list[str]], a: Facts) -> bool:
    one = {k: v[0] for k, v in params.items()}
    if "listed" in one and (one["listed"] == "yes") != (not a.reasons):
        return False
    if "reason" in params and not a.reasons & set(params["reason"]):
        return False
    if "field" in one and one["field"] not in a.fields:
        return False
    if "status" in params and a.status not in params["status"]:
        return False
    if "format" in params and a.format not in params["format"]:
        return False
    if {"board", "board_state", "board_field"} & set(one) and not any(
        one.get("board", board) == board
        and one.get("board_state", state) == state
        and ("board_field" not in one or one["board_field"] in lacking)
        for board, state, lacking in a.boards
    ):
        return False
    if "q" in one:
        q = one["q"]
        if not (
            q.lower() in a.title.lower()
            or q.lower() in a.pid.lower()
            or (q.isdigit() and int(q) == a.id)
        ):
            return False
    return True


def _cases(facts: list[Facts], other: list[Facts]) -> list[dict[str, list[str]]]:
    """Every filter with every value it takes among these activities, and combinations."""
    ref = reference()
    cases: list[dict[str, list[str]]] = [{}, {"listed": ["yes"]}, {"listed": ["no"]}]
    cases += [{"reason": [code]} for code in rules.REASON_CODES]
    cases.append({"reason": ["ended", "hidden"]})
    cases += [{"field": [x]} for x in sorted({x for a in facts for x in a.fields})]
    cases += [{"status": [s]} for s in ref.statuses]
    cases.append({"status": ["Draft", "Active"]})
    cases += [{"format": [x]} for x in sorted({a.format for a in facts}) if x in ref.formats]
    boards = sorted({b for a in facts for b, _, _ in a.boards})
    for board in boards:
        cases.append({"board": [board]})
        cases += [{"board": [board], "board_state": [s]} for s in standing.BOARD_STATES]
    cases += [{"board_state": [s]} for s in standing.BOARD_STATES]
    lacking = sorted({x for a in facts for _, _, items in a.boards for x in items})
    cases += [{"board_field": [x]} for x in lacking]
    cases += [{"board": [b], "board_field": [x]} for b in boards for x in lacking]
    texts = ["pulmonary", "ok-1", "100%", "_", "%", "Mixed", "zzz-nothing"]
    texts += [str(facts[0].id)] if facts else []
    # Another provider's title, own id and registry id find nothing of this provider's.
    texts += [t for b in other for t in (b.title, b.pid, str(b.id))]
    cases += [{"q": [t]} for t in texts]
    cases += [
        {"listed": ["no"], "board": ["ABIM"], "q": ["pulmonary"]},
        {"status": ["Draft"], "format": ["Course"]},
        {"listed": ["no"], "board_state": ["unlisted"], "reason": ["status"]},
    ]
    return cases


def _ids(client, key, params) -> tuple[set[int], dict]:
    query = urlencode([(k, v) for k, values in params.items() for v in values])
    response = client.get(f"{LIST}?{query}&per_page={MAX_PER_PAGE}", headers=auth(key))
    assert response.status_code == 200, (params, response.get_json())
    body = response.get_json()
    assert body["total"] == len(body["activities"]), params  # one page holds them all here
    return {a["id"] for a in body["activities"]}, body


def test_every_filter_lists_exactly_what_the_rules_say(client, engine, world, day):
    everyone = {p: _facts(engine, i, day) for p, i in (("A", 1), ("B", 2), ("C", 3))}
    seen_nonempty = 0
    for name in ("A", "C"):
        own = everyone[name]
        others = [a for p, facts in everyone.items() if p != name for a in facts]
        other_ids = {a.id for a in others}
        for params in _cases(own, [a for a in others if a.pid == B_ID]):
            expected = {a.id for a in own if _matches(params, a)}
            got, body = _ids(client, world[name], params)
            assert got == expected, (name, params)
            assert not got & other_ids, (name, params)
            seen_nonempty += bool(expected)
            echo = body["filters"]
            for key, values in params.items():
                shown = echo[key]
                assert (shown if isinstance(shown, list) else [shown]) == values, (key, echo)
    # The cases are not vacuous: most of them list something.
    assert seen_nonempty > 40


def test_the_crafted_activities_fall_into_every_reason_and_board_state(engine, world, day):
    """So that the filter test above meets every reason and state, not only a few."""
    facts = _facts(engine, 1, day) + _facts(engine, 3, day)
    assert {code for a in facts for code in a.reasons} == set(rules.REASON_CODES)
    assert {s for a in facts for _, s, _ in a.boards} == set(standing.BOARD_STATES)


def _lines(summary: dict):
    """Every line of the summary, with the lines under it."""

    def walk(line):
        yield line
        for part in line.get("parts", []):
            yield from walk(part)

    yield from walk(summary["listed"])
    yield from walk(summary["not_listed"])
    for board in summary["boards"]:
        for state in board["states"]:
            yield from walk(state)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_every_summary_line_counts_what_its_url_lists(client, engine, world, day, name):
    summary = client.get(SUMMARY, headers=auth(world[name]))
    assert summary.status_code == 200, summary.get_json()
    body = summary.get_json()
    own = _facts(engine, {"A": 1, "B": 2, "C": 3}[name], day)
    assert body["total"] == len(own) and body["unchecked"] == 0
    assert body["listed"]["count"] == sum(not a.reasons for a in own)
    assert body["provider_not_in_good_standing"] == (name == "C")
    own_ids = {a.id for a in own}
    lines = list(_lines(body))
    assert len(lines) > 3
    for line in lines:
        assert line["url"].startswith(LIST), line
        listed = client.get(line["url"], headers=auth(world[name]))
        assert listed.status_code == 200, (line, listed.get_json())
        page = listed.get_json()
        assert page["total"] == line["count"], line
        assert {a["id"] for a in page["activities"]} <= own_ids, line
    if name == "A":
        # Every reason's line and every board's states, each with what it lacks.
        reasons = {p["url"] for p in body["not_listed"]["parts"]}
        assert len(reasons) == len({c for a in own for c in a.reasons})
        boards = {b["board"]: {s["state"] for s in b["states"]} for b in body["boards"]}
        assert boards["ABIM"] == {"counted", "incomplete", "past_deadline", "unlisted"}
        incomplete = next(s for s in _lines(body) if s.get("state") == "incomplete")
        assert incomplete["parts"] and "board_field=" in incomplete["parts"][0]["url"]


def test_a_key_never_finds_another_providers_activity_by_its_text(client, engine, world, day):
    [b] = [a for a in _facts(engine, 2, day) if a.pid == B_ID]
    for q in (b.title, b.pid, str(b.id), "zebra"):
        found, _ = _ids(client, world["A"], {"q": [q]})
        assert found == set(), q
        found, _ = _ids(client, world["B"], {"q": [q]})
        assert b.id in found, q
    # The id both have is each one's own.
    a_ok, _ = _ids(client, world["A"], {"q": ["OK-1"]})
    b_ok, _ = _ids(client, world["B"], {"q": ["OK-1"]})
    assert a_ok and b_ok and not a_ok & b_ok
    a_summary = client.get(SUMMARY, headers=auth(world["A"])).get_json()
    assert a_summary["total"] == len(_facts(engine, 1, day))


def test_a_listed_activity_says_the_same_in_the_list_and_on_its_own(client, engine, world, day):
    page = client.get(f"{LIST}?per_page={MAX_PER_PAGE}", headers=auth(world["A"])).get_json()
    facts = {a.id: a for a in _facts(engine, 1, day)}
    assert {a["id"] for a in page["activities"]} == set(facts)
    for activity in page["activities"]:
        listing = activity["listing"]
        own = facts[activity["id"]]
        assert {r["code"] for r in listing["reasons"]} == own.reasons
        assert listing["listed"] == (not own.reasons)
        assert listing["why_not_listed"] == [r["text"] for r in listing["reasons"]]
        assert [(b["board"], b["state"]) for b in listing["boards"]] == [
            (board, state) for board, state, _ in own.boards
        ]
        for line in listing["boards"]:
            assert line["state_label"] == standing.BOARD_STATES[line["state"]]
        if not own.reasons:
            assert set(listing["counts_for"]) >= {
                board for board, state, _ in own.boards if state == "counted"
            }
        else:
            assert listing["counts_for"] == []
        alone = client.get(f"{LIST}/{quote(own.pid, safe='')}", headers=auth(world["A"]))
        assert alone.status_code == 200, own.pid
        assert alone.get_json()["listing"] == listing


def test_pages_reach_every_activity_once_and_past_the_end_is_empty(client, engine, world, day):
    count = len(_facts(engine, 1, day))
    for sort in standing.SORT_NAMES:
        seen: list[int] = []
        url: str | None = f"{LIST}?sort={sort}&per_page=5"
        while url:
            body = client.get(url, headers=auth(world["A"])).get_json()
            assert body["sort"] == sort and body["per_page"] == 5
            seen += [a["id"] for a in body["activities"]]
            url = body["links"]["next"]
        assert len(seen) == len(set(seen)) == count, sort
    past = client.get(f"{LIST}?per_page=5&page=99", headers=auth(world["A"]))
    assert past.status_code == 200
    body = past.get_json()
    assert body["activities"] == [] and body["total"] == count
    assert body["pages"] == -(-count // 5) and body["links"]["next"] is None
    default = client.get(LIST, headers=auth(world["A"])).get_json()
    assert default["per_page"] == DEFAULT_PER_PAGE and default["page"] == 1
    # Any page size, the dashboard's own default too, carries through the links.
    first = client.get(f"{LIST}?per_page=4&board=abim", headers=auth(world["A"])).get_json()
    second = client.get(first["links"]["next"], headers=auth(world["A"])).get_json()
    assert second["page"] == 2 and second["per_page"] == 4
    assert second["filters"]["board"] == "ABIM"
    assert client.get(second["links"]["prev"], headers=auth(world["A"])).get_json() == first
    dashboards = f"{LIST}?per_page={standing.DEFAULT_PER_PAGE}"
    own = client.get(dashboards, headers=auth(world["A"])).get_json()
    again = client.get(own["links"]["self"], headers=auth(world["A"])).get_json()
    assert again["per_page"] == own["per_page"] == standing.DEFAULT_PER_PAGE


BAD = [
    ("listed=maybe", {"listed"}),
    ("reason=nope", {"reason"}),
    ("status=Bogus", {"status"}),
    ("format=Podcast+Party", {"format"}),
    ("board=ZZZ", {"board"}),
    ("board_state=lost", {"board_state"}),
    ("sort=random", {"sort"}),
    ("field=a&field=b", {"field"}),
    ("q=" + "x" * 201, {"q"}),
    ("board_field=%01", {"board_field"}),
    ("page=0", {"page"}),
    ("page=abc", {"page"}),
    ("page=100001", {"page"}),
    (f"per_page={MAX_PER_PAGE + 1}", {"per_page"}),
    ("per_page=-3", {"per_page"}),
    ("listed=maybe&reason=nope&sort=x&per_page=0", {"listed", "reason", "sort", "per_page"}),
]


@pytest.mark.parametrize(("query", "names"), BAD)
def test_a_parameter_that_cannot_be_read_is_a_400_naming_it(client, world, query, names):
    response = client.get(f"{LIST}?{query}", headers=auth(world["A"]))
    assert response.status_code == 400
    problem = response.get_json()["error"]
    assert set(problem["problems"]) == names
    for name in names:
        assert f"{name}: " in problem["message"]


@pytest.mark.parametrize("url", [SUMMARY, f"{LIST}?listed=no", f"{LIST}?q=OK-1"])
def test_no_key_or_a_revoked_key_is_refused(client, world, url):
    for headers in ({}, {"Authorization": "Basic abc"}, auth(world["revoked"])):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["message"]


def test_a_write_is_in_the_filters_and_counts_at_once(client, world):
    before = client.get(SUMMARY, headers=auth(world["A"])).get_json()
    changed = client.get(f"{LIST}/OK-1", headers=auth(world["A"])).get_json()
    payload = {k: v for k, v in changed.items() if k not in ("id", "listing", "updated_at")}
    payload["show_in_directory"] = False
    put = client.put(f"{LIST}/OK-1", json=payload, headers=auth(world["A"]))
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["activity"]["listing"]["listed"] is False
    after = client.get(SUMMARY, headers=auth(world["A"])).get_json()
    assert after["listed"]["count"] == before["listed"]["count"] - 1
    found, _ = _ids(client, world["A"], {"reason": ["hidden"], "q": ["OK-1"]})
    assert found == {changed["id"]}


# --- while a batch import holds the registry's locks -------------------------------------------


@pytest.fixture
def busy_client(database_url, tmp_path, world):
    config = Config(
        database_url=database_url, data_dir=tmp_path, secret_key="busy", database_busy_timeout=0.2
    )
    app = create_app(config)
    yield app.test_client()
    app.extensions["directory_engine"].dispose()


@contextmanager
def write_lock(database_url, database_kind):
    """Another process's import, holding SQLite's one write lock or PostgreSQL's row locks."""
    if database_kind == "sqlite":
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE providers SET name = name")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("UPDATE activities SET title = title"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


def test_filters_and_counts_read_under_an_imports_lock(
    busy_client, engine, world, day, database_url, database_kind
):
    """Checks made before the lock answer as ever. An activity changed since its check is
    checked again where the lock allows (PostgreSQL's row locks do), and where it does not
    (SQLite's one writer) the summary says it is unchecked: never a 500, nor a wait."""
    for name in ("A", "B"):
        assert busy_client.get(SUMMARY, headers=auth(world[name])).get_json()["unchecked"] == 0
    with Session(engine) as session:
        changed = session.scalar(select(Activity).where(Activity.provider_activity_id == "B-3"))
        changed.title = "Changed outside the web service"
        changed.updated_at = utcnow()
        session.commit()
    expected = {a.id for a in _facts(engine, 1, day) if "missing" in a.reasons}
    with write_lock(database_url, database_kind):
        found, _ = _ids(busy_client, world["A"], {"reason": ["missing"]})
        assert found == expected and expected
        summary = busy_client.get(SUMMARY, headers=auth(world["B"]))
        assert summary.status_code == 200, summary.get_json()
        assert summary.get_json()["unchecked"] == (1 if database_kind == "sqlite" else 0)
        assert summary.get_json()["total"] == 3
    # Once the import is saved, the next look checks it.
    assert busy_client.get(SUMMARY, headers=auth(world["B"])).get_json()["unchecked"] == 0


def test_the_openapi_document_declares_the_filters_as_the_list_reads_them(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"][LIST]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {*standing.FILTER_PARAMS, "sort", "page", "per_page"}
    assert params["reason"]["schema"]["items"]["enum"] == list(rules.REASON_CODES)
    assert params["board_state"]["schema"]["enum"] == list(standing.BOARD_STATES)
    assert params["sort"]["schema"]["enum"] == list(standing.SORT_NAMES)
    assert params["listed"]["schema"]["enum"] == list(standing.LISTED)
    assert params["status"]["schema"]["items"]["enum"] == list(reference().statuses)
    assert set(params["board"]["schema"]["examples"]) == set(reference().boards)
    assert params["per_page"]["schema"]["maximum"] == MAX_PER_PAGE
    assert "problems" in operation["description"] and "400" in operation["responses"]
    schemas = doc["components"]["schemas"]
    listing = schemas["ProviderActivity"]["properties"]["listing"]
    assert {"listed", "reasons", "boards"} <= set(listing["required"])
    assert listing["properties"]["boards"]["items"]["properties"]["state"]["enum"] == list(
        standing.BOARD_STATES
    )
    assert doc["paths"][SUMMARY]["get"]["security"] == [{"providerKey": []}]
    assert {"unchecked", "boards", "not_listed"} <= set(schemas["ProviderSummary"]["required"])
