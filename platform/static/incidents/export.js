/* Poll the export's progress until the archive is ready (or failed). */
(function () {
  "use strict";
  var box = document.getElementById("export-status");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function show(d) {
    document.getElementById("export-progress").value = d.progress;
    document.getElementById("export-percent").textContent = d.progress + "%";
    document.getElementById("export-files").textContent = d.files_done + "/" + d.files_total;
    box.setAttribute("data-status", d.status);
    if (d.status === "ready") { document.getElementById("export-download").hidden = false; }
    if (d.status === "failed") { var e = document.getElementById("export-error"); e.hidden = false; e.textContent = d.error || "error"; }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (d) { show(d); if (d.status === "pending" || d.status === "building") { setTimeout(poll, 700); } })
      .catch(function () { setTimeout(poll, 2000); });
  }
  var st = box.getAttribute("data-status");
  if (st === "pending" || st === "building") { poll(); }
})();
