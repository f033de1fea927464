// opsense: marks every scroll container of the page whose content does not fit
// (class `opsense-overflowing`; `opsense-at-end` once scrolled to the right end), so that
// opsense.css can show a cue. Runs on load, after MathJax typesets, on resize and on scroll.
(function () {
  "use strict";
  var SCROLLING = { auto: true, scroll: true };

  function atEnd(el) {
    el.classList.toggle("opsense-at-end", el.scrollLeft + el.clientWidth >= el.scrollWidth - 2);
  }

  function mark() {
    var root = document.querySelector(".bd-article") || document.querySelector("article") || document.body;
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT, {
      acceptNode: function (n) {
        // Nothing inside a code block or a formula scrolls on its own.
        var t = n.tagName;
        if (t === "SCRIPT" || t === "STYLE" || t === "svg" || t === "MJX-ASSISTIVE-MML") return NodeFilter.FILTER_REJECT;
        if (n.parentElement && (n.parentElement.tagName === "PRE" || n.parentElement.tagName === "MJX-CONTAINER")) {
          return NodeFilter.FILTER_REJECT;
        }
        return NodeFilter.FILTER_ACCEPT;
      }
    });
    for (var el = walker.currentNode; el; el = walker.nextNode()) {
      if (el.nodeType !== 1) continue;
      var over = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 &&
                 SCROLLING[getComputedStyle(el).overflowX] === true;
      if (over) {
        el.classList.add("opsense-overflowing");
        atEnd(el);
      } else if (el.classList.contains("opsense-overflowing")) {
        el.classList.remove("opsense-overflowing", "opsense-at-end");
      }
    }
  }

  var pending = null;
  function later() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; mark(); }, 150);
  }

  document.addEventListener("scroll", function (ev) {
    var el = ev.target;
    if (el && el.classList && el.classList.contains("opsense-overflowing")) atEnd(el);
  }, true);
  window.addEventListener("resize", later);
  window.addEventListener("load", function () {
    mark();
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(later);
    var article = document.querySelector(".bd-article");
    if (article && window.ResizeObserver) new ResizeObserver(later).observe(article);
  });
  if (document.readyState !== "loading") later();
  else document.addEventListener("DOMContentLoaded", later);
})();
