/* Recorder pulls: send the form to the API, then poll each pending/running pull and move its bar. */
(function () {
  "use strict";
  var box = document.getElementById("recorder");
  if (!box) { return; }
  var form = document.getElementById("rec-form");
  var errorBox = document.getElementById("rec-error");
  var tbody = document.getElementById("rec-pulls");
  var csrf = box.getAttribute("data-csrf");

  function fmt(iso) {
    var d = iso.slice(0, 19).split("T");
    var ymd = d[0].split("-");
    return ymd[2] + "/" + ymd[1] + "/" + ymd[0] + " " + d[1];
  }

  function render(row, p) {
    row.setAttribute("data-status", p.status);
    var bar = row.querySelector("progress");
    bar.max = p.seconds_asked;
    bar.value = p.status === "ready" ? p.seconds_asked : p.seconds_fetched;
    row.querySelector(".rec-secs").textContent = Math.round(bar.value) + " / " + p.seconds_asked + " s";
    row.querySelector(".rec-status").textContent = p.status + (p.error ? " · " + p.error : "");
    var link = row.querySelector(".rec-link");
    if (p.download && !link.firstChild) {
      var a = document.createElement("a");
      a.href = p.download;
      a.textContent = "Tải về / Download";
      link.appendChild(a);
    }
  }

  function newRow(p) {
    var none = tbody.querySelector(".rec-none");
    if (none) { none.remove(); }
    var row = document.createElement("tr");
    row.setAttribute("data-pull", p.id);
    var range = document.createElement("td");
    range.textContent = fmt(p.start_at) + " – " + p.end_at.slice(11, 19);
    var prog = document.createElement("td");
    prog.appendChild(document.createElement("progress"));
    var secs = document.createElement("span");
    secs.className = "rec-secs";
    prog.appendChild(secs);
    var status = document.createElement("td");
    status.className = "rec-status";
    var link = document.createElement("td");
    link.className = "rec-link";
    row.append(range, prog, status, link);
    tbody.insertBefore(row, tbody.firstChild);
    render(row, p);
    return row;
  }

  function poll(row) {
    var id = row.getAttribute("data-pull");
    fetch(box.getAttribute("data-progress-url").replace("ID", id),
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        render(row, p);
        if (p.status === "pending" || p.status === "running") {
          window.setTimeout(function () { poll(row); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(row); }, 3000); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    errorBox.textContent = "";
    var body = { start: form.elements.start.value, end: form.elements.end.value,
                 reason: form.elements.reason.value };
    fetch(box.getAttribute("data-pull-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (!res.ok) {
        errorBox.textContent = (res.data && (res.data.message || res.data.error)) || "Lỗi / Error";
        return;
      }
      poll(newRow(res.data));
    }).catch(function () { errorBox.textContent = "Không gửi được / Could not send"; });
  });

  Array.prototype.forEach.call(tbody.querySelectorAll("tr[data-pull]"), function (row) {
    var s = row.getAttribute("data-status");
    if (s === "pending" || s === "running") { poll(row); }
  });
}());
