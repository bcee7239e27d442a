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

  // Screen readers hear what happened through the page's one live region.
  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) { status.textContent = text; }
  }

  var COPY_KEYS = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent) ? "⌘C" : "Ctrl+C";

  function showOnButton(button, label) {
    button.textContent = label;
    button.setAttribute("data-copied", "");
  }
  function resetButton(button) {
    button.textContent = "Copy";
    button.removeAttribute("data-copied");
  }
  function flashCopied(button) {
    showOnButton(button, "Copied");
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () { resetButton(button); }, 1500);
  }
  // The hint stays while the id is still selected, however long the reader takes.
  function hintUntilDeselected(button, text) {
    clearTimeout(button.copyTimer);
    showOnButton(button, "Press " + COPY_KEYS);
    document.addEventListener("selectionchange", function watch() {
      if (String(window.getSelection()) === text) { return; }
      document.removeEventListener("selectionchange", watch);
      resetButton(button);
    });
  }

  // Without the clipboard API (plain HTTP on a non-localhost host, or permission refused),
  // select the id on the page so one keystroke copies it, and say so.
  function selectForCopying(button, text) {
    var source = button.hasAttribute("data-copy-from")
      ? document.getElementById(button.getAttribute("data-copy-from"))
      : button.parentElement.querySelector(".thread-id");
    if (!source || (!button.hasAttribute("data-copy-from") && source.textContent !== text)) {
      announce("Copying is not available in this browser.");
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    if (copied) {
      flashCopied(button);
      announce(copiedNotice(button, text));
    } else {
      // What is selected: a message's whole block, labels included, for the hint to watch.
      hintUntilDeselected(button, String(selection));
      var what = button.hasAttribute("data-copy-from") ? "Message" : "Thread id";
      announce(what + " selected. Press " + COPY_KEYS + " to copy it.");
    }
  }

  function copiedNotice(button, text) {
    return button.hasAttribute("data-copy-from") ? "Copied the message." : "Copied " + text;
  }

  // A message's Copy button names the element holding its text: its text blocks, one
  // paragraph each (not the labels and sources around them).
  function textToCopy(button) {
    if (button.hasAttribute("data-copy")) { return button.getAttribute("data-copy"); }
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    if (!source) { return ""; }
    var blocks = source.querySelectorAll(".text");
    if (!blocks.length) { return source.textContent.trim(); }
    return Array.prototype.map.call(blocks, function (el) { return el.textContent; }).join("\n\n");
  }

  function copyButtons(root) {
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-copy], button[data-copy-from]");
      if (!button) { return; }
      var text = textToCopy(button);
      if (!navigator.clipboard || !navigator.clipboard.writeText) {
        selectForCopying(button, text);
        return;
      }
      navigator.clipboard.writeText(text).then(function () {
        flashCopied(button);
        announce(copiedNotice(button, text));
      }, function () {
        selectForCopying(button, text);
      });
    });
  }

  // Text cut short by the stylesheet gets its full text as a tooltip; focusing a row also
  // shows it in place.
  var TRUNCATED = ".thread-table td a, .thread-table td code, .thread-table .reason, .page-head .user-id, .breadcrumb .user-id";
  function fullTextOnHover(root) {
    root.addEventListener("mouseover", function (event) {
      var el = event.target.closest(TRUNCATED);
      if (!el) { return; }
      if (el.scrollWidth > el.clientWidth) {
        el.title = el.textContent;
      } else {
        el.removeAttribute("title");
      }
    });
  }

  // The transcript's Expand all / Collapse all: every folded item at once.
  function foldButtons(root) {
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-details]");
      if (!button) { return; }
      var open = button.getAttribute("data-details") === "open";
      var folded = document.querySelectorAll(".transcript details");
      folded.forEach(function (el) { el.open = open; });
      announce((open ? "Expanded " : "Collapsed ") + folded.length + " item" + (folded.length === 1 ? "" : "s") + ".");
    });
  }

  // A page that waits on the ChatKit API (a status scan reads up to several upstream pages)
  // says so at once instead of leaving the old page looking idle. Shown only after a short
  // pause, so fast pages do not flash it; the browser's Stop (Esc) still cancels.
  var WAIT_DELAY_MS = 300;
  function waitingNotice(root) {
    var timer = null;
    function show(text) {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var notice = document.getElementById("page-wait");
        if (!notice) {
          notice = document.createElement("div");
          notice.id = "page-wait";
          notice.className = "page-wait";
          notice.setAttribute("role", "status");
          document.body.insertBefore(notice, document.body.firstChild);
        }
        notice.textContent = text;
        notice.hidden = false;
      }, WAIT_DELAY_MS);
    }
    function expectation(url) {
      return /[?&]status=/.test(url)
        ? "Scanning the ChatKit API for matching threads… Press Esc to stop."
        : "Waiting for the ChatKit API…";
    }
    root.addEventListener("click", function (event) {
      var link = event.target.closest("a[href]");
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) { return; }
      if (link.hasAttribute("download") || link.target || link.origin !== location.origin) { return; }
      if (link.pathname === location.pathname && link.search === location.search) { return; } // an anchor
      show(expectation(link.href));
    });
    root.addEventListener("submit", function (event) {
      var form = event.target;
      if (event.defaultPrevented || (form.method || "get").toLowerCase() !== "get") { return; }
      show(expectation("?" + new URLSearchParams(new FormData(form)).toString()));
    });
    function hide() {
      clearTimeout(timer);
      var notice = document.getElementById("page-wait");
      if (notice) { notice.hidden = true; }
    }
    // Esc stops the navigation, as the notice says: this page stays.
    root.addEventListener("keydown", function (event) {
      var notice = document.getElementById("page-wait");
      if (event.key === "Escape" && notice && !notice.hidden) { window.stop(); hide(); }
    });
    // Back from the history: nothing is loading any more.
    window.addEventListener("pageshow", hide);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localiseTimes(document);
    copyButtons(document);
    foldButtons(document);
    waitingNotice(document);
    fullTextOnHover(document);
  });
})();
