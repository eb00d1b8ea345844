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

  // A filter change searches at once, from page 1.
  form.addEventListener("change", function (event) {
    var t = event.target;
    if (!t || !t.name || t.name === "q") return;
    if (t.type === "date" || t.type === "number") return; // wait for the Search button
    var page = form.querySelector("input[name=page]");
    if (page) page.remove();
    form.requestSubmit ? form.requestSubmit() : form.submit();
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
