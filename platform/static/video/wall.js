// Monitoring wall: 1/4/9/16 tiles a page, turning pages every N seconds, "problems first",
// live video in the visible tiles (CamnetLive) and the newest snapshot everywhere else.
// Runs for days: a fixed set of <video> elements is made once and moved between tiles; players
// are stopped (object URLs revoked, buffers dropped) when their tile leaves the page; the status
// refresh swaps only what changed.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall) { return; }
  var size = parseInt(wall.getAttribute("data-size"), 10) || 9;
  var cycle = (parseInt(wall.getAttribute("data-cycle"), 10) || 0) * 1000;
  var every = Math.max(5, parseInt(wall.getAttribute("data-every"), 10) || 15) * 1000;
  var liveOn = wall.getAttribute("data-live") === "1";
  var problemsFirst = wall.getAttribute("data-problems") === "1";
  var src = wall.getAttribute("data-src");
  var pageLabel = document.getElementById("wall-page");
  var page = 0, timer = null;
  var slots = [];  // {video, player, tile}

  for (var i = 0; i < size; i++) {
    var v = document.createElement("video");
    v.muted = true; v.autoplay = true; v.playsInline = true; v.hidden = true;
    slots.push({ video: v, player: null, tile: null });
  }

  function tiles() { return Array.prototype.slice.call(wall.querySelectorAll(".tile")); }
  function pages() { return Math.max(1, Math.ceil(tiles().length / size)); }

  function order() {
    if (!problemsFirst) { return; }
    var list = tiles(), bad = list.filter(function (t) { return t.getAttribute("data-problem") === "1"; });
    var good = list.filter(function (t) { return t.getAttribute("data-problem") !== "1"; });
    bad.concat(good).forEach(function (t) { wall.appendChild(t); });  // moves, never copies
  }

  function say(tile, name) {
    var el = tile && tile.querySelector(".vstate");
    if (!el) { return; }
    el.textContent = wall.getAttribute("data-t-" + name) || "";
    el.className = "vstate " + name;
  }

  function release(slot) {
    if (slot.player) { slot.player.stop(); slot.player = null; }
    slot.video.hidden = true;
    if (slot.tile) { say(slot.tile, ""); slot.tile = null; }
  }

  function show() {
    var list = tiles(), n = pages();
    if (page >= n) { page = 0; }
    var first = page * size;
    list.forEach(function (t, k) { t.hidden = k < first || k >= first + size; });
    pageLabel.textContent = (page + 1) + " / " + n;
    slots.forEach(function (slot, k) {
      var tile = list[first + k];
      if (slot.tile === tile && slot.player) { return; }  // the same camera stays on: keep its stream
      release(slot);
      if (!tile || !liveOn || tile.getAttribute("data-rtsp") !== "1") { return; }
      slot.tile = tile;
      tile.querySelector(".pic").appendChild(slot.video);
      var id = tile.getAttribute("data-camera");
      slot.player = window.CamnetLive.play(slot.video, "/api/v1/cameras/" + id + "/live/video?profile=sub",
        function (name) {
          if (slot.tile !== tile) { return; }
          say(tile, name);
          slot.video.hidden = !(name === "live" || name === "reconnecting");
          if (name === "h265" || name === "snapshots" || name === "unsupported" || name === "denied") { release(slot); slot.tile = tile; }
        });
    });
  }

  function turn(step) {
    page = (page + step + pages()) % pages();
    order();
    show();
  }

  function restart() {
    if (timer) { clearInterval(timer); }
    timer = cycle ? setInterval(function () { if (!document.hidden) { turn(1); } }, cycle) : null;
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        rows.forEach(function (row) {
          var tile = wall.querySelector('[data-camera="' + row.camera_id + '"]');
          if (!tile) { return; }
          var problem = (row.status === "faulty" || row.status === "offline" ||
                         (row.health !== "ok" && row.health !== "unknown")) ? "1" : "0";
          tile.setAttribute("data-problem", problem);
          tile.className = "tile st-" + row.status + (problem === "1" ? " problem" : "");
          var health = tile.querySelector(".health");
          if (health) { health.textContent = row.health; health.className = "health h-" + row.health; }
          if (!row.snapshot || tile.getAttribute("data-snapshot") === String(row.snapshot.id)) { return; }
          tile.setAttribute("data-snapshot", row.snapshot.id);
          var img = tile.querySelector("img");
          if (!img) {
            var holder = tile.querySelector(".noimg");
            img = document.createElement("img");
            img.alt = row.code;
            if (holder) { holder.parentNode.replaceChild(img, holder); }
          }
          if (!tile.hidden) { img.src = row.snapshot.download; } else { img.setAttribute("data-next", row.snapshot.download); }
          var when = tile.querySelector(".when");
          if (when) { when.textContent = new Date(row.snapshot.taken_at).toLocaleTimeString(); }
        });
        tiles().forEach(function (t) {  // pictures of hidden tiles load when their page shows
          var img = t.querySelector("img[data-next]");
          if (img && !t.hidden) { img.src = img.getAttribute("data-next"); img.removeAttribute("data-next"); }
        });
      })
      .catch(function () { /* next round */ });
  }

  document.getElementById("wall-next").addEventListener("click", function () { turn(1); restart(); });
  document.getElementById("wall-prev").addEventListener("click", function () { turn(-1); restart(); });
  document.getElementById("wall-full").addEventListener("click", function () {
    if (document.fullscreenElement) { document.exitFullscreen(); } else if (wall.requestFullscreen) { wall.requestFullscreen(); }
  });
  order();
  show();
  restart();
  setInterval(refresh, every);
})();
