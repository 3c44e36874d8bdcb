// AICC portal: the one script. While a job runs, appends new output to its log panes and updates its
// state and reason, by polling the portal's own /jobs/{id}/log endpoint. Every page works without it.
(function () {
  "use strict";
  var MAX = 200000;
  var stateEl = document.getElementById("job-state");
  var reasonEl = document.getElementById("job-reason");

  function showState(d) {
    if (stateEl && stateEl.dataset.state !== d.state) {
      stateEl.dataset.state = d.state;
      var span = document.createElement("span");
      span.className = "state state-" + d.state;
      span.textContent = d.state_label;
      stateEl.replaceChildren(span);
    }
    if (reasonEl) { reasonEl.textContent = d.reason; }
    var facts = d.facts || {};
    Object.keys(facts).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.textContent = facts[id]; }
    });
    var flash = document.getElementById("job-flash");  // "waits for the next cycle": true only while pending
    if (flash && d.state !== "pending") { flash.hidden = true; }
    if (d.finished) {
      var cancel = document.querySelector("form[action$='/cancel']");
      if (cancel) { cancel.hidden = true; }
      var note = document.getElementById("log-note");
      if (note && d.note) { note.textContent = d.note; }
    }
  }

  function follow(pane, reportsState) {
    var offset = parseInt(pane.dataset.offset || "0", 10);
    function poll() {
      fetch(pane.dataset.url + "&offset=" + offset, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (d) {
          if (d.data) {
            var atEnd = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
            pane.textContent = (pane.textContent + d.data).slice(-MAX);
            if (atEnd) { pane.scrollTop = pane.scrollHeight; }
          }
          offset = d.next_offset;
          if (reportsState) { showState(d); }
          if (!d.finished || d.data) { window.setTimeout(poll, d.data ? 500 : 2000); }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, 1500);
  }

  var panes = document.querySelectorAll("pre.log[data-url]");
  for (var i = 0; i < panes.length; i++) {
    if (panes[i].dataset.active === "true") { follow(panes[i], i === 0); }
  }
}());
