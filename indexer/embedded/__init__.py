"""The embedded engine: SQLite FTS5, no server."""
