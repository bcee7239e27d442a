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
    // First, so the aborted request's own events find the scan already ended.
    current.removeAttribute("data-scan-running");
    var next = document.getElementById("scan-next");
    if (next) {
      htmx.trigger(next, "htmx:abort");
      next.remove();
    }
    current.setAttribute("data-scan-ended", reason);
    current.querySelector(".scan-progress").hidden = true;
    var stopped = current.querySelector(".scan-stopped");
    var why = {
      failed: "The dashboard did not answer the next step of the scan. ",
      "signed-out": "The scan stopped: your session has ended, so log in again to go on. ",
    }[reason];
    if (why) { stopped.insertAdjacentText("afterbegin", why); }
    stopped.hidden = false;
    announce(stopped.textContent.trim());
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-scan-stop]")) { end("stopped"); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && running() && !document.querySelector("dialog[open]")) { end("stopped"); }
  });
  // A step the dashboard refused (busy) or that never arrived.
  document.addEventListener("htmx:responseError", function () { end("failed"); });
  document.addEventListener("htmx:sendError", function () { end("failed"); });
  // A step's answer replaces the notice, so one still showing the step that asked is an
  // answer that was not a step: the log-in page, once the session has ended.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt.id !== "scan-next" || !event.detail.elt.isConnected) { return; }
    end(/\/accounts\/login\//.test(event.detail.xhr.responseURL) ? "signed-out" : "failed");
  });
})();
