"""The OpenSearch index: its definition, its versions behind one alias, writes, and errors.

- The index is defined once, in `mapping.json` beside this module (settings, analyzers,
  mappings). The clinical synonyms are not in it: they are added to queries
  (`indexer.text.understand`), so a synonym change needs no reindex.
- Searches go through the alias `<prefix>-activities`. `rebuild` loads a new versioned index
  `<prefix>-activities-<UTC timestamp>` (no refresh, no replicas while loading), then moves
  the alias to it in one atomic `update_aliases` call and deletes the older indices: searches
  are answered by the old index until the very moment the new one is complete.
- Writes between rebuilds (`write`) go through the alias, are retried on engine trouble and
  are visible to searches when they return.
- Engine trouble (unreachable, timeout, 429, 5xx) becomes `SearchUnavailable` (`answering`);
  a 4xx answer to a search means the query we built is wrong, and is raised as is.
- A document is refused alone, by id with the reason, when it cannot be serialised (checked
  here, one document at a time, before the bulk helper sees it: the helper would raise for the
  whole stream) or when OpenSearch answers 400 for it (it does not fit the mapping). Any other
  failed item (429 after retries, 5xx, a missing alias, a read-only index when the disk is
  full) is the engine's trouble: IndexingError.

Functions of a client and an alias name, so the engine class stays a thin wrapper.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError
from opensearchpy.helpers import streaming_bulk

from indexer.document import (
    DOCUMENT_JSON_ERRORS,
    SearchDocument,
    document_json,
    unindexable_reason,
)
from indexer.engine import IndexingError, ReindexStats, SearchUnavailable

log = logging.getLogger(__name__)

MAPPING_FILE = Path(__file__).resolve().parent / "mapping.json"

BULK_CHUNK_SIZE = 1000
BULK_MAX_CHUNK_BYTES = 20 * 1024 * 1024
BULK_REQUEST_TIMEOUT = 120  # seconds; a 1000-document chunk on a busy cluster
WRITE_ATTEMPTS = 3  # upsert/delete: whole-request retries on 429, 5xx and connection trouble
# Settings that differ while an index is being loaded; mapping.json holds their final values.
LOADING_SETTINGS = {
    "refresh_interval": "-1",
    "number_of_replicas": 0,
    "auto_expand_replicas": "false",
}
_TIMESTAMP_FORMAT = "%Y%m%dt%H%M%S%f"


# --- the index definition --------------------------------------------------------------------


@cache
def _mapping_file() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    return loaded


def index_definition() -> dict[str, Any]:
    """The body that creates an index: mapping.json."""
    return copy.deepcopy(_mapping_file())


def _final_settings() -> dict[str, Any]:
    """The per-index settings an index returns to once loaded (from mapping.json)."""
    declared = _mapping_file()["settings"]["index"]
    return {k: declared[k] for k in ("refresh_interval", "auto_expand_replicas")}


# --- errors ----------------------------------------------------------------------------------


def unavailable_reason(error: TransportError) -> str | None:
    """Why the engine cannot answer now, or None when the error is not about availability."""
    if isinstance(error, TransportConnectionError):
        if isinstance(error, ConnectionTimeout):
            return "the search engine did not answer in time"
        return "the search engine cannot be reached"
    status = error.status_code
    if status == 429:
        return "the search engine is overloaded"
    if isinstance(status, int) and status >= 500:
        return f"the search engine failed (HTTP {status})"
    return None


@contextmanager
def answering() -> Iterator[None]:
    """Turn availability trouble into SearchUnavailable; let anything else (a bug) through."""
    try:
        yield
    except NotFoundError as e:
        if e.error == "index_not_found_exception":
            raise SearchUnavailable("the search index has not been built yet") from e
        raise
    except TransportError as e:
        reason = unavailable_reason(e)
        if reason is None:
            raise
        raise SearchUnavailable(reason) from e


def _failure_reason(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause.get('type', 'cause')}: {cause['reason']})"
    else:
        reason = str(error or f"HTTP {item.get('status')}")
    return reason[:500]


def _is_refusal(item: dict[str, Any]) -> bool:
    """Whether a failed bulk item is OpenSearch refusing that document for what it holds (400:
    a value that does not fit the mapping), rather than the engine failing."""
    return item.get("status") == 400


def index_actions(
    documents: Iterable[SearchDocument], index: str, refused: dict[int, str]
) -> Iterator[dict[str, Any]]:
    """Bulk "index" actions with each source serialised here (the bulk helper sends a str
    as it is); a document that cannot be serialised goes into `refused` instead."""
    for doc in documents:
        try:
            source = document_json(doc)
        except DOCUMENT_JSON_ERRORS as exc:
            refused[doc["id"]] = unindexable_reason(exc)
            continue
        yield {"_op_type": "index", "_index": index, "_id": doc["id"], "_source": source}


def _document_id(item: dict[str, Any]) -> int:
    raw = item.get("_id")
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return -1


# --- versioned indices behind the alias ------------------------------------------------------


def _new_index_name(alias: str) -> str:
    return f"{alias}-{datetime.now(UTC).strftime(_TIMESTAMP_FORMAT)}"


def _is_own_index(alias: str, name: str) -> bool:
    """Whether `name` is one of this alias's versioned indices (not another prefix's)."""
    return re.fullmatch(rf"{re.escape(alias)}-\d{{8}}t\d{{12}}", name) is not None


def alias_targets(client: OpenSearch, alias: str) -> list[str]:
    """The indices the alias points at (none before the first rebuild)."""
    if not client.indices.exists_alias(name=alias):
        return []
    return sorted(client.indices.get_alias(name=alias))


def own_indices(client: OpenSearch, alias: str) -> list[str]:
    """Every versioned index of this alias, whether the alias points at it or not."""
    found = client.indices.get(
        index=f"{alias}-*",
        expand_wildcards="all",
        allow_no_indices=True,
        ignore_unavailable=True,
    )
    return sorted(name for name in found if _is_own_index(alias, name))


def _create_index(client: OpenSearch, name: str, loading: bool) -> None:
    body = index_definition()
    if loading:
        body["settings"]["index"].update(LOADING_SETTINGS)
    client.indices.create(index=name, body=body)


def _delete_indices(client: OpenSearch, names: Iterable[str]) -> None:
    names = list(names)
    for start in range(0, len(names), 50):
        client.indices.delete(index=",".join(names[start : start + 50]), ignore=[404])


def drop(client: OpenSearch, alias: str) -> None:
    """Delete the alias and every index of it (tests, and starting over)."""
    for index in alias_targets(client, alias):
        client.indices.delete_alias(index=index, name=alias, ignore=[404])
    _delete_indices(client, own_indices(client, alias))


def rebuild(
    client: OpenSearch, alias: str, documents: Iterable[SearchDocument], progress: bool = False
) -> ReindexStats:
    """Load `documents` into a new index, then point the alias at it in one atomic step.

    Documents refused for what they hold are left out and named in `ReindexStats.skipped`.
    On any other failure, or when every document was refused, the new index is deleted and the
    alias stays where it was.
    """
    from tqdm import tqdm

    started = time.monotonic()
    index = _new_index_name(alias)
    _create_index(client, index, loading=True)
    try:
        total = len(documents) if isinstance(documents, Sized) else None
        with tqdm(total=total, unit="doc", desc=index, disable=not progress) as bar:
            written, refused, failures = _load(client, index, documents, bar.update)
        if failures:
            raise IndexingError(failures)
        if refused and not written:
            raise IndexingError(refused)  # a broken mapping, not bad records
        client.indices.put_settings(index=index, body={"index": _final_settings()})
        client.indices.refresh(index=index)
        actions: list[dict[str, Any]] = [
            {"remove": {"index": old, "alias": alias}} for old in alias_targets(client, alias)
        ]
        actions.append({"add": {"index": index, "alias": alias}})
        client.indices.update_aliases(body={"actions": actions})
    except BaseException:
        try:
            client.indices.delete(index=index, ignore=[404])
        except Exception:
            log.warning("could not delete the half-built index %s", index, exc_info=True)
        raise
    try:
        # Older ones only: a rebuild started after this one may still be loading its index.
        _delete_indices(client, (name for name in own_indices(client, alias) if name < index))
    except TransportError:  # searches are fine; the next rebuild deletes them
        log.warning("could not delete the indices replaced by %s", index, exc_info=True)
    return ReindexStats(
        index=index, documents=written, seconds=time.monotonic() - started, skipped=refused
    )


def _load(
    client: OpenSearch,
    index: str,
    documents: Iterable[SearchDocument],
    advance: Callable[[int], Any],
) -> tuple[int, dict[int, str], dict[int, str]]:
    """Stream documents into `index` in chunks: (documents written, documents refused by id,
    the engine's failures by id)."""
    unsendable: dict[int, str] = {}
    refused: dict[int, str] = {}
    failures: dict[int, str] = {}
    written = 0
    for ok, result in streaming_bulk(
        client,
        index_actions(documents, index, unsendable),
        chunk_size=BULK_CHUNK_SIZE,
        max_chunk_bytes=BULK_MAX_CHUNK_BYTES,
        raise_on_error=False,
        max_retries=5,
        initial_backoff=1,
        max_backoff=30,
        request_timeout=BULK_REQUEST_TIMEOUT,
    ):
        advance(1)
        if ok:
            written += 1
            continue
        item = next(iter(result.values()))
        (refused if _is_refusal(item) else failures)[_document_id(item)] = _failure_reason(item)
    advance(len(unsendable))
    return written, {**unsendable, **refused}, failures


# --- writes between rebuilds -----------------------------------------------------------------


def _ensure_alias(client: OpenSearch, alias: str) -> None:
    """Before the first rebuild, writes go to a new empty index behind the alias."""
    if client.indices.exists_alias(name=alias):
        return
    index = _new_index_name(alias)
    _create_index(client, index, loading=False)
    client.indices.update_aliases(body={"actions": [{"add": {"index": index, "alias": alias}}]})


def write(
    client: OpenSearch, alias: str, actions: list[dict[str, Any]], create: bool = False
) -> dict[int, str]:
    """Bulk-write through the alias, retrying engine trouble; raise IndexingError if any fail.
    Answers the documents OpenSearch refused for what they hold (see `_is_refusal`).

    `create`: make the alias (over an empty index) if there is none yet, as an upsert needs;
    without it, no alias means nothing is indexed, so there is nothing to delete.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            if create:
                _ensure_alias(client, alias)
            elif not client.indices.exists_alias(name=alias):
                return {}  # nothing indexed yet, so nothing to delete
            failures: dict[int, str] = {}
            refused: dict[int, str] = {}
            for ok, result in streaming_bulk(
                client,
                actions,
                chunk_size=BULK_CHUNK_SIZE,
                max_chunk_bytes=BULK_MAX_CHUNK_BYTES,
                raise_on_error=False,
                max_retries=3,
                initial_backoff=1,
                max_backoff=8,
                request_timeout=BULK_REQUEST_TIMEOUT,
                # Visible to searches when we return, without forcing a refresh per call.
                refresh="wait_for",
                # Never let a write auto-create an index named like the alias.
                require_alias=True,
            ):
                op, item = next(iter(result.items()))
                if ok or (op == "delete" and item.get("status") == 404):
                    continue
                if op == "index" and _is_refusal(item):
                    refused[_document_id(item)] = _failure_reason(item)
                else:
                    failures[_document_id(item)] = _failure_reason(item)
        except TransportError as e:
            reason = unavailable_reason(e)
            if reason is None:
                raise
            if attempt == WRITE_ATTEMPTS:
                raise IndexingError({_document_id(a): reason for a in actions}) from e
            log.warning("bulk write failed (%s), retrying", reason)
            time.sleep(0.5 * 2 ** (attempt - 1))
            continue
        if failures:
            raise IndexingError(failures)
        return refused
    raise AssertionError("unreachable")  # every attempt returns or raises
