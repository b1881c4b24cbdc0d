// vitrina's only script. It sends a wizard's answers to the server on every change and applies
// what the server answers (price panel, field errors, groups shown or hidden, captions).
// Every rule is evaluated on the server; nothing here decides what is valid or what it costs.
(function () {
  "use strict";

  function applyTheme(theme) {
    if (theme) { document.documentElement.setAttribute("data-theme", theme); }
  }
  try { applyTheme(localStorage.getItem("vitrina-theme")); } catch (e) { /* storage off */ }

  // Tabs: one panel shows at a time (without the script every panel shows).
  function selectTab(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) { panel.hidden = !on; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-tabs]").forEach(function (list) {
      var first = list.querySelector("[role=tab][aria-selected=true]") || list.querySelector("[role=tab]");
      if (first) { selectTab(first); }
    });
  });
  document.addEventListener("keydown", function (ev) {
    var tab = ev.target.closest && ev.target.closest("[role=tab]");
    if (!tab || (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft")) { return; }
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var i = tabs.indexOf(tab) + (ev.key === "ArrowRight" ? 1 : -1);
    var next = tabs[(i + tabs.length) % tabs.length];
    selectTab(next);
    next.focus();
  });

  document.addEventListener("click", function (ev) {
    var toggle = ev.target.closest("[data-theme-toggle]");
    if (toggle) {
      var dark = document.documentElement.getAttribute("data-theme") === "dark" ||
        (!document.documentElement.getAttribute("data-theme") &&
          window.matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      applyTheme(next);
      try { localStorage.setItem("vitrina-theme", next); } catch (e) { /* storage off */ }
      return;
    }
    var gen = ev.target.closest("[data-generate]");
    if (gen) {
      var gform = gen.closest("form[data-live]");
      // A pending update of typed text would supersede this answer: send it with this one.
      if (gform) { clearTimeout(timer); evaluate(gform, ["_generate", gen.getAttribute("data-generate")]); }
      return;
    }
    var reveal = ev.target.closest("[data-reveal]");
    if (reveal) {
      var shown = reveal.getAttribute("aria-pressed") !== "true";
      reveal.setAttribute("aria-pressed", shown ? "true" : "false");
      reveal.getAttribute("aria-controls").split(" ").forEach(function (id) {
        var el = document.getElementById(id);
        if (el) { el.type = shown ? "text" : "password"; }
      });
      return;
    }
    var tab = ev.target.closest("[role=tab]");
    if (tab) { selectTab(tab); return; }
    var step = ev.target.closest("[data-step]");
    if (step) {
      var input = document.getElementById(step.getAttribute("aria-controls"));
      if (!input || input.readOnly) { return; }
      var n = parseInt(input.value, 10);
      if (isNaN(n)) { n = 0; }
      n += parseInt(step.getAttribute("data-step"), 10);
      if (input.min !== "" && n < Number(input.min)) { n = Number(input.min); }
      if (input.max !== "" && n > Number(input.max)) { n = Number(input.max); }
      input.value = String(n);
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  var seq = 0;
  function evaluate(form, extra) {
    var mine = ++seq;
    var body = new URLSearchParams(new FormData(form));
    if (extra) { body.append(extra[0], extra[1]); }
    form.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-live"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data || mine !== seq) { return; }
      var panel = form.querySelector("[data-panel]");
      if (panel) { panel.innerHTML = data.panel; }
      form.querySelectorAll("[data-error]").forEach(function (el) {
        var name = el.getAttribute("data-error");
        var msg = data.errors[name] || "";
        el.textContent = msg;
        var field = el.closest(".field");
        if (field) { field.classList.toggle("invalid", msg !== ""); }
        var input = field && field.querySelector("input:not([type=hidden]), select, textarea");
        if (input) { input.setAttribute("aria-invalid", msg !== "" ? "true" : "false"); }
      });
      form.querySelectorAll("fieldset.group").forEach(function (g) {
        var hide = data.hidden_groups.indexOf(g.id) >= 0;
        g.hidden = hide;
        g.disabled = hide;
      });
      form.querySelectorAll("[data-caption]").forEach(function (el) {
        el.textContent = data.captions[el.getAttribute("data-caption")] || "";
      });
      // Values the server filled in (a generated password and its confirmation).
      Object.keys(data.values || {}).forEach(function (name) {
        form.querySelectorAll("input").forEach(function (el) {
          if (el.name === name) { el.value = data.values[name]; }
        });
      });
    }).catch(function () { /* the next change retries */ }).finally(function () {
      if (mine === seq) { form.removeAttribute("aria-busy"); }
    });
  }

  var timer = null;
  function schedule(form, now) {
    clearTimeout(timer);
    timer = setTimeout(function () { evaluate(form); }, now ? 0 : 150);
  }
  document.addEventListener("change", function (ev) {
    var form = ev.target.closest("form[data-live]");
    if (form) { schedule(form, true); }
  });
  document.addEventListener("input", function (ev) {
    var form = ev.target.closest("form[data-live]");
    if (form) { schedule(form, false); }
  });
})();
// A form that changes something for good asks first (without the script it posts directly).
document.addEventListener("submit", function (ev) {
  var q = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
  if (q && !window.confirm(q)) { ev.preventDefault(); }
});
