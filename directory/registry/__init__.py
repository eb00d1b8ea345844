"""The registry: the source of truth. Models, database and migrations, reference data, the
rules, API keys. It imports nothing else of the project."""
