// The vaultsync graph view: sigma.js (WebGL) over a graphology graph, kept live by
// /api/events. The server sends the graph in its compact form with positions it laid
// out once per graph structure, communities as clusters, so the view paints at once and
// keeps that picture: pages with a stored position stay where the server put them, and
// ForceAtlas2 (in a web worker) places only what has none (new pages, tags, local
// graphs). Every switch of mode, depth, direction or filter builds a new graph
// off-screen and hands it to sigma in one step (sigma re-indexes the whole graph on each
// node dropped while it listens, so node-by-node changes freeze the tab).
//
// The modules share one state object (state.ts): build.ts (answer → graph), draw.ts
// (what sigma draws, focus, camera), layout.ts, load.ts, pages.ts (selection, panel,
// modes, the address), legend.ts (header and legend), search.ts, live.ts (events),
// controls.ts, renderer.ts (sigma and labels).

import { Api, ApiError, findToken } from "./api";
import { decode } from "./build";
import { setupControls } from "./controls";
import { frameCamera, refocus, setCollapse } from "./draw";
import { runLayout, stopLayout } from "./layout";
import { MAX_NODES, applyData, load, loadCounts } from "./load";
import { enterLocal, exitLocal, fromAddress, selectPage, setModeButtons } from "./pages";
import { createRenderer } from "./renderer";
import { connectEvents } from "./live";
import { setupSearch } from "./search";
import { $, input, setBodyData, showMessage, view } from "./state";
import type { GraphData } from "./types";

async function start(token: string): Promise<void> {
  const api = new Api(token);
  view.api = api;
  let data: GraphData;
  try {
    data = decode(await api.graph({ limit: MAX_NODES }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionStorage.removeItem("vaultsync-token");
      askToken("That token was refused.");
      return;
    }
    showMessage(`Cannot load the graph: ${(err as Error).message}`);
    setBodyData({ ready: "error" });
    return;
  }
  setupControls();
  setupSearch();
  setModeButtons();
  createRenderer(data.nodes.length);
  const counts = loadCounts();
  await applyData(data, { frame: true });
  await counts;
  connectEvents();
  const clearSelection = () => {
    view.selected = null;
    view.hovered = null;
    refocus();
  };
  // For scripts and tests (the browser test reads the graph through this).
  Object.assign(window, {
    vaultsyncView: {
      get graph() { return view.graph; }, get display() { return view.display; }, renderer: view.renderer,
      state: view, api, labels: view.labels, selectPage, enterLocal, exitLocal, load, runLayout,
      stopLayout, clearSelection, frameCamera, setCollapse,
    },
  });
  // A link into the view: the page it names, in the mode it asks for.
  const asked = fromAddress();
  if (asked.path) {
    if (asked.mode === "local") await enterLocal(asked.path);
    else await selectPage(asked.path, { focus: true });
  }
  setBodyData({ ready: "1" });
}

function askToken(why?: string): void {
  const form = $("token-form");
  form.hidden = false;
  if (why) showMessage(why);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const token = input("token-input").value.trim();
    if (!token) return;
    sessionStorage.setItem("vaultsync-token", token);
    form.hidden = true;
    showMessage("");
    start(token);
  }, { once: true });
}

const token = findToken();
if (token) start(token);
else askToken();
