// Layout probe of the browser checks (tests/site/test_browser.py), never part of the site:
// the tests add it to a copy of each page. Every 250 ms (the last run before Chromium dumps
// the DOM wins, i.e. after MathJax and the site's own scripts) it writes into
// <script type="application/json" id="opsense-layout-probe"> what overflows the viewport:
//   width        document.documentElement.clientWidth (the viewport, without a scrollbar)
//   scrollWidth  document.documentElement.scrollWidth (> width: the page scrolls sideways)
//   offenders    visible elements wider than the viewport, or reaching past its right edge,
//                that are not inside a scroll container (an ancestor with overflow-x auto or
//                scroll), widest first
//   containers   the scroll containers of the article whose content is wider than they are,
//                with whether they carry the site's visible cue (class opsense-overflowing)
//   images       the article's <img>: natural width, width attribute, width shown
//   verdicts     each table's "verdict" header: whether it is in view (inside its scroll box)
(function () {
  "use strict";
  var SCROLLING = { auto: true, scroll: true };

  function describe(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    var cls = (typeof el.className === "string" ? el.className : "").trim().split(/\s+/).filter(Boolean);
    if (cls.length) s += "." + cls.slice(0, 3).join(".");
    return s;
  }

  function path(el) {
    var parts = [];
    for (var p = el; p && p !== document.body && parts.length < 5; p = p.parentElement) parts.unshift(describe(p));
    return parts.join(" > ");
  }

  function scrollAncestor(el) {
    for (var p = el.parentElement; p && p !== document.body && p !== document.documentElement; p = p.parentElement) {
      if (SCROLLING[getComputedStyle(p).overflowX]) return p;
    }
    return null;
  }

  function visible(el) {
    if (el.checkVisibility) return el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true });
    return el.getClientRects().length > 0;
  }

  function measure() {
    var de = document.documentElement, vw = de.clientWidth;
    var offenders = [], containers = [];
    var all = document.body.getElementsByTagName("*");
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (el.tagName === "SCRIPT" || el.tagName === "STYLE") continue;
      var r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (el.closest("mjx-assistive-mml")) continue;  // MathJax's screen-reader copy, clipped to nothing
      var over = r.right > vw + 0.5 || r.width > vw + 0.5;
      var style = null;
      if (over && visible(el) && !scrollAncestor(el)) {
        offenders.push({ el: path(el), width: Math.round(r.width), right: Math.round(r.right),
                         text: (el.textContent || "").trim().slice(0, 80) });
      }
      if (el.closest("article") && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        style = getComputedStyle(el);
        if (SCROLLING[style.overflowX] && visible(el)) {
          containers.push({ el: path(el), clientWidth: el.clientWidth, scrollWidth: el.scrollWidth,
                            cue: el.classList.contains("opsense-overflowing") });
        }
      }
    }
    var images = [];
    var imgs = document.querySelectorAll("article img");
    for (var j = 0; j < imgs.length; j++) {
      images.push({ src: imgs[j].getAttribute("src"), naturalWidth: imgs[j].naturalWidth,
                    attrWidth: imgs[j].getAttribute("width"), shownWidth: imgs[j].getBoundingClientRect().width });
    }
    // Claims tables: is the verdict column's header inside the visible part of its scroll box?
    var verdicts = [];
    var heads = document.querySelectorAll("article th");
    for (var k = 0; k < heads.length; k++) {
      if ((heads[k].textContent || "").trim() !== "verdict") continue;
      var box = scrollAncestor(heads[k]) || heads[k].closest("table");
      var h = heads[k].getBoundingClientRect(), b = box.getBoundingClientRect();
      verdicts.push({ table: path(heads[k].closest("table")),
                      visible: h.left >= b.left - 1 && h.right <= b.right + 1 && h.right <= vw + 1 });
    }
    offenders.sort(function (a, b) { return b.width - a.width; });
    var out = document.getElementById("opsense-layout-probe");
    if (!out) {
      out = document.createElement("script");
      out.type = "application/json";
      out.id = "opsense-layout-probe";
      document.head.appendChild(out);
    }
    var json = JSON.stringify({ width: vw, scrollWidth: de.scrollWidth, offenders: offenders.slice(0, 20),
                                       containers: containers, images: images,
                                       verdicts: verdicts });
    out.textContent = json;
    // Inside the phone-width frame of the tests' wrapper page: report to it as well.
    if (window.parent !== window) window.parent.postMessage(json, "*");
  }

  setInterval(measure, 250);
  window.addEventListener("load", measure);
})();
