// The toolbar's controls, and dragging a node.

import { restyle } from "./legend";
import { setCollapse } from "./draw";
import { layoutTime, runLayout } from "./layout";
import { load } from "./load";
import { enterLocal, exitLocal } from "./pages";
import { $, input, renderer, view } from "./state";
import type { ColorBy, Direction, IncludeType } from "./types";

export function setupDrag(): void {
  const r = renderer();
  let dragged: string | null = null;
  let wasFixed = false;
  r.on("downNode", (e) => {
    if (view.collapsed) return;
    dragged = e.node;
    wasFixed = !!view.graph.getNodeAttribute(e.node, "fixed");
    view.graph.setNodeAttribute(e.node, "fixed", true);
  });
  r.getMouseCaptor().on("mousemovebody", (e) => {
    if (!dragged) return;
    const pos = r.viewportToGraph(e);
    view.display.mergeNodeAttributes(dragged, { x: pos.x, y: pos.y });
    e.preventSigmaDefault();
    e.original.preventDefault();
    e.original.stopPropagation();
  });
  r.getMouseCaptor().on("mouseup", () => {
    if (dragged && view.graph.hasNode(dragged) && !wasFixed) view.graph.removeNodeAttribute(dragged, "fixed");
    dragged = null;
  });
}

export function setupControls(): void {
  $("mode-global").addEventListener("click", () => view.mode !== "global" && exitLocal());
  $("mode-local").addEventListener("click", () => enterLocal());
  const depth = input("depth");
  depth.addEventListener("input", () => {
    $("depth-value").textContent = depth.value;
  });
  depth.addEventListener("change", () => {
    view.depth = Number(depth.value);
    if (view.mode === "local") load({ frame: true });
  });
  const direction = $("direction") as HTMLSelectElement;
  direction.addEventListener("change", () => {
    view.direction = direction.value as Direction;
    if (view.mode === "local") load({ frame: true });
  });
  const colorBy = $("color-by") as HTMLSelectElement;
  colorBy.addEventListener("change", () => {
    view.colorBy = colorBy.value as ColorBy;
    restyle();
  });
  for (const type of ["tags", "attachments", "unresolved"] as IncludeType[]) {
    const box = input(`inc-${type}`);
    box.addEventListener("change", () => {
      if (box.checked) view.include.add(type);
      else view.include.delete(type);
      load({ frame: true });
    });
  }
  const labels = input("show-labels");
  labels.addEventListener("change", () => {
    if (view.labels) view.labels.enabled = labels.checked;
    renderer().refresh({ skipIndexation: true });
  });
  $("relayout").addEventListener("click", () => runLayout(layoutTime(view.graph.order), { free: true }));
  const collapse = input("collapse");
  collapse.addEventListener("change", () => setCollapse(collapse.checked));
}
