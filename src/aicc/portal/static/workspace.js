// AICC portal: upload to a project's workspace in 8 MiB parts, with a progress bar. The server checks the
// size against the quota before any byte is sent, and each part lands at the offset it holds.
(function () {
  "use strict";
  var form = document.getElementById("ws-upload");
  if (!form) { return; }
  var PART = 8 * 1024 * 1024;
  var bar = document.getElementById("ws-progress");
  var status = document.getElementById("ws-status");
  var base = form.dataset.base, csrf = form.dataset.csrf, dir = form.dataset.dir;

  function send(method, url, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRF", csrf);
      if (typeof body === "string") { xhr.setRequestHeader("Content-Type", "application/json"); }
      if (onProgress) { xhr.upload.onprogress = function (e) { onProgress(e.loaded); }; }
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) { resolve(data); }
        else { reject(new Error((data && (data.detail || data.title)) || ("HTTP " + xhr.status))); }
      };
      xhr.onerror = function () { reject(new Error("connection lost")); };
      xhr.send(body);
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var file = document.getElementById("ws-file").files[0];
    if (!file) { return; }
    var path = (dir ? dir + "/" : "") + file.name;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "";
    send("POST", base + "/uploads", JSON.stringify({path: path, size: file.size})).then(function (up) {
      var offset = up.offset;
      function next() {
        if (offset >= file.size) { return send("POST", base + "/uploads/" + up.id + "/finish", "{}"); }
        var end = Math.min(offset + PART, file.size);
        return send("PUT", base + "/uploads/" + up.id + "?offset=" + offset, file.slice(offset, end),
          function (loaded) { bar.value = 100 * (offset + loaded) / Math.max(file.size, 1); })
          .then(function (state) { offset = state.offset; return next(); });
      }
      return next();
    }).then(function (done) {
      bar.value = 100;
      status.textContent = done.path + " · sha256 " + done.sha256;
      window.location.reload();
    }).catch(function (err) { status.textContent = err.message; });
  });
}());
