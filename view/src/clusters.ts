// Communities as the picture shows them: where each one's pages are (its centre, for its
// name), and the graph with each community drawn as one node (the "Collapse communities"
// option). The server lays the pages of a community out together, so its centre is the
// middle of one cluster.

import { newGraph } from "./state";
import { communityColor } from "./style";
import type { Centre, ViewGraph } from "./types";

export const COLLAPSED_PREFIX = "community:";

// id → {x, y, count, radius} over the page nodes of `g` with a community, in graph
// coordinates: the mean position and the distance within which most of them lie.
export function communityCentres(g: ViewGraph): Map<number, Centre> {
  const sums = new Map<number, { x: number; y: number; xx: number; yy: number; count: number }>();
  g.forEachNode((_id, a) => {
    const c = a.info && a.info.type === "page" ? a.info.community : null;
    if (c === null || c === undefined) return;
    let s = sums.get(c);
    if (!s) sums.set(c, (s = { x: 0, y: 0, xx: 0, yy: 0, count: 0 }));
    s.x += a.x;
    s.y += a.y;
    s.xx += a.x * a.x;
    s.yy += a.y * a.y;
    s.count += 1;
  });
  const out = new Map<number, Centre>();
  for (const [c, s] of sums) {
    const x = s.x / s.count;
    const y = s.y / s.count;
    const spread = Math.max(0, s.xx / s.count - x * x + s.yy / s.count - y * y);
    out.set(c, { x, y, count: s.count, radius: Math.sqrt(spread) });
  }
  return out;
}

// A graph with one node per community of at least two pages in `g` (at its centre,
// sized by its pages, named as in the legend) and the other nodes as they are; links
// between communities add up to one edge each way.
export function collapseGraph(g: ViewGraph, names: (community: number) => string | null): ViewGraph {
  const centres = communityCentres(g);
  const group = (id: string, c: number | null): string => {
    const centre = c === null ? undefined : centres.get(c);
    return centre && centre.count >= 2 ? COLLAPSED_PREFIX + c : id;
  };
  const d = newGraph();
  let most = 1;
  for (const s of centres.values()) most = Math.max(most, s.count);
  for (const [c, s] of centres) {
    if (s.count < 2) continue;
    const name = names(c) || `community ${c}`;
    d.addNode(COLLAPSED_PREFIX + c, {
      x: s.x, y: s.y, size: 4 + 22 * Math.sqrt(s.count / most), color: communityColor(c),
      label: `${name} (${s.count})`, type: "circle", nodeType: "community", community: c,
      orphanRing: 0, singleRing: 0,
      info: {
        id: COLLAPSED_PREFIX + c, type: "community", community: c, title: name, pagerank: s.count,
        kind: null, citation_count: null, in_degree: null, out_degree: null, x: s.x, y: s.y,
        orphan: false, isolated: false, single_source: false,
      },
    });
  }
  const owner = new Map<string, string>();
  g.forEachNode((id, a) => {
    const key = group(id, a.info && a.info.type === "page" ? a.info.community : null);
    owner.set(id, key);
    if (key === id) d.addNode(id, a);
  });
  const weights = new Map<string, number>();
  g.forEachEdge((_e, a, s, t) => {
    const from = owner.get(s);
    const to = owner.get(t);
    if (from === to) return;
    const key = `${from}\u0000${to}`;
    weights.set(key, (weights.get(key) || 0) + (a.weight || 1));
  });
  for (const [key, w] of weights) {
    const [from, to] = key.split("\u0000");
    d.addEdge(from, to, { weight: w, size: Math.min(4, 0.5 + Math.log2(1 + w) * 0.4), color: "#4a4a4a" });
  }
  return d;
}
