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
    with app.app_context():
        from directory.web.context import today

        generate_into(app.extensions["directory_engine"], count=300, seed=8, today=today())
    index_app(app)
    return app


@pytest.fixture(scope="module")
def api_schema(api_app):
    # 410 Gone (a listing that has ended) is a documented answer; schemathesis' default list
    # of acceptable answers to valid requests does not include it.
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "410", "429"]
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
    }


def test_api_matches_its_openapi_document(api_schema):
    # Driven by hand rather than through schemathesis' pytest plugin, which does not run
    # on this pytest; each operation gets its own Hypothesis search.
    for operation in operations(api_schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate()

        check()
