// vitrina's only script. It sends a wizard's answers to the server on every change and applies
// what the server answers (price panel, field errors, groups shown or hidden, captions).
// Every rule is evaluated on the server; nothing here decides what is valid or what it costs.
(function () {
  "use strict";

  function applyTheme(theme) {
    if (theme) { document.documentElement.setAttribute("data-theme", theme); }
  }
  try { applyTheme(localStorage.getItem("vitrina-theme")); } catch (e) { /* storage off */ }

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
  function evaluate(form) {
    var mine = ++seq;
    var body = new URLSearchParams(new FormData(form));
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
        var input = field && field.querySelector("input, select");
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
