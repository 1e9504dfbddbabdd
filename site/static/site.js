// The course website's one script (scripts/build_site.py). Optional: every page reads without it.
// 1. A box that scrolls sideways (code, output, an equation, a table) becomes reachable by
//    keyboard (a tab stop with a name), only while it really overflows: cells that fit take
//    no tab stop.
// 2. The search box: Pagefind's prebuilt index (pagefind/), searched in the browser; nothing
//    leaves the site.
(function () {
  "use strict";
  var SCROLLERS = ".cm-editor .highlight pre, .jp-OutputArea-output pre, .jp-OutputArea-output, .katex-display, " +
    "main table, .course-scroll, pre.course-commands";

  function label(el) {
    if (el.closest(".jp-InputArea")) return "Code (scrolls sideways)";
    if (el.classList.contains("katex-display")) return "Equation (scrolls sideways)";
    if (el.tagName === "TABLE" || el.classList.contains("course-scroll")) return "Table (scrolls sideways)";
    return "Output (scrolls sideways)";
  }

  function markScrollers() {
    document.querySelectorAll(SCROLLERS).forEach(function (el) {
      var overflows = el.scrollWidth > el.clientWidth + 4 &&  // (a 1-pixel screen-reader box of KaTeX may stick out)
        getComputedStyle(el).overflowX !== "visible";
      if (overflows && !el.hasAttribute("data-course-scroller")) {
        el.setAttribute("data-course-scroller", "");
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", label(el));
      } else if (!overflows && el.hasAttribute("data-course-scroller")) {
        ["data-course-scroller", "tabindex", "role", "aria-label"].forEach(function (a) { el.removeAttribute(a); });
      }
    });
  }

  function startSearch() {
    var box = document.getElementById("search");
    if (!box || typeof window.PagefindUI !== "function") return;
    var script = document.querySelector('script[src$="pagefind-ui.js"]');
    var root = new URL("..", script.src).pathname;  // the site's folder, wherever it is served
    new window.PagefindUI({ element: "#search", baseUrl: root, showSubResults: true, showImages: false,
      resetStyles: false, translations: { placeholder: "Search the course" } });
    var input = box.querySelector("input");  // a name for screen readers, not only a placeholder
    if (input) input.setAttribute("aria-label", "Search the course");
  }

  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(markScrollers, 150); });
  window.matchMedia("print").addEventListener("change", markScrollers);
  document.addEventListener("toggle", markScrollers, true);  // a <details> opened
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { startSearch(); markScrollers(); });
  else { startSearch(); markScrollers(); }
  window.addEventListener("load", markScrollers);
  window.courseMarkScrollers = markScrollers;  // for the site's test, after it changes the viewport
})();
