// The built plugin in a mock Obsidian against a real `vaultsync serve` of a copy of the
// sample vault. Run by tests/test_plugin.py, which sets VAULTSYNC_EXE (the vaultsync
// command), VAULT (a copy of the sample vault) and VAULTSYNC_DB (its mirror, in a
// temporary folder); PLUGIN_DIR picks the plugin folder to load (default: the package's).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { spawn, execFileSync } = require("node:child_process");
const { nodeFetch, obsidian, loadPlugin, pane, paneText, until, window } = require("./harness.cjs");

const EXE = process.env.VAULTSYNC_EXE;
const VAULT = process.env.VAULT;
const skip = !EXE || !VAULT ? "needs VAULTSYNC_EXE and VAULT (run through tests/test_plugin.py)" : false;

const SINGLE = "concepts/frontier-model-batch-training-boundary.md";
const NOTE = "vaultsync-note";

let located = null;
const where = () => (located ??= JSON.parse(execFileSync(EXE, ["where", VAULT, "--json"], { encoding: "utf8" })));
const address = () => {
  try {
    return JSON.parse(fs.readFileSync(where().address_file, "utf8"));
  } catch {
    return null;
  }
};
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};
/** Loads the plugin and unloads it when the test ends, passed or failed. */
async function loaded(t, settings) {
  const loadedPlugin = await loadPlugin(VAULT, settings);
  let unloaded = false;
  const unload = () => {
    if (!unloaded) loadedPlugin.plugin.unload();
    unloaded = true;
  };
  t.after(unload);
  return { ...loadedPlugin, unload };
}

async function api(pathAndQuery) {
  const w = where();
  const { url } = JSON.parse(fs.readFileSync(w.address_file, "utf8"));
  const token = fs.readFileSync(w.token_file, "utf8").trim();
  const request = () => nodeFetch(url.replace(/\/$/, "") + pathAndQuery, { headers: { Authorization: `Bearer ${token}` } });
  // A kept-alive connection the server closed just as it was reused fails once.
  const response = await request().catch(request);
  assert.equal(response.status, 200, pathAndQuery);
  return response.json();
}
// Every file under `dir` whose bytes hold `text`. A file that goes while it is read (a
// settings file saved by replacing it) holds nothing: grep -r would fail on it instead.
const filesHolding = (dir, text) => fs.readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
  .filter((file) => {
    try {
      return fs.readFileSync(file).includes(text);
    } catch (error) {
      if (error.code === "ENOENT") return false;
      throw error;
    }
  });
const report = (name) => JSON.parse(execFileSync(EXE, ["report", name, VAULT, "--format", "json"], { encoding: "utf8" }));
const messages = (app) => pane(app, NOTE).querySelectorAll(".vaultsync-message");

// Console errors or warnings from the plugin fail the run (a pane says things once, the
// console never).
const consoleNoise = [];
for (const level of ["error", "warn"]) {
  const original = console[level];
  console[level] = (...args) => { consoleNoise.push(args.join(" ")); original(...args); };
}
test.after(() => assert.deepEqual(consoleNoise, []));

function open(app, filePath) {
  app.workspace.setActive(new obsidian.TFile(filePath));
}

test("without vaultsync the pane says where to set its path, once", { skip }, async (t) => {
  const { app } = await loaded(t, { executable: "/nonexistent/vaultsync", startBackend: true });
  await until(() => paneText(app, NOTE)?.includes("vaultsync was not found at \"/nonexistent/vaultsync\""), "the not-found message");
  assert.equal(messages(app).length, 1);
  assert.equal(app.statusBar.textContent, "vaultsync: offline");
});

test("the plugin starts its own backend and shows what it knows about each note", { skip }, async (t) => {
  const running = address();
  assert.ok(running === null || !alive(running.pid), "no server of this mirror runs yet");
  const { app, plugin, unload } = await loaded(t, { executable: EXE, startBackend: true });
  const phases = [];
  plugin.connection.onState(() => phases.push(plugin.connection.state.phase));
  await until(() => paneText(app, NOTE)?.includes("Starting the vaultsync backend"), "the starting message");
  await until(() => plugin.connection.state.phase === "ready", "the backend to be ready", 120000);
  assert.ok(phases.every((p) => p === "starting" || p === "ready"), phases.join(","));
  const server = address();
  assert.ok(server && alive(server.pid));
  // The token stays out of the vault.
  const token = fs.readFileSync(where().token_file, "utf8").trim();
  assert.deepEqual(filesHolding(VAULT, token), [], "the token is written nowhere in the vault");

  // A single-source concept: the badge line, the caveat, its one source.
  open(app, SINGLE);
  await until(() => paneText(app, NOTE)?.includes("Rests on a single source"), "the single-source caveat");
  // The metrics (PageRank, then communities) are computed after the first sync; the
  // pane redraws when each run commits.
  await until(async () => {
    const { metrics } = await api("/api/status");
    return metrics.fresh && metrics.heavy_fresh && !metrics.computing;
  }, "the metrics to be computed", 120000);
  const page = await api(`/api/pages/${SINGLE}`);
  await until(() => paneText(app, NOTE)?.includes(`Community: ${page.metrics.community_name}`), "the pane to show the computed metrics");
  const text = paneText(app, NOTE);
  assert.equal(page.citations.sources.length, 1);
  assert.match(text, /CONCEPT/);
  assert.match(text, /Cited by 1 source(?!s)/);
  assert.ok(text.includes(`Seen in (1)${page.citations.sources[0].title}`), text);
  const single = report("single-source").find((row) => row.path === SINGLE);
  assert.equal(single.source_title, page.citations.sources[0].title);
  assert.ok(text.includes(`PageRank: #${page.metrics.pagerank_rank} of ${page.metrics.pages_ranked} pages`), text);
  assert.ok(text.includes(`Community: ${page.metrics.community_name}`), text);
  for (const b of page.backlinks) assert.ok(text.includes(b.title));
  await until(() => app.statusBar.textContent === "CONCEPT · Cited by 1 source", "the status bar badge");
  if (process.env.PANE_HTML) fs.writeFileSync(process.env.PANE_HTML, pane(app, NOTE).outerHTML);

  // Every concept page: the report's citation count, the API's sources (all of them,
  // by title) and rank; the single-source caveat exactly on the single-source report's.
  const concepts = report("central").filter((row) => row.kind === "concept");
  const singles = new Set(report("single-source").map((row) => row.path));
  assert.ok(concepts.length >= 20 && concepts.some((row) => row.citation_count > 1));
  for (const row of concepts) {
    open(app, row.path);
    const full = await api(`/api/pages/${encodeURIComponent(row.path).replace(/%2F/g, "/")}`);
    const citation = row.citation_count === 0 ? "No source yet" : `Cited by ${row.citation_count} source${row.citation_count === 1 ? "" : "s"}`;
    await until(() => pane(app, NOTE).querySelector(".vaultsync-title")?.textContent === full.title &&
      pane(app, NOTE).querySelector(".vaultsync-citation")?.textContent === citation, `${row.path}: ${citation}`);
    const shown = [...pane(app, NOTE).querySelectorAll(".vaultsync-list")[0].querySelectorAll("li a")].map((a) => a.textContent);
    assert.deepEqual(shown, full.citations.sources.map((s) => s.title), row.path);
    assert.equal(full.citations.sources.length, row.citation_count, row.path);
    const text = paneText(app, NOTE);
    assert.ok(text.includes(`PageRank: #${full.metrics.pagerank_rank} of ${full.metrics.pages_ranked} pages`), row.path);
    assert.equal(text.includes("Rests on a single source"), singles.has(row.path), row.path);
  }

  // A click on a source opens it; a broken anchor opens its page at the line.
  open(app, SINGLE);
  await until(() => paneText(app, NOTE)?.includes("Rests on a single source"), "the single-source page again");
  pane(app, NOTE).querySelector(".vaultsync-list a").click();
  assert.deepEqual(app.workspace.opened.at(-1), { path: page.citations.sources[0].path, line: undefined });
  const broken = report("broken-anchors")[0];
  open(app, broken.path);
  await until(() => paneText(app, NOTE)?.includes(`line ${broken.line}: ${broken.target}#${broken.anchor}`), "the broken anchor");
  const anchorLink = [...pane(app, NOTE).querySelectorAll("a")].find((a) => a.textContent.startsWith(`line ${broken.line}:`));
  anchorLink.click();
  assert.deepEqual(app.workspace.opened.at(-1), { path: broken.path, line: broken.line - 1 });

  // A save anywhere in the vault shows in the pane (via the event stream).
  const file = path.join(VAULT, SINGLE);
  open(app, SINGLE);
  await until(() => paneText(app, NOTE)?.includes("Rests on a single source"), "the single-source page");
  const before = fs.readFileSync(file, "utf8");
  const saved = Date.now();
  fs.writeFileSync(file, before + "\n- [ ] check the claim against a second source\n");
  await until(() => paneText(app, NOTE)?.includes("check the claim against a second source"), "the new task after a save");
  console.log(`# save-to-pane ms: ${Date.now() - saved}`);
  assert.ok(paneText(app, NOTE).includes("Open tasks (1)"));
  fs.writeFileSync(file, before);
  await until(() => !paneText(app, NOTE)?.includes("Open tasks"), "the task to go");

  // Reports open in a pane; a click opens the page.
  app.commands.get("vaultsync:report-single-source").callback();
  const rows = await api("/api/reports/single-source");
  await until(() => pane(app, "vaultsync-report")?.querySelectorAll("li").length === rows.length, "the report rows");
  assert.ok(paneText(app, "vaultsync-report").startsWith(`Single-source pages (${rows.length} pages)`));
  pane(app, "vaultsync-report").querySelector("li a").click();
  assert.equal(app.workspace.opened.at(-1).path, rows[0].path);

  // The graph follows the active note; a click on a node opens that note.
  open(app, SINGLE);
  app.commands.get("vaultsync:open-graph-pane").callback();
  const local = await api(`/api/graph/local?depth=1&path=${encodeURIComponent(SINGLE)}`);
  const pageNodes = local.nodes.filter((n) => n.type === "page");
  await until(() => pane(app, "vaultsync-graph")?.querySelectorAll("g.vaultsync-node").length === pageNodes.length, "the local graph");
  assert.equal(pane(app, "vaultsync-graph").querySelector("g.is-center").getAttribute("data-path"), SINGLE);
  const other = pane(app, "vaultsync-graph").querySelector("g.vaultsync-node:not(.is-center)");
  const otherPath = other.getAttribute("data-path");
  other.dispatchEvent(new window.MouseEvent("click"));
  assert.equal(app.workspace.opened.at(-1).path, otherPath);
  await until(() => pane(app, "vaultsync-graph").querySelector("g.is-center")?.getAttribute("data-path") === otherPath, "the graph to follow");

  // Unloading stops the backend the plugin started.
  unload();
  await until(() => !alive(server.pid), "the plugin's backend to stop");
  assert.equal(app.workspace.count("file-open"), 0, "every listener is removed");
});

test("a backend someone else runs: stopped once, recovers, refused token", { skip }, async (t) => {
  const { app, plugin } = await loaded(t, { executable: EXE, startBackend: false });
  await until(() => paneText(app, NOTE)?.includes("No vaultsync backend is running for this vault. Start one with vaultsync serve"), "the no-backend message");
  const serve = () => {
    const child = spawn(EXE, ["serve", VAULT, "--watch", "--port", "0"], { stdio: "ignore" });
    return child;
  };
  let server = serve();
  t.after(() => server.kill("SIGINT"));
  open(app, SINGLE);
  await until(() => paneText(app, NOTE)?.includes("Rests on a single source"), "the page once the backend is up", 120000);
  const phases = [];
  plugin.connection.onState(() => phases.push(plugin.connection.state.phase));

  server.kill("SIGINT");
  await until(() => paneText(app, NOTE)?.includes("The vaultsync backend stopped. Start it again with vaultsync serve"), "the stopped message");
  assert.equal(messages(app).length, 1);
  server = serve();
  await until(() => paneText(app, NOTE)?.includes("Rests on a single source"), "recovery without reloading", 120000);
  assert.deepEqual(phases, ["stopped", "ready"]);

  // A token the server does not know.
  const tokenFile = where().token_file;
  const token = fs.readFileSync(tokenFile, "utf8");
  fs.writeFileSync(tokenFile, "not-the-token\n");
  try {
    app.commands.get("vaultsync:reconnect").callback();
    await until(() => paneText(app, NOTE)?.includes("refused the token"), "the refused-token message");
    assert.equal(messages(app).length, 1);
  } finally {
    fs.writeFileSync(tokenFile, token);
  }
  app.commands.get("vaultsync:reconnect").callback();
  await until(() => paneText(app, NOTE)?.includes("Rests on a single source"), "recovery with the right token");
  server.kill("SIGINT");
  await until(() => server.exitCode !== null || server.signalCode !== null, "the server to stop");
});
