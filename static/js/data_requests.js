// A data request's page: its progress part is fetched again every few seconds while the job
// runs, instead of reloading the page. Without this file the part's Refresh link does it.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function poll(section) {
    var url = section.getAttribute("data-progress-url");
    if (!url) { return; }
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html.trim();
          var fresh = holder.querySelector("#request-progress");
          if (!fresh) { return; }
          section.replaceWith(fresh);
          if (fresh.getAttribute("data-progress-url")) {
            poll(fresh);
          } else {
            // Finished: reload once, so the thread table shows every outcome too.
            window.location.reload();
          }
        })
        .catch(function () { poll(section); });
    }, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("request-progress");
    if (section) { poll(section); }
  });
})();
