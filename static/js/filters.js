// Filter menus apply as soon as they change; the Apply button stays for the text field and
// for browsers without JavaScript.
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

  document.addEventListener("DOMContentLoaded", function () {
    var name;
    try {
      name = window.sessionStorage.getItem(REFOCUS);
      window.sessionStorage.removeItem(REFOCUS);
    } catch (e) { return; }
    var menu = name && document.querySelector("form.filters select[name=\"" + CSS.escape(name) + "\"]");
    if (menu) { menu.focus(); }
  });
})();
