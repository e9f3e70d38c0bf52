// Live pages: the peer table and the request-rate chart, read from the console's JSON feeds every 2 s.
"use strict";
const PERIOD_MS = 2000;
const WINDOW_POINTS = 60;
const COLOURS = ["#0b5cad", "#b3261e", "#1b7f3b", "#8a4baf", "#a15c00", "#00707a", "#5c5c5c", "#c2185b"];
const SVG = "http://www.w3.org/2000/svg";

async function feed(url) {
  const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
  if (response.redirected || response.status === 401) { window.location.reload(); return null; }
  return response.ok ? response.json() : null;
}

function td(text, className) {
  const cell = document.createElement("td");
  cell.textContent = text;
  if (className) cell.className = className;
  return cell;
}

async function refreshPeers(table) {
  const data = await feed(table.dataset.feed);
  if (!data) return;
  const rows = data.peers.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.peer = p.name;
    const state = document.createElement("span");
    state.className = "badge " + (p.open ? "good" : "bad");
    state.dataset.state = "";
    state.textContent = p.state + (p.suspect ? " (suspect)" : "");
    const stateCell = document.createElement("td");
    stateCell.append(state);
    tr.append(td(p.name, "mono"), stateCell, td(p.origin_realm || ""), td(p.product || ""),
              td(p.applications.join(", ")), td(String(p.opened)), td(String(p.lost)), td(String(p.transitions)));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "none";
    const cell = td("No peer.", "muted");
    cell.colSpan = 8;
    tr.append(cell);
    rows.push(tr);
  }
  table.tBodies[0].replaceChildren(...rows);
  document.getElementById("peers-updated").textContent = "Updated " + new Date().toLocaleTimeString();
}

const history = new Map();  // "app:cmd" -> {label, points: [{t, rate}], last: {t, answers}}

function line(x1, y1, x2, y2, cls) {
  const l = document.createElementNS(SVG, "line");
  for (const [k, v] of Object.entries({x1, y1, x2, y2})) l.setAttribute(k, v);
  l.setAttribute("class", cls);
  return l;
}

function label(x, y, text, anchor) {
  const t = document.createElementNS(SVG, "text");
  t.setAttribute("x", x);
  t.setAttribute("y", y);
  t.setAttribute("text-anchor", anchor || "start");
  t.setAttribute("class", "axis-label");
  t.textContent = text;
  return t;
}

function draw(svg, now) {
  const [left, top, width, height] = [48, 10, 540, 200];
  const title = svg.querySelector("title");
  svg.replaceChildren(title);
  let max = 1;
  for (const series of history.values()) for (const p of series.points) max = Math.max(max, p.rate);
  const scale = Math.pow(10, Math.floor(Math.log10(max)));
  max = Math.ceil(max / scale) * scale;
  for (let i = 0; i <= 4; i++) {
    const y = top + height - (height * i) / 4;
    svg.append(line(left, y, left + width, y, "gridline"), label(left - 6, y + 4, String(+(max * i / 4).toPrecision(3)), "end"));
  }
  svg.append(label(left, top + height + 22, "-2 min"), label(left + width, top + height + 22, "now", "end"));
  const span = (WINDOW_POINTS - 1) * PERIOD_MS;
  const legend = document.getElementById("chart-legend");
  legend.replaceChildren();
  let index = 0;
  for (const series of history.values()) {
    const colour = COLOURS[index++ % COLOURS.length];
    const coords = series.points.map((p) => {
      const x = left + width - ((now - p.t) / span) * width;
      return `${Math.max(left, x).toFixed(1)},${(top + height - (p.rate / max) * height).toFixed(1)}`;
    });
    if (series.points.length) {  // the latest reading as a dot: visible even before there is a line
      const [x, y] = coords[coords.length - 1].split(",");
      const dot = document.createElementNS(SVG, "circle");
      for (const [k, v] of Object.entries({cx: x, cy: y, r: 3, fill: colour})) dot.setAttribute(k, v);
      svg.append(dot);
    }
    const path = document.createElementNS(SVG, "polyline");
    path.setAttribute("points", coords.join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", colour);
    path.setAttribute("stroke-width", "2");
    svg.append(path);
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch swatch-" + (index - 1) % COLOURS.length;
    const last = series.points.length ? series.points[series.points.length - 1].rate : 0;
    item.append(swatch, `${series.label}: ${last.toFixed(1)}/s`);
    legend.append(item);
  }
}

async function refreshChart(svg) {
  const data = await feed(svg.dataset.feed);
  if (!data) return;
  const now = data.taken_at * 1000;
  for (const c of data.commands) {
    const key = `${c.application_id}:${c.command_code}`;
    const series = history.get(key) || {label: `${c.command} (${c.application})`, points: [], last: null};
    history.set(key, series);
    if (series.last) {
      const seconds = (now - series.last.t) / 1000;
      if (seconds > 0) series.points.push({t: now, rate: Math.max(0, c.answers - series.last.answers) / seconds});
    }
    series.last = {t: now, answers: c.answers};
    if (series.points.length > WINDOW_POINTS) series.points.shift();
    const row = document.querySelector(`tr[data-command="${key}"]`);
    if (row) {
      row.querySelector("[data-answers]").textContent = String(c.answers);
      row.querySelector("[data-errors]").textContent = String(c.errors);
      const rate = series.points.length ? series.points[series.points.length - 1].rate : 0;
      row.querySelector("[data-rate]").textContent = rate.toFixed(1);
    }
  }
  draw(svg, now);
}

function every(task) {
  const run = () => task().catch(() => {}).finally(() => setTimeout(run, PERIOD_MS));
  run();
}

function seedFromPage(svg) {
  // The page was rendered with the totals of one reading: the first fetch already gives a rate.
  const takenAt = parseFloat(svg.dataset.takenAt || "");
  if (Number.isNaN(takenAt)) return;
  for (const row of document.querySelectorAll("tr[data-command]")) {
    const answers = parseInt(row.querySelector("[data-answers]").textContent, 10);
    history.set(row.dataset.command, {label: row.dataset.label, points: [], last: {t: takenAt * 1000, answers}});
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const peers = document.getElementById("peers");
  if (peers) every(() => refreshPeers(peers));
  const chart = document.getElementById("rate-chart");
  if (chart) {
    seedFromPage(chart);
    every(() => refreshChart(chart));
  }
});
