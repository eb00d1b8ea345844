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
