// The reconcile page: quick filter, select all, the running balance of the selected lines,
// and on the proposal page: unticking a line unticks its whole group (LR3).
(function () {
  "use strict";
  const cents = (text) => Math.round(parseFloat(text || "0") * 100);
  const money = (value) => (value < 0 ? "-" : "") + (Math.abs(value) / 100).toFixed(2);

  const table = document.getElementById("open-lines");
  if (table) {
    const picks = () => Array.from(table.querySelectorAll("input.pick"));
    const visible = (box) => box.closest("tr").style.display !== "none";
    const refresh = () => {
      const chosen = picks().filter((box) => box.checked);
      document.getElementById("selected-count").textContent = chosen.length;
      document.getElementById("selected-balance").textContent = money(
        chosen.reduce((sum, box) => sum + cents(box.closest("tr").dataset.amount), 0));
    };
    table.addEventListener("change", refresh);
    const selectAll = document.getElementById("select-all");
    selectAll.addEventListener("change", () => {
      picks().filter(visible).forEach((box) => { box.checked = selectAll.checked; });
      refresh();
    });
    document.getElementById("quick-filter").addEventListener("input", (event) => {
      const needle = event.target.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach((row) => {
        row.style.display = !needle || row.textContent.toLowerCase().includes(needle) ? "" : "none";
      });
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "a" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
        event.preventDefault();
        selectAll.checked = true;
        selectAll.dispatchEvent(new Event("change"));
      }
    });
    refresh();
  }

  const proposal = document.getElementById("proposal-groups");
  if (proposal) {
    proposal.addEventListener("change", (event) => {
      const box = event.target;
      const group = box.closest("tbody");
      if (!group) return;
      if (box.classList.contains("group-tick")) {
        group.querySelectorAll("input.line-tick").forEach((line) => { line.checked = box.checked; });
      } else if (box.classList.contains("line-tick")) {
        // a group is reconciled whole or not at all: one line unticked unticks the group
        group.querySelector("input.group-tick").checked = box.checked;
        group.querySelectorAll("input.line-tick").forEach((line) => { line.checked = box.checked; });
      }
    });
  }

  const progress = document.getElementById("progress");
  if (progress) {
    const poll = () => fetch(progress.dataset.url, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((data) => {
        progress.querySelector("progress").value = data.percent;
        progress.querySelector(".stage").textContent = data.error || data.stage || data.status;
        if (data.status === "building" || (progress.dataset.finishing && data.status === "ready" && !data.error)) {
          setTimeout(poll, 1000);
        } else if (!data.error) {
          window.location.reload();
        }
      });
    setTimeout(poll, 500);
  }
})();
