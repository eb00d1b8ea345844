"""Reading the search page the way docs/ui-contract.md describes it, and small waiting helpers.

Every selector here comes from the contract; a helper that cannot find one fails with a message
naming the contract element, so that a red test says which side has to change.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:  # imported lazily: without playwright the tests skip instead of erroring
    from playwright.sync_api import Locator, Page

T = TypeVar("T")

CARDS = "ol#results > li > article.card"
CARD_LINKS = f"{CARDS} h2 > a"

# {facet name: {value: {"count": int | None, "checked": bool}}} for every fieldset.facet:
# the values on the page (the first ones and every selected one; the rest are behind
# a.facet-all).
_FACETS_JS = """
() => {
  const out = {};
  for (const fs of document.querySelectorAll('fieldset.facet[data-facet]')) {
    const values = {};
    for (const input of fs.querySelectorAll('input[type=checkbox]')) {
      const label = input.labels && input.labels[0];
      const count = label ? label.querySelector('span.count') : null;
      const digits = count ? count.textContent.replace(/[^0-9]/g, '') : '';
      values[input.value] = {count: digits ? parseInt(digits, 10) : null, checked: input.checked};
    }
    out[fs.dataset.facet] = values;
  }
  return out;
}
"""


def query(page: Page) -> dict[str, list[str]]:
    """The current URL's query string, parsed (blank values kept)."""
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def result_count(page: Page) -> int:
    """The number `p#result-count` states: "123 activities", "1 activity", "No activities match"."""
    locator = page.locator("p#result-count")
    assert locator.count() == 1, (
        f"no p#result-count on {page.url} (docs/ui-contract.md, search page)"
    )
    text = locator.inner_text().strip()
    if re.match(r"(?i)no activit", text):
        return 0
    match = re.search(r"(\d[\d,]*)\s+activit", text)
    assert match, f"p#result-count reads {text!r}: expected '123 activities' / '1 activity'"
    return int(match.group(1).replace(",", ""))


def facets(page: Page) -> dict[str, dict[str, dict[str, Any]]]:
    return page.evaluate(_FACETS_JS)


def facet_box(page: Page, name: str, value: str) -> Locator:
    box = page.locator(f'fieldset.facet[data-facet="{name}"] input[type=checkbox][value="{value}"]')
    assert box.count() == 1, (
        f'expected one fieldset.facet[data-facet="{name}"] input[type=checkbox][value="{value}"] '
        f"on {page.url}, found {box.count()}"
    )
    return box


def card_ids(page: Page) -> list[int]:
    """Activity ids of the result cards, in page order, from their `h2 > a` links."""
    hrefs = page.locator(CARD_LINKS).evaluate_all("links => links.map(a => a.href)")
    ids = []
    for href in hrefs:
        match = re.search(r"/activities/(\d+)(?:[?#]|$)", href)
        assert match, f"card link {href!r} does not point to /activities/<id>"
        ids.append(int(match.group(1)))
    return ids


def poll(page: Page, check: Callable[[], T], timeout: float = 7.0, interval: float = 0.1) -> T:
    """Call `check` until it returns something truthy (returned) or `timeout` seconds pass (the
    last falsy value is returned, for the caller's assertion to report).

    Waits with page.wait_for_timeout, not time.sleep: the sync API only takes in the browser's
    events (navigations, page.url) while a Playwright call runs."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(interval * 1000)


def wait_for_param(page: Page, name: str, value: str | None, timeout: float = 7.0) -> None:
    """Wait until the URL has `name=value` (value None: until `name` is gone), then for load."""

    def ok(url: str) -> bool:
        values = parse_qs(urlsplit(url).query, keep_blank_values=True).get(name, [])
        return value in values if value is not None else not values

    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_url(ok, timeout=timeout * 1000)
    except PlaywrightTimeoutError:
        want = f"{name}={value}" if value is not None else f"no {name}="
        raise AssertionError(
            f"URL did not reach {want} within {timeout}s; it is {page.url}"
        ) from None
    page.wait_for_load_state("load")


def wait_for_cards(page: Page, minimum: int = 1) -> list[int]:
    ids = poll(page, lambda: len(card_ids(page)) >= minimum and card_ids(page))
    assert ids, f"no result cards ({CARDS}) on {page.url}"
    return ids


# Focus indicator of the focused element: :focus-visible must match and draw something.
FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = !!s.boxShadow && s.boxShadow !== 'none';
  let name = el.tagName.toLowerCase();
  if (el.id) name += '#' + el.id;
  if (el.getAttribute('class')) name += '.' + el.getAttribute('class').trim().split(/\\s+/).join('.');
  if (el.name) name += `[name=${el.name}]`;
  // Date and time inputs: Tab also stops on their built-in segments and calendar button,
  // where Chromium draws its own ring and the input itself no longer matches :focus-visible.
  const builtIn = ['date', 'time', 'datetime-local', 'month', 'week'].includes(el.type)
    && !el.matches(':focus-visible');
  return {name, builtIn, focusVisible: el.matches(':focus-visible'), drawn: outline || shadow,
          outline: `${s.outlineStyle} ${s.outlineWidth}`, boxShadow: s.boxShadow};
}
"""


def tab(page: Page) -> dict[str, Any] | None:
    """Press Tab; describe the newly focused element and its focus indicator."""
    page.keyboard.press("Tab")
    return page.evaluate(FOCUS_JS)


def assert_focus_visible(state: dict[str, Any] | None) -> None:
    assert state is not None, "Tab left focus on <body>"
    if state["builtIn"]:
        return
    assert state["focusVisible"] and state["drawn"], (
        f"focus is not visible on {state['name']}: :focus-visible={state['focusVisible']}, "
        f"outline={state['outline']!r}, box-shadow={state['boxShadow']!r}"
    )


def tab_until(page: Page, selector: str, limit: int = 150) -> list[dict[str, Any]]:
    """Tab until the focused element matches `selector`; every stop must show its focus."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        state = tab(page)
        assert_focus_visible(state)
        assert state is not None
        seen.append(state)
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return seen
    names = [s["name"] for s in seen[:25]]
    raise AssertionError(f"{limit} Tab presses never reached {selector}; focus went {names} ...")
