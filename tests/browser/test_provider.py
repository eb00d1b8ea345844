"""The provider view: public listing, and after signing in with an API key, the dashboard of
every activity (its own tests: test_dashboard.py)."""

from __future__ import annotations

KEY_INPUT = (
    "main form input:not([type=hidden]):not([type=submit]):not([type=button])"
    ":not([type=checkbox]):not([type=radio])"
)


def test_public_provider_view_lists_only_listed_activities(page, site):
    response = page.goto(f"/providers/{site.provider_id}")
    assert response is not None and response.status == 200, (
        f"/providers/<id> -> {response and response.status}"
    )
    cards = page.locator("ol#results > li")
    assert cards.count() >= 1, "no ol#results > li on the public provider page"
    titles = page.locator("ol#results > li h2").all_inner_texts()
    unexpected = [t for t in titles if t.strip() not in site.provider_listed_titles]
    assert not unexpected, f"the public provider page shows unlisted activities: {unexpected}"
    assert page.locator("table.provider-activities").count() == 0, (
        "the public sees the private table"
    )


def test_signed_in_provider_sees_every_activity_and_why(page, site, screenshot):
    page.goto("/providers/sign-in")
    key = page.locator(KEY_INPUT)
    assert key.count() >= 1, "no input for the API key on /providers/sign-in"
    key.first.fill(site.provider_key)
    with page.expect_navigation():
        key.first.press("Enter")
    dashboard = f"/providers/{site.provider_id}/activities"
    assert page.url.endswith(dashboard), f"signing in led to {page.url}, not {dashboard}"

    table = page.locator("table.provider-activities")
    assert table.count() == 1, f"no table.provider-activities after signing in (at {page.url})"
    rows = table.locator("tr:has(td.status)")
    assert rows.count() == site.provider_activity_count, (
        f"{rows.count()} rows with td.status, the provider has {site.provider_activity_count} activities"
    )
    text = table.inner_text()
    missing = [t for t in site.provider_unlisted_titles if t not in text]
    assert not missing, f"unlisted activities missing from the table: {missing}"
    reasons = table.locator("ul.reasons li")
    assert reasons.count() >= 1, "no ul.reasons li for the unlisted activities"
    assert all(r.strip() for r in reasons.all_inner_texts()), "an empty reason"
    assert page.locator("div.card-preview").count() == 0, "every row's card on the page"

    # The provider's own page: the counts and the way to the dashboard, not the list.
    page.goto(f"/providers/{site.provider_id}")
    summary = page.locator("section.provider-own p.own-summary").inner_text()
    assert f"{len(site.provider_listed_titles)} listed" in summary, summary
    assert f"{len(site.provider_unlisted_titles)} not listed" in summary, summary
    assert page.locator("table.provider-activities").count() == 0
    screenshot(page, "provider-view")
    with page.expect_navigation():
        page.locator("a.dashboard-link").click()
    assert page.url.endswith(dashboard)
    with page.expect_navigation():
        page.locator("table.provider-activities a.preview-link").first.click()
    preview = page.locator("div.card-preview article.card")
    assert preview.count() == 1, (
        f"no div.card-preview holding the public article.card at {page.url}"
    )


def test_wrong_key_does_not_sign_in(page, site):
    page.goto("/providers/sign-in")
    key = page.locator(KEY_INPUT)
    assert key.count() >= 1, "no input for the API key on /providers/sign-in"
    key.first.fill(site.provider_key[:-4] + "AAAA")
    with page.expect_navigation():
        key.first.press("Enter")
    page.goto(f"/providers/{site.provider_id}/activities")
    assert page.url.endswith("/providers/sign-in"), f"a wrong key signed in (at {page.url})"
    assert page.locator("table.provider-activities").count() == 0, "a wrong key signed in"
