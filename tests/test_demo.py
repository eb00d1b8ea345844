"""The demo generator: deterministic, valid by the registry's own rules, and realistically mixed."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from directory.demo import FIRST_ACTIVITY_ID, generate, generate_into, provider_activity_id
from directory.registry import rules
from directory.registry.models import Activity
from tests.factories import TODAY


def fingerprint(count: int, seed: int, today: date) -> str:
    digest = hashlib.sha256()
    for table, rows in generate(count, seed, today):
        digest.update(table.encode())
        digest.update(json.dumps(rows, default=str, sort_keys=True).encode())
    return digest.hexdigest()


def test_same_seed_same_data_and_another_seed_other_data():
    assert fingerprint(400, 7, TODAY) == fingerprint(400, 7, TODAY)
    assert fingerprint(400, 7, TODAY) != fingerprint(400, 8, TODAY)


def load(engine, count=1500, seed=11):
    generate_into(engine, count=count, seed=seed, today=TODAY)
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Activity).options(
                    selectinload(Activity.moc),
                    selectinload(Activity.rems),
                    selectinload(Activity.occurrences),
                    selectinload(Activity.provider),
                )
            )
        )


def test_generated_activities_break_no_rule_and_cover_the_hard_cases(engine):
    activities = load(engine)
    assert len(activities) == 1500
    for a in activities:
        assert rules.errors(rules.validate_activity(a)) == [], (a.id, rules.validate_activity(a))

    listed = [a for a in activities if rules.is_listed(a, TODAY)]
    assert 0.35 < len(listed) / len(activities) < 0.85
    reasons = Counter(
        r.split(" ")[1] if r.startswith("its") else r[:20]
        for a in activities
        for r in rules.why_not_listed(a, TODAY)
    )
    # Every kind of not-listed reason occurs: drafts, ended, hidden, provider not in good standing.
    assert reasons["status"] > 0
    assert any(k.startswith("it ended on") for k in reasons)
    assert any(k.startswith("the provider chose") for k in reasons)
    assert any(k.startswith("the provider's accre") for k in reasons)

    statuses = [rules.board_status(r, a, TODAY) for a in activities for r in a.moc]
    assert {s.board for s in statuses} == {
        "ABA",
        "ABIM",
        "ABOHNS",
        "ABOS",
        "ABPath",
        "ABP",
        "ABS",
        "ABTS",
    }
    assert any(s.board == "ABA" and "content areas" in s.missing for s in statuses)
    assert any(s.complete and not s.counted for s in statuses)  # claim deadline passed
    assert sum(s.counted for s in statuses) > len(statuses) / 3

    formats = Counter(a.format for a in activities)
    assert formats["Course"] > formats["Enduring Material"] > formats["Journal-based CME"] > 0
    assert any(a.fee_cents == 0 for a in listed) and any(a.fee_cents for a in listed)
    assert any(len(a.occurrences) > 1 for a in activities)
    assert any(a.rems for a in activities)
    assert any("ABPMR" in rules.counted_boards(a, TODAY) for a in listed)


def test_titles_and_objectives_come_from_clinical_topics(engine):
    activities = load(engine, count=300, seed=3)
    titles = {a.title for a in activities}
    assert len(titles) > 200  # varied, not one template repeated
    assert all(a.objectives and a.title for a in activities)


def test_the_load_is_all_or_nothing(engine):
    generate_into(engine, count=50, seed=1, today=TODAY)
    with pytest.raises(IntegrityError):
        generate_into(engine, count=50, seed=1, today=TODAY)  # same ids: the second load must fail
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Activity)) == 50


def test_no_two_of_a_million_activities_share_a_providers_id():
    # The registry's key is (provider, provider's activity id), and one provider's activities
    # of one year differ only in the number: the number alone must never repeat. (A number
    # taken modulo 100,000 did, at the 100,001st activity.)
    numbers = {
        provider_activity_id("Lakeshore University", 2026, FIRST_ACTIVITY_ID + i)
        for i in range(1_000_000)
    }
    assert len(numbers) == 1_000_000


def test_the_first_hundred_thousand_ids_are_the_ones_a_seed_always_gave():
    def key(place: int) -> str:
        return provider_activity_id("Lakeshore University", 2026, FIRST_ACTIVITY_ID + place - 1)

    assert key(1) == "LAKESHORE-UN-2026-00001"
    assert key(99_999) == "LAKESHORE-UN-2026-99999"
    assert key(100_000) == "LAKESHORE-UN-2026-00000"
    assert key(100_001) == "LAKESHORE-UN-2026-100001"
    assert key(1_000_000) == "LAKESHORE-UN-2026-1000000"


def test_generated_activities_are_numbered_by_the_key_function():
    providers: dict[int, str] = {}
    activities = []
    for table, rows in generate(60, 5, TODAY):
        if table == "providers":
            providers = {p["id"]: p["name"] for p in rows}
        elif table == "activities":
            activities += rows
    assert len(activities) == 60
    for a in activities:
        expected = provider_activity_id(providers[a["provider_id"]], a["start_date"].year, a["id"])
        assert a["provider_activity_id"] == expected
