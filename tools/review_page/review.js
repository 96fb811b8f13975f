// The review page: the lines of one dub, where the last run put them, and edits saved to the user's script.
// Every text from the script is set with textContent or an input's value, never parsed as markup.
"use strict";

const TOKEN = document.querySelector('meta[name="review-token"]').content;
const FIELDS = ["start", "end", "speaker", "voice", "text", "keep_original"];
const $ = (id) => document.getElementById(id);
const state = { data: null, lines: [], base: new Map(), rows: new Map(), selected: null, version: "",
  view: { start: 0, length: 40 }, running: false, costTimer: null };

function url(path, extra) {
  const params = new URLSearchParams({ token: TOKEN, ...(extra || {}) });
  return `${path}?${params}`;
}

async function api(path, body) {
  const options = { headers: { "X-Review-Token": TOKEN } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    return { ok: false, status: 0, data: { error: "the review server does not answer (stopped?): your unsaved edits "
      + "are kept in this browser; start make review again and open its new URL to save them" } };
  }
  let data = {};
  try { data = await response.json(); } catch (e) { data = { error: `${response.status} ${response.statusText}` }; }
  return { ok: response.ok, status: response.status, data };
}

function say(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = kind || "";
}

function el(tag, props, children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children || []) node.append(child);
  return node;
}

const fmt = (seconds) => (seconds === null || seconds === undefined || seconds === "") ? "" : Number(seconds).toFixed(3);

function same(field, a, b) {
  if (field === "keep_original") return Boolean(a) === Boolean(b);
  if (field === "start" || field === "end") return Number(a).toFixed(3) === Number(b).toFixed(3);
  return String(a ?? "").trim() === String(b ?? "").trim();
}

function editedFields(line) {
  const base = state.base.get(line.id);
  return FIELDS.filter((field) => !same(field, line[field], base[field]));
}

const dirtyLines = () => state.lines.filter((line) => editedFields(line).length);

// The unsaved edits, each field with the value it was edited from (what a save merges on).
function pendingEdits() {
  return dirtyLines().map((line) => {
    const fields = editedFields(line);
    const base = state.base.get(line.id);
    return { id: line.id, base: Object.fromEntries(fields.map((f) => [f, base[f]])),
      new: Object.fromEntries(fields.map((f) => [f, line[f]])) };
  });
}

// Unsaved edits are kept in this browser (the page's origin is the same after a restart of the server, whose
// port is derived from the video), so a stopped server or a closed tab loses nothing.
const draftKey = () => `review-draft:${state.data.video}:${state.data.language}`;

function keepDraft() {
  if (!state.data) return;
  const edits = pendingEdits();
  try {
    if (edits.length) localStorage.setItem(draftKey(), JSON.stringify(edits));
    else localStorage.removeItem(draftKey());
  } catch (error) { /* storage full or disabled: the edits are still in the page */ }
}

function restoreDraft() {
  let edits = [];
  try { edits = JSON.parse(localStorage.getItem(draftKey()) || "[]"); } catch (error) { edits = []; }
  let restored = 0;
  for (const edit of edits) {
    const line = state.lines.find((l) => l.id === edit.id);
    if (!line) continue;
    const base = state.base.get(line.id);
    for (const [field, value] of Object.entries(edit.new)) {
      // Only onto the value it was made from: a field changed in the file since is left as the file has it.
      if (FIELDS.includes(field) && same(field, base[field], edit.base[field])) line[field] = value;
    }
    if (editedFields(line).length) { line.changed = true; restored += 1; }
  }
  return restored;
}

function updateDirty() {
  keepDraft();
  const dirty = dirtyLines().length;
  $("save").disabled = dirty === 0;
  $("save").textContent = dirty ? `Save (${dirty})` : "Save";
}

async function load(message) {
  const { ok, data } = await api(url("/api/state"));
  if (!ok) { say(data.error, "error"); return; }
  state.data = data;
  state.version = data.version;
  state.lines = data.lines;
  state.base = new Map(data.lines.map((line) => [line.id, Object.fromEntries(FIELDS.map((f) => [f, line[f]]))]));
  const restored = restoreDraft();
  document.title = `Review: ${data.video}`;
  $("title").textContent = `Review: ${data.video}` + (data.language ? ` → ${data.language}` : "");
  $("scriptinfo").textContent = data.script_exists
    ? `Edits go to ${data.script}.`
    : `Edits go to ${data.script} (made from ${data.from} on the first save).`;
  const sync = data.sync || {};
  $("sync").textContent = `${data.lines.length} lines, voice ${data.backend}; last dub: ${sync.overlaps ?? "?"} overlaps, `
    + `${sync.missing ?? "?"} missing, dub vs original onset median ${sync.median_vs_original ?? "?"} s`;
  if (data.dubbed && !$("video").src) $("video").src = url("/media/video");
  renderTable();
  updateDirty();
  drawAll();
  if (restored) {
    say(`restored ${restored} unsaved edit(s) from before (not yet saved: Save or Re-dub keeps them)`, "ok");
    scheduleCosts();
  } else if (message) {
    say(message, "ok");
  }
}

function voiceSelect(line) {
  const select = el("select", { title: "The voice of this line (empty: the speaker's voice)" });
  const speakerVoice = line.speaker_voice ? ` (${line.speaker_voice})` : "";
  select.append(el("option", { value: "", textContent: `speaker's voice${speakerVoice}` }));
  const voices = [...state.data.voices];
  if (line.voice && !voices.includes(line.voice)) voices.push(line.voice);
  for (const voice of voices) select.append(el("option", { value: voice, textContent: voice }));
  select.value = line.voice || "";
  return select;
}

function renderCost(cell, line) {
  const cost = line.cost || {};
  cell.replaceChildren();
  if (!cost.characters) { cell.append(el("span", { className: "muted", textContent: cost.note || "" })); return; }
  const parts = [`${cost.characters} chars`];
  if (cost.requests) parts.push(`${cost.requests} request`);
  if (cost.price) parts.push(`$${cost.price.toFixed(4)}`);
  cell.append(el("div", { textContent: parts.join(" · ") }));
  if (cost.note) cell.append(el("div", { className: "muted", textContent: cost.note }));
  cell.append(el("div", { className: cost.fits ? "muted" : "warn", textContent: `needs ${cost.speedup}x` }));
  if (cost.warning) cell.append(el("div", { className: "warn cost-warning", textContent: cost.warning }));
}

function renderPlaced(cell, line) {
  cell.replaceChildren();
  if (line.unspoken) { cell.append(el("span", { className: "muted", textContent: line.unspoken })); return; }
  if (line.placed_start === null) { cell.append(el("span", { className: "muted", textContent: "not in the last dub" })); return; }
  const moved = Math.abs(line.displacement) > 0.05 ? `, moved ${line.displacement > 0 ? "+" : ""}${line.displacement.toFixed(2)} s` : "";
  cell.append(el("div", { textContent: `${fmt(line.placed_start)}–${fmt(line.placed_end)}${moved}` }));
  const extra = [];
  if (line.speedup > 1.001) extra.push(`${line.speedup.toFixed(2)}x faster`);
  if (line.vs_original !== null) extra.push(`${line.vs_original >= 0 ? "+" : ""}${line.vs_original.toFixed(2)} s vs original`);
  if (extra.length) cell.append(el("div", { className: "muted", textContent: extra.join(", ") }));
  if (line.status) cell.append(el("div", { className: line.status === "ok" ? "status-ok" : "status-bad", textContent: line.status }));
}

function buildRow(line) {
  const tr = el("div", { className: "line" });
  tr.setAttribute("role", "row");
  tr.dataset.id = line.id;
  const start = el("input", { className: "time", type: "number", step: "0.001", min: "0", value: line.start });
  const end = el("input", { className: "time", type: "number", step: "0.001", min: "0", value: line.end });
  const speaker = el("input", { className: "speaker", value: line.speaker || "" });
  const voice = voiceSelect(line);
  const text = el("textarea", { rows: 2, value: line.text || "" });
  const keep = el("input", { type: "checkbox", checked: Boolean(line.keep_original) });
  const inputs = { start, end, speaker, voice, text, keep_original: keep };
  for (const [field, input] of Object.entries(inputs)) {
    input.dataset.field = field;
    input.addEventListener(input.type === "checkbox" || input.tagName === "SELECT" ? "change" : "input", () => {
      line[field] = input.type === "checkbox" ? input.checked : input.value;
      line.changed = true;
      markRow(line);
      updateDirty();
      scheduleCosts();
      drawAll();
    });
  }
  const playOriginal = el("button", { type: "button", textContent: "▶ original", className: "play-original" });
  playOriginal.addEventListener("click", () => play("original", line));
  const playDub = el("button", { type: "button", textContent: "▶ dub", className: "play-dub",
    disabled: line.placed_start === null });
  playDub.addEventListener("click", () => play("dub", line));
  const textCell = el("div", { className: "text" }, [text]);
  if (line.source_text) textCell.append(el("div", { className: "source", textContent: line.source_text }));
  textCell.append(el("div", { className: "err" }));
  const placed = el("div", { className: "placed" });
  const cost = el("div", { className: "cost" });
  tr.append(el("div", { className: "id", textContent: line.id }), el("div", {}, [start]), el("div", {}, [end]),
    el("div", {}, [speaker]), el("div", {}, [voice]), textCell, el("div", {}, [keep]),
    el("div", {}, [playOriginal, el("br"), playDub]), placed, cost);
  tr.addEventListener("focusin", () => select(line.id, false));
  state.rows.set(line.id, { tr, placed, cost, error: textCell.querySelector(".err") });
  renderPlaced(placed, line);
  renderCost(cost, line);
  markRow(line);
  return tr;
}

function markRow(line) {
  const row = state.rows.get(line.id);
  if (row) row.tr.classList.toggle("edited", editedFields(line).length > 0);
}

function renderTable() {
  const body = $("rows");
  state.rows.clear();
  const fragment = document.createDocumentFragment();
  for (const line of state.lines) fragment.append(buildRow(line));
  body.replaceChildren(fragment);
}

function play(kind, line) {
  const clip = $("clip");
  clip.src = url(`/media/${kind}/${encodeURIComponent(line.id)}.wav`, { v: state.version + (kind === "dub" ? state.dubStamp || "" : "") });
  clip.dataset.playing = `${kind}:${line.id}`;
  $("video").pause();
  clip.play().catch((error) => say(`could not play ${kind} of ${line.id}: ${error.message}`, "error"));
  select(line.id, false);
}

function select(id, scroll) {
  if (state.selected === id) return;
  const old = state.rows.get(state.selected);
  if (old) old.tr.classList.remove("selected");
  state.selected = id;
  const row = state.rows.get(id);
  if (row) {
    row.tr.classList.add("selected");
    if (scroll) row.tr.scrollIntoView({ block: "center" });
  }
  const line = state.lines.find((l) => l.id === id);
  if (line) {
    const start = Number(line.start);
    if (start < state.view.start || start > state.view.start + state.view.length) {
      state.view.start = Math.max(0, start - state.view.length / 4);
    }
  }
  drawAll();
}

function scheduleCosts() {
  clearTimeout(state.costTimer);
  state.costTimer = setTimeout(async () => {
    const lines = state.lines.map((line) => ({ id: line.id, start: line.start, end: line.end, text: line.text,
      keep_original: line.keep_original, changed: line.changed || editedFields(line).length > 0,
      speech_seconds: line.speech_seconds }));
    const { ok, data } = await api(url("/api/cost"), { lines });
    if (!ok) return;
    for (const line of state.lines) {
      line.cost = data[line.id];
      const row = state.rows.get(line.id);
      if (row) renderCost(row.cost, line);
    }
  }, 250);
}

async function save() {
  const edits = pendingEdits();
  if (!edits.length) return true;
  for (const row of state.rows.values()) { row.error.textContent = ""; row.tr.classList.remove("bad"); }
  const { ok, status, data } = await api(url("/api/save"), { version: state.version, edits });
  if (!ok) {
    say(data.error, "error");
    const named = /\(id ([A-Za-z0-9_-]+)\)|segments ([A-Za-z0-9_-]+) and|segment ([A-Za-z0-9_-]+) starts/.exec(data.error || "");
    const id = named && (named[1] || named[2] || named[3]);
    const row = id && state.rows.get(id);
    if (row) { row.error.textContent = data.error; row.tr.classList.add("bad"); }
    return status === 0;
  }
  const count = edits.length;
  try { localStorage.removeItem(draftKey()); } catch (error) { /* nothing kept */ }
  await load(`saved ${count} line(s) to ${data.script}` + (data.merged ? " (merged with changes made in another program)" : ""));
  return true;
}

async function redub() {
  if (state.running) return;
  if (dirtyLines().length && !(await save())) return;
  const { ok, data } = await api(url("/api/redub"), {});
  if (!ok) { say(data.error, "error"); return; }
  watch();
}

async function watch() {
  state.running = true;
  $("redub").disabled = true;
  $("stop").hidden = false;
  $("progress").hidden = false;
  for (;;) {
    const { ok, data } = await api(url("/api/redub"));
    if (!ok) { say(data.error, "error"); break; }
    const percent = /\((\d+)%\)/.exec(data.progress || "");
    $("bar").value = percent ? Number(percent[1]) : 0;
    $("steps").textContent = `${data.progress || "starting"} · ${data.seconds ?? 0} s · ${data.message}`;
    $("runlog").textContent = (data.log || []).join("\n");
    if (data.state !== "running") {
      state.running = false;
      $("redub").disabled = false;
      $("stop").hidden = true;
      state.dubStamp = String(Date.now());
      if (data.state === "done") {
        const video = $("video");
        const at = video.currentTime;
        video.src = url("/media/video", { v: state.dubStamp });
        video.currentTime = at;
        await load(data.message);
        $("progress").hidden = true;
      } else {
        await load();
        say(data.message, "error");
      }
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

// --- timeline -----------------------------------------------------------------------------------
function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = Number(canvas.getAttribute("height"));
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = `${height}px`;
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  return { context, width, height };
}

function colour(line) {
  if (line.keep_original) return "#3c9d4a";
  if (editedFields(line).length) return "#9b59b6";
  if (line.status && line.status !== "ok") return "#c0262d";
  if (Math.abs(line.displacement || 0) > 0.05) return "#e08a00";
  return "#2f6fbf";
}

function drawLanes(context, width, height, from, length, thin) {
  const x = (t) => ((t - from) / length) * width;
  const lane = height / 3;
  context.fillStyle = "#9aa5b1";
  for (const [a, b] of state.data.speech) {
    if (b < from || a > from + length) continue;
    context.fillRect(x(a), 2, Math.max(x(b) - x(a), 1), lane - 4);
  }
  for (const line of state.lines) {
    const start = Number(line.start), end = Number(line.end);
    const placedStart = line.placed_start ?? start, placedEnd = line.placed_end ?? end;
    if (Math.max(end, placedEnd) < from || Math.min(start, placedStart) > from + length) continue;
    context.strokeStyle = line.id === state.selected ? "#000" : "#555";
    context.lineWidth = line.id === state.selected ? 2 : 1;
    context.strokeRect(x(start) + 0.5, lane + 2.5, Math.max(x(end) - x(start) - 1, 1), lane - 5);
    context.fillStyle = colour(line);
    if (line.unspoken && !line.keep_original) context.fillStyle = "#c8c8c8";
    const a = editedFields(line).length ? start : placedStart;
    const b = editedFields(line).length ? end : placedEnd;
    context.fillRect(x(a), 2 * lane + 2, Math.max(x(b) - x(a), 1), lane - 4);
    if (!thin && x(b) - x(a) > 28) {
      context.fillStyle = "#fff";
      context.font = "11px system-ui";
      context.fillText(line.id, x(a) + 3, 2 * lane + lane / 2 + 4);
    }
  }
  const now = $("video").currentTime || 0;
  context.fillStyle = "#000";
  context.fillRect(x(now), 0, 1.5, height);
}

function drawAll() {
  if (!state.data) return;
  const duration = Math.max(state.data.duration, 1);
  const overview = prepare($("overview"));
  drawLanes(overview.context, overview.width, overview.height, 0, duration, true);
  const view = state.view;
  view.length = Math.min(Math.max(view.length, 2), duration);
  view.start = Math.min(Math.max(view.start, 0), Math.max(duration - view.length, 0));
  overview.context.strokeStyle = "#2f6fbf";
  overview.context.lineWidth = 1.5;
  overview.context.strokeRect((view.start / duration) * overview.width, 0.75,
    (view.length / duration) * overview.width, overview.height - 1.5);
  const detail = prepare($("detail"));
  drawLanes(detail.context, detail.width, detail.height, view.start, view.length, false);
}

function timeAt(canvas, event, from, length) {
  const box = canvas.getBoundingClientRect();
  return from + ((event.clientX - box.left) / box.width) * length;
}

function setupTimeline() {
  $("overview").addEventListener("click", (event) => {
    const t = timeAt($("overview"), event, 0, state.data.duration);
    state.view.start = t - state.view.length / 2;
    $("video").currentTime = Math.max(t, 0);
    drawAll();
  });
  const detail = $("detail");
  let drag = null;
  detail.addEventListener("wheel", (event) => {
    event.preventDefault();
    const t = timeAt(detail, event, state.view.start, state.view.length);
    const factor = event.deltaY > 0 ? 1.25 : 0.8;
    state.view.length *= factor;
    state.view.start = t - (t - state.view.start) * factor;
    drawAll();
  }, { passive: false });
  detail.addEventListener("mousedown", (event) => { drag = { x: event.clientX, start: state.view.start, moved: false }; });
  window.addEventListener("mousemove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    state.view.start = drag.start - (dx / detail.clientWidth) * state.view.length;
    drawAll();
  });
  window.addEventListener("mouseup", (event) => {
    if (drag && !drag.moved && event.target === detail) {
      const t = timeAt(detail, event, state.view.start, state.view.length);
      const hit = state.lines.find((line) => Number(line.start) <= t && t <= Math.max(Number(line.end), line.placed_end ?? 0));
      if (hit) select(hit.id, true);
      $("video").currentTime = Math.max(t, 0);
    }
    drag = null;
  });
  const video = $("video");
  let frame = null;
  const follow = () => {
    const t = video.currentTime;
    if (t > state.view.start + state.view.length * 0.9 || t < state.view.start) state.view.start = t - state.view.length * 0.1;
    drawAll();
    frame = video.paused ? null : requestAnimationFrame(follow);
  };
  video.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(follow); });
  video.addEventListener("seeked", drawAll);
  window.addEventListener("resize", drawAll);
}

async function checkDisk() {
  if (state.running || !state.data) return;
  const { ok, status, data } = await api(url("/api/version"));
  if (status === 0) { say(data.error, "error"); return; }
  if (!ok || data.version === state.version) return;
  if (dirtyLines().length) {
    say(`${state.data.script} was changed in another program: your unsaved edits stay here and are merged on Save `
      + "when they touch other lines (the same line is refused, never overwritten)", "error");
  } else {
    await load(`${state.data.script} was changed in another program: reloaded`);
  }
}

window.addEventListener("beforeunload", (event) => {
  if (dirtyLines().length) { event.preventDefault(); event.returnValue = ""; }
});

document.addEventListener("DOMContentLoaded", async () => {
  $("save").addEventListener("click", save);
  $("redub").addEventListener("click", redub);
  $("stop").addEventListener("click", () => api(url("/api/redub/stop"), {}));
  setupTimeline();
  await load();
  const { data } = await api(url("/api/redub"));
  if (data && data.state === "running") watch();
  setInterval(checkDisk, 2000);
  // Ready once the lines and the timeline are laid out and painted (the frame after the next one starts).
  requestAnimationFrame(() => setTimeout(() => {
    document.body.dataset.readyMs = performance.now().toFixed(1);  // since navigation started
    document.body.dataset.ready = "yes";
  }, 0));
});
