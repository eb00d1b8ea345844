"""The shared query understanding of `indexer.text` and the synonym groups it reads."""

from __future__ import annotations

import re

import pytest

from indexer.synonyms import distinct_rules, synonym_groups
from indexer.text import (
    QueryPlan,
    ascii_words,
    concept_weights,
    minimum_should_match,
    stems,
    strip_possessives,
    understand,
)


def test_every_synonym_term_is_plain_and_in_one_group_only():
    seen: dict[tuple[str, ...], int] = {}
    for i, group in enumerate(synonym_groups()):
        assert len(group) > 1, group
        for term in group:
            assert re.fullmatch(r"[a-z0-9]+( [a-z0-9]+)*", term), term
            key = stems(ascii_words(term))
            assert seen.setdefault(key, i) == i, (term, synonym_groups()[seen[key]], group)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Crohn's disease", "Crohn disease"),
        ("Crohn\u2019s", "Crohn"),
        ("Physicians' Guide", "Physicians' Guide"),
        ("it's", "it"),
    ],
)
def test_possessives(text, expected):
    assert strip_possessives(text) == expected


def test_all_concepts_up_to_two_then_most():
    assert [minimum_should_match(n) for n in range(1, 9)] == [1, 2, 2, 3, 4, 5, 6, 6]


def test_typed_words_are_kept_and_synonyms_added():
    plan = understand("Heart attacks in the ED")
    assert [c.words for c in plan.concepts] == [("heart", "attacks"), ("ed",)]
    assert ("myocardial", "infarction") in plan.concepts[0].alternatives
    assert plan.minimum == 2


def test_words_run_together_or_apart_find_the_same_group():
    for text in ["a-fib", "afib", "a fib"]:
        [concept] = understand(text).concepts
        assert ("atrial", "fibrillation") in concept.alternatives, text


def test_quoted_phrases_are_required_and_stopwords_are_dropped():
    plan = understand('"heart failure" in the elderly')
    assert [(c.words, c.quoted) for c in plan.concepts] == [
        (("heart", "failure"), True),
        (("elderly",), False),
    ]
    assert plan.minimum == 2
    assert [c.words for c in understand("the").concepts] == [("the",)]
    assert understand("?!").concepts == ()


def test_corrections_are_added_not_substituted():
    plan = understand("Cardiolgy board review").with_corrections({"cardiolgy": "cardiology"})
    [typo, *_] = plan.concepts
    assert typo.words == ("cardiolgy",) and typo.corrected == "cardiology"
    assert typo.alternatives[0] == ("cardiology",)  # then cardiology's own synonyms
    assert plan.corrected_text("Cardiolgy board review") == "cardiology board review"
    assert QueryPlan(()).corrected_text("x") is None


def test_rare_concepts_weigh_more_when_partial_matches_count():
    rare, common = concept_weights([10, 900], 1000, minimum=1)
    assert rare > common and abs(rare + common - 2) < 1e-9
    assert concept_weights([10, 900], 1000, minimum=2) == (1.0, 1.0)


def test_a_distinct_condition_contains_its_term_and_is_not_held_against_a_query_naming_it():
    for term, others in distinct_rules():
        for other in others:
            assert f" {term} " in f" {other} " and other != term, (term, other)
    [htn] = understand("HTN").concepts  # the group's term "hypertension" has the rule
    assert ("pulmonary", "hypertension") in htn.distinct
    assert ("diabetes", "insipidus") in understand("diabetes").concepts[0].distinct
    *_, hypertension = understand("pulmonary hypertension").concepts
    assert ("pulmonary", "hypertension") not in hypertension.distinct
    assert ("pulmonary", "arterial", "hypertension") not in hypertension.distinct  # a kind of it
    assert ("portal", "hypertension") in hypertension.distinct
    assert understand("asthma").concepts[0].distinct == ()
