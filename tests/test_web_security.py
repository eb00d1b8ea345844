"""The web layer's defences, one section per finding of the security review:
CSRF, headers, rate limits, redirects, numbers from URLs, chip-link size, sessions, the .ics
writer and provider URLs on output. Each test failed before its fix."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.registry import api_keys
from directory.registry.models import ApiKey
from tests import factories as f
from tests.conftest import index_app

ACTIVITY_ID = 210016939
HUGE = "99999999999999999999999"
SITE_POLICY_PARTS = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


# --- helpers ----------------------------------------------------------------------------------


class _Forms(HTMLParser):
    """Every form of a page: its method, action, and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.scripts: list[dict] = []
        self.styled: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "style" in a:
            self.styled.append(tag)
        if tag == "form":
            self.forms.append(
                {
                    "method": (a.get("method") or "get").lower(),
                    "action": a.get("action"),
                    "fields": {},
                }
            )
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "script":
            self.scripts.append(a)


def parse(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def form_token(client, path: str = "/providers/sign-in") -> str | None:
    """The CSRF token of the first POST form on `path`, read from the page as a browser would."""
    forms = parse(client.get(path).get_data(as_text=True)).forms
    return next((fm["fields"].get("csrf_token") for fm in forms if fm["method"] == "post"), None)


def sign_in(client, key: str, **kwargs):
    data = {"key": key}
    token = form_token(client)
    if token is not None:
        data["csrf_token"] = token
    return client.post("/providers/sign-in", data=data, **kwargs)


def signed_in(client, provider_id: int = 1) -> bool:
    """Whether the provider's own dashboard answers (signed out, it sends to the sign-in)."""
    response = client.get(f"/providers/{provider_id}/activities")
    return response.status_code == 200 and 'class="provider-activities"' in response.get_data(
        as_text=True
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def day(app):
    with app.app_context():
        from directory.web.context import today

        return today()


@pytest.fixture
def world(app, engine, day):
    """Provider 1 with one listed activity and two keys, provider 2 with a key; indexed."""
    with Session(engine) as session:
        one = f.provider(id=1)
        two = f.provider(id=2, name="Second Provider")
        session.add(two)
        session.add(
            f.activity(
                id=ACTIVITY_ID,
                provider=one,
                start_date=day + timedelta(days=10),
                end_date=day + timedelta(days=11),
                moc=[f.abim(claim_deadline=day + timedelta(days=90))],
            )
        )
        keys = {
            "A": api_keys.issue(session, one, "web").key,
            "A2": api_keys.issue(session, one, "second").key,
            "B": api_keys.issue(session, two, "web").key,
        }
        session.commit()
    index_app(app)
    return keys


class Down:
    """A search engine that is down."""

    def search(self, *_a, **_k):
        from indexer.engine import SearchUnavailable

        raise SearchUnavailable("down")

    suggest = search
    generation = search


# --- 1. CSRF ----------------------------------------------------------------------------------


def test_every_post_form_carries_a_csrf_token(client, world):
    pages = ["/", f"/activities/{ACTIVITY_ID}", "/providers/sign-in", "/providers/1", "/nowhere"]
    assert sign_in(client, world["A"]).status_code == 303
    seen = 0
    for path in pages:
        for fm in parse(client.get(path).get_data(as_text=True)).forms:
            if fm["method"] == "post":
                seen += 1
                assert fm["fields"].get("csrf_token"), (path, fm["action"])
    assert seen >= len(pages) + 1  # my board on each page, and sign-out


@pytest.mark.parametrize("token", [None, "wrong"])
def test_sign_in_without_the_forms_token_is_refused_with_a_page(client, world, token):
    # Login CSRF: another site's form would sign the victim in as the attacker's provider.
    data = {"key": world["A"]} | ({"csrf_token": token} if token else {})
    response = client.post("/providers/sign-in", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "<h1>" in page and "Traceback" not in page
    assert "reload" in page.lower()
    assert not signed_in(client)


def test_sign_out_and_my_board_need_the_token(client, world):
    assert sign_in(client, world["A"]).status_code == 303
    assert client.post("/providers/sign-out").status_code == 400
    assert signed_in(client)
    assert client.post("/my-board", data={"board": "ABA", "next": "/"}).status_code == 400
    assert client.get_cookie("my_board") is None
    token = form_token(client, "/")
    ok = client.post("/my-board", data={"board": "ABA", "next": "/", "csrf_token": token})
    assert ok.status_code == 303 and client.get_cookie("my_board").value == "ABA"


def test_the_json_apis_need_no_token(client, world):
    response = client.post(
        f"/api/v1/provider/activities/{'LU-2026-001'}/withdraw", headers=auth(world["A"])
    )
    assert response.status_code == 200, response.get_data(as_text=True)


# --- 2. headers -------------------------------------------------------------------------------


def test_html_pages_have_a_content_security_policy_and_no_inline_script(client, world):
    assert sign_in(client, world["A"]).status_code == 303
    for path in (
        "/",
        "/?q=heart&board=ABIM",
        f"/activities/{ACTIVITY_ID}",
        "/providers/1",
        "/providers/2",
        "/providers/sign-in",
        "/no-such-page",
    ):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        for part in SITE_POLICY_PARTS:
            assert part in csp, (path, part)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        page = parse(response.get_data(as_text=True))
        for script in page.scripts:
            assert script.get("src") or script.get("type") == "application/ld+json", (path, script)
        assert not page.styled, (path, page.styled)


def test_every_response_is_nosniff_with_a_referrer_policy(client, world):
    for path in (
        "/",
        "/api/v1/search",
        "/api/v1/nowhere",
        "/api/v1/provider/activities",
        "/feeds/search.atom",
        f"/activities/{ACTIVITY_ID}.ics",
        "/embed",
        "/provider-data",
        "/static/site.css",
        "/static/widget.js",
        "/no-such-page",
    ):
        response = client.get(path)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", path


def test_https_gets_hsts_and_secure_cookies_http_does_not(client, world):
    plain = sign_in(client, world["A"])
    assert "Strict-Transport-Security" not in plain.headers
    assert "Secure" not in plain.headers["Set-Cookie"]

    # Over https, Flask-WTF also wants the Referer a browser sends to its own site.
    same_site = {"Referer": "https://localhost/providers/sign-in"}
    secure = sign_in(client, world["A"], base_url="https://localhost", headers=same_site)
    assert secure.status_code == 303
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "; Secure" in secure.headers["Set-Cookie"]
    token = form_token(client, "/")
    board = client.post(
        "/my-board",
        data={"board": "ABA", "next": "/", "csrf_token": token},
        base_url="https://localhost",
        headers=same_site,
    )
    assert "; Secure" in board.headers["Set-Cookie"]


def test_a_forwarded_proto_is_believed_only_behind_a_configured_proxy(
    monkeypatch, tmp_path, database_url, world
):
    from directory.config import Config
    from directory.web.app import create_app

    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    config = Config(database_url=database_url, data_dir=tmp_path, secret_key="test")
    monkeypatch.delenv("DIRECTORY_PROXY_FIX", raising=False)
    direct = create_app(config).test_client().get("/providers/sign-in", headers=headers)
    assert "Strict-Transport-Security" not in direct.headers
    monkeypatch.setenv("DIRECTORY_PROXY_FIX", "1")
    proxied = create_app(config).test_client().get("/providers/sign-in", headers=headers)
    assert "Strict-Transport-Security" in proxied.headers


def test_signed_in_provider_pages_are_never_stored(client, world):
    assert "no-store" not in client.get("/providers/1").headers.get("Cache-Control", "")
    assert sign_in(client, world["A"]).status_code == 303
    response = client.get("/providers/1")
    assert 'class="provider-own"' in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    dashboard = client.get("/providers/1/activities")
    assert 'class="provider-activities"' in dashboard.get_data(as_text=True)
    assert dashboard.headers["Cache-Control"] == "private, no-store"


def test_every_503_says_when_to_retry(app, client, world):
    app.extensions["directory_search"] = Down()
    for path in (
        "/",
        "/api/v1/search",
        "/api/v1/facets",
        "/api/v1/suggest?q=heart",
        "/feeds/search.atom",
        "/embed",
    ):
        response = client.get(path)
        assert response.status_code == 503, path
        assert int(response.headers["Retry-After"]) > 0, path


# --- 3. rate limits ---------------------------------------------------------------------------


def test_the_eleventh_sign_in_in_a_minute_is_refused(client, world):
    token = form_token(client)
    for _ in range(10):
        wrong = client.post("/providers/sign-in", data={"key": "cme_x_y", "csrf_token": token})
        assert wrong.status_code == 401
    refused = client.post("/providers/sign-in", data={"key": world["A"], "csrf_token": token})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    page = refused.get_data(as_text=True)
    assert refused.mimetype == "text/html" and "Too many" in page
    assert not signed_in(client)
    # Another address is not held up.
    other = {"REMOTE_ADDR": "198.51.100.7"}
    again = client.post(
        "/providers/sign-in",
        data={"key": world["A"], "csrf_token": token},
        environ_base=other,
    )
    assert again.status_code == 303


def test_the_provider_web_service_is_limited_per_key_and_per_address(client, world):
    url = "/api/v1/provider/activities"
    for _ in range(120):
        assert client.get(url, headers=auth(world["A"])).status_code == 200
    refused = client.get(url, headers=auth(world["A"]))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "too many requests" in refused.get_json()["error"]["message"].lower()
    # The same key from elsewhere: still its own limit.
    elsewhere = {"REMOTE_ADDR": "198.51.100.8"}
    assert client.get(url, headers=auth(world["A"]), environ_base=elsewhere).status_code == 429
    # Another key from the same address: the address's limit.
    assert client.get(url, headers=auth(world["B"])).status_code == 429
    # Another key from another address is served.
    assert client.get(url, headers=auth(world["B"]), environ_base=elsewhere).status_code == 200


# --- 4. redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "//evil",
        "/\\evil",
        "\\\\evil",
        "https://evil",
        "http:/evil",
        "/\r\nSet-Cookie: a=b",
        "/ok\nLocation: https://evil",
        " //evil",
        "javascript:alert(1)",
    ],
)
def test_my_board_goes_back_only_to_a_path_on_this_site(client, world, target):
    token = form_token(client, "/")
    response = client.post("/my-board", data={"board": "ABA", "next": target, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    response = client.post("/my-state", data={"state": "TX", "next": target, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_my_board_goes_back_to_the_page_it_came_from(client, world):
    token = form_token(client, "/")
    for target in ("/?q=heart+failure&board=ABIM", f"/activities/{ACTIVITY_ID}"):
        response = client.post(
            "/my-board", data={"board": "ABA", "next": target, "csrf_token": token}
        )
        assert response.headers["Location"] == target


# --- 5. huge numbers --------------------------------------------------------------------------


def test_huge_numbers_in_urls_are_a_4xx_with_a_message_never_a_500(client, world):
    big = str(10**30)
    paths = [
        f"/?provider={HUGE}",
        f"/?provider=-{HUGE}",
        f"/?provider={HUGE}&provider=1",
        f"/providers/{HUGE}",
        f"/providers/{2**31}",
        f"/activities/{HUGE}",
        f"/activities/{HUGE}.ics",
        f"/api/v1/activities/{HUGE}",
        f"/api/v1/search?provider={HUGE}",
        f"/api/v1/facets?provider={HUGE}",
        f"/api/v1/suggest?q=heart&limit={HUGE}",
        f"/feeds/search.atom?provider={HUGE}",
        f"/embed?provider={HUGE}",
        f"/?page={HUGE}",
        f"/?claim_within={HUGE}",
        f"/?credits_min={HUGE}",
        f"/embed?per_page={HUGE}",
        f"/api/v1/provider/activities?page={big}",
        f"/api/v1/provider/activities?per_page={big}",
        f"/api/v1/provider/activities?page=-{big}",
    ]
    for path in paths:
        response = client.get(path, headers=auth(world["A"]))
        assert response.status_code < 500, (path, response.status_code)
        if response.status_code >= 400:
            body = response.get_data(as_text=True)
            assert body.strip() and "Traceback" not in body, path
            if path.startswith("/api/"):
                assert response.get_json()["error"]["message"], path
    page = client.get(f"/api/v1/provider/activities?page={big}", headers=auth(world["A"]))
    assert page.status_code == 400 and "page" in page.get_json()["error"]["message"]


# --- 6. selections and the page's size ----------------------------------------------------------


def _selections(n: int) -> list[tuple[str, str]]:
    from directory.registry.reference import reference

    values = [
        ("practice_area", f"{code}:{area}")
        for code, board in sorted(reference().boards.items())
        for area in sorted(board.practice_areas)
    ]
    assert len(values) >= n
    return values[:n]


def test_more_than_fifty_selections_are_a_400_naming_the_limit(client, world):
    query = urlencode(_selections(30) + [("credit_type", f"ABIM:Type {i}") for i in range(21)])
    for path in ("/", "/api/v1/search", "/feeds/search.atom", "/embed"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert "50" in response.get_data(as_text=True), path
    api = client.get(f"/api/v1/search?{query}").get_json()
    assert any("at most 50" in m for m in api["error"]["problems"].values())
    assert client.get("/?" + urlencode(_selections(50))).status_code == 200


def test_a_very_long_query_string_is_a_400_naming_the_limit(client, world):
    query = urlencode([("state", "x" * 190) for _ in range(40)])
    response = client.get(f"/api/v1/search?{query}")
    assert response.status_code == 400
    assert any("characters" in m for m in response.get_json()["error"]["problems"].values())


def rendered_bytes(client, n: int) -> tuple[int, int]:
    query = urlencode(_selections(n))
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    return len(query), len(response.data)


def test_the_search_pages_size_grows_linearly_with_its_url(client, world):
    sizes = {n: rendered_bytes(client, n) for n in (12, 24, 48)}
    (url12, b12), (_, b24), (url48, b48) = sizes[12], sizes[24], sizes[48]
    # Doubling the selections: linear growth doubles the increase, quadratic (a chip per value,
    # each re-encoding all the others) quadruples it.
    assert (b48 - b24) / (b24 - b12) < 2.5, sizes
    # Each byte more of URL costs a bounded number of bytes of page (it was about 80).
    assert (b48 - b12) / (url48 - url12) < 20, sizes


# --- 7. sessions ------------------------------------------------------------------------------


def test_revoking_the_key_signs_its_browsers_out(client, engine, world):
    assert sign_in(client, world["A"]).status_code == 303
    assert signed_in(client)
    with Session(engine) as session:
        prefix = world["A"].split("_")[1]
        assert api_keys.revoke(session, prefix) is not None
        session.commit()
    assert not signed_in(client)


def test_a_cookie_copied_before_sign_out_does_not_work_after_it(client, world):
    assert sign_in(client, world["A"]).status_code == 303
    copy = client.get_cookie("session").value
    token = form_token(client, "/providers/1")
    assert client.post("/providers/sign-out", data={"csrf_token": token}).status_code == 303
    assert not signed_in(client)
    client.set_cookie("session", copy)
    assert not signed_in(client)


def test_the_cookie_names_a_session_not_a_provider(app, client, database_url, world):
    assert sign_in(client, world["A"]).status_code == 303
    raw = client.get_cookie("session").value
    data = app.session_interface.get_signing_serializer(app).loads(raw)
    assert "provider_id" not in data
    token = data["web_session"]
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        dump = "\n".join(conn.iterdump())
        rows = conn.execute("SELECT api_key_id, ended_at FROM web_sessions").fetchall()
    assert token not in dump  # the table holds its hash
    with Session(app.extensions["directory_engine"]) as session:
        key_id = session.scalar(
            select(ApiKey.id).where(ApiKey.name == "web", ApiKey.provider_id == 1)
        )
    assert rows == [(key_id, None)]


def test_signing_in_with_another_key_of_the_same_provider_is_its_own_session(client, engine, world):
    assert sign_in(client, world["A2"]).status_code == 303
    with Session(engine) as session:
        api_keys.revoke(session, world["A"].split("_")[1])
        session.commit()
    assert signed_in(client)


# --- 8. the .ics writer -----------------------------------------------------------------------


HOSTILE_TITLES = [
    "Bare\rATTENDEE:mailto:cr@evil.example",
    "Bare\nATTENDEE:mailto:lf@evil.example",
    "Both\r\nATTENDEE:mailto:crlf@evil.example",
    "Folded\r\n ATTENDEE:mailto:fold@evil.example",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_title_with_line_breaks_cannot_add_a_property_to_the_calendar(
    app, client, engine, day, title
):
    from icalendar import Calendar

    with Session(engine) as session:
        session.add(
            f.activity(
                title=title,
                start_date=day + timedelta(days=5),
                end_date=day + timedelta(days=6),
                moc=[f.abim(claim_deadline=day + timedelta(days=90))],
            )
        )
        session.commit()
    response = client.get(f"/activities/{ACTIVITY_ID}.ics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "\r" not in text.replace("\r\n", "") and "\n" not in text.replace("\r\n", "")
    names = [line.split(":", 1)[0].split(";", 1)[0] for line in text.split("\r\n") if line]
    assert "ATTENDEE" not in names
    assert names.count("SUMMARY") == 1
    calendar = Calendar.from_ical(text)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert "ATTENDEE" not in events[0]
    summary = str(events[0]["SUMMARY"])
    assert summary.startswith(title.split("\r")[0].split("\n")[0])
    assert "ATTENDEE:mailto:" in summary  # kept as text, on the one line


# --- 9. provider URLs on output ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/path",
        "https://",
        "https://exa mple.org/",
        "https://example.org/\nx",
    ],
)
def test_a_provider_url_that_is_not_http_is_never_a_link(app, client, engine, day, url):
    with Session(engine) as session:
        session.add(
            f.activity(
                url=url,
                start_date=day + timedelta(days=5),
                end_date=day + timedelta(days=6),
                moc=[f.abim(claim_deadline=day + timedelta(days=90))],
            )
        )
        session.commit()
    index_app(app)
    # The registry's rules may refuse to list such a row at all (404); if they list it, no
    # page or answer may carry its URL.
    response = client.get(f"/activities/{ACTIVITY_ID}")
    assert response.status_code in (200, 404)
    detail = response.get_data(as_text=True)
    assert 'class="register' not in detail
    for text in (
        detail,
        client.get("/").get_data(as_text=True),
        client.get("/embed").get_data(as_text=True),
        client.get("/feeds/search.atom").get_data(as_text=True),
        client.get(f"/activities/{ACTIVITY_ID}.ics").get_data(as_text=True),
        client.get(f"/api/v1/activities/{ACTIVITY_ID}").get_data(as_text=True),
        client.get("/api/v1/search").get_data(as_text=True),
    ):
        assert "script:" not in text.lower() and "evil.example" not in text
        assert "msgbox" not in text and "exa mple" not in text
    if response.status_code == 200:
        api = client.get(f"/api/v1/activities/{ACTIVITY_ID}").get_json()
        assert api["register_url"] is None
        hits = client.get("/api/v1/search").get_json()["hits"]
        assert [h["register_url"] for h in hits] == [None]
        ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', detail, re.S)
        assert "script:" not in ld.group(1) and "evil" not in ld.group(1)


def test_the_detail_page_and_its_json_ld_link_only_a_safe_url(app, engine, day):
    """The web layer's own check, whatever the registry's rules let through."""
    from flask import render_template

    from directory.web.presenters.detail import detail
    from directory.web.presenters.jsonld import json_ld
    from indexer.document import to_document

    good = "https://cme.example.org/hfpef"
    for url, expected in (("javascript:alert(1)", None), (good, good)):
        a = f.activity(
            url=url,
            start_date=day + timedelta(days=5),
            end_date=day + timedelta(days=6),
            moc=[f.abim(claim_deadline=day + timedelta(days=90))],
        )
        with app.test_request_context("/"):
            doc = to_document(a, day, preview=True)
            doc["url"] = url  # as a search document written before any check would hold it
            view = detail(a, doc, "http://localhost", None)
            assert view["register_url"] == expected
            html = render_template("activity.html", a=view, json_ld=json_ld(view), more=[])
        assert ("javascript:" in html) is False
        assert ('class="register button"' in html) is (expected is not None)
        assert (good in str(json_ld(view))) is (expected is not None)


def test_safe_href_accepts_only_absolute_http_urls():
    from directory.web.presenters.cards import safe_href

    for good in (
        "https://cme.example.org/hfpef",
        "http://example.org",
        "HTTPS://Example.org/a?b=c#d",
        "https://example.org:8443/x",
    ):
        assert safe_href(good) == good
    for bad in (
        None,
        "",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "/relative",
        "//evil.example",
        "ftp://example.org",
        "https://example.org/a b",
        "https://example.org/\x00",
        "https://example.org/\u2028",
        " https://example.org",
        "https://example.org\\@evil.example",
    ):
        assert safe_href(bad) is None, bad
