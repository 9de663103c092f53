// The vaultsync graph view: sigma.js (WebGL) over a graphology graph, laid out in the
// browser by ForceAtlas2 in a web worker for a few seconds, kept live by /api/events.

import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";
import FA2Layout from "graphology-layout-forceatlas2/worker";
import Sigma from "sigma";
import { createNodeBorderProgram } from "@sigma/node-border";

import { Api, ApiError, findToken } from "./api.js";
import { h, renderPanel, renderPanelMessage } from "./panel.js";
import {
  DIMMED, EDGE, EDGE_ACTIVE, KIND_COLORS, ORPHAN, SINGLE_SOURCE, TYPE_COLORS,
  communityColors, kindColor, nodeColor, nodeSize, seedPosition,
} from "./style.js";

const MAX_NODES = 20000; // beyond this, the top pages by PageRank (the API's limit=)
const $ = (id) => document.getElementById(id);

const state = {
  mode: "global",
  center: null,
  depth: 1,
  direction: "both",
  colorBy: "community",
  include: new Set(),
  selected: null,
  hovered: null,
  focusSet: null,
  focusEdges: null,
  panelPath: null,
  data: null,
  communities: { colors: new Map(), ranked: [] },
  ranks: new Map(),
  flash: new Map(),
  refreshes: 0,
  lastBatch: 0,
};

const graph = new Graph({ type: "directed", multi: false, allowSelfLoops: false });
let renderer = null;
let api = null;
let layout = null;
let layoutTimer = null;

function setBodyData(values) {
  for (const [key, value] of Object.entries(values)) document.body.dataset[key] = String(value);
}

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

// --- layout ---------------------------------------------------------------------------

function stopLayout() {
  clearTimeout(layoutTimer);
  layoutTimer = null;
  if (layout) {
    layout.kill();
    layout = null;
    if (renderer && graph.size > EDGES_HIDDEN_IN_LAYOUT) renderer.refresh();
  }
  setBodyData({ layout: "stopped" });
}

function runLayout(ms) {
  stopLayout();
  if (graph.order < 2) return;
  const settings = forceAtlas2.inferSettings(graph);
  settings.barnesHutOptimize = graph.order > 800;
  settings.gravity = 1;
  settings.adjustSizes = false;
  layout = new FA2Layout(graph, { settings, getEdgeWeight: null });
  layout.start();
  setBodyData({ layout: "running" });
  layoutTimer = setTimeout(stopLayout, ms);
}

function layoutTime(order) {
  return Math.min(8000, 3000 + order * 0.5);
}

// --- data → graph ---------------------------------------------------------------------

function nodeAttributes(node, maxRank, order) {
  const marked = node.type === "page";
  return {
    label: node.title,
    size: nodeSize(node, maxRank, order),
    color: nodeColor(node, state.colorBy, state.communities),
    orphanRing: marked && node.orphan ? 2.5 : 0,
    singleRing: marked && node.single_source ? 2.5 : 0,
    nodeType: node.type,
    info: node,
  };
}

function restyle() {
  if (!state.data) return;
  state.communities = communityColors(state.data.nodes);
  graph.forEachNode((id, attrs) => {
    graph.setNodeAttribute(id, "color", nodeColor(attrs.info, state.colorBy, state.communities));
  });
  renderLegend();
}

function applyData(data, { relayout }) {
  state.data = data;
  state.communities = communityColors(data.nodes);
  const pages = data.nodes.filter((n) => n.type === "page");
  const maxRank = Math.max(0, ...pages.map((n) => n.pagerank || 0));
  state.ranks = new Map(
    [...pages].filter((n) => n.pagerank !== null && n.pagerank !== undefined)
      .sort((a, b) => b.pagerank - a.pagerank).map((n, i) => [n.id, i + 1]));
  const order = data.nodes.length;
  const radius = Math.max(10, Math.sqrt(order) * 10);

  stopLayout();
  const incoming = new Set(data.nodes.map((n) => n.id));
  graph.forEachNode((id) => {
    if (!incoming.has(id)) graph.dropNode(id);
  });
  const fresh = [];
  for (const node of data.nodes) {
    const attrs = nodeAttributes(node, maxRank, order);
    if (graph.hasNode(node.id)) {
      graph.mergeNodeAttributes(node.id, attrs);
    } else {
      let pos;
      if (state.mode === "local" && node.depth !== undefined) {
        const h32 = [...node.id].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
        const angle = (h32 % 3600) / 3600 * Math.PI * 2;
        pos = { x: Math.cos(angle) * node.depth * 30, y: Math.sin(angle) * node.depth * 30 };
      } else {
        pos = seedPosition(node.id, node.community, radius);
      }
      graph.addNode(node.id, { ...attrs, ...pos });
      fresh.push(node.id);
    }
  }
  graph.clearEdges();
  // Tens of thousands of edges paint a grey disc: draw them barely above the background
  // (sigma blends premultiplied alpha, so an rgba colour would add up to white).
  const edgeColor = data.links.length > 20000 ? "#2b2b2b" : EDGE;
  for (const link of data.links) {
    if (!graph.hasNode(link.source) || !graph.hasNode(link.target)) continue;
    if (link.source === link.target || graph.hasEdge(link.source, link.target)) continue;
    graph.addEdge(link.source, link.target, {
      weight: link.weight,
      size: Math.min(3, 0.5 + Math.log2(1 + link.weight) * 0.5),
      color: edgeColor,
    });
  }
  // A node new to a graph already laid out starts next to a neighbour that was there.
  if (!relayout && fresh.length < graph.order) {
    const freshSet = new Set(fresh);
    for (const id of fresh) {
      const anchor = graph.neighbors(id).find((n) => !freshSet.has(n));
      if (anchor) {
        const a = graph.getNodeAttributes(anchor);
        graph.mergeNodeAttributes(id, { x: a.x + (Math.random() - 0.5) * 4, y: a.y + (Math.random() - 0.5) * 4 });
      }
    }
  }
  if (state.selected && !graph.hasNode(state.selected)) state.selected = null;
  if (state.hovered && !graph.hasNode(state.hovered)) state.hovered = null;
  updateFocus();
  renderStats();
  renderLegend();
  setBodyData({ nodes: graph.order, edges: graph.size, mode: state.mode });
  showMessage(graph.order ? "" : "The mirror has no pages yet.");
  if (relayout) {
    runLayout(layoutTime(graph.order));
    renderer.getCamera().animatedReset({ duration: 300 });
  } else if (fresh.length) {
    runLayout(1200);
  }
  renderer.refresh();
}

async function fetchGraph() {
  const include = [...state.include].join(",");
  if (state.mode === "local") {
    return api.local(state.center, state.depth, state.direction, include);
  }
  return api.graph({ include, limit: MAX_NODES });
}

let loading = null;
let loadAgain = false;

async function load({ relayout = false } = {}) {
  if (loading) {
    loadAgain = true;
    return loading;
  }
  loading = (async () => {
    try {
      let again = true;
      let first = true;
      while (again) {
        loadAgain = false;
        const data = await fetchGraph();
        applyData(data, { relayout: relayout && first });
        first = false;
        again = loadAgain;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && state.mode === "local") {
        showMessage(`The page ${state.center} is gone.`);
        exitLocal();
        return;
      }
      showMessage(`Cannot load the graph: ${err.message}`);
      throw err;
    } finally {
      loading = null;
    }
  })();
  return loading;
}

// --- focus, hover, selection ------------------------------------------------------------

function updateFocus() {
  const focus = state.hovered || state.selected;
  const ok = focus && graph.hasNode(focus);
  state.focusSet = ok ? new Set([focus, ...graph.neighbors(focus)]) : null;
  state.focusEdges = ok ? new Set(graph.edges(focus)) : null;
}

function nodeReducer(node, data) {
  const res = { ...data };
  const focus = state.hovered || state.selected;
  if (state.focusSet && !state.focusSet.has(node)) {
    res.color = DIMMED;
    res.label = "";
    res.orphanRing = 0;
    res.singleRing = 0;
    res.zIndex = 0;
  } else if (state.focusSet) {
    res.zIndex = 1;
    if (graph.order < 3000) res.forceLabel = true;
  }
  if (node === focus) {
    res.highlighted = true;
    res.zIndex = 2;
  }
  const until = state.flash.get(node);
  if (until) {
    if (until > performance.now()) {
      res.highlighted = true;
      res.forceLabel = true;
    } else state.flash.delete(node);
  }
  return res;
}

// Big graphs hide their edges while the layout moves every node (the edges would be
// re-uploaded each frame); they come back when it stops.
const EDGES_HIDDEN_IN_LAYOUT = 20000;

function edgeReducer(edge, data) {
  if (state.focusEdges) {
    if (state.focusEdges.has(edge)) return { ...data, color: EDGE_ACTIVE, size: data.size + 0.5, zIndex: 1 };
    return { ...data, hidden: true };
  }
  if (layout && graph.size > EDGES_HIDDEN_IN_LAYOUT) return { ...data, hidden: true };
  return data;
}

function focusCamera(id) {
  const display = renderer.getNodeDisplayData(id);
  if (!display) return;
  renderer.getCamera().animate({ x: display.x, y: display.y, ratio: Math.min(0.5, renderer.getCamera().ratio) }, { duration: 500 });
}

async function openPanel(path) {
  const panel = $("panel");
  state.panelPath = path;
  setBodyData({ panel: path });
  const ctx = {
    onOpen: (p) => selectPage(p, { focus: true }),
    onLocal: (p) => enterLocal(p),
    onClose: closePanel,
    rank: state.ranks.get(path),
  };
  try {
    const page = await api.page(path);
    if (state.panelPath !== path) return;
    renderPanel(panel, page, ctx);
    setPanelOpen(true);
  } catch (err) {
    if (state.panelPath !== path) return;
    if (err instanceof ApiError && err.status === 404) {
      renderPanelMessage(panel, path, "This page is not in the vault (any more).", closePanel);
    } else {
      renderPanelMessage(panel, path, `Cannot load the page: ${err.message}`, closePanel);
    }
    setPanelOpen(true);
  }
  setBodyData({ panelLoaded: path });
}

// The graph area makes room for the panel rather than hiding under it.
function setPanelOpen(open) {
  if (document.body.classList.contains("panel-open") === open) return;
  document.body.classList.toggle("panel-open", open);
  if (renderer) {
    renderer.resize();
    renderer.refresh({ skipIndexation: true });
  }
}

function closePanel() {
  setPanelOpen(false);
  $("panel").hidden = true;
  state.panelPath = null;
  state.selected = null;
  updateFocus();
  setBodyData({ panel: "", panelLoaded: "" });
  renderer.refresh({ skipIndexation: true });
}

function showNodeInfo(id) {
  const attrs = graph.getNodeAttributes(id);
  const info = attrs.info;
  const from = graph.inNeighbors(id).map((n) => graph.getNodeAttribute(n, "label"));
  const what = { unresolved: "A link to a page that does not exist yet.", attachment: "An attachment.", tag: "A tag." }[info.type] || "";
  renderPanelMessage($("panel"), info.title, `${what} Linked from: ${from.join(", ") || "nothing shown"}.`, closePanel);
  setPanelOpen(true);
  state.panelPath = null;
}

async function selectPage(path, { focus = true } = {}) {
  if (state.mode === "local" && !graph.hasNode(path)) {
    state.center = path;
    await load({ relayout: true });
  }
  state.selected = graph.hasNode(path) ? path : null;
  updateFocus();
  $("mode-local").disabled = false;
  renderer.refresh({ skipIndexation: true });
  if (focus && state.selected) focusCamera(path);
  await openPanel(path);
}

// --- modes ------------------------------------------------------------------------------

function setModeButtons() {
  document.body.classList.toggle("mode-local", state.mode === "local");
  $("mode-global").classList.toggle("active", state.mode === "global");
  $("mode-local").classList.toggle("active", state.mode === "local");
  $("mode-global").setAttribute("aria-pressed", String(state.mode === "global"));
  $("mode-local").setAttribute("aria-pressed", String(state.mode === "local"));
}

async function enterLocal(path) {
  const center = path || state.selected || state.panelPath;
  if (!center) return;
  state.mode = "local";
  state.center = center;
  state.selected = center;
  setModeButtons();
  await load({ relayout: true });
  if (state.panelPath !== center) openPanel(center);
}

async function exitLocal() {
  state.mode = "global";
  setModeButtons();
  await load({ relayout: true });
  if (state.selected) focusCamera(state.selected);
}

// --- search -----------------------------------------------------------------------------

function setupSearch() {
  const input = $("search");
  const list = $("search-results");
  let timer = null;
  let results = [];
  let active = -1;
  let seq = 0;

  const close = () => {
    list.hidden = true;
    active = -1;
  };
  const choose = (i) => {
    const r = results[i];
    if (!r) return;
    close();
    input.value = r.title;
    input.blur();
    selectPage(r.path, { focus: true });
  };
  const highlight = () => {
    [...list.children].forEach((li, i) => li.classList.toggle("active", i === active));
  };
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) return close();
    let data;
    try {
      data = await api.search(q);
    } catch (err) {
      data = { results: [], error: err.message };
    }
    if (mine !== seq) return;
    results = data.results;
    active = results.length ? 0 : -1;
    list.replaceChildren(...(results.length ? results.map((r, i) => {
      const snippet = h("div", { class: "r-snippet" });
      snippet.innerHTML = r.snippet; // the API escapes the text and adds only <mark>
      return h("li", { role: "option", dataset: { path: r.path }, onmousedown: (e) => { e.preventDefault(); choose(i); } },
        h("span", { class: "r-title" }, r.title), h("span", { class: "r-path" }, r.path), snippet);
    }) : [h("li", { class: "empty" }, data.error ? `Search failed: ${data.error}` : "No pages found")]));
    list.hidden = false;
    highlight();
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!results.length) return;
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : results.length - 1)) % results.length;
      highlight();
    } else if (e.key === "Enter") {
      e.preventDefault();
      clearTimeout(timer);
      if (list.hidden || !results.length) run().then(() => choose(0));
      else choose(Math.max(0, active));
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== input) {
      e.preventDefault();
      input.focus();
    }
  });
}

// --- legend and stats ---------------------------------------------------------------------

function renderStats() {
  const meta = state.data ? state.data.meta : null;
  const pages = state.data ? state.data.nodes.filter((n) => n.type === "page").length : 0;
  let text = `${pages} pages · ${graph.size} links`;
  if (state.mode === "local") text += ` · around ${graph.hasNode(state.center) ? graph.getNodeAttribute(state.center, "label") : state.center}`;
  else if (meta && meta.truncated) text += ` · top ${meta.shown_pages} of ${meta.pages} by PageRank`;
  if (meta && meta.metrics && !meta.metrics.fresh) text += " · metrics updating…";
  $("stats").textContent = text;
}

function renderLegend() {
  const legend = $("legend");
  const rows = [];
  if (state.colorBy === "kind") {
    rows.push(h("h4", {}, "Kind"));
    const kinds = new Map();
    for (const n of state.data ? state.data.nodes : []) if (n.type === "page") kinds.set(n.kind || "other", (kinds.get(n.kind || "other") || 0) + 1);
    for (const [kind, count] of [...kinds.entries()].sort((a, b) => b[1] - a[1])) {
      rows.push(h("div", { class: "row" }, h("span", { class: "swatch", style: { background: KIND_COLORS[kind] || kindColor(kind === "other" ? null : kind) } }), `${kind} (${count})`));
    }
  } else {
    rows.push(h("h4", {}, "Community"));
    const top = new Map();
    for (const n of state.data ? state.data.nodes : []) {
      if (n.type !== "page" || n.community === null || n.community === undefined) continue;
      const best = top.get(n.community);
      if (!best || (n.pagerank || 0) > (best.pagerank || 0)) top.set(n.community, n);
    }
    const ranked = state.communities.ranked.slice(0, 8);
    if (!ranked.length) rows.push(h("div", { class: "row muted" }, "not computed yet (coloured by kind)"));
    for (const [community, count] of ranked) {
      const hub = top.get(community);
      rows.push(h("div", { class: "row" }, h("span", { class: "swatch", style: { background: state.communities.colors.get(community) } }),
        `${hub ? hub.title : community} (${count})`));
    }
  }
  for (const type of state.include) {
    rows.push(h("div", { class: "row" }, h("span", { class: "swatch", style: { background: TYPE_COLORS[type.replace(/s$/, "")] || TYPE_COLORS[type] } }), type));
  }
  rows.push(h("h4", {}, "Marks"));
  rows.push(h("div", { class: "row" }, h("span", { class: "ring", style: { borderColor: ORPHAN } }), "orphan: no backlinks"));
  rows.push(h("div", { class: "row" }, h("span", { class: "ring", style: { borderColor: SINGLE_SOURCE } }), "rests on a single source"));
  rows.push(h("div", { class: "row muted" }, "size: PageRank"));
  legend.replaceChildren(...rows);
}

// --- live updates -----------------------------------------------------------------------

let refreshTimer = null;
const pendingChanged = new Set();

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const changed = new Set(pendingChanged);
    pendingChanged.clear();
    try {
      await load({ relayout: false });
    } catch (_) {
      return;
    }
    const until = performance.now() + 2500;
    for (const id of changed) if (graph.hasNode(id)) state.flash.set(id, until);
    if (changed.size) setTimeout(() => renderer.refresh({ skipIndexation: true }), 2600);
    if (state.panelPath && changed.has(state.panelPath)) await openPanel(state.panelPath);
    state.refreshes += 1;
    setBodyData({ refreshes: state.refreshes, lastBatch: state.lastBatch });
    renderer.refresh({ skipIndexation: true });
  }, 200);
}

function connectEvents() {
  const live = $("live");
  api.events({
    open: () => {
      live.className = "live on";
      live.title = "Live: following the mirror";
      setBodyData({ live: "on" });
    },
    error: () => {
      live.className = "live retry";
      live.title = "Reconnecting…";
      setBodyData({ live: "retry" });
    },
    hello: (hello) => {
      setBodyData({ live: "on" });
      // Metrics may have landed between loading the graph and connecting: catch up.
      const m = state.data && state.data.meta ? state.data.meta.metrics : null;
      if (m && (!m.fresh || !m.heavy_fresh || m.computed_at !== hello.metrics_computed_at
                || m.heavy_computed_at !== hello.heavy_computed_at)) scheduleRefresh();
    },
    batch: (batch) => {
      state.lastBatch = batch.id;
      for (const p of batch.changed) pendingChanged.add(p);
      for (const p of batch.removed) pendingChanged.add(p);
      scheduleRefresh();
    },
    metrics: () => scheduleRefresh(),
  });
}

// --- set-up -----------------------------------------------------------------------------

function setupDrag() {
  let dragged = null;
  renderer.on("downNode", (e) => {
    dragged = e.node;
    graph.setNodeAttribute(dragged, "fixed", true);
  });
  renderer.getMouseCaptor().on("mousemovebody", (e) => {
    if (!dragged) return;
    const pos = renderer.viewportToGraph(e);
    graph.mergeNodeAttributes(dragged, { x: pos.x, y: pos.y });
    e.preventSigmaDefault();
    e.original.preventDefault();
    e.original.stopPropagation();
  });
  renderer.getMouseCaptor().on("mouseup", () => {
    if (dragged) graph.removeNodeAttribute(dragged, "fixed");
    dragged = null;
  });
}

function setupControls() {
  $("mode-global").addEventListener("click", () => state.mode !== "global" && exitLocal());
  $("mode-local").addEventListener("click", () => enterLocal());
  const depth = $("depth");
  depth.addEventListener("input", () => {
    $("depth-value").textContent = depth.value;
  });
  depth.addEventListener("change", () => {
    state.depth = Number(depth.value);
    if (state.mode === "local") load({ relayout: true });
  });
  $("direction").addEventListener("change", (e) => {
    state.direction = e.target.value;
    if (state.mode === "local") load({ relayout: true });
  });
  $("color-by").addEventListener("change", (e) => {
    state.colorBy = e.target.value;
    restyle();
    renderer.refresh();
  });
  for (const type of ["tags", "attachments", "unresolved"]) {
    $(`inc-${type}`).addEventListener("change", (e) => {
      if (e.target.checked) state.include.add(type);
      else state.include.delete(type);
      load({ relayout: true });
    });
  }
  $("show-labels").addEventListener("change", (e) => renderer.setSetting("renderLabels", e.target.checked));
  $("relayout").addEventListener("click", () => runLayout(layoutTime(graph.order)));
}

// Hover: a light halo behind the node and the label on a dark box (sigma's default is a
// white box, unreadable with light label text).
function drawHover(context, data, settings) {
  const size = settings.labelSize;
  context.font = `${settings.labelWeight} ${size}px ${settings.labelFont}`;
  context.beginPath();
  context.arc(data.x, data.y, data.size + 3, 0, Math.PI * 2);
  context.fillStyle = "#ffffffcc";
  context.fill();
  const label = data.label;
  if (!label) return;
  const width = context.measureText(label).width + 12;
  const height = size + 10;
  const x = data.x + data.size + 5;
  const y = data.y - height / 2;
  context.fillStyle = "#111111e6";
  context.beginPath();
  if (context.roundRect) context.roundRect(x, y, width, height, 4);
  else context.rect(x, y, width, height);
  context.fill();
  context.fillStyle = "#ffffff";
  context.fillText(label, x + 6, data.y + size / 3);
}

function createRenderer(order) {
  const big = order > 3000;
  const NodeRingProgram = createNodeBorderProgram({
    borders: [
      { size: { attribute: "orphanRing", defaultValue: 0, mode: "pixels" }, color: { value: ORPHAN } },
      { size: { attribute: "singleRing", defaultValue: 0, mode: "pixels" }, color: { value: SINGLE_SOURCE } },
      { size: { fill: true }, color: { attribute: "color" } },
    ],
    drawHover,
  });
  renderer = new Sigma(graph, $("graph"), {
    nodeProgramClasses: { ring: NodeRingProgram },
    defaultNodeType: "ring",
    defaultEdgeColor: EDGE,
    labelColor: { color: "#d8d8d8" },
    labelFont: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    labelSize: 12,
    labelWeight: "500",
    labelDensity: big ? 0.5 : 1,
    labelRenderedSizeThreshold: big ? 10 : 7,
    hideEdgesOnMove: big,
    zIndex: true,
    defaultDrawNodeHover: drawHover,
    minCameraRatio: 0.01,
    maxCameraRatio: 20,
    nodeReducer,
    edgeReducer,
  });
  renderer.on("enterNode", ({ node }) => {
    state.hovered = node;
    updateFocus();
    renderer.refresh({ skipIndexation: true });
  });
  renderer.on("leaveNode", () => {
    state.hovered = null;
    updateFocus();
    renderer.refresh({ skipIndexation: true });
  });
  renderer.on("clickNode", ({ node }) => {
    const type = graph.getNodeAttribute(node, "nodeType");
    if (type === "page") selectPage(node, { focus: false });
    else showNodeInfo(node);
  });
  renderer.on("doubleClickNode", (e) => {
    e.preventSigmaDefault();
    if (graph.getNodeAttribute(e.node, "nodeType") === "page") enterLocal(e.node);
  });
  renderer.on("clickStage", () => {
    if (state.selected) {
      state.selected = null;
      updateFocus();
      renderer.refresh({ skipIndexation: true });
    }
  });
  setupDrag();
}

async function start(token) {
  api = new Api(token);
  let data;
  try {
    data = await api.graph({ limit: MAX_NODES });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionStorage.removeItem("vaultsync-token");
      askToken("That token was refused.");
      return;
    }
    showMessage(`Cannot load the graph: ${err.message}`);
    setBodyData({ ready: "error" });
    return;
  }
  setupControls();
  setupSearch();
  setModeButtons();
  createRenderer(data.nodes.length);
  applyData(data, { relayout: true });
  connectEvents();
  const clearSelection = () => {
    state.selected = null;
    state.hovered = null;
    updateFocus();
    renderer.refresh({ skipIndexation: true });
  };
  // For scripts and tests (the browser test reads the graph through this).
  window.vaultsyncView = { graph, renderer, state, api, selectPage, enterLocal, exitLocal, load, runLayout, stopLayout, clearSelection };
  setBodyData({ ready: "1" });
}

function askToken(why) {
  const form = $("token-form");
  form.hidden = false;
  if (why) showMessage(why);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    sessionStorage.setItem("vaultsync-token", token);
    form.hidden = true;
    showMessage("");
    start(token);
  }, { once: true });
}

const token = findToken();
if (token) start(token);
else askToken();
