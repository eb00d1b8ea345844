"""The web's cache of search answers (directory/web/search_cache.py), on both engines.

An answer is reused only for the same search, the same day and the same index generation; a
write through the engine (what a sync does) retires it at once, however many workers hold it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from directory.config import Config
from directory.search import FacetResult, FacetValue, SearchRequest, SearchResult, parse_request
from directory.web.app import create_app
from directory.web.search_cache import SearchCache, request_key, result_size
from indexer.engine import SearchUnavailable
from tests import factories as f
from tests.conftest import index_app

TODAY = date(2026, 11, 22)


def answer(request: SearchRequest, title: str = "Sepsis") -> SearchResult:
    values = (FacetValue("ABIM", "ABIM", 3),)
    return SearchResult(
        request=request,
        total=1,
        hits=({"id": 1, "title": title},),
        facets=(FacetResult("board", "Board", values),),
    )


class Clock:
    """Time that moves only when told (expiry without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the cache itself -------------------------------------------------------------------------


def test_an_answer_is_reused_for_the_same_search_day_and_generation_only():
    cache = SearchCache(10, 10**6, 300)
    req = parse_request(MultiDict([("board", "ABIM"), ("q", "sepsis")]))
    assert cache.get("g1", TODAY, req) is None
    cache.put("g1", TODAY, req, answer(req))

    assert cache.get("g1", TODAY, req) == answer(req)
    # Another way of writing the same search is the same search.
    same = parse_request(MultiDict([("q", "sepsis"), ("board", "ABIM")]))
    assert cache.get("g1", TODAY, same) == answer(req)
    assert cache.get("g1", TODAY, replace(req, page=2)) is None
    assert cache.get("g1", TODAY, replace(req, per_page=10)) is None
    assert cache.get("g1", TODAY + timedelta(days=1), req) is None  # listings depend on today
    assert cache.get("g2", TODAY, req) is None  # the index changed...
    assert len(cache) == 0 and cache.size == 0  # ... and the older answers are gone
    assert cache.get("g1", TODAY, req) is None


def test_the_key_is_every_field_of_the_request_as_given():
    one = parse_request(MultiDict([("state", "CA"), ("state", "NY")]))
    assert request_key(one) == request_key(SearchRequest(filters={"state": ("CA", "NY")}))
    assert request_key(one) != request_key(parse_request(MultiDict([("state", "CA")])))
    # An answer carries its request, whose links list the values in this order: kept apart.
    assert request_key(one) != request_key(SearchRequest(filters={"state": ("NY", "CA")}))
    assert request_key(one) != request_key(replace(one, credits_min=1.0))


def test_an_answer_stored_under_an_older_generation_is_not_kept():
    cache = SearchCache(10, 10**6, 300)
    req = SearchRequest()
    assert cache.get("new", TODAY, req) is None  # a request saw the new index
    cache.put("old", TODAY, req, answer(req))  # one that started before it ends
    assert len(cache) == 0
    assert cache.get("new", TODAY, req) is None


def test_entries_bytes_and_age_are_bounded():
    clock = Clock()
    one_size = result_size(answer(SearchRequest()))
    cache = SearchCache(3, one_size * 2, 60, clock=clock)
    requests = [SearchRequest(page=n) for n in range(1, 5)]
    for req in requests[:2]:
        cache.put("g", TODAY, req, answer(req))
    cache.get("g", TODAY, requests[0])  # used: the other one goes first
    cache.put("g", TODAY, requests[2], answer(requests[2]))
    assert len(cache) == 2 and cache.size <= one_size * 2
    assert cache.get("g", TODAY, requests[1]) is None
    assert cache.get("g", TODAY, requests[0]) is not None

    by_count = SearchCache(3, 10**6, 60, clock=clock)
    for req in requests:
        by_count.put("g", TODAY, req, answer(req))
    assert len(by_count) == 3 and by_count.get("g", TODAY, requests[0]) is None

    huge = answer(SearchRequest(), title="x" * (one_size * 4))
    cache.put("g", TODAY, SearchRequest(page=9), huge)
    assert cache.get("g", TODAY, SearchRequest(page=9)) is None  # larger than the whole cache

    clock.now += 61
    assert cache.get("g", TODAY, requests[0]) is None  # too old
    assert len(cache) == 1  # requests[2], found stale only when asked for


def test_the_cache_is_configured_from_the_environment_and_can_be_turned_off(tmp_path):
    config = Config.from_env(
        {"SEARCH_CACHE_ENTRIES": "7", "SEARCH_CACHE_MB": "1.5", "SEARCH_CACHE_SECONDS": "30"}
    )
    assert (config.search_cache_entries, config.search_cache_megabytes) == (7, 1.5)
    assert config.search_cache_seconds == 30
    off = Config.from_env({"SEARCH_CACHE_ENTRIES": "0", "DIRECTORY_DATA_DIR": str(tmp_path)})
    app = create_app(replace(off, secret_key="test"))
    from directory.web.search_service import search_cache

    with app.app_context():
        assert search_cache() is None
    for name, value in [
        ("SEARCH_CACHE_ENTRIES", "lots"),
        ("SEARCH_CACHE_ENTRIES", "-1"),
        ("SEARCH_CACHE_MB", "nan"),
    ]:
        with pytest.raises(ValueError, match=name):
            Config.from_env({name: value})


# --- through the app, on both engines ----------------------------------------------------------


@pytest.fixture(params=["embedded", "opensearch"])
def web(request, database_url, tmp_path, engine):
    """The app on a registry of five activities, on each engine, its cache on (the default)."""
    config = Config(database_url=database_url, data_dir=tmp_path, secret_key="test")
    cleanup = None
    if request.param == "opensearch":
        from tests.opensearch_server import (
            connect_or_skip,
            delete_indices,
            opensearch_url,
            unique_index_prefix,
        )

        client = connect_or_skip()
        prefix = unique_index_prefix("cache")
        config = replace(
            config,
            search_backend="opensearch",
            opensearch_url=opensearch_url(),
            opensearch_index_prefix=prefix,
        )

        def cleanup() -> None:
            delete_indices(client, prefix)

    provider = f.provider(id=9000, name="Northfield Academy of Medicine")
    with Session(engine) as session:
        session.add_all(
            f.activity(
                id=i,
                provider_activity_id=f"C{i}",
                provider=provider,
                title=f"{word} in Practice",
                keywords=[word.lower()],
            )
            for i, word in enumerate(["Sepsis", "Asthma", "Gout", "Anemia", "Migraine"], start=1)
        )
        session.commit()
    app = create_app(config)
    index_app(app)
    yield app
    app.extensions["directory_engine"].dispose()
    if cleanup:
        cleanup()


def titles(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [h["title"] for h in response.get_json()["hits"]]


def test_a_write_through_the_engine_retires_the_cached_answers(web):
    from directory.web.search_service import search_cache, search_engine

    client = web.test_client()
    assert titles(client.get("/api/v1/search?q=gout")) == ["Gout in Practice"]
    landing = client.get("/").get_data(as_text=True)
    assert "Gout in Practice" in landing
    with web.app_context():
        cache, engine = search_cache(), search_engine()
        assert cache is not None and len(cache) == 2  # the API's search and the page's
        generation = engine.generation()
        [gout] = engine.documents([3]).values()
        # What a sync does after a provider's edit.
        engine.upsert([{**gout, "title": "Gout and Pseudogout in Practice"}])
        assert engine.generation() != generation

    assert titles(client.get("/api/v1/search?q=gout")) == ["Gout and Pseudogout in Practice"]
    assert "Gout and Pseudogout in Practice" in client.get("/").get_data(as_text=True)
    assert "Gout and Pseudogout in Practice" in client.get("/embed").get_data(as_text=True)

    with web.app_context():
        search_engine().delete([3])
    assert titles(client.get("/api/v1/search?q=gout")) == []


def test_repeated_searches_are_answered_from_the_cache_until_the_index_changes(web):
    from directory.web.context import today
    from directory.web.search_service import search_cache, search_engine

    client = web.test_client()
    asked = parse_request(MultiDict([("board", "ABIM"), ("per_page", "3")]))

    def stored() -> SearchResult | None:
        with web.app_context():
            cache = search_cache()
            assert cache is not None
            return cache.get(search_engine().generation(), today(), asked)

    first = client.get("/api/v1/search?board=ABIM&per_page=3")
    kept = stored()
    assert kept is not None and kept.total == first.get_json()["total"] == 5
    again = client.get("/api/v1/search?board=ABIM&per_page=3")
    assert again.get_data() == first.get_data()
    assert stored() is kept  # answered from the cache, not searched again
    with web.app_context():
        search_engine().delete([1])
    assert stored() is None
    assert client.get("/api/v1/search?board=ABIM&per_page=3").get_json()["total"] == 4


class Failing:
    """An engine whose index is there (it has a generation) but whose searches fail."""

    def generation(self) -> str:
        return "g"

    def search(self, request, today):
        raise SearchUnavailable("overloaded")


def test_a_failed_search_is_never_kept(app, client):
    from directory.web.search_service import search_cache

    app.extensions["directory_search"] = Failing()
    assert client.get("/api/v1/search?board=ABIM").status_code == 503
    assert client.get("/?board=ABIM").status_code == 503
    assert client.get("/embed?board=ABIM").status_code == 503
    with app.app_context():
        cache = search_cache()
        assert cache is not None and len(cache) == 0


def test_the_apis_encoded_answer_is_kept_with_it_per_host(web):
    from directory.web.context import today
    from directory.web.search_service import search_cache, search_engine

    client = web.test_client()
    first = client.get("/api/v1/search?q=sepsis")
    assert first.status_code == 200 and first.content_type == "application/json"
    asked = parse_request(MultiDict([("q", "sepsis")]))
    with web.app_context():
        cache, generation = search_cache(), search_engine().generation()
        assert cache is not None
        result = cache.get(generation, today(), asked)
        assert result is not None

        def not_again(_result: SearchResult) -> bytes:
            raise AssertionError("encoded again")

        kept = cache.rendering(
            generation, today(), asked, ("api.search", "http://localhost"), not_again, result
        )
    assert kept == first.get_data()
    assert client.get("/api/v1/search?q=sepsis").get_data() == kept
    # Links name the host asked: another host gets its own encoding.
    other = client.get("/api/v1/search?q=sepsis", base_url="http://other.example")
    assert other.get_json()["hits"][0]["url"].startswith("http://other.example/activities/")
    assert first.get_json()["hits"][0]["url"].startswith("http://localhost/activities/")
