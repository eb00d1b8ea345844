"""The OpenSearch engine: `indexer.engine.SearchEngine` on an OpenSearch cluster.

The class only ties the pieces to one client and one alias `<prefix>-activities`:
- `indexer.opensearch.query`: the pure compiler, SearchRequest -> request body -> SearchResult;
- `indexer.opensearch.typeahead`: the pure typeahead request and ranking;
- `indexer.opensearch.index`: the index definition, versioned indices behind the alias, bulk
  writes, and which errors mean "unavailable".
What the class adds is the conversation: a search that finds nothing is asked again with the
typos corrected; and the generation (`generation`), a token that every write renews, so that a
cache of answers knows when to forget them.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable, Iterable, Sized
from dataclasses import replace
from datetime import date
from typing import Any, ParamSpec, TypeVar

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError
from opensearchpy.helpers import scan

from directory.search import SearchRequest, SearchResult
from indexer.document import SearchDocument
from indexer.engine import ReindexStats, Suggestion
from indexer.opensearch import index, typeahead
from indexer.opensearch.index import answering
from indexer.opensearch.query import (
    concept_frequencies,
    corrections,
    frequencies,
    parse_result,
    search_body,
)
from indexer.text import understand
from indexer.text import weights as concept_weights_of

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# The one document of the generation index (`<prefix>-generation`): a random token that every
# write through an engine replaces once the write is visible to searches.
GENERATION_ID = "activities"
# An id no activity has (theirs are numbers): asking the alias for it names, without a search,
# the index the alias points at now, which a reindex by anyone changes.
_NO_DOCUMENT = "generation-probe"


def _changes_searches(method: Callable[P, R]) -> Callable[P, R]:
    """A write: renew the generation after it, succeeded or failed part way (a failed bulk
    may still have written some documents). A call with nothing to write renews nothing, so
    a sync that finds no change keeps every cached answer."""

    @functools.wraps(method)
    def renewing(*args: P.args, **kwargs: P.kwargs) -> R:
        engine, what = args[0], args[1] if len(args) > 1 else None
        assert isinstance(engine, OpenSearchEngine)
        if isinstance(what, Sized) and not len(what):
            return method(*args, **kwargs)
        try:
            result = method(*args, **kwargs)
        except BaseException:
            try:
                engine.renew_generation()
            except Exception:  # the write's own error says more; the next write renews it
                log.warning("could not renew the search generation", exc_info=True)
            raise
        engine.renew_generation()
        return result

    return renewing


class OpenSearchEngine:
    """`SearchEngine` on OpenSearch, behind the alias `<prefix>-activities`."""

    def __init__(
        self, client: OpenSearch, prefix: str = "cme", bulk_threads: int = index.BULK_THREADS
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.alias = f"{prefix}-activities"
        self.bulk_threads = bulk_threads  # a reindex's bulk requests in flight at once
        # Not `<alias>-*`: the versioned indices' pattern, which a rebuild cleans up.
        self.generation_index = f"{prefix}-generation"
        self._generation_index_ready = False
        # Whether this engine has given the index behind the alias the fields of mapping.json
        # (`index.add_declared_fields`), which the first upsert does.
        self._fields_added = False

    @classmethod
    def from_config(
        cls,
        url: str,
        prefix: str,
        user: str | None = None,
        password: str | None = None,
        compress: bool | None = None,
        bulk_threads: int = index.BULK_THREADS,
    ) -> OpenSearchEngine:
        """`compress`: gzip request bodies; None: unless the cluster is on this machine
        (`index.compress_by_default`)."""
        client = OpenSearch(
            hosts=[url],
            http_auth=(user, password or "") if user else None,
            timeout=10,
            max_retries=2,
            retry_on_timeout=True,
            http_compress=index.compress_by_default(url) if compress is None else compress,
        )
        return cls(client, prefix=prefix, bulk_threads=bulk_threads)

    # --- writing ------------------------------------------------------------------------------

    @_changes_searches
    def reindex(self, documents: Iterable[SearchDocument], progress: bool = False) -> ReindexStats:
        """Load `documents` into a new index, then point the alias at it in one atomic step.

        Documents refused for what they hold are left out and named in the stats. On any other
        failure the new index is deleted and the alias stays where it was.
        """
        with answering():
            return index.rebuild(
                self.client, self.alias, documents, progress, threads=self.bulk_threads
            )

    @_changes_searches
    def upsert(self, documents: list[SearchDocument]) -> dict[int, str]:
        """Index (insert or replace) documents by id; visible to searches on return. Answers
        the documents refused for what they hold; no older version of those stays indexed.
        An engine's first upsert gives an index built before mapping.json gained fields
        those fields (`index.add_declared_fields`), so a sync before `directory index`
        refuses nothing for holding them."""
        if not documents:
            return {}
        refused: dict[int, str] = {}
        actions = list(index.index_actions(documents, self.alias, refused))
        if actions and not self._fields_added:
            self._fields_added = index.add_declared_fields(self.client, self.alias)
        if actions:
            refused.update(index.write(self.client, self.alias, actions, create=True))
        if refused:
            self.delete(sorted(refused))
        return refused

    @_changes_searches
    def delete(self, ids: list[int]) -> None:
        """Remove documents by id; ids that are not indexed are no failure."""
        if not ids:
            return
        index.write(
            self.client,
            self.alias,
            [{"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids],
        )

    def drop(self) -> None:
        """Delete the alias and every index of this prefix (tests, and starting over), the
        generation's too: with no alias the generation reads "unbuilt", which no earlier
        answer was kept under."""
        index.drop(self.client, self.alias)
        with answering():
            self.client.indices.delete(index=self.generation_index, ignore_unavailable=True)
        self._generation_index_ready = False

    # --- reading ------------------------------------------------------------------------------

    def search(self, request: SearchRequest, today: date) -> SearchResult:
        """Answer `request` per the contract of `indexer.engine`: the shared plan of its text
        (`indexer.text.understand`), its concepts weighted by how many records match each when
        partial matches are possible, typo corrections added to the words they correct."""
        plan = understand(request.text.strip())
        with answering():
            weights = None
            if plan.minimum < len(plan.concepts):
                counted = self.client.search(
                    index=self.alias,
                    body={
                        "size": 0,
                        "track_total_hits": True,
                        "query": {"match_all": {}},
                        "aggs": concept_frequencies(plan),
                    },
                )
                weights = concept_weights_of(
                    plan, frequencies(plan, counted), counted["hits"]["total"]["value"]
                )
            response = self.client.search(
                index=self.alias,
                body=search_body(request, today, plan, weights, spelling=bool(plan.concepts)),
            )
            result = parse_result(request, response)
            fixes = corrections(
                plan, response.get("suggest", {}).get("spelling", []), frequencies(plan, response)
            )
            if not fixes:
                return result
            # Added to the typed words, never in their place.
            corrected_plan = plan.with_corrections(fixes)
            retry = parse_result(
                request,
                self.client.search(
                    index=self.alias, body=search_body(request, today, corrected_plan, weights)
                ),
            )
        corrected = corrected_plan.corrected_text(request.text.strip())
        if not retry.total:
            return result
        return replace(retry, corrected_text=corrected)

    def generation(self) -> str:
        """The index behind the alias and the token of the last write, in one realtime
        multi-get (about 1 ms on a local node, against 10-20 ms for a search): any reindex
        moves the alias, every upsert and delete renews the token once it is visible.

        Why not something OpenSearch keeps by itself: its counters (`max_seq_no`, indexing
        totals) move when a write is accepted, before a refresh makes it visible, so an answer
        read in between would be kept under the new value; and a search for the newest
        `_seq_no` is per shard and as costly as a small search."""
        with answering():
            docs = self.client.mget(
                body={
                    "docs": [
                        {"_index": self.alias, "_id": _NO_DOCUMENT, "_source": False},
                        {"_index": self.generation_index, "_id": GENERATION_ID},
                    ]
                }
            )["docs"]
        behind, token = docs
        if "error" in behind:
            index = "unbuilt" if _not_found(behind) else ""
        else:
            index = str(behind.get("_index", ""))
        if "error" in token:
            written = "never" if _not_found(token) else ""
        else:
            written = str((token.get("_source") or {}).get("token", "never"))
        if not index or not written:
            # An answer we cannot place: a token no later call repeats, so nothing is reused.
            return "unknown-" + secrets.token_hex(8)
        return f"{index}/{written}"

    def renew_generation(self) -> None:
        """Replace the generation's token, after a write is visible (see `generation`)."""
        with answering():
            if not self._generation_index_ready:
                self._create_generation_index()
            self.client.index(
                index=self.generation_index,
                id=GENERATION_ID,
                body={"token": secrets.token_hex(8)},
            )

    def _create_generation_index(self) -> None:
        """One small index, made on the first write: by us rather than by an index call's
        auto-creation, which would give it a replica a single node never allocates (yellow)."""
        try:
            self.client.indices.create(
                index=self.generation_index,
                body={
                    "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
                    "mappings": {"dynamic": False, "properties": {}},
                },
            )
        except RequestError as e:
            if e.error != "resource_already_exists_exception":
                raise
        self._generation_index_ready = True

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Practice areas, providers and titles with a word starting with each typed word."""
        text, typed = typeahead.typed_words(prefix)
        if not typed or limit <= 0:
            return []
        with answering():
            response = self.client.search(
                index=self.alias, body=typeahead.suggest_body(text, limit)
            )
        return typeahead.suggestions(typed, response["aggregations"], limit)

    def documents(self, ids: list[int]) -> dict[int, SearchDocument]:
        """The indexed documents with these ids (a realtime get: the latest write)."""
        found: dict[int, SearchDocument] = {}
        with answering():
            for start in range(0, len(ids), 1000):
                chunk = [str(i) for i in ids[start : start + 1000]]
                try:
                    response = self.client.mget(index=self.alias, body={"ids": chunk})
                except NotFoundError:
                    return {}  # nothing indexed yet
                found.update(
                    (int(d["_id"]), d["_source"]) for d in response["docs"] if d.get("found")
                )
        return found

    def count(self) -> int:
        """Documents behind the alias (0 before the first reindex)."""
        with answering():
            try:
                return int(self.client.count(index=self.alias)["count"])
            except NotFoundError:
                return 0

    def ids(self) -> set[int]:
        """The ids of every indexed document."""
        with answering():
            try:
                return {
                    int(hit["_id"])
                    for hit in scan(
                        self.client,
                        index=self.alias,
                        query={"query": {"match_all": {}}, "_source": False},
                        size=5000,
                        scroll="2m",
                    )
                }
            except NotFoundError:
                return set()


def _not_found(doc: dict[str, Any]) -> bool:
    error = doc.get("error")
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"
