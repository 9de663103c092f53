// Live updates over /api/events: a batch of changes or new metrics reloads the graph
// (pages that changed flash for a moment), the open panel and the header's counts.

import { load, loadCounts } from "./load";
import { openPanel } from "./pages";
import { $, api, renderer, setBodyData, view } from "./state";

export function scheduleRefresh(): void {
  if (view.globalCache) view.globalCache.stale = true;
  clearTimeout(view.refreshTimer);
  view.refreshTimer = setTimeout(async () => {
    const changed = new Set(view.pendingChanged);
    view.pendingChanged.clear();
    // Pages that changed are highlighted for a moment (set first: the rebuild draws them).
    const until = performance.now() + 2500;
    for (const id of changed) view.flash.set(id, until);
    try {
      await Promise.all([load({ frame: false }), loadCounts()]);
    } catch (_) {
      return;
    }
    if (changed.size) setTimeout(() => renderer().refresh({ skipIndexation: true }), 2600);
    if (view.panelPath && changed.has(view.panelPath)) await openPanel(view.panelPath);
    view.refreshes += 1;
    setBodyData({ refreshes: view.refreshes, lastBatch: view.lastBatch });
  }, 200);
}

export function connectEvents(): void {
  const live = $("live");
  // Green only while a daemon keeps the mirror live: the stream says so on connecting
  // (hello) and whenever it changes (live); a connected stream alone is not enough.
  const setLive = (on: boolean) => {
    live.className = on ? "live on" : "live off";
    live.title = on
      ? "Live: a vaultsync daemon keeps the mirror current"
      : "Not live: nothing keeps the mirror current (run `vaultsync watch`, or serve --watch)";
    setBodyData({ live: on ? "on" : "off" });
  };
  api().events({
    error: () => {
      live.className = "live retry";
      live.title = "Reconnecting…";
      setBodyData({ live: "retry" });
    },
    live: (data) => setLive(Boolean(data.live)),
    hello: (hello) => {
      setLive(Boolean(hello.live));
      // Metrics may have landed between loading the graph and connecting: catch up.
      const m = view.data && view.data.meta ? view.data.meta.metrics : null;
      if (m && (!m.fresh || !m.heavy_fresh || m.computed_at !== hello.metrics_computed_at
                || m.heavy_computed_at !== hello.heavy_computed_at)) scheduleRefresh();
    },
    batch: (batch) => {
      view.lastBatch = batch.id;
      for (const p of batch.changed) view.pendingChanged.add(p);
      for (const p of batch.removed) view.pendingChanged.add(p);
      scheduleRefresh();
    },
    metrics: () => scheduleRefresh(),
  });
}
