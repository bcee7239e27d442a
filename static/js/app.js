// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Show times in the viewer's own zone; the exact UTC stays in the title (hover).
  var formatter = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short",
  });
  var clock = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  function localiseTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      // data-precision="seconds" marks a moment of today (e.g. "data as of"), not a date.
      el.textContent = (el.dataset.precision === "seconds" ? clock : formatter).format(when);
    });
  }

  function copyButtons(root) {
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-copy]");
      if (!button || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        // Screen readers hear it through the page's one live region.
        var status = document.getElementById("live-status");
        if (status) { status.textContent = "Copied " + button.getAttribute("data-copy"); }
        button.textContent = "Copied";
        button.setAttribute("data-copied", "");
        setTimeout(function () { button.textContent = "Copy"; button.removeAttribute("data-copied"); }, 1500);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localiseTimes(document);
    copyButtons(document);
  });
})();
