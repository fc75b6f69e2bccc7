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

  // Conditional sections and fields: after each change the server (htmx, POST of the form's values)
  // answers which sections and fields show and which are required, in an "fw-layout" event.
  // Hidden ones are disabled too, so the browser does not submit them.
  function toggle(el, shown) {
    el.hidden = !shown;
    el.disabled = !shown;
  }
  document.body.addEventListener("fw-layout", function (event) {
    var state = event.detail || {};
    var sections = state.sections || [];
    var fields = state.fields || [];
    var required = state.required || [];
    form.querySelectorAll("[data-section]").forEach(function (el) {
      toggle(el, sections.indexOf(el.getAttribute("data-section")) >= 0);
    });
    form.querySelectorAll("[data-field]").forEach(function (el) {
      var name = el.getAttribute("data-field");
      var isRequired = required.indexOf(name) >= 0;
      toggle(el, fields.indexOf(name) >= 0);
      el.classList.toggle("fw-required", isRequired);
      el.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (input) {
        if (isRequired) { input.setAttribute("aria-required", "true"); } else { input.removeAttribute("aria-required"); }
      });
    });
  });
})();
