"""Automated WCAG 2.1 AA basics on the rendered pages, measured in the browser.

- 1.1.1: images have alt text; 1.3.1 / 4.1.2: every form control has an accessible name;
- 2.4.2: a title; 3.1.1: html[lang]; one h1 per page; 4.1.1: no duplicate ids;
- 1.4.3: text contrast >= 4.5:1 (3:1 for large text: 24 px, or 18.66 px bold) for every visible
  text (body text, links, chips, badges, counts, labels), from the computed colours, against the
  background actually behind it (semi-transparent layers composited, up to the white canvas).
"""

from __future__ import annotations

import pytest

AUDIT_JS = r"""
() => {
  const problems = [];
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += '#' + el.id;
    const cls = (el.getAttribute('class') || '').trim();
    if (cls) d += '.' + cls.split(/\s+/).join('.');
    return d;
  };
  const html = document.documentElement;
  if (!(html.getAttribute('lang') || '').trim()) problems.push('html has no lang');
  if (!document.title.trim()) problems.push('the page has no <title>');
  const h1s = document.querySelectorAll('h1').length;
  if (h1s !== 1) problems.push(`${h1s} h1 elements, not 1`);
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) ids[el.id] = (ids[el.id] || 0) + 1;
  for (const [id, n] of Object.entries(ids)) if (n > 1) problems.push(`id "${id}" used ${n} times`);

  for (const img of document.querySelectorAll('img:not([alt]), input[type=image]:not([alt])'))
    problems.push(`${describe(img)} has no alt`);
  for (const el of document.querySelectorAll('[role=img]'))
    if (!el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      problems.push(`${describe(el)} (role=img) has no aria-label`);

  const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : '');
  const nameOf = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) { const t = by.split(/\s+/).map(id => text(document.getElementById(id))).join(' ').trim(); if (t) return t; }
    const aria = (el.getAttribute('aria-label') || '').trim();
    if (aria) return aria;
    if (el.labels) { const t = [...el.labels].map(text).join(' ').trim(); if (t) return t; }
    if (el.tagName === 'BUTTON') {
      const t = text(el) || [...el.querySelectorAll('img[alt]')].map(i => i.alt).join(' ').trim();
      if (t) return t;
    }
    if (el.tagName === 'INPUT' && ['submit', 'reset', 'button'].includes(el.type))
      return (el.value || '').trim() || (el.type !== 'button' ? el.type : '');
    if (el.tagName === 'INPUT' && el.type === 'image') return (el.alt || '').trim();
    return (el.getAttribute('title') || '').trim();
  };
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
    if (!nameOf(el)) problems.push(`form control ${describe(el)}${el.name ? `[name=${el.name}]` : ''} has no accessible name`);

  // Contrast. Colours go through a canvas, so any CSS colour syntax ends up as sRGB bytes.
  const ctx = Object.assign(document.createElement('canvas'), {width: 1, height: 1})
    .getContext('2d', {willReadFrequently: true});
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return {r, g, b, a: a / 255};
  };
  const over = (top, bottom) => {
    const a = top.a + bottom.a * (1 - top.a);
    if (a === 0) return {r: 0, g: 0, b: 0, a: 0};
    const mix = (t, b) => (t * top.a + b * bottom.a * (1 - top.a)) / a;
    return {r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b), a};
  };
  const luminance = ({r, g, b}) => {
    const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const ratio = (f, b) => {
    const [l1, l2] = [luminance(f), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const background = (el) => {  // null when an image or gradient is behind the text
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const s = getComputedStyle(node);
      if (s.backgroundImage !== 'none') return null;
      const c = rgba(s.backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
    }
    let bg = {r: 255, g: 255, b: 255, a: 1};
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const hex = ({r, g, b}) => '#' + [r, g, b].map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
  const checked = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let measured = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || checked.has(el)) continue;
    checked.add(el);
    if (el.closest('script, style, noscript, template, option, [hidden], [aria-hidden=true]')) continue;
    if (el.closest('button:disabled, input:disabled, select:disabled, fieldset:disabled')) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width <= 1 || rect.height <= 1 || el.getClientRects().length === 0) continue;  // screen-reader-only text
    const s = getComputedStyle(el);
    if (s.visibility !== 'visible' || parseFloat(s.opacity) === 0) continue;
    const bg = background(el);
    if (!bg) continue;
    const fg = over(rgba(s.color), bg);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    const r = ratio(fg, bg);
    measured++;
    if (r < need)
      problems.push(`contrast ${r.toFixed(2)}:1 < ${need}:1 for ${describe(el)} "${node.textContent.trim().slice(0, 40)}" (${hex(fg)} on ${hex(bg)}, ${size}px)`);
  }
  if (measured === 0) problems.push('no visible text was measured');
  return problems;
}
"""

SELECTION = "/?board=ABIM&delivery=online"  # facets, chips, badges, results and pagination


@pytest.mark.parametrize(
    "where",
    ["search", "search-with-chips", "detail", "state-and-near", "detail-requirements"],
)
def test_wcag_basics(page, site, where):
    state = site.mandate_state
    url = {
        "search": "/",
        "search-with-chips": SELECTION,
        "detail": f"/activities/{site.detail_id}",
        # The requirements facet, the requirement lines and distances on cards, the near chip.
        "state-and-near": f"/?my_state={state}&near=Omaha%2C+NE&within=75",
        # A match, and (for another activity) the line saying an approval is missing.
        "detail-requirements": f"/activities/{site.unapproved_id}?my_state={state}",
    }[where]
    response = page.goto(url)
    assert response is not None and response.ok, f"{url} -> {response and response.status}"
    if where == "search-with-chips":
        assert page.locator("ul.chips a.chip").count() >= 1, "no a.chip to measure"
        assert page.locator("ol#results .badge").count() >= 1, "no .badge to measure"
    if where == "state-and-near":
        assert page.locator("ol#results li.requirement").count() >= 1, "no requirement line"
        assert page.locator("ol#results .card-distance").count() >= 1, "no distance to measure"
    if where == "detail-requirements":
        assert page.locator("section#requirements p.not-approved").count() == 1
        assert page.locator("li.requirement").count() >= 1, "no requirement line to measure"
    problems = page.evaluate(AUDIT_JS)
    assert not problems, f"{url}: {len(problems)} problems:\n" + "\n".join(problems[:40])
