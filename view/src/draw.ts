// What sigma draws and how: showing a graph in one step, the focus (selected or hovered
// page and its neighbours), the reducers, the labels' candidates and obstacles, the
// communities' names, and the camera.

import type { EdgeDisplayData, NodeDisplayData } from "sigma/types";

import { makeDisplay, rankOrder, recolor } from "./build";
import { collapseGraph, communityCentres } from "./clusters";
import { stopLayout } from "./layout";
import type { ClusterName } from "./labels";
import { $, communityName, renderer, setBodyData, view } from "./state";
import { DIMMED, EDGE_ACTIVE, EDGE_ACTIVE_FADED, communityColor } from "./style";
import type { Box, EdgeAttrs, NodeAttrs, ViewGraph } from "./types";

export const HOVER_DIMS_UP_TO = 3000; // above, hovering only highlights (dimming re-draws everything)
const FADE_EDGES_ABOVE = 60; // a selected page with more links draws them faded
// Graphs with many edges hide them while the layout moves every node (the edges would be
// re-uploaded each frame); they come back when it stops.
const EDGES_HIDDEN_IN_LAYOUT = 5000;
// Community names are drawn at their clusters' centres while the camera is zoomed out
// at least this far (1 = the whole graph framed); closer in, the pages' labels take over.
const NAMES_DOWN_TO = 0.45;
const MOST_NAMES = 40;

// Show `g` in one step: sigma drops the old graph's listeners and indexes the new one once.
export function show(g: ViewGraph, baseEdges: Set<string> | null, { frame = false }: { frame?: boolean } = {}): void {
  stopLayout();
  if (g.getAttribute("colorBy") !== view.colorBy) recolor(g);
  view.graph = g;
  view.baseEdges = baseEdges;
  if (view.selected && !g.hasNode(view.selected)) view.selected = null;
  if (view.hovered && !g.hasNode(view.hovered)) view.hovered = null;
  view.labelOrder = rankOrder(g);
  updateFocus();
  view.displayFocus = baseEdges ? focusNode() : null;
  view.centres = communityCentres(g);
  view.collapsed = view.collapse && view.mode === "global";
  view.display = view.collapsed ? collapseGraph(g, communityName) : makeDisplay(g, baseEdges, view.displayFocus);
  renderer().setGraph(view.display);
  setBodyData({ collapsed: view.collapsed ? view.display.order : "" });
  if (frame) frameCamera();
}

// The names drawn on the picture (labels.ts): zoomed out in the global view (always when
// collapsed), each community at its cluster's centre, the legend's first.
export function clusterLabels(): ClusterName[] {
  if (view.mode !== "global" || !view.centres.size) return [];
  if (!view.collapsed && renderer().getCamera().ratio < NAMES_DOWN_TO) return [];
  let most = 1;
  for (const c of view.centres.values()) most = Math.max(most, c.count);
  const legend = new Set(view.legendCommunities);
  const order = [...view.legendCommunities.filter((c) => view.centres.has(c))];
  const rest = [...view.centres.entries()].filter(([c, s]) => !legend.has(c) && s.count >= 2)
    .sort((a, b) => b[1].count - a[1].count || a[0] - b[0]).map(([c]) => c);
  const out: ClusterName[] = [];
  for (const c of [...order, ...rest].slice(0, MOST_NAMES)) {
    const name = communityName(c);
    const s = view.centres.get(c);
    if (!name || !s) continue;
    const color = view.colorBy === "community" && communityColor(c) !== communityColor(null) ? communityColor(c) : "#e6e6e6";
    out.push({ x: s.x, y: s.y, text: name, color, size: Math.round(13 + 7 * Math.sqrt(s.count / most)) });
  }
  return out;
}

export function setCollapse(on: boolean): void {
  view.collapse = on;
  ($("collapse") as HTMLInputElement).checked = on;
  if (view.mode === "global") show(view.graph, view.baseEdges, { frame: false });
}

// After the selection or hover changed: redraw, with the selected page's links added to
// what sigma draws when they were left out.
export function refocus(): void {
  updateFocus();
  if (view.collapsed) {
    renderer().refresh({ skipIndexation: true });
    return;
  }
  const want = view.baseEdges ? focusNode() : null;
  if (want !== view.displayFocus) {
    view.displayFocus = want;
    view.display = makeDisplay(view.graph, view.baseEdges, want);
    renderer().setGraph(view.display);
  } else {
    renderer().refresh({ skipIndexation: true });
  }
}

// --- camera ---------------------------------------------------------------------------

// Frame the whole graph, keeping it clear of the legend in the lower left corner.
export function frameCamera(): void {
  const r = renderer();
  const camera = r.getCamera();
  const base = { x: 0.5, y: 0.5, ratio: 1, angle: 0 };
  const { width, height } = r.getDimensions();
  const legend = $("legend");
  const box = !legend.hidden ? legend.getBoundingClientRect() : null;
  const area = $("graph").getBoundingClientRect();
  let target = base;
  if (box && box.width && view.graph.order) {
    const reserve = Math.min(box.right - area.left + 12, width * 0.4);
    const bbox = r.getBBox();
    const corner = (x: number, y: number, s: typeof base) => r.graphToViewport({ x, y }, { cameraState: s });
    const extent = (s: typeof base) => {
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
      const p0 = r.viewportToFramedGraph({ x: l2, y: height / 2 }, { cameraState: zoomed });
      const p1 = r.viewportToFramedGraph({ x: want, y: height / 2 }, { cameraState: zoomed });
      target = { ...zoomed, x: 0.5 - (p1.x - p0.x) };
    }
  }
  camera.setState(target);
}

export function focusCamera(id: string): void {
  const r = renderer();
  const shown = r.getNodeDisplayData(id);
  if (!shown) return;
  r.getCamera().animate({ x: shown.x, y: shown.y, ratio: Math.min(0.5, r.getCamera().ratio) }, { duration: 500 });
}

// --- focus, hover, selection ------------------------------------------------------------

// The page the view dims the rest around: the hovered one (on graphs small enough to
// redraw at once), else the selected one, except the centre of a local graph, whose
// neighbourhood is the whole view (dimming it would grey out the pages at depth 2+).
export function focusNode(): string | null {
  if (view.hovered && view.graph.order <= HOVER_DIMS_UP_TO) return view.hovered;
  if (view.mode === "local" && view.selected === view.center) return null;
  return view.selected;
}

export function updateFocus(): void {
  const focus = focusNode();
  const g = view.graph;
  if (focus && g.hasNode(focus)) {
    view.focusSet = new Set([focus, ...g.neighbors(focus)]);
    view.focusEdges = new Set(g.edges(focus));
    view.focusFaded = view.focusEdges.size > FADE_EDGES_ABOVE;
  } else {
    view.focusSet = null;
    view.focusEdges = null;
    view.focusFaded = false;
  }
}

// Sigma passes the reducers a copy of the attributes: they change it in place.
export function nodeReducer(node: string, data: NodeAttrs): Partial<NodeDisplayData> {
  const res: NodeAttrs & Partial<NodeDisplayData> = data;
  const focus = view.focusSet ? focusNode() : view.selected;
  if (view.focusSet && !view.focusSet.has(node)) {
    res.color = DIMMED;
    res.orphanRing = 0;
    res.singleRing = 0;
    res.zIndex = 0;
  } else if (view.focusSet) {
    res.zIndex = 1;
  }
  if (node === focus) {
    res.highlighted = true;
    res.zIndex = 2;
  }
  const until = view.flash.get(node);
  if (until) {
    if (until > performance.now()) res.highlighted = true;
    else view.flash.delete(node);
  }
  return res as Partial<NodeDisplayData>;
}

export function edgeReducer(edge: string, data: EdgeAttrs): Partial<EdgeDisplayData> {
  const res: EdgeAttrs & Partial<EdgeDisplayData> = data;
  if (view.focusEdges) {
    if (view.focusEdges.has(edge)) {
      res.zIndex = 1;
      if (view.focusFaded) res.color = EDGE_ACTIVE_FADED;
      else {
        res.color = EDGE_ACTIVE;
        res.size += 0.5;
      }
    } else res.hidden = true;
    return res as Partial<EdgeDisplayData>;
  }
  if (view.layout && view.display.size > EDGES_HIDDEN_IN_LAYOUT) res.hidden = true;
  return res as Partial<EdgeDisplayData>;
}

// Label candidates, most important first: the page in focus and its neighbours, pages
// that just changed, then every node by PageRank.
export function* labelCandidates(): Generator<[string, boolean]> {
  const focus = focusNode();
  const g = view.graph;
  if (view.focusSet) {
    if (focus && g.hasNode(focus)) yield [focus, true];
    for (const id of view.labelOrder) if (view.focusSet.has(id) && id !== focus) yield [id, g.order < 3000];
    return;
  }
  const now = performance.now();
  for (const [id, until] of view.flash) if (until > now && g.hasNode(id)) yield [id, true];
  for (const id of view.labelOrder) yield [id, false];
}

const measure = document.createElement("canvas").getContext("2d");

// Where drawHover puts a highlighted node's label box (see drawHover in renderer.ts).
function hoverBox(id: string): Box | null {
  const r = renderer();
  const data = r.getNodeDisplayData(id);
  if (!data || data.hidden || !data.label) return null;
  const p = r.framedGraphToViewport(data);
  const size = r.scaleSize(data.size);
  const { width: canvasWidth } = r.getDimensions();
  if (!measure) return null;
  measure.font = "500 12px system-ui, -apple-system, Segoe UI, Roboto, sans-serif";
  const width = measure.measureText(data.label).width + 12;
  let x = p.x + size + 5;
  if (x + width > canvasWidth - 4) x = Math.max(4, p.x - size - 5 - width);
  return [x - 2, p.y - 13, x + width + 2, p.y + 13];
}

export function labelObstacles(): Box[] {
  const area = $("graph").getBoundingClientRect();
  const out: Box[] = [];
  // The selected or hovered page's label is drawn on sigma's hover layer, above ours.
  for (const id of new Set([view.selected, view.hovered])) {
    if (!id || !view.display.hasNode(id)) continue;
    const box = hoverBox(id);
    if (box) out.push(box);
  }
  for (const id of ["legend", "message"]) {
    const el = $(id);
    if (el.hidden) continue;
    const b = el.getBoundingClientRect();
    if (!b.width) continue;
    out.push([b.left - area.left - 6, b.top - area.top - 6, b.right - area.left + 6, b.bottom - area.top + 6]);
  }
  return out;
}
