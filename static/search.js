// Makes the search page quicker; without it the page works as plain GET forms.
(function () {
  "use strict";
  var form = document.getElementById("search");
  if (!form) return;
  var apply = document.getElementById("apply-filters");
  if (apply) apply.classList.add("js-hidden");

  // On a phone the filters start folded, so the results are the first thing below the box.
  var toggle = form.querySelector(".filters-toggle");
  if (toggle && window.matchMedia && window.matchMedia("(max-width: 55.99rem)").matches) {
    toggle.removeAttribute("open");
  }

  var near = document.getElementById("near");
  function hasPlace() {
    return !!(near && near.value.trim());
  }

  // A filter change searches at once, from page 1.
  form.addEventListener("change", function (event) {
    var t = event.target;
    if (!t || !t.name || t.name === "q" || t.name === "near") return;
    if (t.type === "date" || t.type === "number") return; // wait for the Search button
    // A radius or "include online" means nothing without a place: wait for one.
    if ((t.name === "within" || t.name === "include_online") && !hasPlace()) return;
    var page = form.querySelector("input[name=page]");
    if (page) page.remove();
    form.requestSubmit ? form.requestSubmit() : form.submit();
  });

  // The place cleared: the radius, the online option and the distance sort go with it, so the
  // search runs everywhere rather than being refused for a radius without a place.
  form.addEventListener("submit", function () {
    if (hasPlace()) return;
    ["within", "include_online", "unit"].forEach(function (name) {
      form.querySelectorAll('[name="' + name + '"]').forEach(function (field) { field.disabled = true; });
    });
    var sort = document.getElementById("sort");
    if (sort && sort.value === "distance") sort.disabled = true;
  });
  // Back to this page from the browser's cache: the fields the submit set aside are live again.
  window.addEventListener("pageshow", function () {
    form.querySelectorAll("[disabled]").forEach(function (field) { field.disabled = false; });
  });

  // "Show N more": the link opens this search with the facet shown whole (show=<facet>); here
  // the facet is filled in place from that page instead, and focus moves to the first value
  // that was not shown, so a keyboard or screen reader user carries on from where they were.
  form.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a.facet-all") : null;
    if (!link || !window.fetch || !window.DOMParser) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var name = link.getAttribute("data-facet");
    var fieldset = form.querySelector('fieldset.facet[data-facet="' + name + '"]');
    if (!fieldset) return;
    event.preventDefault();
    if (link.getAttribute("aria-busy") === "true") return;
    link.setAttribute("aria-busy", "true");
    var board = link.getAttribute("data-board");
    var before = {};
    fieldset.querySelectorAll("input[type=checkbox]").forEach(function (box) { before[box.value] = true; });
    fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var whole = page.querySelector('fieldset.facet[data-facet="' + name + '"]');
        if (!whole) throw new Error("no facet " + name);
        whole = document.importNode(whole, true);
        fieldset.parentNode.replaceChild(whole, fieldset);
        var scope = board ? whole.querySelector('.facet-group[data-board="' + board + '"]') : whole;
        var boxes = (scope || whole).querySelectorAll("input[type=checkbox]");
        for (var i = 0; i < boxes.length; i++) {
          if (!before[boxes[i].value]) { boxes[i].focus(); return; }
        }
      })
      .catch(function () { window.location.href = link.href; });
  });

  // Typeahead: fill the input's datalist from the suggestions API.
  var q = document.getElementById("q");
  var list = document.getElementById("q-suggestions");
  var timer = null;
  var last = "";
  if (q && list && window.fetch) {
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = q.value.trim();
        if (text.length < 2 || text === last) return;
        last = text;
        fetch("/api/v1/suggest?q=" + encodeURIComponent(text))
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (data) {
            while (list.firstChild) list.removeChild(list.firstChild);
            data.suggestions.forEach(function (s) {
              var option = document.createElement("option");
              option.value = s.text;
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 150);
    });
  }
})();
