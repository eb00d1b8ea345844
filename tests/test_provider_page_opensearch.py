"""The public provider page's tests (tests/test_web.py) again, on OpenSearch.

The page pages through one provider's listings and counts the search facets among them
only: what the engine's provider filter and facet counts do, so it is held on both engines.
The tests are test_web's own, imported; this module's `app` (which pytest gives the tests
collected here) serves from a real OpenSearch index instead of the embedded one."""

from __future__ import annotations

import pytest

from directory.config import Config
from directory.web.app import create_app
from tests.opensearch_server import (
    connect_or_skip,
    delete_indices,
    opensearch_url,
    unique_index_prefix,
)
from tests.test_web import (  # noqa: F401 - collected here, with this module's app
    paged,
    test_a_page_past_the_end_says_so_and_links_the_last,
    test_a_provider_parameter_never_shows_another_providers_listings,
    test_a_providers_facets_count_its_own_listings_only,
    test_a_providers_page_reaches_every_listing_once_by_page,
    test_a_providers_pages_keep_the_query_in_every_link,
    test_bad_input_on_a_providers_page_is_a_400_naming_it,
)


@pytest.fixture
def app(database_url, tmp_path):
    client = connect_or_skip()
    prefix = unique_index_prefix("provider-page")
    app = create_app(
        Config(
            database_url=database_url,
            data_dir=tmp_path,
            secret_key="test",
            search_backend="opensearch",
            opensearch_url=opensearch_url(),
            opensearch_index_prefix=prefix,
        )
    )
    yield app
    app.extensions["directory_engine"].dispose()
    delete_indices(client, prefix)
