// Lookup inputs (forms, filter builder, bulk set): a text box searching the target entity that
// fills a hidden id. Delegated from the document, so boxes htmx inserts later work too.
(function () {
  "use strict";
  var timers = new WeakMap();
  var actives = new WeakMap();

  function parts(input) {
    var box = input.closest(".fw-lookup");
    return {box: box, input: input, hidden: box.querySelector(".fw-lookup-value"),
            list: box.querySelector(".fw-lookup-options")};
  }
  function close(p) {
    p.list.classList.remove("show");
    p.input.setAttribute("aria-expanded", "false");
    actives.set(p.input, -1);
  }
  function choose(p, item) {
    p.hidden.value = item.getAttribute("data-id");
    p.input.value = item.textContent;
    p.hidden.dispatchEvent(new Event("change", {bubbles: true}));
    close(p);
  }
  function render(p, results) {
    p.list.innerHTML = "";
    results.forEach(function (result, index) {
      var li = document.createElement("li");
      var option = document.createElement("button");
      option.type = "button";
      option.className = "dropdown-item";
      option.setAttribute("role", "option");
      option.id = p.input.id + "-opt-" + index;
      option.setAttribute("data-id", result.id);
      option.textContent = result.title;
      option.addEventListener("mousedown", function (e) { e.preventDefault(); choose(p, option); });
      li.appendChild(option);
      p.list.appendChild(li);
    });
    p.list.classList.toggle("show", results.length > 0);
    p.input.setAttribute("aria-expanded", results.length > 0 ? "true" : "false");
  }
  function search(p) {
    var url = p.box.getAttribute("data-lookup-url") + "?q=" + encodeURIComponent(p.input.value);
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (results) { render(p, results); })
      .catch(function () { render(p, []); });
  }
  function lookupInput(event) {
    var target = event.target;
    return target && target.classList && target.classList.contains("fw-lookup-input") ? target : null;
  }

  document.addEventListener("input", function (event) {
    var input = lookupInput(event);
    if (!input) { return; }
    var p = parts(input);
    if (input.value.trim() === "") { p.hidden.value = ""; }
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () { search(p); }, 150));
  });
  document.addEventListener("focusin", function (event) {
    var input = lookupInput(event);
    if (input && !parts(input).hidden.value) { search(parts(input)); }
  });
  document.addEventListener("focusout", function (event) {
    var input = lookupInput(event);
    if (input) { setTimeout(function () { close(parts(input)); }, 100); }
  });
  document.addEventListener("keydown", function (event) {
    var input = lookupInput(event);
    if (!input) { return; }
    var p = parts(input);
    var items = p.list.querySelectorAll(".dropdown-item");
    var active = actives.has(input) ? actives.get(input) : -1;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) { return; }
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      actives.set(input, active);
      items.forEach(function (item, i) { item.classList.toggle("active", i === active); });
      input.setAttribute("aria-activedescendant", items[active].id);
    } else if (event.key === "Enter" && active >= 0 && items[active]) {
      event.preventDefault();
      choose(p, items[active]);
    } else if (event.key === "Escape") {
      close(p);
    }
  });
})();
