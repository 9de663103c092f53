// The header's figures and the legend.

import { recolor } from "./build";
import { fmt, h } from "./panel";
import { $, communityName, view } from "./state";
import { KIND_COLORS, ORPHAN, SINGLE_SOURCE, TYPE_COLORS, communityColor, kindColor } from "./style";
import type { StatusCounts } from "./types";

// The vault's headline counts, named as the server names them (read.Counts, in
// /api/status), each with what it counts.
const HEADLINE: [keyof StatusCounts, string, string][] = [
  ["pages", "pages", "Markdown pages"],
  ["links", "links", "every link written in a page: to pages, to files, unresolved"],
  ["edges", "edges", "distinct (linking page, linked page) pairs: the graph's edges"],
];

// The header: the vault's headline counts, then what the picture shows when that is not
// the whole vault (a local graph, the top pages, extra node types).
export function renderStats(): void {
  const stats = $("stats");
  const parts: HTMLElement[] = [];
  const counts = view.counts;
  if (counts) {
    for (const [key, name, meaning] of HEADLINE) {
      parts.push(h("span", { title: meaning, dataset: { count: key } }, `${fmt(counts[key])} ${name}`));
    }
  }
  const meta = view.data ? view.data.meta : null;
  const g = view.graph;
  let pages = 0;
  if (view.data) for (const n of view.data.nodes) if (n.type === "page") pages += 1;
  let shown = "";
  if (view.mode === "local") {
    const center = view.center || "";
    const name = g.hasNode(center) ? g.getNodeAttribute(center, "label") : center;
    shown = `showing ${fmt(pages)} pages and ${fmt(g.size)} edges around ${name}`;
  } else if (meta && meta.truncated) {
    shown = `showing the top ${fmt(meta.shown_pages)} of ${fmt(meta.pages)} pages by PageRank`;
  } else if (!counts) {
    shown = `${fmt(pages)} pages · ${fmt(g.size)} edges`;
  }
  if (shown) parts.push(h("span", { class: "shown", title: "what the picture shows" }, shown));
  if (meta && meta.metrics && !meta.metrics.fresh) parts.push(h("span", {}, "metrics updating…"));
  const items: (HTMLElement | string)[] = [];
  parts.forEach((part, i) => items.push(...(i ? [" · ", part] : [part])));
  stats.replaceChildren(...items);
}

export function renderLegend(): void {
  const legend = $("legend");
  const rows: HTMLElement[] = [];
  const nodes = view.data ? view.data.nodes : [];
  if (view.colorBy === "kind") {
    rows.push(h("h4", {}, "Kind"));
    const kinds = new Map<string, number>();
    for (const n of nodes) if (n.type === "page") kinds.set(n.kind || "other", (kinds.get(n.kind || "other") || 0) + 1);
    for (const [kind, k] of [...kinds.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
      rows.push(h("div", { class: "row" }, h("span", { class: "swatch", style: { background: KIND_COLORS[kind] || kindColor(kind === "other" ? null : kind) } }), `${kind} (${fmt(k)})`));
    }
  } else {
    rows.push(h("h4", {}, view.mode === "local" ? "Communities here" : "Communities"));
    // Counted in what is shown; named as everywhere, after the community's top page.
    const shown = new Map<number, number>();
    for (const n of nodes) {
      if (n.type === "page" && n.community !== null && n.community !== undefined) shown.set(n.community, (shown.get(n.community) || 0) + 1);
    }
    const ranked = [...shown.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 8);
    // The picture names these at their clusters (clusterLabels), in the same words.
    view.legendCommunities = ranked.map(([c]) => c);
    if (!ranked.length) rows.push(h("div", { class: "row muted" }, "not computed yet (coloured by kind)"));
    for (const [community, k] of ranked) {
      const name = communityName(community) || "a page on its own";
      rows.push(h("div", { class: "row", title: `community ${community}` },
        h("span", { class: "swatch", style: { background: communityColor(community) } }), `${name} (${fmt(k)})`));
    }
  }
  for (const type of view.include) {
    rows.push(h("div", { class: "row" }, h("span", { class: "swatch", style: { background: TYPE_COLORS[type.replace(/s$/, "")] || TYPE_COLORS[type] } }), type));
  }
  rows.push(h("h4", {}, "Marks"));
  rows.push(h("div", { class: "row" }, h("span", { class: "ring", style: { borderColor: ORPHAN } }), "orphan: no backlinks"));
  rows.push(h("div", { class: "row" }, h("span", { class: "ring", style: { borderColor: SINGLE_SOURCE } }), "rests on a single source"));
  rows.push(h("div", { class: "row muted" }, "size: PageRank"));
  legend.replaceChildren(...rows);
}

export function restyle(): void {
  recolor(view.graph); // the attribute objects display shares: then tell sigma
  view.display.updateEachNodeAttributes((_id, attrs) => attrs, { attributes: ["color"] });
  renderLegend();
}
