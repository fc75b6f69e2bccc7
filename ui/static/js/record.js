// Record page: reopen the tab named in the URL hash, and remember the chosen tab there.
(function () {
  "use strict";
  var hash = window.location.hash;
  if (hash && hash.indexOf("#pane-") === 0) {
    var button = document.querySelector('[data-bs-target="' + hash + '"]');
    if (button && window.bootstrap) { window.bootstrap.Tab.getOrCreateInstance(button).show(); }
  }
  document.querySelectorAll('[data-bs-toggle="tab"]').forEach(function (button) {
    button.addEventListener("shown.bs.tab", function () {
      history.replaceState(null, "", button.getAttribute("data-bs-target"));
    });
  });
})();
