// The panes: the active note's facts, a report, and the local graph. Each renders the
// connection's state when there is no backend to ask, once, as one message.
import { ItemView, TFile, type WorkspaceLeaf } from "obsidian";
import type { Client, Graph, Page, ReportRow } from "./backend";
import type { Connection } from "./connection";
import { clear, el, link, plural } from "./dom";
import { summarize } from "./summary";

export const NOTE_VIEW = "vaultsync-note";
export const REPORT_VIEW = "vaultsync-report";
export const GRAPH_VIEW = "vaultsync-graph";

export interface Host {
  connection: Connection;
  /** Opens a vault path (at a 1-based line) in the editor. */
  openPath(path: string, line?: number): void;
  openLink(target: string): void;
  activePath(): string | null;
}

export const REPORTS: Record<string, string> = {
  central: "Central concepts",
  orphans: "Orphans",
  "single-source": "Single-source pages",
  unsourced: "Unsourced pages",
  wanted: "Wanted pages",
  "broken-anchors": "Broken anchors",
};

abstract class BackendView extends ItemView {
  protected body!: HTMLElement;
  private request: AbortController | null = null;

  constructor(leaf: WorkspaceLeaf, protected host: Host) {
    super(leaf);
  }

  async onOpen(): Promise<void> {
    const root = this.containerEl.children[1] as HTMLElement;
    clear(root);
    root.classList.add("vaultsync-pane");
    this.body = el(root, "div", "vaultsync-body");
    this.refresh();
  }

  async onClose(): Promise<void> {
    this.request?.abort();
  }

  /** Shows the connection's message, or asks the backend and renders the answer. */
  refresh(): void {
    if (!this.body) return;
    const { state } = this.host.connection;
    this.request?.abort();
    this.request = null;
    if (state.client === null) {
      this.showMessage(state.message, state.phase);
      return;
    }
    const request = new AbortController();
    this.request = request;
    this.show(state.client, request.signal).catch((err: unknown) => {
      if (request.signal.aborted) return;
      this.showMessage((err as Error).message || String(err), "error");
    });
  }

  protected showMessage(message: string, phase: string): void {
    clear(this.body);
    const box = el(this.body, "div", `vaultsync-message vaultsync-${phase}`, message);
    box.setAttribute("role", "status");
  }

  protected abstract show(client: Client, signal: AbortSignal): Promise<void>;

  /** What `load` answers for the active note, or null when there is no active note or
   * the mirror does not hold it yet (each said in the pane) or the request was dropped. */
  protected async forActiveNote<T>(signal: AbortSignal, noNote: string,
                                   load: (path: string) => Promise<T>): Promise<T | null> {
    const path = this.host.activePath();
    if (path === null) {
      this.showMessage(noNote, "idle");
      return null;
    }
    try {
      const value = await load(path);
      return signal.aborted ? null : value;
    } catch (err) {
      if ((err as { status?: number }).status === 404) {
        if (!signal.aborted) this.showMessage("This note is not in the mirror yet.", "idle");
        return null;
      }
      throw err;
    }
  }
}

export class NoteView extends BackendView {
  getViewType(): string {
    return NOTE_VIEW;
  }

  getDisplayText(): string {
    return "vaultsync";
  }

  getIcon(): string {
    return "network";
  }

  protected async show(client: Client, signal: AbortSignal): Promise<void> {
    const page = await this.forActiveNote(signal, "Open a note to see what vaultsync knows about it.",
      (path) => client.page(path, signal));
    if (page !== null) this.render(page);
  }

  private render(page: Page): void {
    const open = (path: string, line?: number) => () => this.host.openPath(path, line);
    clear(this.body);
    el(this.body, "div", "vaultsync-title", page.title);
    const summary = summarize(page);
    const badges = el(this.body, "div", "vaultsync-badges");
    el(badges, "span", "vaultsync-kind", summary.kind);
    el(badges, "span", "vaultsync-citation", summary.citation);
    if (summary.caveat) el(this.body, "div", "vaultsync-caveat", summary.caveat);

    const section = (title: string, count?: number): HTMLElement => {
      el(this.body, "h4", "vaultsync-section", count === undefined ? title : `${title} (${count})`);
      return el(this.body, "ul", "vaultsync-list");
    };
    if (page.is_source) {
      const list = section("Supports", page.citations.cited_by.length);
      for (const ref of page.citations.cited_by) link(el(list, "li"), ref.title, open(ref.path), ref.path);
    } else {
      const list = section("Seen in", page.citations.sources.length);
      for (const ref of page.citations.sources) link(el(list, "li"), ref.title, open(ref.path), ref.path);
      if (!page.citations.sources.length) el(list, "li", "vaultsync-empty", "No source page links here or is linked from here.");
    }

    const m = page.metrics;
    const facts = el(this.body, "div", "vaultsync-facts");
    el(facts, "div", "vaultsync-rank", m.pagerank_rank === null
      ? "PageRank: not computed yet"
      : `PageRank: #${m.pagerank_rank} of ${m.pages_ranked} pages`);
    el(facts, "div", "vaultsync-community", m.community_name === null
      ? "Community: none"
      : `Community: ${m.community_name}`);

    const backlinks = section("Backlinks", page.backlinks.length);
    for (const b of page.backlinks) link(el(backlinks, "li"), b.title, open(b.path, b.line ?? undefined), b.line === null ? b.path : `${b.path}:${b.line}`);

    if (page.broken_anchors.length) {
      const list = section("Broken anchors", page.broken_anchors.length);
      for (const b of page.broken_anchors) {
        link(el(list, "li"), `line ${b.line}: ${b.target}#${b.anchor}`, open(page.path, b.line));
      }
    }
    if (page.tasks.length) {
      const list = section("Open tasks", page.tasks.length);
      for (const t of page.tasks) link(el(list, "li"), `line ${t.line}: ${t.text}`, open(page.path, t.line));
    }
  }
}

export class ReportView extends BackendView {
  report = "central";

  getViewType(): string {
    return REPORT_VIEW;
  }

  getDisplayText(): string {
    return `vaultsync: ${REPORTS[this.report] ?? this.report}`;
  }

  getIcon(): string {
    return "list";
  }

  getState(): Record<string, unknown> {
    return { report: this.report };
  }

  async setState(state: unknown, result: unknown): Promise<void> {
    const report = (state as { report?: unknown } | null)?.report;
    if (typeof report === "string") this.report = report;
    await super.setState(state, result as never);
    this.refresh();
  }

  protected async show(client: Client, signal: AbortSignal): Promise<void> {
    const rows = await client.report(this.report, signal);
    if (signal.aborted) return;
    clear(this.body);
    el(this.body, "div", "vaultsync-title", `${REPORTS[this.report] ?? this.report} (${plural(rows.length, "page")})`);
    const list = el(this.body, "ol", "vaultsync-list vaultsync-report");
    for (const row of rows) this.row(el(list, "li"), row);
    if (!rows.length) el(this.body, "div", "vaultsync-empty", "Nothing to report.");
  }

  private row(item: HTMLElement, row: ReportRow): void {
    const path = row.path;
    if (path === undefined) {
      // wanted: a page that does not exist yet; opening the link creates it, as in Obsidian
      link(item, row.title, () => this.host.openLink(row.target ?? row.title));
    } else {
      link(item, row.title, () => this.host.openPath(path, row.line), path);
    }
    const extra: string[] = [];
    if (row.line !== undefined) extra.push(`line ${row.line}: ${String(row["target"] ?? "")}#${row.anchor ?? ""}`);
    if (typeof row.pagerank === "number") extra.push(`PageRank ${row.pagerank.toPrecision(3)}`);
    if (typeof row.citation_count === "number" && this.report === "central") extra.push(plural(row.citation_count, "source"));
    if (row.source_title !== undefined) extra.push(`only source: ${row.source_title}`);
    if (typeof row["links"] === "number") extra.push(plural(row["links"] as number, "link"));
    if (extra.length) el(item, "span", "vaultsync-extra", ` — ${extra.join(", ")}`);
  }
}

const SVG = "http://www.w3.org/2000/svg";

export class GraphView extends BackendView {
  getViewType(): string {
    return GRAPH_VIEW;
  }

  getDisplayText(): string {
    return "vaultsync graph";
  }

  getIcon(): string {
    return "git-fork";
  }

  protected async show(client: Client, signal: AbortSignal): Promise<void> {
    const graph = await this.forActiveNote(signal, "Open a note to see its neighbourhood.",
      (path) => client.localGraph(path, signal));
    if (graph !== null) this.draw(graph);
  }

  /** The note in the middle, its neighbours on a circle, sized by PageRank. */
  private draw(graph: Graph): void {
    clear(this.body);
    const doc = this.body.ownerDocument;
    const size = 320;
    const svg = doc.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
    svg.setAttribute("class", "vaultsync-graph");
    this.body.appendChild(svg);
    const pages = graph.nodes.filter((n) => n.type === "page");
    const center = pages.find((n) => n.center) ?? pages[0];
    if (!center) return;
    const others = pages.filter((n) => n !== center);
    const at = new Map<string, [number, number]>([[center.id, [size / 2, size / 2]]]);
    others.forEach((n, i) => {
      const angle = (2 * Math.PI * i) / Math.max(others.length, 1) - Math.PI / 2;
      at.set(n.id, [size / 2 + 120 * Math.cos(angle), size / 2 + 120 * Math.sin(angle)]);
    });
    for (const l of graph.links) {
      const a = at.get(l.source);
      const b = at.get(l.target);
      if (!a || !b) continue;
      const line = doc.createElementNS(SVG, "line");
      line.setAttribute("x1", String(a[0]));
      line.setAttribute("y1", String(a[1]));
      line.setAttribute("x2", String(b[0]));
      line.setAttribute("y2", String(b[1]));
      line.setAttribute("class", "vaultsync-edge");
      svg.appendChild(line);
    }
    const top = Math.max(...pages.map((n) => n.pagerank ?? 0), 1e-9);
    for (const n of [center, ...others]) {
      const [x, y] = at.get(n.id) as [number, number];
      const group = doc.createElementNS(SVG, "g");
      group.setAttribute("class", `vaultsync-node${n === center ? " is-center" : ""}${n.is_source ? " is-source" : ""}`);
      group.setAttribute("data-path", n.id);
      const circle = doc.createElementNS(SVG, "circle");
      circle.setAttribute("cx", String(x));
      circle.setAttribute("cy", String(y));
      circle.setAttribute("r", String(4 + 8 * Math.sqrt((n.pagerank ?? 0) / top)));
      const label = doc.createElementNS(SVG, "text");
      label.setAttribute("x", String(x));
      label.setAttribute("y", String(y + 22));
      label.setAttribute("text-anchor", "middle");
      label.textContent = n.title;
      group.append(circle, label);
      group.addEventListener("click", () => this.host.openPath(n.id));
      svg.appendChild(group);
    }
  }
}

export function isMarkdown(file: unknown): file is TFile {
  return file instanceof TFile && file.extension === "md";
}
