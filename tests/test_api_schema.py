"""The API checked against its own OpenAPI document by property-based testing (schemathesis):
generated requests, valid and invalid, must never cause a server error, and every response
must match the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from directory.config import Config
from directory.demo import generate_into
from directory.registry.db import upgrade
from directory.web.app import create_app
from tests.conftest import index_app


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    data = tmp_path_factory.mktemp("schema")
    url = f"sqlite:///{data / 'registry.sqlite3'}"
    upgrade(url)
    app = create_app(Config(database_url=url, data_dir=data, secret_key="test"))
    # Hundreds of generated requests with one key: past the web service's rate limit every
    # answer would be a 429 (documented, and tested in test_web_security.py) and check nothing.
    for limiter in app.extensions["limiter"]:
        limiter.enabled = False
    with app.app_context():
        from directory.web.context import today

        generate_into(app.extensions["directory_engine"], count=300, seed=8, today=today())
    index_app(app)
    return app


@pytest.fixture(scope="module")
def api_schema(api_app):
    # 410 Gone (a listing that has ended) is a documented answer; schemathesis' default list
    # of acceptable answers to valid requests does not include it. So is 400 for a search over
    # the limits across parameters (50 selections in all, a 4,000-character query string),
    # which OpenAPI cannot state per parameter; the document's description states them.
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [
                        "2xx",
                        "3xx",
                        "400",
                        "401",
                        "403",
                        "404",
                        "409",
                        "410",
                        "429",
                    ]
                }
            }
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app, config=config)


def operations(api_schema):
    return [result.ok() for result in api_schema.get_all_operations()]


def test_every_operation_is_documented(api_schema):
    paths = {op.path for op in operations(api_schema)}
    assert paths == {
        "/api/v1/search",
        "/api/v1/facets",
        "/api/v1/suggest",
        "/api/v1/activities/{activity_id}",
        "/api/v1/provider/activities",
        "/api/v1/provider/activities/{provider_activity_id}",
        "/api/v1/provider/activities/{provider_activity_id}/withdraw",
        "/api/v1/provider/summary",
        "/api/v1/provider/batch",
        "/api/v1/provider/jobs/{token}",
    }


def test_api_matches_its_openapi_document(api_schema):
    # Driven by hand rather than through schemathesis' pytest plugin, which does not run
    # on this pytest; each operation gets its own Hypothesis search.
    for operation in operations(api_schema):
        if operation.path.startswith("/api/v1/provider/"):
            continue  # with a key, below

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate()

        check()


@pytest.fixture(scope="module")
def provider_key(api_app):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from directory.registry import api_keys
    from directory.registry.models import Provider

    with Session(api_app.extensions["directory_engine"]) as session:
        provider = session.scalars(select(Provider).order_by(Provider.id)).first()
        key = api_keys.issue(session, provider, "schemathesis").key
        session.commit()
    return key


@pytest.fixture(scope="module")
def provider_schema(api_app):
    # Requests valid by the schema may still break the registry's rules (422), be sent as the
    # wrong media type (415) or name another id than the URL (400).
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "404", "409", "415", "422", "429"]
                }
            }
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app, config=config)


def test_provider_api_matches_its_openapi_document(provider_schema, provider_key):
    """The providers' web service, with a real key: generated activities, ids and files must
    never cause a server error, and every answer must match the document."""
    checked = 0
    for operation in operations(provider_schema):
        if not operation.path.startswith("/api/v1/provider/"):
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {provider_key}"})

        check()
        checked += 1
    assert checked == 9


def test_facets_with_a_fixed_vocabulary_are_documented_as_enums(api_app):
    from directory.search import FACETS, facet_vocabulary

    doc = api_app.test_client().get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/search"]["get"]["parameters"]}
    delivery = params["delivery"]
    assert delivery["schema"]["items"]["enum"] == ["in person", "online", "both"]
    for label in ("Online only", "In person only", "In person and online"):
        assert label in delivery["description"]
    assert "delivery=online&delivery=both" in delivery["description"]
    for facet in FACETS:
        vocabulary = facet_vocabulary(facet.name)
        items = params[facet.name]["schema"]["items"]
        assert items.get("enum") == (list(vocabulary) if vocabulary is not None else None)
    assert doc["components"]["schemas"]["Card"]["properties"]["delivery"]["enum"] == [
        "in person",
        "online",
        "both",
    ]


def test_state_and_distance_parameters_are_documented_with_their_400s(api_app):
    from directory.search import MAX_WITHIN, SORTS

    doc = api_app.test_client().get("/api/v1/openapi.json").get_json()
    search = doc["paths"]["/api/v1/search"]["get"]
    params = {p["name"]: p for p in search["parameters"]}
    for name in ("my_state", "near", "within", "include_online"):
        assert "400" in params[name]["description"], name
    assert params["unit"]["schema"]["enum"] == list(MAX_WITHIN)
    assert params["within"]["schema"]["maximum"] == max(MAX_WITHIN.values())
    assert "distance" in params["sort"]["schema"]["enum"]
    assert any(s.name == "distance" and s.needs_near for s in SORTS)
    assert "near" in params["sort"]["description"]
    assert "400" in search["responses"]
    card = doc["components"]["schemas"]["Card"]
    assert "requirements" in card["required"] and "distance" in card["properties"]
    result = doc["components"]["schemas"]["SearchResult"]["properties"]
    assert {"my_state", "near"} <= set(result)
    activity = doc["paths"]["/api/v1/activities/{activity_id}"]["get"]
    assert "my_state" in {p["name"] for p in activity["parameters"]}
    assert "400" in activity["responses"]
