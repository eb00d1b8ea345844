"""The OpenSearch from `scripts/opensearch start` is 2.19.x and has the standard analysis modules.

The search index relies on analysis-common (asciifolding, stemmer, synonym_graph, ...), which a
bare OpenSearch core does not have: these tests fail loudly if the launcher ever loses it.
"""

from __future__ import annotations

import pytest

from tests.opensearch_server import connect_or_skip, delete_indices, unique_index_prefix

SYNONYMS = ["mi, myocardial infarction, heart attack"]


def _settings(filters: list[str]) -> dict:
    return {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": {
                "filter": {
                    "medical_synonyms": {"type": "synonym_graph", "synonyms": SYNONYMS},
                    "english_stemmer": {"type": "stemmer", "language": "english"},
                },
                "analyzer": {
                    "medical": {"type": "custom", "tokenizer": "standard", "filter": filters}
                },
            },
        },
        "mappings": {"properties": {"title": {"type": "text", "analyzer": "medical"}}},
    }


def _tokens(client, index: str, text: str) -> list[tuple[int, str]]:
    result = client.indices.analyze(index=index, body={"analyzer": "medical", "text": text})
    return sorted((t["position"], t["token"]) for t in result["tokens"])


@pytest.fixture(scope="module")
def client():
    client = connect_or_skip()
    yield client
    client.close()


@pytest.fixture(scope="module")
def prefix(client):
    prefix = unique_index_prefix("opensearch-server")
    yield prefix
    delete_indices(client, prefix)
    assert not client.indices.exists(index=f"{prefix}*", allow_no_indices=False)


def test_server_is_opensearch_2_19(client):
    version = client.info()["version"]
    assert version["distribution"] == "opensearch"
    assert version["number"].startswith("2.19."), version["number"]


def test_medical_analyzer_folds_stems_and_expands_synonyms(client, prefix):
    index = f"{prefix}-medical"
    # Stemmer *before* synonym_graph: the rules are then stemmed too, so the plural
    # "heart attacks" still matches "heart attack" (see the next test for the other order).
    client.indices.create(
        index=index,
        body=_settings(["lowercase", "asciifolding", "english_stemmer", "medical_synonyms"]),
    )

    # "Pédiatric" is folded to ascii and stemmed; "heart attacks" is stemmed to the synonym
    # rule's "heart attack", which adds "mi" and the stemmed "myocardial infarction" at the
    # same position.
    assert _tokens(client, index, "Pédiatric heart attacks") == [
        (0, "pediatr"),
        (1, "heart"),
        (1, "mi"),
        (1, "myocardi"),
        (2, "infarct"),
        (3, "attack"),
    ]

    # And at search time: a query for the plural lay term finds the clinical one.
    client.index(index=index, id="1", body={"title": "Myocardial infarction in children"})
    client.index(index=index, id="2", body={"title": "Pediatric asthma update"})
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"query": {"match": {"title": "heart attacks"}}})
    assert [h["_id"] for h in hits["hits"]["hits"]] == ["1"]


def test_synonyms_before_stemmer_miss_plural_phrases(client, prefix):
    """Documents why the order above matters: rules only match the unstemmed surface form."""
    index = f"{prefix}-synonyms-first"
    client.indices.create(
        index=index,
        body=_settings(["lowercase", "asciifolding", "medical_synonyms", "english_stemmer"]),
    )
    assert _tokens(client, index, "Pédiatric heart attacks") == [
        (0, "pediatr"),
        (1, "heart"),
        (2, "attack"),
    ]
    assert (1, "mi") in _tokens(client, index, "Pédiatric heart attack")
