// SPDX-License-Identifier: MIT OR Apache-2.0
// The dashboard: reads /metrics once a second (so what it shows is what Prometheus scrapes),
// fills the table and appends to a uPlot chart per stream; adds and removes sources through
// the JSON API.
"use strict";

const HISTORY = 300; // points kept per chart (5 minutes)
const cv = { samples: 0, charts: {}, metrics: null, error: null };
window.cv = cv;

// Prometheus text format: name{label="value",...} number
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)$/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function value(metrics, name, labels) {
  const s = metrics.find((x) => x.name === name &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : undefined;
}

function streamsOf(metrics) {
  const names = new Set();
  for (const s of metrics) if (s.name === "courtvision_stream_frames_total") names.add(s.labels.stream);
  return [...names].sort();
}

function stateOf(metrics, stream) {
  const s = metrics.find((x) => x.name === "courtvision_stream_state" &&
    x.labels.stream === stream && x.value === 1);
  return s ? s.labels.state : "?";
}

const fmt = (v, digits = 1) => (v === undefined ? "–" : Number(v).toFixed(digits));

function row(metrics, name) {
  const v = (metric, extra = {}) => value(metrics, metric, { stream: name, ...extra });
  return {
    state: stateOf(metrics, name),
    fps: v("courtvision_stream_fps"),
    latency: v("courtvision_stream_latency_ms", { quantile: "0.95" }),
    lag: v("courtvision_stream_lag_ms", { quantile: "0.95" }),
    frames: v("courtvision_stream_frames_total"),
    inferred: v("courtvision_stream_inferred_total"),
    skipped: v("courtvision_stream_skipped_total"),
    drops: v("courtvision_stream_drops_total"),
    reconnects: v("courtvision_stream_reconnects_total"),
  };
}

function renderTable(metrics) {
  const body = document.querySelector("#streams tbody");
  body.replaceChildren();
  for (const name of streamsOf(metrics)) {
    const r = row(metrics, name);
    const tr = document.createElement("tr");
    tr.dataset.stream = name;
    const cells = [
      ["name", name], ["state", r.state], ["fps", fmt(r.fps)], ["latency", fmt(r.latency, 0)],
      ["lag", fmt(r.lag, 0)], ["frames", fmt(r.frames, 0)], ["inferred", fmt(r.inferred, 0)],
      ["skipped", fmt(r.skipped, 0)], ["drops", fmt(r.drops, 0)],
      ["reconnects", fmt(r.reconnects, 0)],
    ];
    for (const [key, text] of cells) {
      const td = document.createElement("td");
      td.dataset.metric = key;
      td.textContent = text;
      if (key === "state") td.className = "state state-" + text;
      tr.append(td);
    }
    const td = document.createElement("td");
    const rm = document.createElement("button");
    rm.textContent = "remove";
    rm.onclick = () => fetch("/api/sources/" + encodeURIComponent(name), { method: "DELETE" });
    td.append(rm);
    tr.append(td);
    body.append(tr);
  }
}

function chartFor(name) {
  if (cv.charts[name]) return cv.charts[name];
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.stream = name;
  const h = document.createElement("h2");
  h.textContent = name;
  box.append(h);
  document.getElementById("charts").append(box);
  const opts = {
    width: 520, height: 220,
    scales: { ms: { auto: true } },
    series: [
      {},
      { label: "fps", stroke: "#1565c0" },
      { label: "latency p95 ms", stroke: "#6a1b9a", scale: "ms" },
      { label: "lag p95 ms", stroke: "#c62828", scale: "ms" },
    ],
    axes: [{}, { label: "fps" }, { side: 1, scale: "ms", label: "ms" }],
  };
  const data = [[], [], [], []];
  cv.charts[name] = { plot: new uPlot(opts, data, box), data };
  return cv.charts[name];
}

function renderCharts(metrics, t) {
  for (const name of streamsOf(metrics)) {
    const r = row(metrics, name);
    const c = chartFor(name);
    const points = [t, r.fps, r.latency, r.lag];
    points.forEach((p, i) => { c.data[i].push(p ?? null); if (c.data[i].length > HISTORY) c.data[i].shift(); });
    c.plot.setData(c.data);
  }
}

function renderProcess(metrics) {
  const rss = value(metrics, "process_resident_memory_bytes", {});
  const cpu = value(metrics, "process_cpu_seconds_total", {});
  const prev = cv.prevCpu;
  cv.prevCpu = { cpu, t: Date.now() };
  const pct = prev && cpu !== undefined ? (100 * (cpu - prev.cpu)) / ((Date.now() - prev.t) / 1000) : undefined;
  document.getElementById("process").innerHTML =
    `<span>memory <b id="rss">${fmt(rss / 1048576, 0)}</b> MiB</span>` +
    `<span>CPU <b id="cpu">${fmt(pct, 0)}</b> %</span>`;
  const gpus = metrics.filter((m) => m.name === "courtvision_gpu_utilization_percent");
  document.getElementById("gpus").innerHTML = gpus.map((g) => {
    const l = { gpu: g.labels.gpu };
    const used = value(metrics, "courtvision_gpu_memory_used_bytes", l);
    const dec = value(metrics, "courtvision_gpu_decoder_utilization_percent", l);
    return `<span>GPU ${g.labels.gpu} ${g.labels.name}: ${fmt(g.value, 0)} %, ` +
      `memory ${fmt(used / 1073741824)} GiB, decoder ${fmt(dec, 0)} %</span>`;
  }).join("");
}

async function renderJobs() {
  const j = await (await fetch("/api/jobs")).json();
  document.getElementById("jobs").innerHTML = ["waiting", "running", "done", "failed"]
    .map((k) => `<span>${k} <b id="jobs-${k}">${j[k]}</b></span>`).join("");
  // The job queue's workers, where the dashboard reads a results database.
  const table = document.getElementById("workers");
  table.hidden = !j.workers;
  if (!j.workers) return;
  const body = table.querySelector("tbody");
  body.replaceChildren(...j.workers.map(({ alive, worker: w }) => {
    const tr = document.createElement("tr");
    tr.dataset.worker = w.id;
    const cells = [w.id, w.host, alive ? (w.job_id ? "working" : "idle") : "gone",
      w.job_id ? w.job_id.slice(0, 12) : "", w.done, w.failed];
    tr.innerHTML = cells.map((c) => `<td></td>`).join("");
    cells.forEach((c, i) => { tr.children[i].textContent = c; });
    tr.children[2].className = "state state-" + (alive ? "live" : "failed");
    return tr;
  }));
}

async function tick() {
  try {
    const text = await (await fetch("/metrics")).text();
    const metrics = parseMetrics(text);
    cv.metrics = metrics;
    renderProcess(metrics);
    renderTable(metrics);
    renderCharts(metrics, Date.now() / 1000);
    await renderJobs();
    cv.samples += 1;
    cv.error = null;
  } catch (e) {
    cv.error = String(e);
  }
}

document.getElementById("add").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const res = await fetch("/api/sources", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ uri: f.get("uri"), name: f.get("name") }),
  });
  const body = await res.json();
  const out = document.getElementById("add-result");
  out.className = res.ok ? "" : "error";
  out.textContent = res.ok ? `added ${body.name}` : body.error;
  tick();
});

tick();
setInterval(tick, 1000);
