"""The widget on a board's page of another origin, under that page's hostile CSS."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from tests.browser.helpers import poll

WIDGET = "cme-directory-widget"
ITEMS = f"{WIDGET} ol.results > li"
LINKS = f"{ITEMS} > a"
RED = "rgb(255, 0, 0)"


def _links(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator(LINKS).evaluate_all("links => links.map(a => a.href)")


def _count(page) -> int | None:  # type: ignore[no-untyped-def]
    count = page.locator(f"{WIDGET} p.count")
    if count.count() != 1:
        return None
    match = re.search(r"(\d[\d,]*)", count.inner_text())
    return int(match.group(1).replace(",", "")) if match else 0


def _api_total(page, site, **params: str) -> int:  # type: ignore[no-untyped-def]
    response = page.request.get(f"{site.app_url}/api/v1/search?{urlencode(params)}")
    assert response.ok, f"/api/v1/search?{urlencode(params)} -> {response.status}"
    return response.json()["total"]


def test_widget_on_another_origin_searches_and_resists_host_css(page, site, screenshot):
    page.goto(f"{site.host_url}/host.html")
    widget = page.locator(WIDGET)
    widget.wait_for(state="attached")
    placed = page.evaluate(
        f"""() => {{
          const w = document.querySelector('{WIDGET}');
          const s = document.querySelector('script[src$="/static/widget.js"]');
          return {{open: !!w.shadowRoot, afterScript: s.nextElementSibling === w}};
        }}"""
    )
    assert placed["open"], (
        "the widget has no open shadowRoot (the contract's selectors reach into it)"
    )
    assert placed["afterScript"], "the widget is not inserted right after its <script>"
    page.locator(ITEMS).first.wait_for()  # its results load from the app's API, cross-origin
    first = _links(page)
    assert 0 < len(first) <= 5, f"data-page-size=5, the widget shows {len(first)} results"
    for href in first:
        assert href.startswith(f"{site.app_url}/activities/"), f"widget link {href} is not ours"
    targets = page.locator(LINKS).evaluate_all("links => links.map(a => a.target)")
    assert set(targets) == {"_blank"}, f"widget links have target={set(targets)}, not _blank"
    abim_total = _api_total(page, site, board="ABIM")
    assert poll(page, lambda: _count(page) == abim_total), (
        f"p.count says {_count(page)}, the API has {abim_total} ABIM activities"
    )

    # Hostile host CSS reaches the host page (control) but nothing inside the shadow root.
    host_color = page.evaluate("getComputedStyle(document.getElementById('host-text')).color")
    assert host_color == RED, "control: the host's CSS did not even apply to the host page"
    style = page.locator(LINKS).first.evaluate(
        "a => { const s = getComputedStyle(a); const r = a.getBoundingClientRect();"
        " return {fontSize: s.fontSize, color: s.color, width: r.width, height: r.height,"
        " fontFamily: s.fontFamily, textTransform: s.textTransform,"
        " letterSpacing: s.letterSpacing, lineHeight: s.lineHeight}; }"
    )
    assert style["fontSize"] != "40px", "the host's font-size: 40px !important restyled the widget"
    assert style["color"] != RED, "the host's color: red !important restyled the widget"
    assert style["width"] > 0 and style["height"] > 0, "the widget's links are not rendered"
    # Inherited properties cross the shadow boundary unless the widget resets them
    # (e.g. `:host { all: initial }` before its own styles).
    leaked = {
        "text-transform": style["textTransform"] == "uppercase",
        "letter-spacing": style["letterSpacing"] == "4px",
        "font-family": "comic sans" in style["fontFamily"].lower(),
        "line-height": style["lineHeight"] == f"{3 * float(style['fontSize'][:-2]):g}px",
    }
    assert not any(leaked.values()), (
        f"the host page's inherited CSS restyles the widget: {[k for k, v in leaked.items() if v]} "
        f"(computed on a result link: {style})"
    )
    screenshot(page, "widget")

    search = page.locator(f"{WIDGET} form input[type=search]")
    assert search.count() == 1, "no form input[type=search] in the widget"
    search.fill("heart failure")
    search.press("Enter")
    changed = poll(page, lambda: _links(page) != first and _links(page))
    assert changed, "submitting a search in the widget did not change its results"
    wanted = _api_total(page, site, board="ABIM", q="heart failure")
    assert poll(page, lambda: _count(page) == wanted), (
        f"after searching, p.count says {_count(page)}; the API has {wanted} for that search"
    )
    assert page.url == f"{site.host_url}/host.html", "searching navigated the host page away"
    assert not page.errors, f"uncaught script errors on the host page: {page.errors}"


def test_widget_presets_delivery_and_says_what_a_mistyped_one_should_be(page, site):
    page.goto(f"{site.host_url}/online.html")
    page.locator(ITEMS).first.wait_for()
    online = _api_total(page, site, delivery="online")
    both = _api_total(page, site, delivery="both")
    assert online and both
    assert poll(page, lambda: _count(page) == online + both), (
        f"data-delivery='online, both': p.count says {_count(page)}, not {online} + {both}"
    )

    page.goto(f"{site.host_url}/typo.html")
    error = page.locator(f"{WIDGET} p.error")
    error.wait_for()
    text = error.inner_text()
    assert "could not be run" in text and "hybrid" in text, text
    for valid in ("in person", "online", "both"):
        assert valid in text, f"the widget's error does not offer {valid!r}: {text}"
    assert page.locator(ITEMS).count() == 0
    assert not page.errors, f"uncaught script errors on the host page: {page.errors}"


def test_a_state_societys_widget_shows_which_requirement_each_activity_may_count_toward(
    page, site, screenshot
):
    from directory.registry.reference import reference

    ref = reference()
    rule = ref.mandates[site.mandate_id]
    page.goto(f"{site.host_url}/state.html")
    page.locator(ITEMS).first.wait_for()
    wanted = _api_total(page, site, mandate=rule.id)
    assert poll(page, lambda: _count(page) == wanted), (
        f"data-mandate={rule.id}: p.count says {_count(page)}, the API has {wanted}"
    )
    note = page.locator(f"{WIDGET} p.state")
    assert f"Requirements shown for {ref.jurisdiction_name(rule.jurisdiction)}" in note.inner_text()
    assert "confirm with your board" in note.inner_text()
    items = page.locator(ITEMS)
    lines = page.locator(f'{ITEMS} .req[data-mandate="{rule.id}"]')
    assert lines.count() == items.count(), "a result does not say the requirement it matches"
    text = lines.first.inner_text()
    assert rule.summary in text and "source" in text
    assert lines.first.locator("a").get_attribute("href") == rule.source
    for href in _links(page):
        assert href.endswith(f"?my_state={rule.jurisdiction}"), f"{href} drops the state"
    screenshot(page, "widget-state", max_height=900)
    assert not page.errors, f"uncaught script errors on the host page: {page.errors}"
