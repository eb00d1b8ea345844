"""The app's search engine, and keeping it current after a provider's write."""

from __future__ import annotations

import logging

from flask import current_app

from directory.config import Config
from directory.search import SearchRequest, SearchResult
from directory.web.context import today
from indexer import engine_from_config, index_key
from indexer.engine import IndexingError, SearchEngine, SearchUnavailable

log = logging.getLogger(__name__)


def search_engine() -> SearchEngine:
    engine = current_app.extensions.get("directory_search")
    if engine is None:
        engine = engine_from_config(current_app.config["DIRECTORY"])
        current_app.extensions["directory_search"] = engine
    return engine


def run_search(request: SearchRequest) -> SearchResult:
    """Every page, the API and the widget search through here."""
    return search_engine().search(request, today())


def sync_after_write() -> dict[str, str]:
    """Apply registry changes to search now (if configured); say when they will show."""
    config: Config = current_app.config["DIRECTORY"]
    later = {
        "appears": "after the next sync",
        "detail": "search is brought up to date by `directory sync`, run every few minutes",
    }
    if not config.sync_after_write:
        return later
    from indexer.sync import incremental_sync

    try:
        incremental_sync(
            current_app.extensions["directory_sessions"],
            search_engine(),
            index_key(config),
            today(),
        )
    except (SearchUnavailable, IndexingError, OSError) as exc:
        # The registry has the change; only the index is behind, and the next sync catches up.
        log.warning("sync after write failed: %s", exc)
        return later
    return {"appears": "now", "detail": "search already reflects this change"}
