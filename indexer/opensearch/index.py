"""The OpenSearch index: its definition, its versions behind one alias, writes, and errors.

- The index is defined once, in `mapping.json` beside this module (settings, analyzers,
  mappings). The clinical synonyms are not in it: they are added to queries
  (`indexer.text.understand`), so a synonym change needs no reindex.
- Searches go through the alias `<prefix>-activities`. `rebuild` loads a new versioned index
  `<prefix>-activities-<UTC timestamp>` (no refresh, no replicas while loading), then moves
  the alias to it in one atomic `update_aliases` call and deletes the older indices: searches
  are answered by the old index until the very moment the new one is complete. Its documents
  go in chunks bounded by bytes and count, serialised once, a few requests in flight while
  the next chunk is rendered (`_load`).
- Writes between rebuilds (`write`) go through the alias, are retried on engine trouble and
  are visible to searches when they return. An index built before mapping.json gained a
  field is given it in place before them (`add_declared_fields`).
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
import ipaddress
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
# A rebuild's chunks: bounded by bytes (a request a cluster digests in well under a second,
# whatever the documents weigh) as well as by count; documents are ~2 KB, so bytes decide.
REBUILD_CHUNK_BYTES = 5 * 1024 * 1024
REBUILD_CHUNK_DOCUMENTS = 5000
# Bulk requests a rebuild keeps in flight while it builds the next: two keep the cluster busy
# while one answer is on its way back; more only queue on a small cluster.
BULK_THREADS = 2
BULK_RETRIES = 5  # a rebuild's chunk (or its items) answered 429: sent again with backoff
BULK_INITIAL_BACKOFF = 1  # seconds, doubled at each retry
BULK_MAX_BACKOFF = 30
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


# --- the connection --------------------------------------------------------------------------


def compress_by_default(url: str) -> bool:
    """Whether to gzip requests to the cluster at `url` unless configured: not when it is on a
    loopback address. Over a network gzip (several times smaller bulk bodies) saves more time
    than it costs; to a cluster on this machine it saves nothing and costs CPU on both sides,
    and at level 9 it was most of what a reindex spent on sending."""
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: the cluster may be anywhere
        return True


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
    client: OpenSearch,
    alias: str,
    documents: Iterable[SearchDocument],
    progress: bool = False,
    threads: int = BULK_THREADS,
) -> ReindexStats:
    """Load `documents` into a new index, then point the alias at it in one atomic step.

    `threads` chunks are sent at once while the next is built (see `_load`). Documents refused
    for what they hold are left out and named in `ReindexStats.skipped`. On any other failure,
    or when every document was refused, the new index is deleted and the alias stays where it
    was.
    """
    from tqdm import tqdm

    started = time.monotonic()
    index = _new_index_name(alias)
    _create_index(client, index, loading=True)
    try:
        total = len(documents) if isinstance(documents, Sized) else None
        with tqdm(total=total, unit="doc", desc=index, disable=not progress) as bar:
            written, refused, failures = _load(client, index, documents, bar.update, threads)
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


@dataclass
class BulkChunk:
    """Documents of one bulk request: their ids, and their NDJSON lines (an action line and
    a source line each), in the same order."""

    ids: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    size: int = 0  # bytes of the lines


def bulk_chunks(
    documents: Iterable[SearchDocument],
    refused: dict[int, str],
    max_documents: int | None = None,
    max_bytes: int | None = None,
) -> Iterator[BulkChunk]:
    """The documents as bulk "index" requests of at most `max_documents` documents and
    `max_bytes` bytes (a document larger than that goes alone), by default a rebuild's
    (REBUILD_CHUNK_*); one that cannot be serialised goes into `refused` instead.

    Serialised here, once, straight to the bytes sent: the bulk helpers would encode each
    action again to measure it, and copy each action dict. The index is named by the request's
    URL, so an action line holds only the id.
    """
    max_documents = max_documents or REBUILD_CHUNK_DOCUMENTS
    max_bytes = max_bytes or REBUILD_CHUNK_BYTES
    chunk = BulkChunk()
    for doc in documents:
        try:
            source = document_json(doc).encode("utf-8")
        except DOCUMENT_JSON_ERRORS as exc:
            refused[doc["id"]] = unindexable_reason(exc)
            continue
        line = b'{"index":{"_id":"%d"}}\n%b\n' % (doc["id"], source)
        if chunk.ids and (chunk.size + len(line) > max_bytes or len(chunk.ids) >= max_documents):
            yield chunk
            chunk = BulkChunk()
        chunk.ids.append(doc["id"])
        chunk.lines.append(line)
        chunk.size += len(line)
    if chunk.ids:
        yield chunk


@dataclass
class _Sent:
    written: int = 0
    refused: dict[int, str] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


def _send(client: OpenSearch, index: str, chunk: BulkChunk) -> _Sent:
    """One bulk request, its 429s (the whole request, or items of it) sent again with backoff
    as `streaming_bulk` would; any other TransportError raises."""
    sent = _Sent()
    ids, lines = chunk.ids, chunk.lines
    for attempt in range(BULK_RETRIES + 1):
        last = attempt == BULK_RETRIES
        try:
            response = client.bulk(
                body=b"".join(lines),
                index=index,
                request_timeout=BULK_REQUEST_TIMEOUT,
                # Only what is read back: ~20 bytes an item instead of ~200.
                filter_path="errors,items.*.status,items.*.error",
            )
        except TransportError as e:
            if e.status_code != 429 or last:
                raise
            _backoff(attempt)
            continue
        if not response.get("errors"):
            sent.written += len(ids)
            return sent
        again: tuple[list[int], list[bytes]] = ([], [])
        for doc_id, line, item in zip(ids, lines, response["items"], strict=True):
            result = next(iter(item.values()))
            status = result.get("status")
            if isinstance(status, int) and 200 <= status < 300:
                sent.written += 1
            elif status == 429 and not last:
                again[0].append(doc_id)
                again[1].append(line)
            elif _is_refusal(result):
                sent.refused[doc_id] = _failure_reason(result)
            else:
                sent.failures[doc_id] = _failure_reason(result)
        ids, lines = again
        if not ids:
            return sent
        _backoff(attempt)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _backoff(attempt: int) -> None:
    time.sleep(min(BULK_INITIAL_BACKOFF * 2**attempt, BULK_MAX_BACKOFF))


def _load(
    client: OpenSearch,
    index: str,
    documents: Iterable[SearchDocument],
    advance: Callable[[int], Any],
    threads: int = BULK_THREADS,
) -> tuple[int, dict[int, str], dict[int, str]]:
    """Stream documents into `index` in chunks: (documents written, documents refused by id,
    the engine's failures by id).

    This thread renders and serialises the next chunk while `threads` others send the chunks
    before it: reading the registry and OpenSearch indexing overlap, instead of taking turns.
    At most `threads` + 1 chunks are held at once, so memory stays flat at any size.
    (`helpers.parallel_bulk` does the same, but drops `streaming_bulk`'s retries of 429s.)
    """
    unsendable: dict[int, str] = {}
    result = _Sent()
    in_flight: deque[tuple[int, Future[_Sent]]] = deque()

    def collect(count: int, future: Future[_Sent]) -> None:
        sent = future.result()  # the engine failing raises here, and stops the load
        result.written += sent.written
        result.refused.update(sent.refused)
        result.failures.update(sent.failures)
        advance(count)

    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="bulk")
    try:
        for chunk in bulk_chunks(documents, unsendable):
            in_flight.append((len(chunk.ids), pool.submit(_send, client, index, chunk)))
            while len(in_flight) > max(1, threads):
                collect(*in_flight.popleft())
        while in_flight:
            collect(*in_flight.popleft())
    finally:
        # On failure: wait for the requests already sent, drop the ones not started.
        pool.shutdown(wait=True, cancel_futures=True)
    advance(len(unsendable))
    return result.written, {**unsendable, **result.refused}, result.failures


# --- writes between rebuilds -----------------------------------------------------------------


def _ensure_alias(client: OpenSearch, alias: str) -> None:
    """Before the first rebuild, writes go to a new empty index behind the alias."""
    if client.indices.exists_alias(name=alias):
        return
    index = _new_index_name(alias)
    _create_index(client, index, loading=False)
    client.indices.update_aliases(body={"actions": [{"add": {"index": index, "alias": alias}}]})


def add_declared_fields(client: OpenSearch, alias: str) -> bool:
    """Give the index behind the alias the fields of mapping.json it was built without (an
    index an older version built, before its documents had them), so that documents holding
    them fit it until `directory index` rebuilds it. Adding fields is all a mapping allows
    in place: a field whose type changed is left as it is (logged), and documents that do
    not fit it are refused, as they would be anyway.

    Answers whether the index now has every field it can be given; False when the engine
    could not be asked (the write that follows reports that trouble, as a write's)."""
    declared = _mapping_file()["mappings"]["properties"]
    try:
        current = client.indices.get_mapping(index=alias)
        for index, mapping in current.items():
            have = mapping.get("mappings", {}).get("properties", {})
            missing = {name: spec for name, spec in declared.items() if name not in have}
            if not missing:
                continue
            try:
                client.indices.put_mapping(index=index, body={"properties": missing})
            except TransportError as e:
                if unavailable_reason(e) is not None:
                    raise
                log.warning("could not add %s to %s: %s", sorted(missing), index, e)
    except NotFoundError:
        return True  # no index yet: the first write makes one from mapping.json
    except TransportError as e:
        if unavailable_reason(e) is None:
            raise
        return False
    return True


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
