// ForceAtlas2 in a web worker, moving `view.graph`; sigma hears of it at the pace it can
// draw.

import forceAtlas2 from "graphology-layout-forceatlas2";
import FA2Layout from "graphology-layout-forceatlas2/worker";

import { communityCentres } from "./clusters";
import { setBodyData, view } from "./state";
import type { EdgeAttrs, NodeAttrs } from "./types";

export function stopLayout(): void {
  clearTimeout(view.layoutTimer);
  view.layoutTimer = undefined;
  if (view.layout) {
    view.layout.kill();
    view.layout = null;
    view.centres = communityCentres(view.graph);
    if (view.renderer) view.renderer.refresh(); // the final positions, and the edges back
  }
  setBodyData({ layout: "stopped" });
}

// `free`: every node may move, the stored positions too (the "Re-run layout" button);
// otherwise nodes marked `fixed` (placed by the server) stay where they are.
export function runLayout(ms: number, { free = false }: { free?: boolean } = {}): void {
  stopLayout();
  const full = view.graph;
  if (full.order < 2 || ms <= 0) return;
  if (free) full.forEachNode((_id, a) => { delete a.fixed; });
  const settings = forceAtlas2.inferSettings(full);
  settings.barnesHutOptimize = full.order > 800;
  settings.gravity = 1;
  settings.adjustSizes = false;
  const layout = new FA2Layout<NodeAttrs, EdgeAttrs>(full, { settings, getEdgeWeight: null });
  view.layout = layout;
  // The layout moves `graph`'s nodes, whose attribute objects `display` shares. Sigma is
  // told at most once a frame, not again for 1.5 times as long as the last frame took,
  // and on big graphs at most every order/12 ms (a frame of 10,000 nodes costs the
  // software renderer hundreds of ms): the worker iterates meanwhile and the page
  // stays responsive at any size.
  const every = Math.min(800, full.order / 12);
  let waiting = false;
  let told = 0;
  const moved = () => {
    if (waiting) return;
    waiting = true;
    const due = Math.max(view.renderEnd + 1.5 * view.renderCost, told + every);
    setTimeout(() => requestAnimationFrame(() => {
      waiting = false;
      told = performance.now();
      if (view.graph === full && view.layout) view.display.updateEachNodeAttributes((_n, a) => a, { attributes: ["x", "y"] });
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
  view.layoutTimer = setTimeout(stopLayout, ms);
}

// After the frame that shows the graph: the first paint is never held up by the layout.
export function runLayoutAfterPaint(ms: number): void {
  setBodyData({ layout: ms > 0 ? "pending" : "stopped" });
  const target = view.graph;
  requestAnimationFrame(() => setTimeout(() => {
    if (view.graph === target) runLayout(ms);
  }, 0));
}

export function layoutTime(order: number): number {
  return Math.min(8000, 3000 + order * 0.5);
}
