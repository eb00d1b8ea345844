"""What the one rendering function puts in a document for state mandates and distance search."""

from __future__ import annotations

from datetime import timedelta

from directory.registry import places
from directory.registry.reference import reference
from indexer.document import to_document
from tests import factories as f
from tests.factories import TODAY


def test_a_document_carries_its_tags_and_the_mandates_they_match():
    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only)
    topic = rule.topics[0]
    plain = to_document(f.activity(topics=[topic, "not-a-tag"]), TODAY)
    assert plain is not None
    assert plain["topic"] == [topic]  # a tag that is none counts toward nothing
    assert plain["mandate"] == ref.matched_mandates([topic], [])
    assert rule.id not in plain["mandate"]
    approved = to_document(
        f.activity(topics=[topic], approvals=[{"body": rule.approver, "id": "HT-1"}]), TODAY
    )
    assert approved is not None
    assert rule.id in approved["mandate"]
    assert approved["approvals"] == [{"body": rule.approver, "id": "HT-1"}]


def test_every_in_person_place_is_located_once_and_the_providers_coordinates_win():
    day = TODAY + timedelta(days=30)
    sessions = [
        f.occurrence(day, day, city="Denver", state="CO"),
        f.occurrence(day, day, city="Toronto", state="ON", country="CA"),
        f.occurrence(day, day, city="Denver", state="CO"),
        f.occurrence(day, day, city="Nowheresville", state="NE"),
        f.occurrence(day, day, city="Somewhere", state="NE", latitude=41.5, longitude=-99.5),
    ]
    doc = to_document(f.activity(city=None, state=None, country=None, occurrences=sessions), TODAY)
    assert doc is not None
    denver = places.locate("Denver", "CO", "US")
    toronto = places.locate("Toronto", "ON", "CA")
    assert denver and toronto
    assert doc["locations"] == [
        {"lat": denver.lat, "lon": denver.lon},
        {"lat": toronto.lat, "lon": toronto.lon},
        {"lat": 41.5, "lon": -99.5},
    ]
    by_city = {o["city"]: (o["lat"], o["lon"]) for o in doc["occurrences"]}
    assert by_city["Nowheresville"] == (None, None)
    assert by_city["Somewhere"] == (41.5, -99.5)


def test_an_online_activity_has_no_location():
    doc = to_document(f.activity(delivery="online"), TODAY)
    assert doc is not None and doc["locations"] == []
    own = to_document(f.activity(latitude=40.0, longitude=-100.0), TODAY)
    assert own is not None and own["locations"] == [{"lat": 40.0, "lon": -100.0}]
