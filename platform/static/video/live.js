// Live video player: fragmented MP4 over a chunked HTTP response into Media Source Extensions.
// CamnetLive.play(video, url, onState) -> {stop()}. States: connecting, live, reconnecting,
// denied (401/403/404: not retried), h265 / snapshots / unsupported (the page shows pictures).
// Built to run for days on a wall: one MediaSource per connection, its object URL revoked at once,
// the SourceBuffer trimmed to the last seconds, the element reused, nothing kept between reconnects.
(function () {
  "use strict";
  var KEEP_SECONDS = 8;       // buffered video kept behind the playhead
  var MAX_LAG = 1.2;          // further behind the live edge than this: jump to it
  var MAX_QUEUED = 400;       // chunks waiting for the SourceBuffer (a hidden tab): start over

  function play(video, url, onState) {
    var stopped = false, retry = 1000, timer = null, session = null;

    function state(name, detail) { if (!stopped && onState) { onState(name, detail || ""); } }

    function teardown() {
      if (!session) { return; }
      var s = session;
      session = null;
      s.closed = true;
      try { s.ctrl.abort(); } catch (e) { /* already ended */ }
      if (s.media && s.media.readyState === "open") {
        try { s.media.endOfStream(); } catch (e) { /* updating: dropped with the element's source */ }
      }
      video.removeAttribute("src");
      try { video.load(); } catch (e) { /* nothing loaded */ }
    }

    function again() {
      teardown();
      if (stopped) { return; }
      state("reconnecting");
      timer = setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    }

    function connect() {
      timer = null;
      if (stopped) { return; }
      var s = { ctrl: new AbortController(), queue: [], closed: false, media: null, buffer: null };
      session = s;
      fetch(url, { credentials: "same-origin", signal: s.ctrl.signal, cache: "no-store" })
        .then(function (resp) {
          if (s.closed) { return; }
          if (!resp.ok) {
            return resp.json().catch(function () { return {}; }).then(function (body) {
              var code = body.error || body.code || "";
              if (resp.status === 409 && (code === "h265" || code === "no_rtsp")) {
                stopped = true; teardown(); onState(code === "h265" ? "h265" : "snapshots", body.message || "");
              } else if (resp.status === 401 || resp.status === 403 || resp.status === 404 || resp.status === 422) {
                stopped = true; teardown(); onState("denied", body.message || "");
              } else { again(); }
            });
          }
          var codec = resp.headers.get("X-Camnet-Codec") || "avc1.42e01e";
          var mime = 'video/mp4; codecs="' + codec + '"';
          if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
            stopped = true; teardown(); onState("unsupported", mime);
            return;
          }
          var media = new MediaSource();
          s.media = media;
          var objectUrl = URL.createObjectURL(media);
          media.addEventListener("sourceopen", function () {
            URL.revokeObjectURL(objectUrl);  // the element holds the source; the URL itself is not needed again
            if (s.closed) { return; }
            var sb;
            try { sb = media.addSourceBuffer(mime); } catch (e) { again(); return; }
            sb.mode = "segments";
            s.buffer = sb;
            sb.addEventListener("updateend", function () { tend(s); feed(s); });
            sb.addEventListener("error", function () { if (!s.closed) { again(); } });
            read(s, resp.body.getReader());
          }, { once: true });
          video.src = objectUrl;
        })
        .catch(function () { if (!s.closed) { again(); } });
    }

    function read(s, reader) {
      reader.read().then(function (step) {
        if (s.closed) { reader.cancel().catch(function () {}); return; }
        if (step.done) { again(); return; }
        s.queue.push(step.value);
        if (s.queue.length > MAX_QUEUED) { again(); return; }
        feed(s);
        read(s, reader);
      }).catch(function () { if (!s.closed) { again(); } });
    }

    function feed(s) {
      var sb = s.buffer;
      if (s.closed || !sb || sb.updating || !s.queue.length) { return; }
      var size = 0, i;
      for (i = 0; i < s.queue.length; i++) { size += s.queue[i].byteLength; }
      var data = new Uint8Array(size), at = 0;
      for (i = 0; i < s.queue.length; i++) { data.set(s.queue[i], at); at += s.queue[i].byteLength; }
      s.queue.length = 0;
      try { sb.appendBuffer(data); } catch (e) {
        if (e.name === "QuotaExceededError") { trim(s, 1); } else { again(); }
      }
    }

    function trim(s, keep) {
      var sb = s.buffer;
      if (!sb || sb.updating || !sb.buffered.length) { return false; }
      var start = sb.buffered.start(0), cut = video.currentTime - keep;
      if (cut - start > 2) { sb.remove(start, cut); return true; }
      return false;
    }

    // After each append: follow the live edge, start playing, and drop what is behind.
    function tend(s) {
      var sb = s.buffer;
      if (s.closed || !sb || !sb.buffered.length) { return; }
      var last = sb.buffered.length - 1, start = sb.buffered.start(0), end = sb.buffered.end(last);
      if (video.currentTime < start || end - video.currentTime > MAX_LAG) {
        video.currentTime = Math.max(start, end - 0.15);
      }
      if (video.paused) { var p = video.play(); if (p && p.catch) { p.catch(function () {}); } }
      if (video.readyState >= 2) {
        if (!s.live) { s.live = true; retry = 1000; state("live"); }
      }
      trim(s, KEEP_SECONDS);
    }

    connect();
    state("connecting");
    return {
      stop: function () {
        stopped = true;
        if (timer) { clearTimeout(timer); timer = null; }
        teardown();
      }
    };
  }

  window.CamnetLive = { play: play };
})();
