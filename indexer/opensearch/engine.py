"""The OpenSearch engine: `indexer.engine.SearchEngine` on an OpenSearch cluster.

The class only ties the pieces to one client and one alias `<prefix>-activities`:
- `indexer.opensearch.query`: the pure compiler, SearchRequest -> request body -> SearchResult;
- `indexer.opensearch.typeahead`: the pure typeahead request and ranking;
- `indexer.opensearch.index`: the index definition, versioned indices behind the alias, bulk
  writes, and which errors mean "unavailable".
What the class adds is the conversation: a search that finds nothing is asked again with the
typos corrected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError
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


class OpenSearchEngine:
    """`SearchEngine` on OpenSearch, behind the alias `<prefix>-activities`."""

    def __init__(self, client: OpenSearch, prefix: str = "cme") -> None:
        self.client = client
        self.prefix = prefix
        self.alias = f"{prefix}-activities"

    @classmethod
    def from_config(
        cls, url: str, prefix: str, user: str | None = None, password: str | None = None
    ) -> OpenSearchEngine:
        client = OpenSearch(
            hosts=[url],
            http_auth=(user, password or "") if user else None,
            timeout=10,
            max_retries=2,
            retry_on_timeout=True,
            http_compress=True,
        )
        return cls(client, prefix=prefix)

    # --- writing ------------------------------------------------------------------------------

    def reindex(self, documents: Iterable[SearchDocument], progress: bool = False) -> ReindexStats:
        """Load `documents` into a new index, then point the alias at it in one atomic step.

        Documents refused for what they hold are left out and named in the stats. On any other
        failure the new index is deleted and the alias stays where it was.
        """
        with answering():
            return index.rebuild(self.client, self.alias, documents, progress)

    def upsert(self, documents: list[SearchDocument]) -> dict[int, str]:
        """Index (insert or replace) documents by id; visible to searches on return. Answers
        the documents refused for what they hold; no older version of those stays indexed."""
        if not documents:
            return {}
        refused: dict[int, str] = {}
        actions = list(index.index_actions(documents, self.alias, refused))
        if actions:
            refused.update(index.write(self.client, self.alias, actions, create=True))
        if refused:
            self.delete(sorted(refused))
        return refused

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
        """Delete the alias and every index of this prefix (tests, and starting over)."""
        index.drop(self.client, self.alias)

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
