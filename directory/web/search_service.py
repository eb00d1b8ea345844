"""The app's search engine, and keeping it current after a provider's write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import date

from flask import current_app

from directory.config import Config
from directory.search import SearchRequest, SearchResult
from directory.web.context import today
from directory.web.search_cache import SearchCache
from indexer import engine_from_config, index_key
from indexer.engine import IndexingError, SearchEngine, SearchUnavailable

log = logging.getLogger(__name__)


def search_engine() -> SearchEngine:
    """The app's one engine, made on first use: one OpenSearch client (and its pool of
    kept-alive connections) per worker, not per request."""
    engine = current_app.extensions.get("directory_search")
    if engine is None:
        engine = engine_from_config(current_app.config["DIRECTORY"])
        current_app.extensions["directory_search"] = engine
    return engine


def search_cache() -> SearchCache | None:
    """The app's cache of answers (see `search_cache`), or None when SEARCH_CACHE_ENTRIES=0."""
    if "directory_search_cache" not in current_app.extensions:
        config: Config = current_app.config["DIRECTORY"]
        cache = None
        if config.search_cache_entries > 0 and config.search_cache_megabytes > 0:
            cache = SearchCache(
                config.search_cache_entries,
                int(config.search_cache_megabytes * 1024 * 1024),
                config.search_cache_seconds,
            )
        current_app.extensions["directory_search_cache"] = cache
    cached: SearchCache | None = current_app.extensions["directory_search_cache"]
    return cached


def run_search(request: SearchRequest) -> SearchResult:
    """Every page, the API, the widget and the feeds search through here."""
    return _search(request)[0]


def run_search_rendered(
    request: SearchRequest, variant: Hashable, render: Callable[[SearchResult], bytes]
) -> bytes:
    """`render` of the answer to `request`: made once per cached answer and `variant` (what
    else it depends on, e.g. the host the links name), then reused with it."""
    result, generation, day = _search(request)
    cache = search_cache()
    if cache is None or generation is None:
        return render(result)
    return cache.rendering(generation, day, request, variant, render, result)


def _search(request: SearchRequest) -> tuple[SearchResult, str | None, date]:
    engine, day, cache = search_engine(), today(), search_cache()
    if cache is None:
        return engine.search(request, day), None, day
    # Asked before the search: an answer is never kept under a generation newer than it saw.
    generation = engine.generation()
    result = cache.get(generation, day, request)
    if result is None:
        result = engine.search(request, day)
        cache.put(generation, day, request, result)
    return result, generation, day


# A request brings search up to date only when little is waiting: after a 20,000-activity
# import, applying every change inside the next provider's write outlasted gunicorn's 30 s
# timeout (found by bench/soak.py). More than this is left to `directory sync`.
AFTER_WRITE_MAX_CHANGES = 500


def sync_after_write(bounded: bool = True) -> dict[str, str]:
    """Apply registry changes to search now (if configured); say when they will show.

    `bounded=False` for a caller with no deadline (a batch job's thread)."""
    config: Config = current_app.config["DIRECTORY"]
    later = {
        "appears": "after the next sync",
        "detail": "search is brought up to date by `directory sync`, run every few minutes",
    }
    if not config.sync_after_write:
        return later
    from indexer.sync import TooManyChanges, incremental_sync

    limit = AFTER_WRITE_MAX_CHANGES if bounded else None
    try:
        incremental_sync(
            current_app.extensions["directory_sessions"],
            search_engine(),
            index_key(config),
            today(),
            max_changes=limit,
        )
    except TooManyChanges as exc:
        log.info("sync after write left for the next sync: %s", exc)
        return later
    except (SearchUnavailable, IndexingError, OSError) as exc:
        # The registry has the change; only the index is behind, and the next sync catches up.
        log.warning("sync after write failed: %s", exc)
        return later
    return {"appears": "now", "detail": "search already reflects this change"}
