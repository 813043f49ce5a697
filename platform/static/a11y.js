// Keyboard access to boxes that scroll sideways (at phone width a wide table scrolls inside
// itself, camnet.css, or inside a .scroll or .table-wrap box): a box that overflows gets tabindex=0, so the arrow keys can scroll it once it
// has focus (axe-core: scrollable-region-focusable). Boxes that fit are left out of the tab order.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll("main table, .scroll, .table-wrap").forEach(function (box) {
      var overflows = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (overflows && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-focus", "");
        if (!box.hasAttribute("role")) box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) {
          var table = box.tagName === "TABLE" ? box : box.querySelector("table");
          var caption = table && (table.getAttribute("aria-label") || (table.caption && table.caption.textContent));
          var heading = box.closest("section, .card") && box.closest("section, .card").querySelector("h2, h3");
          box.setAttribute("aria-label", (caption || (heading && heading.textContent) || document.title).trim());
        }
      } else if (!overflows && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
})();
