// LocalForge dashboard: live decisions (server-sent events read with fetch), models,
// learning and memory. No third-party code; charts are plain SVG. Data never goes
// through innerHTML: every text is set with textContent.
"use strict";

const TOKEN_KEY = "localforge.token";
const SIGNALS = ["benchmark", "memory", "latency", "feedback"];
const MAX_ROWS = 200;
const COLORS = ["#3b6fd8", "#8e44ad", "#16a085", "#e67e22", "#c0392b", "#2c3e50", "#d35400", "#27ae60"];
const SVG = "http://www.w3.org/2000/svg";

let lastSeq = 0;
let selected = null;
let learningSoon = null;

// --- small helpers -------------------------------------------------------------

function $(id) { return document.getElementById(id); }

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function num(value, digits = 1, suffix = "") {
  return value === null || value === undefined ? "–" : `${Number(value).toFixed(digits)}${suffix}`;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

class Unauthorized extends Error {}

async function api(path) {
  const response = await fetch(path, { headers: headers(), cache: "no-store" });
  if (response.status === 401) throw new Unauthorized(await response.text());
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function setLive(on, text) {
  const badge = $("live");
  badge.className = `badge ${on ? "on" : "off"}`;
  badge.textContent = text;
}

// --- sign in (only when http.token is set) ---------------------------------------

function askForToken(message) {
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setLive(false, "token needed");
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  $("login").hidden = true;
  $("main").hidden = false;
  start();
});

// --- live decisions --------------------------------------------------------------

async function follow() {
  for (;;) {
    try {
      const response = await fetch(`/dashboard/api/events?after=${lastSeq}&backlog=50`, {
        headers: headers(), cache: "no-store",
      });
      if (response.status === 401) { askForToken("the token was refused"); return; }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setLive(true, "live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of block.split("\n")) {
            if (line.startsWith("data: ")) receive(JSON.parse(line.slice(6)));
          }
        }
      }
    } catch (error) {
      if (error instanceof Unauthorized) { askForToken(); return; }
    }
    setLive(false, "reconnecting");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function receive(batch) {
  if (batch.skipped) setLive(true, `live (skipped ${batch.skipped})`);
  for (const event of batch.events) {
    lastSeq = Math.max(lastSeq, event.seq || 0);
    if (event.type === "decision") addDecision(event);
    else if (event.type === "result") updateRow(event.request_id, event);
    else if (event.type === "outcome") { updateRow(event.request_id, event); refreshLearningSoon(); }
  }
}

function signalBars(candidates, winner) {
  const bar = 4, gap = 1, group = SIGNALS.length * (bar + gap) + 5, height = 22;
  const shown = candidates.slice(0, 6);
  const root = svg("svg", { width: shown.length * group, height: height + 2, class: "bars", "data-testid": "signal-bars" });
  shown.forEach((candidate, i) => {
    const g = svg("g", { transform: `translate(${i * group},0)` });
    const title = SIGNALS.map((s) => `${s} ${num(candidate[s], 2)}`).join(", ");
    g.append(svg("title", { text: `${candidate.model}: ${title}; final ${num(candidate.final, 3)}` }));
    SIGNALS.forEach((signal, j) => {
      const value = Math.max(0, Math.min(1, Number(candidate[signal]) || 0));
      const h = Math.max(1, value * height);
      g.append(svg("rect", { x: j * (bar + gap), y: height - h, width: bar, height: h, class: `s-${signal}` }));
    });
    if (candidate.model === winner) {
      g.append(svg("rect", { x: -1, y: height + 1, width: group - 4, height: 1.5, class: "used" }));
    }
    root.append(g);
  });
  return root;
}

function outcomeText(decision) {
  if (decision.outcome_kind) return `${decision.outcome_kind} (${num(decision.outcome, 2)})`;
  if (decision.ok === false) return `error: ${decision.error || ""}`;
  return "";
}

function addDecision(decision) {
  const body = $("decisions").querySelector("tbody");
  $("no-decisions").hidden = true;
  const existing = body.querySelector(`tr[data-request-id="${CSS.escape(decision.request_id)}"]`);
  const row = el("tr", { "data-request-id": decision.request_id, class: "fresh", "data-testid": "decision" }, [
    el("td", { text: clock(decision.at) }),
    el("td", { text: decision.door, "data-field": "door" }),
    el("td", { text: `${decision.task_type} ${num(decision.confidence, 2)}`, "data-field": "task" }),
    el("td", { "data-field": "model" }, [el("b", { text: decision.model })]),
    el("td", { class: "why", text: decision.reason || "", title: decision.reason || "" }),
    el("td", {}, [signalBars(decision.signals || [], decision.model)]),
    el("td", { class: "num", text: num(decision.route_ms, 1, " ms") }),
    el("td", { class: "num", "data-field": "latency", text: num(decision.latency_ms, 0, " ms") }),
    el("td", { "data-field": "outcome", text: outcomeText(decision) }),
  ]);
  row.addEventListener("click", () => showTrace(decision.request_id, row));
  if (existing) existing.replaceWith(row); else body.prepend(row);
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

function updateRow(requestId, event) {
  const row = $("decisions").querySelector(`tr[data-request-id="${CSS.escape(requestId)}"]`);
  if (!row) return;
  if (event.type === "result") {
    row.querySelector('[data-field="latency"]').textContent = num(event.latency_ms, 0, " ms");
    if (!event.ok) row.querySelector('[data-field="outcome"]').textContent = `error: ${event.error}`;
  } else {
    const cell = row.querySelector('[data-field="outcome"]');
    cell.textContent = `${event.outcome_kind} (${num(event.outcome, 2)})`;
    cell.className = event.outcome > 0.5 ? "outcome-good" : "outcome-bad";
  }
}

// --- one decision's trace ----------------------------------------------------------

async function showTrace(requestId, row) {
  document.querySelectorAll("#decisions tr.selected").forEach((r) => r.classList.remove("selected"));
  row.classList.add("selected");
  selected = requestId;
  const trace = await api(`/dashboard/api/decisions/${encodeURIComponent(requestId)}`);
  if (selected !== requestId) return;
  $("trace-id").textContent = requestId;
  const body = $("trace-body");
  body.replaceChildren();
  body.append(el("p", {}, [
    el("b", { text: `${trace.task_type}` }), ` confidence ${num(trace.confidence, 2)} · ${trace.kind} · `,
    el("span", { class: "muted", text: (trace.classification || {}).reason || "" }),
  ]));
  body.append(el("p", {}, [el("b", { text: `winner ${trace.winner}: ` }), trace.reason]));
  const weights = Object.entries(trace.weights || {}).map(([k, v]) => `${k} ${num(v, 2)}`).join("  ");
  body.append(el("p", { class: "muted", text: `weights ${weights}` }));
  const table = el("table", { "data-testid": "trace-signals" }, [el("thead", {}, [el("tr", {}, [
    el("th", { text: "rank" }), el("th", { text: "model" }),
    ...SIGNALS.map((s) => el("th", { text: s })), el("th", { text: "final" }), el("th", { text: "memory evidence" }),
  ])])]);
  const rows = el("tbody");
  for (const c of trace.candidates || []) {
    rows.append(el("tr", { "data-model": c.model }, [
      el("td", { text: `${c.model === trace.winner ? "→ " : ""}${c.rank}` }),
      el("td", { text: c.model + (c.resident ? " (resident)" : "") }),
      ...SIGNALS.map((s) => el("td", { class: "num", "data-signal": s }, [signalCell(s, c.signals[s])])),
      el("td", { class: "num", text: num(c.final, 3) }),
      el("td", { class: "muted", text: (c.notes || {}).memory || "" }),
    ]));
  }
  table.append(rows);
  body.append(table);
  const timings = Object.entries(trace.timings_ms || {}).map(([k, v]) => `${k} ${num(v, 2)}`).join("  ");
  body.append(el("p", { class: "muted", text: `timings (ms) ${timings} · ${trace.neighbours} neighbours (${trace.memory})` }));
  const summary = trace.summary || {};
  body.append(el("p", { class: "muted", text: `door ${summary.door} · latency ${num(summary.latency_ms, 0, " ms")} · outcome ${outcomeText(summary) || "none yet"}` }));
  $("trace-panel").hidden = false;
}

function signalCell(signal, value) {
  const width = 60, v = Math.max(0, Math.min(1, Number(value) || 0));
  const box = svg("svg", { width: width + 40, height: 12 });
  box.append(svg("rect", { x: 0, y: 2, width, height: 8, class: "track" }));
  box.append(svg("rect", { x: 0, y: 2, width: v * width, height: 8, class: `s-${signal}` }));
  box.append(svg("text", { x: width + 4, y: 10, text: num(value, 3) }));
  return box;
}

$("trace-close").addEventListener("click", () => {
  $("trace-panel").hidden = true;
  selected = null;
  document.querySelectorAll("#decisions tr.selected").forEach((r) => r.classList.remove("selected"));
});

// --- models ----------------------------------------------------------------------

function stateText(model) {
  switch (model.state) {
    case "loading": return `loading ${num((model.progress || 0) * 100, 0, "%")}`;
    case "idle": return model.unload_in_s === null ? "idle (kept)" : `idle, unloads in ${num(model.unload_in_s, 0, " s")}`;
    case "busy": return "resident, answering";
    case "cooling": return `cooling down ${num(model.health.retry_in_s, 0, " s")}: ${model.health.last_error || ""}`;
    case "broken": return `broken: ${model.health.broken || model.health.last_error || ""}`;
    default: return model.state;
  }
}

function renderModels(snapshot) {
  $("rps").textContent = num(snapshot.requests_per_s, 1);
  $("inflight").textContent = snapshot.in_flight;
  $("queue").textContent = snapshot.queue_depth;
  $("mode").textContent = snapshot.mode ? `${snapshot.mode} mode` : "";
  const budgets = $("budgets");
  budgets.replaceChildren();
  for (const device of snapshot.budgets) {
    const width = 320;
    const box = svg("svg", { width: width + 200, height: 26, "data-testid": "memory-bar", "data-device": device.device });
    box.append(svg("rect", { x: 0, y: 4, width, height: 14, class: "track" }));
    let x = 0;
    snapshot.models.filter((m) => m.device === device.device && m.memory_bytes && m.residency !== "unloaded")
      .forEach((m, i) => {
        const w = device.budget_bytes ? (m.memory_bytes / device.budget_bytes) * width : 0;
        const rect = svg("rect", { x, y: 4, width: Math.max(w, 1), height: 14, fill: COLORS[i % COLORS.length], "data-model": m.name });
        rect.append(svg("title", { text: `${m.name}: ${bytes(m.memory_bytes)}` }));
        box.append(rect);
        x += w;
      });
    box.append(svg("text", { x: width + 6, y: 15, text: `${device.device}: ${bytes(device.used_bytes)} of ${bytes(device.budget_bytes)}` }));
    budgets.append(box);
  }
  const body = $("models").querySelector("tbody");
  body.replaceChildren();
  for (const m of snapshot.models) {
    body.append(el("tr", { "data-model": m.name, "data-state": m.state, "data-testid": "model" }, [
      el("td", {}, [el("b", { text: m.name }), m.pinned ? " (pinned)" : ""]),
      el("td", {}, [el("span", { class: `state state-${m.state}`, text: stateText(m) })]),
      el("td", { class: "num", text: m.residency === "unloaded" ? `(${bytes(m.memory_bytes)})` : `${bytes(m.memory_bytes)} on ${m.device}` }),
      el("td", { class: "num", text: num(m.tokens_per_s, 1) }),
      el("td", { class: "num", text: num(m.load_ms, 0, " ms") }),
      el("td", { class: "num", text: `${m.requests}${m.failures ? ` (${m.failures} failed)` : ""}` }),
    ]));
  }
  $("broken").replaceChildren(...snapshot.broken.map((b) => el("li", { text: `${b.path || b.name}: ${b.error || b.reason || "broken"}` })));
}

// --- learning and memory -----------------------------------------------------------

function lineChart(curves) {
  const width = 520, height = 170, left = 30, bottom = 18;
  const root = svg("svg", { width: width + 180, height });
  const all = curves.flatMap((c) => c.points.map((p) => p.at));
  if (!all.length) {
    root.append(svg("text", { x: 4, y: 20, text: "no rated answers yet: feedback makes the curves" }));
    return root;
  }
  const x0 = Math.min(...all), x1 = Math.max(...all), span = x1 - x0 || 1;
  const x = (t) => left + ((t - x0) / span) * (width - left - 10);
  const y = (v) => 6 + (1 - v) * (height - bottom - 12);
  for (const v of [0, 0.5, 1]) {
    root.append(svg("line", { x1: left, x2: width, y1: y(v), y2: y(v), class: "axis" }));
    root.append(svg("text", { x: 2, y: y(v) + 3, text: `${v * 100}%` }));
  }
  root.append(svg("text", { x: left, y: height - 4, text: new Date(x0 * 1000).toLocaleString() }));
  curves.forEach((curve, i) => {
    const color = COLORS[i % COLORS.length];
    const points = curve.points.map((p) => `${x(p.at)},${y(p.cumulative)}`).join(" ");
    root.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2 }));
    for (const p of curve.points) root.append(svg("circle", { cx: x(p.at), cy: y(p.cumulative), r: 2.5, fill: color }));
    root.append(svg("text", { x: width + 8, y: 14 + i * 14, fill: color,
      text: `${curve.model} · ${curve.task_type}: ${num(curve.success_rate * 100, 0, "%")} of ${curve.rated}` }));
  });
  return root;
}

function hbars(entries, testid) {
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const root = svg("svg", { width: 360, height: Math.max(20, entries.length * 18), "data-testid": testid });
  entries.forEach(([label, n], i) => {
    root.append(svg("text", { x: 0, y: i * 18 + 12, text: label }));
    root.append(svg("rect", { x: 150, y: i * 18 + 3, width: Math.max(1, (n / max) * 160), height: 11, class: "used" }));
    root.append(svg("text", { x: 150 + (n / max) * 160 + 4, y: i * 18 + 12, text: String(n) }));
  });
  return root;
}

async function refreshLearning() {
  const learning = await api("/dashboard/api/learning?days=30");
  $("curves").replaceChildren(lineChart(learning.curves));
  const o = learning.overturns;
  $("overturns").replaceChildren(el("p", {
    text: o.decisions
      ? `${o.overturned_by_memory} of ${o.decisions} decisions (${num((o.rate || 0) * 100, 1, "%")}); ${o.not_benchmark_choice} differed from the benchmark's pick`
      : "no decisions among several models yet",
  }));
  const kinds = ["accepted", "partial", "rejected", "thumbs_up", "thumbs_down"];
  const counts = kinds.map((k) => [k, learning.feedback.by_kind[k] || 0]);
  $("feedback").replaceChildren(hbars(counts, "feedback-bars"));
}

function refreshLearningSoon() {
  clearTimeout(learningSoon);
  learningSoon = setTimeout(() => refreshLearning().catch(() => {}), 500);
}

async function refreshMemory() {
  const memory = await api("/dashboard/api/memory");
  $("points").replaceChildren(memory.by_model_task.length
    ? hbars(memory.by_model_task.map((g) => [`${g.model} · ${g.task_type}`, g.points]), "points-bars")
    : el("p", { class: "muted", text: "no points yet" }));
  $("ages").replaceChildren(hbars(memory.ages.map((a) => [a.younger_than === "older" ? "older" : `< ${a.younger_than}`, a.points]), "age-bars"));
  const index = memory.index || {};
  $("index").replaceChildren(
    el("p", { text: `${memory.points} points in SQLite; ${index.points ?? "–"} in the ${index.backend || ""} index (${index.state || ""})` }),
    el("p", { text: `index ${bytes(index.disk_bytes)} on disk; database ${bytes(memory.database_bytes)}` }),
    el("p", { class: "muted", text: memory.embedding_model || "" }),
  );
}

// --- start -------------------------------------------------------------------------

async function poll(fn, everyMs) {
  for (;;) {
    try { await fn(); } catch (error) { if (error instanceof Unauthorized) return askForToken(); }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

async function start() {
  try {
    renderModels(await api("/dashboard/api/snapshot?decisions=0"));
  } catch (error) {
    if (error instanceof Unauthorized) return askForToken();
  }
  follow();
  poll(async () => renderModels(await api("/dashboard/api/snapshot?decisions=0")), 1000);
  poll(refreshLearning, 15000);
  poll(refreshMemory, 15000);
}

start();
