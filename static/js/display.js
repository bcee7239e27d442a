// Theme and row density, remembered per browser. Loaded in <head> without `defer`, so the
// stored choice is on <html> before the first paint (no flash of the wrong theme).
(function () {
  "use strict";

  var root = document.documentElement;
  var systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  // Private modes and locked-down browsers may refuse storage: then nothing is remembered.
  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function store(key, value) {
    try {
      if (value === null) { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, value); }
    } catch (e) { /* the choice lasts for this page only */ }
  }

  function isDark() {
    var theme = stored("theme");
    return theme ? theme === "dark" : systemDark.matches;
  }
  function isComfortable() { return stored("density") === "comfortable"; }

  function apply() {
    var theme = stored("theme");
    root.classList.toggle("theme-dark", theme === "dark");
    root.classList.toggle("theme-light", theme === "light");
    root.classList.toggle("density-comfortable", isComfortable());
    document.querySelectorAll("[data-toggle-theme]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(isDark()));
    });
    document.querySelectorAll("[data-toggle-density]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(!isComfortable()));
    });
  }

  // Toggling always flips what is shown. A choice equal to the system's is not stored, so
  // whoever never picked, or picked their way back, follows the system setting again.
  function toggleTheme() {
    var dark = !isDark();
    store("theme", dark === systemDark.matches ? null : dark ? "dark" : "light");
    apply();
  }
  function toggleDensity() {
    store("density", isComfortable() ? null : "comfortable");
    apply();
  }

  root.classList.add("js");
  apply();
  document.addEventListener("DOMContentLoaded", apply);
  systemDark.addEventListener("change", apply);
  // Another tab changed a setting.
  window.addEventListener("storage", apply);
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-toggle-theme]")) { toggleTheme(); }
    if (event.target.closest("[data-toggle-density]")) { toggleDensity(); }
  });
})();
