// The side panel: one page's metrics, sources, backlinks and links. Built with DOM calls
// and textContent only, so nothing from a note is ever parsed as HTML.

import type { Page } from "./types";

type Attrs = Record<string, unknown>;
type Child = Node | string | number | null | undefined | false | Child[];

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value as EventListener);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value); // CSSOM: allowed by the page's CSP
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of (children as unknown[]).flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Figures for people: whole numbers with thousands separators, others with 3
// significant digits (0.000123, 0.0456, 12.3), never 17 digits.
export function fmt(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  if (value === 0) return "0";
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return value.toFixed(Math.min(digits, 12));
}

function pageLink(path: string, title: string | null | undefined, onOpen: (path: string) => void): HTMLElement {
  return h("a", { href: "#", title: path, dataset: { path },
    onclick: (e: Event) => { e.preventDefault(); onOpen(path); } }, title || path);
}

function section(title: string, items: HTMLElement[], empty = "none"): HTMLElement[] {
  return [h("h3", {}, title), items.length ? h("ul", {}, items) : h("p", { class: "muted" }, empty)];
}

export interface PanelActions {
  onOpen: (path: string) => void;
  onLocal: (path: string) => void;
  onClose: () => void;
  communityName: (id: number) => string | null;
}

export function renderPanel(panel: HTMLElement, page: Page, ctx: PanelActions): void {
  const { onOpen, onLocal, onClose, communityName } = ctx;
  const m = page.metrics;
  const flags = [];
  if (m.orphan) flags.push(h("span", { class: "chip flag-orphan", title: "No other page links here" }, "orphan"));
  if (m.single_source) flags.push(h("span", { class: "chip flag-single", title: "Backed by one source only" }, "single source"));
  if (m.unsourced) flags.push(h("span", { class: "chip flag-unsourced", title: "Cites no source" }, "unsourced"));
  if (m.isolated) flags.push(h("span", { class: "chip flag-orphan" }, "isolated"));

  // Backlinks: one line per linking page, with how many links it has to this one.
  const byPath = new Map();
  for (const b of page.backlinks) {
    const entry = byPath.get(b.path) || { title: b.title, count: 0 };
    entry.count += 1;
    byPath.set(b.path, entry);
  }
  const backlinks = [...byPath.entries()].map(([path, b]) =>
    h("li", {}, pageLink(path, b.title, onOpen), b.count > 1 ? h("span", { class: "muted" }, ` ×${b.count}`) : null));

  const seen = new Set();
  const outgoing = [];
  for (const l of page.links) {
    const key = l.target_path || `?${l.target}`;
    if (seen.has(key) || !l.target) continue;
    seen.add(key);
    if (l.target_type === "page") outgoing.push(h("li", {}, pageLink(l.target_path || l.target, l.target_title, onOpen)));
    else if (l.target_type === "attachment") outgoing.push(h("li", { class: "muted" }, l.target_path));
    else outgoing.push(h("li", { class: "unresolved", title: "No such page yet" }, l.target));
  }
  const sources = page.citations.sources.map((s) => h("li", {}, pageLink(s.path, s.title, onOpen)));
  const citedBy = page.citations.cited_by.map((s) => h("li", {}, pageLink(s.path, s.title, onOpen)));

  // PageRank as a rank first ("#3 of 10,000 pages"): its raw value means little to
  // people. A rank says what it ranks among, as the API does.
  const rank = m.pagerank_rank ? `#${fmt(m.pagerank_rank)} of ${fmt(m.pages_ranked)} ${m.rank_among}` : "—";
  // The page's place in the `central` report, which ranks the non-source pages.
  const central = m.central_rank ? `#${fmt(m.central_rank)} of ${fmt(m.central_ranked)} non-source pages` : "—";
  const community = m.community === null || m.community === undefined ? "—"
    : m.community_name || (communityName && communityName(m.community)) || "a page on its own";
  const rows = [
    ["PageRank", m.pagerank === null || m.pagerank === undefined ? "—" : `${rank} (${fmt(m.pagerank)})`],
    ["Central pages", central],
    ["Community", community],
    ["Backlinks (pages)", fmt(m.in_degree)],
    ["Outgoing (pages)", fmt(m.out_degree)],
    ["Betweenness", fmt(m.betweenness)],
    [page.is_source ? "Cited by" : "Sources", fmt(page.is_source ? page.citations.cited_by.length : page.citations.sources.length)],
  ];

  panel.replaceChildren(
    h("button", { class: "close", type: "button", title: "Close", "aria-label": "Close", onclick: onClose }, "×"),
    h("h2", { id: "panel-title" }, page.title),
    h("div", { class: "path" }, page.path),
    h("div", { class: "chips" },
      page.kind ? h("span", { class: "chip kind" }, page.kind) : null,
      ...page.tags.map((t) => h("span", { class: "chip" }, `#${t}`)),
      ...flags),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "panel-local", onclick: () => onLocal(page.path) }, "Local graph")),
    // (replaceChildren would write a null out as the text "null")
    ...(page.excerpt ? [h("p", { class: "excerpt" }, page.excerpt)] : []),
    h("h3", {}, "Metrics"),
    h("table", { class: "metrics" }, h("tbody", {}, ...rows.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))))),
    ...(page.is_source ? section("Cited by", citedBy) : section("Sources", sources, "no sources cited")),
    ...section(`Backlinks (${byPath.size})`, backlinks, "no backlinks"),
    ...section(`Links (${outgoing.length})`, outgoing, "no links"),
  );
  panel.dataset.path = page.path;
  panel.hidden = false;
}

export function renderPanelMessage(panel: HTMLElement, title: string, text: string, onClose: () => void): void {
  panel.replaceChildren(
    h("button", { class: "close", type: "button", title: "Close", onclick: onClose }, "×"),
    h("h2", { id: "panel-title" }, title),
    h("p", { class: "muted" }, text),
  );
  panel.hidden = false;
}
