// The view's one state object: every module reads and changes the view through `view`,
// and nothing else in the view is mutable at module level.

import Graph from "graphology";
import type FA2Layout from "graphology-layout-forceatlas2/worker";
import type Sigma from "sigma";

import type { Api } from "./api";
import type { Labels } from "./labels";
import type {
  Centre, ColorBy, Community, Direction, EdgeAttrs, GlobalCache, GraphAttrs, GraphData,
  IncludeType, Mode, NodeAttrs, StatusCounts, ViewGraph,
} from "./types";

export function newGraph(): ViewGraph {
  return new Graph<NodeAttrs, EdgeAttrs, GraphAttrs>({ type: "directed", multi: false, allowSelfLoops: false });
}

export interface ViewState {
  // What is shown
  mode: Mode;
  center: string | null; // the local graph's page
  depth: number;
  direction: Direction;
  colorBy: ColorBy;
  include: Set<IncludeType>;
  collapse: boolean; // "Collapse communities": one node per community (global mode)
  collapsed: boolean; // what sigma draws now is the collapsed graph
  shown: string | null; // what the displayed graph is: "global:<include>" or "local:<center>:<depth>:…"
  // Selection and focus
  selected: string | null;
  hovered: string | null;
  focusSet: Set<string> | null;
  focusEdges: Set<string> | null;
  focusFaded: boolean;
  displayFocus: string | null; // the page whose links `display` holds beyond the budget
  panelPath: string | null;
  // The data and the graphs
  data: GraphData | null;
  counts: StatusCounts | null; // the vault's headline counts (/api/status)
  graph: ViewGraph; // every node and link
  // What sigma draws: another graphology graph with the same nodes (the very attribute
  // objects, so positions are shared) and all or some of the edges. The layout moves
  // `graph`, which nothing listens to, and sigma hears of it at the pace it can draw.
  display: ViewGraph;
  baseEdges: Set<string> | null; // the edges drawn when not all are (null: all)
  communities: Map<number, Community>; // over the whole vault
  labelOrder: string[];
  centres: Map<number, Centre>; // community → where it is in the shown graph
  legendCommunities: number[]; // the communities the legend names, in its order
  flash: Map<string, number>; // page → until when it is highlighted (changed)
  globalCache: GlobalCache | null;
  // The parts
  api: Api | null;
  renderer: Sigma<NodeAttrs, EdgeAttrs, GraphAttrs> | null;
  labels: Labels | null;
  layout: FA2Layout<NodeAttrs, EdgeAttrs> | null;
  layoutTimer: ReturnType<typeof setTimeout> | undefined;
  // Loading and live updates
  loading: Promise<void> | null;
  loadAgain: boolean;
  refreshTimer: ReturnType<typeof setTimeout> | undefined;
  pendingChanged: Set<string>;
  refreshes: number;
  lastBatch: number;
  // Frames
  painted: boolean;
  renderStart: number;
  renderEnd: number;
  renderCost: number; // ms the last frame took (re-indexing included)
}

const first = newGraph();

export const view: ViewState = {
  mode: "global",
  center: null,
  depth: 1,
  direction: "both",
  colorBy: "community",
  include: new Set(),
  collapse: false,
  collapsed: false,
  shown: null,
  selected: null,
  hovered: null,
  focusSet: null,
  focusEdges: null,
  focusFaded: false,
  displayFocus: null,
  panelPath: null,
  data: null,
  counts: null,
  graph: first,
  display: first,
  baseEdges: null,
  communities: new Map(),
  labelOrder: [],
  centres: new Map(),
  legendCommunities: [],
  flash: new Map(),
  globalCache: null,
  api: null,
  renderer: null,
  labels: null,
  layout: null,
  layoutTimer: undefined,
  loading: null,
  loadAgain: false,
  refreshTimer: undefined,
  pendingChanged: new Set(),
  refreshes: 0,
  lastBatch: 0,
  painted: false,
  renderStart: 0,
  renderEnd: 0,
  renderCost: 0,
};

// The parts that exist once the view has started (start() in main.ts makes them).
export function renderer(): Sigma<NodeAttrs, EdgeAttrs, GraphAttrs> {
  if (!view.renderer) throw new Error("the view has not started");
  return view.renderer;
}

export function api(): Api {
  if (!view.api) throw new Error("the view has not started");
  return view.api;
}

// --- the page around the graph -----------------------------------------------------------

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

export function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

export const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export function setBodyData(values: Record<string, string | number>): void {
  for (const [key, value] of Object.entries(values)) document.body.dataset[key] = String(value);
}

export function showMessage(text: string): void {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

export function communityName(id: number | null | undefined): string | null {
  if (id === null || id === undefined) return null;
  const c = view.communities.get(id);
  return c ? c.name : null;
}
