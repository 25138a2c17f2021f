// Passkeys for Guildhall: add one on /profile, use one at the second sign-in
// step. No inline script: this file is loaded with <script src>, and the
// forms carry the CSRF token in data-csrf.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var msg = (data && data.error && data.error.message) || "That did not work (" + res.status + "). Try again.";
          throw new Error(msg);
        }
        return data;
      });
    });
  }

  // go follows the server's redirect; a link to the page already shown only
  // moves to its #fragment, so reload to show the new state.
  function go(to) {
    var u = new URL(to, window.location.href);
    if (u.pathname === window.location.pathname && u.search === window.location.search) {
      window.location.hash = u.hash;
      window.location.reload();
    } else {
      window.location.assign(u.href);
    }
  }

  function status(form, text) {
    var el = form.querySelector("[role=status]");
    if (el) el.textContent = text;
  }

  function supported(form) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    status(form, "This browser cannot use passkeys.");
    return false;
  }

  var reg = document.getElementById("passkey-register");
  if (reg) {
    status(reg, "");
    reg.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!supported(reg)) return;
      var name = reg.querySelector("[name=name]").value.trim();
      if (!name) { status(reg, "Give the passkey a name first."); return; }
      var csrf = reg.dataset.csrf;
      status(reg, "Follow your browser's prompt…");
      post("/profile/passkeys/options", csrf).then(function (opts) {
        var pk = opts.publicKey;
        pk.challenge = b64urlToBuf(pk.challenge);
        pk.user.id = b64urlToBuf(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
        return navigator.credentials.create({ publicKey: pk });
      }).then(function (cred) {
        return post("/profile/passkeys?name=" + encodeURIComponent(name), csrf, {
          id: cred.id,
          rawId: bufToB64url(cred.rawId),
          type: cred.type,
          response: {
            attestationObject: bufToB64url(cred.response.attestationObject),
            clientDataJSON: bufToB64url(cred.response.clientDataJSON),
            transports: cred.response.getTransports ? cred.response.getTransports() : []
          }
        });
      }).then(function (res) {
        go(res.redirect || "/profile");
      }).catch(function (err) { status(reg, err.message || String(err)); });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!supported(login)) return;
      var csrf = login.dataset.csrf;
      status(login, "Follow your browser's prompt…");
      post("/login/2fa/passkey/options", csrf).then(function (opts) {
        var pk = opts.publicKey;
        pk.challenge = b64urlToBuf(pk.challenge);
        (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
        return navigator.credentials.get({ publicKey: pk });
      }).then(function (cred) {
        return post("/login/2fa/passkey", csrf, {
          id: cred.id,
          rawId: bufToB64url(cred.rawId),
          type: cred.type,
          response: {
            authenticatorData: bufToB64url(cred.response.authenticatorData),
            clientDataJSON: bufToB64url(cred.response.clientDataJSON),
            signature: bufToB64url(cred.response.signature),
            userHandle: cred.response.userHandle ? bufToB64url(cred.response.userHandle) : null
          }
        });
      }).then(function (res) {
        go(res.redirect || "/");
      }).catch(function (err) { status(login, err.message || String(err)); });
    });
  }
})();
