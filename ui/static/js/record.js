// Record page: reopen the tab named in the URL hash, and remember the chosen tab there.
(function () {
  "use strict";
  var hash = window.location.hash;
  if (hash && hash.indexOf("#pane-") === 0) {
    var button = document.querySelector('[data-bs-target="' + hash + '"]');
    if (button && window.bootstrap) { window.bootstrap.Tab.getOrCreateInstance(button).show(); }
    // The browser focuses the fragment's pane on arrival; that outline reads as an error, so drop it.
    var pane = document.getElementById(hash.slice(1));
    if (pane && document.activeElement === pane) { pane.blur(); }
  }
  document.querySelectorAll('[data-bs-toggle="tab"]').forEach(function (button) {
    button.addEventListener("shown.bs.tab", function () {
      history.replaceState(null, "", button.getAttribute("data-bs-target"));
    });
  });
})();
