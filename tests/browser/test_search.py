"""The search page (`/`) in a browser: facets, chips, pagination, sort, no-JS, phone width."""

from __future__ import annotations

from tests.browser.helpers import (
    CARDS,
    card_ids,
    facet_box,
    facets,
    poll,
    query,
    result_count,
    wait_for_cards,
    wait_for_param,
)

PHONE = {"width": 375, "height": 812}


def _counts(all_facets, leave_out):  # type: ignore[no-untyped-def]
    return {
        name: {value: v["count"] for value, v in values.items()}
        for name, values in all_facets.items()
        if name != leave_out
    }


def _cards_without_badge(page, board: str) -> int:  # type: ignore[no-untyped-def]
    return (
        page.locator(CARDS).count()
        - page.locator(f'{CARDS}:has(.badge[data-board="{board}"])').count()
    )


def test_search_page_shows_results(page, site, screenshot):
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.goto("/")
    assert page.locator("form#search input#q[name=q]").count() == 1, "form#search input#q"
    assert page.locator("button#search-submit").count() == 1, "button#search-submit"
    total = result_count(page)
    assert 0 < total <= site.total_listed, f"{total} results of {site.total_listed} listed"
    ids = wait_for_cards(page)
    api = page.request.get(f"{site.app_url}/api/v1/search")
    assert api.ok, f"GET /api/v1/search -> {api.status}"
    body = api.json()
    assert body["total"] == total, f"page says {total} results, the API {body['total']}"
    assert ids == [hit["id"] for hit in body["hits"]], "page and API disagree on the first page"
    assert page.locator(f"{CARDS} .badge[data-board]").count() > 0, "no .badge[data-board] on cards"
    screenshot(page, "search-desktop", full_page=False)
    assert not page.errors, f"uncaught script errors: {page.errors}"


def test_board_facet_narrows_results_and_facet_counts(page):
    page.goto("/")
    total = result_count(page)
    before = facets(page)
    assert "board" in before, f"no fieldset.facet[data-facet=board]; facets: {sorted(before)}"
    abim = before["board"].get("ABIM")
    assert abim, f"no ABIM in the board facet: {sorted(before['board'])}"
    assert abim["count"], "the ABIM label has no span.count"
    assert 0 < abim["count"] < total and not abim["checked"]
    assert len(before) > 1, "only the board facet is shown"

    facet_box(page, "board", "ABIM").click()  # with JS, a change submits the form
    wait_for_param(page, "board", "ABIM")

    narrowed = poll(page, lambda: result_count(page) == abim["count"]) or result_count(page)
    assert narrowed is True, f"#result-count says {narrowed}, the ABIM facet said {abim['count']}"
    changed = poll(page, lambda: _counts(facets(page), "board") != _counts(before, "board"))
    assert changed, "no other facet's counts changed after selecting board=ABIM"
    assert facet_box(page, "board", "ABIM").is_checked(), "the ABIM box is not checked any more"
    assert _cards_without_badge(page, "ABIM") == 0, "a board=ABIM result has no ABIM badge"
    assert not page.errors, f"uncaught script errors: {page.errors}"


def test_chip_removes_its_filter(page):
    page.goto("/")
    total = result_count(page)
    page.goto("/?board=ABIM")
    filtered = result_count(page)
    assert 0 < filtered < total
    chip = page.locator("ul.chips a.chip").filter(has_text="ABIM")
    assert chip.count() == 1, f"expected one ul.chips a.chip for ABIM, found {chip.count()}"

    chip.click()
    wait_for_param(page, "board", None)
    restored = poll(page, lambda: result_count(page) == total) or result_count(page)
    assert restored is True, f"after removing the chip: {restored} results, not {total}"
    assert page.locator("ul.chips a.chip").count() == 0, "a chip is left after removing the filter"
    assert not facet_box(page, "board", "ABIM").is_checked()


def test_clear_chip_removes_every_filter(page):
    page.goto("/")
    total = result_count(page)
    page.goto("/?board=ABIM&delivery=online")
    assert page.locator("ul.chips a.chip").count() == 2, "one a.chip per selected value"
    clear = page.locator("ul.chips a.chip-clear, a.chip-clear")
    assert clear.count() >= 1, "no a.chip-clear"
    clear.first.click()
    wait_for_param(page, "board", None)
    assert "delivery" not in query(page)
    assert poll(page, lambda: result_count(page) == total), (
        f"{result_count(page)} results, not {total}"
    )


def test_pagination_next_and_prev(page):
    page.goto("/")
    first = wait_for_cards(page)
    assert result_count(page) > len(first), "fewer than two pages of demo results"
    nxt = page.locator("nav.pagination a[rel=next]")
    assert nxt.count() >= 1, "no nav.pagination a[rel=next] on page 1"
    nxt.first.click()
    wait_for_param(page, "page", "2")
    second = wait_for_cards(page)
    assert not set(second) & set(first), "page 2 repeats results of page 1"
    current = page.locator("nav.pagination span.current")
    assert current.count() >= 1 and "2" in current.first.inner_text(), "span.current is not 2"

    prev = page.locator("nav.pagination a[rel=prev]")
    assert prev.count() >= 1, "no nav.pagination a[rel=prev] on page 2"
    prev.first.click()
    back = poll(page, lambda: card_ids(page) == first and card_ids(page))
    assert back == first, f"a[rel=prev] went to {page.url} with other results"


def test_sort_by_most_credits(page, site):
    page.goto("/")
    total = result_count(page)
    default = card_ids(page)
    sort = page.locator("select#sort[name=sort]")
    assert sort.count() == 1, "no select#sort[name=sort]"
    sort.select_option("credits")
    if not poll(page, lambda: query(page).get("sort") == ["credits"], timeout=2.5):
        page.locator("button#search-submit").click()  # no auto-submit: submit the form
    wait_for_param(page, "sort", "credits")
    ids = wait_for_cards(page, minimum=2)
    credits = []
    for activity_id in ids:
        detail = page.request.get(f"{site.app_url}/api/v1/activities/{activity_id}")
        assert detail.ok, f"GET /api/v1/activities/{activity_id} -> {detail.status}"
        credits.append(detail.json()["cme_credits"])
    assert credits == sorted(credits, reverse=True), f"sort=credits gave credits {credits}"
    assert ids != default, "sorting by credits left the order as it was"
    assert result_count(page) == total, "sorting changed the number of results"
    assert page.locator("select#sort").input_value() == "credits"


def test_form_works_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    total = result_count(page)
    page.locator("input#q").fill("heart failure")
    facet_box(page, "board", "ABIM").check()
    apply = page.locator("button#apply-filters")
    assert apply.count() == 1 and apply.is_visible(), "button#apply-filters missing or hidden"
    apply.click()
    wait_for_param(page, "q", "heart failure")
    assert query(page).get("board") == ["ABIM"], f"board not submitted: {page.url}"
    found = result_count(page)
    assert 0 < found < total, f"heart failure + ABIM: {found} results of {total}"
    assert page.locator("input#q").input_value() == "heart failure", "#q lost the query"
    assert facet_box(page, "board", "ABIM").is_checked()
    assert page.locator(CARDS).count() > 0
    assert _cards_without_badge(page, "ABIM") == 0, "a board=ABIM result has no ABIM badge"


_OPEN_DISCLOSURES_JS = """
(box) => {
  // Open every closed <details> around the facet, and click collapsed toggles.
  let opened = 0;
  for (let el = box.parentElement; el; el = el.parentElement) {
    if (el.tagName === 'DETAILS' && !el.open) { el.querySelector(':scope > summary').click(); opened++; }
  }
  return opened;
}
"""


def test_phone_width_has_no_horizontal_scroll_and_facets_work(new_context, screenshot):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    for url in ("/", "/?board=ABIM&delivery=online"):
        page.goto(url)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"{url} scrolls sideways at 375 px: scrollWidth {width}"
    page.goto("/")
    screenshot(page, "search-phone", full_page=False)

    box = facet_box(page, "board", "ABIM")
    if not box.is_visible():
        box.evaluate(_OPEN_DISCLOSURES_JS)
    if not box.is_visible():  # a "Filters" button instead of <details>
        for toggle in page.locator("button[aria-expanded=false]").all():
            if toggle.is_visible():
                toggle.click()
            if box.is_visible():
                break
    assert box.is_visible(), "the board facet cannot be reached at 375 px"
    box.scroll_into_view_if_needed()
    bounds = box.bounding_box()
    assert bounds and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= PHONE["width"], (
        f"the ABIM checkbox is off screen: {bounds}"
    )
    box.click()
    wait_for_param(page, "board", "ABIM")
    assert facet_box(page, "board", "ABIM").is_checked()


def test_my_board_orders_badges_and_offers_a_filter_but_never_filters_by_itself(page):
    page.goto("/")
    total = result_count(page)
    counts = facets(page)["board"]
    page.locator("form#my-board-form select#my-board[name=board]").select_option("ABIM")
    submit = page.locator("form#my-board-form [type=submit]")
    if query(page) == {} and submit.count():  # not submitted on change: press its button
        with page.expect_navigation():
            submit.first.click()
    page.wait_for_load_state("load")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("my_board") == "ABIM", f"my_board cookie is {cookies.get('my_board')!r}"

    # The URL alone decides the results: a shared link shows everyone the same search.
    page.goto("/")
    assert result_count(page) == total, "the my_board cookie changed the results of /"
    badges = page.locator(CARDS).evaluate_all(
        "cards => cards.map(c => Array.from(c.querySelectorAll('.badge[data-board]')).map(b => b.dataset.board))"
    )
    with_abim = [b for b in badges if "ABIM" in b]
    assert with_abim and all(b[0] == "ABIM" for b in with_abim), f"badges per card: {badges}"

    # One click narrows to my board.
    with page.expect_navigation():
        page.locator("a#only-my-board").click()
    assert query(page).get("board") == ["ABIM"]
    assert result_count(page) == counts["ABIM"]["count"]
    assert facet_box(page, "board", "ABIM").is_checked()


def test_delivery_says_online_only_and_offers_everything_online(page, site):
    page.goto("/")
    total = result_count(page)
    delivery = facets(page).get("delivery")
    assert delivery, "no fieldset.facet[data-facet=delivery]"
    assert list(delivery) == ["online", "both", "in person"], f"delivery rows: {list(delivery)}"
    counts = {value: v["count"] for value, v in delivery.items()}
    assert sum(counts.values()) == total, f"delivery counts {counts} do not add up to {total}"
    labels = page.locator('fieldset.facet[data-facet="delivery"] .facet-label').all_inner_texts()
    assert labels == ["Online only", "In person and online", "In person only"], labels

    facet_box(page, "delivery", "online").click()
    wait_for_param(page, "delivery", "online")
    assert poll(page, lambda: result_count(page) == counts["online"]), (
        f"online only: {result_count(page)} results, the facet said {counts['online']}"
    )
    assert not facet_box(page, "delivery", "both").is_checked()

    page.locator("a#online-delivery").click()
    wait_for_param(page, "delivery", "both")
    wanted = counts["online"] + counts["both"]
    assert poll(page, lambda: result_count(page) == wanted), (
        f"everything online: {result_count(page)} results, not {wanted}"
    )
    assert facet_box(page, "delivery", "online").is_checked()
    assert facet_box(page, "delivery", "both").is_checked()
    assert page.locator("a#online-delivery").count() == 0, "the link offers what is chosen"
    assert not page.errors, f"uncaught script errors: {page.errors}"


def _shown_values(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator(f'fieldset.facet[data-facet="{name}"] input[type=checkbox]').evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )


def test_show_more_fills_the_facet_in_place_and_focuses_the_first_new_value(page, site):
    page.goto("/")
    api = page.request.get(f"{site.app_url}/api/v1/facets").json()
    providers = [v["value"] for f in api["facets"] if f["name"] == "provider" for v in f["values"]]
    assert len(providers) > 10, "the demo has too few providers for a long facet"
    assert _shown_values(page, "provider") == providers[:10]
    link = page.locator('fieldset.facet[data-facet="provider"] a.facet-all')
    assert link.inner_text().startswith(f"Show {len(providers) - 10} more")
    before = page.url
    link.focus()
    page.keyboard.press("Enter")
    assert poll(page, lambda: len(_shown_values(page, "provider")) == len(providers)), (
        "the provider facet was not filled in"
    )
    assert page.url == before, "the link navigated instead of filling the facet in place"
    focused = page.evaluate("document.activeElement && document.activeElement.value")
    assert focused == providers[10], f"focus is on {focused!r}, not the first new value"
    # A value from the rest works like any other: ticking it searches, and the facet stays whole.
    facet_box(page, "provider", providers[-1]).check()
    wait_for_param(page, "provider", providers[-1])
    assert query(page).get("show") == ["provider"]
    assert facet_box(page, "provider", providers[-1]).is_checked()
    assert not page.errors, f"uncaught script errors: {page.errors}"


def test_show_more_without_javascript_opens_the_whole_facet(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    shown = len(_shown_values(page, "provider"))
    link = page.locator('fieldset.facet[data-facet="provider"] a.facet-all')
    with page.expect_navigation():
        link.click()
    assert query(page).get("show") == ["provider"]
    assert len(_shown_values(page, "provider")) > shown
    assert page.locator('fieldset.facet[data-facet="provider"] a.facet-all').count() == 0
