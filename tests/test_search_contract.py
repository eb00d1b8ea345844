"""The search contract (indexer/engine.py), run unchanged against both engines.

The corpus is 2,400 generated activities plus a few hand-made ones whose words and dates
the text and sort cases rely on. Facet counts are checked against SQL written here,
directly over the registry tables: a second, independent statement of the listing rules.
"""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from directory.demo import generate_into
from directory.registry import places
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.registry.reference import FEDERAL, Mandate, reference
from directory.search import FACETS, SearchRequest, SearchRequestError, parse_request
from indexer.embedded import EmbeddedEngine
from indexer.sync import full_reindex, iter_documents, registry_listed_ids
from tests import factories as f
from tests.factories import TODAY
from tests.opensearch_server import connect_or_skip, delete_indices, unique_index_prefix

CORPUS = 2400
DAY = timedelta(days=1)


def special_activities():
    """Hand-made listings with known words, dates and registrations (ids 1-99)."""
    pediatrics = f.provider(id=9001, name="Riverside Children's Hospital")
    northfield = f.provider(id=9000, name="Northfield Academy of Medicine")
    made = [
        f.activity(
            id=1,
            provider_activity_id="S1",
            title="Myocardial Infarction: Management in the First 24 Hours",
            description="Reperfusion strategies.",
            keywords=[],
            objectives=["Select a reperfusion strategy"],
        ),
        f.activity(
            id=2,
            provider_activity_id="S2",
            title="Atrial Fibrillation Anticoagulation Update",
            description="Stroke prevention.",
            keywords=[],
        ),
        f.activity(
            id=3,
            provider_activity_id="S3",
            title="Pediatric Asthma in the Emergency Department",
            provider=pediatrics,
            keywords=[],
            moc=[f.abim(practice_areas=["Pulmonary Disease"])],
        ),
        f.activity(
            id=4,
            provider_activity_id="S4",
            title="Diabetic Ketoacidosis Protocols",
            description="Fluids and insulin.",
            keywords=[],
        ),
        f.activity(
            id=5,
            provider_activity_id="S5",
            title="Sjögren Disease: Beyond Dry Eyes",
            description="Extraglandular disease.",
            keywords=[],
            moc=[f.abim(practice_areas=["Rheumatology"])],
        ),
        # Complete for ABIM, missing content areas for ABA: found under ABIM, never under ABA.
        f.activity(
            id=6,
            provider_activity_id="S6",
            title="Perioperative Anticoagulation Bridging",
            keywords=[],
            moc=[f.abim(), f.aba(content_areas=[])],
        ),
        # Ended yesterday: must not be found.
        f.activity(
            id=7,
            provider_activity_id="S7",
            title="Xylophone Expired Course Zymurgy",
            start_date=TODAY - 3 * DAY,
            end_date=TODAY - DAY,
            keywords=[],
        ),
        # Title match vs description-only match, for relevance.
        f.activity(
            id=8,
            provider_activity_id="S8",
            title="Cardiology Board Review Intensive",
            description="A broad review.",
            keywords=[],
        ),
        f.activity(
            id=9,
            provider_activity_id="S9",
            title="Grand Rounds Potpourri",
            description="Includes one session touching on cardiology topics.",
            keywords=[],
        ),
        f.activity(
            id=10,
            provider_activity_id="S10",
            title="Heart Failure Clinic Workshop",
            description="Failure of the heart to pump is covered.",
            keywords=[],
        ),
        # Held in Anchorage and streamed: its place counts, as an in-person one's does.
        f.activity(
            id=11,
            provider_activity_id="S11",
            title="Zebrafish Models of Cardiomyopathy Symposium",
            description="Live in Anchorage and streamed.",
            keywords=[],
            objectives=["Compare animal models"],
            delivery="both",
            city="Anchorage",
            state="AK",
            country="US",
        ),
        # Online only, though its row still names a place: that place never counts.
        f.activity(
            id=12,
            provider_activity_id="S12",
            title="Zebrafish Models of Cardiomyopathy Webinar",
            description="Online only.",
            keywords=[],
            objectives=["Compare animal models"],
            delivery="online",
            city="Boise",
            state="ID",
            country="US",
        ),
        # Query understanding (tests below): a synonym term whose words sit in two fields...
        f.activity(
            id=13,
            provider_activity_id="S13",
            title="Obstructive Apnea: CPAP Adherence Clinic",
            description="Masks, pressures and follow-up.",
            keywords=[],
            objectives=["Improve adherence"],
            moc=[f.abim(practice_areas=["Sleep Medicine"])],
        ),
        # ... an eponym with a possessive ...
        f.activity(
            id=14,
            provider_activity_id="S14",
            title="Crohn's Disease: Biologics in Practice",
            description="Induction and maintenance.",
            keywords=[],
            objectives=["Choose a biologic"],
            moc=[f.abim(practice_areas=["Gastroenterology"])],
        ),
        # ... every word of a three-word query, against activity 3's two of three ...
        f.activity(
            id=15,
            provider_activity_id="S15",
            title="Pediatric Asthma Guidelines Update",
            description="What changed this year.",
            keywords=[],
            objectives=["Apply the update"],
            moc=[f.abim(practice_areas=["Pulmonary Disease"])],
        ),
        # ... procedures as surgeons and patients name them ...
        f.activity(
            id=16,
            provider_activity_id="S16",
            title="Hip Replacement Outcomes Registry",
            description="Registry data.",
            keywords=[],
            objectives=["Read registry data"],
            moc=[f.abim(practice_areas=["Internal Medicine"])],
        ),
        f.activity(
            id=17,
            provider_activity_id="S17",
            title="Hip Arthroplasty After Femoral Neck Fracture",
            description="Hemiarthroplasty or total.",
            keywords=[],
            objectives=["Choose the implant"],
            moc=[f.abim(practice_areas=["Internal Medicine"])],
        ),
        f.activity(
            id=18,
            provider_activity_id="S18",
            title="Knee Arthroplasty Pain Pathways",
            description="Multimodal analgesia.",
            keywords=[],
            objectives=["Plan analgesia"],
            moc=[f.abim(practice_areas=["Internal Medicine"])],
        ),
        f.activity(
            id=19,
            provider_activity_id="S19",
            title="Tonsillectomy in Adults",
            description="Indications and bleeding.",
            keywords=[],
            objectives=["Select patients"],
            moc=[f.abim(practice_areas=["Internal Medicine"])],
        ),
        f.activity(
            id=20,
            provider_activity_id="S20",
            title="Lateral Epicondylitis Injection Techniques",
            description="Office procedures.",
            keywords=[],
            objectives=["Inject safely"],
            moc=[f.abim(practice_areas=["Sports Medicine"])],
        ),
        f.activity(
            id=21,
            provider_activity_id="S21",
            title="Open Inguinal Herniorrhaphy Workshop",
            description="Mesh and tissue techniques.",
            keywords=[],
            objectives=["Compare techniques"],
            moc=[f.abim(practice_areas=["Internal Medicine"])],
        ),
        f.activity(
            id=22,
            provider_activity_id="S22",
            title="Obstetric Hemorrhage After Cesarean Delivery",
            description="Drills for the labor floor.",
            keywords=[],
            objectives=["Run a drill"],
            moc=[f.abim(practice_areas=["Internal Medicine"])],
        ),
        # Two activities alike in every searched word: the sooner one first, then more credits.
        *(
            f.activity(
                id=i,
                provider_activity_id=f"S{i}",
                title="Quokka Zoonoses Seminar",
                description="Marsupial zoonoses.",
                keywords=[],
                objectives=["Name the zoonoses"],
                start_date=TODAY + days * DAY,
                end_date=TODAY + (days + 1) * DAY,
                cme_credits=credits,
                moc=[f.abim(practice_areas=["Infectious Disease"])],
            )
            for i, days, credits in [(23, 40, 2.0), (24, 20, 2.0), (25, 40, 3.0)]
        ),
    ]
    for a in made:
        if a.provider.id == 1:
            a.provider = northfield
    return made


def approved_rule() -> Mandate:
    """A mandate that counts only courses its approver approved (the first in the data)."""
    return next(m for m in reference().mandates.values() if m.approved_only and m.approver)


def other_approver(rule: Mandate) -> str:
    """An approving body that is not the rule's own."""
    return next(code for code in reference().approvers if code != rule.approver)


def federal_rule() -> Mandate:
    """A federal mandate (every physician's, whatever state) that counts any tagged course."""
    return next(
        m
        for m in reference().mandates.values()
        if m.jurisdiction == FEDERAL and not m.approved_only
    )


def mandate_activities():
    """Tagged listings (ids 101-199), the rules they meet picked from the reference data: an
    approved-only rule's topic with and without its approver's approval ("Okapi"), each topic
    of a federal rule ("Narwhal"), and a spread of tags and approvals over many more."""
    import random

    ref = reference()
    approved, federal = approved_rule(), federal_rule()
    topic = approved.topics[0]
    provider = f.provider(id=9002, name="Bayside Licensure Education")

    def tagged(id, title, **fields):
        return f.activity(
            id=id, provider_activity_id=f"M{id}", provider=provider, title=title,
            keywords=[], **fields,
        )  # fmt: skip

    made = [
        tagged(101, "Okapi Approved", topics=[topic], approvals=[f.approval(approved.approver)]),
        tagged(102, "Okapi Unapproved", topics=[topic]),
        tagged(103, "Okapi Elsewhere", topics=[topic],
               approvals=[f.approval(other_approver(approved))]),
        # An approval without its id is not one.
        tagged(104, "Okapi Unnumbered", topics=[topic],
               approvals=[f.approval(approved.approver, id="")]),
        # The approval alone, with no tag: a course on some other subject.
        tagged(105, "Okapi Untagged", approvals=[f.approval(approved.approver)]),
    ]  # fmt: skip
    for n, code in enumerate(federal.topics):
        made.append(tagged(110 + n, f"Narwhal {code}", topics=[code]))
    others = [t for t in ref.topics if t not in federal.topics]
    # A federal topic with another one, and a tag that is no topic (not counted).
    made.append(tagged(130, "Narwhal Mixed", topics=[federal.topics[0], others[0], "no-such-tag"]))
    rng = random.Random(5)
    codes, bodies = list(ref.topics), list(ref.approvers)
    for i in range(140, 200):
        made.append(
            tagged(
                i,
                f"Licensure Update {i}",
                topics=rng.sample(codes, rng.randint(1, 3)),
                approvals=[f.approval(b) for b in rng.sample(bodies, rng.randint(0, 2))],
                delivery=rng.choice(["in person", "online", "both"]),
                fee_cents=rng.choice([0, 5000]),
            )
        )
    return made


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'registry.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    generate_into(engine, count=CORPUS, seed=42, today=TODAY)
    with Session(engine) as session:
        session.add_all(special_activities())
        session.add_all(mandate_activities())
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sessions(registry):
    return make_sessionmaker(registry)


def make_engine_for(kind, tmp_path_factory):
    if kind == "embedded":
        return EmbeddedEngine(tmp_path_factory.mktemp("embedded") / "search.sqlite3"), lambda: None
    from indexer.opensearch import OpenSearchEngine

    client = connect_or_skip()
    prefix = unique_index_prefix("contract")
    return OpenSearchEngine(client, prefix=prefix), lambda: delete_indices(client, prefix)


@pytest.fixture(scope="module", params=["embedded", "opensearch"])
def search_engine(request, sessions, tmp_path_factory):
    engine, cleanup = make_engine_for(request.param, tmp_path_factory)
    full_reindex(sessions, engine, f"contract-{request.param}", TODAY)
    yield engine
    cleanup()


def search(engine, **args):
    return engine.search(parse_request(args), TODAY)


def ids(result):
    return {h["id"] for h in result.hits}


# --- the registry, in SQL, independently of the indexer ---------------------------------------


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def facet_value_sql() -> str:
    ref = reference()
    topics = ", ".join(_quoted(t) for t in ref.topics)
    # One row per (rule, topic): a tag of any of its topics meets it, with the approval of its
    # approver where it counts only approved courses.
    rules = ", ".join(
        f"({_quoted(m.id)}, {_quoted(t)}, {int(m.approved_only)}, {_quoted(m.approver or '')})"
        for m in ref.mandates.values()
        for t in m.topics
    )
    good = ", ".join(f"'{s}'" for s in sorted(ref.good_standing))
    abpmr = ref.boards["ABPMR"]
    pmr = ", ".join(
        "'" + s.replace("'", "''") + "'"
        for s in sorted(set(abpmr.specialties) | set(abpmr.practice_areas))
    )
    return f"""
    WITH listed AS (
        SELECT a.* FROM activities a JOIN providers p ON p.id = a.provider_id
        WHERE a.status = 'Active' AND a.show_in_directory = 1 AND a.end_date >= :today
          AND a.start_date <= a.end_date AND p.accreditation_status IN ({good})
          AND a.delivery IS NOT NULL AND a.cme_credits > 0 AND a.providership IS NOT NULL
          AND a.description IS NOT NULL AND trim(a.description) <> ''
          AND a.fee_cents IS NOT NULL AND a.registration IS NOT NULL AND a.url IS NOT NULL
          AND (a.delivery = 'online' OR (a.city IS NOT NULL AND a.country IS NOT NULL
               AND (a.country NOT IN ('US', 'CA') OR a.state IS NOT NULL)))
    ),
    counted AS (
        SELECT m.* FROM moc_registrations m JOIN listed a ON a.id = m.activity_id
        WHERE json_array_length(m.practice_areas) > 0 AND json_array_length(m.credit_types) > 0
          AND m.points > 0 AND m.points <= a.cme_credits AND m.attested = 1
          AND m.claim_deadline >= :today
          AND (m.board <> 'ABA' OR json_array_length(m.content_areas) BETWEEN 1 AND 2)
    ),
    rules(mandate, topic, approved_only, approver) AS (VALUES {rules}),
    tags AS (
        SELECT l.id, j.value AS topic FROM listed l, json_each(l.topics) j
        WHERE j.value IN ({topics})
    ),
    approved AS (
        SELECT l.id, json_extract(j.value, '$.body') AS body FROM listed l, json_each(l.approvals) j
        WHERE coalesce(json_extract(j.value, '$.id'), '') <> ''
    ),
    places AS (
        SELECT id, state, country FROM listed WHERE delivery <> 'online'
        UNION SELECT o.activity_id, o.state, o.country FROM occurrences o JOIN listed l ON l.id = o.activity_id
    ),
    fv(id, facet, value) AS (
        SELECT activity_id, 'board', board FROM counted
        UNION SELECT l.id, 'board', 'ABPMR' FROM listed l
          WHERE EXISTS (SELECT 1 FROM json_each(l.specialties) WHERE value IN ({pmr}))
             OR EXISTS (SELECT 1 FROM counted c, json_each(c.practice_areas) j
                        WHERE c.activity_id = l.id AND j.value IN ({pmr}))
        UNION SELECT c.activity_id, 'practice_area', c.board || ':' || j.value FROM counted c, json_each(c.practice_areas) j
        UNION SELECT c.activity_id, 'credit_type', c.board || ':' || j.value FROM counted c, json_each(c.credit_types) j
        UNION SELECT id, 'format', format FROM listed
        UNION SELECT id, 'delivery', delivery FROM listed
        UNION SELECT id, 'state', state FROM places WHERE state IS NOT NULL
        UNION SELECT id, 'country', country FROM places WHERE country IS NOT NULL
        UNION SELECT id, 'fee', CASE WHEN fee_cents = 0 THEN 'free' ELSE 'paid' END FROM listed
        UNION SELECT id, 'registration', registration FROM listed
        UNION SELECT id, 'mips', 'yes' FROM listed WHERE mips = 1
        UNION SELECT r.activity_id, 'rems', r.program FROM rems_registrations r JOIN listed l ON l.id = r.activity_id
          WHERE r.attested = 1 AND r.rpc_id IS NOT NULL AND trim(r.rpc_id) <> ''
        UNION SELECT id, 'provider', CAST(provider_id AS TEXT) FROM listed
        UNION SELECT id, 'topic', topic FROM tags
        UNION SELECT t.id, 'mandate', r.mandate FROM tags t JOIN rules r ON r.topic = t.topic
          WHERE r.approved_only = 0
             OR EXISTS (SELECT 1 FROM approved a WHERE a.id = t.id AND a.body = r.approver)
    )
    """


def sql_counts(registry, facet: str, selections: dict[str, list[str]]) -> dict[str, int]:
    """Disjunctive counts of one facet: every selection applies except the facet's own."""
    clauses, params = [], {"today": TODAY.isoformat(), "facet": facet}
    for i, (other, values) in enumerate(selections.items()):
        if other == facet:
            continue
        marks = ", ".join(f":v{i}_{j}" for j in range(len(values)))
        clauses.append(f"id IN (SELECT id FROM fv WHERE facet = :f{i} AND value IN ({marks}))")
        params[f"f{i}"] = other
        params.update({f"v{i}_{j}": v for j, v in enumerate(values)})
    where = " AND ".join(["facet = :facet", *clauses])
    sql = (
        facet_value_sql() + f"SELECT value, count(DISTINCT id) FROM fv WHERE {where} GROUP BY value"
    )
    with registry.connect() as conn:
        return dict(conn.execute(text(sql), params).fetchall())


def sql_total(registry, selections: dict[str, list[str]]) -> int:
    clauses, params = ["1"], {"today": TODAY.isoformat()}
    for i, (facet, values) in enumerate(selections.items()):
        marks = ", ".join(f":v{i}_{j}" for j in range(len(values)))
        clauses.append(f"id IN (SELECT id FROM fv WHERE facet = :f{i} AND value IN ({marks}))")
        params[f"f{i}"] = facet
        params.update({f"v{i}_{j}": v for j, v in enumerate(values)})
    sql = facet_value_sql() + f"SELECT count(*) FROM listed WHERE {' AND '.join(clauses)}"
    with registry.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


SELECTIONS = [
    {},
    {"board": ["ABIM"]},
    {"board": ["ABIM", "ABA"], "format": ["Course"]},
    {"fee": ["free"], "delivery": ["online"]},
    {
        "practice_area": ["ABIM:Cardiovascular Disease", "ABP:General Pediatrics"],
        "credit_type": ["ABIM:Medical Knowledge"],
    },
    {"state": ["CA", "NY", "TX"], "registration": ["open to all"], "mips": ["yes"]},
    {"board": ["ABPMR"], "country": ["US"]},
    {"delivery": ["both"]},
    {"delivery": ["in person"], "state": ["CA", "NY", "TX"], "fee": ["paid"]},
    {"delivery": ["online", "both"], "board": ["ABIM"], "format": ["Course"]},
    {"delivery": ["in person", "both"], "country": ["US", "CA"]},
    {"mandate": [federal_rule().id]},
    {"mandate": [approved_rule().id, federal_rule().id], "fee": ["free"]},
    {"topic": list(federal_rule().topics), "delivery": ["online", "both"]},
    {"topic": [approved_rule().topics[0]], "mandate": [approved_rule().id]},
]


@pytest.mark.parametrize("selections", SELECTIONS, ids=[",".join(s) or "none" for s in SELECTIONS])
def test_every_facet_count_equals_the_registry_in_sql(search_engine, registry, selections):
    result = search_engine.search(
        SearchRequest(filters={k: tuple(v) for k, v in selections.items()}), TODAY
    )
    assert result.total == sql_total(registry, selections)
    assert result.total > 0
    for facet in FACETS:
        expected = sql_counts(registry, facet.name, selections)
        got = {v.value: v.count for v in result.facet(facet.name).values if v.count}
        assert got == expected, facet.name


def test_the_index_holds_exactly_what_the_rules_list(search_engine, sessions):
    assert search_engine.ids() == registry_listed_ids(sessions, TODAY)
    assert search_engine.count() == len(registry_listed_ids(sessions, TODAY))
    assert 1000 < search_engine.count() < CORPUS


def test_counts_are_disjunctive(search_engine):
    everything = search(search_engine)
    abim = search(search_engine, board="ABIM")
    assert abim.counts("board") == everything.counts("board")
    assert abim.total == everything.counts("board")["ABIM"] < everything.total
    assert sum(abim.counts("format").values()) < sum(everything.counts("format").values())
    assert next(v for v in abim.facet("board").values if v.value == "ABIM").selected


# --- delivery: three answers, each exact ------------------------------------------------------


def search_pairs(engine, *pairs):
    """A search from query-string pairs, for a facet given more than one value."""
    return engine.search(parse_request(MultiDict(pairs)), TODAY)


def test_delivery_is_one_of_three_exclusive_values(search_engine):
    everything = search(search_engine)
    counts = everything.counts("delivery")
    assert set(counts) == {"in person", "online", "both"} and all(counts.values())
    assert sum(counts.values()) == everything.total  # every activity has exactly one
    assert {v.value: v.label for v in everything.facet("delivery").values} == {
        "in person": "In person only",
        "online": "Online only",
        "both": "In person and online",
    }
    for value, count in counts.items():
        result = search(search_engine, delivery=value, per_page=100)
        assert result.total == count, value
        assert {h["delivery"] for h in result.hits} == {value}


def test_online_only_leaves_out_what_is_also_held_in_person(search_engine):
    online = search(search_engine, delivery="online", per_page=100)
    both = search(search_engine, delivery="both", per_page=100)
    assert online.total and both.total and ids(online).isdisjoint(ids(both))
    # Everything a physician can attend from home: the two values, OR-ed.
    from_home = search_pairs(search_engine, ("delivery", "online"), ("delivery", "both"))
    assert from_home.total == online.total + both.total
    assert from_home.counts("delivery") == search(search_engine).counts("delivery")
    assert {v.value for v in from_home.facet("delivery").values if v.selected} == {
        "online",
        "both",
    }


def test_delivery_counts_are_disjunctive_under_other_filters(search_engine):
    abim = search(search_engine, board="ABIM", fee="paid")
    chosen = search(search_engine, board="ABIM", fee="paid", delivery="both")
    # Its own counts ignore the delivery chosen; every other facet's apply it.
    assert chosen.counts("delivery") == abim.counts("delivery")
    assert chosen.total == abim.counts("delivery")["both"] < abim.total
    assert chosen.counts("board")["ABIM"] == chosen.total
    assert (
        sum(chosen.counts("fee").values())
        == search(search_engine, board="ABIM", delivery="both").total
    )


def test_places_count_only_where_an_activity_is_held_in_person(search_engine):
    both = search(search_engine, q="zebrafish", delivery="both")
    assert ids(both) == {11} and both.hits[0]["city"] == "Anchorage"
    online = search(search_engine, q="zebrafish", delivery="online")
    assert ids(online) == {12} and online.hits[0]["city"] is None
    assert online.hits[0]["state"] == [] and online.counts("state") == {}
    assert search(search_engine, q="zebrafish").counts("state") == {"AK": 1}
    assert ids(search(search_engine, q="zebrafish", state="AK")) == {11}
    assert ids(search(search_engine, q="zebrafish", state="ID")) == set()
    # Across the corpus: online-only activities have no place to count.
    assert search(search_engine, delivery="online").counts("state") == {}
    assert search(search_engine, delivery="both").counts("state")


def test_incomplete_aba_registration_is_found_under_abim_but_never_aba(search_engine):
    assert 6 in ids(search(search_engine, q="bridging", board="ABIM"))
    assert 6 not in ids(search(search_engine, q="bridging", board="ABA"))
    hit = next(h for h in search(search_engine, q="bridging").hits if h["id"] == 6)
    assert hit["board"] == ["ABIM"]
    assert not any(v.startswith("ABA:") for v in hit["practice_area"])


def test_expired_activities_are_absent_and_expire_at_query_time_too(search_engine):
    assert search(search_engine, q="zymurgy").total == 0
    # A listing that ends today is shown today and gone tomorrow, even before the next sync.
    ends_today = search(
        search_engine, when="custom", date_from=TODAY.isoformat(), date_to=TODAY.isoformat()
    )
    tomorrow = search_engine.search(SearchRequest(), TODAY + DAY)
    assert ends_today.total and search_engine.search(SearchRequest(), TODAY).total > tomorrow.total


@pytest.mark.parametrize(
    ("query", "expected_id"),
    [
        ("heart attack", 1),
        ("MI", 1),
        ("myocardial infarction", 1),
        ("afib", 2),
        ("pediatrics asthma", 3),
        ("paediatric asthma", 3),
        ("diabetes ketoacidosis", 4),
        ("DKA", 4),
        ("sjogren", 5),
        ("Sjögren", 5),
        ("riverside children", 3),  # provider name
        ('"heart failure" clinic', 10),
        ("cardiolgy board review", 8),  # one typo
        ("ABIM cardiology review", 8),  # a board named in the search box
        ("american board of internal medicine board review", 8),
        (
            "cardiology anticoagulation",
            2,
        ),  # the specialty reaches the practice area Cardiovascular Disease
        ("pulm asthma", 3),  # Pulmonary Disease
        ("peds asthma", 3),
    ],
)
def test_text_search_finds_what_a_physician_means(search_engine, query, expected_id):
    assert expected_id in ids(search(search_engine, q=query, per_page=50))


def test_a_board_in_the_search_box_means_the_listing_counts_for_it(search_engine):
    # Activity 6 counts for ABIM; its ABA registration is incomplete, so "ABA" must not find it.
    assert 6 in ids(search(search_engine, q="ABIM bridging"))
    assert 6 not in ids(search(search_engine, q="ABA bridging"))


def test_quoted_phrases_need_the_words_together(search_engine):
    assert 10 in ids(search(search_engine, q='"heart failure" workshop'))
    assert 10 not in ids(search(search_engine, q='"failure heart" workshop'))


def test_a_title_match_ranks_above_a_description_match(search_engine):
    hits = [h["id"] for h in search(search_engine, q="cardiology", per_page=100).hits]
    assert 8 in hits and 9 in hits and hits.index(8) < hits.index(9)


# --- query understanding: typed words always searched, synonyms added, most words enough ----


def hit_ids(engine, q, per_page=50):
    return [h["id"] for h in search(engine, q=q, per_page=per_page).hits]


def test_a_synonym_term_is_found_when_its_words_sit_in_different_fields(search_engine):
    # "obstructive sleep apnea" is a synonym entry; activity 13 has "Obstructive Apnea" in its
    # title and "Sleep" only in its practice area (Sleep Medicine).
    assert 13 in hit_ids(search_engine, "obstructive sleep apnea")
    assert 13 in hit_ids(search_engine, "sleep apnea obstructive")


@pytest.mark.parametrize(
    "query", ["crohn disease", "crohns disease", "Crohn's disease", "crohn\u2019s disease", "CROHN"]
)
def test_possessives_fold_the_same_way_on_both_engines(search_engine, query):
    assert 14 in hit_ids(search_engine, query)[:3]


def test_most_words_are_enough_and_every_word_ranks_first(search_engine):
    hits = hit_ids(search_engine, "pediatric asthma guidelines")
    # 3 has two of the three words (pediatric, asthma); 15 has all three, so it comes first.
    assert 15 in hits and 3 in hits and hits.index(15) < hits.index(3)
    assert hits[0] == 15


def test_two_concepts_are_both_required(search_engine):
    # Up to two concepts (a word, a synonym term, a quoted phrase), all of them must match.
    assert 1 not in ids(search(search_engine, q="myocardial infarction ketoacidosis"))
    assert 3 not in ids(search(search_engine, q="asthma zymurgy"))


def test_a_quoted_phrase_is_always_required(search_engine):
    # The phrase, and two of the three other words (guidelines, update): 15, not 3.
    hits = hit_ids(search_engine, '"pediatric asthma" guidelines update zymurgy')
    assert 15 in hits and 3 not in hits
    assert 10 not in hit_ids(search_engine, '"failure heart" workshop clinic')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hip arthroplasty", {16, 17}),
        ("hip replacement", {16, 17}),
        ("knee replacement", {18}),
        ("tonsil removal", {19}),
        ("tennis elbow", {20}),
        ("hernia repair", {21}),
        ("inguinal hernia repair", {21}),
        ("c-section", {22}),
        ("C section hemorrhage", {22}),
        ("caesarean delivery", {22}),
    ],
)
def test_procedures_lay_terms_and_abbreviations_find_their_target_near_the_top(
    search_engine, query, expected
):
    # Near the top: the generated corpus holds other activities on the same procedures.
    top = hit_ids(search_engine, query)[:10]
    assert expected <= set(top), (query, top)


def test_ties_are_broken_by_soonest_then_credits(search_engine):
    assert hit_ids(search_engine, "quokka zoonoses") == [24, 25, 23]


def test_user_text_is_never_query_syntax(search_engine):
    # Field names, operators and wildcards are just words (or nothing) to the engine.
    assert (
        search(search_engine, q="title:cardiology").total
        == search(search_engine, q="title cardiology").total
    )
    assert (
        search(search_engine, q="heart OR NOT").total
        == search(search_engine, q="heart or not").total
    )
    assert (
        search(search_engine, q="NEAR(heart failure)").total
        == search(search_engine, q="near heart failure").total
    )
    everything = search(search_engine).total
    for q in ["*", "-", "\\", '"', "?!", "a:b:c)"[5:]]:
        assert search(search_engine, q=q).total == everything, q
    assert 10 in ids(
        search(search_engine, q='"heart failure')
    )  # an unbalanced quote is a word boundary


def key(sort):
    return {
        "soonest": lambda h: h["next_start"],
        "credits": lambda h: -h["cme_credits"],
        "newest": lambda h: tuple(-ord(c) for c in h["created_at"]),
        "deadline": lambda h: h["claim_deadline"] or "9999",
    }[sort]


@pytest.mark.parametrize("sort", ["soonest", "credits", "newest", "deadline"])
def test_sorts_order_hits(search_engine, sort):
    hits = search(search_engine, sort=sort, per_page=100).hits
    assert len(hits) == 100
    values = [key(sort)(h) for h in hits]
    assert values == sorted(values)


def test_points_sort_uses_the_selected_board(search_engine):
    hits = search(search_engine, sort="points", board="ABIM", per_page=100).hits
    points = [h["points"]["ABIM"] for h in hits]
    assert points == sorted(points, reverse=True) and len(set(points)) > 1


def test_soonest_is_the_default_without_text_and_relevance_with(search_engine):
    assert search(search_engine).request.effective_sort == "soonest"
    assert search(search_engine, q="asthma").request.effective_sort == "relevance"


def test_date_filters(search_engine):
    upcoming = search(search_engine, when="upcoming", per_page=100).hits
    assert upcoming and all(h["next_start"] >= TODAY.isoformat() for h in upcoming)
    now = search(search_engine, when="available_now", per_page=100).hits
    assert now and all(h["enduring"] and h["start_date"] <= TODAY.isoformat() for h in now)
    month = search(search_engine, when="this_month", per_page=100).hits
    assert month and all(h["start_date"] <= "2026-11-30" for h in month)
    window = search(search_engine, date_from="2027-03-01", date_to="2027-03-31", per_page=100).hits
    assert window and all(
        h["start_date"] <= "2027-03-31" and h["end_date"] >= "2027-03-01" for h in window
    )


def test_credit_range_and_claim_window(search_engine):
    hits = search(search_engine, credits_min="2", credits_max="4", per_page=100).hits
    assert hits and all(2 <= h["cme_credits"] <= 4 for h in hits)
    soon = search(search_engine, claim_within="60", board="ABIM", per_page=100).hits
    limit = (TODAY + timedelta(days=60)).isoformat()
    assert soon and all(TODAY.isoformat() <= h["deadlines"]["ABIM"] <= limit for h in soon)
    assert (
        search(search_engine, claim_within="60").total
        >= search(search_engine, claim_within="60", board="ABIM").total
    )


def test_pages_partition_the_results(search_engine):
    first = search(search_engine, board="ABTS", per_page=7)
    seen = []
    for page in range(1, first.pages + 1):
        seen += [
            h["id"] for h in search(search_engine, board="ABTS", per_page=7, page=str(page)).hits
        ]
    assert len(seen) == len(set(seen)) == first.total


def test_selected_values_are_shown_even_with_no_match(search_engine):
    result = search(search_engine, board="ABIM", state="ZZ")
    assert result.total == 0
    [zz] = [v for v in result.facet("state").values if v.value == "ZZ"]
    assert zz.count == 0 and zz.selected


def test_provider_facet_is_labelled_with_names(search_engine):
    values = search(search_engine).facet("provider").values
    assert values and all(v.label != v.value for v in values)
    assert any(v.label == "Riverside Children's Hospital" for v in values)


def test_typeahead_suggests_titles_areas_and_providers(search_engine):
    kinds = {s.kind: s.text for s in search_engine.suggest("cardio", limit=20)}
    assert "practice_area" in kinds and "title" in kinds
    assert any(s.kind == "provider" for s in search_engine.suggest("riverside"))
    assert all("cardio" in s.text.lower() for s in search_engine.suggest("cardio", limit=20))


# --- state requirements: topic tags and the mandates they meet --------------------------------


def listed_topics(sessions) -> dict[int, set[str]]:
    """Each listed activity's topic tags, as the registry holds them (unknown tags too)."""
    from directory.registry.models import Activity

    listed = registry_listed_ids(sessions, TODAY)
    with sessions() as session:
        rows = session.query(Activity.id, Activity.topics).filter(Activity.id.in_(listed))
        return {i: set(topics or []) for i, topics in rows}


def test_the_mandate_and_topic_facets_count_every_rule_met(search_engine):
    everything = search(search_engine)
    mandates, topics = everything.counts("mandate"), everything.counts("topic")
    assert mandates and topics
    # Every rule met is counted, whatever state a physician says they are licensed in.
    assert search(search_engine, my_state="TX").counts("mandate") == mandates
    assert {m.jurisdiction for m in map(reference().mandates.get, mandates)} > {FEDERAL}
    assert set(mandates) <= set(reference().mandates) and set(topics) <= set(reference().topics)
    rule = reference().mandates[next(iter(mandates))]
    [value] = [v for v in everything.facet("mandate").values if v.value == rule.id]
    assert value.label == f"{rule.jurisdiction}: {rule.name}"


def test_a_mandate_keeps_exactly_the_activities_tagged_with_one_of_its_topics(
    search_engine, sessions
):
    rule = federal_rule()
    expected = {i for i, tags in listed_topics(sessions).items() if tags & set(rule.topics)}
    assert len(expected) > len(rule.topics)
    result = search(search_engine, mandate=rule.id, per_page=100)
    assert result.total == len(expected) and ids(result) == expected
    assert all(rule.id in h["mandate"] for h in result.hits)
    # Disjunctive: its own facet still counts the other rules the activities meet.
    assert result.counts("mandate") == search(search_engine).counts("mandate")


def test_an_approved_only_mandate_needs_its_approvers_approval(search_engine):
    rule = approved_rule()
    okapi = search(search_engine, q="okapi")
    assert ids(okapi) == {101, 102, 103, 104, 105}
    # Tagged and approved by the rule's approver: met. Tagged without that approval (none,
    # another body's, one without its id), or approved without the tag: not met.
    assert ids(search(search_engine, q="okapi", mandate=rule.id)) == {101}
    assert okapi.counts("mandate")[rule.id] == 1
    by_id = {h["id"]: h for h in okapi.hits}
    assert rule.id in by_id[101]["mandate"]
    assert all(rule.id not in by_id[i]["mandate"] for i in (102, 103, 104, 105))
    # The rules of the same topic that count any course are met by every tagged one.
    any_course = [
        m.id
        for m in reference().mandates.values()
        if not m.approved_only and rule.topics[0] in m.topics
    ]
    for other in any_course:
        assert ids(search(search_engine, q="okapi", mandate=other)) == {101, 102, 103, 104}


def test_the_topic_facet_counts_the_tags_that_are_topics(search_engine, sessions):
    narwhal = search(search_engine, q="narwhal", per_page=100)
    tags = listed_topics(sessions)
    known = set(reference().topics)
    expected: dict[str, int] = {}
    for i in ids(narwhal):
        for tag in tags[i] & known:
            expected[tag] = expected.get(tag, 0) + 1
    assert narwhal.counts("topic") == expected and "no-such-tag" not in expected
    topic = federal_rule().topics[0]
    chosen = search(search_engine, q="narwhal", topic=topic, per_page=100)
    assert chosen.total == expected[topic] and all(topic in h["topic"] for h in chosen.hits)
    [value] = [v for v in chosen.facet("topic").values if v.value == topic]
    assert value.selected and value.label == reference().topics[topic].name


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({"topic": "not-a-topic"}, "topic"),
        ({"mandate": "ZZ-nothing"}, "mandate"),
        ({"my_state": "Atlantis"}, "my_state"),
        ({"near": "Qqqzzyx, NE"}, "near"),
        ({"near": "Qqqzzyxville"}, "near"),
        ({"near": "00000"}, "near"),
        ({"near": "Omaha, NE", "within": "0"}, "within"),
        ({"near": "Omaha, NE", "within": "501"}, "within"),
        ({"near": "Omaha, NE", "within": "801", "unit": "km"}, "within"),
        ({"near": "Omaha, NE", "within": "ten"}, "within"),
        ({"near": "Omaha, NE", "unit": "furlongs"}, "unit"),
        ({"within": "25"}, "within"),
        ({"include_online": "yes"}, "include_online"),
        ({"near": "Omaha, NE", "include_online": "perhaps"}, "include_online"),
        ({"sort": "distance"}, "sort"),
    ],
    ids=str,
)
def test_a_bad_state_topic_or_place_is_refused_naming_the_parameter(args, parameter):
    with pytest.raises(SearchRequestError) as refused:
        parse_request(args)
    assert parameter in refused.value.problems
    assert len(refused.value.problems[parameter]) > 10  # says what to write instead


def test_within_is_inclusive_at_its_limits_in_either_unit():
    for within, unit, km in (("1", "mi", 1.609344), ("500", "mi", 804.672), ("800", "km", 800)):
        request = parse_request({"near": "Omaha, NE", "within": within, "unit": unit})
        assert request.radius_km == pytest.approx(km)
    assert parse_request({"near": "Omaha, NE"}).radius_km == pytest.approx(50 * 1.609344)


# --- reindex and sync under stress ------------------------------------------------------------


def test_searches_during_a_full_reindex_never_see_a_partial_index(search_engine, sessions):
    corpus = search_engine.count()
    totals = []
    done = threading.Event()
    errors = []

    def reindex():
        try:
            search_engine.reindex(iter_documents(sessions, TODAY))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=reindex)
    worker.start()
    while not done.is_set() and len(totals) < 5000:
        totals.append(search_engine.search(SearchRequest(per_page=1), TODAY).total)
    worker.join(timeout=300)
    totals.append(search_engine.search(SearchRequest(per_page=1), TODAY).total)
    assert not errors
    assert len(totals) > 3
    assert min(totals) == corpus == totals[-1]


# --- a record that cannot be indexed ----------------------------------------------------------
#
# Saved before input validation existed, or by any other path: one record whose text holds a
# lone surrogate (valid in a Python str, not encodable as UTF-8). Neither engine can store it;
# neither may let it stop the others. Its own small registry, so the corpus above stays exact.

UNENCODABLE = 210000123
NOT_UNICODE = "text is not valid Unicode"


@pytest.fixture(params=["embedded", "opensearch"])
def fresh_engine(request, tmp_path_factory):
    engine, cleanup = make_engine_for(request.param, tmp_path_factory)
    yield engine
    cleanup()


@pytest.fixture
def small_registry(engine):
    """Five listed activities of one provider (the registry of tests/conftest.py)."""
    provider = f.provider(id=9000, name="Northfield Academy of Medicine")
    with Session(engine) as session:
        session.add_all(
            f.activity(
                id=i,
                provider_activity_id=f"G{i}",
                provider=provider,
                title=f"{word} in Practice",
                keywords=[word.lower()],
            )
            for i, word in enumerate(["Sepsis", "Asthma", "Gout", "Anemia", "Migraine"], start=1)
        )
        session.commit()
    return make_sessionmaker(engine)


def save_unchecked(sessions, activity_id=UNENCODABLE, **fields):
    """Write straight to the registry with SQLAlchemy, as an old import did: no validation."""
    from directory.registry.models import Activity, Provider

    with sessions.begin() as session:
        activity = session.get(Activity, activity_id)
        if activity is None:
            activity = f.activity(
                id=activity_id,
                provider_activity_id=f"RAW-{activity_id}",
                provider=session.get(Provider, 9000),
            )
            session.add(activity)
        for name, value in fields.items():
            setattr(activity, name, value)


def checkpoint(sessions, key):
    from directory.registry.models import IndexState

    with sessions() as session:
        return session.get(IndexState, key).changed_since


def test_a_reindex_skips_and_names_a_record_that_cannot_be_indexed(fresh_engine, small_registry):
    save_unchecked(small_registry, keywords=["\udfff"])

    stats = full_reindex(small_registry, fresh_engine, "bad-record", TODAY)

    assert stats.skipped == {UNENCODABLE: NOT_UNICODE}
    assert stats.documents == 5
    assert fresh_engine.ids() == {1, 2, 3, 4, 5}
    assert ids(search(fresh_engine, q="gout")) == {3}


def test_a_sync_skips_a_record_that_cannot_be_indexed_and_goes_on_with_the_rest(
    fresh_engine, small_registry
):
    from indexer.sync import incremental_sync

    key = "bad-record"
    full_reindex(small_registry, fresh_engine, key, TODAY)
    before = checkpoint(small_registry, key)
    save_unchecked(small_registry, keywords=["\udfff"])  # new, never indexed
    save_unchecked(small_registry, 2, objectives=["Treat \ud800 asthma"])  # indexed until now
    save_unchecked(small_registry, 3, title="Gout and Pseudogout in Practice")  # a good edit

    stats = incremental_sync(small_registry, fresh_engine, key, TODAY)

    assert stats.skipped == {UNENCODABLE: NOT_UNICODE, 2: NOT_UNICODE}
    assert ids(search(fresh_engine, q="pseudogout")) == {3}  # the good edit went in
    # The stale version of 2 is gone: the index never shows what the registry no longer says.
    assert fresh_engine.ids() == {1, 3, 4, 5}
    assert checkpoint(small_registry, key) > before  # progress recorded for the good ones

    # Not forgotten: retried, and reported again, on every sync until it can be indexed...
    again = incremental_sync(small_registry, fresh_engine, key, TODAY)
    assert again.skipped == {UNENCODABLE: NOT_UNICODE, 2: NOT_UNICODE}
    assert (again.upserted, again.deleted) == (0, 0)

    # ... and indexed as soon as it can be.
    save_unchecked(small_registry, keywords=["hemostasis"])
    fixed = incremental_sync(small_registry, fresh_engine, key, TODAY)
    assert fixed.skipped == {2: NOT_UNICODE}
    assert ids(search(fresh_engine, q="hemostasis")) == {UNENCODABLE}
    assert fresh_engine.ids() == {1, 3, 4, 5, UNENCODABLE}


# --- provider labels and the generation --------------------------------------------------------


def rename_provider(sessions, provider_id, name):
    from directory.registry.models import Provider

    with sessions.begin() as session:
        session.get(Provider, provider_id).name = name


def test_a_renamed_provider_is_labelled_by_its_new_name_once_synced(fresh_engine, small_registry):
    from indexer.sync import incremental_sync

    key = "rename"
    full_reindex(small_registry, fresh_engine, key, TODAY)
    [before] = search(fresh_engine).facet("provider").values
    assert (before.value, before.label) == ("9000", "Northfield Academy of Medicine")

    rename_provider(small_registry, 9000, "Northfield College of Medicine")
    incremental_sync(small_registry, fresh_engine, key, TODAY)

    [after] = search(fresh_engine).facet("provider").values
    assert (after.value, after.label, after.count) == ("9000", "Northfield College of Medicine", 5)
    # A selected provider that nothing matches under the other filters is labelled too.
    [selected] = search(fresh_engine, provider="9000", q="zzzqqq").facet("provider").values
    assert (selected.label, selected.count, selected.selected) == (
        "Northfield College of Medicine",
        0,
        True,
    )


def test_the_generation_changes_with_every_write_and_only_then(fresh_engine, small_registry):
    from indexer.sync import iter_documents

    unbuilt = fresh_engine.generation()
    full_reindex(small_registry, fresh_engine, "generation", TODAY)
    built = fresh_engine.generation()
    assert built != unbuilt
    search(fresh_engine, q="gout")
    assert fresh_engine.generation() == built  # reading changes nothing

    [gout] = fresh_engine.documents([3]).values()
    fresh_engine.upsert([{**gout, "title": "Gout and Pseudogout in Practice"}])
    upserted = fresh_engine.generation()
    assert upserted not in (built, unbuilt)

    fresh_engine.upsert([])  # nothing to write: a sync that found no change
    fresh_engine.delete([])
    assert fresh_engine.generation() == upserted

    fresh_engine.delete([3])
    deleted = fresh_engine.generation()
    assert deleted not in (built, upserted)

    fresh_engine.reindex(iter_documents(small_registry, TODAY))
    assert fresh_engine.generation() not in (built, upserted, deleted)


# --- distance: near a place, within a radius ---------------------------------------------------
#
# A registry of its own, every place at a known distance from Omaha: provider coordinates
# computed from a bearing and a distance (`destination`), so each case sits 1 km inside or
# outside its radius.

NEAR = "Omaha, NE"
MILES_50 = 50 * places.KM_PER_MILE


def destination(origin: places.Point, bearing: float, km: float) -> places.Point:
    """The point `km` from `origin` along the great circle leaving it at `bearing` degrees
    (from north, clockwise), on the sphere distances are measured on."""
    d = km / places.EARTH_RADIUS_KM
    lat1, lon1, theta = map(math.radians, (origin.lat, origin.lon, bearing))
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(theta))
    lon2 = lon1 + math.atan2(
        math.sin(theta) * math.sin(d) * math.cos(lat1),
        math.cos(d) - math.sin(lat1) * math.sin(lat2),
    )
    return places.Point(math.degrees(lat2), (math.degrees(lon2) + 540) % 360 - 180)


def test_destination_is_at_the_distance_asked():
    origin = places.resolve(NEAR).point
    for bearing, km in ((0, 10), (95, MILES_50 + 1), (250, 799)):
        assert places.distance_km(origin, destination(origin, bearing, km)) == pytest.approx(km)


# id: (bearing, km from Omaha) of activities held there (in person unless said).
PLACED = {
    1: (10, MILES_50 - 1),
    2: (100, MILES_50 + 1),
    3: (200, 99),
    4: (300, 101),
    5: (45, 160),  # inside 100 miles (160.93 km)
    6: (135, 162),  # outside it
    9: (250, 30),  # in person and online
}
MULTI_CITY = 7  # Chicago, Denver and Toronto; no place of its own
ONLINE_LATER, ONLINE_SOONER = 8, 11
FAR_HYBRID = 10  # in person (Anchorage) and online
TWO_SESSIONS = 12  # sessions 150 km and 20 km away
SAME_PLACE_SOONER = 13  # where 1 is, sooner
DATE_LINE, POLE = 14, 15


def place_activities():
    origin = places.resolve(NEAR).point
    provider = f.provider(id=9003, name="Prairie Continuing Education")
    mate = federal_rule().topics[0]

    def held(id, days=30, **fields):
        fields.setdefault("city", "Omaha")
        fields.setdefault("state", "NE")
        return f.activity(
            id=id, provider_activity_id=f"P{id}", provider=provider, title=f"Pelican Course {id}",
            keywords=[], start_date=TODAY + days * DAY, end_date=TODAY + (days + 25) * DAY,
            **fields,
        )  # fmt: skip

    def at(bearing, km):
        point = destination(origin, bearing, km)
        return {"latitude": point.lat, "longitude": point.lon}

    def session(days, **fields):
        return f.occurrence(TODAY + days * DAY, TODAY + (days + 1) * DAY, **fields)

    made = []
    for id, (bearing, km) in PLACED.items():
        delivery = "both" if id == 9 else "in person"
        topics = [mate] if id in (1, 4, 9) else []
        made.append(held(id, delivery=delivery, topics=topics, **at(bearing, km)))
    made += [
        held(
            MULTI_CITY, city=None, state=None, country=None,
            occurrences=[
                session(30, city="Chicago", state="IL", country="US"),
                session(40, city="Denver", state="CO", country="US"),
                session(50, city="Toronto", state="ON", country="CA"),
            ],
        ),
        held(ONLINE_LATER, days=60, delivery="online", city=None, state=None, country=None),
        held(ONLINE_SOONER, days=10, delivery="online", city=None, state=None, country=None),
        held(FAR_HYBRID, delivery="both", city="Anchorage", state="AK"),
        held(
            TWO_SESSIONS, city=None, state=None, country=None,
            occurrences=[
                session(30, city="Omaha", state="NE", country="US", **at(80, 150)),
                session(40, city="Omaha", state="NE", country="US", **at(170, 20)),
            ],
        ),
        held(SAME_PLACE_SOONER, days=5, **at(*PLACED[1])),
        held(DATE_LINE, city="Anadyr", state=None, country="RU", latitude=60.0, longitude=179.95),
        held(POLE, city="Alert", state="NU", country="CA", latitude=89.6, longitude=170.0),
    ]  # fmt: skip
    return made


@pytest.fixture(scope="module")
def places_sessions(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('places') / 'registry.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        session.add_all(place_activities())
        session.commit()
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def places_indexes(places_sessions, tmp_path_factory):
    """Each engine's index of the places registry, built once when first asked for."""
    made, cleanups = {}, []

    def index(kind):
        if kind not in made:
            engine, cleanup = make_engine_for(kind, tmp_path_factory)
            cleanups.append(cleanup)
            full_reindex(places_sessions, engine, f"places-{kind}", TODAY)
            made[kind] = engine
        return made[kind]

    yield index
    for cleanup in cleanups:
        cleanup()


@pytest.fixture(params=["embedded", "opensearch"])
def places_engine(request, places_indexes):
    return places_indexes(request.param)


def near(engine, where=NEAR, **args):
    return engine.search(parse_request({"near": where, **args}), TODAY)


def hit_order(result):
    return [h["id"] for h in result.hits]


def test_every_place_is_listed(places_engine, places_sessions):
    assert places_engine.ids() == registry_listed_ids(places_sessions, TODAY) == set(range(1, 16))


@pytest.mark.parametrize(
    ("within", "unit"), [(None, None), ("100", "km"), ("100", None), ("98", "km"), ("161", "km")]
)
def test_a_place_is_found_inside_the_radius_and_not_one_km_outside(places_engine, within, unit):
    args = {k: v for k, v in (("within", within), ("unit", unit)) if v}
    radius = float(within) * (1 if unit == "km" else places.KM_PER_MILE) if within else MILES_50
    expected = {i for i, (_, km) in PLACED.items() if km <= radius}
    if radius >= MILES_50 - 1:
        expected.add(SAME_PLACE_SOONER)  # where 1 is
    if radius >= 20:
        expected.add(TWO_SESSIONS)  # its nearer session
    result = near(places_engine, **args)
    assert ids(result) == expected and result.total == len(expected)
    assert len({1, 2, 3, 4, 5, 6} & expected) < 6  # some inside, some outside


def test_kilometres_and_miles_are_different_radii(places_engine):
    km = ids(near(places_engine, within="100", unit="km"))
    mi = ids(near(places_engine, within="100"))
    assert 3 in km and 4 not in km  # 99 km and 101 km
    assert {3, 4, 5} <= mi and 6 not in mi  # 160 km is inside 100 mi, 162 km is not


@pytest.mark.parametrize("city", ["Chicago, IL", "Denver, CO", "Toronto, ON"])
def test_a_multi_city_course_is_found_near_each_of_its_cities(places_engine, city):
    assert MULTI_CITY in ids(near(places_engine, city))
    [hit] = [h for h in near(places_engine, city).hits if h["id"] == MULTI_CITY]
    assert hit["city"] is None and len(hit["locations"]) == 3


def test_a_multi_city_course_is_not_found_near_somewhere_else(places_engine):
    assert MULTI_CITY not in ids(near(places_engine, within="300"))  # Omaha: Chicago is 430 mi
    assert MULTI_CITY not in ids(near(places_engine, "Dallas, TX", within="500"))


def test_sorted_by_distance_the_nearest_session_counts_then_soonest(places_engine):
    # 12's nearer session is 20 km away, 9 is 30 km; 13 and 1 share a place, 13 sooner.
    result = near(places_engine, sort="distance")
    assert hit_order(result) == [TWO_SESSIONS, 9, SAME_PLACE_SOONER, 1]


def test_online_ones_are_kept_with_include_online_and_sorted_last(places_engine):
    without = near(places_engine, sort="distance")
    assert not {ONLINE_LATER, ONLINE_SOONER, FAR_HYBRID} & ids(without)
    result = near(places_engine, sort="distance", include_online="yes")
    # What can be attended from home is kept wherever it is: a far place (Anchorage) sorts by
    # its distance, after every nearby one; online only, with no place, last, soonest first.
    assert hit_order(result) == [
        *hit_order(without),
        FAR_HYBRID,
        ONLINE_SOONER,
        ONLINE_LATER,
    ]
    pages = [
        hit_order(near(places_engine, sort="distance", include_online="yes", per_page="3", page=p))
        for p in ("1", "2", "3")
    ]
    assert [i for page in pages for i in page] == hit_order(result)


def test_a_near_search_filters_every_facets_counts(places_engine):
    nearby = near(places_engine)
    assert nearby.counts("delivery") == {"in person": 3, "both": 1}
    assert nearby.counts("state") == {"NE": 4}
    mate = federal_rule().id
    # 1, 4 and 9 are tagged; 4 is 101 km away.
    assert nearby.counts("mandate")[mate] == 2
    assert near(places_engine, within="200", unit="km").counts("mandate")[mate] == 3
    online = near(places_engine, include_online="yes")
    assert online.counts("delivery") == {"in person": 3, "both": 2, "online": 2}
    # A facet chosen under a near filter is still disjunctive.
    chosen = near(places_engine, include_online="yes", delivery="online")
    assert ids(chosen) == {ONLINE_LATER, ONLINE_SOONER}
    assert chosen.counts("delivery") == online.counts("delivery")


def test_a_radius_across_the_date_line_or_a_pole_finds_what_is_inside(places_engine):
    from dataclasses import replace

    def around(lat, lon, km):
        request = parse_request({"near": NEAR, "within": str(km), "unit": "km"})
        place = places.Place("there", places.Point(lat, lon))
        return ids(places_engine.search(replace(request, near_place=place), TODAY))

    # 0.1 degree of longitude apart at 60 N, either side of 180: 5.6 km.
    assert around(60.0, -179.95, 10) == {DATE_LINE}
    assert around(60.0, -179.95, 5) == set()
    # Over the pole: 0.5 + 0.4 degrees of latitude, 100 km.
    assert around(89.5, -10.0, 110) == {POLE}
    assert around(89.5, -10.0, 90) == set()


DISTANCE_REQUESTS = [
    {},
    {"sort": "distance", "include_online": "yes"},
    {"within": "500", "sort": "distance", "per_page": "4", "page": "2"},
    {"within": "800", "unit": "km", "sort": "distance", "include_online": "yes"},
    {"where": "Chicago, IL", "within": "500", "sort": "distance"},
    {"where": "Toronto, ON", "include_online": "yes", "delivery": "online"},
    {"within": "200", "unit": "km", "mandate": "FEDERAL", "sort": "soonest"},
]


def test_both_engines_answer_a_distance_search_alike(places_indexes):
    embedded, opensearch = places_indexes("embedded"), places_indexes("opensearch")
    for args in DISTANCE_REQUESTS:
        args = {k: federal_rule().id if v == "FEDERAL" else v for k, v in args.items()}
        one, other = near(embedded, **args), near(opensearch, **args)
        assert one.total == other.total > 0, args
        assert hit_order(one) == hit_order(other), args
        assert one.facets == other.facets, args


def test_an_embedded_distance_search_reads_only_the_places_of_its_box():
    import random

    from pyroaring import BitMap

    from indexer.embedded import geo
    from indexer.embedded.bitmaps import Places

    rng = random.Random(7)
    points = {(rng.uniform(-60, 70), rng.uniform(-170, 170)): BitMap([i]) for i in range(5000)}
    snapshot_places = Places(points)
    origin = places.resolve(NEAR).point
    [box] = geo.boxes(origin, MILES_50)
    band = snapshot_places.band(box[0], box[1])
    # Bisection on latitude: the band holds the points of those latitudes and no others...
    assert len(band) == sum(box[0] <= lat <= box[1] for lat, _ in points)
    assert len(band) < len(points) / 20
    # ...and the box, then the exact distance, keep exactly the points within the radius.
    found = geo.near(snapshot_places, origin, MILES_50).documents
    expected = {
        next(iter(bits))
        for (lat, lon), bits in points.items()
        if places.distance_km(origin, places.Point(lat, lon)) <= MILES_50
    }
    assert set(found) == expected


def test_embedded_points_follow_upserts_and_deletes(places_sessions, tmp_path):
    import sqlite3

    from pyroaring import BitMap

    engine = EmbeddedEngine(tmp_path / "search.sqlite3")
    full_reindex(places_sessions, engine, "points", TODAY)
    [one] = engine.documents([1]).values()
    far = {"lat": 10.0, "lon": 10.0}
    engine.upsert([dict(one, locations=[far])])
    assert 1 not in ids(near(engine))
    engine.upsert([one])
    assert 1 in ids(near(engine))
    engine.delete([1, SAME_PLACE_SOONER])
    assert ids(near(engine)) == {9, TWO_SESSIONS}
    # A location that is not a point on the Earth is refused with its document.
    refused = engine.upsert([dict(one, locations=[{"lat": 91.0, "lon": 0.0}])])
    assert set(refused) == {1} and 1 not in engine.ids()
    conn = sqlite3.connect(engine.path)
    held = conn.execute("SELECT count(*) FROM points").fetchone()[0]
    at_places = {
        value: len(BitMap.deserialize(bits))
        for value, bits in conn.execute("SELECT value, bits FROM bitmaps WHERE name = '~place'")
    }
    docs = engine.documents(sorted(engine.ids())).values()
    conn.close()
    assert held == sum(len(d["locations"]) for d in docs) == sum(at_places.values())
    assert set(at_places) == {
        f"{float(p['lat'])!r},{float(p['lon'])!r}" for d in docs for p in d["locations"]
    }


# --- an embedded index file an older version wrote ----------------------------------------------
#
# Before delivery was one value, the embedded file held "both" as ["in person", "online"], had
# no per-column score tables, and had no version (user_version 0). Such a file is upgraded where it lies the first time it is
# opened, so an upgrade of the code never shows "online only" counts that include "both".


def _written_before_delivery_was_one_value(path):
    """Rewrite an index file as the first version wrote it: no score tables (version 3), facet
    counts from (facet, value, doc) rows instead of bitmaps (version 4), no points (version
    5), and "both" as a list."""
    import json
    import sqlite3

    from directory.search import FACETS
    from indexer.embedded import store

    conn = sqlite3.connect(path, isolation_level=None)
    rows = conn.execute("SELECT id, body FROM docs").fetchall()
    conn.execute("BEGIN")
    for table, _ in store.SCORE_TABLES:
        conn.execute(f"DROP TABLE {table}")
    for table in ("bitmaps", "meta", "points"):
        conn.execute(f"DROP TABLE {table}")
    for index in ("soonest", "credits", "points", "deadline", "newest"):
        conn.execute(f"DROP INDEX docs_{index}")
    for index in ("points", "dates"):
        conn.execute(f"DROP INDEX deadlines_{index}")
    conn.execute(
        "CREATE TABLE facets (facet TEXT NOT NULL, value TEXT NOT NULL, doc_id INTEGER NOT NULL,"
        " PRIMARY KEY (facet, value, doc_id)) WITHOUT ROWID"
    )
    for doc_id, body in rows:
        doc = json.loads(body)
        doc["delivery"] = {"both": ["in person", "online"]}.get(doc["delivery"], [doc["delivery"]])
        conn.execute("UPDATE docs SET body = ? WHERE id = ?", (json.dumps(doc), doc_id))
        for facet in FACETS:
            value = doc.get(facet.name)
            conn.executemany(
                "INSERT OR IGNORE INTO facets VALUES (?, ?, ?)",
                [
                    (facet.name, str(v), doc_id)
                    for v in (value if isinstance(value, list) else [value])
                    if v not in (None, "")
                ],
            )
    conn.execute("COMMIT")
    conn.execute("PRAGMA user_version = 0")
    conn.close()


def _delivery_documents():
    from indexer.document import to_document

    made = [
        f.activity(id=1, provider_activity_id="D1", delivery="in person"),
        f.activity(id=2, provider_activity_id="D2", delivery="both"),
        f.activity(
            id=3, provider_activity_id="D3", delivery="online", city=None, state=None, country=None
        ),
        f.activity(
            id=4, provider_activity_id="D4", delivery="online", city=None, state=None, country=None
        ),
    ]
    return [to_document(a, TODAY) for a in made]


def test_an_embedded_index_from_before_is_upgraded_in_place_not_misread(tmp_path):
    import sqlite3

    from indexer.embedded import store

    path = tmp_path / "search.sqlite3"
    EmbeddedEngine(path).reindex(_delivery_documents())
    _written_before_delivery_was_one_value(path)

    engine = EmbeddedEngine(path)
    assert search(engine).counts("delivery") == {"in person": 1, "both": 1, "online": 2}
    assert ids(search(engine, delivery="online")) == {3, 4}
    assert ids(search(engine, delivery="both")) == {2}
    assert engine.documents([1, 2, 3]) == {d["id"]: d for d in _delivery_documents()[:3]}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.VERSION
    conn.close()
    # Writes after the upgrade keep the file consistent.
    engine.upsert([dict(_delivery_documents()[0], delivery="online")])
    assert search(engine).counts("delivery") == {"both": 1, "online": 3}


def _written_by_version_4(path, bodies_have_places):
    """Rewrite an index file as version 4 wrote it: no points, no bitmaps of places or of the
    mandate and topic facets, and (as its documents were rendered then) bodies with no
    locations, topics or mandates, unless `bodies_have_places`."""
    import json
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("DROP TABLE points")
    conn.execute("DELETE FROM bitmaps WHERE name IN ('mandate', 'topic', '~place')")
    if not bodies_have_places:
        for doc_id, body in conn.execute("SELECT id, body FROM docs").fetchall():
            doc = json.loads(body)
            for name in ("locations", "topic", "approvals", "mandate"):
                del doc[name]
            for session in doc["occurrences"]:
                del session["lat"], session["lon"]
            conn.execute("UPDATE docs SET body = ? WHERE id = ?", (json.dumps(doc), doc_id))
    conn.execute("COMMIT")
    conn.execute("PRAGMA user_version = 4")
    conn.close()


def test_an_embedded_index_of_version_4_gains_its_points_and_mandates(places_sessions, tmp_path):
    import sqlite3

    from indexer.embedded import store

    fresh = EmbeddedEngine(tmp_path / "fresh.sqlite3")
    full_reindex(places_sessions, fresh, "fresh", TODAY)
    path = tmp_path / "search.sqlite3"
    full_reindex(places_sessions, EmbeddedEngine(path), "v4", TODAY)
    _written_by_version_4(path, bodies_have_places=True)

    engine = EmbeddedEngine(path)
    for args in ({}, {"sort": "distance", "include_online": "yes"}, {"within": "200"}):
        upgraded, expected = near(engine, **args), near(fresh, **args)
        assert upgraded.total == expected.total > 0
        assert hit_order(upgraded) == hit_order(expected)
        assert upgraded.facets == expected.facets  # the mandate and topic counts too
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.VERSION
    conn.close()


def test_an_embedded_index_of_version_4_is_read_until_rendered_again(places_sessions, tmp_path):
    path = tmp_path / "search.sqlite3"
    full_reindex(places_sessions, EmbeddedEngine(path), "v4", TODAY)
    _written_by_version_4(path, bodies_have_places=False)

    engine = EmbeddedEngine(path)
    # Documents of version 4 say nowhere they are held: found by everything but distance.
    assert search(engine).total == 15 and search(engine).counts("mandate") == {}
    assert near(engine).total == 0
    # They read as this version's documents do, saying nothing of what they did not hold.
    multi_city = engine.documents([MULTI_CITY])[MULTI_CITY]
    assert (multi_city["locations"], multi_city["mandate"], multi_city["topic"]) == ([], [], [])
    assert [(o["lat"], o["lon"]) for o in multi_city["occurrences"]] == [(None, None)] * 3
    full_reindex(places_sessions, engine, "v4", TODAY)  # `directory index`
    assert ids(near(engine)) == {1, 9, TWO_SESSIONS, SAME_PLACE_SOONER}
    assert search(engine).counts("mandate")


def test_an_embedded_index_from_a_newer_version_is_refused_until_rebuilt(tmp_path):
    import sqlite3

    from indexer.embedded import store
    from indexer.engine import SearchUnavailable

    path = tmp_path / "search.sqlite3"
    engine = EmbeddedEngine(path)
    engine.reindex(_delivery_documents())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {store.VERSION + 1}")
    conn.close()
    with pytest.raises(SearchUnavailable, match="directory index"):
        search(engine)
    engine.reindex(_delivery_documents())
    assert search(engine).total == 4


# --- a term that is part of the name of a different condition -------------------------------


@pytest.fixture
def hypertension_registry(engine):
    """A primary-care hypertension course, and a pulmonary hypertension one that is shorter,
    sooner and names hypertension in its title too (the `!=` rules of synonyms.txt)."""
    provider = f.provider(id=9000, name="Northfield Academy of Medicine")
    with Session(engine) as session:
        session.add_all(
            [
                f.activity(
                    id=1,
                    provider_activity_id="H1",
                    provider=provider,
                    title="Hypertension in Primary Care: New Targets and Home Blood Pressure "
                    "Monitoring for the Busy Clinician",
                    description="Office and home blood pressure, first-line agents and "
                    "follow-up in adults.",
                    keywords=["primary care"],
                    start_date=TODAY + 40 * DAY,
                    end_date=TODAY + 41 * DAY,
                ),
                f.activity(
                    id=2,
                    provider_activity_id="H2",
                    provider=provider,
                    title="Pulmonary Hypertension",
                    description="Pulmonary hypertension and right heart catheterization.",
                    keywords=["pulmonary hypertension"],
                    start_date=TODAY + 10 * DAY,
                    end_date=TODAY + 11 * DAY,
                ),
                f.activity(
                    id=3,
                    provider_activity_id="H3",
                    provider=provider,
                    title="Asthma in Practice",
                    keywords=["asthma"],
                ),
            ]
        )
        session.commit()
    return make_sessionmaker(engine)


@pytest.mark.parametrize("query", ["hypertension", "HTN", "high blood pressure"])
def test_a_different_condition_containing_the_term_ranks_below_the_term_itself(
    fresh_engine, hypertension_registry, query
):
    full_reindex(hypertension_registry, fresh_engine, "hypertension", TODAY)
    # Pulmonary hypertension is still found (a physician may want it), below hypertension.
    assert hit_ids(fresh_engine, query) == [1, 2]
    # Typed, it is what the physician asks for.
    assert hit_ids(fresh_engine, "pulmonary hypertension")[0] == 2


# --- a field's match scored by that field's length -------------------------------------------


@pytest.fixture
def hospital_registry(engine):
    """Two hospital medicine courses: one whose title is the query and whose description is
    long, one that names the specialty only as its practice area and says little else."""
    provider = f.provider(id=9000, name="Northfield Academy of Medicine")
    long_description = " ".join(
        ["Perioperative care, sepsis, delirium, transitions of care and discharge planning"] * 12
    )
    with Session(engine) as session:
        session.add_all(
            [
                f.activity(
                    id=1,
                    provider_activity_id="HM1",
                    provider=provider,
                    title="Hospital Medicine Update",
                    description=long_description,
                    keywords=[],
                    objectives=["Apply this year's inpatient guidelines"] * 6,
                    moc=[f.abim(practice_areas=["Hospital Medicine"])],
                    start_date=TODAY + 40 * DAY,
                    end_date=TODAY + 41 * DAY,
                ),
                f.activity(
                    id=2,
                    provider_activity_id="HM2",
                    provider=provider,
                    title="Acute Kidney Injury",
                    description="Creatinine.",
                    keywords=[],
                    objectives=[],
                    moc=[f.abim(practice_areas=["Hospital Medicine"])],
                    start_date=TODAY + 10 * DAY,
                    end_date=TODAY + 11 * DAY,
                ),
            ]
        )
        session.commit()
    return make_sessionmaker(engine)


def test_a_title_naming_the_query_outranks_a_shorter_record_naming_it_once(
    fresh_engine, hospital_registry
):
    """Each field is scored by its own length: a long description does not dilute a title
    match (FTS5's bm25 alone normalises by the whole record)."""
    full_reindex(hospital_registry, fresh_engine, "hospital", TODAY)
    assert hit_ids(fresh_engine, "hospital medicine") == [1, 2]


def test_the_embedded_score_tables_forget_a_replaced_or_removed_text(tmp_path):
    """The per-column score tables are contentless: a document's old words must leave them
    when it is replaced or removed, or they would score words the record no longer has."""
    import sqlite3

    from indexer.document import to_document

    path = tmp_path / "search.sqlite3"
    engine = EmbeddedEngine(path)
    docs = [
        to_document(f.activity(id=i, provider_activity_id=f"T{i}", title=title), TODAY)
        for i, title in ((1, "Asthma Review"), (2, "Gout Review"))
    ]
    engine.reindex(docs)
    engine.upsert([dict(docs[0], title="Psoriasis Review")])
    engine.delete([2])
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE temp.title_terms USING fts5vocab(main, score_title, row)")
    terms = dict(conn.execute("SELECT term, doc FROM temp.title_terms").fetchall())
    conn.close()
    assert terms == {"psoriasi": 1, "review": 1}
    assert hit_ids(engine, "psoriasis") == [1]


# --- the embedded engine's two ways of reading a page ---------------------------------------

PAGE_REQUESTS = [
    {},
    {"sort": "credits"},
    {"sort": "newest"},
    {"sort": "points"},
    {"sort": "points", "board": "ABIM"},
    {"sort": "deadline"},
    {"sort": "deadline", "board": ["ABIM", "ABP"]},
    {"sort": "deadline", "board": "ABA", "page": "2"},
    {"board": "ABIM", "when": "upcoming", "page": "3"},
    {"state": ["CA", "NY"], "sort": "credits"},
    {"fee": "free", "sort": "points", "board": "ABP", "page": "2"},
]


@pytest.fixture(scope="module")
def embedded_engine(sessions, tmp_path_factory):
    engine = EmbeddedEngine(tmp_path_factory.mktemp("pages") / "search.sqlite3")
    full_reindex(sessions, engine, "contract-pages", TODAY)
    return engine


@pytest.mark.parametrize("args", PAGE_REQUESTS, ids=str)
def test_an_embedded_page_is_the_same_read_from_an_index_or_looked_up(
    embedded_engine, args, monkeypatch
):
    """Many matches: the sort's index is walked until the page is full; few: the matches are
    looked up and sorted (indexer.embedded.query.walks). Both must give the same page."""
    from indexer.embedded import query

    request = parse_request(
        MultiDict([(k, x) for k, v in args.items() for x in (v if isinstance(v, list) else [v])])
    )
    monkeypatch.setattr(query, "walks", lambda matches, end, documents: True)
    walked = embedded_engine.search(request, TODAY)
    monkeypatch.setattr(query, "walks", lambda matches, end, documents: False)
    looked_up = embedded_engine.search(request, TODAY)
    assert walked.total == looked_up.total > 0
    assert [h["id"] for h in walked.hits] == [h["id"] for h in looked_up.hits]
    assert len(walked.hits) == min(20, walked.total - 20 * (int(args.get("page", 1)) - 1))


def test_embedded_counts_stay_true_through_upserts_and_deletes(sessions, tmp_path):
    """The bitmaps are changed in place by each write (indexer.embedded.bitmaps.Pending):
    after replacing, refusing and removing documents, every count must still be what the
    documents the index holds say."""
    import random
    from collections import Counter

    engine = EmbeddedEngine(tmp_path / "search.sqlite3")
    docs = list(iter_documents(sessions, TODAY))[:400]
    engine.reindex(docs[:300])
    rng = random.Random(7)
    for _ in range(5):
        changed = [
            dict(d, fee=rng.choice(["free", "paid"]), delivery=rng.choice(["online", "both"]))
            for d in rng.sample(docs, 60)
        ]
        changed.append(dict(docs[0], title="\ud83d not Unicode"))  # refused: the old one goes
        engine.upsert(changed)
        engine.delete([d["id"] for d in rng.sample(docs, 20)])

    held = engine.documents(sorted(engine.ids()))
    listed = [d for d in held.values() if d["end_date"] >= TODAY.isoformat()]
    result = engine.search(parse_request({"per_page": "1"}), TODAY)
    assert result.total == len(listed)
    for facet in FACETS:
        expected = Counter(
            str(v)
            for d in listed
            for v in (d[facet.name] if isinstance(d[facet.name], list) else [d[facet.name]])
            if v not in (None, "")
        )
        top = dict(sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[: facet.size])
        assert result.counts(facet.name) == top, facet.name


def test_an_embedded_reindex_that_writes_its_bitmaps_in_parts_counts_the_same(
    sessions, embedded_engine, tmp_path, monkeypatch
):
    """A large reindex writes its bitmaps out every FLUSH_EVERY documents (flat memory); the
    parts must add up to what one write gives."""
    from indexer.embedded import engine as embedded

    monkeypatch.setattr(embedded, "FLUSH_EVERY", embedded.BATCH)
    parts = EmbeddedEngine(tmp_path / "search.sqlite3")
    full_reindex(sessions, parts, "contract-parts", TODAY)
    for args in ({}, {"board": "ABIM", "q": "heart"}, {"when": "upcoming", "fee": "free"}):
        one, many = search(embedded_engine, **args), search(parts, **args)
        assert many.total == one.total > 0
        assert many.facets == one.facets
        assert [h["id"] for h in many.hits] == [h["id"] for h in one.hits]
