"""The OpenSearch engine, in three parts (see each module's docstring):

- `query`: the pure compiler, SearchRequest -> request body, and the response -> SearchResult;
- `index`: the index definition (mapping.json + synonyms), versioned indices behind an alias,
  bulk writes, and error classification;
- `engine`: `OpenSearchEngine`, which ties them to a client.
`typeahead` is the pure request and ranking of `OpenSearchEngine.suggest`.
"""

from indexer.opensearch.engine import OpenSearchEngine
from indexer.opensearch.index import MAPPING_FILE, index_definition
from indexer.opensearch.query import search_body

__all__ = ["MAPPING_FILE", "OpenSearchEngine", "index_definition", "search_body"]
