// Record forms: warn before leaving with unsaved changes; lookup type-ahead; conflict merge choice.
(function () {
  "use strict";
  var form = document.getElementById("record-form");
  if (!form) { return; }
  var dirty = form.closest("main").querySelector(".fw-conflict") !== null;
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (!dirty) { return; }
    event.preventDefault();
    event.returnValue = form.getAttribute("data-warn-unsaved") || "";
    return event.returnValue;
  });

  // Lookup inputs: a text box that searches the target entity and fills a hidden id.
  form.querySelectorAll(".fw-lookup").forEach(function (box) {
    var input = box.querySelector(".fw-lookup-input");
    var hidden = box.querySelector(".fw-lookup-value");
    var list = box.querySelector(".fw-lookup-options");
    var timer = null;
    var active = -1;
    function close() { list.classList.remove("show"); input.setAttribute("aria-expanded", "false"); active = -1; }
    function choose(item) {
      hidden.value = item.getAttribute("data-id");
      input.value = item.textContent;
      dirty = true;
      close();
    }
    function render(results) {
      list.innerHTML = "";
      results.forEach(function (result, index) {
        var li = document.createElement("li");
        var a = document.createElement("button");
        a.type = "button";
        a.className = "dropdown-item";
        a.setAttribute("role", "option");
        a.id = input.id + "-opt-" + index;
        a.setAttribute("data-id", result.id);
        a.textContent = result.title;
        a.addEventListener("mousedown", function (e) { e.preventDefault(); choose(a); });
        li.appendChild(a);
        list.appendChild(li);
      });
      list.classList.toggle("show", results.length > 0);
      input.setAttribute("aria-expanded", results.length > 0 ? "true" : "false");
    }
    function search() {
      var url = box.getAttribute("data-lookup-url") + "?q=" + encodeURIComponent(input.value);
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(render)
        .catch(function () { render([]); });
    }
    input.addEventListener("input", function () {
      if (input.value.trim() === "") { hidden.value = ""; }
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("focus", function () { if (!hidden.value) { search(); } });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
    input.addEventListener("keydown", function (event) {
      var items = list.querySelectorAll(".dropdown-item");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!items.length) { return; }
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        items.forEach(function (item, i) { item.classList.toggle("active", i === active); });
        input.setAttribute("aria-activedescendant", items[active].id);
      } else if (event.key === "Enter" && active >= 0 && items[active]) {
        event.preventDefault();
        choose(items[active]);
      } else if (event.key === "Escape") {
        close();
      }
    });
  });
})();
