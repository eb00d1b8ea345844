"""The embedded engine: SQLite FTS5 in one file, no server. In parts (see each docstring):

- `store`: the index file's tables, and writing documents into them;
- `matching`: what a physician typed as an FTS5 MATCH expression (synonyms, phrases), and
  typo corrections;
- `query`: a SearchRequest as SQL (filters, disjunctive facets, sorts), and typeahead;
- `engine`: `EmbeddedEngine`, which ties them to one file.
"""

from indexer.embedded.engine import EmbeddedEngine

__all__ = ["EmbeddedEngine"]
