"""The activity detail page, opened from a result card."""

from __future__ import annotations

import json
import re

from tests.browser.helpers import CARDS

# schema.org Course, or Event (EducationEvent is the Event subtype meant for classes).
TYPES = {"Course", "Event", "EducationEvent"}


def _types(data: object) -> set[str]:
    """Every @type in a JSON-LD document (an object, a list, or an @graph)."""
    found: set[str] = set()
    if isinstance(data, list):
        for item in data:
            found |= _types(item)
    elif isinstance(data, dict):
        kind = data.get("@type")
        found |= set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()
        for item in data.get("@graph", []):
            found |= _types(item)
    return found


def test_card_opens_its_detail_page(page, screenshot):
    page.goto("/")
    # A card counted for a board with a registration program (ABPMR has none).
    card = (
        page.locator(CARDS)
        .filter(has=page.locator('.badge[data-board]:not([data-board="ABPMR"])'))
        .first
    )
    assert card.count() == 1, "no result card with a .badge[data-board] other than ABPMR"
    link = card.locator("h2 > a")
    title = link.inner_text().strip()
    boards = card.locator(".badge[data-board]").evaluate_all(
        "badges => badges.map(b => b.dataset.board)"
    )
    link.click()
    page.wait_for_url(re.compile(r"/activities/\d+$"))

    h1 = page.locator("h1")
    assert h1.count() == 1, f"{h1.count()} h1 elements on the detail page"
    assert h1.inner_text().strip() == title, "the h1 is not the card's title"
    table = page.locator("section#registrations table.board-registrations")
    assert table.count() == 1, "no section#registrations table.board-registrations"
    rows = table.locator("tbody tr")
    assert rows.count() >= 1, "the board registrations table has no rows"
    table_text = table.inner_text()
    counted = [b for b in boards if b != "ABPMR"]
    assert all(b in table_text for b in counted), f"the table does not name every board of {boards}"

    register = page.locator("a.register")
    assert register.count() >= 1, "no a.register"
    assert re.match(r"https?://", register.first.get_attribute("href") or ""), "a.register href"

    blocks = page.locator('script[type="application/ld+json"]').all_text_contents()
    assert blocks, 'no script[type="application/ld+json"]'
    found: set[str] = set()
    for block in blocks:
        found |= _types(json.loads(block))  # must parse as JSON
    assert found & TYPES, f"JSON-LD @type is {found or 'missing'}, not Course or Event"
    screenshot(page, "activity-detail")
    assert not page.errors, f"uncaught script errors: {page.errors}"


def test_unlisted_activity_is_not_found(page, site):
    response = page.goto(f"/activities/{site.unlisted_id}")
    assert response is not None and response.status == 404, (
        f"a draft activity's page answered {response and response.status}, not 404"
    )
    listed = page.goto(f"/activities/{site.detail_id}")
    assert listed is not None and listed.status == 200, "a listed activity's page is not 200"
