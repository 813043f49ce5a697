/* Camera map (dashboards/_map.html): Leaflet served by camnet itself.
   Base layer: camnet's own PMTiles file (MAP_PMTILES_PATH, read in HTTP Range requests by the
   vendored pmtiles library), else the tile server MAP_TILE_URL, else a plain background.
   Layers: commune outlines (stored boundaries; without one, the box around the commune's
   cameras, dashed), cameras coloured by status, incidents of the last 7/30/90 days.
   Labels never collide: after every zoom or move, labels are placed in order of importance
   (communes first, then cameras) and one that would overlap a placed one is hidden.
   Names come from users (communes, cameras, villages): they reach the page only as text (label())
   or escaped (esc()), never as HTML, since Leaflet puts a string tooltip or popup in innerHTML. */
(function () {
  "use strict";

  function draw(el) {
    var data = JSON.parse(document.getElementById(el.id + "-data").textContent);
    var height = el.getAttribute("data-height");
    if (height && /^[0-9.]+(px|em|rem|vh)$/.test(height)) { el.style.height = height; }
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: !!(data.tiles || data.pmtiles) });
    baseLayer(map, el, data);

    var outlines = L.featureGroup(), cameras = L.featureGroup(), incidents = L.featureGroup();
    var byCommune = {}, all = [], clustered = {};
    data.points.forEach(function (p) {
      if (p.lat === null || p.lon === null) { return; }
      var colour = data.colours[p.status] || "#555";
      var m = L.circleMarker([p.lat, p.lon], { radius: 7, color: "#fff", weight: 1.5, fillColor: colour,
                                              fillOpacity: 0.95, className: "cam-marker cam-" + p.status });
      var name = (data.communes[p.commune_id] || "") + " · " + p.code;
      m.bindPopup("<b>" + esc(p.code) + "</b> " + esc(p.name) + "<br>" + esc(data.labels[p.status] || "") +
                  (p.village ? "<br>" + esc(p.village) : "") + (p.road ? " · " + esc(p.road) : "") +
                  (p.drill ? '<br><a href="' + esc(p.drill) + '">→ ' + esc(name) + "</a>" : ""));
      m.bindTooltip(label(p.code), { permanent: true, direction: "top", offset: [0, -6],
                                     className: "map-label cam-label" });
      m.addTo(cameras);
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
        return esc(data.labels[s] || "") + ": " + esc(c.by_status[s]);
      });
      var name = data.communes[c.commune_id] || "";
      m.bindPopup("<b>" + esc(name) + "</b> · " + esc(c.cameras) + " camera<br>" + lines.join("<br>") +
                  (c.drill ? '<br><a href="' + esc(c.drill) + '">→ ' + esc(name) + "</a>" : ""));
      m.bindTooltip(label(name), { permanent: true, direction: "right", className: "map-label commune-label" });
      m.addTo(cameras);
      all.push([c.lat, c.lon]);
      clustered[c.commune_id] = true;
    });

    var outlined = {};
    Object.keys(data.boundaries || {}).forEach(function (cid) {
      var shape = L.geoJSON(data.boundaries[cid], { interactive: false, style: function () {
        return { color: "#0d2a45", weight: 2, fill: true, fillOpacity: 0.05, className: "commune-outline" };
      } });
      shape.addTo(outlines);
      outlined[cid] = shape.getBounds();
    });
    Object.keys(byCommune).forEach(function (cid) {
      if (outlined[cid]) { return; }
      var b = L.latLngBounds(byCommune[cid]).pad(0.15);  // no stored outline: the cameras' box, dashed
      L.rectangle(b, { color: "#0d2a45", weight: 1, dashArray: "4 3", fill: true, fillOpacity: 0.04,
                       interactive: false, className: "commune-outline commune-outline-approx" }).addTo(outlines);
      outlined[cid] = b;
    });
    Object.keys(outlined).forEach(function (cid) {
      if (clustered[cid] || !data.communes[cid]) { return; }
      L.marker(outlined[cid].getCenter(), { opacity: 0, interactive: false, keyboard: false })
        .bindTooltip(label(data.communes[cid]), { permanent: true, direction: "center",
                                                  className: "map-label commune-label" })
        .addTo(outlines);
      all.push(outlined[cid].getNorthWest(), outlined[cid].getSouthEast());
    });

    var shown = data.incidents_shown;

    outlines.addTo(map);
    cameras.addTo(map);
    var overlays = {};
    overlays[data.ui.outlines] = outlines;
    overlays[data.ui.cameras] = cameras;
    if (shown) {
      incidents.addTo(map);
      overlays[data.ui.incidents] = incidents;
    }
    L.control.layers(null, overlays, { collapsed: true }).addTo(map);

    if (all.length) { map.fitBounds(L.latLngBounds(all).pad(0.1)); } else { map.setView([16.0, 106.5], 6); }
    el.setAttribute("data-markers", String(data.points.filter(located).length +
                                           (data.clusters || []).filter(located).length));
    el.setAttribute("data-communes", String(Object.keys(byCommune).length + Object.keys(clustered).length));
    el.setAttribute("data-outlines", String(Object.keys(data.boundaries || {}).length));

    if (shown) { timeFilter(el, map, data, incidents); }
    var placing = function () { declutter(el); el.setAttribute("data-zoom", String(map.getZoom())); };
    map.on("zoomend moveend overlayadd overlayremove", placing);
    placing();
  }

  function located(p) { return p.lat !== null && p.lon !== null; }

  function baseLayer(map, el, data) {
    if (data.pmtiles && window.pmtiles) {
      var source = new pmtiles.PMTiles(data.pmtiles);
      pmtiles.leafletRasterLayer(source, { maxZoom: 19, className: "base-pmtiles" }).addTo(map);
      el.setAttribute("data-base", "pmtiles");
    } else if (data.tiles) {
      L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map);
      el.setAttribute("data-base", "tiles");
    } else {
      el.classList.add("no-tiles");
      el.setAttribute("data-base", "none");
    }
  }

  // Incidents of the last N days: the filter's buttons (in the page, see _map.html) choose N.
  function timeFilter(el, map, data, layer) {
    var all = [];
    // incidents lie under the cameras (a pane below the overlay pane): a camera stays clickable
    map.createPane("incidents").style.zIndex = 390;
    (data.incidents || []).forEach(function (i) {
      var m = L.circleMarker([i.lat, i.lon], { radius: 5, color: "#1b1b1b", weight: 1, fillColor: i.colour,
                                              fillOpacity: 0.9, className: "incident-marker", pane: "incidents" });
      m.bindPopup(esc(i.category) + "<br>" + esc(i.when) +
                  '<br><a href="' + esc(i.drill) + '">→ ' + esc(data.ui.open) + "</a>");
      all.push({ marker: m, age: i.age_days });
    });
    var box = document.getElementById(el.id + "-filter");
    var count = document.getElementById(el.id + "-count");
    function show(days) {
      layer.clearLayers();
      var n = 0;
      all.forEach(function (x) { if (x.age <= days) { x.marker.addTo(layer); n += 1; } });
      el.setAttribute("data-incidents", String(n));
      el.setAttribute("data-days", String(days));
      if (count) { count.textContent = data.ui.count.replace("{n}", String(n)).replace("{d}", String(days)); }
      if (box) {
        box.querySelectorAll("button[data-days]").forEach(function (b) {
          b.setAttribute("aria-pressed", b.getAttribute("data-days") === String(days) ? "true" : "false");
        });
      }
    }
    if (box) {
      box.hidden = false;
      box.addEventListener("click", function (ev) {
        var b = ev.target.closest("button[data-days]");
        if (b) { show(parseInt(b.getAttribute("data-days"), 10)); declutter(el); }
      });
    }
    show(data.days[1] || data.days[0]);
  }

  // Hide every label that would overlap one already placed (communes first, then cameras).
  function declutter(el) {
    var labels = Array.prototype.slice.call(el.querySelectorAll(".map-label"));
    labels.sort(function (a, b) { return rank(a) - rank(b); });
    var placed = [];
    labels.forEach(function (lab) {
      lab.classList.remove("map-label-hidden");
      var r = lab.getBoundingClientRect();
      if (!r.width && !r.height) { return; }
      var clash = placed.some(function (p) {
        return r.left < p.right && p.left < r.right && r.top < p.bottom && p.top < r.bottom;
      });
      if (clash) { lab.classList.add("map-label-hidden"); } else { placed.push(r); }
    });
  }
  function rank(lab) { return lab.classList.contains("commune-label") ? 0 : 1; }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function label(text) { var span = document.createElement("span"); span.textContent = String(text); return span; }
  function start() { document.querySelectorAll("[data-map]").forEach(draw); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
