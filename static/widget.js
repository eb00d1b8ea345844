/*! CME Directory search widget. Plain JavaScript, no dependencies; see docs/widget.md.
 *
 * <script src="https://HOST/static/widget.js" data-board="ABIM" data-page-size="5" async></script>
 * inserts a <cme-directory-widget> right after the script tag. Everything it shows lives in
 * the element's (open) shadow root, styled only by its own <style>, and is built with
 * createElement/textContent: listings are providers' text and are never parsed as HTML.
 */
(function () {
  "use strict";

  var TAG = "cme-directory-widget";
  var DEFAULT_PAGE_SIZE = 5;
  var MAX_PAGE_SIZE = 20;
  var TIMEOUT_MS = 15000;
  // data-* attribute -> search API parameter (docs/ui-contract.md). Those marked true may
  // hold several values separated by commas (their values never contain one).
  var FILTERS = {
    "board": true, "practice-area": false, "credit-type": false, "format": false,
    "delivery": true, "state": true, "country": true, "fee": false, "registration": false,
    "mips": false, "rems": false, "provider": true, "when": false, "sort": false,
    "date-from": false, "date-to": false, "credits-min": false, "credits-max": false,
    "claim-within": false, "mandate": true, "topic": true, "my-state": false, "near": false,
    "within": false, "unit": false, "include-online": false
  };
  // Named theme colours allowed besides #rgb / #rrggbb: all dark enough for white text.
  // (directory/web/blueprints/embed.py keeps the same list; tests/test_embed.py ties them.)
  var NAMED_COLOURS = ("black navy darkblue blue royalblue teal darkgreen green darkslategray " +
    "purple indigo rebeccapurple darkslateblue maroon darkred firebrick crimson brown dimgray").split(" ");

  var CSS =
    // The host page's rules on the element itself beat :host unless !important, and inherited
    // properties cross into the shadow tree: reset both, then style from scratch.
    ":host{all:initial;display:block!important}" +
    ":host([hidden]),[hidden]{display:none!important}" +
    "*{box-sizing:border-box}" +
    ".w{all:initial;--accent:#0b5cab;--on-accent:#fff;display:block;box-sizing:border-box;max-width:100%;padding:12px;" +
    "border:1px solid #d5dbe3;border-radius:8px;background:#fff;color:#1b2430;text-align:left;" +
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}" +
    "label{display:block;font-weight:600;margin:0 0 4px}" +
    ".row{display:flex;gap:6px}" +
    "input{flex:1;min-width:0;margin:0;font:inherit;color:inherit;background:#fff;" +
    "padding:6px 8px;border:1px solid #8a94a3;border-radius:4px}" +
    "button{margin:0;font:inherit;padding:6px 12px;border:0;border-radius:4px;" +
    "background:var(--accent);color:var(--on-accent);cursor:pointer}" +
    "button:disabled{opacity:.4;cursor:default}" +
    "a{color:var(--accent)}" +
    ":focus-visible{outline:2px solid var(--accent);outline-offset:2px}" +
    ".count{margin:10px 0 4px;color:#4a5565}" +
    ".corrected{margin:4px 0;font-style:italic}" +
    ".error{margin:8px 0;padding:8px 10px;border-radius:4px;background:#fdecea;color:#8a1c13}" +
    "ol{list-style:none;margin:0;padding:0}" +
    "li{padding:8px 0;border-top:1px solid #e3e7ed}" +
    "li>a{font-weight:600;text-decoration:none}li>a:hover{text-decoration:underline}" +
    ".meta{color:#4a5565;font-size:13px}" +
    ".badge{display:inline-block;margin:3px 4px 0 0;padding:0 7px;border-radius:10px;" +
    "background:#eef2f7;color:#1b2430;font-size:12px}" +
    ".pager{display:flex;gap:8px;align-items:center;margin-top:8px}" +
    ".pager span{color:#4a5565;font-size:13px}" +
    ".more{margin:10px 0 0;padding-top:8px;border-top:1px solid #e3e7ed;font-size:13px}" +
    ".req{margin:4px 0 0;padding:0 0 0 8px;border-left:3px solid #2f7d4a;font-size:13px}" +
    ".state{margin:0 0 4px;color:#4a5565;font-size:13px}" +
    "[aria-busy=true]{opacity:.6}";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function plural(n, one, many) {
    return n.toLocaleString("en-US") + " " + (n === 1 ? one : many);
  }

  function num(n) {
    return typeof n === "number" && isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: 2 }) : "";
  }

  // A theme colour if it is #rgb, #rrggbb or an allowed name; anything else is ignored.
  function themeColour(value) {
    value = (value || "").trim().toLowerCase();
    if (/^#([0-9a-f]{3}|[0-9a-f]{6})$/.test(value)) return value;
    return NAMED_COLOURS.indexOf(value) >= 0 ? value : null;
  }

  // White or near-black text, whichever reads better on the theme colour.
  function textOn(colour) {
    if (colour.charAt(0) !== "#") return "#fff";
    var hex = colour.slice(1);
    if (hex.length === 3) hex = hex.replace(/./g, "$&$&");
    var lum = [0, 2, 4].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.056 ? "#fff" : "#111";
  }

  function httpOrigin(value) {
    try {
      var url = new URL(value, document.baseURI);
      return /^https?:$/.test(url.protocol) ? url.origin : null;
    } catch (e) {
      return null;
    }
  }

  // A link from the API, made absolute on our origin; only http(s), never javascript: etc.
  function safeUrl(value, origin, fallback) {
    try {
      var url = new URL(value, origin);
      if (/^https?:$/.test(url.protocol)) return url.href;
    } catch (e) { /* fall through */ }
    return fallback;
  }

  function readConfig(host) {
    var presets = [];
    Object.keys(FILTERS).forEach(function (name) {
      var raw = host.getAttribute("data-" + name);
      if (raw == null || !raw.trim()) return;
      var values = FILTERS[name] ? raw.split(",") : [raw];
      values.forEach(function (v) {
        v = v.trim();
        if (v) presets.push([name.replace(/-/g, "_"), v]);
      });
    });
    var size = parseInt(host.getAttribute("data-page-size"), 10);
    size = isFinite(size) && size > 0 ? Math.min(size, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
    return {
      origin: httpOrigin(host.getAttribute("data-origin") || ""),
      presets: presets,
      pageSize: size,
      colour: themeColour(host.getAttribute("data-color"))
    };
  }

  class Widget extends HTMLElement {}

  Widget.prototype.connectedCallback = function () {
    if (this._ui) return; // moved in the page: keep its state
    var config = readConfig(this);
    var root = this.shadowRoot || this.attachShadow({ mode: "open" });
    var style = el("style");
    style.textContent = CSS;
    var wrap = el("div", "w");
    wrap.setAttribute("lang", "en");
    if (config.colour) {
      wrap.style.setProperty("--accent", config.colour);
      wrap.style.setProperty("--on-accent", textOn(config.colour));
    }

    var form = el("form");
    form.setAttribute("role", "search");
    var label = el("label", null, "Search CME activities");
    label.setAttribute("for", "q");
    var input = el("input");
    input.type = "search";
    input.id = "q";
    input.name = "q";
    input.maxLength = 200;
    input.autocomplete = "off";
    var submit = el("button", null, "Search");
    submit.type = "submit";
    var row = el("div", "row");
    row.appendChild(input);
    row.appendChild(submit);
    form.appendChild(label);
    form.appendChild(row);

    var count = el("p", "count");
    count.setAttribute("aria-live", "polite");
    var stateNote = el("p", "state");
    stateNote.hidden = true;
    var corrected = el("p", "corrected");
    corrected.hidden = true;
    var error = el("p", "error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    var results = el("ol", "results");

    var pager = el("nav", "pager");
    pager.setAttribute("aria-label", "Result pages");
    pager.hidden = true;
    var prev = el("button", "prev", "Previous");
    prev.type = "button";
    var pageInfo = el("span");
    var next = el("button", "next", "Next");
    next.type = "button";
    pager.appendChild(prev);
    pager.appendChild(pageInfo);
    pager.appendChild(next);

    var moreP = el("p", "more");
    var more = el("a");
    more.target = "_blank";
    more.rel = "noopener";
    moreP.appendChild(more);

    [form, count, stateNote, corrected, error, results, pager, moreP].forEach(function (n) {
      wrap.appendChild(n);
    });
    root.appendChild(style);
    root.appendChild(wrap);

    this._ui = {
      input: input, count: count, stateNote: stateNote, corrected: corrected, error: error,
      results: results,
      pager: pager, prev: prev, next: next, pageInfo: pageInfo, more: more, root: root
    };
    this._config = config;
    this._page = 1;
    this._pages = 1;

    if (!config.origin) {
      this._fail("This widget is missing its address (data-origin).");
      return;
    }
    var host = new URL(config.origin).host;
    more.textContent = "More on " + host;
    more.href = config.origin + "/?" + this._params(1, "").toString();

    var self = this;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self._load(1);
    });
    prev.addEventListener("click", function () {
      if (self._page > 1) self._load(self._page - 1);
    });
    next.addEventListener("click", function () {
      if (self._page < self._pages) self._load(self._page + 1);
    });
    this._load(1);
  };

  Widget.prototype.disconnectedCallback = function () {
    if (this._abort) this._abort.abort();
  };

  Widget.prototype._params = function (page, text) {
    var params = new URLSearchParams();
    this._config.presets.forEach(function (pair) {
      params.append(pair[0], pair[1]);
    });
    if (text) params.set("q", text);
    if (page > 1) params.set("page", String(page));
    return params;
  };

  Widget.prototype._fail = function (message) {
    var ui = this._ui;
    ui.error.textContent = message;
    ui.error.hidden = false;
    ui.count.textContent = "";
    ui.stateNote.hidden = true;
    ui.corrected.hidden = true;
    ui.results.textContent = "";
    ui.results.removeAttribute("aria-busy");
    ui.pager.hidden = true;
  };

  Widget.prototype._load = function (page) {
    var self = this;
    var ui = this._ui;
    var config = this._config;
    if (this._abort) this._abort.abort();
    var controller = new AbortController();
    var timedOut = false;
    var timer = setTimeout(function () {
      timedOut = true;
      controller.abort();
    }, TIMEOUT_MS);
    this._abort = controller;

    var params = this._params(page, ui.input.value.trim());
    params.set("per_page", String(config.pageSize));
    ui.results.setAttribute("aria-busy", "true");

    var status = 0;
    fetch(config.origin + "/api/v1/search?" + params.toString(), {
      mode: "cors",
      credentials: "omit",
      headers: { Accept: "application/json" },
      signal: controller.signal
    })
      .then(function (response) {
        status = response.status;
        return response.json().catch(function () {
          return null;
        });
      })
      .then(function (body) {
        clearTimeout(timer);
        if (controller !== self._abort) return; // a newer search replaced this one
        if (status === 200 && body && Array.isArray(body.hits)) {
          self._render(body);
        } else if (status === 400) {
          var why = body && body.error && body.error.message;
          self._fail("This search could not be run" + (why ? ": " + why : "."));
        } else if (status === 503) {
          self._fail("Search is temporarily unavailable. Please try again in a minute.");
        } else {
          self._fail("Activities could not be loaded just now. Please try again later.");
        }
      })
      .catch(function () {
        clearTimeout(timer);
        if (controller !== self._abort) return;
        if (controller.signal.aborted && !timedOut) return;
        self._fail("Could not reach " + new URL(config.origin).host + ". Please try again later.");
      });
  };

  Widget.prototype._render = function (body) {
    var ui = this._ui;
    var origin = this._config.origin;
    var total = Number(body.total) || 0;
    this._page = Number(body.page) || 1;
    this._pages = Math.max(1, Number(body.pages) || 1);

    ui.error.hidden = true;
    ui.count.textContent = (total === 0 ? "No activities match" : plural(total, "activity", "activities")) +
      (body.near && body.near.text ? " " + body.near.text : "");
    // A match is the provider's claim about its topics: say whose rules, and to check them.
    var state = body.my_state && body.my_state.name;
    ui.stateNote.hidden = !state;
    ui.stateNote.textContent = state
      ? "Requirements shown for " + state + ". A topic match is not a guarantee: confirm with your board."
      : "";
    var stateCode = body.my_state && body.my_state.code;
    ui.corrected.hidden = !body.corrected_text;
    ui.corrected.textContent = body.corrected_text
      ? "Showing results for \u201c" + body.corrected_text + "\u201d"
      : "";

    var items = document.createDocumentFragment();
    body.hits.forEach(function (hit) {
      items.appendChild(renderHit(hit, origin, stateCode));
    });
    ui.results.textContent = "";
    ui.results.appendChild(items);
    ui.results.removeAttribute("aria-busy");

    ui.pager.hidden = this._pages <= 1;
    ui.prev.disabled = this._page <= 1;
    ui.next.disabled = this._page >= this._pages;
    ui.pageInfo.textContent = "Page " + num(this._page) + " of " + num(this._pages);
    // Paging to the first or last page disables the button just pressed: keep focus inside.
    var active = ui.root.activeElement;
    if (active && active.disabled) (active === ui.prev ? ui.next : ui.prev).focus();

    if (body.links && body.links.html) {
      var full = new URL(safeUrl(body.links.html, origin, ui.more.href));
      full.searchParams.delete("per_page"); // the site's own page size, not the widget's
      ui.more.href = full.href;
    }
  };

  function renderHit(hit, origin, state) {
    var li = el("li");
    var a = el("a", null, hit.title || "Untitled activity");
    var href = new URL(safeUrl(hit.url, origin, origin + "/activities/" + encodeURIComponent(hit.id)));
    // The activity's page then lists the same state's requirements.
    if (state) href.searchParams.set("my_state", state);
    a.href = href.href;
    a.target = "_blank";
    a.rel = "noopener";
    li.appendChild(a);

    var provider = hit.provider && hit.provider.name;
    if (provider) li.appendChild(el("div", "meta provider", provider));
    var whenWhere = [hit.when, hit.where].filter(Boolean).join(" \u00b7 ");
    if (whenWhere) li.appendChild(el("div", "meta when", whenWhere));
    var facts = [];
    if (typeof hit.cme_credits === "number") {
      facts.push(num(hit.cme_credits) + (hit.cme_credits === 1 ? " CME credit" : " CME credits"));
    }
    if (hit.fee) facts.push(hit.fee);
    if (facts.length) li.appendChild(el("div", "meta facts", facts.join(" \u00b7 ")));
    var distance = hit.distance;
    if (distance && typeof distance.text === "string") {
      var city = distance.places > 1 && distance.nearest_city ? " \u00b7 nearest in " + distance.nearest_city : "";
      li.appendChild(el("div", "meta distance", distance.text + city));
    }
    (Array.isArray(hit.requirements) ? hit.requirements : []).forEach(function (r) {
      if (!r || !r.label) return;
      var line = el("div", "req", "May count toward " + r.label + (r.summary ? " \u00b7 " + r.summary : "") + " (");
      line.setAttribute("data-mandate", r.id || "");
      var source = el("a", null, "source");
      source.href = safeUrl(r.source, origin, origin + "/");
      source.target = "_blank";
      source.rel = "noopener";
      line.appendChild(source);
      line.appendChild(document.createTextNode(r.checked ? ", checked " + (r.checked_text || r.checked) + ")" : ")"));
      li.appendChild(line);
    });

    var boards = Array.isArray(hit.boards) ? hit.boards : [];
    if (boards.length) {
      var badges = el("div", "boards");
      boards.forEach(function (b) {
        if (!b || !b.board) return;
        var points = typeof b.points === "number"
          ? " \u00b7 " + num(b.points) + (b.points === 1 ? " pt" : " pts")
          : "";
        var badge = el("span", "badge", b.board + points);
        badge.setAttribute("data-board", b.board);
        badges.appendChild(badge);
      });
      li.appendChild(badges);
    }
    return li;
  }

  if (!window.customElements || !window.fetch || !window.URLSearchParams) return;
  if (!customElements.get(TAG)) customElements.define(TAG, Widget);

  function ownScript(node) {
    return /\/widget\.js(?:[?#]|$)/.test(node.src || "");
  }

  function mount(script) {
    script.setAttribute("data-cme-mounted", "");
    var widget = document.createElement(TAG);
    for (var i = 0; i < script.attributes.length; i++) {
      var attr = script.attributes[i];
      if (/^data-/.test(attr.name) && attr.name !== "data-cme-mounted") {
        widget.setAttribute(attr.name, attr.value);
      }
    }
    widget.setAttribute("data-origin", httpOrigin(script.src) || "");
    var parent = script.parentNode;
    if (parent && parent !== document.head && parent !== document.documentElement) {
      parent.insertBefore(widget, script.nextSibling);
      return;
    }
    // A script in <head> has nowhere visible to go: put the widget at the top of <body>.
    var place = function () {
      document.body.insertBefore(widget, document.body.firstChild);
    };
    if (document.body) place();
    else document.addEventListener("DOMContentLoaded", place);
  }

  var current = document.currentScript;
  if (current) {
    if (!current.hasAttribute("data-cme-mounted")) mount(current);
  } else {
    // Some loaders run scripts without currentScript: mount every tag not mounted yet.
    var scripts = document.querySelectorAll('script[src*="widget.js"]');
    for (var i = 0; i < scripts.length; i++) {
      if (ownScript(scripts[i]) && !scripts[i].hasAttribute("data-cme-mounted")) mount(scripts[i]);
    }
  }
})();
