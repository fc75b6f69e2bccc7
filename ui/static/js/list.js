// List page: row selection and the bulk-action bar, filter rows removal, bulk action arguments.
(function () {
  "use strict";
  var bulk = document.getElementById("bulk-form");
  function selected() { return document.querySelectorAll(".fw-row-check:checked"); }
  function refresh() {
    if (!bulk) { return; }
    var count = selected().length;
    bulk.classList.toggle("d-none", count === 0);
    var label = bulk.querySelector(".fw-bulk-count");
    if (label) { label.textContent = count + " ✓"; }
  }
  // A value typed in parts (between: two inputs; one of: a multiple select) travels as one "a,b".
  function joinParts(container) {
    var joined = container.querySelector(".fw-value-joined");
    if (!joined) { return; }
    var values = [];
    container.querySelectorAll(".fw-value-part").forEach(function (part) {
      if (part.multiple) {
        Array.prototype.forEach.call(part.selectedOptions, function (o) { values.push(o.value); });
      } else {
        values.push(part.value);
      }
    });
    joined.value = values.join(",");
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    var container = target.closest && target.closest(".fw-value");
    if (container) { joinParts(container); }
    if (target.id === "select-all") {
      document.querySelectorAll(".fw-row-check").forEach(function (box) { box.checked = target.checked; });
    }
    if (target.id === "bulk-action") {
      bulk.querySelectorAll(".fw-bulk-arg").forEach(function (span) {
        span.classList.toggle("d-none", span.getAttribute("data-for") !== target.value);
      });
    }
    refresh();
  });
  document.addEventListener("click", function (event) {
    var remove = event.target.closest(".fw-remove-row");
    if (remove) { remove.closest(".fw-filter-row").remove(); }
  });
  if (bulk) {
    bulk.addEventListener("submit", function (event) {
      var action = bulk.querySelector("#bulk-action").value;
      var button = bulk.querySelector("[data-confirm-delete]");
      if (action === "delete" && !window.confirm(button.getAttribute("data-confirm-delete"))) {
        event.preventDefault();
      }
    });
  }
  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll(".fw-value").forEach(joinParts);
  }, true);
  document.body.addEventListener("htmx:afterSwap", refresh);
  refresh();
})();
