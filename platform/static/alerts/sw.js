// Service worker: shows a camnet alert pushed by the server (payload: {id, title, body, url}).
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {title: "camnet", body: event.data && event.data.text()}; }
  event.waitUntil(self.registration.showNotification(data.title || "camnet", {body: data.body || "", tag: data.id, data: data}));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/alerts";
  event.waitUntil(clients.openWindow(url));
});
