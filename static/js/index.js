// The thread index's enhancements; every page works without this file.
(function () {
  "use strict";

  // Date filters mean days in the viewer's own zone, the one times are shown in; the form
  // sends it (tz) and says so. A link that already names a zone keeps it.
  function fillZone(root) {
    var field = root.querySelector("input[name=tz]");
    if (!field || field.value) { return; }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) { return; }
    field.value = zone;
    var help = document.getElementById("id_created_to_helptext");
    if (help) { help.textContent = "Both days included, in " + zone + "."; }
  }

  // The user filter suggests users from the index as you type: a native <datalist>, so the
  // browser's own list handles the keyboard and screen readers.
  function suggestUsers(root) {
    root.querySelectorAll("input[data-suggest=users][list]").forEach(function (input) {
      var list = document.getElementById(input.getAttribute("list"));
      if (!list || !list.dataset.source) { return; }
      var timer = null, asked = "";
      input.addEventListener("input", function () {
        clearTimeout(timer);
        var typed = input.value;
        if (!typed || typed === asked) { return; }
        timer = setTimeout(function () {
          asked = typed;
          fetch(list.dataset.source + "?q=" + encodeURIComponent(typed), {
            headers: { Accept: "application/json" }, credentials: "same-origin",
          }).then(function (response) {
            return response.ok ? response.json() : { users: [] };
          }).then(function (body) {
            if (input.value !== typed) { return; }  // a later keystroke asks again
            list.replaceChildren.apply(list, (body.users || []).map(function (user) {
              var option = document.createElement("option");
              option.value = user;
              return option;
            }));
          }).catch(function () { /* suggestions are a convenience; typing still works */ });
        }, 150);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fillZone(document);
    suggestUsers(document);
  });
})();
