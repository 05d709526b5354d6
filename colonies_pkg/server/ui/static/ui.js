// Colonies dashboard: live updates for server-rendered pages. No build step, no dependencies.
// One EventSource per tab (/ui/events) says *that* something changed; the page then re-fetches
// its own URL with X-UI-Fragment: 1 and swaps <main>. If the stream fails, poll every 5 s.
(function () {
  "use strict";
  var POLL_MS = 5000;
  var main = document.getElementById("live");
  var status = document.getElementById("live-status");
  var busy = false, again = false, poller = null;

  function say(text) { if (status) status.textContent = text; }

  function atBottom(el) { return el && el.scrollHeight - el.scrollTop - el.clientHeight < 8; }

  function refresh() {
    if (!main) return;
    if (busy) { again = true; return; }
    var sel = window.getSelection && window.getSelection();
    if (sel && sel.type === "Range" && main.contains(sel.anchorNode)) return; // don't yank text being selected
    busy = true;
    var logs = document.getElementById("logs"), follow = atBottom(logs);
    fetch(location.href, { headers: { "X-UI-Fragment": "1" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) {
        main.innerHTML = html;
        var fresh = document.getElementById("logs");
        if (fresh && follow) fresh.scrollTop = fresh.scrollHeight;
        document.dispatchEvent(new CustomEvent("colonies:refreshed"));
      })
      .catch(function (e) { say("update failed: " + e.message); })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  function poll() {
    if (poller) return;
    say("polling every " + POLL_MS / 1000 + " s");
    poller = setInterval(refresh, POLL_MS);
  }

  function live(query) {
    if (!window.EventSource) { poll(); return; }
    var es = new EventSource("/ui/events?" + query);
    es.addEventListener("changed", refresh);
    es.onopen = function () {
      if (poller) { clearInterval(poller); poller = null; }
      // Whatever changed between rendering this page and (re)connecting was not signalled: catch up once.
      refresh();
      say("live");
    };
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) poll(); else say("reconnecting…");
    };
  }

  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  var picker = document.getElementById("colony-picker");
  if (picker) picker.addEventListener("change", function () { location.href = picker.value; });
  var logs = document.getElementById("logs");
  if (logs) logs.scrollTop = logs.scrollHeight;
  var query = document.body.getAttribute("data-live");
  if (query) live(query);
})();
