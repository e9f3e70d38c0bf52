// CSV import in pieces: the header and up to CHUNK rows per request, so the page can show progress and
// each request stays small. Rows are split on line ends (vendor batch files do not quote line breaks).
"use strict";
const CHUNK = 1000;

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

async function importInPieces(form) {
  const file = form.querySelector('input[type="file"]').files[0];
  if (!file) return false;
  const csrf = form.querySelector('input[name="csrf"]').value;
  const params = new URLSearchParams();
  if (form.querySelector("#f-dry_run").checked) params.set("dry_run", "true");
  const apn = form.querySelector("#f-apn").value.trim();
  if (apn) params.append("apn", apn);
  const lines = (await file.text()).split(/\r?\n/);
  const header = lines.shift();
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  const bar = document.getElementById("import-bar");
  const status = document.getElementById("import-status");
  const rejectedBody = document.querySelector("#import-rejected tbody");
  document.getElementById("import-progress").hidden = false;
  document.getElementById("import-result").hidden = true;
  rejectedBody.replaceChildren();
  bar.max = Math.max(lines.length, 1);
  bar.value = 0;
  let imported = 0, rows = 0, rejected = 0, dryRun = false;
  for (let start = 0; start < lines.length; start += CHUNK) {
    const piece = lines.slice(start, start + CHUNK);
    const response = await fetch(form.dataset.chunkUrl + "?" + params, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "text/csv", "X-CSRF-Token": csrf},
      body: header + "\n" + piece.join("\n") + "\n",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = Array.isArray(answer.detail) ? answer.detail.map((d) => d.msg).join("; ") : answer.detail;
      status.textContent = `Stopped at line ${start + 2}: ${detail || "the server answered " + response.status}`;
      status.className = "field-error";
      return true;
    }
    imported += answer.imported;
    rows += answer.rows;
    dryRun = answer.dry_run;
    for (const r of answer.rejected) {
      rejected += 1;
      const tr = document.createElement("tr");
      tr.append(cell(String(start + r.line)), cell(r.imsi || ""), cell(r.reason));  // r.line 2 = first row of piece
      rejectedBody.append(tr);
    }
    bar.value = Math.min(start + piece.length, lines.length);
    status.textContent = `${bar.value} of ${lines.length} rows sent`;
  }
  document.getElementById("import-summary").textContent =
    `${dryRun ? "Would import" : "Imported"} ${imported} of ${rows} rows; ${rejected} rejected.`;
  document.getElementById("import-result").hidden = false;
  return true;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("import-form");
  if (!form || !window.fetch) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      if (!(await importInPieces(form))) form.submit();
    } finally {
      button.disabled = false;
    }
  });
});
