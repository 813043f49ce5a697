/* Playback on a timeline: Media Source Extensions over the day's recorded segments.
   Each segment (a fragmented MP4 starting at time 0) is appended with timestampOffset = its start
   in seconds of the day, so video.currentTime is the time of day and consecutive segments meet;
   a gap without recording is jumped over. Segments are fetched one ahead (audited by the server),
   and what lies more than two minutes behind is removed from the buffer. */
(function () {
  "use strict";
  var box = document.getElementById("player");
  if (!box || !window.MediaSource) { return; }
  var video = document.getElementById("pb-video");
  var state = document.getElementById("pb-state");
  var clock = document.getElementById("pb-clock");
  var bar = document.getElementById("daybar");
  var cursor = document.getElementById("pb-cursor");
  var sel = document.getElementById("pb-sel");
  var dayStart = Date.parse(box.getAttribute("data-day-start"));
  var segUrl = box.getAttribute("data-segment-url");
  var segments = [];
  var ms = null, sb = null, queue = [], next = -1, generation = 0, busy = false;
  var frame = 0.04, rate = 1;

  function secOf(iso) { return (Date.parse(iso) - dayStart) / 1000; }
  function say(text) { state.textContent = text; state.hidden = !text; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hms(s) { s = Math.max(0, Math.floor(s)); return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60); }
  window.camnetPlayback = { video: video, segments: function () { return segments; }, seek: function (s) { seekTo(s); } };

  function indexAt(s) {
    for (var i = 0; i < segments.length; i++) {
      if (segments[i].end > s) { return i; }
    }
    return -1;
  }

  function pump() {
    if (!sb || sb.updating || busy || !queue.length) { return; }
    var item = queue.shift();
    try {
      sb.timestampOffset = item.offset;
      sb.appendBuffer(item.data);
    } catch (e) {
      if (e.name === "QuotaExceededError") { queue.unshift(item); trim(true); }
      else { say("Lỗi phát / playback error: " + e.name); }
    }
  }

  function fetchSegment(i, gen) {
    if (i < 0 || i >= segments.length) { return Promise.resolve(); }
    busy = true;
    var seg = segments[i];
    var url = segUrl.replace("ID", String(seg.id));
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.arrayBuffer();
    }).then(function (data) {
      busy = false;
      if (gen !== generation) { return; }
      queue.push({ offset: seg.start, data: data });
      next = i + 1;
      pump();
    }).catch(function (e) { busy = false; say("Không tải được đoạn ghi / cannot load the segment: " + e.message); });
  }

  function ahead() {
    if (!sb || busy || next < 0 || next >= segments.length || queue.length) { return; }
    var b = video.buffered, end = b.length ? b.end(b.length - 1) : 0;
    if (end - video.currentTime < 30 * Math.max(1, rate)) { fetchSegment(next, generation); }
  }

  function trim(force) {
    if (!sb || sb.updating || !video.buffered.length) { return; }
    var keep = video.currentTime - (force ? 5 : 120);
    if (video.buffered.start(0) < keep - 1) { sb.remove(0, keep); }
  }

  function setup() {
    ms = new MediaSource();
    video.src = URL.createObjectURL(ms);
    return new Promise(function (resolve) {
      ms.addEventListener("sourceopen", function () {
        URL.revokeObjectURL(video.src);
        sb = ms.addSourceBuffer('video/mp4; codecs="avc1.640028"');
        sb.mode = "segments";
        sb.addEventListener("updateend", function () { pump(); ahead(); });
        resolve();
      }, { once: true });
    });
  }

  function seekTo(s) {
    var i = indexAt(s);
    if (i < 0) { say("Không có ghi hình sau thời điểm này / nothing recorded after this moment"); return; }
    if (segments[i].start > s) { s = segments[i].start; }
    generation += 1;
    queue = [];
    var gen = generation;
    var buffered = false;
    for (var k = 0; sb && k < video.buffered.length; k++) {
      if (video.buffered.start(k) <= s && video.buffered.end(k) > s + 0.5) { buffered = true; }
    }
    if (buffered) { video.currentTime = s; video.play().catch(function () {}); return; }
    say("Đang tải… / Loading…");
    var ready = sb ? Promise.resolve() : setup();
    ready.then(function () {
      if (sb.updating) { sb.abort(); }
      var clear = video.buffered.length ? new Promise(function (res) {
        sb.addEventListener("updateend", res, { once: true });
        sb.remove(0, 86400 * 2);
      }) : Promise.resolve();
      return clear;
    }).then(function () { return fetchSegment(i, gen); }).then(function () {
      if (gen !== generation) { return; }
      var go = function () {
        video.currentTime = s;
        video.playbackRate = rate;
        video.play().then(function () { say(""); }).catch(function () { say(""); });
      };
      if (sb.updating) { sb.addEventListener("updateend", go, { once: true }); } else { go(); }
    });
  }

  // a stall at the end of a buffered range: jump to the next range (a gap without recording)
  video.addEventListener("waiting", function () {
    var b = video.buffered, t = video.currentTime;
    for (var k = 0; k < b.length; k++) {
      if (b.start(k) > t && b.start(k) - t < 3600 * 24) { video.currentTime = b.start(k) + 0.01; return; }
    }
    ahead();
  });
  video.addEventListener("timeupdate", function () {
    var t = video.currentTime;
    clock.textContent = hms(t);
    cursor.setAttribute("x", String(t - 60));
    ahead();
    trim(false);
  });
  if (video.requestVideoFrameCallback) {
    var last = null;
    var measure = function (now, meta) {
      if (last !== null && meta.mediaTime > last && meta.mediaTime - last < 1) { frame = meta.mediaTime - last; }
      last = meta.mediaTime;
      video.requestVideoFrameCallback(measure);
    };
    video.requestVideoFrameCallback(measure);
  }

  // the day bar: click to play from a moment, drag to choose an export range
  function barSec(ev) {
    var r = bar.getBoundingClientRect();
    return Math.max(0, Math.min(86400, (ev.clientX - r.left) / r.width * 86400));
  }
  var dragFrom = null;
  bar.addEventListener("mousedown", function (ev) { dragFrom = barSec(ev); });
  bar.addEventListener("mousemove", function (ev) {
    if (dragFrom === null) { return; }
    var a = Math.min(dragFrom, barSec(ev)), b = Math.max(dragFrom, barSec(ev));
    sel.setAttribute("x", String(a)); sel.setAttribute("width", String(b - a));
  });
  bar.addEventListener("mouseup", function (ev) {
    var to = barSec(ev), from = dragFrom;
    dragFrom = null;
    if (from === null) { return; }
    if (Math.abs(to - from) < 120) { sel.setAttribute("width", "0"); seekTo(to); return; }
    var form = document.getElementById("pb-export");
    if (form) { form.start.value = hms(Math.min(from, to)); form.end.value = hms(Math.max(from, to)); }
  });

  document.getElementById("pb-play").addEventListener("click", function () {
    if (!sb) { seekTo(segments.length ? segments[0].start : 0); return; }
    if (video.paused) { video.play().catch(function () {}); } else { video.pause(); }
  });
  document.getElementById("pb-step").addEventListener("click", function () { video.pause(); video.currentTime += frame; });
  document.getElementById("pb-step-back").addEventListener("click", function () { video.pause(); video.currentTime = Math.max(0, video.currentTime - frame); });
  Array.prototype.forEach.call(document.querySelectorAll(".pb-rate"), function (btn) {
    btn.addEventListener("click", function () {
      rate = parseFloat(btn.getAttribute("data-rate")) || 1;
      video.playbackRate = rate;
      Array.prototype.forEach.call(document.querySelectorAll(".pb-rate"), function (b) { b.classList.toggle("on", b === btn); });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".thumb, .jump"), function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); seekTo(secOf(a.getAttribute("data-at"))); });
  });

  var exportForm = document.getElementById("pb-export");
  if (exportForm) {
    exportForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var day = box.getAttribute("data-day-start");
      var base = new Date(dayStart);
      function at(v) {
        var p = v.split(":");
        var d = new Date(base.getTime() + ((+p[0]) * 3600 + (+p[1]) * 60 + (+(p[2] || 0))) * 1000);
        return d.toISOString();
      }
      var body = { start: at(exportForm.start.value), end: at(exportForm.end.value), reason: exportForm.reason.value };
      if (exportForm.incident_id && exportForm.incident_id.value) { body.incident_id = parseInt(exportForm.incident_id.value, 10); }
      var out = document.getElementById("pb-export-result");
      out.hidden = false;
      out.textContent = "Đang xuất… / Exporting…";
      fetch(box.getAttribute("data-export-url"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": box.getAttribute("data-csrf") },
        body: JSON.stringify(body)
      }).then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
        .then(function (res) {
          if (!res.ok) { out.textContent = res.d.message || "error"; return; }
          out.textContent = "";
          var a = document.createElement("a");
          a.href = res.d.download || ("/api/v1/clips/" + res.d.id + "/download");
          a.textContent = "MP4 #" + res.d.id + " · SHA-256 " + res.d.sha256;
          out.appendChild(a);
        }).catch(function (e) { out.textContent = e.message; });
      return day;
    });
  }

  fetch(box.getAttribute("data-list-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.json(); })
    .then(function (d) {
      segments = (d.segments || []).map(function (s) { return { id: s.id, start: secOf(s.started_at), end: secOf(s.ended_at) }; });
      box.setAttribute("data-segments", String(segments.length));
      var at = box.getAttribute("data-at");
      if (at) { seekTo(secOf(at)); }
    });
})();
