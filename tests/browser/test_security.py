"""The pages under their Content-Security-Policy, and forms under CSRF protection, in a real
browser: nothing the pages need is blocked, and another site's forms are refused."""

from __future__ import annotations

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import poll, wait_for_cards
from tests.browser.test_provider import KEY_INPUT

# Records every policy violation of the page, before any of its own script runs.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
});
"""


def _violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("window.__cspViolations || []")


def _guarded_page(new_context):  # type: ignore[no-untyped-def]
    context = new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.console_csp = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and page.console_csp.append(m.text),
    )
    return page


def test_pages_run_under_their_policy_without_a_violation(new_context, site):
    page = _guarded_page(new_context)
    for path in (
        "/",
        "/?board=ABIM&delivery=online",
        f"/activities/{site.detail_id}",
        f"/providers/{site.provider_id}",
        "/providers/sign-in",
        "/no-such-page",
        "/embed?board=ABIM",
    ):
        response = page.goto(path)
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy or path.startswith("/embed"), (path, policy)
        page.wait_for_load_state("load")
        assert not _violations(page), (path, _violations(page))
        assert not page.console_csp, (path, page.console_csp)
        assert not page.errors, (path, page.errors)


def test_typeahead_and_auto_submit_work_under_the_policy(new_context):
    page = _guarded_page(new_context)
    page.goto("/")
    wait_for_cards(page)
    page.locator("input#q").type("cardio", delay=30)
    filled = poll(page, lambda: page.locator("datalist#q-suggestions option").count())
    assert filled, "the typeahead's fetch filled no suggestions (blocked by the policy?)"
    with page.expect_navigation():
        page.locator('fieldset.facet[data-facet="board"] input[type=checkbox]').first.check()
    assert "board=" in page.url, f"a facet change did not submit the form: {page.url}"
    assert not _violations(page) and not page.console_csp and not page.errors


def test_sign_in_and_sign_out_through_the_forms(new_context, site):
    page = _guarded_page(new_context)
    page.goto("/providers/sign-in")
    page.locator(KEY_INPUT).first.fill(site.provider_key)
    with page.expect_navigation():
        page.locator(KEY_INPUT).first.press("Enter")
    assert page.locator("table.provider-activities").count() == 1, f"not signed in at {page.url}"
    with page.expect_navigation():
        page.locator("form[action$='/providers/sign-out'] button").click()
    page.goto(f"/providers/{site.provider_id}/activities")
    assert page.locator("table.provider-activities").count() == 0, "still signed in"
    assert not _violations(page) and not page.errors


def test_another_sites_forms_are_refused(new_context, site):
    page = new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{site.host_url}/cross-site-forms.html")
    with page.expect_navigation():
        page.locator("#post-board").click()
    assert "/my-board" in page.url
    assert page.locator("h1").inner_text() == "This form could not be accepted"
    cookies = {c["name"]: c["value"] for c in page.context.cookies(site.app_url)}
    assert "my_board" not in cookies, "another site chose the physician's board"

    # Login CSRF: signing the victim in as the attacker's provider.
    page.goto(f"{site.host_url}/cross-site-forms.html")
    page.locator("#key").evaluate("(el, key) => { el.value = key; }", site.provider_key)
    with page.expect_navigation():
        page.locator("#post-sign-in").click()
    page.goto(f"/providers/{site.provider_id}/activities")
    assert page.locator("table.provider-activities").count() == 0, "another site signed us in"
