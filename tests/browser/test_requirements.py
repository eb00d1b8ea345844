"""My state and near me in a browser: a state's requirements with counts, narrowing by one, the
match on the activity's page; and a distance search on a phone."""

from __future__ import annotations

import re

from directory.registry import places
from directory.registry.reference import reference
from tests.browser.helpers import CARDS, card_ids, facets, query, result_count, wait_for_param

PHONE = {"width": 375, "height": 812}


def _distances(page) -> list[float]:  # type: ignore[no-untyped-def]
    texts = page.locator(f"{CARDS} .card-distance dd").all_inner_texts()
    out = []
    for text in texts:
        if text.startswith("under 1"):
            out.append(0.0)
            continue
        match = re.match(r"([\d.,]+) (mi|km)", text)
        assert match, f"a card's distance reads {text!r}, not '12 mi'"
        out.append(float(match.group(1).replace(",", "")))
    return out


def test_pick_a_state_narrow_by_a_requirement_and_read_the_match(page, site, screenshot):
    ref = reference()
    state, rule = site.mandate_state, ref.mandates[site.mandate_id]
    page.goto("/")
    page.locator("form#my-state-form select#my-state[name=state]").select_option(state)
    page.locator("form#my-state-form [type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))

    legend = page.locator('fieldset.facet[data-facet="mandate"] legend')
    assert legend.inner_text().strip() == (
        f"Counts toward {ref.jurisdiction_name(state)} requirements"
    )
    shown = facets(page)["mandate"]
    assert list(shown) == [m.id for m in ref.mandates_for(state)]
    api = page.request.get(f"{site.app_url}/api/v1/search?my_state={state}&per_page=1").json()
    listed = {r["id"]: r["count"] for r in api["my_state"]["requirements"]}
    assert {value: v["count"] for value, v in shown.items()} == listed
    count = shown[rule.id]["count"]
    assert count >= len(site.mandated_ids), "the approved activities built for it are not counted"
    screenshot(page, "requirements-facet")

    page.locator(f'fieldset.facet[data-facet="mandate"] input[value="{rule.id}"]').click()
    wait_for_param(page, "mandate", rule.id)
    assert result_count(page) == count
    ids = card_ids(page)
    assert site.unapproved_id not in ids, "the tag without the approval was counted"
    lines = page.locator(f'{CARDS} li.requirement[data-mandate="{rule.id}"]')
    assert lines.count() == len(ids), "a result card does not say the requirement it matches"
    assert "confirm with your board" in page.locator(CARDS).first.inner_text()

    page.locator(f"{CARDS} h2 > a").first.click()
    page.wait_for_url(re.compile(r"/activities/\d+"))
    section = page.locator("section#requirements")
    line = section.locator(f'li.requirement[data-mandate="{rule.id}"]')
    assert line.count() == 1, "the activity's page does not list the requirement it matches"
    text = line.inner_text()
    assert rule.summary in text and rule.who.rstrip(".") in text
    source = line.locator("a")
    assert source.get_attribute("href") == rule.source
    assert source.get_attribute("rel") == "noopener"
    assert line.locator("time").get_attribute("datetime") == rule.checked.isoformat()
    assert "confirm with your board" in section.inner_text()
    screenshot(page, "requirements-detail")

    page.goto(f"/activities/{site.unapproved_id}")
    unapproved = page.locator(f'section#requirements p.not-approved[data-mandate="{rule.id}"]')
    assert unapproved.count() == 1, "no line saying the state counts only approved courses"
    assert ref.approvers[rule.approver].name in unapproved.inner_text()
    assert not page.errors, f"uncaught script errors: {page.errors}"


def test_near_me_on_a_phone_shows_distances_without_scrolling_sideways(
    new_context, site, screenshot
):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.goto("/")
    page.locator("input#near").fill("Omaha, NE")
    page.locator("select#within").select_option("75")
    page.locator("input#near").press("Enter")
    wait_for_param(page, "near", "Omaha, NE")
    assert query(page).get("within") == ["75"]
    omaha = places.resolve("Omaha, NE")
    assert f"within 75 mi of {omaha.label}" in page.locator("p#result-count").inner_text()
    chip = page.locator("ul.chips a.chip").filter(has_text="Within 75 mi of")
    assert chip.count() == 1, "no chip for the distance search"
    ids = card_ids(page)
    # The activities built around Omaha are all within 75 miles of it.
    assert result_count(page) >= len(site.mandated_ids) + 1
    distances = _distances(page)
    assert len(distances) == len(ids) and all(d <= 75 for d in distances), distances

    page.locator("select#sort").select_option("distance")
    wait_for_param(page, "sort", "distance")
    nearest = _distances(page)
    assert nearest == sorted(nearest), f"sort=distance gave {nearest}"
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the near search scrolls sideways: scrollWidth {width}"
    screenshot(page, "search-near-phone", full_page=False)

    chip.click()
    wait_for_param(page, "near", None)
    assert "within" not in query(page) and "sort" not in query(page)
    assert page.locator(f"{CARDS} .card-distance").count() == 0
    assert not page.errors, f"uncaught script errors: {page.errors}"
