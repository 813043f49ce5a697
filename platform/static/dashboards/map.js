/* Camera map: Leaflet served by camnet itself; tiles only when MAP_TILE_URL is set, else a plain
   background with each commune's outline, so a monitoring room without internet still sees it.
   Names come from users (communes, cameras, villages): they reach the page only as text (label())
   or escaped (esc()), never as HTML, since Leaflet puts a string tooltip or popup in innerHTML. */
(function () {
  "use strict";
  function draw(el) {
    var data = JSON.parse(document.getElementById(el.id + "-data").textContent);
    var height = el.getAttribute("data-height");
    if (height && /^[0-9.]+(px|em|rem|vh)$/.test(height)) { el.style.height = height; }
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!data.tiles });
    if (data.tiles) { L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map); }
    else { el.classList.add("no-tiles"); }
    var byCommune = {}, all = [], clustered = {};
    data.points.forEach(function (p) {
      if (p.lat === null || p.lon === null) { return; }
      var colour = data.colours[p.status] || "#555";
      var m = L.circleMarker([p.lat, p.lon], { radius: 7, color: "#fff", weight: 1.5, fillColor: colour,
                                              fillOpacity: 0.95, className: "cam-marker cam-" + p.status });
      var label = (data.communes[p.commune_id] || "") + " · " + p.code;
      m.bindPopup("<b>" + esc(p.code) + "</b> " + esc(p.name) + "<br>" + esc(data.labels[p.status] || p.status) +
                  (p.village ? "<br>" + esc(p.village) : "") + (p.road ? " · " + esc(p.road) : "") +
                  '<br><a href="' + esc(p.drill) + '">→ ' + esc(label) + "</a>");
      m.addTo(map);
      all.push([p.lat, p.lon]);
      (byCommune[p.commune_id] = byCommune[p.commune_id] || []).push([p.lat, p.lon]);
    });
    (data.clusters || []).forEach(function (c) {
      // a big area: one marker per commune, sized by its cameras, coloured by the share working
      if (c.lat === null || c.lon === null) { return; }
      var working = (c.by_status.active || 0) / Math.max(1, c.cameras);
      var colour = working >= 0.9 ? data.colours.active : (working >= 0.5 ? data.colours.faulty : data.colours.offline);
      var m = L.circleMarker([c.lat, c.lon], { radius: Math.max(8, Math.min(28, 4 * Math.sqrt(c.cameras))),
                                              color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.85,
                                              className: "cam-cluster" });
      var lines = Object.keys(c.by_status).map(function (s) {
        return esc(data.labels[s] || s) + ": " + esc(c.by_status[s]);
      });
      var name = data.communes[c.commune_id] || String(c.commune_id);
      m.bindPopup("<b>" + esc(name) + "</b> · " + esc(c.cameras) + " camera<br>" + lines.join("<br>") +
                  '<br><a href="' + esc(c.drill) + '">→ ' + esc(name) + "</a>");
      m.bindTooltip(label(name), { permanent: true, direction: "right", className: "commune-label" });
      m.addTo(map);
      all.push([c.lat, c.lon]);
      clustered[c.commune_id] = true;
    });
    Object.keys(byCommune).forEach(function (cid) {
      var b = L.latLngBounds(byCommune[cid]).pad(0.15);
      L.rectangle(b, { color: "#0d2a45", weight: 1, dashArray: "4 3", fill: true, fillOpacity: 0.04,
                       interactive: false }).addTo(map);
      L.marker(b.getNorthWest(), { opacity: 0, interactive: false, keyboard: false })
        .bindTooltip(label(data.communes[cid] || cid), { permanent: true, direction: "right", className: "commune-label" })
        .addTo(map);
    });
    if (all.length) { map.fitBounds(L.latLngBounds(all).pad(0.1)); } else { map.setView([16.0, 106.5], 6); }
    el.setAttribute("data-markers", String(all.length));
    el.setAttribute("data-communes", String(Object.keys(byCommune).length + Object.keys(clustered).length));
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function label(text) { var span = document.createElement("span"); span.textContent = String(text); return span; }
  function start() { document.querySelectorAll("[data-map]").forEach(draw); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
