// Sigma over the shown graph: its programs and settings, the view's labels, and what
// the pointer does on nodes and the stage.

import { createNodeBorderProgram } from "@sigma/node-border";
import Sigma from "sigma";
import { EdgeLineProgram } from "sigma/rendering";
import type { NodeHoverDrawingFunction } from "sigma/rendering";

import { COLLAPSED_PREFIX } from "./clusters";
import { setupDrag } from "./controls";
import {
  HOVER_DIMS_UP_TO, clusterLabels, edgeReducer, labelCandidates, labelObstacles, nodeReducer,
  refocus, setCollapse, updateFocus,
} from "./draw";
import { Labels } from "./labels";
import { enterLocal, selectPage, showNodeInfo } from "./pages";
import { $, renderer, setBodyData, view } from "./state";
import { EDGE, ORPHAN, SINGLE_SOURCE } from "./style";
import type { EdgeAttrs, GraphAttrs, NodeAttrs } from "./types";

const FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif";

// Hover: a light halo behind the node and the label on a dark box (sigma's default is a
// white box, unreadable with light label text).
const drawHover: NodeHoverDrawingFunction<NodeAttrs, EdgeAttrs, GraphAttrs> = (context, data, settings) => {
  const size = settings.labelSize;
  context.font = `${settings.labelWeight} ${size}px ${settings.labelFont}`;
  context.beginPath();
  context.arc(data.x, data.y, data.size + 3, 0, Math.PI * 2);
  context.fillStyle = "#ffffffcc";
  context.fill();
  const label = data.label;
  if (!label) return;
  const { width: canvasWidth } = renderer().getDimensions();
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
};

export function createRenderer(order: number): void {
  const big = order > 3000;
  const NodeRingProgram = createNodeBorderProgram<NodeAttrs, EdgeAttrs, GraphAttrs>({
    borders: [
      { size: { attribute: "orphanRing", defaultValue: 0, mode: "pixels" }, color: { value: ORPHAN } },
      { size: { attribute: "singleRing", defaultValue: 0, mode: "pixels" }, color: { value: SINGLE_SOURCE } },
      { size: { fill: true }, color: { attribute: "color" } },
    ],
    drawHover,
  });
  const r = new Sigma<NodeAttrs, EdgeAttrs, GraphAttrs>(view.graph, $("graph"), {
    nodeProgramClasses: { ring: NodeRingProgram },
    edgeProgramClasses: { thin: EdgeLineProgram },
    defaultNodeType: "ring",
    defaultEdgeColor: EDGE,
    labelColor: { color: "#d8d8d8" },
    labelFont: FONT,
    labelSize: 12,
    labelWeight: "500",
    renderLabels: false, // labels.ts places them
    hideEdgesOnMove: big,
    zIndex: true,
    defaultDrawNodeHover: drawHover,
    minCameraRatio: 0.01,
    maxCameraRatio: 20,
    stagePadding: 40,
    nodeReducer,
    edgeReducer,
  });
  view.renderer = r;
  const labels = new Labels(r, {
    color: "#d8d8d8",
    halo: "#1e1e1e",
    font: FONT,
    size: 12,
    weight: "500",
    threshold: 3.5,
    candidates: labelCandidates,
    obstacles: labelObstacles,
    clusters: clusterLabels,
  });
  view.labels = labels;
  r.on("beforeRender", () => {
    view.renderStart = performance.now();
  });
  r.on("afterRender", () => {
    view.renderEnd = performance.now();
    view.renderCost = view.renderEnd - view.renderStart;
    if (!view.painted && view.graph.order) {
      view.painted = true;
      performance.mark("vaultsync:first-paint");
      setBodyData({ painted: "1" });
    }
    setBodyData({ labels: labels.drawn });
  });
  r.on("enterNode", ({ node }) => {
    view.hovered = node;
    if (view.graph.order > HOVER_DIMS_UP_TO) return; // sigma draws the hover itself
    updateFocus();
    r.refresh({ skipIndexation: true });
  });
  r.on("leaveNode", () => {
    view.hovered = null;
    if (view.graph.order > HOVER_DIMS_UP_TO) return;
    updateFocus();
    r.refresh({ skipIndexation: true });
  });
  r.on("clickNode", ({ node }) => {
    const g = view.graph;
    if (node.startsWith(COLLAPSED_PREFIX) && !g.hasNode(node)) {
      // A collapsed community opens: the whole graph again, at the community's top page.
      const id = view.display.getNodeAttribute(node, "community");
      const c = id === undefined ? undefined : view.communities.get(id);
      setCollapse(false);
      if (c && view.graph.hasNode(c.path)) selectPage(c.path, { focus: true });
      return;
    }
    if (!g.hasNode(node)) return;
    const type = g.getNodeAttribute(node, "nodeType");
    if (type === "page") selectPage(node, { focus: false });
    else showNodeInfo(node);
  });
  r.on("doubleClickNode", (e) => {
    e.preventSigmaDefault();
    const g = view.graph;
    if (g.hasNode(e.node) && g.getNodeAttribute(e.node, "nodeType") === "page") enterLocal(e.node);
  });
  r.on("clickStage", () => {
    if (view.selected) {
      view.selected = null;
      refocus();
    }
  });
  setupDrag();
}
