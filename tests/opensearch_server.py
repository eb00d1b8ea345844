"""Helpers for tests that need the real OpenSearch started by `scripts/opensearch start`.

Not a conftest: a test module opts in by calling `connect_or_skip()`, typically from a
module-scoped fixture, and keeps its indices under its own `unique_index_prefix(...)` so
that modules never see each other's data and can clean up with `delete_indices(...)`.

Without a server the tests skip locally, but fail under CI (CI=true), where a skip would
silently hide that the search tests never ran.
"""

from __future__ import annotations

import os
import re
import secrets

import pytest
from opensearchpy import OpenSearch

DEFAULT_URL = "http://127.0.0.1:9200"
# Index names are lowercase, no spaces or \ / * ? " < > | , # : and must not start with - _ +.
_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")


def opensearch_url() -> str:
    """The server tests talk to: $OPENSEARCH_URL, else the default of scripts/opensearch."""
    return os.environ.get("OPENSEARCH_URL") or DEFAULT_URL


def connect_or_skip(ping_timeout: float = 2.0) -> OpenSearch:
    """A client for `opensearch_url()`, or skip (locally) / fail (CI) when it is not reachable."""
    url = opensearch_url()
    user = os.environ.get("OPENSEARCH_USER")
    auth = (user, os.environ.get("OPENSEARCH_PASSWORD", "")) if user else None
    client = OpenSearch(hosts=[url], http_auth=auth, timeout=30, max_retries=0)
    try:
        # ping() turns connection errors into False; the short timeout keeps a
        # blackholed address from stalling collection.
        reachable = client.ping(request_timeout=ping_timeout)
    except Exception:  # any failure to reach it means "not reachable"
        reachable = False
    if reachable:
        return client
    client.close()
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"OpenSearch is not reachable at {url} ; CI must run it (scripts/opensearch start)",
            pytrace=False,
        )
    pytest.skip(
        f"OpenSearch is not reachable at {url}; run `scripts/opensearch start` "
        "(and `scripts/opensearch stop` when done) to run these tests"
    )


def unique_index_prefix(name: str) -> str:
    """A fresh prefix `test-<name>-<8 hex>` for one test module's indices and aliases."""
    slug = _INVALID_NAME_CHARS.sub("-", name.lower()).strip("-._") or "x"
    return f"test-{slug}-{secrets.token_hex(4)}"


def delete_indices(client: OpenSearch, prefix: str) -> list[str]:
    """Delete every index (open, closed or hidden) and alias named `prefix*`; returns index names.

    Names are resolved first and deleted explicitly, so this works even where
    action.destructive_requires_name forbids wildcard deletes.
    """
    if not prefix.startswith("test-") or any(c in prefix for c in "*?,"):
        raise ValueError(f"refusing to delete {prefix!r}*: use unique_index_prefix()")
    pattern = f"{prefix}*"
    # Aliases named prefix* may point at indices outside the prefix: remove them explicitly.
    aliases = client.indices.get_alias(name=pattern, expand_wildcards="all", ignore=[404])
    for index, body in aliases.items():
        if index in ("error", "status"):  # a 404 body, not an index
            continue
        for alias in body.get("aliases", {}):
            client.indices.delete_alias(index=index, name=alias, ignore=[404])
    found = client.indices.get(
        index=pattern, expand_wildcards="all", allow_no_indices=True, ignore_unavailable=True
    )
    names = sorted(found)
    for start in range(0, len(names), 50):  # keep the URL short
        client.indices.delete(index=",".join(names[start : start + 50]), ignore=[404])
    return names
