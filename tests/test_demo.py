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

from directory import demo
from directory.demo import (
    FIRST_ACTIVITY_ID,
    generate,
    generate_into,
    provider_activity_id,
    topics,
)
from directory.registry import places, rules
from directory.registry.db import make_engine, upgrade
from directory.registry.models import Activity
from directory.registry.reference import FEDERAL, reference
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


# --- topic tags, approvals and places --------------------------------------------------------

# What `directory setup` (and so `make run`) loads.
SETUP_COUNT, SETUP_SEED = 3000, 2026


@pytest.fixture(scope="module")
def setup_demo(tmp_path_factory) -> list[Activity]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'registry.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        return load(engine, count=SETUP_COUNT, seed=SETUP_SEED)
    finally:
        engine.dispose()


def matched(activity: Activity) -> set[str]:
    bodies = [a["body"] for a in activity.approvals]
    return set(reference().matched_mandates(activity.topics, bodies))


def test_topic_tags_match_most_states_mandates_and_the_federal_one_often(setup_demo):
    ref = reference()
    tagged = [a for a in setup_demo if a.topics]
    # Tagged where the subject warrants it: a small share, never every activity.
    assert 0.03 <= len(tagged) / len(setup_demo) <= 0.10
    assert any(len(a.topics) >= 2 for a in tagged)
    # Every tag and approval is one the registry counts (no warnings for any of them).
    assert [p for a in setup_demo for p in rules.topic_problems(a, ref)] == []

    listed = [a for a in setup_demo if rules.is_listed(a, TODAY)]
    ids = [matched(a) for a in listed]
    states = {m.jurisdiction for m in ref.mandates.values()} - {FEDERAL}
    covered = {m.jurisdiction for m in ref.mandates.values() for found in ids if m.id in found} - {
        FEDERAL
    }
    assert len(covered) >= 0.75 * len(states), f"no listed activity for {sorted(states - covered)}"
    # Some of a state's activities are its own named courses ("... for Texas Physicians").
    for state in ("Pennsylvania", "Florida", "Washington"):
        assert any(state in a.title and a.topics for a in listed), state
    federal = [m for m in ref.mandates.values() if m.jurisdiction == FEDERAL]
    assert federal
    for rule in federal:
        count = sum(rule.id in found for found in ids)
        per_state_rule = Counter(
            m for found in ids for m in found if ref.mandates[m].jurisdiction != FEDERAL
        )
        # The rule every DEA-registered physician has: more activities than a typical state rule.
        assert count >= 15 and count > sorted(per_state_rule.values())[len(per_state_rule) // 2]


def test_approvals_are_by_defined_bodies_and_some_tagged_courses_lack_them(setup_demo):
    ref = reference()
    approvals = [x for a in setup_demo for x in a.approvals]
    assert approvals
    assert {x["body"] for x in approvals} <= set(ref.approvers)
    assert all(x["id"] and x["id"].strip() for x in approvals)
    assert len({x["id"] for x in approvals}) > len(approvals) / 2  # ids differ, not one repeated

    listed = [a for a in setup_demo if rules.is_listed(a, TODAY)]
    approved_only = [m for m in ref.mandates.values() if m.approved_only]
    counted = {m.id for m in approved_only for a in listed if m.id in matched(a)}
    tagged_only = {
        m.id
        for m in approved_only
        for a in listed
        if set(a.topics) & set(m.topics) and m.id not in matched(a)
    }
    # Both cases of a rule that counts only approved courses: an approved course it counts,
    # and a course tagged with its topic that it does not (no approval by its body).
    assert counted and tagged_only
    assert len(counted | tagged_only) >= len(approved_only) / 2


def test_every_demo_place_is_one_the_gazetteer_locates():
    data = topics()
    where = [*data["venues"], *data["more_venues"], *data["providers"]]
    unknown = [
        p
        for p in where
        if places.locate(p["city"], p.get("state") or None, p.get("country")) is None
    ]
    assert unknown == []
    assert sum(p.get("country") == "CA" and bool(p.get("state")) for p in where) >= 3
    assert sum(bool(p.get("resort")) for p in where) >= 10


def test_the_demo_has_resort_towns_and_courses_given_in_several_cities(setup_demo):
    # No in-person place of the demo goes unlocated (the load's own check, with no warning).
    assert [p for a in setup_demo for p in rules.place_problems(a)] == []

    resorts = {(p["city"], p["state"]) for p in topics()["more_venues"] if p["resort"]}
    held = {(a.city, a.state) for a in setup_demo if a.delivery != "online"}
    held |= {(o.city, o.state) for a in setup_demo for o in a.occurrences}
    assert len(held & resorts) >= 10

    repeated = [a for a in setup_demo if len(a.occurrences) > 1]
    assert any(len({(o.city, o.state) for o in a.occurrences}) >= 3 for a in repeated)
    for a in repeated:
        first = min(a.occurrences, key=lambda o: o.start_date)
        assert (a.city, a.state, a.country) == (first.city, first.state, first.country)


def test_tags_courses_and_resorts_leave_the_rest_of_a_seeds_data_alone(monkeypatch):
    def rows() -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for table, chunk in generate(2000, 7, TODAY):
            out.setdefault(table, []).extend(chunk)
        return out

    with_them = rows()
    monkeypatch.setattr(demo, "MANDATE_COURSE_SHARE", 0.0)
    monkeypatch.setattr(demo, "SUBJECT_TAGGED_SHARE", 0.0)
    monkeypatch.setattr(demo, "RESORT_SHARE", 0.0)
    monkeypatch.setattr(demo, "OCCURRENCE_RESORT_SHARE", 0.0)
    without = rows()
    assert not any(a["topics"] or a["approvals"] for a in without["activities"])
    assert any(a["topics"] for a in with_them["activities"])

    # Everything the first generator draws is the same with or without them: ids, formats,
    # dates, providers, statuses, fees, board registrations, REMS, sessions' dates.
    same = (
        "id", "provider_id", "provider_activity_id", "format", "start_date", "status",
        "delivery", "providership", "joint_provider", "show_in_directory", "fee_cents",
        "registration", "mips", "created_at", "updated_at", "specialties",
    )  # fmt: skip
    for a, b in zip(with_them["activities"], without["activities"], strict=True):
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
    for a, b in zip(with_them["moc_registrations"], without["moc_registrations"], strict=True):
        assert (a["activity_id"], a["board"], a["credit_types"], a["practice_areas"]) == (
            b["activity_id"],
            b["board"],
            b["credit_types"],
            b["practice_areas"],
        )
    assert with_them["rems_registrations"] == without["rems_registrations"]
    assert [(o["activity_id"], o["start_date"]) for o in with_them["occurrences"]] == [
        (o["activity_id"], o["start_date"]) for o in without["occurrences"]
    ]
