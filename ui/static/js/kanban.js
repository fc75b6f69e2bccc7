// Kanban: drag a card (SortableJS) or use its move menu; the server saves with the card's version.
// A refusal shows on the card and the card goes back where it was.
(function () {
  "use strict";
  var board = document.querySelector(".fw-board");
  if (!board || !window.Sortable) { return; }
  var moveUrl = board.getAttribute("data-move-url");

  function urlFor(id) { return moveUrl.replace(/\/0\/move$/, "/" + id + "/move"); }

  function updateTotals(columns) {
    board.querySelectorAll(".fw-col-count").forEach(function (el) {
      var c = columns[el.getAttribute("data-value")];
      el.textContent = c ? c.count : 0;
    });
    board.querySelectorAll(".fw-col-total").forEach(function (el) {
      var c = columns[el.getAttribute("data-value")];
      el.textContent = c ? c.total : (board.getAttribute("data-zero") || "");
    });
  }

  function send(card, value, undo) {
    var error = card.querySelector(".fw-card-error");
    error.textContent = "";
    card.classList.add("fw-saving");
    var body = new URLSearchParams({value: value, version: card.getAttribute("data-version")});
    fetch(urlFor(card.getAttribute("data-id")), {
      method: "POST", credentials: "same-origin", body: body,
      headers: {"X-CSRFToken": window.formwork.csrfToken(), "Accept": "application/json"}
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false}; });
    }).then(function (result) {
      card.classList.remove("fw-saving");
      if (result.ok) {
        card.setAttribute("data-version", result.version);
        card.querySelector(".fw-card-move").value = value;
        updateTotals(result.columns);
        return;
      }
      undo();
      error.textContent = result.message || board.getAttribute("data-failed");
    }).catch(function () {
      card.classList.remove("fw-saving");
      undo();
      error.textContent = board.getAttribute("data-failed");
    });
  }

  board.querySelectorAll(".fw-board-cards").forEach(function (list) {
    window.Sortable.create(list, {
      group: "board", animation: 150, draggable: ".fw-card", forceFallback: true, fallbackTolerance: 3, filter: "select, a", preventOnFilter: false,
      onEnd: function (event) {
        if (event.from === event.to) { return; }
        var card = event.item;
        var from = event.from;
        var oldIndex = event.oldIndex;
        send(card, event.to.getAttribute("data-value"), function () {
          from.insertBefore(card, from.children[oldIndex] || null);
          card.querySelector(".fw-card-move").value = from.getAttribute("data-value");
        });
      }
    });
  });

  // Keyboard and screen-reader path: the move menu on each card.
  board.addEventListener("change", function (event) {
    var select = event.target.closest(".fw-card-move");
    if (!select) { return; }
    var card = select.closest(".fw-card");
    var from = card.parentElement;
    var next = card.nextElementSibling;
    var to = board.querySelector('.fw-board-cards[data-value="' + select.value + '"]');
    to.insertBefore(card, to.querySelector(".fw-card"));
    card.focus();
    send(card, select.value, function () { from.insertBefore(card, next); });
  });
})();
