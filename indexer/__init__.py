"""What goes into the search index, and when: documents, engines, and syncing them."""

from __future__ import annotations

from directory.config import Config
from indexer.engine import SearchEngine


def engine_from_config(config: Config) -> SearchEngine:
    """The configured engine: embedded (default, no server) or OpenSearch."""
    if config.search_backend == "embedded":
        from indexer.embedded import EmbeddedEngine

        return EmbeddedEngine(config.data_dir / "search.sqlite3")
    if config.search_backend == "opensearch":
        from indexer.opensearch import OpenSearchEngine

        return OpenSearchEngine.from_config(
            config.opensearch_url,
            config.opensearch_index_prefix,
            config.opensearch_user,
            config.opensearch_password,
            compress=config.opensearch_compress,
            bulk_threads=config.opensearch_bulk_threads,
        )
    raise ValueError(f"SEARCH_BACKEND={config.search_backend!r}: use 'embedded' or 'opensearch'")


def index_key(config: Config) -> str:
    """Names the index whose sync checkpoint the registry keeps."""
    if config.search_backend == "opensearch":
        return f"opensearch:{config.opensearch_url}:{config.opensearch_index_prefix}"
    return f"embedded:{config.data_dir / 'search.sqlite3'}"
