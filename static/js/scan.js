// A paused status scan (threads/_scan_notice.html): htmx reads its next steps; this file
// lets the reader stop it, keeping what was found, and says so when a step fails.
(function () {
  "use strict";

  function notice() { return document.getElementById("scan-notice"); }
  function running() {
    var current = notice();
    return current !== null && current.hasAttribute("data-scan-running");
  }

  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) { status.textContent = text; }
  }

  // The notice already holds, hidden, what the scan says if it ends here; show it.
  function end(reason) {
    var current = notice();
    if (!running()) { return; }
    var next = document.getElementById("scan-next");
    if (next) {
      htmx.trigger(next, "htmx:abort");
      next.remove();
    }
    current.removeAttribute("data-scan-running");
    current.setAttribute("data-scan-ended", reason);
    current.querySelector(".scan-progress").hidden = true;
    var stopped = current.querySelector(".scan-stopped");
    if (reason === "failed") {
      stopped.insertAdjacentText("afterbegin", "The dashboard did not answer the next step of the scan. ");
    }
    stopped.hidden = false;
    announce(stopped.textContent.trim());
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-scan-stop]")) { end("stopped"); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && running() && !document.querySelector("dialog[open]")) { end("stopped"); }
  });
  // A step the dashboard refused (busy, signed out) or that never arrived.
  document.addEventListener("htmx:responseError", function () { end("failed"); });
  document.addEventListener("htmx:sendError", function () { end("failed"); });
})();
