"""The benchmark's floors answer what the product answers (no timing here: see bench/ratios.py).

A ratio against a floor only means something if the floor does the same work: the bitmap
floor must give the embedded engine's totals and facet counts, and the CSV floor must write
every row the file holds.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from bench import csv_floor, dashboard, import_csv
from bench.floor import BitmapFloor, result_counts
from bench.search import QUERIES, TODAY, as_args
from directory.config import Config
from directory.demo import generate_into
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.registry.standing import Query
from directory.search import parse_request
from directory.web import create_app
from indexer.embedded import EmbeddedEngine
from indexer.sync import full_reindex

# Beyond the benchmark's mix: bounds, a claim window over every board, a quoted phrase, a
# selected value nothing has (count 0), several facets selected at once, the other sorts.
MORE_QUERIES: list[dict[str, str | list[str]]] = [
    {"credits_min": "2", "credits_max": "10", "sort": "newest"},
    {"claim_within": "90"},
    {"q": '"heart failure" outcomes'},
    {"state": ["ZZ", "CA"], "board": "ABIM", "delivery": ["online", "both"]},
    {"q": "pain", "format": "Course", "fee": "paid", "sort": "soonest"},
    {"when": "upcoming", "board": "ABA", "sort": "points"},
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    url = f"sqlite:///{tmp / 'registry.sqlite3'}"
    upgrade(url)
    generate_into(make_engine(url), count=1500, seed=2026, today=TODAY)
    engine = EmbeddedEngine(tmp / "search.sqlite3")
    full_reindex(make_sessionmaker(make_engine(url)), engine, "bench-test", TODAY)
    ids = sorted(engine.ids())
    held = engine.documents(ids)
    floor = BitmapFloor(tmp / "floor.sqlite3")
    floor.load(held[i] for i in ids)
    yield engine, floor
    floor.close()


@pytest.mark.parametrize("query", QUERIES + MORE_QUERIES, ids=str)
def test_bitmap_floor_counts_what_the_engine_counts(indexed, query):
    engine, floor = indexed
    request = parse_request(as_args(query))
    counts, page, hits = floor.search(request, TODAY)
    expected = engine.search(request, TODAY)
    assert counts == result_counts(expected)
    assert [h["id"] for h in hits] == page
    assert len(page) == len(expected.hits)
    if not request.text:  # without text both order by the same keys, ties by id
        assert page == [h["id"] for h in expected.hits]


@pytest.mark.parametrize("floor", ["load", "load_with_reader"])
def test_csv_floor_writes_every_row(tmp_path, monkeypatch, floor):
    monkeypatch.setattr(import_csv, "TODAY", date(2026, 11, 22))
    path = tmp_path / "activities.csv"
    rows = import_csv.make_csv(path, 200)
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    upgrade(url)
    with sqlite3.connect(tmp_path / "registry.sqlite3") as db:
        db.execute(
            "INSERT INTO providers (id, name, accreditation_status, created_at, updated_at)"
            " VALUES (1, 'Benchmark Provider', 'Accreditation', '2026-01-01', '2026-01-01')"
        )
    assert getattr(csv_floor, floor)(str(path), url) == rows
    with sqlite3.connect(tmp_path / "registry.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM activities").fetchone()[0] == rows
        assert db.execute("SELECT count(*) FROM moc_registrations").fetchone()[0] > 0


# --- bench/dashboard.py ------------------------------------------------------------------------

DASHBOARD_COUNT = 600
DASHBOARD_OWN = 200


@pytest.fixture(scope="module")
def dashboard_registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{tmp / 'registry.sqlite3'}"
    built = dashboard.build(url, DASHBOARD_COUNT, DASHBOARD_OWN)
    return url, built, tmp


def test_dashboard_registry_gives_one_provider_its_activities_and_checks_them_all(
    dashboard_registry,
):
    url, built, _ = dashboard_registry
    assert built.refresh_checked == DASHBOARD_COUNT
    assert built.moved > 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        own = db.execute(
            "SELECT count(*), count(DISTINCT provider_activity_id) FROM activities"
            " WHERE provider_id = ?",
            (built.provider_id,),
        ).fetchone()
        checked = db.execute(
            "SELECT count(*) FROM listing_checks WHERE provider_id = ?", (built.provider_id,)
        ).fetchone()[0]
    assert own == (DASHBOARD_OWN, DASHBOARD_OWN)
    assert checked == DASHBOARD_OWN


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_dashboard_export_floor_writes_the_exports_rows(dashboard_registry, fmt):
    url, built, tmp = dashboard_registry
    app = create_app(Config(database_url=url, data_dir=tmp / "web", secret_key="test"))
    sessions = make_sessionmaker(make_engine(url))
    key = dashboard.issue_key(sessions, built.provider_id)
    client = app.test_client()
    form = client.get("/providers/sign-in").get_data(as_text=True)
    token = dashboard.csrf_token(form)
    assert (
        client.post("/providers/sign-in", data={"key": key, "csrf_token": token}).status_code == 303
    )
    answer = client.get(f"/providers/{built.provider_id}/activities.{fmt}?listed=no")
    assert answer.status_code == 200
    product = dashboard.table(answer.data, fmt)
    with app.app_context():
        from directory.web.context import today

        day = today()
    ids = dashboard.matching_ids(sessions, built.provider_id, Query(listed=False), day)
    floor = dashboard.table(dashboard.layout_writer(sessions, ids, fmt == "xlsx")(), fmt)
    assert len(ids) > 0
    assert len(floor) == len(ids) + 1  # the header, then one row an activity
    assert dashboard.same_layout_cells(product, floor)
    app.extensions["directory_engine"].dispose()
