"""Pages and the public JSON API, through the one search model, on the embedded engine."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from directory.demo import generate_into
from tests import factories as f
from tests.conftest import index_app
from tests.test_web_security import form_token


@pytest.fixture
def indexed(app, engine):
    """Demo data around the app's today, indexed; plus one activity with hostile text."""
    with app.app_context():
        from directory.web.context import today

        day = today()
        generate_into(engine, count=600, seed=4, today=day)
        with Session(engine) as session:
            session.add(
                f.activity(
                    id=1,
                    provider=f.provider(id=9000, name="Evil <b>Provider</b>"),
                    title='<script>alert("x")</script> Sepsis & Shock',
                    start_date=day + timedelta(days=3),
                    end_date=day + timedelta(days=4),
                    moc=[f.abim(claim_deadline=day + timedelta(days=60))],
                )
            )
            session.commit()
    index_app(app)
    return day


def test_search_page_and_api_show_the_same_search(client, indexed):
    page = client.get("/?board=ABIM&sort=credits")
    api = client.get("/api/v1/search?board=ABIM&sort=credits").get_json()
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"{api['total']:,} activities" in html
    first = api["hits"][0]
    assert f'href="/activities/{first["id"]}"' in html
    assert api["links"]["html"] == "/?board=ABIM&sort=credits"
    assert all(any(b["board"] == "ABIM" for b in h["boards"]) for h in api["hits"])


def test_provider_text_is_escaped_everywhere(client, indexed):
    html = client.get("/?q=sepsis+shock").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Sepsis &amp; Shock" in html
    assert "<script>alert" not in html and "Evil <b>" not in html
    detail = client.get("/activities/1").get_data(as_text=True)
    assert "<script>alert" not in detail.replace('<script type="application/ld+json">', "")
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', detail, re.S).group(1)
    assert json.loads(ld)["name"].startswith('<script>alert("x")')


def test_bad_search_parameters_are_400_with_a_message_never_500(client, indexed):
    for query in (
        "sort=bogus",
        "page=0",
        "credits_min=lots",
        "date_from=tomorrow",
        "per_page=1000",
        "page=101",
    ):
        page = client.get(f"/?{query}")
        api = client.get(f"/api/v1/search?{query}")
        assert page.status_code == 400 and api.status_code == 400, query
        assert api.get_json()["error"]["problems"]


def test_detail_page_has_what_a_physician_needs(client, indexed):
    html = client.get("/activities/1").get_data(as_text=True)
    assert "<h1>" in html and 'class="board-registrations"' in html
    assert 'class="register button"' in html and ".ics" in html
    ics = client.get("/activities/1.ics")
    assert ics.status_code == 200 and "BEGIN:VEVENT" in ics.get_data(as_text=True)
    assert 'SUMMARY:<script>alert("x")</script> Sepsis & Shock' in ics.get_data(as_text=True)


def test_unlisted_is_404_and_ended_is_410(client, indexed, engine):
    from sqlalchemy import select

    from directory.registry.models import Activity

    day = indexed
    with Session(engine) as session:
        draft = session.scalar(select(Activity).where(Activity.status == "Draft"))
        ended = session.scalar(
            select(Activity).where(
                Activity.status == "Active",
                Activity.end_date < day,
                Activity.show_in_directory.is_(True),
            )
        )
        draft_id, ended_id = draft.id, ended.id
    assert client.get(f"/activities/{draft_id}").status_code == 404
    assert client.get(f"/api/v1/activities/{draft_id}").status_code == 404
    assert client.get(f"/activities/{ended_id}").status_code in (404, 410)
    assert client.get("/activities/1").status_code == 200


def test_detail_works_while_search_is_down(app, client, indexed):
    class Down:
        def search(self, *a, **k):
            from indexer.engine import SearchUnavailable

            raise SearchUnavailable("down")

        generation = search  # down: it cannot say what it holds either

    app.extensions["directory_search"] = Down()
    assert client.get("/activities/1").status_code == 200
    assert client.get("/api/v1/activities/1").status_code == 200
    assert client.get("/api/v1/search").status_code == 503
    assert client.get("/").status_code == 503


def test_api_caching_and_cors(client, indexed):
    first = client.get("/api/v1/search?board=ABA")
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/api/v1/search?board=ABA", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_my_board_orders_badges_but_never_filters(client, indexed):
    everyone = client.get("/api/v1/search?per_page=50").get_json()["total"]
    token = form_token(client, "/")  # the form's CSRF token, as a browser would send it
    client.post("/my-board", data={"board": "ABA", "next": "/", "csrf_token": token})
    html = client.get("/").get_data(as_text=True)
    assert f"{everyone:,} activities" in html
    assert 'id="only-my-board"' in html and "board=ABA" in html
    bad = client.post(
        "/my-board",
        data={"board": "ABA", "next": "https://evil.example/", "csrf_token": token},
    )
    assert bad.headers["Location"] == "/"


def test_static_files_are_fingerprinted_and_cached_forever(client, indexed):
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/site\.[0-9a-f]{12}\.css)"', html).group(1)
    response = client.get(css)
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]


def test_openapi_document_is_valid(client):
    from openapi_spec_validator import validate

    validate(client.get("/api/v1/openapi.json").get_json())


def test_a_range_typed_backwards_means_the_same_range():
    from werkzeug.datastructures import MultiDict

    from directory.search import parse_request

    req = parse_request(
        MultiDict(
            {
                "date_from": "2027-03-31",
                "date_to": "2027-03-01",
                "credits_min": "5",
                "credits_max": "2",
            }
        )
    )
    assert (str(req.date_from), str(req.date_to)) == ("2027-03-01", "2027-03-31")
    assert (req.credits_min, req.credits_max) == (2, 5)


def test_static_files_cannot_be_framed_but_the_widget_loads_anywhere(client):
    css = client.get("/static/site.css")
    assert css.headers["X-Frame-Options"] == "DENY"
    widget = client.get("/static/widget.js")
    assert widget.headers["Access-Control-Allow-Origin"] == "*"
    assert widget.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


# --- delivery, and facets with a fixed vocabulary -----------------------------------------------

FIXED_FACETS = [
    # (query, parameter, what the message must offer instead)
    ("delivery=hybrid", "delivery", ["in person (In person only)", "online (Online only)", "both"]),
    ("delivery=online&delivery=in-person", "delivery", ["'in-person'", "in person"]),
    ("board=ZZZ", "board", ["ABIM", "ABA", "ABPMR"]),
    ("format=Webinar", "format", ["Course", "Internet Enduring Material"]),
    ("fee=cheap", "fee", ["free, paid"]),
    ("mips=no", "mips", ["yes"]),
    ("registration=open", "registration", ["open to all", "limited"]),
    ("rems=Clozapine", "rems", ["Opioid Analgesic REMS"]),
    ("practice_area=ABIM:Cardiology", "practice_area", ["Cardiovascular Disease"]),
    ("practice_area=Cardiology", "practice_area", ["BOARD:name"]),
    ("credit_type=XYZ:Patient Safety", "credit_type", ["ABIM", "ABA"]),
]


@pytest.mark.parametrize(("query", "name", "offered"), FIXED_FACETS)
def test_a_value_outside_a_facets_vocabulary_is_a_400_naming_the_valid_ones(
    client, indexed, query, name, offered
):
    for path in ("/api/v1/search", "/api/v1/facets"):
        api = client.get(f"{path}?{query}")
        assert api.status_code == 400, (path, query)
        message = api.get_json()["error"]["problems"][name]
        assert all(o in message for o in offered), message
        assert name in api.get_json()["error"]["message"]
    page = client.get(f"/?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert f"<strong>{name}</strong>" in html and 'role="alert"' in html


def test_open_facets_still_match_nothing_rather_than_refuse(client, indexed):
    for query in ("state=ZZ", "country=ZZ", "provider=99999999"):
        api = client.get(f"/api/v1/search?{query}")
        assert api.status_code == 200 and api.get_json()["total"] == 0, query
        assert client.get(f"/?{query}").status_code == 200


def test_delivery_answers_in_person_only_online_only_or_both(client, indexed):
    facets = client.get("/api/v1/facets").get_json()
    (delivery,) = [f for f in facets["facets"] if f["name"] == "delivery"]
    counts = {v["value"]: v["count"] for v in delivery["values"]}
    labels = {v["value"]: v["label"] for v in delivery["values"]}
    assert set(counts) == {"in person", "online", "both"}
    assert sum(counts.values()) == facets["total"]
    assert labels == {
        "in person": "In person only",
        "online": "Online only",
        "both": "In person and online",
    }
    for value in ("online", "both", "in person"):
        api = client.get(f"/api/v1/search?delivery={value}&per_page=100").get_json()
        assert api["total"] == counts[value]
        assert {h["delivery"] for h in api["hits"]} == {value}
        for hit in api["hits"]:
            if value == "online":
                assert hit["where"] == "Online"
            elif value == "both":
                assert hit["where"].endswith(" and online") and hit["where"] != " and online"
            else:
                assert hit["where"] and "online" not in hit["where"]
    both = client.get("/api/v1/search?delivery=online&delivery=both").get_json()
    assert both["total"] == counts["online"] + counts["both"]


def test_the_delivery_facet_reads_as_a_physician_means_it(client, indexed):
    html = client.get("/?board=ABIM").get_data(as_text=True)
    fieldset = re.search(
        r'<fieldset class="facet" data-facet="delivery">(.*?)</fieldset>', html, re.S
    )
    rows = re.findall(
        r'value="([^"]+)"[^>]*> <span class="facet-label">([^<]+)</span>', fieldset[1]
    )
    # In a fixed order, online first and "both" beside it: the two a physician at home ticks.
    assert rows == [
        ("online", "Online only"),
        ("both", "In person and online"),
        ("in person", "In person only"),
    ]
    link = re.search(
        r'<a id="online-delivery" href="([^"]+)">Everything available online</a>', html
    )
    href = link[1].replace("&amp;", "&")
    assert href == "/?board=ABIM&delivery=online&delivery=both"
    chosen = client.get(href).get_data(as_text=True)
    assert 'id="online-delivery"' not in chosen  # already what it asks
    assert "Delivery: Online only" in chosen and "Delivery: In person and online" in chosen
    api = client.get("/api/v1/search?board=ABIM&delivery=online&delivery=both").get_json()
    assert f"{api['total']:,} activities" in chosen


def test_detail_markup_says_both_ways_for_in_person_and_online(client, indexed, engine):
    day = indexed
    provider = f.provider(id=9010, name="Both Ways CME")
    with Session(engine) as session:
        session.add_all(
            [
                f.activity(
                    id=2,
                    provider_activity_id="BOTH-LIVE",
                    provider=provider,
                    delivery="both",
                    start_date=day + timedelta(days=5),
                    end_date=day + timedelta(days=6),
                    moc=[f.abim(claim_deadline=day + timedelta(days=60))],
                ),
                f.activity(
                    id=3,
                    provider_activity_id="BOTH-ENDURING",
                    provider=provider,
                    format="Enduring Material",
                    delivery="both",
                    start_date=day - timedelta(days=5),
                    end_date=day + timedelta(days=200),
                    moc=[f.abim(claim_deadline=day + timedelta(days=260))],
                ),
                f.activity(
                    id=4,
                    provider_activity_id="ONLINE-ENDURING",
                    provider=provider,
                    format="Enduring Material",
                    delivery="online",
                    city=None,
                    state=None,
                    country=None,
                    start_date=day - timedelta(days=5),
                    end_date=day + timedelta(days=200),
                    moc=[f.abim(claim_deadline=day + timedelta(days=260))],
                ),
            ]
        )
        session.commit()

    def ld(activity_id):
        html = client.get(f"/activities/{activity_id}").get_data(as_text=True)
        markup = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
        return json.loads(markup[1])

    live = ld(2)
    assert live["eventAttendanceMode"] == "https://schema.org/MixedEventAttendanceMode"
    assert [loc["@type"] for loc in live["location"]] == ["Place", "VirtualLocation"]
    assert live["location"][0]["name"] == "Chicago, IL"
    assert ld(1)["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert ld(3)["hasCourseInstance"]["courseMode"] == ["online", "onsite"]
    assert ld(4)["hasCourseInstance"]["courseMode"] == "online"
    api = client.get("/api/v1/activities/2").get_json()
    assert api["delivery"] == "both" and api["where"] == "Chicago, IL and online"
    assert "BEGIN:VEVENT" in client.get("/activities/2.ics").get_data(as_text=True)


def test_a_practice_area_link_made_before_a_board_renamed_it_still_selects_it():
    from werkzeug.datastructures import MultiDict

    from directory.search import parse_request

    names = ["ABOS:Spine", "ABOS:surgery of the spine", "ABIM:cardiovascular disease"]
    request = parse_request(MultiDict([("practice_area", n) for n in names]))
    assert request.selected("practice_area") == (
        "ABOS:Surgery of the Spine",
        "ABIM:Cardiovascular Disease",
    )


def _facet_values(html: str, name: str) -> list[str]:
    fieldset = re.search(
        rf'<fieldset class="facet" data-facet="{name}">(.*?)</fieldset>', html, re.S
    )
    assert fieldset, f"no {name} facet on the page"
    return re.findall(rf'<input type="checkbox" name="{name}" value="([^"]+)"', fieldset[1])


def test_a_long_facet_shows_its_first_values_and_links_to_all_of_them(client, indexed):
    api = client.get("/api/v1/facets").get_json()
    providers = next(f for f in api["facets"] if f["name"] == "provider")["values"]
    assert len(providers) > 10
    html = client.get("/").get_data(as_text=True)
    assert _facet_values(html, "provider") == [v["value"] for v in providers[:10]]
    link = re.search(r'<a class="facet-all" href="([^"]+)" data-facet="provider">([^<]+)', html)
    assert link, "no link to the rest of the provider facet"
    assert link[2] == f"Show {len(providers) - 10} more"
    assert "show=provider" in link[1] and link[1].endswith("#facet-provider")

    whole = client.get(link[1].replace("&amp;", "&").split("#")[0])
    assert whole.status_code == 200
    page = whole.get_data(as_text=True)
    assert _facet_values(page, "provider") == [v["value"] for v in providers]
    # The form remembers it, so a checkbox ticked next keeps the facet whole.
    assert '<input type="hidden" name="show" value="provider">' in page
    assert 'data-facet="provider">Show' not in page
    # Every other facet still shows its first values only.
    assert len(_facet_values(page, "state")) <= 10


def test_a_selected_value_beyond_the_first_ten_is_still_shown_and_checked(client, indexed):
    api = client.get("/api/v1/facets").get_json()
    rare = next(f for f in api["facets"] if f["name"] == "provider")["values"][-1]["value"]
    html = client.get(f"/?provider={rare}").get_data(as_text=True)
    assert rare in _facet_values(html, "provider")
    assert re.search(rf'name="provider" value="{rare}" checked>', html)


def test_grouped_facets_link_each_boards_rest(client, indexed):
    html = client.get("/").get_data(as_text=True)
    groups = re.findall(
        r'<a class="facet-all" href="[^"]*show=practice_area[^"]*#facet-practice_area-(\w+)"'
        r' data-facet="practice_area" data-board="(\w+)">Show [\d,]+ more<span'
        r' class="visually-hidden"> practice area values for (\w+)</span>',
        html,
    )
    assert groups and all(a == b == c for a, b, c in groups)
    [(board, _, _)] = groups[:1]
    assert f'id="facet-practice_area-{board}"' in html


@pytest.mark.parametrize("show", ["nonsense", "q", "<script>"])
def test_showing_something_that_is_no_facet_is_a_400_naming_the_facets(client, indexed, show):
    response = client.get("/", query_string={"show": show, "board": "ABIM"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "is not a facet; use one of: board, practice_area" in page
    assert "<script>" not in page


# --- my state, its requirements, and near me ----------------------------------------------------
#
# Activities built here (not the demo's), around a rule picked from the reference data at run
# time: the first state rule that counts only approved courses, so the data file may change.

TAGGED_APPROVED = 501  # tagged with the rule's topic and holding its approval: Omaha, NE
TAGGED_ONLY = 502  # the same tag, no approval: Lincoln, NE, with a session in Chicago
FEDERAL_TOPIC = 503  # tagged with the federal rule's topic, online only
UNTAGGED = 504  # no tags: Boston, MA


@pytest.fixture
def mandated(app, engine):
    from directory.registry.reference import FEDERAL, reference

    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only and m.jurisdiction != FEDERAL)
    federal = next(m for m in ref.mandates.values() if m.jurisdiction == FEDERAL)
    with app.app_context():
        from directory.web.context import today

        day = today()
    provider = f.provider(id=9100, name="Prairie CME")

    def listed(activity_id, **fields):
        return f.activity(
            id=activity_id,
            provider_activity_id=f"MANDATE-{activity_id}",
            provider=provider,
            title=f"Activity {activity_id}",
            start_date=day + timedelta(days=10),
            end_date=day + timedelta(days=11),
            moc=[f.abim(claim_deadline=day + timedelta(days=90))],
            **fields,
        )

    with Session(engine) as session:
        session.add_all(
            [
                listed(
                    TAGGED_APPROVED,
                    topics=[rule.topics[0]],
                    approvals=[f.approval(rule.approver)],
                    city="Omaha",
                    state="NE",
                ),
                listed(
                    TAGGED_ONLY,
                    topics=[rule.topics[0]],
                    city="Lincoln",
                    state="NE",
                    occurrences=[
                        f.occurrence(
                            day + timedelta(days=20),
                            day + timedelta(days=21),
                            city="Chicago",
                            state="IL",
                        )
                    ],
                ),
                listed(
                    FEDERAL_TOPIC,
                    topics=[federal.topics[0]],
                    delivery="online",
                    format="Internet Live Course",
                    city=None,
                    state=None,
                    country=None,
                ),
                listed(UNTAGGED, city="Boston", state="MA"),
            ]
        )
        session.commit()
    index_app(app)
    return {"rule": rule, "federal": federal, "state": rule.jurisdiction, "ref": ref}


def _requirement_rows(html: str) -> list[tuple[str, str, int]]:
    fieldset = re.search(
        r'<fieldset class="facet[^"]*" data-facet="mandate">(.*?)</fieldset>', html, re.S
    )
    assert fieldset, "no requirements facet on the page"
    rows = re.findall(
        r'name="mandate" value="([^"]+)"[^>]*> <span class="facet-label">([^<]+)</span>'
        r' <span class="count">([\d,]+)</span>',
        fieldset[1],
    )
    return [(value, text, int(count.replace(",", ""))) for value, text, count in rows]


def _card_html(html: str, activity_id: int) -> str:
    cards = re.findall(r'<article class="card">.*?</article>', html, re.S)
    mine = [c for c in cards if re.search(rf'href="/activities/{activity_id}(?:\?[^"]*)?"', c)]
    assert len(mine) == 1, f"{len(mine)} cards for activity {activity_id}"
    return mine[0]


def test_my_state_lists_its_requirements_then_the_federal_ones_with_their_counts(client, mandated):
    state, ref = mandated["state"], mandated["ref"]
    html = client.get(f"/?my_state={state}").get_data(as_text=True)
    name = ref.jurisdiction_name(state)
    assert f"Counts toward {name} requirements" in html
    rows = _requirement_rows(html)
    assert [value for value, _, _ in rows] == [m.id for m in ref.mandates_for(state)]
    # The counts are the engine's, for the whole search (0 where none match).
    api = client.get("/api/v1/facets").get_json()
    engine_counts = {
        v["value"]: v["count"]
        for f_ in api["facets"]
        if f_["name"] == "mandate"
        for v in f_["values"]
    }
    assert {value: count for value, _, count in rows} == {
        m.id: engine_counts.get(m.id, 0) for m in ref.mandates_for(state)
    }
    assert engine_counts[mandated["rule"].id] == 1  # approved only: the tag alone does not count
    for m in ref.mandates_for(state):
        assert m.summary in html
    texts = {value: text for value, text, _ in rows}
    assert texts[mandated["federal"].id] == "MATE Act (DEA)"


def test_without_a_state_only_the_federal_requirement_is_offered(client, mandated):
    html = client.get("/").get_data(as_text=True)
    rows = _requirement_rows(html)
    assert [(v, t) for v, t, _ in rows] == [("US-mate-act", "MATE Act (DEA)")]
    assert rows[0][2] == 1
    assert 'href="#my-state"' in html  # says where to choose one


def test_my_state_is_remembered_never_filters_and_a_link_overrides_it(client, mandated):
    state, ref = mandated["state"], mandated["ref"]
    other = next(
        code for code in ref.jurisdictions if code != state and ref.mandates_for(code)[:-1]
    )
    everyone = client.get("/api/v1/search").get_json()["total"]
    token = form_token(client, "/")
    answer = client.post("/my-state", data={"state": state, "next": "/", "csrf_token": token})
    assert answer.status_code == 303 and client.get_cookie("my_state").value == state
    html = client.get("/").get_data(as_text=True)
    assert f"{everyone:,} activities" in html  # the cookie alone never filters
    assert f"Counts toward {ref.jurisdiction_name(state)} requirements" in html
    assert f'<option value="{state}" selected>' in html
    # A shared link's state wins for that page, and the remembered one is a link away.
    shared = client.get(f"/?my_state={other}").get_data(as_text=True)
    assert f"Counts toward {ref.jurisdiction_name(other)} requirements" in shared
    assert [v for v, _, _ in _requirement_rows(shared)] == [m.id for m in ref.mandates_for(other)]
    assert 'id="use-my-state"' in shared
    # Without the token, or naming no state: refused, or forgotten.
    assert client.post("/my-state", data={"state": other, "next": "/"}).status_code == 400
    client.post("/my-state", data={"state": "Atlantis", "next": "/", "csrf_token": token})
    assert client.get_cookie("my_state") is None


def test_selecting_a_requirement_filters_and_reads_as_a_chip(client, mandated):
    rule, state = mandated["rule"], mandated["state"]
    html = client.get(f"/?my_state={state}&mandate={rule.id}").get_data(as_text=True)
    assert "1 activity" in html
    _card_html(html, TAGGED_APPROVED)
    assert f"/activities/{TAGGED_ONLY}" not in html
    chip = re.search(r'<a class="chip" href="([^"]+)">.*?Counts toward ([^<]+?) <span', html, re.S)
    assert chip and chip[2] == f"{rule.jurisdiction}: {rule.name}"
    assert "mandate=" not in chip[1] and f"my_state={state}" in chip[1]
    assert "checked" in re.search(rf'value="{rule.id}"[^>]*>', html)[0]
    api = client.get(f"/api/v1/search?mandate={rule.id}").get_json()
    assert [h["id"] for h in api["hits"]] == [TAGGED_APPROVED]


def test_cards_say_which_requirements_they_may_count_toward_with_source_and_date(client, mandated):
    rule, state = mandated["rule"], mandated["state"]
    html = client.get(f"/?my_state={state}").get_data(as_text=True)
    card = _card_html(html, TAGGED_APPROVED)
    line = re.search(rf'<li class="requirement" data-mandate="{rule.id}">(.*?)</li>', card, re.S)
    assert line, "no requirement line for the matched rule"
    text = line[1]
    assert rule.name in text and rule.summary in text and rule.who.rstrip(".") in text
    assert f'href="{rule.source}" rel="noopener"' in text
    assert f'datetime="{rule.checked.isoformat()}"' in text
    assert "confirm with your board" in card
    # The activity's page, from here, lists the same state's requirements.
    assert f'href="/activities/{TAGGED_APPROVED}?my_state={state}"' in card
    # The tag without the approval the state asks for is no match.
    assert f'data-mandate="{rule.id}"' not in _card_html(html, TAGGED_ONLY)
    assert 'class="requirement"' not in _card_html(html, UNTAGGED)
    federal = _card_html(html, FEDERAL_TOPIC)
    assert 'data-mandate="US-mate-act"' in federal


def test_the_detail_page_reads_the_match_the_tags_and_a_missing_approval(client, mandated):
    rule, state, ref = mandated["rule"], mandated["state"], mandated["ref"]
    approver = ref.approvers[rule.approver]
    html = client.get(f"/activities/{TAGGED_APPROVED}?my_state={state}").get_data(as_text=True)
    section = re.search(r'<section id="requirements">(.*?)</section>', html, re.S)[1]
    assert f"Requirements in {ref.jurisdiction_name(state)}" in section
    assert f'data-mandate="{rule.id}"' in section and rule.summary in section
    assert f'href="{rule.source}" rel="noopener"' in section
    assert "confirm with your board" in section
    topic = ref.topics[rule.topics[0]]
    assert f"<dt>{topic.name}</dt>" in section
    assert topic.definition.split(",")[0] in section
    assert f"{approver.name}: approval {f.approval(rule.approver)['id']}" in section
    assert 'class="not-approved"' not in section

    unapproved = client.get(f"/activities/{TAGGED_ONLY}?my_state={state}").get_data(as_text=True)
    section = re.search(r'<section id="requirements">(.*?)</section>', unapproved, re.S)[1]
    line = re.search(rf'<p class="not-approved" data-mandate="{rule.id}">(.*?)</p>', section, re.S)
    assert line, "no line saying the state counts only approved courses"
    assert f"counts only courses approved by the {approver.name}" in line[1]
    assert "carries no approval" in line[1]
    assert f'<li class="requirement" data-mandate="{rule.id}">' not in section
    # The cookie's state is used when the link names none; a bad one is a 400 with a message.
    token = form_token(client, "/")
    client.post("/my-state", data={"state": state, "next": "/", "csrf_token": token})
    assert 'class="not-approved"' in client.get(f"/activities/{TAGGED_ONLY}").get_data(as_text=True)
    bad = client.get(f"/activities/{TAGGED_ONLY}?my_state=Atlantis")
    assert bad.status_code == 400 and "two-letter code" in bad.get_data(as_text=True)


def test_the_api_carries_requirements_and_the_states_list(client, mandated):
    rule, state, ref = mandated["rule"], mandated["state"], mandated["ref"]
    api = client.get(f"/api/v1/search?my_state={state}").get_json()
    hits = {h["id"]: h for h in api["hits"]}
    (req,) = [r for r in hits[TAGGED_APPROVED]["requirements"] if r["id"] == rule.id]
    assert req["name"] == rule.name and req["hours"] == rule.hours
    assert req["cadence"] == rule.cadence_label and req["who"] == rule.who
    assert req["source"] == rule.source and req["checked"] == rule.checked.isoformat()
    assert req["approved_only"] is True
    assert all(r["id"] != rule.id for r in hits[TAGGED_ONLY]["requirements"])
    assert api["my_state"]["code"] == state
    listed = {r["id"]: r for r in api["my_state"]["requirements"]}
    assert list(listed) == [m.id for m in ref.mandates_for(state)]
    assert listed[rule.id]["count"] == 1
    narrowed = client.get(listed[rule.id]["toggle"]).get_json()
    assert [h["id"] for h in narrowed["hits"]] == [TAGGED_APPROVED]
    # Without my_state, the federal requirements only, and no state in the answer.
    plain = client.get("/api/v1/search").get_json()
    assert plain["my_state"] is None and plain["near"] is None
    for hit in plain["hits"]:
        assert all(r["jurisdiction"] == "US" for r in hit["requirements"])
        assert "distance" not in hit
    one = client.get(f"/api/v1/activities/{TAGGED_ONLY}?my_state={state}").get_json()
    assert [r["id"] for r in one["not_approved"]] == [rule.id]
    assert client.get("/api/v1/activities/501?my_state=ZZ").status_code == 400


BAD_DISTANCE_OR_STATE = [
    ("my_state=Atlantis", "my_state"),
    ("my_state=TX&my_state=NY", "my_state"),
    ("near=Nowhereville%2C+ZZ", "near"),
    ("near=00000", "near"),
    ("near=Omaha%2C+NE&within=0", "within"),
    ("near=Omaha%2C+NE&within=far", "within"),
    ("near=Omaha%2C+NE&within=501", "within"),
    ("near=Omaha%2C+NE&unit=furlongs", "unit"),
    ("within=25", "within"),
    ("include_online=yes", "include_online"),
    ("sort=distance", "sort"),
]


@pytest.mark.parametrize(("query", "name"), BAD_DISTANCE_OR_STATE)
def test_a_bad_state_place_or_radius_is_a_400_naming_it_everywhere(client, mandated, query, name):
    api = client.get(f"/api/v1/search?{query}")
    assert api.status_code == 400, query
    assert api.get_json()["error"]["problems"][name]
    page = client.get(f"/?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert f"<strong>{name}</strong>" in html and 'role="alert"' in html
    for path in ("/embed", "/feeds/search.atom"):
        other = client.get(f"{path}?{query}")
        assert other.status_code == 400 and name in other.get_data(as_text=True), (path, query)


def test_near_keeps_what_is_within_the_radius_and_says_how_far(client, mandated):
    from directory.registry import places

    omaha = places.resolve("Omaha, NE")
    html = client.get("/?near=Omaha%2C+NE&within=75").get_data(as_text=True)
    assert f"within 75 mi of {omaha.label}" in html
    ids = {int(i) for i in re.findall(r'<h2 class="card-title"><a href="/activities/(\d+)', html)}
    lincoln = places.distance_km(omaha.point, places.locate("Lincoln", "NE", "US"))
    assert lincoln / places.KM_PER_MILE < 75  # the premise of what follows
    assert ids == {TAGGED_APPROVED, TAGGED_ONLY}  # not Boston, not online
    card = _card_html(html, TAGGED_ONLY)
    miles = lincoln / places.KM_PER_MILE
    assert f"<dt>Distance</dt><dd>{round(miles):g} mi · nearest in Lincoln, NE</dd>" in card
    # The chip says the place understood, and takes the distance search away.
    chip = re.search(
        r'<a class="chip" href="([^"]+)">.*?(Within 75 mi of [^<]+?) <span', html, re.S
    )
    assert chip and chip[2] == f"Within 75 mi of {omaha.label}"
    assert "near=" not in chip[1] and "within=" not in chip[1]
    # "Nearest" is a sort only with a place.
    assert '<option value="distance"' in html
    assert '<option value="distance"' not in client.get("/").get_data(as_text=True)


def test_near_in_km_online_too_and_nearest_first(client, mandated):
    from directory.registry import places

    chicago = places.resolve("Chicago, IL")
    api = client.get(
        "/api/v1/search?near=Chicago%2C+IL&within=40&unit=km&include_online=yes&sort=distance"
    ).get_json()
    assert api["near"]["place"] == chicago.label
    assert (api["near"]["within"], api["near"]["unit"], api["near"]["include_online"]) == (
        40,
        "km",
        True,
    )
    ids = [h["id"] for h in api["hits"]]
    # The course with a session in Chicago first, the online one (no distance) after it.
    assert ids == [TAGGED_ONLY, FEDERAL_TOPIC]
    nearest = api["hits"][0]["distance"]
    session = places.locate("Chicago", "IL", "US")
    assert nearest["unit"] == "km" and nearest["nearest_city"] == "Chicago, IL"
    assert nearest["value"] == pytest.approx(places.distance_km(chicago.point, session), abs=0.1)
    assert api["hits"][1]["distance"] is None
    html = client.get("/?near=Chicago%2C+IL&within=40&unit=km&include_online=yes").get_data(
        as_text=True
    )
    assert "within 40 km of Chicago, IL or online" in html
    assert "<dt>Distance</dt><dd>Online</dd>" in _card_html(html, FEDERAL_TOPIC)
    assert '<input type="hidden" name="unit" value="km">' in html


def test_feeds_and_the_embed_take_the_state_and_the_place(client, mandated):
    from defusedxml import ElementTree as ET

    rule, state = mandated["rule"], mandated["state"]
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring(client.get(f"/feeds/search.atom?mandate={rule.id}&my_state={state}").data)
    title = feed.find(f"{atom}title").text
    assert title == f"CME activities: Counts toward {rule.jurisdiction}: {rule.name}"
    (entry,) = feed.findall(f"{atom}entry")
    assert rule.name in entry.find(f"{atom}summary").text
    assert entry.find(f"{atom}link").get("href").endswith(f"?my_state={state}")
    near = ET.fromstring(client.get("/feeds/search.atom?near=Omaha%2C+NE&within=75").data)
    assert near.find(f"{atom}title").text.endswith("within 75 mi of Omaha, NE")

    embed = client.get(f"/embed?my_state={state}").get_data(as_text=True)
    assert f"Requirements shown for {mandated['ref'].jurisdiction_name(state)}" in embed
    assert "confirm with your board" in embed
    item = re.search(
        rf'<li data-id="{TAGGED_APPROVED}">(.*?)</li>\s*(?=<li data-id|</ol>)', embed, re.S
    )
    assert item and f'data-mandate="{rule.id}"' in item[1] and rule.summary in item[1]
    assert f"/activities/{TAGGED_APPROVED}?my_state={state}" in item[1]
    nearby = client.get("/embed?near=Omaha%2C+NE&within=75").get_data(as_text=True)
    assert "within 75 mi of Omaha, NE" in nearby and 'class="distance"' in nearby


# --- a provider's public page: every listing by page, facets within the provider ----------------

MANY = 9200  # more listings than a page holds: a third count for ABA, the rest for ABIM
OTHER = 9201  # another provider's listings, all ABA and in Texas: never on MANY's page
MANY_LISTINGS = 45
OTHER_LISTINGS = 7


@pytest.fixture
def paged(app, engine):
    with app.app_context():
        from directory.web.context import today

        day = today()
    many = f.provider(id=MANY, name="Many Listings CME")
    other = f.provider(id=OTHER, name="Other Listings CME")

    def listed(activity_id, provider, aba, **fields):
        deadline = day + timedelta(days=90)
        return f.activity(
            id=activity_id,
            provider_activity_id=f"PAGED-{activity_id}",
            provider=provider,
            title=f"Listing {activity_id}",
            start_date=day + timedelta(days=5 + activity_id % 20),
            end_date=day + timedelta(days=6 + activity_id % 20),
            moc=[f.aba(claim_deadline=deadline) if aba else f.abim(claim_deadline=deadline)],
            **fields,
        )

    mine = {7000 + i: i % 3 == 0 for i in range(MANY_LISTINGS)}  # id: counts for ABA
    theirs = [8000 + i for i in range(OTHER_LISTINGS)]
    with Session(engine) as session:
        session.add_all(listed(n, many, aba) for n, aba in mine.items())
        session.add_all(listed(n, other, True, city="Austin", state="TX") for n in theirs)
        session.commit()
    index_app(app)
    return {
        "mine": set(mine),
        "aba": {n for n, aba in mine.items() if aba},
        "theirs": set(theirs),
    }


def _listed_ids(html: str) -> list[int]:
    results = re.search(r'<ol id="results" class="cards">(.*?)</ol>', html, re.S)
    assert results, "no results list on the page"
    cards = re.findall(r'class="card-title"><a href="/activities/(\d+)', results[1])
    return [int(n) for n in cards]


def _next_link(html: str) -> str | None:
    link = re.search(r'<a rel="next" href="([^"]+)"', html)
    return link[1].replace("&amp;", "&") if link else None


def _walk(client, url: str) -> tuple[list[int], list[str]]:
    """Every listing from the first page by the "next" links, and the pages' addresses."""
    ids, urls = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        ids += _listed_ids(html)
        urls.append(url)
        url = _next_link(html)
        assert len(urls) <= 100, "the next links never end"
    return ids, urls


def test_a_providers_page_reaches_every_listing_once_by_page(client, paged):
    ids, urls = _walk(client, f"/providers/{MANY}")
    assert sorted(ids) == sorted(paged["mine"])  # each once, none missing, no one else's
    assert len(urls) == -(-MANY_LISTINGS // 20)  # the search page's default page size

    first = client.get(f"/providers/{MANY}").get_data(as_text=True)
    assert f"Listed activities ({MANY_LISTINGS})" in first
    numbers = re.search(r'<ul class="page-numbers">(.*?)</ul>', first, re.S)
    assert numbers, "no page numbers"
    assert re.findall(r'href="([^"]+)"', numbers[1]) == [
        f"/providers/{MANY}?page={n}" for n in range(2, len(urls) + 1)
    ]


def test_a_providers_pages_keep_the_query_in_every_link(client, paged):
    ids, urls = _walk(client, f"/providers/{MANY}?board=ABA&per_page=4&sort=deadline")
    assert sorted(ids) == sorted(paged["aba"])
    assert len(urls) == -(-len(paged["aba"]) // 4)
    for url in urls[1:]:
        assert url.startswith(f"/providers/{MANY}?")
        assert "board=ABA" in url and "per_page=4" in url and "sort=deadline" in url
        assert "provider=" not in url  # the path names the provider
    # The form sends what it has no field for (the page size), so applying a filter keeps it.
    html = client.get(urls[1]).get_data(as_text=True)
    assert '<input type="hidden" name="per_page" value="4">' in html
    assert re.search(r'name="board" value="ABA" checked>', html)


def _counts(html: str, facet: str) -> dict[str, int]:
    return {
        value: int(count.replace(",", ""))
        for value, count in re.findall(
            rf'name="{facet}" value="([^"]+)"[^>]*> <span class="facet-label"[^>]*>[^<]*</span>'
            r' <span class="count">([\d,]+)</span>',
            html,
        )
    }


def test_a_providers_facets_count_its_own_listings_only(client, paged):
    html = client.get(f"/providers/{MANY}").get_data(as_text=True)
    aba = len(paged["aba"])
    boards = _counts(html, "board")
    # The other provider's listings are all ABA: counted, they would make ABA's count larger.
    assert (boards["ABIM"], boards["ABA"]) == (MANY_LISTINGS - aba, aba)
    assert "TX" not in _counts(html, "state")  # only the other provider is in Texas
    # The provider facet would list other providers: it is not on the page.
    assert 'data-facet="provider"' not in html
    # Its links stay on the provider's page.
    show = re.findall(r'<a class="facet-all" href="([^"]+)"', html)
    assert all(link.startswith(f"/providers/{MANY}?") for link in show)
    # Selecting a value narrows within the provider; its chip's link removes it there.
    narrowed = client.get(f"/providers/{MANY}?board=ABA").get_data(as_text=True)
    assert sorted(_listed_ids(narrowed)) == sorted(paged["aba"])
    assert f'<a class="chip" href="/providers/{MANY}">' in narrowed


def test_a_provider_parameter_never_shows_another_providers_listings(client, paged):
    own = _listed_ids(client.get(f"/providers/{MANY}?per_page=100").get_data(as_text=True))
    for query in (f"provider={OTHER}", f"provider={OTHER}&provider={MANY}", "provider=nobody"):
        html = client.get(f"/providers/{MANY}?per_page=100&{query}").get_data(as_text=True)
        assert _listed_ids(html) == own, query
        assert not set(_listed_ids(html)) & paged["theirs"]
        assert "provider=" not in html.split('<ol id="results"', 1)[1], query
    theirs = client.get(f"/providers/{OTHER}?provider={MANY}").get_data(as_text=True)
    assert set(_listed_ids(theirs)) == paged["theirs"]


def test_a_page_past_the_end_says_so_and_links_the_last(client, paged):
    last = -(-MANY_LISTINGS // 20)
    response = client.get(f"/providers/{MANY}?page={last + 5}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _listed_ids(html) == []
    assert f"There is no page {last + 5}" in html
    assert f'href="/providers/{MANY}?page={last}"' in html
    assert f'<a rel="prev" href="/providers/{MANY}?page={last}">' in html


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("sort=bogus", "sort"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("show=nonsense", "show"),
        ("board=NOPE", "board"),
        ("sort=distance", "sort"),
    ],
)
def test_bad_input_on_a_providers_page_is_a_400_naming_it(client, paged, query, name):
    response = client.get(f"/providers/{MANY}?{query}")
    assert response.status_code == 400, query
    html = response.get_data(as_text=True)
    assert f"<strong>{name}</strong>: " in html
    assert '<ol id="results"' not in html  # no listings under a search it could not read
    assert client.get(f"/providers/424242?{query}").status_code == 404


def test_a_cards_own_place_is_read_apart_from_its_sessions_places():
    from directory.web.presenters.cards import where_text

    # The document lists the states of all its places together, sorted: the activity's own
    # place is the one no session accounts for, not the first state of the list.
    hit = {
        "delivery": "in person",
        "city": "Lincoln",
        "state": ["IL", "NE"],
        "country": ["US"],
        "occurrences": [{"city": "Chicago", "state": "IL", "country": "US"}],
    }
    assert where_text(hit) == "Lincoln, NE and 1 more"
