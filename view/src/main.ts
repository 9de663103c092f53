// The vaultsync graph view: sigma.js (WebGL) over a graphology graph, kept live by
// /api/events. The server sends the graph in its compact form with positions it laid
// out once per graph structure, communities as clusters, so the view paints at once and
// keeps that picture: pages with a stored position stay where the server put them, and
// ForceAtlas2 (in a web worker) places only what has none (new pages, tags, local
// graphs). Every switch of mode, depth, direction or filter builds
// a new graph off-screen and hands it to sigma in one step (sigma re-indexes the whole
// graph on each node dropped while it listens, so node-by-node changes freeze the tab).

import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";
import FA2Layout from "graphology-layout-forceatlas2/worker";
import Sigma from "sigma";
import { EdgeLineProgram } from "sigma/rendering";
import { createNodeBorderProgram } from "@sigma/node-border";

import { Api, ApiError, findToken } from "./api.js";
import { COLLAPSED_PREFIX, collapseGraph, communityCentres } from "./clusters.js";
import { Labels } from "./labels.js";
import { fmt, h, renderPanel, renderPanelMessage } from "./panel.js";
import {
  DIMMED, EDGE, EDGE_ACTIVE, EDGE_ACTIVE_FADED, KIND_COLORS, ORPHAN, SINGLE_SOURCE,
  TYPE_COLORS, communityColor, kindColor, nodeColor, nodeSize, seedPosition,
} from "./style.js";

const MAX_NODES = 20000; // beyond this, the top pages by PageRank (the API's limit=)
const FLAGS = { orphan: 1, isolated: 2, dead_end: 4, single_source: 8, unsourced: 16, is_source: 32 };
const HOVER_DIMS_UP_TO = 3000; // above, hovering only highlights (dimming re-draws everything)
const FADE_EDGES_ABOVE = 60; // a selected page with more links draws them faded
// Graphs with many edges hide them while the layout moves every node (the edges would be
// re-uploaded each frame); they come back when it stops.
const EDGES_HIDDEN_IN_LAYOUT = 5000;
// Sigma re-indexes every drawn edge on each full refresh (about 10 µs each in software
// WebGL): past this many, it draws each node's links to its most important neighbours,
// plus every link of the selected page. The whole graph stays in `graph`.
const EDGE_BUDGET = 20000;
// A local graph is redrawn on every switch and depth change: a smaller budget keeps the
// switch quick (the links to the centre are each page's first pick).
const LOCAL_EDGE_BUDGET = 8000;
// Past this many edges they are drawn as 1-pixel lines: a fraction of the pixels of
// sigma's default quads, which decides the frame time of a software renderer.
const THIN_EDGES_ABOVE = 5000;
// Community names are drawn at their clusters' centres while the camera is zoomed out
// at least this far (1 = the whole graph framed); closer in, the pages' labels take over.
const NAMES_DOWN_TO = 0.45;
const MOST_NAMES = 40;
const $ = (id) => document.getElementById(id);
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

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
  focusFaded: false,
  panelPath: null,
  data: null,
  shown: null, // what the displayed graph is: "global:<include>" or "local:<center>:<depth>:…"
  communities: new Map(), // id → {name, path, size}, over the whole vault
  labelOrder: [],
  flash: new Map(),
  globalCache: null, // {key, graph, data, stale}: Local → Global without a round trip
  refreshes: 0,
  lastBatch: 0,
  painted: false,
  renderStart: 0,
  renderEnd: 0,
  renderCost: 0, // ms the last frame took (re-indexing included)
  centres: new Map(), // community → {x, y, count, radius} in the shown graph
  legendCommunities: [], // the communities the legend names, in its order
  collapse: false, // "Collapse communities": one node per community (global mode)
  collapsed: false, // what sigma draws now is the collapsed graph
};

let graph = new Graph({ type: "directed", multi: false, allowSelfLoops: false }); // every node and link
// What sigma draws: another graphology graph with the same nodes (the very attribute
// objects, so positions are shared) and all or some of the edges. The layout moves
// `graph`, which nothing listens to, and sigma hears of it at the pace it can draw.
let display = graph;
let renderer = null;
let labels = null;
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
    state.centres = communityCentres(graph);
    if (renderer) renderer.refresh(); // the final positions, and the edges back
  }
  setBodyData({ layout: "stopped" });
}

// `free`: every node may move, the stored positions too (the "Re-run layout" button);
// otherwise nodes marked `fixed` (placed by the server) stay where they are.
function runLayout(ms, { free = false } = {}) {
  stopLayout();
  if (graph.order < 2 || ms <= 0) return;
  if (free) graph.forEachNode((id, a) => { delete a.fixed; });
  const settings = forceAtlas2.inferSettings(graph);
  settings.barnesHutOptimize = graph.order > 800;
  settings.gravity = 1;
  settings.adjustSizes = false;
  layout = new FA2Layout(graph, { settings, getEdgeWeight: null });
  // The layout moves `graph`'s nodes, whose attribute objects `display` shares. Sigma is
  // told at most once a frame, not again for 1.5 times as long as the last frame took,
  // and on big graphs at most every order/12 ms (a frame of 10,000 nodes costs the
  // software renderer hundreds of ms): the worker iterates meanwhile and the page
  // stays responsive at any size.
  const full = graph;
  const every = Math.min(800, full.order / 12);
  let waiting = false;
  let told = 0;
  const moved = () => {
    if (waiting) return;
    waiting = true;
    const due = Math.max(state.renderEnd + 1.5 * state.renderCost, told + every);
    setTimeout(() => requestAnimationFrame(() => {
      waiting = false;
      told = performance.now();
      if (graph === full && layout) display.updateEachNodeAttributes((n, a) => a, { attributes: ["x", "y"] });
    }), Math.max(0, due - performance.now()));
  };
  full.on("eachNodeAttributesUpdated", moved);
  const kill = layout.kill.bind(layout);
  layout.kill = () => {
    full.removeListener("eachNodeAttributesUpdated", moved);
    kill();
  };
  layout.start();
  setBodyData({ layout: "running" });
  layoutTimer = setTimeout(stopLayout, ms);
}

// After the frame that shows the graph: the first paint is never held up by the layout.
function runLayoutAfterPaint(ms) {
  setBodyData({ layout: ms > 0 ? "pending" : "stopped" });
  const target = graph;
  requestAnimationFrame(() => setTimeout(() => {
    if (graph === target) runLayout(ms);
  }, 0));
}

function layoutTime(order) {
  return Math.min(8000, 3000 + order * 0.5);
}

// --- data → graph ---------------------------------------------------------------------

// The compact answer (columns) as node objects and a flat [source, target, weight, …]
// array of node indexes.
function decode(payload) {
  const cols = payload.nodes;
  const nodes = new Array(payload.count);
  for (let i = 0; i < payload.count; i++) {
    const flags = cols.flags[i];
    nodes[i] = {
      id: cols.id[i], type: cols.type[i], title: cols.title[i], kind: cols.kind[i],
      pagerank: cols.pagerank[i], community: cols.community[i],
      citation_count: cols.citation_count[i], in_degree: cols.in_degree[i],
      out_degree: cols.out_degree[i], x: cols.x[i], y: cols.y[i],
      orphan: !!(flags & FLAGS.orphan), isolated: !!(flags & FLAGS.isolated),
      single_source: !!(flags & FLAGS.single_source),
      depth: cols.depth ? cols.depth[i] : undefined,
      center: cols.center ? cols.center[i] : undefined,
    };
  }
  return { nodes, links: payload.links, meta: payload.meta || {}, center: payload.center };
}

function nodeAttributes(node, maxRank, order) {
  const marked = node.type === "page";
  const orphanRing = marked && node.orphan ? 2.5 : 0;
  const singleRing = marked && node.single_source ? 2.5 : 0;
  return {
    label: node.title,
    size: nodeSize(node, maxRank, order),
    color: nodeColor(node, state.colorBy),
    // Only ringed nodes pay for the ring program's shader.
    type: orphanRing || singleRing ? "ring" : "circle",
    orphanRing,
    singleRing,
    nodeType: node.type,
    info: node,
  };
}

function hash32(text) {
  let h = 7;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

// Local mode starts from rings by distance from the page, each community in its own
// sector, and lets ForceAtlas2 settle it.
function ringPosition(node) {
  const depth = node.depth || 0;
  if (depth === 0) return { x: 0, y: 0 };
  const c = node.community === null || node.community === undefined ? 0 : node.community;
  const angle = ((c * 137.508) % 360) * (Math.PI / 180) + ((hash32(node.id) % 1000) / 1000 - 0.5) * 1.6;
  const r = depth * 100 * (0.8 + (hash32(node.id + "r") % 400) / 1000);
  return { x: Math.cos(angle) * r, y: Math.sin(angle) * r };
}

// A new graphology graph for `data`, built while nothing listens to it, in slices of a
// few tens of milliseconds (other tasks run between them). Positions: the node's
// position in `previous` (the graph this one replaces, same mode), else next to a
// neighbour that has one, else the stored layout (global) or rings (local), else a seed.
const SLICE = 25000;

async function buildGraph(data, previous) {
  const g = new Graph({ type: "directed", multi: false, allowSelfLoops: false });
  g.setAttribute("colorBy", state.colorBy);
  const nodes = data.nodes;
  const order = nodes.length;
  let maxRank = 0;
  for (const n of nodes) if (n.type === "page" && n.pagerank > maxRank) maxRank = n.pagerank;
  const local = state.mode === "local";
  const radius = Math.max(10, Math.sqrt(order) * 10);
  const placedBefore = previous ? nodes.filter((n) => previous.hasNode(n.id)).length : 0;
  const keep = previous && placedBefore > 0;
  const unplaced = [];
  let stored = 0;
  for (const node of nodes) {
    const attrs = nodeAttributes(node, maxRank, order);
    let pos = null;
    if (!local && node.x !== null && node.x !== undefined) {
      // The server's layout shows the communities: ForceAtlas2 leaves these be, and a
      // layout the server drew again (the communities changed) replaces the old one.
      pos = { x: node.x, y: node.y, fixed: true };
      stored += 1;
    } else if (keep && previous.hasNode(node.id)) {
      const a = previous.getNodeAttributes(node.id);
      pos = { x: a.x, y: a.y };
      if (a.fixed) pos.fixed = true;
    } else if (keep) {
      unplaced.push(node.id);
    } else if (local) {
      pos = ringPosition(node);
    } else {
      unplaced.push(node.id);
    }
    g.addNode(node.id, { ...attrs, ...(pos || seedPosition(node.id, node.community, radius)) });
  }
  // Tens of thousands of edges paint a grey disc: draw them barely above the background
  // (sigma blends premultiplied alpha, so an rgba colour would add up to white).
  const links = data.links;
  const edgeColor = links.length > 3 * 20000 ? "#2b2b2b" : links.length > 3 * THIN_EDGES_ABOVE ? "#363636" : EDGE;
  const edgeType = links.length > 3 * THIN_EDGES_ABOVE ? "thin" : "line"; // "line": sigma's quads
  for (let i = 0; i < links.length; i += 3) {
    if (i && i % (3 * SLICE) === 0) await nextTask();
    const s = nodes[links[i]].id;
    const t = nodes[links[i + 1]].id;
    if (s === t || g.hasEdge(s, t)) continue;
    const w = links[i + 2];
    g.addEdge(s, t, { weight: w, size: Math.min(3, 0.5 + Math.log2(1 + w) * 0.5), color: edgeColor, type: edgeType });
  }
  if ((keep || stored) && unplaced.length) {
    // Beside a placed neighbour: a new page, a tag or an attachment joins its cluster.
    const fresh = new Set(unplaced);
    for (const id of unplaced) {
      const anchor = g.neighbors(id).find((n) => !fresh.has(n));
      const info = g.getNodeAttribute(id, "info");
      let pos = null;
      if (anchor) {
        const a = g.getNodeAttributes(anchor);
        pos = { x: a.x + (Math.random() - 0.5) * 4, y: a.y + (Math.random() - 0.5) * 4 };
      } else if (local) {
        pos = ringPosition(info);
      }
      if (pos) g.mergeNodeAttributes(id, pos);
    }
  }
  if (g.size > LOCAL_EDGE_BUDGET) await nextTask();
  return { graph: g, unplaced: unplaced.length, stored, kept: keep, baseEdges: pickEdges(g) };
}

// The edges sigma draws when the graph has more than EDGE_BUDGET: each node's links to
// its top neighbours by PageRank, as many per node as the budget allows (hubs stay
// hubs: their neighbours' top neighbour is the hub). null: all of them.
function pickEdges(g) {
  const budget = state.mode === "local" ? LOCAL_EDGE_BUDGET : EDGE_BUDGET;
  if (g.size <= budget) return null;
  const per = Math.max(1, Math.floor(budget / Math.max(g.order, 1)));
  const scores = new Map();
  g.forEachNode((id, a) => scores.set(id, nodeScore(a.info)));
  const keep = new Set();
  const mine = [];
  g.forEachNode((id) => {
    mine.length = 0;
    g.forEachEdge(id, (e, a, s, t) => mine.push([scores.get(s === id ? t : s), e]));
    if (mine.length > per) mine.sort((a, b) => b[0] - a[0]);
    for (let i = 0; i < Math.min(per, mine.length); i++) keep.add(mine[i][1]);
  });
  return keep;
}

// A graph for sigma: `full`'s nodes (the same attribute objects, so positions are
// shared) and the `edges` picked (null: all), plus every link of `focus`.
function makeDisplay(full, edges, focus) {
  const d = new Graph({ type: "directed", multi: false, allowSelfLoops: false });
  full.forEachNode((id, attrs) => d.addNode(id, attrs));
  const add = (e, attrs, s, t) => d.addEdgeWithKey(e, s, t, attrs);
  if (!edges) {
    full.forEachEdge(add);
    return d;
  }
  for (const e of edges) add(e, full.getEdgeAttributes(e), full.source(e), full.target(e));
  if (focus && full.hasNode(focus)) {
    full.forEachEdge(focus, (e, attrs, s, t) => { if (!edges.has(e)) add(e, attrs, s, t); });
  }
  return d;
}

// Pages by PageRank, then the other nodes (tags, attachments, unresolved) by links in.
function nodeScore(info) {
  return info.type === "page" ? 1 + (info.pagerank || 0) : (info.in_degree || 0) * 1e-9;
}

function rankOrder(g) {
  const ids = [];
  const scores = new Map();
  g.forEachNode((id, a) => { ids.push(id); scores.set(id, nodeScore(a.info)); });
  ids.sort((a, b) => scores.get(b) - scores.get(a) || (a < b ? -1 : 1));
  return ids;
}

// Node colours follow the "colour by" choice. A graph kept aside (the global graph while
// a local one is shown) is recoloured when it is shown again.
function recolor(g) {
  g.forEachNode((id, attrs) => { attrs.color = nodeColor(attrs.info, state.colorBy); });
  g.setAttribute("colorBy", state.colorBy);
}

// Show `g` in one step: sigma drops the old graph's listeners and indexes the new one once.
function show(g, baseEdges, { frame = false } = {}) {
  stopLayout();
  if (g.getAttribute("colorBy") !== state.colorBy) recolor(g);
  graph = g;
  state.baseEdges = baseEdges;
  if (state.selected && !graph.hasNode(state.selected)) state.selected = null;
  if (state.hovered && !graph.hasNode(state.hovered)) state.hovered = null;
  state.labelOrder = rankOrder(g);
  updateFocus();
  state.displayFocus = baseEdges ? focusNode() : null;
  state.centres = communityCentres(g);
  state.collapsed = state.collapse && state.mode === "global";
  display = state.collapsed ? collapseGraph(g, communityName) : makeDisplay(g, baseEdges, state.displayFocus);
  renderer.setGraph(display);
  setBodyData({ collapsed: state.collapsed ? display.order : "" });
  if (frame) frameCamera();
}

// The names drawn on the picture (labels.js): zoomed out in the global view (always when
// collapsed), each community at its cluster's centre, the legend's first.
function clusterLabels() {
  if (state.mode !== "global" || !state.centres.size) return [];
  if (!state.collapsed && renderer.getCamera().ratio < NAMES_DOWN_TO) return [];
  let most = 1;
  for (const c of state.centres.values()) most = Math.max(most, c.count);
  const legend = new Set(state.legendCommunities);
  const order = [...state.legendCommunities.filter((c) => state.centres.has(c))];
  const rest = [...state.centres.entries()].filter(([c, s]) => !legend.has(c) && s.count >= 2)
    .sort((a, b) => b[1].count - a[1].count || a[0] - b[0]).map(([c]) => c);
  const out = [];
  for (const c of [...order, ...rest].slice(0, MOST_NAMES)) {
    const name = communityName(c);
    if (!name) continue;
    const s = state.centres.get(c);
    const color = state.colorBy === "community" && communityColor(c) !== communityColor(null) ? communityColor(c) : "#e6e6e6";
    out.push({ x: s.x, y: s.y, text: name, color, size: Math.round(13 + 7 * Math.sqrt(s.count / most)) });
  }
  return out;
}

function setCollapse(on) {
  state.collapse = on;
  $("collapse").checked = on;
  if (state.mode === "global") show(graph, state.baseEdges, { frame: false });
}

// After the selection or hover changed: redraw, with the selected page's links added to
// what sigma draws when they were left out.
function refocus() {
  updateFocus();
  if (state.collapsed) {
    renderer.refresh({ skipIndexation: true });
    return;
  }
  const want = state.baseEdges ? focusNode() : null;
  if (want !== state.displayFocus) {
    state.displayFocus = want;
    display = makeDisplay(graph, state.baseEdges, want);
    renderer.setGraph(display);
  } else {
    renderer.refresh({ skipIndexation: true });
  }
}



function shownKey() {
  const include = [...state.include].sort().join(",");
  if (state.mode === "local") return `local:${state.center}:${state.depth}:${state.direction}:${include}`;
  return `global:${include}`;
}

async function applyData(data, { frame }) {
  const key = shownKey();
  const sameView = state.shown === key;
  let previous = null;
  if (state.mode === "global") {
    if (state.shown && state.shown.startsWith("global:")) previous = graph;
    else if (state.globalCache) previous = state.globalCache.graph;
  } else if (state.shown && state.shown.startsWith(`local:${state.center}:`)) {
    previous = graph;
  }
  const built = await buildGraph(data, previous);
  await nextTask(); // building and showing are two tasks, never one long one
  present(data, built.graph, built.baseEdges, key, frame || !sameView);
  if (state.mode === "global") state.globalCache = { key, graph: built.graph, baseEdges: built.baseEdges, data, stale: false };
  let ms;
  if (!built.kept) {
    // A whole new picture: from the stored layout, nothing to do but place what it does
    // not hold (its pages stay put); else the full run.
    if (state.mode === "global" && built.stored) {
      ms = built.unplaced ? Math.min(2000, 800 + built.unplaced * 0.5) : 0;
    } else {
      ms = layoutTime(graph.order);
    }
  } else {
    ms = built.unplaced ? 1200 : 0;
  }
  runLayoutAfterPaint(ms);
}

// The view shows `g` (built from `data`) as the graph of `key` (see shownKey).
function present(data, g, baseEdges, key, frame) {
  state.data = data;
  state.communities = new Map((data.meta.communities || []).map((c) => [c.id, c]));
  renderLegend(); // first: the camera frames the graph clear of it
  show(g, baseEdges, { frame });
  state.shown = key;
  renderStats();
  setBodyData({ nodes: graph.order, edges: graph.size, mode: state.mode });
  showMessage(graph.order ? "" : "The mirror has no pages yet.");
}

async function fetchGraph() {
  const include = [...state.include].join(",");
  let payload;
  if (state.mode === "local") {
    payload = await api.local(state.center, state.depth, state.direction, include);
  } else {
    payload = await api.graph({ include, limit: MAX_NODES });
  }
  return decode(payload);
}

// The neighbourhood of the centre, read from the global graph the page already holds,
// the way /api/graph/local walks it: pages up to `depth` resolved links away in the
// chosen direction, then the tags, attachments and unresolved targets they link to.
// Null when that graph is not at hand, out of date, cut to the top pages, or filtered
// differently: the API answers then.
function localFromGlobal() {
  const cache = state.globalCache;
  const key = `global:${[...state.include].sort().join(",")}`;
  if (!cache || cache.stale || cache.key !== key || cache.data.meta.truncated) return null;
  const g = cache.graph;
  if (!g.hasNode(state.center) || g.getNodeAttribute(state.center, "nodeType") !== "page") return null;
  const step = { out: "forEachOutNeighbor", in: "forEachInNeighbor", both: "forEachNeighbor" }[state.direction];
  const depth = new Map([[state.center, 0]]);
  let frontier = [state.center];
  for (let level = 1; level <= state.depth && frontier.length; level++) {
    const next = [];
    for (const id of frontier) {
      g[step](id, (n, a) => {
        if (a.nodeType === "page" && !depth.has(n)) {
          depth.set(n, level);
          next.push(n);
        }
      });
    }
    frontier = next;
  }
  const pages = [...depth.keys()].sort((a, b) => depth.get(a) - depth.get(b) || (a < b ? -1 : 1));
  const extra = [];
  const seen = new Set(pages);
  for (const id of pages) {
    g.forEachOutNeighbor(id, (n, a) => {
      if (a.nodeType !== "page" && !seen.has(n)) {
        seen.add(n);
        extra.push(n);
      }
    });
  }
  const ids = [...pages, ...extra];
  const index = new Map(ids.map((id, i) => [id, i]));
  const nodes = ids.map((id) => {
    const info = { ...g.getNodeAttribute(id, "info") };
    if (depth.has(id)) {
      info.depth = depth.get(id);
      info.center = id === state.center;
    }
    return info;
  });
  const links = [];
  for (const id of ids) {
    g.forEachOutEdge(id, (e, a, s, t) => {
      if (index.has(t) && (depth.has(t) || depth.has(s))) links.push(index.get(s), index.get(t), a.weight);
    });
  }
  return { nodes, links, meta: cache.data.meta, center: state.center, derived: true };
}

function sameGraph(a, b) {
  if (a.nodes.length !== b.nodes.length || a.links.length !== b.links.length) return false;
  const ids = new Set(a.nodes.map((n) => n.id));
  return b.nodes.every((n) => ids.has(n.id));
}

let loading = null;
let loadAgain = false;

async function load({ frame = false } = {}) {
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
        // A local graph is shown at once from the global one, then checked against the
        // API (which has the final word: an edit may have landed meanwhile).
        const quick = state.mode === "local" ? localFromGlobal() : null;
        if (quick) await applyData(quick, { frame: frame && first });
        const data = await fetchGraph();
        if (!quick || !sameGraph(quick, data)) await applyData(data, { frame: frame && first && !quick });
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

// --- camera ---------------------------------------------------------------------------

// Frame the whole graph, keeping it clear of the legend in the lower left corner.
function frameCamera() {
  const camera = renderer.getCamera();
  const base = { x: 0.5, y: 0.5, ratio: 1, angle: 0 };
  const { width, height } = renderer.getDimensions();
  const legend = $("legend");
  const box = legend && !legend.hidden ? legend.getBoundingClientRect() : null;
  const area = $("graph").getBoundingClientRect();
  let target = base;
  if (box && box.width && graph.order) {
    const reserve = Math.min(box.right - area.left + 12, width * 0.4);
    const bbox = renderer.getBBox();
    const corner = (x, y, s) => renderer.graphToViewport({ x, y }, { cameraState: s });
    const extent = (s) => {
      const a = corner(bbox.x[0], bbox.y[0], s);
      const b = corner(bbox.x[1], bbox.y[1], s);
      return [Math.min(a.x, b.x), Math.max(a.x, b.x)];
    };
    const [left, right] = extent(base);
    const room = width - reserve - 24;
    if (left < reserve && room > 100) {
      const ratio = Math.max(1, (right - left) / room);
      const zoomed = { ...base, ratio };
      const [l2, r2] = extent(zoomed);
      const want = reserve + (room - (r2 - l2)) / 2;
      const p0 = renderer.viewportToFramedGraph({ x: l2, y: height / 2 }, { cameraState: zoomed });
      const p1 = renderer.viewportToFramedGraph({ x: want, y: height / 2 }, { cameraState: zoomed });
      target = { ...zoomed, x: 0.5 - (p1.x - p0.x) };
    }
  }
  camera.setState(target);
}

function focusCamera(id) {
  const display = renderer.getNodeDisplayData(id);
  if (!display) return;
  renderer.getCamera().animate({ x: display.x, y: display.y, ratio: Math.min(0.5, renderer.getCamera().ratio) }, { duration: 500 });
}

// --- focus, hover, selection ------------------------------------------------------------

// The page the view dims the rest around: the hovered one (on graphs small enough to
// redraw at once), else the selected one, except the centre of a local graph, whose
// neighbourhood is the whole view (dimming it would grey out the pages at depth 2+).
function focusNode() {
  if (state.hovered && graph.order <= HOVER_DIMS_UP_TO) return state.hovered;
  if (state.mode === "local" && state.selected === state.center) return null;
  return state.selected;
}

function updateFocus() {
  const focus = focusNode();
  const ok = focus && graph.hasNode(focus);
  state.focusSet = ok ? new Set([focus, ...graph.neighbors(focus)]) : null;
  state.focusEdges = ok ? new Set(graph.edges(focus)) : null;
  state.focusFaded = ok && state.focusEdges.size > FADE_EDGES_ABOVE;
}

// Sigma passes the reducers a copy of the attributes: they change it in place.
function nodeReducer(node, res) {
  const focus = state.focusSet ? focusNode() : state.selected;
  if (state.focusSet && !state.focusSet.has(node)) {
    res.color = DIMMED;
    res.orphanRing = 0;
    res.singleRing = 0;
    res.zIndex = 0;
  } else if (state.focusSet) {
    res.zIndex = 1;
  }
  if (node === focus) {
    res.highlighted = true;
    res.zIndex = 2;
  }
  const until = state.flash.get(node);
  if (until) {
    if (until > performance.now()) res.highlighted = true;
    else state.flash.delete(node);
  }
  return res;
}

function edgeReducer(edge, data) {
  if (state.focusEdges) {
    if (state.focusEdges.has(edge)) {
      data.zIndex = 1;
      if (state.focusFaded) data.color = EDGE_ACTIVE_FADED;
      else {
        data.color = EDGE_ACTIVE;
        data.size += 0.5;
      }
    } else data.hidden = true;
    return data;
  }
  if (layout && display.size > EDGES_HIDDEN_IN_LAYOUT) data.hidden = true;
  return data;
}

// Label candidates, most important first: the page in focus and its neighbours, pages
// that just changed, then every node by PageRank.
function* labelCandidates() {
  const focus = focusNode();
  if (state.focusSet) {
    if (focus && graph.hasNode(focus)) yield [focus, true];
    for (const id of state.labelOrder) if (state.focusSet.has(id) && id !== focus) yield [id, graph.order < 3000];
    return;
  }
  const now = performance.now();
  for (const [id, until] of state.flash) if (until > now && graph.hasNode(id)) yield [id, true];
  for (const id of state.labelOrder) yield [id, false];
}

const measure = document.createElement("canvas").getContext("2d");

// Where drawHover puts a highlighted node's label box (see drawHover).
function hoverBox(id) {
  const data = renderer.getNodeDisplayData(id);
  if (!data || data.hidden || !data.label) return null;
  const p = renderer.framedGraphToViewport(data);
  const size = renderer.scaleSize(data.size);
  const { width: canvasWidth } = renderer.getDimensions();
  measure.font = "500 12px system-ui, -apple-system, Segoe UI, Roboto, sans-serif";
  const width = measure.measureText(data.label).width + 12;
  let x = p.x + size + 5;
  if (x + width > canvasWidth - 4) x = Math.max(4, p.x - size - 5 - width);
  return [x - 2, p.y - 13, x + width + 2, p.y + 13];
}

function labelObstacles() {
  const area = $("graph").getBoundingClientRect();
  const out = [];
  // The selected or hovered page's label is drawn on sigma's hover layer, above ours.
  for (const id of new Set([state.selected, state.hovered])) {
    if (!id || !display.hasNode(id)) continue;
    const box = hoverBox(id);
    if (box) out.push(box);
  }
  for (const id of ["legend", "message"]) {
    const el = $(id);
    if (!el || el.hidden) continue;
    const b = el.getBoundingClientRect();
    if (!b.width) continue;
    out.push([b.left - area.left - 6, b.top - area.top - 6, b.right - area.left + 6, b.bottom - area.top + 6]);
  }
  return out;
}

async function openPanel(path) {
  const panel = $("panel");
  state.panelPath = path;
  setBodyData({ panel: path });
  const ctx = {
    onOpen: (p) => selectPage(p, { focus: true }),
    onLocal: (p) => enterLocal(p),
    onClose: closePanel,
    communityName: (id) => communityName(id),
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

function communityName(id) {
  if (id === null || id === undefined) return null;
  const c = state.communities.get(id);
  return c ? c.name : null;
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
  setBodyData({ panel: "", panelLoaded: "" });
  refocus();
}

function showNodeInfo(id) {
  const attrs = graph.getNodeAttributes(id);
  const info = attrs.info;
  const from = graph.inNeighbors(id).map((n) => graph.getNodeAttribute(n, "label"));
  const what = { unresolved: "A link to a page that does not exist yet.", attachment: "An attachment.", tag: "A tag." }[info.type] || "";
  const shown = from.length > 30 ? `${from.slice(0, 30).join(", ")} and ${from.length - 30} more` : from.join(", ");
  renderPanelMessage($("panel"), info.title, `${what} Linked from: ${shown || "nothing shown"}.`, closePanel);
  setPanelOpen(true);
  state.panelPath = null;
}

async function selectPage(path, { focus = true } = {}) {
  if (state.mode === "local" && !graph.hasNode(path)) {
    state.center = path;
    await load({ frame: true });
  }
  state.selected = graph.hasNode(path) ? path : null;
  $("mode-local").disabled = false;
  refocus();
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
  await load({ frame: true });
  if (state.panelPath !== center) openPanel(center);
}

async function exitLocal() {
  state.mode = "global";
  setModeButtons();
  const cache = state.globalCache;
  const key = shownKey();
  if (cache && cache.key === key && !cache.stale) {
    // The global graph as it was left: shown at once, framed whole.
    present(cache.data, cache.graph, cache.baseEdges, key, true);
    return;
  }
  await load({ frame: true });
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
  let pages = 0;
  if (state.data) for (const n of state.data.nodes) if (n.type === "page") pages += 1;
  let text = `${fmt(pages)} pages · ${fmt(graph.size)} links`;
  if (state.mode === "local") text += ` · around ${graph.hasNode(state.center) ? graph.getNodeAttribute(state.center, "label") : state.center}`;
  else if (meta && meta.truncated) text += ` · top ${fmt(meta.shown_pages)} of ${fmt(meta.pages)} by PageRank`;
  if (meta && meta.metrics && !meta.metrics.fresh) text += " · metrics updating…";
  $("stats").textContent = text;
}

function renderLegend() {
  const legend = $("legend");
  const rows = [];
  const nodes = state.data ? state.data.nodes : [];
  if (state.colorBy === "kind") {
    rows.push(h("h4", {}, "Kind"));
    const kinds = new Map();
    for (const n of nodes) if (n.type === "page") kinds.set(n.kind || "other", (kinds.get(n.kind || "other") || 0) + 1);
    for (const [kind, k] of [...kinds.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
      rows.push(h("div", { class: "row" }, h("span", { class: "swatch", style: { background: KIND_COLORS[kind] || kindColor(kind === "other" ? null : kind) } }), `${kind} (${fmt(k)})`));
    }
  } else {
    rows.push(h("h4", {}, state.mode === "local" ? "Communities here" : "Communities"));
    // Counted in what is shown; named as everywhere, after the community's top page.
    const shown = new Map();
    for (const n of nodes) {
      if (n.type === "page" && n.community !== null && n.community !== undefined) shown.set(n.community, (shown.get(n.community) || 0) + 1);
    }
    const ranked = [...shown.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 8);
    // The picture names these at their clusters (clusterLabels), in the same words.
    state.legendCommunities = ranked.map(([c]) => c);
    if (!ranked.length) rows.push(h("div", { class: "row muted" }, "not computed yet (coloured by kind)"));
    for (const [community, k] of ranked) {
      const name = communityName(community) || "a page on its own";
      rows.push(h("div", { class: "row", title: `community ${community}` },
        h("span", { class: "swatch", style: { background: communityColor(community) } }), `${name} (${fmt(k)})`));
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

function restyle() {
  recolor(graph); // the attribute objects display shares: then tell sigma
  display.updateEachNodeAttributes((id, attrs) => attrs, { attributes: ["color"] });
  renderLegend();
}

// --- live updates -----------------------------------------------------------------------

let refreshTimer = null;
const pendingChanged = new Set();

function scheduleRefresh() {
  if (state.globalCache) state.globalCache.stale = true;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const changed = new Set(pendingChanged);
    pendingChanged.clear();
    // Pages that changed are highlighted for a moment (set first: the rebuild draws them).
    const until = performance.now() + 2500;
    for (const id of changed) state.flash.set(id, until);
    try {
      await load({ frame: false });
    } catch (_) {
      return;
    }
    if (changed.size) setTimeout(() => renderer.refresh({ skipIndexation: true }), 2600);
    if (state.panelPath && changed.has(state.panelPath)) await openPanel(state.panelPath);
    state.refreshes += 1;
    setBodyData({ refreshes: state.refreshes, lastBatch: state.lastBatch });
  }, 200);
}

function connectEvents() {
  const live = $("live");
  // Green only while a daemon keeps the mirror live: the stream says so on connecting
  // (hello) and whenever it changes (live); a connected stream alone is not enough.
  const setLive = (on) => {
    live.className = on ? "live on" : "live off";
    live.title = on
      ? "Live: a vaultsync daemon keeps the mirror current"
      : "Not live: nothing keeps the mirror current (run `vaultsync watch`, or serve --watch)";
    setBodyData({ live: on ? "on" : "off" });
  };
  api.events({
    error: () => {
      live.className = "live retry";
      live.title = "Reconnecting…";
      setBodyData({ live: "retry" });
    },
    live: (data) => setLive(Boolean(data.live)),
    hello: (hello) => {
      setLive(Boolean(hello.live));
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
  let wasFixed = false;
  renderer.on("downNode", (e) => {
    if (state.collapsed) return;
    dragged = e.node;
    wasFixed = !!graph.getNodeAttribute(dragged, "fixed");
    graph.setNodeAttribute(dragged, "fixed", true);
  });
  renderer.getMouseCaptor().on("mousemovebody", (e) => {
    if (!dragged) return;
    const pos = renderer.viewportToGraph(e);
    display.mergeNodeAttributes(dragged, { x: pos.x, y: pos.y });
    e.preventSigmaDefault();
    e.original.preventDefault();
    e.original.stopPropagation();
  });
  renderer.getMouseCaptor().on("mouseup", () => {
    if (dragged && graph.hasNode(dragged) && !wasFixed) graph.removeNodeAttribute(dragged, "fixed");
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
    if (state.mode === "local") load({ frame: true });
  });
  $("direction").addEventListener("change", (e) => {
    state.direction = e.target.value;
    if (state.mode === "local") load({ frame: true });
  });
  $("color-by").addEventListener("change", (e) => {
    state.colorBy = e.target.value;
    restyle();
  });
  for (const type of ["tags", "attachments", "unresolved"]) {
    $(`inc-${type}`).addEventListener("change", (e) => {
      if (e.target.checked) state.include.add(type);
      else state.include.delete(type);
      load({ frame: true });
    });
  }
  $("show-labels").addEventListener("change", (e) => {
    labels.enabled = e.target.checked;
    renderer.refresh({ skipIndexation: true });
  });
  $("relayout").addEventListener("click", () => runLayout(layoutTime(graph.order), { free: true }));
  $("collapse").addEventListener("change", (e) => setCollapse(e.target.checked));
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
  const { width: canvasWidth } = renderer.getDimensions();
  const width = context.measureText(label).width + 12;
  const height = size + 10;
  let x = data.x + data.size + 5;
  if (x + width > canvasWidth - 4) x = Math.max(4, data.x - data.size - 5 - width);
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
    edgeProgramClasses: { thin: EdgeLineProgram },
    defaultNodeType: "ring",
    defaultEdgeColor: EDGE,
    labelColor: { color: "#d8d8d8" },
    labelFont: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    labelSize: 12,
    labelWeight: "500",
    renderLabels: false, // labels.js places them
    hideEdgesOnMove: big,
    zIndex: true,
    defaultDrawNodeHover: drawHover,
    minCameraRatio: 0.01,
    maxCameraRatio: 20,
    stagePadding: 40,
    nodeReducer,
    edgeReducer,
  });
  labels = new Labels(renderer, {
    color: "#d8d8d8",
    halo: "#1e1e1e",
    font: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    size: 12,
    weight: "500",
    threshold: 3.5,
    candidates: labelCandidates,
    obstacles: labelObstacles,
    clusters: clusterLabels,
  });
  renderer.on("beforeRender", () => {
    state.renderStart = performance.now();
  });
  renderer.on("afterRender", () => {
    state.renderEnd = performance.now();
    state.renderCost = state.renderEnd - state.renderStart;
    if (!state.painted && graph.order) {
      state.painted = true;
      performance.mark("vaultsync:first-paint");
      setBodyData({ painted: "1" });
    }
    setBodyData({ labels: labels.drawn });
  });
  renderer.on("enterNode", ({ node }) => {
    state.hovered = node;
    if (graph.order > HOVER_DIMS_UP_TO) return; // sigma draws the hover itself
    updateFocus();
    renderer.refresh({ skipIndexation: true });
  });
  renderer.on("leaveNode", () => {
    state.hovered = null;
    if (graph.order > HOVER_DIMS_UP_TO) return;
    updateFocus();
    renderer.refresh({ skipIndexation: true });
  });
  renderer.on("clickNode", ({ node }) => {
    if (node.startsWith(COLLAPSED_PREFIX) && !graph.hasNode(node)) {
      // A collapsed community opens: the whole graph again, at the community's top page.
      const c = state.communities.get(display.getNodeAttribute(node, "community"));
      setCollapse(false);
      if (c && graph.hasNode(c.path)) selectPage(c.path, { focus: true });
      return;
    }
    if (!graph.hasNode(node)) return;
    const type = graph.getNodeAttribute(node, "nodeType");
    if (type === "page") selectPage(node, { focus: false });
    else showNodeInfo(node);
  });
  renderer.on("doubleClickNode", (e) => {
    e.preventSigmaDefault();
    if (graph.hasNode(e.node) && graph.getNodeAttribute(e.node, "nodeType") === "page") enterLocal(e.node);
  });
  renderer.on("clickStage", () => {
    if (state.selected) {
      state.selected = null;
      refocus();
    }
  });
  setupDrag();
}

async function start(token) {
  api = new Api(token);
  let data;
  try {
    data = decode(await api.graph({ limit: MAX_NODES }));
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
  await applyData(data, { frame: true });
  connectEvents();
  const clearSelection = () => {
    state.selected = null;
    state.hovered = null;
    refocus();
  };
  // For scripts and tests (the browser test reads the graph through this).
  window.vaultsyncView = {
    get graph() { return graph; }, get display() { return display; }, renderer, state, api, labels, selectPage, enterLocal,
    exitLocal, load, runLayout, stopLayout, clearSelection, frameCamera, setCollapse,
  };
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
