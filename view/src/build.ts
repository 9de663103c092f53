// From the API's answer to graphology graphs: decoding the compact form, building the
// full graph off-screen (positions kept, stored or seeded), and picking what sigma draws.

import { newGraph, nextTask, view } from "./state";
import { EDGE, nodeColor, nodeSize, seedPosition } from "./style";
import type { CompactGraph, EdgeAttrs, GraphData, NodeAttrs, NodeInfo, ViewGraph } from "./types";

const FLAGS = { orphan: 1, isolated: 2, dead_end: 4, single_source: 8, unsourced: 16, is_source: 32 };
// Sigma re-indexes every drawn edge on each full refresh (about 10 µs each in software
// WebGL): past this many, it draws each node's links to its most important neighbours,
// plus every link of the selected page. The whole graph stays in `view.graph`.
const EDGE_BUDGET = 20000;
// A local graph is redrawn on every switch and depth change: a smaller budget keeps the
// switch quick (the links to the centre are each page's first pick).
const LOCAL_EDGE_BUDGET = 8000;
// Past this many edges they are drawn as 1-pixel lines: a fraction of the pixels of
// sigma's default quads, which decides the frame time of a software renderer.
const THIN_EDGES_ABOVE = 5000;
// Edges are added in slices of this many, other tasks running between them.
const SLICE = 25000;

// The compact answer (columns) as node objects and a flat [source, target, weight, …]
// array of node indexes.
export function decode(payload: CompactGraph): GraphData {
  const cols = payload.nodes;
  const nodes: NodeInfo[] = new Array(payload.count);
  const at = <T>(column: (T | null)[] | undefined, i: number): T | null => (column ? column[i] ?? null : null);
  for (let i = 0; i < payload.count; i++) {
    const flags = cols.flags[i];
    nodes[i] = {
      id: cols.id[i], type: cols.type[i], title: cols.title[i], kind: at(cols.kind, i),
      pagerank: at(cols.pagerank, i), community: at(cols.community, i),
      citation_count: at(cols.citation_count, i), in_degree: at(cols.in_degree, i),
      out_degree: at(cols.out_degree, i), x: at(cols.x, i), y: at(cols.y, i),
      orphan: !!(flags & FLAGS.orphan), isolated: !!(flags & FLAGS.isolated),
      single_source: !!(flags & FLAGS.single_source),
      depth: cols.depth ? cols.depth[i] : undefined,
      center: cols.center ? cols.center[i] : undefined,
    };
  }
  return { nodes, links: payload.links, meta: payload.meta || {}, center: payload.center };
}

function nodeAttributes(node: NodeInfo, maxRank: number, order: number): Omit<NodeAttrs, "x" | "y"> {
  const marked = node.type === "page";
  const orphanRing = marked && node.orphan ? 2.5 : 0;
  const singleRing = marked && node.single_source ? 2.5 : 0;
  return {
    label: node.title,
    size: nodeSize(node, maxRank, order),
    color: nodeColor(node, view.colorBy),
    // Only ringed nodes pay for the ring program's shader.
    type: orphanRing || singleRing ? "ring" : "circle",
    orphanRing,
    singleRing,
    nodeType: node.type,
    info: node,
  };
}

function hash32(text: string): number {
  let h = 7;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

// Local mode starts from rings by distance from the page, each community in its own
// sector, and lets ForceAtlas2 settle it.
function ringPosition(node: NodeInfo): { x: number; y: number } {
  const depth = node.depth || 0;
  if (depth === 0) return { x: 0, y: 0 };
  const c = node.community === null || node.community === undefined ? 0 : node.community;
  const angle = ((c * 137.508) % 360) * (Math.PI / 180) + ((hash32(node.id) % 1000) / 1000 - 0.5) * 1.6;
  const r = depth * 100 * (0.8 + (hash32(node.id + "r") % 400) / 1000);
  return { x: Math.cos(angle) * r, y: Math.sin(angle) * r };
}

export interface Built {
  graph: ViewGraph;
  unplaced: number; // nodes the layout has to place
  stored: number; // nodes at the server's stored position
  kept: boolean; // positions kept from the graph this one replaces
  baseEdges: Set<string> | null;
}

// A new graphology graph for `data`, built while nothing listens to it, in slices of a
// few tens of milliseconds (other tasks run between them). Positions: the node's
// position in `previous` (the graph this one replaces, same mode), else next to a
// neighbour that has one, else the stored layout (global) or rings (local), else a seed.
export async function buildGraph(data: GraphData, previous: ViewGraph | null): Promise<Built> {
  const g = newGraph();
  g.setAttribute("colorBy", view.colorBy);
  const nodes = data.nodes;
  const order = nodes.length;
  let maxRank = 0;
  for (const n of nodes) if (n.type === "page" && n.pagerank !== null && n.pagerank > maxRank) maxRank = n.pagerank;
  const local = view.mode === "local";
  const radius = Math.max(10, Math.sqrt(order) * 10);
  const placedBefore = previous ? nodes.filter((n) => previous.hasNode(n.id)).length : 0;
  const keep = previous !== null && placedBefore > 0;
  const unplaced: string[] = [];
  let stored = 0;
  for (const node of nodes) {
    const attrs = nodeAttributes(node, maxRank, order);
    let pos: { x: number; y: number; fixed?: boolean } | null = null;
    if (!local && node.x !== null && node.x !== undefined && node.y !== null) {
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
function pickEdges(g: ViewGraph): Set<string> | null {
  const budget = view.mode === "local" ? LOCAL_EDGE_BUDGET : EDGE_BUDGET;
  if (g.size <= budget) return null;
  const per = Math.max(1, Math.floor(budget / Math.max(g.order, 1)));
  const scores = new Map<string, number>();
  g.forEachNode((id, a) => scores.set(id, nodeScore(a.info)));
  const keep = new Set<string>();
  const mine: [number, string][] = [];
  g.forEachNode((id) => {
    mine.length = 0;
    g.forEachEdge(id, (e, _a, s, t) => mine.push([scores.get(s === id ? t : s) ?? 0, e]));
    if (mine.length > per) mine.sort((a, b) => b[0] - a[0]);
    for (let i = 0; i < Math.min(per, mine.length); i++) keep.add(mine[i][1]);
  });
  return keep;
}

// A graph for sigma: `full`'s nodes (the same attribute objects, so positions are
// shared) and the `edges` picked (null: all), plus every link of `focus`.
export function makeDisplay(full: ViewGraph, edges: Set<string> | null, focus: string | null): ViewGraph {
  const d = newGraph();
  full.forEachNode((id, attrs) => d.addNode(id, attrs));
  const add = (e: string, attrs: EdgeAttrs, s: string, t: string) => d.addEdgeWithKey(e, s, t, attrs);
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
function nodeScore(info: NodeInfo): number {
  return info.type === "page" ? 1 + (info.pagerank || 0) : (info.in_degree || 0) * 1e-9;
}

export function rankOrder(g: ViewGraph): string[] {
  const ids: string[] = [];
  const scores = new Map<string, number>();
  g.forEachNode((id, a) => { ids.push(id); scores.set(id, nodeScore(a.info)); });
  ids.sort((a, b) => (scores.get(b) ?? 0) - (scores.get(a) ?? 0) || (a < b ? -1 : 1));
  return ids;
}

// Node colours follow the "colour by" choice. A graph kept aside (the global graph while
// a local one is shown) is recoloured when it is shown again.
export function recolor(g: ViewGraph): void {
  g.forEachNode((_id, attrs) => { attrs.color = nodeColor(attrs.info, view.colorBy); });
  g.setAttribute("colorBy", view.colorBy);
}
