"""The iframe search (/embed), Atom feeds, framing headers and the widget script."""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from defusedxml import ElementTree as ET
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from directory.config import PROJECT_ROOT, Config
from directory.demo import generate_into
from directory.registry.db import make_engine, upgrade
from directory.search import parse_request
from directory.web.app import create_app
from directory.web.context import today
from indexer.engine import SearchUnavailable
from tests import factories as f
from tests.conftest import index_app

ATOM = "{http://www.w3.org/2005/Atom}"
WIDGET = PROJECT_ROOT / "static" / "widget.js"
NASTY_ID = 299_000_001
NASTY_TITLE = '<script>alert("x")</script> Sepsis & Shock: Q&A'
CONTROL_ID = 299_000_002


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """400 demo activities (seed 3) plus two with hostile titles, indexed in the embedded engine."""
    data_dir = tmp_path_factory.mktemp("embed")
    url = f"sqlite:///{data_dir / 'registry.sqlite3'}"
    upgrade(url)
    app = create_app(Config(database_url=url, data_dir=data_dir, secret_key="test"))
    engine = make_engine(url)
    with app.app_context():
        day = today()
    generate_into(engine, count=400, seed=3, today=day)
    provider = f.provider(id=9001, name="Hospital <b>Bold</b> & Sons")
    with Session(engine) as session:
        for activity_id, title in ((NASTY_ID, NASTY_TITLE), (CONTROL_ID, "Vertical\x0btab update")):
            a = f.activity(
                id=activity_id,
                provider_activity_id=f"NASTY-{activity_id}",
                title=title,
                start_date=day + timedelta(days=30),
                end_date=day + timedelta(days=31),
                provider=provider if activity_id == NASTY_ID else f.provider(id=9002),
                moc=[f.abim(claim_deadline=day + timedelta(days=120))],
            )
            session.add(a)
        session.commit()
    index_app(app)
    yield app
    engine.dispose()


@pytest.fixture
def web(loaded):
    return loaded.test_client()


def _search(app, query: str, **overrides):
    """What the engine itself answers for a query string (with embed/feed overrides)."""
    with app.test_request_context("/"), app.app_context():
        from directory.web.search_service import search_engine

        req = replace(parse_request(MultiDict(_pairs(query))), **overrides)
        return search_engine().search(req, today())


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query)


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li data-id="(\d+)"', page)]


# --- /embed -----------------------------------------------------------------------------------


def test_embed_lists_what_the_engine_finds_for_the_board(loaded, web):
    response = web.get("/embed?board=ABIM")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    expected = _search(loaded, "board=ABIM", per_page=10)
    assert expected.total > 10
    assert all("ABIM" in hit["board"] for hit in expected.hits)
    assert _ids(page) == [hit["id"] for hit in expected.hits]
    assert f"{expected.total:,} activities" in page
    # Every result opens our detail page in a new tab.
    links = re.findall(r'<a class="title" href="([^"]+)" target="_blank" rel="noopener">', page)
    assert links == [f"http://localhost/activities/{hit['id']}" for hit in expected.hits]
    # No site header, own stylesheet, no script at all.
    assert "site-header" not in page and "<script" not in page
    assert re.search(r'href="/static/embed\.[0-9a-f]{12}\.css"', page)


def test_embed_may_be_framed_by_any_site(web):
    response = web.get("/embed?board=ABIM")
    assert "X-Frame-Options" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp
    assert "frame-ancestors 'none'" not in csp
    # The page itself runs no script.
    assert "script-src" not in csp and "default-src 'none'" in csp


def test_every_other_response_refuses_framing(web):
    for path in (
        "/",
        "/provider-data",
        "/api/v1/search?board=ABIM",
        "/feeds/search.atom",
        "/no-such-page",
        "/api/v1/no-such-endpoint",
    ):
        response = web.get(path)
        assert response.status_code < 500, path
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


def test_an_existing_policy_is_extended_not_replaced(tmp_path, database_url):
    app = create_app(Config(database_url=database_url, data_dir=tmp_path, secret_key="test"))

    def with_policy(policy: str):
        def view():
            return "ok", 200, {"Content-Security-Policy": policy}

        return view

    app.add_url_rule("/strict", "strict", with_policy("default-src 'self';"))
    app.add_url_rule("/own-ancestors", "own", with_policy("frame-ancestors 'self'"))
    client = app.test_client()
    assert (
        client.get("/strict").headers["Content-Security-Policy"]
        == "default-src 'self'; frame-ancestors 'none'"
    )
    own = client.get("/own-ancestors")
    assert own.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert own.headers["X-Frame-Options"] == "DENY"


def test_embed_form_works_without_javascript(loaded, web):
    page = web.get("/embed?board=ABIM&format=Course&per_page=3").get_data(as_text=True)
    form = page[page.index("<form") : page.index("</form>")]
    assert 'method="get"' in form and 'action="/embed"' in form
    assert '<label for="q">Search CME activities</label>' in form
    assert 'type="search"' in form and 'name="q"' in form
    # The presets ride along, so a typed query stays within them.
    assert '<input type="hidden" name="board" value="ABIM">' in form
    assert '<input type="hidden" name="format" value="Course">' in form
    assert '<input type="hidden" name="per_page" value="3">' in form
    assert 'name="page"' not in form

    expected = _search(loaded, "board=ABIM&format=Course&per_page=3")
    assert expected.pages > 1
    assert 'rel="next" href="/embed?board=ABIM&amp;format=Course&amp;page=2&amp;per_page=3"' in page
    second = web.get("/embed?board=ABIM&format=Course&page=2&per_page=3").get_data(as_text=True)
    assert _ids(second) == [
        hit["id"] for hit in _search(loaded, "board=ABIM&format=Course&page=2&per_page=3").hits
    ]
    assert 'rel="prev"' in second

    typed = web.get("/embed?q=heart&board=ABIM").get_data(as_text=True)
    assert _ids(typed) == [
        hit["id"] for hit in _search(loaded, "q=heart&board=ABIM", per_page=10).hits
    ]
    assert 'value="heart"' in typed


def test_embed_page_size_is_capped(web):
    page = web.get("/embed?per_page=100").get_data(as_text=True)
    assert len(_ids(page)) == 20


def test_embed_links_to_the_full_search_and_the_feed(web):
    page = web.get("/embed?board=ABPMR&sort=newest").get_data(as_text=True)
    assert 'href="http://localhost/?board=ABPMR&amp;sort=newest" target="_blank"' in page
    assert 'href="/feeds/search.atom?board=ABPMR"' in page


def test_embed_escapes_provider_text(web):
    page = web.get("/embed?q=sepsis+shock&provider=9001").get_data(as_text=True)
    assert _ids(page) == [NASTY_ID]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Sepsis &amp; Shock: Q&amp;A" in page
    assert "Hospital &lt;b&gt;Bold&lt;/b&gt; &amp; Sons" in page
    assert "<script>" not in page and "<b>Bold" not in page


def test_embed_theme_colour_is_validated(web):
    themed = web.get("/embed?color=%230b5cab")
    nonce = re.search(r"'nonce-([^']+)'", themed.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">:root {{ --accent: #0b5cab; --on-accent: #fff; }}</style>' in (
        themed.get_data(as_text=True)
    )
    light = web.get("/embed?color=%23ffeeaa").get_data(as_text=True)
    assert "--accent: #ffeeaa; --on-accent: #111;" in light
    assert "--accent: darkgreen" in web.get("/embed?color=DarkGreen").get_data(as_text=True)
    for bad in ("red;background:url(x)", "#12345", "expression(alert(1))", "</style><script>"):
        page = web.get("/embed", query_string={"color": bad}).get_data(as_text=True)
        assert "--accent:" not in page.split("</head>")[0]
        assert "<script>" not in page


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("sort=bogus", "sort"),
        ("page=x", "page"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("date_from=yesterday", "date_from"),
        ("credits_min=-1", "credits_min"),
        ("page=101", "page"),
        ("q=" + "a" * 300, "q"),
        ("when=someday", "when"),
        ("page=1&page=2", "page"),
        ("delivery=hybrid", "delivery"),
        ("board=ABIM&board=ZZZ", "board"),
        ("fee=cheap", "fee"),
    ],
)
def test_bad_parameters_are_a_readable_400(web, query, name):
    response = web.get(f"/embed?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This search could not be run" in page
    assert f"<code>{name}</code>" in page
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]

    feed = web.get(f"/feeds/search.atom?{query}")
    assert feed.status_code == 400
    assert feed.content_type == "text/plain; charset=utf-8"
    assert name in feed.get_data(as_text=True)


class _DownEngine:
    def search(self, request, today):
        raise SearchUnavailable("connection refused")

    def generation(self):
        raise SearchUnavailable("connection refused")


def test_search_down_is_503_not_500(app, client):
    app.extensions["directory_search"] = _DownEngine()
    embed = client.get("/embed?board=ABIM")
    assert embed.status_code == 503
    assert "Search is unavailable right now" in embed.get_data(as_text=True)
    assert embed.headers["Retry-After"]
    feed = client.get("/feeds/search.atom?board=ABIM")
    assert feed.status_code == 503
    assert feed.content_type == "text/plain; charset=utf-8"


# --- feeds ------------------------------------------------------------------------------------


def _feed(web, query: str = ""):
    response = web.get(f"/feeds/search.atom?{query}")
    assert response.status_code == 200
    assert response.content_type == "application/atom+xml; charset=utf-8"
    return response, ET.fromstring(response.data)


def test_feed_is_atom_of_the_newest_matches(loaded, web):
    _, feed = _feed(web, "board=ABIM")
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "CME activities: ABIM"
    entries = feed.findall(f"{ATOM}entry")
    expected = _search(loaded, "board=ABIM", sort="newest", per_page=50)
    assert expected.total > 50
    assert len(entries) == 50
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"tag:localhost,2026:activity-{hit['id']}" for hit in expected.hits
    ]
    created = [hit["created_at"] for hit in expected.hits]
    assert created == sorted(created, reverse=True)
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        hit["title"].replace("\x0b", "") for hit in expected.hits
    ]
    first, hit = entries[0], expected.hits[0]
    link = first.find(f"{ATOM}link")
    assert link is not None and link.get("href") == f"http://localhost/activities/{hit['id']}"
    summary = first.findtext(f"{ATOM}summary")
    assert "ABIM" in summary and "CME credit" in summary
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.findtext(f"{ATOM}updated"))
    # The feed changed when its newest entry did.
    newest = max(e.findtext(f"{ATOM}updated") for e in entries)
    assert feed.findtext(f"{ATOM}updated") == newest
    self_link = next(x for x in feed.findall(f"{ATOM}link") if x.get("rel") == "self")
    assert self_link.get("href") == "http://localhost/feeds/search.atom?board=ABIM"


def test_feed_ignores_paging_and_sort(loaded, web):
    _, plain = _feed(web, "board=ABA")
    _, paged = _feed(web, "board=ABA&page=3&per_page=5&sort=credits")
    ids = [e.findtext(f"{ATOM}id") for e in plain.findall(f"{ATOM}entry")]
    assert ids == [e.findtext(f"{ATOM}id") for e in paged.findall(f"{ATOM}entry")]
    assert len(ids) == min(50, _search(loaded, "board=ABA").total)


def test_feed_titles_describe_the_search(web):
    def title(query: str) -> str:
        return _feed(web, query)[1].findtext(f"{ATOM}title")

    assert title("") == "New CME activities"
    assert title("practice_area=ABIM:Cardiovascular Disease") == (
        "CME activities: ABIM · Cardiovascular Disease"
    )
    assert title("board=ABIM&practice_area=ABIM:Cardiovascular Disease") == (
        "CME activities: ABIM · Cardiovascular Disease"
    )
    assert title("board=ABIM&board=ABA&fee=free") == "CME activities: ABIM or ABA · Free"
    assert title("provider=9001") == "CME activities: Hospital <b>Bold</b> & Sons"
    assert title("q=sepsis&when=upcoming") == "CME activities: “sepsis” · upcoming"
    assert title("delivery=online") == "CME activities: Online only"
    assert title("delivery=online&delivery=both") == (
        "CME activities: Online only or In person and online"
    )


def test_embed_and_feed_narrow_by_delivery_as_the_engine_does(loaded, web):
    query = "delivery=online&delivery=both&per_page=20"
    expected = _search(loaded, query)
    assert expected.total and set(expected.counts("delivery")) == {"in person", "online", "both"}
    page = web.get(f"/embed?{query}").get_data(as_text=True)
    assert _ids(page) == [h["id"] for h in expected.hits]
    assert f"{expected.total:,} activities" in page
    _, feed = _feed(web, "delivery=in+person")
    newest = _search(loaded, "delivery=in+person", sort="newest", per_page=50)
    entries = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert entries == [f"tag:localhost,2026:activity-{h['id']}" for h in newest.hits]


def test_feed_escapes_provider_text(web):
    response, feed = _feed(web, "provider=9001")
    raw = response.get_data(as_text=True)
    assert "&lt;script&gt;" in raw and "Sepsis &amp; Shock: Q&amp;A" in raw
    assert "<script>" not in raw and "<b>" not in raw
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == NASTY_TITLE
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "Hospital <b>Bold</b> & Sons"
    assert entry.findtext(f"{ATOM}id") == f"tag:localhost,2026:activity-{NASTY_ID}"


def test_feed_drops_characters_xml_cannot_carry(web):
    _, feed = _feed(web, "provider=9002")
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Verticaltab update"


def test_feed_answers_conditional_requests(web):
    first = web.get("/feeds/search.atom?board=ABIM")
    again = web.get(
        "/feeds/search.atom?board=ABIM", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_feed_url_helper_drops_paging_and_sort(loaded):
    from directory.web.presenters.feed import feed_url

    with loaded.test_request_context("/"):
        req = parse_request(
            MultiDict(
                [
                    ("board", "ABIM"),
                    ("practice_area", "ABIM:Cardiovascular Disease"),
                    ("sort", "soonest"),
                    ("page", "2"),
                    ("per_page", "5"),
                ]
            )
        )
        assert feed_url(req) == (
            "/feeds/search.atom?board=ABIM&practice_area=ABIM%3ACardiovascular+Disease"
        )
        assert feed_url(parse_request({})) == "/feeds/search.atom"
        assert feed_url(parse_request({}), external=True) == "http://localhost/feeds/search.atom"


# --- the widget script ------------------------------------------------------------------------


def test_widget_is_small():
    data = WIDGET.read_bytes()
    assert len(gzip.compress(data, compresslevel=9)) < 15_000


def test_widget_never_parses_data_as_html():
    source = WIDGET.read_text()
    for sink in (r"\.innerHTML\s*=", r"\.outerHTML\s*=", "insertAdjacentHTML", r"document\.write"):
        assert not re.search(sink, source), sink
    assert "eval(" not in source and "new Function" not in source
    assert 'attachShadow({ mode: "open" })' in source


def test_widget_is_served_to_any_origin(web):
    response = web.get("/static/widget.js")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "javascript" in response.content_type


def _widget_declaration(name: str) -> str:
    found = re.search(rf"var {name} = (.*?);\n", WIDGET.read_text(), re.S)
    assert found, f"widget.js declares no {name}"
    return found.group(1)


def test_widget_declares_the_servers_facets_and_parameters():
    """The widget's data-* filters are exactly the server's facets plus its other search
    parameters, so a facet added on the server cannot be missing from the widget."""
    from directory.search import FACET_NAMES, SearchRequestError

    declared = re.findall(r'"([a-z-]+)": (?:true|false)', _widget_declaration("FILTERS"))
    params = {name.replace("-", "_") for name in declared}
    assert set(FACET_NAMES) <= params
    others = params - set(FACET_NAMES)
    # Every other filter is a parameter the server reads: a bad value for it is refused by
    # name, which an unknown parameter (ignored) never is.
    for param in sorted(others):
        with pytest.raises(SearchRequestError) as refused:
            parse_request(MultiDict([(param, "\x00not-a-value")]))
        assert param in refused.value.problems, param


def test_widget_and_embed_allow_the_same_colours():
    from directory.web.blueprints.embed import EMBED_MAX_PER_PAGE, NAMED_COLOURS

    words = re.findall(r"[a-z]+", _widget_declaration("NAMED_COLOURS").split(".split")[0])
    assert set(words) == NAMED_COLOURS
    assert int(_widget_declaration("MAX_PAGE_SIZE")) == EMBED_MAX_PER_PAGE
