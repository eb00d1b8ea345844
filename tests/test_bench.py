"""The benchmark's floors answer what the product answers (no timing here: see bench/ratios.py).

A ratio against a floor only means something if the floor does the same work: the bitmap
floor must give the embedded engine's totals and facet counts, and the CSV floor must write
every row the file holds.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from bench import csv_floor, import_csv
from bench.floor import BitmapFloor, result_counts
from bench.search import QUERIES, TODAY, as_args
from directory.demo import generate_into
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.search import parse_request
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
