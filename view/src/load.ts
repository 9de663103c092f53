// Loading what is to be shown: the API's answer (or, for a local graph, first the
// neighbourhood read from the global graph at hand), built off-screen and shown in one
// step; then the layout places what has no position.

import { ApiError } from "./api";
import { buildGraph, decode } from "./build";
import { show } from "./draw";
import { layoutTime, runLayoutAfterPaint } from "./layout";
import { renderLegend, renderStats } from "./legend";
import { exitLocal } from "./pages";
import { api, nextTask, setBodyData, showMessage, view } from "./state";
import type { GraphData, NodeInfo, ViewGraph } from "./types";

export const MAX_NODES = 20000; // beyond this, the top pages by PageRank (the API's limit=)

export function shownKey(): string {
  const include = [...view.include].sort().join(",");
  if (view.mode === "local") return `local:${view.center}:${view.depth}:${view.direction}:${include}`;
  return `global:${include}`;
}

export async function applyData(data: GraphData, { frame }: { frame: boolean }): Promise<void> {
  const key = shownKey();
  const sameView = view.shown === key;
  let previous: ViewGraph | null = null;
  if (view.mode === "global") {
    if (view.shown && view.shown.startsWith("global:")) previous = view.graph;
    else if (view.globalCache) previous = view.globalCache.graph;
  } else if (view.shown && view.shown.startsWith(`local:${view.center}:`)) {
    previous = view.graph;
  }
  const built = await buildGraph(data, previous);
  await nextTask(); // building and showing are two tasks, never one long one
  present(data, built.graph, built.baseEdges, key, frame || !sameView);
  if (view.mode === "global") view.globalCache = { key, graph: built.graph, baseEdges: built.baseEdges, data, stale: false };
  let ms;
  if (!built.kept) {
    // A whole new picture: from the stored layout, nothing to do but place what it does
    // not hold (its pages stay put); else the full run.
    if (view.mode === "global" && built.stored) {
      ms = built.unplaced ? Math.min(2000, 800 + built.unplaced * 0.5) : 0;
    } else {
      ms = layoutTime(view.graph.order);
    }
  } else {
    ms = built.unplaced ? 1200 : 0;
  }
  runLayoutAfterPaint(ms);
}

// The view shows `g` (built from `data`) as the graph of `key` (see shownKey).
export function present(data: GraphData, g: ViewGraph, baseEdges: Set<string> | null, key: string, frame: boolean): void {
  view.data = data;
  view.communities = new Map((data.meta.communities || []).map((c) => [c.id, c]));
  renderLegend(); // first: the camera frames the graph clear of it
  show(g, baseEdges, { frame });
  view.shown = key;
  renderStats();
  setBodyData({ nodes: view.graph.order, edges: view.graph.size, mode: view.mode });
  showMessage(view.graph.order ? "" : "The mirror has no pages yet.");
}

async function fetchGraph(): Promise<GraphData> {
  const include = [...view.include].join(",");
  if (view.mode === "local" && view.center) {
    return decode(await api().local(view.center, view.depth, view.direction, include));
  }
  return decode(await api().graph({ include, limit: MAX_NODES }));
}

// The vault's headline counts for the header (/api/status); the header keeps the last
// ones when the status cannot be read.
export async function loadCounts(): Promise<void> {
  try {
    const status = await api().status();
    view.counts = status.counts;
  } catch (_) {
    return;
  }
  renderStats();
}

// The neighbourhood of the centre, read from the global graph the page already holds,
// the way /api/graph/local walks it: pages up to `depth` resolved links away in the
// chosen direction, then the tags, attachments and unresolved targets they link to.
// Null when that graph is not at hand, out of date, cut to the top pages, or filtered
// differently: the API answers then.
function localFromGlobal(): GraphData | null {
  const cache = view.globalCache;
  const center = view.center;
  const key = `global:${[...view.include].sort().join(",")}`;
  if (!center || !cache || cache.stale || cache.key !== key || cache.data.meta.truncated) return null;
  const g = cache.graph;
  if (!g.hasNode(center) || g.getNodeAttribute(center, "nodeType") !== "page") return null;
  const step = ({ out: "forEachOutNeighbor", in: "forEachInNeighbor", both: "forEachNeighbor" } as const)[view.direction];
  const depth = new Map<string, number>([[center, 0]]);
  let frontier = [center];
  for (let level = 1; level <= view.depth && frontier.length; level++) {
    const next: string[] = [];
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
  const at = (id: string) => depth.get(id) ?? 0;
  const pages = [...depth.keys()].sort((a, b) => at(a) - at(b) || (a < b ? -1 : 1));
  const extra: string[] = [];
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
  const nodes = ids.map((id): NodeInfo => {
    const info = { ...g.getNodeAttribute(id, "info") };
    if (depth.has(id)) {
      info.depth = depth.get(id);
      info.center = id === center;
    }
    return info;
  });
  const links: number[] = [];
  for (const id of ids) {
    g.forEachOutEdge(id, (_e, a, s, t) => {
      const si = index.get(s);
      const ti = index.get(t);
      if (si !== undefined && ti !== undefined && (depth.has(t) || depth.has(s))) links.push(si, ti, a.weight);
    });
  }
  return { nodes, links, meta: cache.data.meta, center, derived: true };
}

function sameGraph(a: GraphData, b: GraphData): boolean {
  if (a.nodes.length !== b.nodes.length || a.links.length !== b.links.length) return false;
  const ids = new Set(a.nodes.map((n) => n.id));
  return b.nodes.every((n) => ids.has(n.id));
}

// Load and show what the state asks for; a call while a load runs makes it run once more.
export async function load({ frame = false }: { frame?: boolean } = {}): Promise<void> {
  if (view.loading) {
    view.loadAgain = true;
    return view.loading;
  }
  view.loading = (async () => {
    try {
      let again = true;
      let first = true;
      while (again) {
        view.loadAgain = false;
        // A local graph is shown at once from the global one, then checked against the
        // API (which has the final word: an edit may have landed meanwhile).
        const quick = view.mode === "local" ? localFromGlobal() : null;
        if (quick) await applyData(quick, { frame: frame && first });
        const data = await fetchGraph();
        if (!quick || !sameGraph(quick, data)) await applyData(data, { frame: frame && first && !quick });
        first = false;
        again = view.loadAgain;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && view.mode === "local") {
        showMessage(`The page ${view.center} is gone.`);
        exitLocal();
        return;
      }
      showMessage(`Cannot load the graph: ${(err as Error).message}`);
      throw err;
    } finally {
      view.loading = null;
    }
  })();
  return view.loading;
}
