// Alerts: the unread badge refreshed every minute, and Web Push subscription (no inline script: CSP).
(function () {
  "use strict";
  function refreshBadge() {
    var badge = document.querySelector("[data-alerts-unread]");
    if (!badge || !window.fetch) return;
    fetch(badge.getAttribute("data-alerts-unread"), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var count = badge.querySelector(".alerts-count");
        if (!data.unread) { if (count) count.remove(); return; }
        if (!count) { count = document.createElement("span"); count.className = "alerts-count"; badge.appendChild(document.createTextNode(" ")); badge.appendChild(count); }
        count.textContent = String(data.unread);
      }).catch(function () {});
  }
  function b64ToBytes(b64) {
    var pad = "=".repeat((4 - b64.length % 4) % 4);
    var raw = atob((b64 + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function subscribe(button) {
    var status = document.getElementById("alerts-push-status");
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) { status.textContent = "Trình duyệt không hỗ trợ / not supported"; return; }
    fetch(button.getAttribute("data-key-url"), {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (key) {
        return navigator.serviceWorker.register(button.getAttribute("data-sw-url") || "/static/alerts/sw.js").then(function (reg) {
          return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: b64ToBytes(key.publicKey)});
        });
      })
      .then(function (sub) {
        return fetch(button.getAttribute("data-subscribe-url"), {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": button.getAttribute("data-csrf")},
          body: JSON.stringify(sub.toJSON())});
      })
      .then(function (r) { status.textContent = r.ok ? "Đã bật / on" : "Lỗi / failed"; })
      .catch(function (e) { status.textContent = "Lỗi / failed: " + e; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("alerts-push");
    if (button) button.addEventListener("click", function () { subscribe(button); });
    setInterval(refreshBadge, 60000);
  });
})();
