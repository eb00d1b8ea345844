"""What is particular to the OpenSearch engine: its index lifecycle, mapping, analysis and errors.

The behaviour both engines share is `tests/test_search_contract.py`'s; this module checks what
only OpenSearch can get wrong: the alias swap, a failed reindex, the mapping of mapping.json,
the analyzers (synonyms, accents, stemming, typos), disjunctive aggregations, provider labels,
the typeahead, and that an unreachable engine is SearchUnavailable rather than a crash.

Documents come from the real pipeline: demo data in a SQLite registry, then `to_document`.
"""

from __future__ import annotations

import copy
import json
import re
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError, TransportError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory.config import Config
from directory.demo import generate_into
from directory.registry.db import make_engine, upgrade
from directory.registry.models import Activity
from directory.search import SearchRequest
from indexer import engine_from_config
from indexer.document import to_document
from indexer.engine import IndexingError, SearchUnavailable
from indexer.opensearch import MAPPING_FILE, OpenSearchEngine
from indexer.opensearch import index as index_module
from indexer.opensearch.index import answering as _answering
from indexer.opensearch.query import corrections as _corrections
from indexer.text import understand
from tests.factories import TODAY
from tests.opensearch_server import connect_or_skip, delete_indices, unique_index_prefix

DEMO_ACTIVITIES = 3800  # about 2,000 of them are listed on TODAY


@pytest.fixture(scope="module")
def client() -> Iterator[OpenSearch]:
    client = connect_or_skip()
    yield client
    client.close()


@pytest.fixture(scope="module")
def prefix(client: OpenSearch) -> Iterator[str]:
    prefix = unique_index_prefix("opensearch-engine")
    yield prefix
    delete_indices(client, prefix)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'registry.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        generate_into(engine, count=DEMO_ACTIVITIES, seed=11, today=TODAY)
        with Session(engine) as session:
            activities = session.scalars(
                select(Activity).options(
                    selectinload(Activity.moc),
                    selectinload(Activity.rems),
                    selectinload(Activity.occurrences),
                    selectinload(Activity.provider),
                )
            ).all()
            docs = [d for a in activities if (d := to_document(a, TODAY)) is not None]
    finally:
        engine.dispose()
    assert len(docs) > 1500
    return docs


@pytest.fixture(scope="module")
def engines(client: OpenSearch, prefix: str) -> Iterator[Any]:
    """Engines under their own sub-prefix of the module's prefix, dropped at the end."""
    made: list[OpenSearchEngine] = []

    def make(name: str) -> OpenSearchEngine:
        engine = OpenSearchEngine(client, prefix=f"{prefix}-{name}")
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.drop()


@pytest.fixture(scope="module")
def demo(engines: Any, documents: list[dict[str, Any]]) -> OpenSearchEngine:
    engine: OpenSearchEngine = engines("demo")
    stats = engine.reindex(documents)
    assert stats.documents == len(documents)
    return engine


def synthetic(template: dict[str, Any], id: int, title: str, **changes: Any) -> dict[str, Any]:
    """A real document with its text replaced: only `title` says what it is about."""
    doc = copy.deepcopy(template)
    doc.update(
        id=id,
        title=title,
        description="",
        objectives=[],
        keywords=[],
        practice_area_names=[],
        provider_name="Example Provider",
    )
    doc.update(changes)
    return doc


TEXT_TITLES = {
    1: "Myocardial Infarction: A Case-Based Review",
    2: "Heart Attack Care in the Emergency Department",
    3: "Atrial Fibrillation Update",
    4: "AFib in Older Adults",
    5: "Chronic Obstructive Pulmonary Disease Management",
    6: "COPD Exacerbations",
    7: "Type 2 Diabetes Mellitus in Primary Care",
    8: "T2DM and Weight",
    9: "Sjögren Disease Update",
    10: "Living with Sjögren's Syndrome",
    11: "Pediatric Asthma",
    12: "Advances in Cardiology",
    13: "Sleep Medicine Essentials",
}


@pytest.fixture(scope="module")
def text_engine(engines: Any, documents: list[dict[str, Any]]) -> OpenSearchEngine:
    engine: OpenSearchEngine = engines("text")
    engine.reindex([synthetic(documents[0], i, title) for i, title in TEXT_TITLES.items()])
    return engine


def found(engine: OpenSearchEngine, text: str) -> set[int]:
    result = engine.search(SearchRequest(text=text, per_page=100), TODAY)
    return {h["id"] for h in result.hits}


# --- index lifecycle -------------------------------------------------------------------------


def test_reindex_builds_a_versioned_index_behind_the_alias(demo, documents, client):
    (index,) = client.indices.get_alias(name=demo.alias)
    assert re.fullmatch(rf"{re.escape(demo.alias)}-\d{{8}}t\d{{12}}", index)
    assert demo.count() == len(documents)
    assert demo.ids() == {d["id"] for d in documents}

    # Loaded without refresh or replicas, then back to the settings of mapping.json.
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["refresh_interval"] == "1s"
    assert settings["auto_expand_replicas"] == "0-1"
    assert client.cluster.health(index=index)["status"] == "green"


def test_alias_swap_keeps_the_old_index_serving_until_the_swap(
    engines, documents, client, monkeypatch
):
    engine = engines("swap")
    old = engine.reindex(documents[:300]).index
    seen: dict[str, Any] = {}
    monkeypatch.setattr(index_module, "REBUILD_CHUNK_DOCUMENTS", 250)

    def stream() -> Iterator[dict[str, Any]]:
        for n, doc in enumerate(documents):
            if n == 1500:  # chunks of 250 have been written to the new index, more are on the way
                seen["alias"] = sorted(client.indices.get_alias(name=engine.alias))
                seen["count"] = engine.count()
                seen["total"] = engine.search(SearchRequest(), TODAY).total
                indices = client.indices.get(index=f"{engine.alias}-*")
                new = next(name for name in indices if name != old)
                seen["loading"] = indices[new]["settings"]["index"]
            yield doc

    stats = engine.reindex(stream())

    assert seen["alias"] == [old]
    assert seen["count"] == seen["total"] == 300
    assert seen["loading"]["refresh_interval"] == "-1"
    assert seen["loading"]["number_of_replicas"] == "0"
    assert stats.documents == len(documents) and stats.index != old
    assert sorted(client.indices.get_alias(name=engine.alias)) == [stats.index]
    assert not client.indices.exists(index=old)
    assert engine.count() == len(documents)


def test_a_reindex_leaves_out_and_names_the_documents_opensearch_refuses(
    engines, documents, client
):
    engine = engines("refused")
    old = engine.reindex(documents[:40]).index
    bad = dict(documents[45], cme_credits="lots")
    unknown = dict(documents[46], surprise="a field mapping.json does not declare")
    unencodable = dict(
        documents[47], keywords=["\udfff"]
    )  # fails in serialisation, not in OpenSearch

    stats = engine.reindex(documents[:45] + [bad, unknown, unencodable] + documents[48:1200])

    assert set(stats.skipped) == {bad["id"], unknown["id"], unencodable["id"]}
    assert "cme_credits" in stats.skipped[bad["id"]]
    assert "surprise" in stats.skipped[unknown["id"]]
    assert stats.skipped[unencodable["id"]] == "text is not valid Unicode"
    assert stats.documents == 1197 == engine.count()
    assert sorted(client.indices.get_alias(name=engine.alias)) == [stats.index] != [old]
    assert bad["id"] not in engine.ids()


def test_a_reindex_where_every_document_is_refused_keeps_the_previous_index(
    engines, documents, client
):
    # Every document refused is a mapping or code gone wrong, not bad records.
    engine = engines("failed")
    old = engine.reindex(documents[:40]).index
    broken = [dict(d, surprise="a field mapping.json does not declare") for d in documents[:60]]

    with pytest.raises(IndexingError) as caught:
        engine.reindex(broken)

    assert set(caught.value.failures) == {d["id"] for d in broken}
    assert all("surprise" in reason for reason in caught.value.failures.values())
    assert sorted(client.indices.get_alias(name=engine.alias)) == [old]
    assert sorted(client.indices.get(index=f"{engine.alias}-*")) == [old]  # half-built one gone
    assert engine.count() == 40


def test_a_reindex_in_many_chunks_in_flight_names_what_is_refused_in_any_of_them(
    engines, documents, client, monkeypatch
):
    # Small chunks, three in flight: refusals come back from chunks answered out of order.
    monkeypatch.setattr(index_module, "REBUILD_CHUNK_BYTES", 64 * 1024)
    engine = OpenSearchEngine(client, prefix=engines("chunks").prefix, bulk_threads=3)
    docs = documents[:1500]
    bad = {n: dict(docs[n], cme_credits="lots") for n in (3, 700, 1499)}
    unencodable = dict(docs[900], title="\udfff")
    stream = [bad.get(n, d) for n, d in enumerate(docs)]
    stream[900] = unencodable

    stats = engine.reindex(iter(stream))

    assert set(stats.skipped) == {d["id"] for d in bad.values()} | {unencodable["id"]}
    assert all("cme_credits" in stats.skipped[d["id"]] for d in bad.values())
    assert stats.documents == 1496 == engine.count()
    assert engine.ids() == {d["id"] for d in docs} - set(stats.skipped)
    assert engine.documents([docs[0]["id"], docs[1498]["id"]]) == {
        docs[0]["id"]: docs[0],
        docs[1498]["id"]: docs[1498],
    }


def test_bulk_chunks_are_bounded_by_bytes_and_by_count(documents):
    refused: dict[int, str] = {}
    docs = documents[:600]
    big = dict(docs[10], description="x" * 30_000)  # larger than a chunk: sent alone
    stream = [*docs[:10], big, *docs[11:300], dict(docs[300], keywords=["\udfff"]), *docs[301:]]

    chunks = list(index_module.bulk_chunks(stream, refused, max_documents=50, max_bytes=20_000))

    assert refused == {docs[300]["id"]: "text is not valid Unicode"}
    sent = [doc_id for chunk in chunks for doc_id in chunk.ids]
    assert sent == [d["id"] for d in stream if d["id"] != docs[300]["id"]]
    assert [chunk.ids for chunk in chunks if chunk.size > 20_000] == [[big["id"]]]
    assert all(len(chunk.ids) <= 50 for chunk in chunks)
    assert any(chunk.size + 2_000 > 20_000 for chunk in chunks)  # bytes closed these
    for chunk in chunks:  # NDJSON: an action line naming the id, then the document as stored
        assert chunk.size == sum(map(len, chunk.lines))
        for doc_id, line in zip(chunk.ids, chunk.lines, strict=True):
            action, source, end = line.split(b"\n")
            assert json.loads(action) == {"index": {"_id": str(doc_id)}} and end == b""
            assert json.loads(source)["id"] == doc_id


def test_a_reindex_the_engine_stops_accepting_midway_fails_and_keeps_the_old_index(
    engines, documents, client, monkeypatch
):
    # A read-only index (what OpenSearch does when its disk fills) is the engine failing, not
    # documents refused: the rebuild raises, the half-built index goes, the old one serves.
    monkeypatch.setattr(index_module, "REBUILD_CHUNK_DOCUMENTS", 100)
    engine = engines("blocked")
    old = engine.reindex(documents[:40]).index

    def stream() -> Iterator[dict[str, Any]]:
        for n, doc in enumerate(documents[:1200]):
            if n == 600:
                (new,) = set(client.indices.get(index=f"{engine.alias}-*")) - {old}
                client.indices.put_settings(index=new, body={"index.blocks.write": True})
            yield doc

    with pytest.raises(IndexingError) as caught:
        engine.reindex(stream())

    assert caught.value.failures
    assert all("block" in reason for reason in caught.value.failures.values())
    assert sorted(client.indices.get_alias(name=engine.alias)) == [old]
    assert sorted(client.indices.get(index=f"{engine.alias}-*")) == [old]
    assert engine.count() == 40


def test_requests_are_compressed_unless_the_cluster_is_on_this_machine():
    local = ("http://127.0.0.1:9200", "http://localhost:9200", "https://[::1]:9200", "127.0.0.2")
    remote = ("https://search.example.org", "http://10.0.0.5:9200", "opensearch:9200")
    assert not any(index_module.compress_by_default(url) for url in local)
    assert all(index_module.compress_by_default(url) for url in remote)
    for url, configured, expected in (
        ("http://127.0.0.1:9200", None, False),
        ("https://search.example.org", None, True),
        ("http://127.0.0.1:9200", True, True),
        ("https://search.example.org", False, False),
    ):
        engine = OpenSearchEngine.from_config(url, "test-compress", compress=configured)
        assert engine.client.transport.kwargs["http_compress"] is expected
        engine.client.close()


def test_compression_and_bulk_threads_are_configured_from_the_environment(tmp_path):
    def configured(**env: str) -> OpenSearchEngine:
        config = Config.from_env(
            {"SEARCH_BACKEND": "opensearch", "DIRECTORY_DATA_DIR": str(tmp_path), **env}
        )
        engine = engine_from_config(config)
        assert isinstance(engine, OpenSearchEngine)
        engine.client.close()
        return engine

    default = configured()  # a cluster at 127.0.0.1: not compressed, two requests in flight
    assert (default.client.transport.kwargs["http_compress"], default.bulk_threads) == (False, 2)
    chosen = configured(OPENSEARCH_COMPRESS="1", OPENSEARCH_BULK_THREADS="4")
    assert (chosen.client.transport.kwargs["http_compress"], chosen.bulk_threads) == (True, 4)
    remote = configured(OPENSEARCH_URL="https://search.example.org", OPENSEARCH_COMPRESS="auto")
    assert remote.client.transport.kwargs["http_compress"] is True
    for name, value in (("OPENSEARCH_COMPRESS", "maybe"), ("OPENSEARCH_BULK_THREADS", "two")):
        with pytest.raises(ValueError, match=name):
            Config.from_env({name: value})


def test_upsert_creates_the_alias_and_delete_ignores_unknown_ids(engines, documents, client):
    engine = engines("writes")
    assert engine.count() == 0 and engine.ids() == set()
    engine.delete([documents[0]["id"]])  # nothing indexed yet: nothing to do

    engine.upsert(documents[:3])  # before any reindex: an index is created behind the alias
    (index,) = client.indices.get_alias(name=engine.alias)
    assert index != engine.alias
    # Visible at once (refresh=wait_for), replaced by id.
    engine.upsert([dict(documents[0], title="Renamed Zebrafish Course")])
    result = engine.search(SearchRequest(text="zebrafish"), TODAY)
    assert [h["id"] for h in result.hits] == [documents[0]["id"]]
    assert engine.count() == 3

    engine.delete([documents[0]["id"], 999_999_999])
    assert engine.ids() == {documents[1]["id"], documents[2]["id"]}
    assert engine.search(SearchRequest(text="zebrafish"), TODAY).total == 0

    # A document OpenSearch refuses, or that cannot be serialised, is named; the rest written.
    refused = engine.upsert([dict(documents[3], cme_credits="lots"), documents[4]])
    assert list(refused) == [documents[3]["id"]] and "cme_credits" in refused[documents[3]["id"]]
    assert engine.ids() == {d["id"] for d in documents[1:3]} | {documents[4]["id"]}
    # ... and the version it would have replaced is gone too.
    refused = engine.upsert([dict(documents[1], keywords=["\udfff"]), documents[5]])
    assert refused == {documents[1]["id"]: "text is not valid Unicode"}
    assert engine.ids() == {d["id"] for d in (documents[2], documents[4], documents[5])}
    assert engine.documents([documents[5]["id"], documents[1]["id"], 999_999_999]) == {
        documents[5]["id"]: documents[5]
    }


def test_mapping_json_is_the_one_definition_of_the_index(demo, client):
    declared = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    (index,) = client.indices.get_alias(name=demo.alias)
    created = client.indices.get(index=index)[index]

    mappings = created["mappings"]
    assert mappings["dynamic"] == declared["mappings"]["dynamic"] == "strict"
    assert mappings["dynamic_templates"] == declared["mappings"]["dynamic_templates"]
    assert set(mappings["properties"]) == set(declared["mappings"]["properties"])
    for name, spec in declared["mappings"]["properties"].items():
        actual = dict(mappings["properties"][name])
        if name in ("points", "deadlines"):  # one sub-field per board, from the templates
            by_board = actual.pop("properties")
            assert by_board["ABIM"] == (
                {"type": "float"} if name == "points" else {"type": "date", "format": "strict_date"}
            )
            actual.setdefault("type", "object")
        assert actual == spec, name

    assert created["settings"]["index"]["number_of_shards"] == "1"
    analysis = created["settings"]["index"]["analysis"]
    expected = copy.deepcopy(declared["settings"]["analysis"])
    assert analysis == _stringified(expected)
    # Synonyms are added to queries (indexer.text), never baked into the index.
    assert "synonym" not in json.dumps(created["settings"])


def _stringified(value: Any) -> Any:
    """Settings come back with every scalar as a string."""
    if isinstance(value, dict):
        return {k: _stringified(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringified(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- analysis --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mi", {1, 2}),
        ("heart attack", {1, 2}),
        ("heart attacks", {1, 2}),
        ("myocardial infarction", {1, 2}),
        ('"heart attack"', {1, 2}),
        ("afib", {3, 4}),
        ("atrial fibrillation", {3, 4}),
        ("copd", {5, 6}),
        ("chronic obstructive pulmonary disease", {5, 6}),
        ("t2dm", {7, 8}),
        ("type 2 diabetes", {7, 8}),
    ],
)
def test_clinical_synonyms_match_both_ways(text_engine, text, expected):
    assert found(text_engine, text) == expected


@pytest.mark.parametrize("text", ["sjogren", "Sjögren", "SJOGREN", "sjogrens", "sjögren's"])
def test_accents_and_possessives_are_folded(text_engine, text):
    assert found(text_engine, text) == {9, 10}


@pytest.mark.parametrize(
    ("text", "expected"), [("pediatrics", {11}), ("asthmas pediatric", {11}), ("diabetic", {7})]
)
def test_english_stemming(text_engine, text, expected):
    result = text_engine.search(SearchRequest(text=text), TODAY)
    assert {h["id"] for h in result.hits} == expected
    assert result.corrected_text is None  # found as is, not as a typo


@pytest.mark.parametrize(
    ("typo", "corrected", "expected"),
    [("cardiolgy", "cardiology", {12}), ("diabetis", "diabetes", {7}), ("Sleap", "sleep", {13})],
)
def test_a_typo_is_corrected_when_nothing_matches(text_engine, typo, corrected, expected):
    result = text_engine.search(SearchRequest(text=typo), TODAY)
    assert {h["id"] for h in result.hits} == expected
    assert result.corrected_text == corrected


def test_no_correction_without_a_close_word_or_when_something_matches(text_engine, demo):
    nothing = text_engine.search(SearchRequest(text="zyxwvut"), TODAY)
    assert nothing.total == 0 and nothing.corrected_text is None
    exact = text_engine.search(SearchRequest(text="cardiology"), TODAY)
    assert exact.corrected_text is None
    # On the demo data, a corrected query finds what the correct spelling finds.
    right = demo.search(SearchRequest(text="cardiology"), TODAY)
    typo = demo.search(SearchRequest(text="cardiolgy"), TODAY)
    assert typo.corrected_text == "cardiology"
    assert typo.total == right.total > 0
    assert typo.hits == right.hits


# --- facets and sorting ----------------------------------------------------------------------


def test_facet_counts_are_disjunctive(demo, documents):
    everything = demo.search(SearchRequest(), TODAY)
    abim = demo.search(SearchRequest(filters={"board": ("ABIM",)}), TODAY)

    assert abim.counts("board") == everything.counts("board")
    assert abim.total == everything.counts("board")["ABIM"]
    with_abim = [d for d in documents if "ABIM" in d["board"]]
    assert abim.counts("format") == dict(Counter(d["format"] for d in with_abim))
    assert abim.counts("format") != everything.counts("format")
    assert [v.value for v in abim.facet("board").values if v.selected] == ["ABIM"]


def test_provider_values_are_labelled_with_the_provider_name(demo, documents):
    names = {d["provider"]: d["provider_name"] for d in documents}
    result = demo.search(SearchRequest(), TODAY)
    assert {v.value: v.label for v in result.facet("provider").values} == {
        v: names[v] for v in result.counts("provider")
    }

    # A selected provider that nothing matches any more still reads as its name, count 0.
    provider = documents[0]["provider"]
    request = SearchRequest(filters={"provider": (provider, "no-such-provider")}, credits_min=999)
    values = {v.value: v for v in demo.search(request, TODAY).facet("provider").values}
    assert (values[provider].label, values[provider].count) == (names[provider], 0)
    assert values[provider].selected
    assert values["no-such-provider"].label == "no-such-provider"


def test_sorting_by_a_board_no_document_has(demo, documents):
    # points.ZZZ and deadlines.ZZZ are not mapped: unmapped_type / the script handle them.
    for sort in ("points", "deadline"):
        request = SearchRequest(filters={"board": ("ZZZ",)}, sort=sort)
        assert demo.search(request, TODAY).total == 0
    request = SearchRequest(filters={"board": ("ABIM", "ZZZ")}, sort="deadline", per_page=100)
    hits = demo.search(request, TODAY).hits
    deadlines = [h["deadlines"].get("ABIM") for h in hits]
    dated = [d for d in deadlines if d]
    assert dated == sorted(dated) and deadlines[: len(dated)] == dated


def test_an_index_built_before_places_and_mandates_answers_until_rebuilt(
    engines, documents, client
):
    """An index whose mapping has no `locations`, `topic` or `mandate` (built by an older
    version, not yet rebuilt by `directory index`): a distance search finds nothing, sorted
    by distance or not, and the mandate and topic facets count nothing; nothing fails. A
    sync's upsert gives it the fields first, so the documents it writes are not refused."""
    from dataclasses import replace

    from directory.registry.places import Place, Point
    from directory.registry.reference import reference
    from directory.search import parse_request

    engine: OpenSearchEngine = engines("before-places")
    body = index_module.index_definition()
    added = ("locations", "topic", "mandate", "approvals")
    for name in added:
        del body["mappings"]["properties"][name]
    body["aliases"] = {engine.alias: {}}
    client.indices.create(index=f"{engine.alias}-20260101t000000000000", body=body)
    old = [{k: v for k, v in d.items() if k not in added} for d in documents[:50]]
    for d in old:
        d["occurrences"] = []
    client.bulk(
        body=[x for d in old for x in ({"index": {"_index": engine.alias, "_id": d["id"]}}, d)],
        refresh=True,
    )
    assert engine.search(SearchRequest(), TODAY).total > 0
    nearby = parse_request({"near": "Chicago, IL", "within": "500"})
    for request in (nearby, replace(nearby, sort="distance")):
        assert engine.search(request, TODAY).total == 0
    anywhere = replace(nearby, near_place=Place("anywhere", Point(0.0, 0.0)), include_online=True)
    online = engine.search(anywhere, TODAY)
    assert online.total == sum(d["delivery"] in ("online", "both") for d in old) > 0
    assert engine.search(SearchRequest(), TODAY).counts("mandate") == {}

    placed = next(d for d in documents if d["locations"] and d["id"] not in {o["id"] for o in old})
    assert engine.upsert([placed]) == {}
    where = Place("there", Point(**placed["locations"][0]))
    assert ids_of(engine.search(replace(nearby, near_place=where), TODAY)) == {placed["id"]}
    # Written again, an old document is found by its places and counted by its mandates.
    rule = next(iter(reference().mandates.values()))
    again = dict(
        next(d for d in documents[:50] if d["locations"]), topic=[rule.topics[0]], mandate=[rule.id]
    )
    assert engine.upsert([again]) == {}
    where = Place("there", Point(**again["locations"][0]))
    assert again["id"] in ids_of(engine.search(replace(nearby, near_place=where), TODAY))
    assert engine.search(SearchRequest(), TODAY).counts("mandate") == {rule.id: 1}


def ids_of(result: Any) -> set[int]:
    return {h["id"] for h in result.hits}


def test_the_last_page_of_the_result_window_is_cut_short(demo):
    # page 334 of 30 starts at 9,990: OpenSearch would refuse from + size = 10,020.
    result = demo.search(SearchRequest(page=334, per_page=30), TODAY)
    assert result.hits == () and result.total > 0


# --- typeahead -------------------------------------------------------------------------------


def test_suggest_offers_practice_areas_and_titles(demo):
    suggestions = demo.suggest("cardio")
    kinds = {s.kind for s in suggestions}
    assert {"title", "practice_area"} <= kinds
    assert len(suggestions) <= 8
    assert len({s.text for s in suggestions}) == len(suggestions)
    for s in suggestions:
        assert any(w.startswith("cardio") for w in re.findall(r"\w+", s.text.lower())), s


def test_suggest_providers_accents_and_several_words(demo):
    assert ("Lakeshore University School of Medicine", "provider") in {
        (s.text, s.kind) for s in demo.suggest("lakesh")
    }
    assert any("Sjögren" in s.text for s in demo.suggest("sjog"))
    two_words = demo.suggest("heart fail", limit=20)
    assert two_words
    assert all(
        re.search(r"\bheart\b", s.text, re.I) and re.search(r"\bfail", s.text, re.I)
        for s in two_words
    )
    assert demo.suggest("   ") == []
    assert len(demo.suggest("cardio", limit=3)) == 3


# --- an engine that cannot answer ------------------------------------------------------------


def test_an_unreachable_engine_is_search_unavailable():
    client = OpenSearch(hosts=["http://127.0.0.1:9"], timeout=2, max_retries=0)
    engine = OpenSearchEngine(client, prefix="test-unreachable")
    for call in (
        lambda: engine.search(SearchRequest(text="cardiology"), TODAY),
        lambda: engine.suggest("cardio"),
        lambda: engine.count(),
        lambda: engine.documents([1]),
        lambda: engine.reindex([]),
    ):
        with pytest.raises(SearchUnavailable) as caught:
            call()
        message = str(caught.value)
        assert message == "the search engine cannot be reached"
    # A write fails as a whole, never as documents "refused".
    with pytest.raises(IndexingError) as failed:
        engine.upsert([{"id": 1, "title": "Sepsis"}])  # type: ignore[list-item]
    assert failed.value.failures == {1: "the search engine cannot be reached"}
    client.close()


def test_a_missing_index_is_unavailable_but_a_bad_query_is_a_bug(client, prefix):
    engine = OpenSearchEngine(client, prefix=f"{prefix}-never-built")
    with pytest.raises(SearchUnavailable, match="not been built"):
        engine.search(SearchRequest(), TODAY)
    assert engine.count() == 0 and engine.ids() == set()
    # A query OpenSearch cannot parse is a bug of ours: raised as is, not "unavailable".
    with pytest.raises(RequestError), _answering():
        client.search(index=f"{prefix}-*", body={"query": {"no_such_query": {}}})


def test_a_silent_engine_is_search_unavailable_after_the_timeout():
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        client = OpenSearch(hosts=[f"http://127.0.0.1:{port}"], timeout=0.5, max_retries=0)
        engine = OpenSearchEngine(client, prefix="test-silent")
        with pytest.raises(SearchUnavailable, match="did not answer in time"):
            engine.search(SearchRequest(), TODAY)
        client.close()


def test_engine_errors_and_bugs_are_told_apart():
    for status, message in ((429, "overloaded"), (503, "failed")):
        with pytest.raises(SearchUnavailable, match=message), _answering():
            raise TransportError(status, "some_exception", {})
    with pytest.raises(RequestError), _answering():
        raise RequestError(400, "parsing_exception", {})


def test_corrections_keep_the_rest_of_the_text_and_respect_the_typo_budget():
    def entry(word: str, *options: str) -> dict[str, Any]:
        return {"text": word, "options": [{"text": o} for o in options]}

    def corrected(text: str, *entries: dict[str, Any]) -> str | None:
        plan = understand(text)
        return plan.with_corrections(_corrections(plan, list(entries))).corrected_text(text)

    assert corrected("Cardiolgy Board Review", entry("cardiolgy", "cardiology")) == (
        "cardiology Board Review"
    )
    assert corrected("Sjogrin's eyes", entry("sjogrin", "sjogren")) == "sjogren's eyes"
    # Fuzziness AUTO: one edit up to five letters, two from six.
    assert corrected("gaut", entry("gaut", "gout")) == "gout"
    assert corrected("gaot", entry("gaot", "goat", "gout")) == "goat"
    assert corrected("gxxt", entry("gxxt", "gout")) is None
    assert corrected("hypertensoin", entry("hypertensoin", "hypertension")) == "hypertension"


def test_drop_leaves_no_index_of_its_prefix(
    client: OpenSearch, prefix: str, documents: list[dict[str, Any]]
) -> None:
    """Dropping takes the generation's index with the activities' (a write made it)."""
    engine = OpenSearchEngine(client, prefix=f"{prefix}-dropped")
    engine.reindex(documents[:3])
    engine.upsert(documents[3:4])
    built = engine.generation()
    assert client.indices.exists(index=engine.generation_index)
    engine.drop()
    assert not client.indices.get(index=f"{prefix}-dropped-*", ignore_unavailable=True)
    assert engine.generation() not in (built, "")
    assert engine.generation().startswith("unbuilt/")
