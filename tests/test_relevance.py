"""Search relevance floors, run unchanged against both engines (like the contract suite).

The corpus is `tests/relevance/corpus.toml`: hand-written activities as providers register
them, loaded through the real batch importer and indexed with `full_reindex`
(`bench/relevance.py` builds it; `.venv/bin/python -m bench.relevance` prints nDCG@10 per
query and the means, which go in BENCHMARKS.md). The queries and their graded judgements are
`tests/relevance/judgements.toml`.

This is not a score test. nDCG moves with every ranking change and its mean belongs in
BENCHMARKS.md, not in an assertion. What is asserted is a floor no reasonable change should
break, per query: some target (a best answer, as judged) is among the first
`FLOOR[category]` hits of the engine's own relevance-ordered search.

- Top 3 for every category. A physician reads the first few results; the best answer must
  be among them whether the query is an abbreviation, a lay term, a procedure, a specialty,
  a drug class, an eponym or two or three words spread over the title, practice area,
  board and provider.
- Top 5 for misspellings: the query must first be corrected to some indexed word, and which
  word is nearest depends on the corpus's vocabulary as much as on the engine (a one-edit
  neighbour that is not the intended word can exist), so the floor allows for a correction
  that lands near, not on, the intended query.

Queries that miss their floor today, before the query-side changes, are listed by engine in
`FAILING_TODAY` with the reason, and run as strict xfails: a query fixed and still listed
fails the run, so remove its entry (for that engine) when it passes.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bench.relevance import (
    CATEGORIES,
    build_registry,
    graded_twice,
    index_corpus,
    judgement_problems,
    keys_by_id,
    load_corpus,
    load_judgements,
    ndcg_at_k,
    ranked_keys,
    target_rank,
)
from tests.test_search_contract import make_engine_for

ENGINES = ("embedded", "opensearch")
FLOOR = {category: 3 for category in CATEGORIES} | {"misspelling": 5}

# The queries whose floor fails today, measured before the query-side changes
# (BENCHMARKS.md, "Search relevance"): query -> {engine: why}. Remove an engine (or the
# query) once it passes; the xfail is strict.
FAILING_TODAY: dict[str, dict[str, str]] = {}

QUERIES = load_judgements()


# --- the judged set itself --------------------------------------------------------------------


def test_the_judged_set_is_whole():
    corpus = load_corpus()
    problems = judgement_problems(QUERIES, corpus.keys) + graded_twice()
    assert not problems, problems
    assert len(corpus.keys) == len(set(corpus.keys)) >= 120
    assert len(QUERIES) >= 60
    counts = Counter(q.category for q in QUERIES)
    assert set(counts) == set(CATEGORIES), counts
    assert min(counts.values()) >= 5, counts
    assert not set(FAILING_TODAY) - {q.text for q in QUERIES}, "FAILING_TODAY names unknown queries"


def test_ndcg_is_the_standard_one():
    grades = {"a": 3, "b": 2, "c": 1}
    assert ndcg_at_k(["a", "b", "c"], grades) == pytest.approx(1.0)
    # Gain 2^rel - 1, discount log2(rank + 1); the ideal is over every judged activity, so a
    # missing one costs even when what is shown is in the best order.
    ideal = 7 + 3 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["a"], grades) == pytest.approx(7 / ideal)
    assert ndcg_at_k(["x", "a"], grades) == pytest.approx((7 / math.log2(3)) / ideal)
    assert ndcg_at_k(["x"] * 10 + ["a"], grades) == 0.0  # only the top 10 count
    assert target_rank(["x", "b", "a"], ("a", "b")) == 2
    assert target_rank(["x"], ("a",)) is None


# --- both engines -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_registry(tmp_path_factory):
    """The corpus in a fresh SQLite registry, through the batch importer (all listed)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('relevance') / 'registry.sqlite3'}"
    sessions, corpus = build_registry(url)
    yield sessions, corpus, keys_by_id(sessions)
    sessions.kw["bind"].dispose()


@pytest.fixture(scope="module", params=ENGINES)
def search_engine(request, corpus_registry, tmp_path_factory):
    sessions, corpus, _ = corpus_registry
    engine, cleanup = make_engine_for(request.param, tmp_path_factory)
    index_corpus(sessions, engine, request.param, corpus)  # raises unless every one is indexed
    yield request.param, engine
    cleanup()


@pytest.mark.parametrize("query", QUERIES, ids=[q.text for q in QUERIES])
def test_a_target_is_near_the_top(search_engine, query, corpus_registry, request):
    name, engine = search_engine
    why = FAILING_TODAY.get(query.text, {}).get(name)
    if why:
        request.applymarker(pytest.mark.xfail(strict=True, reason=why))
    _, corpus, key_of = corpus_registry
    ranked, corrected = ranked_keys(engine, query.text, corpus.today, key_of)
    floor = FLOOR[query.category]
    rank = target_rank(ranked, query.targets)
    shown = f" (corrected to {corrected!r})" if corrected else ""
    assert rank is not None and rank <= floor, (
        f"{query.text!r}{shown}: no target {list(query.targets)} in the top {floor}; "
        f"got {list(ranked[:floor])}, target rank {rank}"
    )
