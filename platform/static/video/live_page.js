// The live player page: one camera, its state shown in words, full screen, snapshots as fallback.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var video = document.getElementById("live-video");
  var img = document.getElementById("live-img");
  var label = document.getElementById("live-state");
  var reason = box.getAttribute("data-reason") || "";
  var query = reason ? "?reason=" + encodeURIComponent(reason) : "";

  function say(key, detail) {
    label.textContent = box.getAttribute("data-t-" + key) || detail || key;
    box.setAttribute("data-state", key);
  }

  function snapshots(key, detail) {
    say(key, detail);
    video.hidden = true;
    img.hidden = false;
    var fallback = box.getAttribute("data-fallback") + (query ? query + "&" : "?") + "max_seconds=300";
    var still = box.getAttribute("data-snapshot");
    img.addEventListener("error", function () { if (still && img.src.indexOf(still) < 0) { img.src = still; } }, { once: true });
    img.src = fallback;
  }

  function onState(name, detail) {
    if (name === "h265" || name === "snapshots" || name === "unsupported") { snapshots(name, detail); return; }
    say(name, detail);
  }

  var mode = box.getAttribute("data-mode");
  if (mode === "video") {
    window.CamnetLive.play(video, box.getAttribute("data-src") + query, onState);
  } else if (mode === "snapshots") {
    snapshots(document.getElementById("live-h265") ? "h265" : "snapshots");
  } else {
    say("denied");
  }

  document.getElementById("live-full").addEventListener("click", function () {
    if (document.fullscreenElement) { document.exitFullscreen(); } else if (box.requestFullscreen) { box.requestFullscreen(); }
  });
  var clock = document.getElementById("live-clock");
  setInterval(function () { clock.textContent = new Date().toLocaleTimeString(); }, 1000);
})();
