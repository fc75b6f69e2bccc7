// The conversion page: the new account's fields take part only while "Create a new account" is
// chosen, the opportunity's only while "Also create an opportunity" is ticked; typing in the
// account search box chooses "Another account".
(function () {
  "use strict";
  var form = document.getElementById("convert-form");
  if (!form) { return; }
  function sync() {
    var chosen = form.querySelector("input[name=account_choice]:checked");
    var account = form.querySelector(".fw-new-account");
    if (account) { account.disabled = !chosen || chosen.value !== "new"; }
    var box = document.getElementById("make_opportunity");
    var opportunity = form.querySelector(".fw-new-opportunity");
    if (box && opportunity) { opportunity.disabled = !box.checked; }
  }
  form.addEventListener("change", sync);
  var search = document.getElementById("other_account-search");
  if (search) {
    search.addEventListener("input", function () {
      var other = document.getElementById("account-other");
      if (other) { other.checked = true; sync(); }
    });
  }
  sync();
})();
