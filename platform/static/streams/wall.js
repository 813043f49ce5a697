// Camera wall: every N seconds ask which snapshot is newest per camera and swap only changed tiles.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall) { return; }
  var every = Math.max(5, parseInt(wall.getAttribute("data-every"), 10) || 15) * 1000;
  var src = wall.getAttribute("data-src");

  function refresh() {
    if (document.hidden) { return; }
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        rows.forEach(function (row) {
          var tile = wall.querySelector('[data-camera="' + row.camera_id + '"]');
          if (!tile || !row.snapshot) { return; }
          if (tile.getAttribute("data-snapshot") === String(row.snapshot.id)) { return; }
          tile.setAttribute("data-snapshot", row.snapshot.id);
          var img = tile.querySelector("img");
          if (!img) {
            var holder = tile.querySelector(".noimg");
            img = document.createElement("img");
            img.alt = row.code;
            if (holder) { holder.parentNode.replaceChild(img, holder); }
          }
          img.src = row.snapshot.download;
          var when = tile.querySelector(".when");
          if (when) { when.textContent = new Date(row.snapshot.taken_at).toLocaleTimeString(); }
          var health = tile.querySelector(".health");
          if (health) { health.textContent = row.health; health.className = "health h-" + row.health; }
          tile.className = "tile st-" + row.status;
        });
      })
      .catch(function () { /* next round */ });
  }
  setInterval(refresh, every);
})();
