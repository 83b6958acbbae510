// closebooks page behaviour. No inline scripts: the Content-Security-Policy allows script from 'self' only,
// so every page's behaviour lives here, switched on by the elements the page holds.
(function () {
  "use strict";

  // Forms that ask before a destructive POST: <form data-confirm="Delete INV-1?">.
  document.addEventListener("submit", function (event) {
    var message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Formsets with an "Add line" button: a copy of the empty row, numbered.
  var addLine = document.getElementById("add-line");
  var total = document.querySelector('input[name="lines-TOTAL_FORMS"]');
  if (addLine && total) {
    addLine.addEventListener("click", function () {
      var html = document.getElementById("empty-line").innerHTML.replace(/__prefix__/g, total.value);
      document.getElementById("line-rows").insertAdjacentHTML("beforeend", html);
      total.value = String(Number(total.value) + 1);
    });
  }

  // Journal entry form: running debit and credit totals.
  var entryForm = document.getElementById("entry-form");
  if (entryForm) {
    var cents = function (v) { var n = Math.round(parseFloat((v || "0").replace(/,/g, "")) * 100); return isNaN(n) ? 0 : n; };
    var refresh = function () {
      var d = 0, c = 0;
      entryForm.querySelectorAll('input[name$="-debit"]').forEach(function (i) { d += cents(i.value); });
      entryForm.querySelectorAll('input[name$="-credit"]').forEach(function (i) { c += cents(i.value); });
      document.getElementById("total-debit").textContent = (d / 100).toFixed(2);
      document.getElementById("total-credit").textContent = (c / 100).toFixed(2);
      document.getElementById("balance-state").textContent = d === c ? "Balanced" : "Off by " + (Math.abs(d - c) / 100).toFixed(2);
    };
    entryForm.addEventListener("input", refresh);
    refresh();
  }

  // Close wizard review: the month-end checks are computed after the page is shown.
  var checks = document.getElementById("month-end-checks");
  if (checks && checks.dataset.url) {
    fetch(checks.dataset.url, {headers: {"Accept": "text/html"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { checks.innerHTML = html; if (location.hash === "#month-end-checks") checks.scrollIntoView(); })
      .catch(function () { checks.querySelector("p").textContent = "The month-end checks could not be computed; reload to try again."; });
  }

  // Parts of a page computed after it is shown: <span data-fragment="/url/">computing…</span>.
  document.querySelectorAll("[data-fragment]").forEach(function (slot) {
    fetch(slot.dataset.fragment, {headers: {"Accept": "text/html"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { slot.innerHTML = html; })
      .catch(function () { slot.textContent = slot.dataset.fragmentError || "could not be loaded; reload to try again"; });
  });

  // A sync run's progress, polled until it finishes.
  var run = document.getElementById("run");
  if (run && run.dataset.url && run.dataset.finished !== "1") {
    var poll = function () {
      fetch(run.dataset.url, {headers: {"Accept": "application/json"}}).then(function (r) { return r.json(); }).then(function (p) {
        document.getElementById("run-progress").value = p.percent;
        ["status_label", "done", "failed", "total", "requests", "error"].forEach(function (k) {
          var el = document.getElementById("run-" + (k === "status_label" ? "status" : k));
          if (el) el.textContent = p[k];
        });
        if (p.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      }).catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 500);
  }

  // Manual reconciliation: lines reordered by the user, running balance and code count.
  var manual = document.querySelector("#manual-lines tbody");
  if (manual) {
    var toCents = function (text) { return Math.round(parseFloat(text || "0") * 100); };
    var money = function (value) { return (value < 0 ? "-" : "") + (Math.abs(value) / 100).toFixed(2); };
    var recompute = function () {
      var balance = 0, codes = 0, open = false;
      manual.querySelectorAll("tr[data-amount]").forEach(function (row) {
        balance += toCents(row.dataset.amount); open = true;
        row.querySelector(".balance").textContent = money(balance);
        if (balance === 0) { codes += 1; open = false; }
      });
      document.getElementById("code-count").textContent = codes + (open ? 1 : 0);
      document.getElementById("difference").textContent = money(balance);
    };
    manual.addEventListener("click", function (event) {
      var button = event.target.closest("button.move");
      if (!button) return;
      var row = button.closest("tr");
      if (button.dataset.dir === "-1" && row.previousElementSibling) row.parentNode.insertBefore(row, row.previousElementSibling);
      if (button.dataset.dir === "1" && row.nextElementSibling) row.parentNode.insertBefore(row.nextElementSibling, row);
      recompute();
    });
  }
})();
