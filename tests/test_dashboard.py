"""The signed-in provider's dashboard (/providers/<id>/activities): its summary, its filters and
pages, its card preview, and that a provider only ever sees its own activities.

What each filter should list is read from the rules themselves (`rules.not_listed_reasons`,
`rules.listing_gaps`, `rules.board_status`), activity by activity, never from the SQL the page
runs: the page is held to the rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.registry import api_keys, rules
from directory.registry.models import Activity, with_children
from directory.registry.reference import reference
from tests import factories as f
from tests.test_web_security import sign_in

pytestmark = pytest.mark.both_databases

A, B, C = 9300, 9301, 9302  # A and B in good standing; C on probation
# A provider's own id with a space, unicode, a slash and characters a URL must quote.
ODD_ID = "Kurs 7 – Straße/Ü?#%&+"


@dataclass(frozen=True)
class Facts:
    """One activity as the rules see it."""

    id: int
    own_id: str
    title: str
    status: str
    format: str
    reasons: frozenset[str]
    gaps: frozenset[str]  # labels of missing or invalid activity fields
    boards: frozenset[tuple[str, str]]  # (board, state)
    board_gaps: frozenset[tuple[str, str]]  # (board, item a registration lacks)

    @property
    def listed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class World:
    keys: dict[int, str]
    facts: dict[int, dict[int, Facts]]  # provider -> activity id -> facts
    day: object

    def ids(self, provider: int, keep=lambda _f: True) -> set[int]:
        return {i for i, fact in self.facts[provider].items() if keep(fact)}


def _state(status: rules.BoardStatus, reg, listed: bool, day) -> str:
    if not status.complete:
        return "incomplete"
    if reg.claim_deadline is not None and reg.claim_deadline < day:
        return "past_deadline"
    return "counted" if listed else "unlisted"


def _facts(activity: Activity, day) -> Facts:
    ref = reference()
    reasons = rules.not_listed_reasons(activity, day, ref)
    missing, invalid = rules.listing_gaps(activity, ref)
    boards, board_gaps = set(), set()
    for reg in activity.moc:
        status = rules.board_status(reg, activity, day, ref)
        boards.add((reg.board, _state(status, reg, not reasons, day)))
        board_gaps |= {(reg.board, item) for item in rules.registration_gaps(reg, activity, ref)}
    return Facts(
        id=activity.id,
        own_id=activity.provider_activity_id,
        title=activity.title,
        status=activity.status,
        format=activity.format,
        reasons=frozenset(r.code for r in reasons),
        gaps=frozenset(missing) | frozenset(p.field for p in invalid),
        boards=frozenset(boards),
        board_gaps=frozenset(board_gaps),
    )


@pytest.fixture
def world(app, engine) -> World:
    with app.app_context():
        from directory.web.context import today

        day = today()
    soon, later = day + timedelta(days=5), day + timedelta(days=6)
    providers = {
        A: f.provider(id=A, name="Alpha Heart Institute"),
        B: f.provider(id=B, name="Beta Sepsis Society"),
        C: f.provider(id=C, name="Gamma On Probation", accreditation_status="Probation"),
    }
    serial = iter(range(1, 1000))

    def make(provider: int, own_id: str | None = None, **fields):
        n = next(serial)
        values = dict(
            id=7_700_000 + n,
            provider_activity_id=own_id or f"P{provider}-{n:03d}",
            provider=providers[provider],
            title=f"Activity {n} of {providers[provider].name}",
            start_date=soon,
            end_date=later,
            moc=[f.abim(claim_deadline=day + timedelta(days=90))],
        )
        values.update(fields)
        return f.activity(**values)

    aba = f.aba(claim_deadline=day + timedelta(days=90))
    mine = [
        make(A, title="Sepsis Bundles in the ICU"),
        make(A, format="Enduring Material", moc=[aba, f.abim(claim_deadline=day + timedelta(90))]),
        make(A, moc=[f.abim(claim_deadline=day - timedelta(days=1))]),  # past its deadline
        make(A, moc=[f.abim(practice_areas=[]), f.aba(claim_deadline=day + timedelta(90))]),
        make(A, status="Draft", title="Draft on 100%_Literal Things"),
        make(A, status="Closed", description=None, moc=[]),
        make(A, show_in_directory=False, moc=[f.aba(claim_deadline=day + timedelta(90))]),
        make(A, start_date=day - timedelta(days=10), end_date=day - timedelta(days=3)),
        make(A, description=None),
        make(A, description=None, url=None, moc=[f.abim(practice_areas=[], credit_types=[])]),
        make(A, url="javascript:alert(1)", format="Enduring Material"),
        make(A, start_date=later, end_date=soon),  # ends before it starts
        make(
            A,
            status="Draft",
            show_in_directory=False,
            end_date=day - timedelta(days=1),
            start_date=day - timedelta(days=2),
            moc=[f.aba(practice_areas=[])],
        ),  # fmt: skip
        make(A, ODD_ID, title="Über Straße: eine Fortbildung"),
        make(A, "P9301-shared", title="Alpha's activity under an id B also uses"),
    ]
    theirs = [
        make(B, title="Sepsis Bundles in the ICU"),  # A's title too
        make(B, "P9301-shared", status="Draft", title="Beta's own shared-id activity"),
        make(B, "beta-only", description=None, moc=[f.abim(practice_areas=[])]),
        make(B, start_date=day - timedelta(days=10), end_date=day - timedelta(days=3)),
    ]
    refused = [make(C), make(C, status="Draft", moc=[f.aba(claim_deadline=day + timedelta(90))])]
    keys = {}
    with Session(engine) as session:
        session.add_all(mine + theirs + refused)
        session.flush()
        for pid, provider in providers.items():
            keys[pid] = api_keys.issue(session, provider, "dashboard tests").key
        session.commit()
        facts: dict[int, dict[int, Facts]] = {A: {}, B: {}, C: {}}
        for a in session.scalars(select(Activity).options(*with_children())):
            facts[a.provider_id][a.id] = _facts(a, day)
    world = World(keys, facts, day)
    # Every reason, every board state and every kind of gap occurs.
    mine_facts = world.facts[A].values()
    assert {r for fact in mine_facts for r in fact.reasons} == set(rules.REASON_CODES) - {
        "provider"
    }
    assert {r for fact in world.facts[C].values() for r in fact.reasons} >= {"provider"}
    assert {s for fact in mine_facts for _, s in fact.boards} == {
        "counted",
        "incomplete",
        "past_deadline",
        "unlisted",
    }
    assert sum(1 for fact in mine_facts if len(fact.reasons) > 1) >= 2
    return world


@pytest.fixture
def signed_in_a(client, world):
    assert sign_in(client, world.keys[A]).status_code == 303
    return client


def dashboard(provider: int, query: str = "") -> str:
    return f"/providers/{provider}/activities" + (f"?{query}" if query else "")


ROW_IDS = re.compile(r'<span class="own-id">[^<]*</span> · (\d+)</small>')


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["Cache-Control"] == "private, no-store"
    return response.get_data(as_text=True)


def _count(html: str) -> int:
    text = re.search(r'<p id="result-count">([^<]*)</p>', html)[1]
    if text.startswith("No activities"):
        return 0
    return int(re.match(r"([\d,]+) activit", text)[1].replace(",", ""))


def listed_ids(client, url: str) -> list[int]:
    """Every row of the list at `url`, page by page through its "next" links, in order."""
    ids: list[int] = []
    seen = 0
    while url:
        html = _page(client, url)
        ids += [int(n) for n in ROW_IDS.findall(html)]
        link = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = link[1].replace("&amp;", "&") if link else ""
        seen += 1
        assert seen < 50, "the next links never end"
    return ids


# --- signing in, and who may see what ---------------------------------------------------------


def test_signing_in_leads_to_the_dashboard(client, world):
    response = sign_in(client, world.keys[A])
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == dashboard(A)


def test_not_signed_in_goes_to_the_sign_in_form(client, world):
    for url in (dashboard(A), dashboard(A, "listed=no"), f"/providers/{A}/activities/x/preview"):
        response = client.get(url)
        assert response.status_code == 303, url
        assert urlsplit(response.headers["Location"]).path == "/providers/sign-in"


def test_another_providers_dashboard_is_403_and_shows_none_of_it(signed_in_a, world):
    theirs = world.facts[B].values()
    for url in (
        dashboard(B),
        dashboard(B, "listed=no&per_page=100"),
        f"/providers/{B}/activities/beta-only/preview",
        f"/providers/{B}/activities/P9301-shared/preview",
        dashboard(424242),  # no such provider: the same answer
    ):
        response = signed_in_a.get(url)
        assert response.status_code == 403, url
        assert response.headers["Cache-Control"] == "private, no-store"
        html = response.get_data(as_text=True)
        assert "signed in as another provider" in html
        # (Their own ids are in the address asked for, which the header's forms repeat.)
        assert not any(fact.title in html or str(fact.id) in html for fact in theirs)
        assert "Beta Sepsis Society" not in html


def test_no_filter_page_or_text_reaches_another_providers_activities(signed_in_a, world):
    mine, theirs = world.ids(A), world.ids(B) | world.ids(C)
    b_ids = " ".join(str(i) for i in world.ids(B))
    queries = [
        "",
        "per_page=100",
        "listed=no",
        "listed=yes",
        "reason=" + "&reason=".join(rules.REASON_CODES),
        "status=Draft",
        "board=ABIM&board_state=incomplete",
        "board_field=practice+areas",
        "field=description",
        "q=Sepsis",  # B has the very same title
        "q=P9301",  # B's own ids all start so
        "q=beta-only",
        "q=shared",
        *(f"q={i}" for i in world.ids(B)),
        "page=2&per_page=3",
        f"q={b_ids.split()[0][:5]}",
    ]
    for query in queries:
        ids = listed_ids(signed_in_a, dashboard(A, query))
        assert set(ids) <= mine and not set(ids) & theirs, query
    assert listed_ids(signed_in_a, dashboard(A, "q=beta-only")) == []
    assert [world.facts[A][i].title for i in listed_ids(signed_in_a, dashboard(A, "q=Sepsis"))] == [
        "Sepsis Bundles in the ICU"
    ]
    # Its own id as B uses it: A's activity, never B's.
    shared = signed_in_a.get(f"/providers/{A}/activities/P9301-shared/preview")
    html = shared.get_data(as_text=True)
    assert shared.status_code == 200 and "Alpha&#39;s activity under an id B also uses" in html
    assert "Beta&#39;s own" not in html
    for own_id in ("beta-only", "nothing-by-this-id", "%00", "x" * 300, "P9301-shared%00"):
        assert signed_in_a.get(f"/providers/{A}/activities/{own_id}/preview").status_code == 404


# --- the filters ------------------------------------------------------------------------------


def _has_board(board=None, state=None):
    return lambda fact: any(
        (board is None or b == board) and (state is None or s == state) for b, s in fact.boards
    )


FILTERS = [
    ("listed=yes", lambda x: x.listed),
    ("listed=no", lambda x: not x.listed),
    ("listed=NO", lambda x: not x.listed),
    *((f"reason={code}", lambda x, c=code: c in x.reasons) for code in rules.REASON_CODES),
    ("reason=status&reason=hidden", lambda x: bool({"status", "hidden"} & x.reasons)),
    ("field=description", lambda x: "description" in x.gaps),
    ("field=activity+URL", lambda x: "activity URL" in x.gaps),  # missing or invalid
    ("reason=invalid&field=end+date", lambda x: "end date" in x.gaps),
    ("status=Draft", lambda x: x.status == "Draft"),
    ("status=draft&status=Closed", lambda x: x.status in ("Draft", "Closed")),
    ("format=Enduring+Material", lambda x: x.format == "Enduring Material"),
    ("board=ABA", _has_board("ABA")),
    ("board=abim", _has_board("ABIM")),
    *((f"board_state={s}", _has_board(state=s)) for s in ("counted", "incomplete")),
    *((f"board_state={s}", _has_board(state=s)) for s in ("past_deadline", "unlisted")),
    ("board=ABIM&board_state=counted", _has_board("ABIM", "counted")),
    ("board=ABA&board_state=incomplete", _has_board("ABA", "incomplete")),
    ("board=ABIM&board_state=unlisted", _has_board("ABIM", "unlisted")),
    ("board_field=practice+areas", lambda x: any(i == "practice areas" for _, i in x.board_gaps)),
    ("board=ABIM&board_field=credit+types", lambda x: ("ABIM", "credit types") in x.board_gaps),
    (
        "board=ABIM&board_state=incomplete&board_field=practice+areas",
        lambda x: ("ABIM", "practice areas") in x.board_gaps,
    ),
    ("q=sepsis", lambda x: "sepsis" in x.title.lower()),
    ("q=straße", lambda x: "straße" in x.title.lower() or "straße" in x.own_id.lower()),
    ("q=P9300-00", lambda x: "P9300-00" in x.own_id),
    ("q=100%25_", lambda x: "100%_" in x.title),  # % and _ are text, not wildcards
    ("q=%25", lambda x: "%" in x.title or "%" in x.own_id),
    ("listed=no&status=Draft&board=ABA", lambda x: x.status == "Draft" and _has_board("ABA")(x)),
    ("zzz=unknown&listed=yes", lambda x: x.listed),  # unknown parameters are ignored
]


@pytest.mark.parametrize(("query", "keep"), FILTERS, ids=[q for q, _ in FILTERS])
def test_each_filter_lists_exactly_what_the_rules_say(signed_in_a, world, query, keep):
    expected = world.ids(A, keep)
    html = _page(signed_in_a, dashboard(A, query + "&per_page=100"))
    ids = [int(n) for n in ROW_IDS.findall(html)]
    assert sorted(ids) == sorted(expected), query
    assert _count(html) == len(expected)


def test_the_provider_reason_lists_every_activity_of_a_provider_not_in_good_standing(client, world):
    assert sign_in(client, world.keys[C]).status_code == 303
    every = world.ids(C)
    assert set(listed_ids(client, dashboard(C, "reason=provider"))) == every
    assert listed_ids(client, dashboard(C, "listed=yes")) == []
    html = _page(client, dashboard(C))
    refusal = rules.registration_refused(
        f.provider(id=C, name="Gamma On Probation", accreditation_status="Probation")
    )
    assert refusal and refusal.replace("'", "&#39;") in html
    assert 'class="notice error standing" role="alert"' in html


def test_a_numeric_text_finds_the_registry_id(signed_in_a, world):
    some = sorted(world.ids(A))[3]
    assert listed_ids(signed_in_a, dashboard(A, f"q={some}")) == [some]


SORT_KEYS = {
    "title": lambda x: (x.title.lower(), x.id),
    "id": lambda x: (x.own_id, x.id),
}


@pytest.mark.parametrize("sort", list(SORT_KEYS))
def test_sorts_order_the_whole_list(signed_in_a, world, sort):
    ids = listed_ids(signed_in_a, dashboard(A, f"sort={sort}&per_page=4"))
    facts = world.facts[A]
    expected = sorted(facts, key=lambda i: SORT_KEYS[sort](facts[i]))
    if sort == "id":  # the database's collation orders the ids: compare as it would
        assert sorted(ids) == sorted(expected)
        assert len(ids) == len(set(ids))
    else:
        assert ids == expected


@pytest.mark.parametrize("sort", ["start", "end", "changed"])
def test_the_other_sorts_keep_every_activity_once(signed_in_a, world, sort):
    ids = listed_ids(signed_in_a, dashboard(A, f"sort={sort}&per_page=4"))
    assert sorted(ids) == sorted(world.ids(A)) and len(ids) == len(set(ids))


def test_pages_split_the_list_and_keep_the_filters(signed_in_a, world):
    expected = world.ids(A, lambda x: not x.listed)
    first = _page(signed_in_a, dashboard(A, "listed=no&per_page=3&sort=title"))
    assert len(ROW_IDS.findall(first)) == 3
    numbers = re.search(r'<ul class="page-numbers">(.*?)</ul>', first, re.S)
    links = [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)"', numbers[1])]
    pages = -(-len(expected) // 3)
    assert pages >= 3 and [dict(parse_qsl(urlsplit(u).query))["page"] for u in links] == [
        str(n) for n in range(2, pages + 1) if n <= 3 or n == pages
    ]
    for link in links:
        params = dict(parse_qsl(urlsplit(link).query))
        assert params["listed"] == "no" and params["per_page"] == "3" and params["sort"] == "title"
    ids = listed_ids(signed_in_a, dashboard(A, "listed=no&per_page=3&sort=title"))
    assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))
    second = _page(signed_in_a, dashboard(A, "listed=no&per_page=3&sort=title&page=2"))
    assert ROW_IDS.findall(second) and not set(ROW_IDS.findall(second)) & set(
        ROW_IDS.findall(first)
    )


def test_a_page_past_the_end_says_so_and_links_the_last(signed_in_a, world):
    last = -(-len(world.ids(A)) // 4)
    html = _page(signed_in_a, dashboard(A, "per_page=4&page=99"))
    assert ROW_IDS.findall(html) == []
    assert "There is no page 99" in html
    assert f'href="{dashboard(A, f"page={last}&amp;per_page=4")}"' in html
    assert _count(html) == len(world.ids(A))


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("listed=maybe", ["listed"]),
        ("reason=because", ["reason"]),
        ("status=Pending", ["status"]),
        ("format=Podcast", ["format"]),
        ("board=NOPE", ["board"]),
        ("board_state=lost", ["board_state"]),
        ("sort=random", ["sort"]),
        ("page=0", ["page"]),
        ("page=abc", ["page"]),
        ("per_page=1000", ["per_page"]),
        ("q=a&q=b", ["q"]),
        ("q=" + "x" * 201, ["q"]),
        ("board=NOPE&page=-1&listed=2", ["board", "page", "listed"]),
    ],
)
def test_bad_parameters_are_a_400_naming_each(signed_in_a, world, query, names):
    response = signed_in_a.get(dashboard(A, query))
    assert response.status_code == 400, query
    assert response.headers["Cache-Control"] == "private, no-store"
    html = response.get_data(as_text=True)
    assert sorted(re.findall(r"<li><strong>(\w+)</strong>: ", html)) == sorted(names)
    assert f'<a href="{dashboard(A)}">All your activities, unfiltered</a>' in html
    assert not ROW_IDS.findall(html)


# --- the summary ------------------------------------------------------------------------------


SUMMARY_LINK = re.compile(r'<a href="([^"]+)"><span class="n">([\d,]+)</span> ([^<]*)</a>')


def _summary_lines(html: str) -> list[tuple[str, int, str]]:
    section = re.search(r'<section class="standing-summary".*?</section>', html, re.S)[0]
    return [
        (url.replace("&amp;", "&"), int(n.replace(",", "")), label)
        for url, n, label in SUMMARY_LINK.findall(section)
    ]


@pytest.mark.parametrize("provider", [A, C])
def test_every_summary_line_links_to_as_many_rows_as_it_counts(client, world, provider):
    assert sign_in(client, world.keys[provider]).status_code == 303
    lines = _summary_lines(_page(client, dashboard(provider)))
    facts = world.facts[provider].values()
    by_label = {label: n for _, n, label in lines}
    assert by_label["activities" if len(facts) != 1 else "activity"] == len(facts)
    assert by_label["listed"] == sum(x.listed for x in facts)
    assert by_label["not listed"] == sum(not x.listed for x in facts)
    assert len(lines) >= (12 if provider == A else 4)  # reasons, fields, boards, states
    for url, n, label in lines:
        assert urlsplit(url).path == dashboard(provider)
        ids = listed_ids(client, url + ("&" if "?" in url else "?") + "per_page=100")
        assert len(ids) == n, (label, url)
        assert set(ids) <= world.ids(provider)


def test_the_summary_says_each_reason_field_and_board_state(signed_in_a, world):
    html = _page(signed_in_a, dashboard(A))
    found = {frozenset(parse_qsl(urlsplit(url).query)): n for url, n, _ in _summary_lines(html)}
    facts = world.facts[A].values()
    for code in set(rules.REASON_CODES) - {"provider"}:
        assert found[frozenset({("reason", code)})] == sum(code in x.reasons for x in facts)
    for code, item in (("missing", "description"), ("invalid", "end date")):
        expected = sum(code in x.reasons and item in x.gaps for x in facts)
        assert expected and found[frozenset({("reason", code), ("field", item)})] == expected
    for board, state in (("ABIM", "past_deadline"), ("ABA", "unlisted"), ("ABIM", "counted")):
        expected = sum((board, state) in x.boards for x in facts)
        assert expected and found[frozenset({("board", board), ("board_state", state)})] == expected
    gaps = [("ABIM", "practice areas"), ("ABIM", "credit types"), ("ABA", "practice areas")]
    for board, item in gaps:
        query = {("board", board), ("board_state", "incomplete"), ("board_field", item)}
        assert found[frozenset(query)] == sum((board, item) in x.board_gaps for x in facts)
    assert "missing practice areas" in html and "American Board of Internal Medicine" in html
    assert 'role="alert"' not in html  # A is in good standing


# --- the list's rows, the preview, the exports, the size ----------------------------------------


def test_each_row_says_its_status_reasons_and_registrations(signed_in_a, world):
    html = _page(signed_in_a, dashboard(A, "per_page=100"))
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>", 1)[1], re.S)
    assert len(rows) == len(world.ids(A))
    for row in rows:
        fact = world.facts[A][int(ROW_IDS.search(row)[1])]
        assert f'<td class="status">{fact.status}</td>' in row
        codes = re.findall(r'<li data-reason="(\w+)">', row)
        assert sorted(set(codes)) == sorted(fact.reasons)
        assert ('<span class="listed">Listed</span>' in row) == fact.listed
        assert sorted(re.findall(r'<li data-state="(\w+)">', row)) == sorted(
            s for _, s in fact.boards
        )
    assert "card-preview" not in html and '<article class="card">' not in html


def test_a_preview_shows_the_public_card_and_why_it_is_not_listed(signed_in_a, world):
    odd = next(x for x in world.facts[A].values() if x.own_id == ODD_ID)
    html = _page(signed_in_a, dashboard(A, "q=" + quote("Straße")))
    link = re.search(r'<a class="preview-link" href="([^"]+)">', html)[1].replace("&amp;", "&")
    assert "?" not in link and "#" not in link and " " not in link  # quoted
    assert unquote(link) == f"/providers/{A}/activities/{ODD_ID}/preview"
    preview = _page(signed_in_a, link)
    assert 'class="card-preview">' in preview and '<h3 class="card-title">' in preview
    assert "Über Straße: eine Fortbildung" in preview and str(odd.id) in preview
    assert '<span class="listed">Listed</span>' in preview

    draft = next(x for x in world.facts[A].values() if len(x.reasons) >= 3)
    url = f"/providers/{A}/activities/{quote(draft.own_id)}/preview"
    referrer = f"http://localhost{dashboard(A, 'listed=no&page=2&per_page=3')}"
    response = signed_in_a.get(url, headers={"Referer": referrer})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    assert sorted(set(re.findall(r'<li data-reason="(\w+)">', page))) == sorted(draft.reasons)
    assert '<article class="card">' in page  # as it would read once listed
    back = re.search(r'<a id="back-to-list" href="([^"]+)"', page)[1].replace("&amp;", "&")
    assert back == dashboard(A, "listed=no&page=2&per_page=3")
    # Another site's address is no way back.
    elsewhere = signed_in_a.get(url, headers={"Referer": f"https://evil.example{dashboard(A)}"})
    assert f'id="back-to-list" href="{dashboard(A)}"' in elsewhere.get_data(as_text=True)


def test_the_exports_carry_the_filters_but_not_the_page(signed_in_a, world, app):
    html = _page(signed_in_a, dashboard(A, "listed=no&board=ABIM&sort=title&page=2&per_page=3"))
    links = dict(re.findall(r'<a class="export" data-format="(\w+)" href="([^"]+)"', html))
    assert set(links) == {"csv", "xlsx"}
    for fmt, link in links.items():
        split = urlsplit(link.replace("&amp;", "&"))
        assert parse_qsl(split.query) == [("listed", "no"), ("board", "ABIM"), ("sort", "title")]
        if "provider_export.export" in app.view_functions:
            with app.test_request_context():
                from flask import url_for

                assert split.path == url_for("provider_export.export", provider_id=A, fmt=fmt)
        else:
            assert split.path == f"/providers/{A}/activities.{fmt}"
    plain = _page(signed_in_a, dashboard(A))
    assert f'href="/providers/{A}/activities.csv"' in plain or "provider_export.export" in (
        app.view_functions
    )


def test_the_provider_page_has_the_counts_and_the_way_to_the_dashboard(signed_in_a, world):
    response = signed_in_a.get(f"/providers/{A}")
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    facts = world.facts[A].values()
    listed, not_listed = sum(x.listed for x in facts), sum(not x.listed for x in facts)
    assert (
        f'<a href="{dashboard(A, "listed=yes")}"><span class="n">{listed}</span> listed</a>' in html
    )
    assert (
        f'<a href="{dashboard(A, "listed=no")}"><span class="n">{not_listed}</span> not listed'
        in html
    )
    assert f'class="button dashboard-link" href="{dashboard(A)}"' in html
    assert 'class="provider-activities"' not in html and "card-preview" not in html
    assert "/providers/sign-out" in html
    # The public never sees it.
    public = signed_in_a.application.test_client().get(f"/providers/{A}").get_data(as_text=True)
    assert "dashboard-link" not in public and "provider-own" not in public


def test_a_large_page_stays_small(client, engine, app):
    """The largest page of a provider with long titles and many reasons: well under 200 kB."""
    with app.app_context():
        from directory.web.context import today

        day = today()
    provider = f.provider(id=9400, name="Big Provider")
    with Session(engine) as session:
        session.add_all(
            f.activity(
                id=7_800_000 + n,
                provider_activity_id=f"BIG-{n:05d}-" + "x" * 40,
                provider=provider,
                title=f"A long title, {n}: " + "cardiology and more " * 12,
                status="Draft" if n % 2 else "Active",
                description=None if n % 3 else "Described.",
                start_date=day + timedelta(days=3),
                end_date=day + timedelta(days=4),
                moc=[f.abim(practice_areas=[]), f.aba(claim_deadline=day - timedelta(1))],
            )
            for n in range(120)
        )
        key = api_keys.issue(session, provider, "big").key
        session.commit()
    assert sign_in(client, key).status_code == 303
    largest = client.get(dashboard(9400, "per_page=100")).get_data()
    assert len(ROW_IDS.findall(largest.decode())) == 100
    assert len(largest) < 200_000, len(largest)
    first = client.get(dashboard(9400)).get_data()
    assert len(first) < 60_000, len(first)


def test_a_mixed_case_board_code_filters(signed_in_a, world):
    # ABPath is spelled so by its board: read in any case, kept in its own spelling.
    for code in ("ABPath", "abpath", "ABPATH"):
        assert signed_in_a.get(dashboard(A, f"board={code}")).status_code == 200
