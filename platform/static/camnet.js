/* Behaviour every page shares, wired from data attributes: the Content-Security-Policy refuses
   inline scripts and on*= handlers, so templates say data-autosubmit / data-print instead. */
(function () {
  "use strict";
  function start() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { if (el.form) { el.form.submit(); } });
    });
    // the menu at phone width: a button opens and closes it and says so (aria-expanded)
    document.querySelectorAll("[data-nav-toggle]").forEach(function (btn) {
      var nav = document.getElementById(btn.getAttribute("aria-controls"));
      if (!nav) { return; }
      btn.addEventListener("click", function () {
        var open = btn.getAttribute("aria-expanded") !== "true";
        btn.setAttribute("aria-expanded", open ? "true" : "false");
        nav.classList.toggle("open", open);
      });
      document.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape" && btn.getAttribute("aria-expanded") === "true") {
          btn.setAttribute("aria-expanded", "false");
          nav.classList.remove("open");
          btn.focus();
        }
      });
    });
    document.querySelectorAll("[data-print]").forEach(function (el) {
      el.addEventListener("click", function () { window.print(); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
