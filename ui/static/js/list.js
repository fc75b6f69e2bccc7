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
  document.addEventListener("change", function (event) {
    var target = event.target;
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
  document.body.addEventListener("htmx:afterSwap", refresh);
  refresh();
})();
