// Guildhall's one hand-written script. The pages work without it (forms post,
// menus are <details>); it adds what a browser cannot do alone: menus that
// close on Escape and outside clicks, the phone navigation, the confirmation
// dialog, the busy state of htmx requests, and copy buttons. It runs under the
// strict Content-Security-Policy: no inline script or handler anywhere, so
// every behaviour hangs off data- attributes documented in views/components.
(function () {
  "use strict";

  // --- Menus (<details class="menu">): Escape, outside click, aria-expanded.
  function menus() { return document.querySelectorAll("details.menu"); }
  function syncExpanded(d) {
    var s = d.querySelector(":scope > summary");
    if (s) s.setAttribute("aria-expanded", d.open ? "true" : "false");
  }
  function closeMenu(d, refocus) {
    if (!d.open) return;
    d.open = false;
    syncExpanded(d);
    if (refocus) {
      var s = d.querySelector(":scope > summary");
      if (s) s.focus();
    }
  }
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (!(d instanceof HTMLDetailsElement) || !d.classList.contains("menu")) return;
    syncExpanded(d);
    // One menu at a time.
    if (d.open) menus().forEach(function (o) { if (o !== d) closeMenu(o, false); });
  }, true);
  document.addEventListener("click", function (e) {
    menus().forEach(function (d) { if (d.open && !d.contains(e.target)) closeMenu(d, false); });
    var nav = document.getElementById("sidebar");
    var btn = document.getElementById("nav-toggle");
    if (nav && btn && document.body.classList.contains("nav-open") && !nav.contains(e.target) && !btn.contains(e.target)) {
      setNav(false, false);
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    menus().forEach(function (d) { if (d.open) closeMenu(d, d.contains(document.activeElement)); });
    if (document.body.classList.contains("nav-open")) setNav(false, true);
  });

  // --- Phone navigation: the menu button shows the sidebar under 860 px.
  function setNav(open, refocus) {
    var btn = document.getElementById("nav-toggle");
    if (!btn) return;
    document.body.classList.toggle("nav-open", open);
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var first = document.querySelector("#sidebar a");
      if (first) first.focus();
    } else if (refocus) {
      btn.focus();
    }
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("#nav-toggle");
    if (btn) setNav(!document.body.classList.contains("nav-open"), true);
  });

  // --- Confirmation dialogs (components.Confirm).
  // A trigger [data-confirm="<dialog id>"] opens the dialog; without script it
  // is a link to a confirmation page, or the form itself posts.
  var lastTrigger = null;
  function openDialog(dlg, trigger) {
    lastTrigger = trigger;
    dlg._trigger = trigger;
    dlg.querySelectorAll("[data-confirm-text]").forEach(function (i) { i.value = ""; typeCheck(i); });
    dlg.showModal();
    var first = dlg.querySelector("[autofocus], [data-confirm-text], [data-dialog-close]");
    if (first) first.focus();
  }
  function restoreFocus(dlg) {
    var t = dlg._trigger || lastTrigger;
    // htmx may have re-rendered the row: the new trigger has the same id.
    if (t && !document.contains(t) && t.id) t = document.getElementById(t.id);
    if (t && document.contains(t) && !t.disabled) { t.focus(); return; }
    // The trigger's row was replaced or removed: keep focus on the page.
    var main = document.getElementById("main");
    if (main) { main.setAttribute("tabindex", "-1"); main.focus(); }
  }
  document.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest("[data-confirm]");
    if (t) {
      var dlg = document.getElementById(t.getAttribute("data-confirm"));
      if (dlg && typeof dlg.showModal === "function") {
        e.preventDefault();
        openDialog(dlg, t);
      }
      return;
    }
    var c = e.target.closest && e.target.closest("[data-dialog-close]");
    if (c) {
      var d = c.closest("dialog");
      if (d) { e.preventDefault(); d.close(); }
    }
  });
  document.addEventListener("close", function (e) {
    if (e.target instanceof HTMLDialogElement) restoreFocus(e.target);
  }, true);

  // Type-to-confirm: the button stays disabled until the text matches.
  function typeCheck(input) {
    var form = input.form;
    if (!form) return;
    var ok = input.value.trim() === input.getAttribute("data-confirm-text");
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = !ok; });
  }
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-confirm-text]")) typeCheck(e.target);
  });
  function initTypeChecks(root) {
    root.querySelectorAll("[data-confirm-text]").forEach(typeCheck);
  }

  // The sentence for what a form's current choice takes away: a selected
  // option or checked radio with data-consequence, or a checkbox that changes
  // state (data-consequence-on / -off). "{amount}" is filled from the form's
  // amount field; an empty amount is left for the server to refuse.
  function choiceConsequence(form) {
    var text = null;
    form.querySelectorAll("select").forEach(function (sel) {
      var opt = sel.options[sel.selectedIndex];
      if (!text && opt && opt.getAttribute("data-consequence")) text = opt.getAttribute("data-consequence");
    });
    form.querySelectorAll("input[type=radio]:checked[data-consequence]").forEach(function (r) {
      if (!text) text = r.getAttribute("data-consequence");
    });
    form.querySelectorAll("input[type=checkbox]").forEach(function (c) {
      if (text || c.checked === c.defaultChecked) return;
      text = c.getAttribute(c.checked ? "data-consequence-on" : "data-consequence-off");
    });
    if (text && text.indexOf("{amount}") >= 0) {
      var amt = form.querySelector("[name=amount]");
      if (!amt || amt.value.trim() === "") return null;
      text = text.split("{amount}").join(amt.value.trim());
    }
    return text;
  }

  // A form whose choice has consequences ([data-confirm-choice] on the form,
  // data-consequence on an option): Save asks first, naming what it takes away.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches("[data-confirm-choice]")) return;
    if (form._confirmed) { form._confirmed = false; return; }
    var text = choiceConsequence(form);
    var dlg = document.getElementById(form.getAttribute("data-confirm-choice"));
    if (!text || !dlg) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    dlg.querySelector("[data-consequence-text]").textContent = text;
    dlg._form = form;
    openDialog(dlg, form.querySelector("button[type=submit]"));
  }, true);
  document.addEventListener("click", function (e) {
    var ok = e.target.closest && e.target.closest("[data-confirm-choice-ok]");
    if (!ok) return;
    var dlg = ok.closest("dialog");
    if (!dlg || !dlg._form) return;
    e.preventDefault();
    var form = dlg._form;
    dlg.close();
    form._confirmed = true;
    form.requestSubmit(form.querySelector("button[type=submit]"));
  });

  // --- Row actions behind a list's one shared dialog (components.RowConfirm).
  // The row's form (or link) carries the question; the dialog asks it, and
  // the row's form is sent only on the explicit confirm. A link trigger's
  // action posts through the dialog's own form instead.
  function askRow(dlg, src, trigger) {
    dlg.querySelector("[data-row-title]").textContent = src.getAttribute("data-title") || "";
    dlg.querySelector("[data-row-text]").textContent = src.getAttribute("data-text") || "";
    var ul = dlg.querySelector("[data-row-consequences]");
    ul.replaceChildren();
    (src.getAttribute("data-consequences") || "").split("\n").forEach(function (line) {
      if (!line) return;
      var li = document.createElement("li");
      li.textContent = line;
      ul.appendChild(li);
    });
    ul.hidden = ul.children.length === 0;
    dlg.querySelector("[data-row-ok]").textContent = src.getAttribute("data-button") || "Confirm";
    openDialog(dlg, trigger);
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.matches("[data-row-form]")) {
      // The shared dialog's confirm: send the row's form, or post to the
      // link trigger's action (set on this form when the dialog opened).
      var dlg = form.closest("dialog");
      if (dlg && dlg._rowForm) {
        e.preventDefault();
        e.stopImmediatePropagation();
        var row = dlg._rowForm;
        dlg._rowForm = null;
        dlg.close();
        row._confirmed = true;
        row.requestSubmit(row.querySelector("button[type=submit]"));
      }
      return;
    }
    if (!form.matches("[data-confirm-row]")) return;
    if (form._confirmed) { form._confirmed = false; return; }
    var d = document.getElementById(form.getAttribute("data-confirm-row"));
    if (!d || typeof d.showModal !== "function") return;
    e.preventDefault();
    e.stopImmediatePropagation();
    d._rowForm = form;
    askRow(d, form, form.querySelector("button[type=submit]"));
  }, true);
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-confirm-row]");
    if (!a) return;
    var d = document.getElementById(a.getAttribute("data-confirm-row"));
    if (!d || typeof d.showModal !== "function") return;
    e.preventDefault();
    d._rowForm = null;
    d.querySelector("[data-row-form]").setAttribute("action", a.getAttribute("data-action"));
    askRow(d, a, a);
  });

  // --- Members page (views/members.templ): one role dialog and one wording
  // of each row question for the whole list, so a row carries only links.
  // A row's "Change" link ([data-member-role]) loads the member's role form
  // (GET /members/{id}/role, answered as a fragment to htmx) into
  // #role-dialog; without script it opens that page. A row's Remove and Make
  // owner links ([data-member-ask]) ask the #member-ask-* question, with the
  // row's data-name and data-email put in, in the shared member-dialog; the
  // confirm posts to the link's address (without script: its confirmation
  // page).
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-member-role]");
    var dlg = document.getElementById("role-dialog");
    if (!a || !dlg || typeof dlg.showModal !== "function" || !window.htmx) return;
    e.preventDefault();
    var href = a.getAttribute("href");
    window.htmx.ajax("GET", href, { target: "#role-dialog-body", swap: "innerHTML" }).then(function () {
      if (document.getElementById("role-form-body")) openDialog(dlg, a); else window.location.href = href;
    }, function () { window.location.href = href; });
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    // The role form answered with the row (the new role, or the refusal in
    // it): the dialog closes either way so the row shows the outcome.
    var dlg = document.getElementById("role-dialog");
    var elt = e.detail.elt;
    if (dlg && dlg.open && elt && elt.id === "role-form" && e.detail.xhr && e.detail.xhr.status > 0) dlg.close();
  });
  function memberQuestion(kind, row) {
    var tpl = document.getElementById("member-ask-" + kind);
    if (!tpl || !row) return null;
    var name = row.getAttribute("data-name") || "", email = row.getAttribute("data-email") || "";
    return { getAttribute: function (n) {
      var v = tpl.getAttribute(n);
      return v === null ? null : v.split("{name}").join(name).split("{email}").join(email);
    } };
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-member-ask]");
    if (!a) return;
    var d = document.getElementById("member-dialog");
    var kind = a.getAttribute("data-member-ask");
    var q = memberQuestion(kind, a.closest("tr"));
    if (!d || !q || typeof d.showModal !== "function") return;
    e.preventDefault();
    d._rowForm = null;
    // A removal answers into its row (htmx); a transfer posts the page.
    d._memberRow = kind === "remove" && window.htmx ? a.closest("tr") : null;
    d.querySelector("[data-row-form]").setAttribute("action", a.getAttribute("href"));
    askRow(d, q, a);
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var d = form.closest && form.closest("#member-dialog");
    if (!d || !form.matches("[data-row-form]") || !d._memberRow) return;
    e.preventDefault();
    var row = d._memberRow;
    d._memberRow = null;
    d.close();
    window.htmx.ajax("POST", form.getAttribute("action"), { source: form, target: row, swap: "outerHTML" });
  }, true);

  // --- Busy state: every htmx request disables what triggered it.
  function controlsOf(elt) {
    if (elt.tagName === "FORM") return Array.prototype.slice.call(elt.querySelectorAll("button, input[type=submit]"));
    return [elt];
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    var list = controlsOf(elt).filter(function (c) { return !c.disabled; });
    elt._busy = list;
    list.forEach(function (c) { c.disabled = true; c.setAttribute("aria-busy", "true"); });
    // Messages from an earlier action are stale once another one starts.
    if (e.detail.requestConfig && e.detail.requestConfig.verb !== "get") {
      var flash = document.getElementById("flash");
      if (flash) flash.replaceChildren();
      document.querySelectorAll(".row-message").forEach(function (m) { m.remove(); });
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    (elt._busy || []).forEach(function (c) { c.disabled = false; c.removeAttribute("aria-busy"); });
    elt._busy = null;
    // A dialog whose form was sent closes; the page shows the result.
    var dlg = elt.closest && elt.closest("dialog");
    if (dlg && dlg.open && e.detail.successful) dlg.close();
  });

  // Plain form posts (no htmx) show the same busy state until the next page
  // loads; a page restored from the back-forward cache is cleared again.
  document.addEventListener("submit", function (e) {
    if (e.defaultPrevented) return;
    var btn = e.submitter;
    if (btn && btn.matches("button, input[type=submit]")) btn.setAttribute("aria-busy", "true");
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[aria-busy=true]").forEach(function (b) { b.removeAttribute("aria-busy"); });
  });

  // --- Copy buttons: [data-copy="<id of the element to copy>"].
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.getElementById(btn.getAttribute("data-copy"));
    if (!src) return;
    var label = btn.textContent;
    function done() { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = label; }, 2000); }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { document.execCommand("copy"); done(); } catch (err) { /* selected: the person copies */ }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(src.textContent).then(done, fallback);
    } else {
      fallback();
    }
  });

  function init(root) {
    initTypeChecks(root);
    root.querySelectorAll("details.menu").forEach(syncExpanded);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (e) { init(e.detail.elt.parentNode || document); });
})();
