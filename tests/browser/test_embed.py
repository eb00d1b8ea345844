"""The iframe form: `/embed` may be framed by another site; nothing else may."""

from __future__ import annotations

from tests.browser.helpers import poll

RESULTS = ":is(ol#results, ol.results) > li"


def test_embed_loads_in_an_iframe_on_another_origin(page, site, screenshot):
    page.goto(f"{site.host_url}/embed.html")
    frame = page.frame_locator("iframe#embed")
    items = frame.locator(RESULTS)
    items.first.wait_for()
    hrefs = frame.locator(f"{RESULTS} a[href*='/activities/']").evaluate_all(
        "links => links.map(a => a.href)"
    )
    assert hrefs, "the embed's results do not link to /activities/<id>"
    assert all(h.startswith(f"{site.app_url}/activities/") for h in hrefs), hrefs[:3]
    screenshot(page, "embed")


def test_pages_other_than_embed_refuse_to_be_framed(page, site):
    # Control: the same page loads on its own.
    page.goto("/")
    assert page.locator("form#search").count() == 1, "control: / has no form#search"

    page.goto(f"{site.host_url}/frame-home.html", wait_until="load")
    handle = page.locator("iframe#home").element_handle()
    assert handle is not None

    def framed_search() -> int:
        inner = handle.content_frame()
        return 0 if inner is None else inner.locator("form#search").count()

    # Give a framed page every chance to appear before concluding it was blocked.
    appeared = poll(page, framed_search, timeout=2.0)
    assert not appeared, (
        "/ rendered inside another origin's iframe: send X-Frame-Options: DENY or "
        "Content-Security-Policy: frame-ancestors 'none' on everything but /embed"
    )
