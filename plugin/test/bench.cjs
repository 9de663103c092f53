// Save-to-pane latency: the built plugin (harness: mock Obsidian + happy-dom) with the
// backend it starts itself, on VAULT; each save appends a task to the open note, timed
// from the write to the task appearing in the note pane. Prints JSON. Run by
// scripts/bench_plugin.py, which sets VAULTSYNC_EXE, VAULT, VAULTSYNC_DB and BENCH_SAVES.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { obsidian, loadPlugin, paneText, until } = require("./harness.cjs");

const NOTE_PATH = process.env.BENCH_NOTE || "concepts/frontier-model-batch-training-boundary.md";
const SAVES = Number(process.env.BENCH_SAVES || 20);

async function main() {
  const { app, plugin } = await loadPlugin(process.env.VAULT, { executable: process.env.VAULTSYNC_EXE, startBackend: true });
  try {
    await until(() => plugin.connection.state.phase === "ready", "the backend", 300000);
    app.workspace.setActive(new obsidian.TFile(NOTE_PATH));
    const text = () => paneText(app, "vaultsync-note") ?? "";
    await until(() => text().includes("Seen in") || text().includes("Supports"), "the note pane");
    const file = path.join(process.env.VAULT, NOTE_PATH);
    const original = fs.readFileSync(file, "utf8");
    const times = [];
    try {
      for (let i = 0; i < SAVES; i++) {
        const marker = `bench task ${i} ${Date.now()}`;
        const started = performance.now();
        fs.writeFileSync(file, `${original}\n- [ ] ${marker}\n`);
        await until(() => text().includes(marker), `save ${i}`);
        times.push(performance.now() - started);
      }
    } finally {
      fs.writeFileSync(file, original);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    console.log(JSON.stringify({ saves: SAVES, median_ms: at(0.5), p95_ms: at(0.95), max_ms: sorted.at(-1), min_ms: sorted[0] }));
  } finally {
    plugin.unload();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
