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
