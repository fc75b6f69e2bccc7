// Calendar (FullCalendar): month and week views fed by the entity's calendar.json endpoint.
(function () {
  "use strict";
  var el = document.getElementById("calendar");
  if (!el || !window.FullCalendar) { return; }
  var calendar = new window.FullCalendar.Calendar(el, {
    initialView: "dayGridMonth",
    locale: el.getAttribute("data-locale"),
    firstDay: 1,
    height: "auto",
    headerToolbar: {left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek"},
    buttonText: {month: el.getAttribute("data-month"), week: el.getAttribute("data-week"),
                 today: el.getAttribute("data-today")},
    events: el.getAttribute("data-events-url"),
    timeZone: "UTC",
    dayMaxEvents: 4
  });
  calendar.render();
})();
