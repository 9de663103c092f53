// Selecting a page, its panel, the two modes, and the address: `?path=` names the page
// selected and `?mode=local` shows its local graph, so a link into the view opens a page
// (the Datasette page card links to `/?path=…`), and the address bar always links back
// to what is shown.

import { ApiError } from "./api";
import { focusCamera, refocus } from "./draw";
import { load, present, shownKey } from "./load";
import { renderPanel, renderPanelMessage } from "./panel";
import { $, api, communityName, setBodyData, view } from "./state";
import type { Mode } from "./types";

// The page and mode a link into the view asks for.
export function fromAddress(): { path: string | null; mode: Mode } {
  const params = new URLSearchParams(location.search);
  const path = params.get("path") || null;
  return { path, mode: path && params.get("mode") === "local" ? "local" : "global" };
}

// The address of what is shown (the token stays out of it: it lives in the page).
function writeAddress(): void {
  const params = new URLSearchParams(location.search);
  const path = view.mode === "local" ? view.center : view.panelPath;
  if (path) params.set("path", path);
  else params.delete("path");
  if (view.mode === "local") params.set("mode", "local");
  else params.delete("mode");
  const search = params.toString();
  const url = location.pathname + (search ? `?${search}` : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}

export async function openPanel(path: string): Promise<void> {
  const panel = $("panel");
  view.panelPath = path;
  setBodyData({ panel: path });
  writeAddress();
  const actions = {
    onOpen: (p: string) => { selectPage(p, { focus: true }); },
    onLocal: (p: string) => { enterLocal(p); },
    onClose: closePanel,
    communityName: (id: number) => communityName(id),
  };
  try {
    const page = await api().page(path);
    if (view.panelPath !== path) return;
    renderPanel(panel, page, actions);
    setPanelOpen(true);
  } catch (err) {
    if (view.panelPath !== path) return;
    if (err instanceof ApiError && err.status === 404) {
      renderPanelMessage(panel, path, "This page is not in the vault (any more).", closePanel);
    } else {
      renderPanelMessage(panel, path, `Cannot load the page: ${(err as Error).message}`, closePanel);
    }
    setPanelOpen(true);
  }
  setBodyData({ panelLoaded: path });
}

// The graph area makes room for the panel rather than hiding under it.
function setPanelOpen(open: boolean): void {
  if (document.body.classList.contains("panel-open") === open) return;
  document.body.classList.toggle("panel-open", open);
  if (view.renderer) {
    view.renderer.resize();
    view.renderer.refresh({ skipIndexation: true });
  }
}

export function closePanel(): void {
  setPanelOpen(false);
  $("panel").hidden = true;
  view.panelPath = null;
  view.selected = null;
  setBodyData({ panel: "", panelLoaded: "" });
  writeAddress();
  refocus();
}

export function showNodeInfo(id: string): void {
  const g = view.graph;
  const info = g.getNodeAttribute(id, "info");
  const from = g.inNeighbors(id).map((n) => g.getNodeAttribute(n, "label"));
  const whats: Record<string, string> = { unresolved: "A link to a page that does not exist yet.", attachment: "An attachment.", tag: "A tag." };
  const what = whats[info.type] || "";
  const shown = from.length > 30 ? `${from.slice(0, 30).join(", ")} and ${from.length - 30} more` : from.join(", ");
  renderPanelMessage($("panel"), info.title, `${what} Linked from: ${shown || "nothing shown"}.`, closePanel);
  setPanelOpen(true);
  view.panelPath = null;
}

export async function selectPage(path: string, { focus = true }: { focus?: boolean } = {}): Promise<void> {
  if (view.mode === "local" && !view.graph.hasNode(path)) {
    view.center = path;
    await load({ frame: true });
  }
  view.selected = view.graph.hasNode(path) ? path : null;
  ($("mode-local") as HTMLButtonElement).disabled = false;
  refocus();
  if (focus && view.selected) focusCamera(path);
  await openPanel(path);
}

// --- modes ------------------------------------------------------------------------------

export function setModeButtons(): void {
  const local = view.mode === "local";
  document.body.classList.toggle("mode-local", local);
  $("mode-global").classList.toggle("active", !local);
  $("mode-local").classList.toggle("active", local);
  $("mode-global").setAttribute("aria-pressed", String(!local));
  $("mode-local").setAttribute("aria-pressed", String(local));
}

export async function enterLocal(path?: string): Promise<void> {
  const center = path || view.selected || view.panelPath;
  if (!center) return;
  view.mode = "local";
  view.center = center;
  view.selected = center;
  setModeButtons();
  writeAddress();
  await load({ frame: true });
  if (view.panelPath !== center) openPanel(center);
}

export async function exitLocal(): Promise<void> {
  view.mode = "global";
  setModeButtons();
  writeAddress();
  const cache = view.globalCache;
  const key = shownKey();
  if (cache && cache.key === key && !cache.stale) {
    // The global graph as it was left: shown at once, framed whole.
    present(cache.data, cache.graph, cache.baseEdges, key, true);
    return;
  }
  await load({ frame: true });
}
