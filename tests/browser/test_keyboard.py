"""The search page with the keyboard only: skip link, query, facets, and visible focus."""

from __future__ import annotations

from tests.browser.helpers import (
    assert_focus_visible,
    facet_box,
    query,
    result_count,
    tab,
    tab_until,
    wait_for_param,
)

IN_RESULTS = "document.activeElement.closest('#results') !== null"


def test_skip_link_comes_first_and_moves_focus_to_results(page):
    page.goto("/")
    state = tab(page)
    assert state and page.evaluate(
        "document.activeElement.matches('a.skip-link[href=\"#results\"]')"
    ), f"the first Tab focused {state and state['name']}, not a.skip-link[href=#results]"
    assert_focus_visible(state)
    bounds = page.locator("a.skip-link").bounding_box()
    assert bounds and bounds["width"] > 1 and bounds["height"] > 1, (
        "the focused skip link is not shown"
    )
    page.keyboard.press("Enter")
    # Focus lands on (or in) the results, or the next Tab does: both skip the page chrome.
    if not page.evaluate(IN_RESULTS):
        nxt = tab(page)
        assert page.evaluate(IN_RESULTS), (
            f"after Enter on the skip link, the next Tab went to {nxt and nxt['name']}, "
            "outside #results"
        )


def test_query_and_facet_with_keyboard_only(page):
    page.goto("/")
    total = result_count(page)
    tab_until(page, "input#q")
    page.keyboard.type("heart failure")
    page.keyboard.press("Enter")
    wait_for_param(page, "q", "heart failure")
    found = result_count(page)
    assert 0 < found < total, f"keyboard search for heart failure: {found} results of {total}"

    tab_until(page, "fieldset.facet input[type=checkbox]")
    name, value, checked = page.evaluate(
        "[document.activeElement.name, document.activeElement.value, document.activeElement.checked]"
    )
    assert not checked
    page.keyboard.press("Space")
    wait_for_param(page, name, value)
    assert query(page).get("q") == ["heart failure"], "the facet dropped the query"
    assert facet_box(page, name, value).is_checked(), f"{name}={value} is not checked after Space"
    assert not page.errors, f"uncaught script errors: {page.errors}"
