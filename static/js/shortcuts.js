// Keyboard shortcuts. They only move focus and click what is on the page, so each one does
// exactly what the link or button it stands for does. None fires while typing in a field.
(function () {
  "use strict";

  var ROWS = "table.thread-table tbody tr";
  var ROW_LINK = "td.col-title a";

  var lastRow = null;
  // "g" waits for the next key, whenever it comes; any other key or a click drops it.
  var pendingPrefix = "";

  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) { status.textContent = text; }
  }

  function isTyping(target) {
    if (!target || !target.closest) { return false; }
    if (target.closest("textarea, select, [contenteditable=''], [contenteditable='true']")) { return true; }
    var input = target.closest("input");
    return Boolean(input) && !/^(button|submit|reset|checkbox|radio)$/.test(input.type);
  }

  // --- Rows -----------------------------------------------------------------------------
  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll(ROWS), function (row) {
      return row.querySelector(ROW_LINK);
    });
  }
  function focusedRow() {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest(ROWS) : null;
    return row && row.querySelector(ROW_LINK) ? row : null;
  }
  function focusRow(row) {
    lastRow = row;
    row.querySelector(ROW_LINK).focus({ preventScroll: true });
    // scroll-margin in the stylesheet keeps the row clear of the sticky column headings.
    row.scrollIntoView({ block: "nearest" });
  }
  function moveRow(step) {
    var list = rows();
    if (!list.length) { return false; }
    var from = focusedRow() || (lastRow && list.indexOf(lastRow) >= 0 ? lastRow : null);
    var index = from ? list.indexOf(from) + step : 0;
    focusRow(list[Math.max(0, Math.min(list.length - 1, index))]);
    return true;
  }
  function clickInFocusedRow(selector, missing) {
    var row = focusedRow();
    var target = row && row.querySelector(selector);
    if (target) {
      target.click();
    } else {
      announce(row ? missing : "No row has focus. Press j to focus the first row.");
    }
    return true;
  }

  // Coming back (Back button) to a list puts the keyboard on the row that was opened.
  var RETURN_KEY = "shortcuts:opened-row";
  document.addEventListener("click", function (event) {
    var link = event.target.closest(ROWS + " " + ROW_LINK);
    if (!link) { return; }
    try {
      window.sessionStorage.setItem(RETURN_KEY, JSON.stringify({ page: location.href, thread: link.href }));
    } catch (e) { /* nothing to return to */ }
  });
  function returnToOpenedRow() {
    var navigation = performance.getEntriesByType("navigation")[0];
    var saved;
    try { saved = JSON.parse(window.sessionStorage.getItem(RETURN_KEY) || "null"); } catch (e) { return; }
    if (!saved || saved.page !== location.href || !navigation || navigation.type !== "back_forward") { return; }
    var row = rows().filter(function (r) { return r.querySelector(ROW_LINK).href === saved.thread; })[0];
    if (row) { focusRow(row); }
  }

  // --- Other targets --------------------------------------------------------------------
  function focusSearch() {
    var field = document.querySelector("form.filters input:not([type=hidden]), form.filters select") ||
      document.getElementById("open-thread-id");
    if (!field) { return false; }
    if (field.form) { field.form.dispatchEvent(new CustomEvent("filters:expand", { bubbles: true })); }
    field.focus();
    if (field.select) { field.select(); }
    return true;
  }
  function follow(selector) {
    var link = document.querySelector(selector);
    if (!link) { return false; }
    link.click();
    return true;
  }
  function copyId() {
    if (focusedRow()) { return clickInFocusedRow("button[data-copy]", "This row has no id to copy."); }
    // A page about one thread (its transcript) has one Copy button: the thread's id.
    var buttons = document.querySelectorAll("button[data-copy]");
    if (buttons.length === 1) { buttons[0].click(); return true; }
    return false;
  }

  // --- Help overlay ---------------------------------------------------------------------
  var help = null;

  function goToShortcuts() {
    return Array.prototype.map.call(document.querySelectorAll("a[data-shortcut^='g ']"), function (link) {
      return [link.getAttribute("data-shortcut").split(" "), "Go to " + link.textContent.trim()];
    });
  }
  function shortcutGroups() {
    return [
      ["Anywhere", [
        [["/"], "Focus the filter (or the thread-id box)"],
      ].concat(goToShortcuts(), [
        [["?"], "Show this list"],
        [["Esc"], "Leave a field; stop a status scan; on the delete page, cancel"],
      ])],
      ["Thread lists", [
        [["j"], "Focus the next row"],
        [["k"], "Focus the previous row"],
        [["Enter"], "Open the focused thread"],
        [["u"], "Open the focused row's user"],
        [["c"], "Copy the focused row's thread id (on a thread: its id)"],
        [["["], "Previous page"],
        [["]"], "Next page"],
      ]],
    ];
  }
  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text) { el.textContent = text; }
    return el;
  }
  function buildHelp() {
    var dialog = element("dialog", "shortcut-help");
    dialog.setAttribute("aria-labelledby", "shortcut-help-title");
    var head = element("div", "dialog-head");
    var title = element("h2", "", "Keyboard shortcuts");
    title.id = "shortcut-help-title";
    var closeForm = element("form");
    closeForm.method = "dialog";
    var close = element("button", "button small", "Close");
    close.type = "submit";
    closeForm.appendChild(close);
    head.appendChild(title);
    head.appendChild(closeForm);
    dialog.appendChild(head);
    dialog.appendChild(element("p", "muted", "Shortcuts do nothing while you type in a field."));
    shortcutGroups().forEach(function (group) {
      var section = element("section");
      section.appendChild(element("h3", "", group[0]));
      var list = element("dl", "shortcut-list");
      group[1].forEach(function (entry) {
        var item = element("div");
        var keys = element("dt");
        entry[0].forEach(function (key, i) {
          if (i) { keys.appendChild(document.createTextNode(" then ")); }
          keys.appendChild(element("kbd", "", key));
        });
        item.appendChild(keys);
        item.appendChild(element("dd", "", entry[1]));
        list.appendChild(item);
      });
      section.appendChild(list);
      dialog.appendChild(section);
    });
    // A click on the backdrop (outside the box) closes it too.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) { dialog.close(); }
    });
    document.body.appendChild(dialog);
    return dialog;
  }
  function showHelp() {
    help = help || buildHelp();
    if (!help.open) { help.showModal(); }
    return true;
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-show-shortcuts]")) { showHelp(); }
  });

  // --- Keys -----------------------------------------------------------------------------
  var KEYS = {
    "/": focusSearch,
    // Only where the header offers the list too: not to visitors on the log-in page.
    "?": function () { return Boolean(document.querySelector("[data-show-shortcuts]")) && showHelp(); },
    j: function () { return moveRow(1); },
    k: function () { return moveRow(-1); },
    u: function () { return clickInFocusedRow("td.col-user a", "This thread has no user."); },
    c: copyId,
    "[": function () { return follow("a[rel='prev']"); },
    "]": function () { return follow("a[rel='next']"); },
  };

  function onEscape(event) {
    if (document.querySelector("dialog[open]")) { return; } // the dialog closes itself
    // The delete page's Cancel link: Esc cancels even from the confirmation field.
    if (follow("a[data-shortcut='Escape']")) { event.preventDefault(); return; }
    if (isTyping(event.target)) { event.target.blur(); }
  }

  document.addEventListener("keydown", function (event) {
    if (/^(Shift|Control|Alt|Meta|CapsLock)$/.test(event.key)) { return; }
    var prefix = pendingPrefix;
    pendingPrefix = "";
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    if (event.key === "Escape") { onEscape(event); return; }
    if (isTyping(event.target) || document.querySelector("dialog[open]")) { return; }

    var handled;
    if (prefix) {
      handled = follow("a[data-shortcut='" + prefix + " " + CSS.escape(event.key) + "']");
    } else if (event.key === "g") {
      pendingPrefix = "g";
      handled = true;
    } else {
      handled = Object.prototype.hasOwnProperty.call(KEYS, event.key) && KEYS[event.key]();
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("mousedown", function () { pendingPrefix = ""; });
  document.addEventListener("DOMContentLoaded", returnToOpenedRow);
})();
