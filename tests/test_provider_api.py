"""The providers' web service: keys scope every endpoint to their own provider."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.registry import api_keys
from directory.registry.models import Activity, ActivityChange, ApiKey
from directory.registry.reference import reference
from tests import factories as f
from tests.conftest import dump_database


@pytest.fixture
def today(app):
    with app.app_context():
        from directory.web.context import today

        return today()


@pytest.fixture
def world(app, engine, today):
    """Providers A and B, one listed activity each, with the same provider activity id."""
    with Session(engine) as session:
        a = f.provider(id=1, name="Provider A")
        b = f.provider(id=2, name="Provider B")
        for provider, title in ((a, "A's heart failure course"), (b, "B's sepsis course")):
            activity = f.activity(
                id=None,
                provider=provider,
                provider_activity_id="SHARED-1",
                title=title,
                start_date=today + timedelta(days=10),
                end_date=today + timedelta(days=11),
                moc=[f.abim(claim_deadline=today + timedelta(days=90))],
            )
            session.add(activity)
        keys = {
            "A": api_keys.issue(session, a, "test").key,
            "B": api_keys.issue(session, b, "test").key,
        }
        revoked = api_keys.issue(session, a, "old")
        revoked.record.revoked_at = revoked.record.created_at
        keys["revoked"] = revoked.key
        session.commit()
    return keys


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def body(**overrides):
    payload = {
        "provider_activity_id": "NEW-1",
        "title": "Update in Atrial Fibrillation",
        "format": "Enduring Material",
        "status": "Active",
        "start_date": "2026-11-01",
        "end_date": "2027-10-31",
        "description": "Anticoagulation choices after the latest trials.",
        "objectives": ["Select anticoagulation by stroke and bleeding risk"],
        "delivery": "online",
        "cme_credits": 2,
        "providership": "direct",
        "show_in_directory": True,
        "fee": 0,
        "registration": "open to all",
        "url": "https://cme.example.org/afib",
        "moc": [
            {
                "board": "ABIM",
                "practice_areas": ["Cardiovascular Disease"],
                "credit_types": ["Medical Knowledge"],
                "points": 2,
                "claim_deadline": "2027-10-31",
                "attested": True,
            }
        ],
    }
    payload.update(overrides)
    return payload


def b_activity(engine):
    with Session(engine) as session:
        a = session.scalar(select(Activity).where(Activity.provider_id == 2))
        return (a.title, a.show_in_directory, a.updated_at)


ENDPOINTS = [
    ("get", "/api/v1/provider/activities", None),
    ("get", "/api/v1/provider/activities/SHARED-1", None),
    ("post", "/api/v1/provider/activities", body()),
    ("put", "/api/v1/provider/activities/SHARED-1", body(provider_activity_id="SHARED-1")),
    ("post", "/api/v1/provider/activities/SHARED-1/withdraw", None),
    ("delete", "/api/v1/provider/activities/SHARED-1", None),
]


@pytest.mark.parametrize(("method", "url", "payload"), ENDPOINTS)
def test_no_key_a_malformed_key_and_a_revoked_key_are_refused(client, world, method, url, payload):
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        auth("cme_nope_nope"),
        auth(world["revoked"]),
    ):
        response = getattr(client, method)(url, json=payload, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["message"]


def test_a_key_lists_and_reads_only_its_own_provider(client, world):
    listed = client.get("/api/v1/provider/activities", headers=auth(world["A"])).get_json()
    assert [a["title"] for a in listed["activities"]] == ["A's heart failure course"]
    one = client.get("/api/v1/provider/activities/SHARED-1", headers=auth(world["A"])).get_json()
    assert one["title"] == "A's heart failure course"
    assert one["listing"]["listed"] is True and one["listing"]["counts_for"] == ["ABIM"]


def test_a_key_cannot_change_withdraw_or_delete_another_providers_activity(client, engine, world):
    before = b_activity(engine)
    # B's activity is reachable only by B's own id; under A's key the same id is A's activity.
    client.put(
        "/api/v1/provider/activities/SHARED-1",
        json=body(provider_activity_id="SHARED-1", title="Hijacked"),
        headers=auth(world["A"]),
    )
    client.post("/api/v1/provider/activities/SHARED-1/withdraw", headers=auth(world["A"]))
    client.delete("/api/v1/provider/activities/SHARED-1", headers=auth(world["A"]))
    batch = "Your activity id,Title,Format,Start date,End date\nSHARED-1,Hijacked by file,Course,2027-01-01,2027-01-02\n"
    client.post(
        "/api/v1/provider/batch",
        data={"file": (io.BytesIO(batch.encode()), "a.csv")},
        headers=auth(world["A"]),
    )
    assert b_activity(engine) == before
    with Session(engine) as session:
        titles = set(session.scalars(select(Activity.title).where(Activity.provider_id == 2)))
    assert titles == {"B's sepsis course"}


def test_b_withdraws_its_own_and_the_change_names_the_key(client, engine, world):
    response = client.post(
        "/api/v1/provider/activities/SHARED-1/withdraw", headers=auth(world["B"])
    )
    assert response.status_code == 200
    assert response.get_json()["activity"]["listing"]["listed"] is False
    with Session(engine) as session:
        change = session.scalars(
            select(ActivityChange).where(ActivityChange.action == "withdrawn")
        ).one()
        key = session.get(ApiKey, change.api_key_id)
        assert key.provider_id == 2 and change.source == "api" and change.at is not None


def test_create_validates_with_the_registrys_messages(client, world):
    bad = body(moc=[{**body()["moc"][0], "points": 3}])
    response = client.post("/api/v1/provider/activities", json=bad, headers=auth(world["A"]))
    assert response.status_code == 422
    problems = [p["text"] for p in response.get_json()["error"]["problems"]]
    assert any("ABIM points: 3 exceeds the activity's 2 CME credits" in p for p in problems)

    created = client.post("/api/v1/provider/activities", json=body(), headers=auth(world["A"]))
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["result"] == "created" and data["activity"]["listing"]["listed"]
    assert data["search"]["appears"] == "now"
    again = client.post("/api/v1/provider/activities", json=body(), headers=auth(world["A"]))
    assert again.status_code == 409
    same = client.put("/api/v1/provider/activities/NEW-1", json=body(), headers=auth(world["A"]))
    assert same.get_json()["result"] == "unchanged"


def test_status_moves_only_forward_through_the_api(client, world):
    client.post("/api/v1/provider/activities", json=body(), headers=auth(world["A"]))
    back = client.put(
        "/api/v1/provider/activities/NEW-1", json=body(status="Draft"), headers=auth(world["A"])
    )
    assert back.status_code == 422
    assert "cannot go back from Active to Draft" in back.get_json()["error"]["message"]


def test_an_activity_with_completions_is_withdrawn_not_deleted(client, engine, world):
    with Session(engine) as session:
        a = session.scalar(select(Activity).where(Activity.provider_id == 1))
        a.completions_reported = 7
        session.commit()
    response = client.delete("/api/v1/provider/activities/SHARED-1", headers=auth(world["A"]))
    assert response.status_code == 409 and "withdraw" in response.get_json()["error"]["message"]
    b = client.delete("/api/v1/provider/activities/SHARED-1", headers=auth(world["B"]))
    assert b.status_code == 200
    assert (
        client.get("/api/v1/provider/activities/SHARED-1", headers=auth(world["B"])).status_code
        == 404
    )


def test_keys_are_stored_only_as_hashes(world, database_url):
    dump = dump_database(database_url)
    for key in (world["A"], world["B"], world["revoked"]):
        secret = key.split("_", 2)[2]
        assert key not in dump and secret not in dump


def test_api_errors_are_json(client, world):
    response = client.get("/api/v1/provider/nowhere", headers=auth(world["A"]))
    assert response.status_code == 404 and response.get_json()["error"]["message"]
    response = client.post("/api/v1/provider/activities", data="not json", headers=auth(world["A"]))
    assert response.status_code == 415
    response = client.patch("/api/v1/provider/activities", headers=auth(world["A"]))
    assert response.status_code == 405 and response.is_json


def test_an_area_off_the_boards_list_is_saved_with_the_nearest_names(client, world):
    registration = {**body()["moc"][0], "practice_areas": ["Cardiology"]}
    created = client.post(
        "/api/v1/provider/activities", json=body(moc=[registration]), headers=auth(world["A"])
    )
    assert created.status_code == 201, created.get_json()
    [warning] = created.get_json()["warnings"]
    assert warning["severity"] == "incomplete"
    assert warning["field"] == "ABIM practice areas"
    assert warning["nearest"][0] == "Cardiovascular Disease"
    listing = created.get_json()["activity"]["listing"]
    assert listing["counts_for"] == []
    [board] = listing["boards"]
    assert board["state"] == "incomplete" and board["missing"] == ["practice areas"]
    assert "'Cardiology' is not on our list for ABIM" in board["summary"]


def test_a_provider_not_in_good_standing_has_its_writes_refused(
    client, world, engine, database_url
):
    from directory.registry.models import Provider

    with Session(engine) as session:
        session.get(Provider, 1).accreditation_status = "Probation"
        session.commit()
    # Reading is still open (and marks the key as used, a write of its own).
    assert client.get("/api/v1/provider/activities", headers=auth(world["A"])).status_code == 200
    before = dump_database(database_url)
    for method, path, kwargs in [
        ("post", "/api/v1/provider/activities", {"json": body()}),
        ("put", "/api/v1/provider/activities/SHARED-1", {"json": body(provider_activity_id=None)}),
        ("delete", "/api/v1/provider/activities/SHARED-1", {}),
        (
            "post",
            "/api/v1/provider/batch?filename=a.json",
            {"data": b'{"activities": []}', "content_type": "application/json"},
        ),
    ]:
        answer = getattr(client, method)(path, headers=auth(world["A"]), **kwargs)
        assert answer.status_code == 403, (path, answer.get_json())
        message = answer.get_json()["error"]["message"]
        assert "accreditation status is Probation, which is not in good standing" in message
    assert dump_database(database_url) == before
    # Provider B is in good standing: its writes go on.
    ok = client.post("/api/v1/provider/activities", json=body(), headers=auth(world["B"]))
    assert ok.status_code == 201


# --- topic tags, approvals and coordinates ----------------------------------------------------


def approved_rule():
    """A mandate that counts only approved courses, its first topic and its approver."""
    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only)
    return rule, ref.topics[rule.topics[0]], ref.approvers[rule.approver]


def other_topic(topic):
    return next(t for t in reference().topics.values() if t.code != topic.code)


def tagged_body(**overrides):
    rule, topic, approver = approved_rule()
    values = dict(
        # A name in lower case, and another tag's code in capitals.
        topics=[topic.name.lower(), other_topic(topic).code.upper()],
        approvals=[{"body": approver.code.lower(), "id": "HT-2026-0193"}],
        delivery="both",
        city="Houston",
        state="TX",
        country="US",
        latitude=29.7079,
        longitude=-95.4011,
    )
    values.update(overrides)
    return body(**values)


def test_the_web_service_takes_and_returns_topics_approvals_and_coordinates(client, world):
    rule, topic, approver = approved_rule()
    created = client.post(
        "/api/v1/provider/activities", json=tagged_body(), headers=auth(world["A"])
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["warnings"] == []
    read_back = client.get("/api/v1/provider/activities/NEW-1", headers=auth(world["A"]))
    activity = read_back.get_json()
    assert activity == created.get_json()["activity"]
    assert activity["topics"] == [topic.code, other_topic(topic).code]
    assert activity["approvals"] == [{"body": approver.code, "id": "HT-2026-0193"}]
    assert (activity["latitude"], activity["longitude"]) == (29.7079, -95.4011)
    assert rule.id in activity["listing"]["mandates"]
    # What it reads back, sent again, changes nothing.
    sent_back = {k: v for k, v in activity.items() if k not in ("id", "listing", "updated_at")}
    again = client.put(
        "/api/v1/provider/activities/NEW-1", json=sent_back, headers=auth(world["A"])
    )
    assert again.status_code == 200 and again.get_json()["result"] == "unchanged"


def test_an_occurrences_coordinates_go_in_and_come_back(client, world):
    occurrences = [
        {"start_date": "2027-02-01", "end_date": "2027-02-01", "city": "Houston", "state": "TX",
         "country": "US", "latitude": 29.7079, "longitude": -95.4011},
        {"start_date": "2027-03-01", "end_date": "2027-03-01", "city": "Austin", "state": "TX",
         "country": "US"},
    ]  # fmt: skip
    created = client.post(
        "/api/v1/provider/activities",
        json=tagged_body(occurrences=occurrences),
        headers=auth(world["A"]),
    )
    assert created.status_code == 201, created.get_json()
    houston, austin = created.get_json()["activity"]["occurrences"]
    assert (houston["latitude"], houston["longitude"]) == (29.7079, -95.4011)
    assert (austin["latitude"], austin["longitude"]) == (None, None)


def test_an_unknown_tag_is_saved_with_a_warning_naming_the_nearest(client, world):
    _, topic, _ = approved_rule()
    misspelt = topic.name[:-1]
    created = client.post(
        "/api/v1/provider/activities",
        json=tagged_body(topics=[topic.code, misspelt]),
        headers=auth(world["A"]),
    )
    assert created.status_code == 201, created.get_json()
    [warning] = created.get_json()["warnings"]
    assert (warning["field"], warning["severity"]) == ("topics", "warning")
    assert topic.name in warning["nearest"]
    assert created.get_json()["activity"]["topics"] == [topic.code, misspelt]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"latitude": 91}, "latitude/longitude", "latitude is -90 to 90"),
        ({"longitude": None}, "latitude/longitude", "give both latitude and longitude"),
        ({"latitude": "north"}, "latitude", "is not a number of decimal degrees"),
        ({"latitude": [29.7]}, "latitude", "not a list"),
        ({"topics": "ethics | nonsense"}, None, "'nonsense' is not a mandated-topic tag"),
        ({"topics": [{"code": "ethics"}]}, "mandated topics", "item 1: must be text"),
        ({"topics": ["ethics"] * 5000}, "mandated topics", "more than"),
        # Read as text, like any text field, then warned about: no body has that code.
        ({"approvals": [{"body": 7}]}, None, "'7' is not a body"),
        # A CSV cell's shape: read, then warned about (an approval without its id).
        ({"approvals": "TX-TMB"}, None, "needs its approval id"),
        ({"approvals": [[1, 2]]}, "approval 1", "must be an object"),
        (
            {"approvals": [{"body": "TX-TMB", "id": str(n)} for n in range(500)]},
            "approvals",
            "more than",
        ),
    ],
)
def test_odd_values_are_clear_4xx_or_read(client, world, overrides, field, message):
    response = client.post(
        "/api/v1/provider/activities", json=tagged_body(**overrides), headers=auth(world["A"])
    )
    if field is None:  # saved, with a warning
        assert response.status_code == 201, response.get_json()
        warnings = response.get_json()["warnings"]
        assert any(message in w["message"] for w in warnings), warnings
        return
    assert response.status_code == 422, response.get_json()
    problems = response.get_json()["error"]["problems"]
    assert any(p["field"] == field for p in problems), problems
    if message is not None:
        assert any(message in p["message"] for p in problems), problems


def test_the_openapi_document_describes_the_new_fields(client, world):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    given = schemas["ProviderActivityInput"]["properties"]
    assert {"topics", "approvals", "latitude", "longitude", "occurrences"} <= set(given)
    assert given["approvals"]["items"]["required"] == ["body"]
    assert given["latitude"]["maximum"] == 90 and given["longitude"]["minimum"] == -180
    returned = schemas["ProviderActivity"]
    assert {"topics", "approvals", "latitude", "longitude"} <= set(returned["required"])
    assert "mandates" in returned["properties"]["listing"]["required"]
