"""The provider's dashboard in a real browser, as a provider uses it: sign in, read the summary,
follow a line of it, change the filters, turn a page, open a card's preview and download the
list, all under the site's Content-Security-Policy."""

from __future__ import annotations

import csv
from urllib.parse import parse_qs, urlsplit

from tests.browser.test_provider import KEY_INPUT
from tests.browser.test_security import _guarded_page, _violations


def _params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("table.provider-activities a.preview-link").all_inner_texts()


def _count(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("p#result-count").inner_text().strip()


def test_a_provider_works_through_its_dashboard(new_context, site, screenshot):
    page = _guarded_page(new_context)
    page.goto("/providers/sign-in")
    page.locator(KEY_INPUT).first.fill(site.provider_key)
    with page.expect_navigation():
        page.locator(KEY_INPUT).first.press("Enter")
    dashboard = f"/providers/{site.provider_id}/activities"
    assert urlsplit(page.url).path == dashboard, f"signing in led to {page.url}"

    # The summary: how many, how many listed, how many not and why.
    total = site.provider_activity_count
    listed, unlisted = site.provider_listed_titles, site.provider_unlisted_titles
    summary = page.locator("section.standing-summary")
    assert summary.locator("li.summary-total").inner_text().startswith(f"{total} activities")
    assert summary.locator("li.summary-listed > a").inner_text() == f"{len(listed)} listed"
    not_listed = summary.locator("li.summary-not-listed > a")
    assert not_listed.inner_text() == f"{len(unlisted)} not listed"
    reasons = summary.locator("li.summary-not-listed > ul > li")
    assert reasons.count() >= 1, "no reason under the not-listed line"
    screenshot(page, "provider-dashboard")

    # A summary line lists what it counts.
    with page.expect_navigation():
        not_listed.click()
    assert _params(page.url) == {"listed": ["no"]}
    assert _count(page) == f"{len(unlisted)} activities"
    assert sorted(_titles(page)) == sorted(unlisted)
    assert page.locator("ul.chips a.chip").inner_text().startswith("Remove filter")

    # The form: every activity, by title, ten a page.
    page.locator("select#f-listed").select_option("")
    page.locator("select#f-sort").select_option("title")
    page.locator("select#f-per-page").select_option("10")
    with page.expect_navigation():
        page.locator("form#dashboard-filters button", has_text="Apply filters").click()
    params = _params(page.url)
    assert params.get("sort") == ["title"] and params.get("per_page") == ["10"], page.url
    assert "listed" not in params, page.url
    assert _count(page) == f"{total} activities"
    first = _titles(page)
    assert len(first) == min(10, total)
    assert first == sorted(first, key=str.lower), "not in title order"

    # Page 2: the rest, in the same order, with the same filters.
    assert total > 10, "the provider of the browser tests has too few activities for two pages"
    with page.expect_navigation():
        page.locator("nav.pagination a[rel=next]").click()
    params = _params(page.url)
    assert params.get("page") == ["2"] and params.get("sort") == ["title"], page.url
    second = _titles(page)
    assert sorted(first + second) == sorted(listed | unlisted)
    page_two = page.url

    # A preview, on demand: the public card, why it is not listed, the way back.
    row = page.locator("table.provider-activities tbody tr", has=page.locator("ul.reasons"))
    if row.count() == 0:  # page 2 holds only listed activities: any row will do
        row = page.locator("table.provider-activities tbody tr")
    title = row.first.locator("a.preview-link").inner_text()
    with page.expect_navigation():
        row.first.locator("a.preview-link").click()
    assert urlsplit(page.url).path.endswith("/preview"), page.url
    assert page.locator("h1").inner_text() == title
    assert page.locator("div.card-preview article.card").count() == 1
    if title in unlisted:
        assert page.locator("section.preview-standing ul.reasons li").count() >= 1
    with page.expect_navigation():
        page.locator("a#back-to-list").click()
    assert page.url == page_two, f"back led to {page.url}, not {page_two}"

    # The export of the list as filtered, every page of it.
    with page.expect_download() as info:
        page.locator('a.export[data-format="csv"]').click()
    download = info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    with open(download.path(), encoding="utf-8-sig", newline="") as exported:
        cells = {cell for line in csv.reader(exported) for cell in line}
    missing = sorted((listed | unlisted) - cells)
    assert not missing, f"the CSV lacks {missing}"
    assert not _violations(page) and not page.console_csp and not page.errors
