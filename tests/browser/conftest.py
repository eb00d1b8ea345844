"""The browser tests' world: a demo registry served by a real WSGI server, a second origin
hosting pages that embed the widget and the iframe, and Debian's Chromium driven by Playwright.

Chromium comes from the distribution (`scripts/browser-deps` installs it; `playwright install`
cannot download browsers here). Without it, or without the `playwright` package, the tests skip
on a developer's machine and fail under CI (CI=true), where a skip would hide that they never ran.
Set CHROMIUM to use another Chromium binary.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from directory.config import PROJECT_ROOT, Config
from directory.demo import generate_into
from directory.registry import api_keys, rules
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.registry.models import Activity, Provider, with_children
from directory.registry.reference import reference
from directory.web.app import create_app
from indexer import engine_from_config, index_key
from indexer.sync import full_reindex

DEMO_COUNT = 1500
DEMO_SEED = 20240601
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
# Without the background-networking flags Chromium keeps calling home over a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # pages are local and small: waiting longer only delays a red test


@dataclass(frozen=True)
class Site:
    app_url: str  # http://127.0.0.1:<port>, the directory
    host_url: str  # http://127.0.0.1:<other port>, a board's site: another origin
    total_listed: int
    provider_id: int  # a provider in good standing with listed and unlisted activities
    provider_key: str
    provider_activity_count: int
    provider_listed_titles: frozenset[str]
    provider_unlisted_titles: frozenset[str]
    detail_id: int  # listed, with a complete registration for a board that has a program
    unlisted_id: int  # a Draft: never listed, so its page is a 404
    # A state rule that counts only approved courses (picked from the reference data), and
    # the activities built for it (`_mandated`): tagged with its topic and approved, in Omaha
    # and around; one tagged without the approval.
    mandate_id: str
    mandate_state: str
    mandated_ids: tuple[int, ...]
    unapproved_id: int


def _unavailable(message: str, fix: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run the browser tests ({fix})", pytrace=False)
    pytest.skip(f"{message}; to run the browser tests: {fix}")


def chromium_path() -> str | None:
    """$CHROMIUM when set (and only it), else chromium on PATH, else Debian's."""
    chosen = os.environ.get("CHROMIUM")
    candidates = [chosen] if chosen else [shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed", "scripts/bootstrap")
    executable = chromium_path()
    if executable is None:
        where = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
        _unavailable(f"no Chromium at {where}", "scripts/browser-deps, as root")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


def _serve_in_thread(server: Any, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


MANDATED_BASE_ID = 900_000_000
# Where the activities built for a state rule are held: Omaha and towns within 75 miles.
MANDATED_PLACES = (("Omaha", "NE"), ("Council Bluffs", "IA"), ("Lincoln", "NE"))


def _mandated(today: Any) -> tuple[list[Activity], dict[str, Any]]:
    """Activities for the requirements and near-me tests, built here rather than read from the
    demo data: each tagged with the topic of the first state rule that counts only approved
    courses and holding its approval, one per place; and one tagged without the approval."""
    from datetime import timedelta

    from directory.registry.reference import FEDERAL
    from tests import factories as f

    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only and m.jurisdiction != FEDERAL)
    provider = f.provider(id=MANDATED_BASE_ID, name="Heartland Clinical Education")
    made = []
    for i, (city, state) in enumerate((*MANDATED_PLACES, MANDATED_PLACES[0]), start=1):
        approved = i <= len(MANDATED_PLACES)
        made.append(
            f.activity(
                id=MANDATED_BASE_ID + i,
                provider_activity_id=f"HCE-{i}",
                provider=provider,
                title=f"{ref.topics[rule.topics[0]].name}: a course for clinicians ({city})"
                + ("" if approved else ", not yet approved"),
                start_date=today + timedelta(days=7 + i),
                end_date=today + timedelta(days=8 + i),
                moc=[f.abim(claim_deadline=today + timedelta(days=90))],
                topics=list(rule.topics[:1]),
                approvals=[f.approval(rule.approver)] if approved else [],
                city=city,
                state=state,
            )
        )
    facts = {
        "mandate_id": rule.id,
        "mandate_state": rule.jurisdiction,
        "mandated_ids": tuple(a.id for a in made[: len(MANDATED_PLACES)]),
        "unapproved_id": made[-1].id,
    }
    return made, facts


def _build_registry(config: Config, today: Any) -> dict[str, Any]:
    """Demo data, the embedded index, and the ids and key the tests need."""
    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    generate_into(engine, count=DEMO_COUNT, seed=DEMO_SEED, today=today)
    mandated, mandated_facts = _mandated(today)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        session.add_all(mandated)
        session.commit()
    full_reindex(sessions, engine_from_config(config), index_key(config), today)
    ref = reference()
    with sessions() as session:
        activities = session.scalars(select(Activity).options(*with_children())).all()
        listed = [a for a in activities if rules.is_listed(a, today, ref)]
        by_provider: dict[int, list[Activity]] = {}
        for a in activities:
            by_provider.setdefault(a.provider_id, []).append(a)

        def fits(acts: list[Activity]) -> bool:
            n_listed = sum(rules.is_listed(a, today, ref) for a in acts)
            return (
                acts[0].provider.accreditation_status in ref.good_standing
                and n_listed >= 2
                and (n_listed < len(acts))
            )

        # The smallest such provider keeps the provider view (and its screenshot) short.
        provider_id = min((p for p, acts in by_provider.items() if fits(acts)),
                          key=lambda p: (len(by_provider[p]), p))  # fmt: skip
        mine = by_provider[provider_id]
        provider = session.get(Provider, provider_id)
        assert provider is not None
        key = api_keys.issue(session, provider, "browser tests").key
        session.commit()
        detail = next(
            a
            for a in sorted(listed, key=lambda a: a.id)
            if any(b != "ABPMR" for b in rules.counted_boards(a, today, ref))
        )
        draft = next(a for a in activities if a.status == "Draft")
        facts = {
            "total_listed": len(listed),
            "provider_id": provider_id,
            "provider_key": key,
            "provider_activity_count": len(mine),
            "provider_listed_titles": frozenset(
                a.title for a in mine if rules.is_listed(a, today, ref)
            ),
            "provider_unlisted_titles": frozenset(
                a.title for a in mine if not rules.is_listed(a, today, ref)
            ),
            "detail_id": detail.id,
            "unlisted_id": draft.id,
            **mandated_facts,
        }
    engine.dispose()
    return facts


HOST_CSS = """
  /* A board's site with careless global CSS: none of it may reach into the widget. */
  * { color: red !important; font-size: 40px !important; display: inline !important;
      font-family: "Comic Sans MS", cursive !important; line-height: 3 !important;
      text-transform: uppercase !important; letter-spacing: 4px !important;
      background: yellow !important; }
  ol, li, a, form, input, button, p { all: unset; }
  input { border: 6px dashed green !important; }
  /* Keep <head> hidden so the screenshot shows the page, not this style sheet. */
  head, head *, script { display: none !important; }
"""


def _host_pages(app_url: str, facts: dict[str, Any]) -> dict[str, str]:
    def page(title: str, body: str, css: str = "") -> str:
        return (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{css}</style></head>\n<body>\n{body}\n</body></html>\n"
        )

    return {
        "host.html": page(
            "A certifying board's site",
            '<p id="host-text">Find MOC activities for our diplomates:</p>\n'
            f'<script src="{app_url}/static/widget.js" data-board="ABIM" data-page-size="5" '
            "async></script>",
            HOST_CSS,
        ),
        # Everything available online, as a board would preset it; and a preset with a typo.
        "online.html": page(
            "A board's page of online activities",
            f'<script src="{app_url}/static/widget.js" data-delivery="online, both" '
            'data-page-size="5" async></script>',
        ),
        # A state society's page: "counts for" its state, narrowed to one of its requirements.
        "state.html": page(
            "A state medical society's page of required-topic activities",
            f'<script src="{app_url}/static/widget.js" data-my-state="{facts["mandate_state"]}" '
            f'data-mandate="{facts["mandate_id"]}" data-page-size="5" async></script>',
        ),
        "typo.html": page(
            "A board's page with a mistyped preset",
            f'<script src="{app_url}/static/widget.js" data-delivery="hybrid" async></script>',
        ),
        "embed.html": page(
            "A board's site with the embedded directory",
            "<h1>PM&amp;R activities</h1>\n"
            f'<iframe id="embed" title="CME directory" src="{app_url}/embed?board=ABPMR" '
            'style="width: 100%; height: 720px; border: 1px solid #ccc"></iframe>',
        ),
        "frame-home.html": page(
            "Someone framing the search page",
            f'<iframe id="home" title="framed" src="{app_url}/" '
            'style="width: 100%; height: 600px"></iframe>',
        ),
        # Another site's forms posting to ours (CSRF): they must be refused.
        "cross-site-forms.html": page(
            "Another site posting to the directory",
            f'<form id="board" method="post" action="{app_url}/my-board">'
            '<input type="hidden" name="board" value="ABIM">'
            '<input type="hidden" name="next" value="/">'
            '<button id="post-board" type="submit">Choose ABIM</button></form>\n'
            f'<form id="sign-in" method="post" action="{app_url}/providers/sign-in">'
            '<input id="key" type="hidden" name="key" value="">'
            '<button id="post-sign-in" type="submit">Sign in</button></form>',
        ),
    }


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("browser-data")
    config = Config(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'registry.sqlite3'}",
        search_backend="embedded",
        secret_key="browser-tests",
    )
    app = create_app(config)
    with app.app_context():
        from directory.web.context import today

        day = today()  # the app's own today, in its time zone
    facts = _build_registry(config, day)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app_server = make_server("127.0.0.1", 0, app, threaded=True)
    app_url = f"http://127.0.0.1:{app_server.server_port}"
    _serve_in_thread(app_server, "browser-tests-app")

    host_dir = tmp_path_factory.mktemp("browser-host")
    for name, html in _host_pages(app_url, facts).items():
        (host_dir / name).write_text(html, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(host_dir))
    host_server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    host_url = f"http://127.0.0.1:{host_server.server_address[1]}"
    _serve_in_thread(host_server, "browser-tests-host")

    yield Site(app_url=app_url, host_url=host_url, **facts)

    app_server.shutdown()
    host_server.shutdown()
    host_server.server_close()
    app.extensions["directory_engine"].dispose()


@pytest.fixture
def new_context(browser: Any, site: Site) -> Iterator[Callable[..., Any]]:
    """Make a fresh browser context (own cookies) on the app's origin; closed after the test.

    Each page it opens records uncaught script errors in `page.errors`."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("base_url", site.app_url)
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)

        def track(page: Any) -> None:
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))

        context.on("page", track)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    """A desktop page (1280x900) in its own context, with JavaScript."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    return new_context().new_page()


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """save(page, name, max_height=...) -> docs/screenshots/<name>.png.

    Full page up to `max_height` CSS pixels (the files are committed: keep them small);
    `full_page=False` takes the viewport only."""

    def save(page: Any, name: str, *, full_page: bool = True, max_height: int = 1400) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        options: dict[str, Any] = {"path": str(path), "animations": "disabled", "caret": "hide"}
        if full_page:
            width = page.viewport_size["width"]
            height = page.evaluate("document.documentElement.scrollHeight")
            options["full_page"] = True
            options["clip"] = {"x": 0, "y": 0, "width": width, "height": min(height, max_height)}
        page.screenshot(**options)
        return path

    return save
