/* Passkeys (WebAuthn) for the two-factor pages: buttons marked data-passkey="register" or
   "signin" fetch options from data-options, run the browser's ceremony and post the answer to
   data-finish, then follow the {"redirect": ...} the server returns. No inline script (CSP). */
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return o;
  }

  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return o;
  }

  function credentialJSON(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      out.response.userHandle = r.userHandle ? toB64url(r.userHandle) : undefined;
    }
    return out;
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) { throw new Error(data.message || ("HTTP " + resp.status)); }
        return data;
      });
    });
  }

  function wire(button) {
    var status = button.parentNode.querySelector("[data-passkey-status]");
    function say(text, bad) {
      if (status) { status.textContent = text; status.className = "passkey-status" + (bad ? " flash error" : ""); }
    }
    button.addEventListener("click", function () {
      if (!window.PublicKeyCredential || !navigator.credentials) { say(button.dataset.unsupported, true); return; }
      var mode = button.dataset.passkey, csrf = button.dataset.csrf;
      button.disabled = true;
      say("…", false);
      post(button.dataset.options, csrf).then(function (options) {
        return mode === "register"
          ? navigator.credentials.create({ publicKey: creationOptions(options) })
          : navigator.credentials.get({ publicKey: requestOptions(options) });
      }).then(function (cred) {
        var body = { credential: credentialJSON(cred) };
        if (button.dataset.nameInput) {
          var field = document.querySelector(button.dataset.nameInput);
          body.name = field ? field.value : "";
        }
        return post(button.dataset.finish, csrf, body);
      }).then(function (done) {
        window.location.assign(done.redirect || window.location.href);
      }).catch(function (err) {
        button.disabled = false;
        say(button.dataset.failed + (err && err.message ? ": " + err.message : ""), true);
      });
    });
  }

  function start() { document.querySelectorAll("button[data-passkey]").forEach(wire); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
