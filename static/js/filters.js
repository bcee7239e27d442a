// Filter menus apply as soon as they change (the Apply button stays for the text field and
// for browsers without JavaScript), and filter forms submit clean URLs.
(function () {
  "use strict";

  var REFOCUS = "filters:refocus";

  document.addEventListener("change", function (event) {
    var menu = event.target;
    if (menu.tagName !== "SELECT" || !menu.form || !menu.form.classList.contains("filters")) { return; }
    // The page reloads; put the keyboard back on the menu that was changed.
    try { window.sessionStorage.setItem(REFOCUS, menu.name); } catch (e) { /* focus starts at the top */ }
    menu.form.requestSubmit();
  });

  // A filter form's URL carries only what is set, as the app's own links do (the server
  // redirects there too, without JavaScript): no blanks, no menu at its default
  // (data-default), and no value that means something only beside another one that is sent
  // (data-send-with: the time zone travels with the dates).
  function keptEntries(form, entries) {
    var kept = entries.filter(function (entry) {
      var field = form.elements.namedItem(entry[0]);
      var value = entry[1];
      if (typeof value !== "string") { return true; }
      return value.trim() !== "" && !(field && field.getAttribute && value === field.getAttribute("data-default"));
    });
    var sent = kept.map(function (entry) { return entry[0]; });
    return kept.filter(function (entry) {
      var field = form.elements.namedItem(entry[0]);
      var partners = field && field.getAttribute && field.getAttribute("data-send-with");
      return !partners || partners.split(" ").some(function (name) { return sent.indexOf(name) !== -1; });
    });
  }

  function isFilterForm(form) {
    // getAttribute, not form.method or form.action: a field named "action" (the audit page
    // has one) shadows those properties.
    return form && form.tagName === "FORM" && form.classList.contains("filters") &&
      (form.getAttribute("method") || "get").toLowerCase() === "get";
  }

  // The browser builds the submitted values here, after the submit event: edit them, not the
  // fields, so nothing on the page changes while the next page loads.
  document.addEventListener("formdata", function (event) {
    if (!isFilterForm(event.target)) { return; }
    var data = event.formData;
    var entries = Array.from(data.entries());
    var kept = keptEntries(event.target, entries);
    entries.forEach(function (entry) { data.delete(entry[0]); });
    kept.forEach(function (entry) { data.append(entry[0], entry[1]); });
  });

  // With nothing left to send the browser would still add a bare "?": go to the page itself.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!isFilterForm(form) || event.defaultPrevented) { return; }
    var submitter = event.submitter;
    if (submitter && submitter.name) { return; }
    if (Array.from(new FormData(form).keys()).length) { return; }
    event.preventDefault();
    var action = submitter && submitter.getAttribute("formaction") || form.getAttribute("action") || "";
    window.location.assign(new URL(action, document.baseURI).href);
  });

  // Phones fold a filter form's fields behind its toggle (app.css); the toggle unfolds them.
  function expand(form, open) {
    form.classList.toggle("expanded", open);
    var toggle = form.querySelector("[data-toggle-filters]");
    if (toggle) { toggle.setAttribute("aria-expanded", String(open)); }
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-filters]");
    if (!toggle) { return; }
    var form = toggle.closest("form");
    expand(form, !form.classList.contains("expanded"));
  });
  // The `/` shortcut (shortcuts.js) asks for its field unfolded before focusing it.
  document.addEventListener("filters:expand", function (event) { expand(event.target, true); });

  document.addEventListener("DOMContentLoaded", function () {
    var name;
    try {
      name = window.sessionStorage.getItem(REFOCUS);
      window.sessionStorage.removeItem(REFOCUS);
    } catch (e) { return; }
    var menu = name && document.querySelector("form.filters select[name=\"" + CSS.escape(name) + "\"]");
    if (menu) { expand(menu.form, true); menu.focus(); }
  });
})();
