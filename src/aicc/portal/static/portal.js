// AICC portal: the one script. Appends new log output of a running job and updates its state,
// by polling the portal's own /jobs/{id}/log endpoint. Pages work without it.
(function () {
  "use strict";
  var log = document.getElementById("job-log");
  if (!log || log.dataset.active !== "true") { return; }
  var offset = parseInt(log.dataset.offset || "0", 10);
  var stateEl = document.getElementById("job-state");
  var reasonEl = document.getElementById("job-reason");
  var MAX = 200000;
  function poll() {
    fetch(log.dataset.url + "?offset=" + offset, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) {
        if (d.data) {
          var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.textContent = (log.textContent + d.data).slice(-MAX);
          if (atEnd) { log.scrollTop = log.scrollHeight; }
        }
        offset = d.next_offset;
        if (stateEl && stateEl.dataset.state !== d.state) {
          stateEl.dataset.state = d.state;
          stateEl.innerHTML = "";
          var span = document.createElement("span");
          span.className = "state state-" + d.state;
          span.textContent = d.state_label;
          stateEl.appendChild(span);
        }
        if (reasonEl) { reasonEl.textContent = d.reason; }
        if (!d.finished) { window.setTimeout(poll, 2000); }
        else { var cancel = document.querySelector("form[action$='/cancel']"); if (cancel) { cancel.hidden = true; } }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1500);
}());
