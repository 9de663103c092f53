// Loads the built plugin (manifest.json + main.js from PLUGIN_DIR, by default the copy in
// the Python package) into the `obsidian` mock and a happy-dom document.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const Module = require("node:module");
const { Window } = require("happy-dom");

const window = new Window({ url: "app://obsidian.md/index.html" });
globalThis.window = window;
globalThis.document = window.document;
// Obsidian adds these to every element; the plugin uses a few.
const proto = window.HTMLElement.prototype;
proto.addClass = function (...c) { this.classList.add(...c); };
proto.setText = function (t) { this.textContent = t; };
proto.empty = function () { while (this.firstChild) this.removeChild(this.firstChild); };

// As in Obsidian, every request the plugin makes comes from app://obsidian.md, and a
// response without a matching Access-Control-Allow-Origin is unreadable (a browser
// would throw the same TypeError).
const nodeFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("Origin", "app://obsidian.md");
  const response = await nodeFetch(url, { ...init, headers });
  if (response.headers.get("access-control-allow-origin") !== "app://obsidian.md") {
    throw new TypeError(`CORS: ${url} does not allow app://obsidian.md`);
  }
  return response;
};

const mockPath = path.join(__dirname, "obsidian-mock.cjs");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "obsidian" ? mockPath : resolve.call(this, request, ...rest);
};
const obsidian = require("obsidian");

const REPO = path.resolve(__dirname, "..", "..");
const PLUGIN_DIR = process.env.PLUGIN_DIR || path.join(REPO, "vaultsync", "obsidian_plugin");

/** A new Obsidian app on `vault` with the plugin loaded and the layout ready. */
async function loadPlugin(vault, settings) {
  const manifest = JSON.parse(fs.readFileSync(path.join(PLUGIN_DIR, "manifest.json"), "utf8"));
  const exported = require(path.join(PLUGIN_DIR, "main.js"));
  const PluginClass = exported.default ?? exported;
  const app = new obsidian.App(vault);
  app.data = settings ?? null;
  const plugin = new PluginClass(app, manifest);
  await plugin.load();
  app.layoutReady();
  return { app, plugin, manifest };
}

function paneText(app, type) {
  const leaf = app.workspace.getLeavesOfType(type)[0];
  return leaf ? leaf.view.containerEl.textContent : null;
}

function pane(app, type) {
  const leaf = app.workspace.getLeavesOfType(type)[0];
  return leaf ? leaf.view.containerEl : null;
}

/** Waits, bounded, until `check()` returns something truthy; fails with `what`. */
async function until(check, what, timeoutMs = Number(process.env.WAIT_MS || 30000)) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = { nodeFetch, obsidian, loadPlugin, paneText, pane, until, window, PLUGIN_DIR, REPO };
