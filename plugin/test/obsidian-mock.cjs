// A stand-in for Obsidian's `obsidian` module: just enough of the workspace, vault,
// views and plugin life cycle for the plugin to load, follow the active note and draw
// its panes into a happy-dom document. Records what the plugin asked Obsidian to do.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

class Events {
  constructor() { this._handlers = new Map(); }
  on(name, callback) {
    const list = this._handlers.get(name) ?? [];
    list.push(callback);
    this._handlers.set(name, list);
    return { events: this, name, callback };
  }
  offref(ref) {
    const list = this._handlers.get(ref.name) ?? [];
    this._handlers.set(ref.name, list.filter((c) => c !== ref.callback));
  }
  trigger(name, ...args) { for (const c of this._handlers.get(name) ?? []) c(...args); }
  count(name) { return (this._handlers.get(name) ?? []).length; }
}

class Component {
  constructor() { this._cleanups = []; this._loaded = false; }
  load() { this._loaded = true; return this.onload?.(); }
  unload() {
    this._loaded = false;
    for (const c of this._cleanups.splice(0).reverse()) c();
    this.onunload?.();
  }
  register(cb) { this._cleanups.push(cb); }
  registerEvent(ref) { this._cleanups.push(() => ref.events.offref(ref)); }
  registerInterval(id) { this._cleanups.push(() => clearInterval(id)); return id; }
  registerDomEvent(el, type, cb) { el.addEventListener(type, cb); this._cleanups.push(() => el.removeEventListener(type, cb)); }
}

class TAbstractFile {}
class TFile extends TAbstractFile {
  constructor(filePath) {
    super();
    this.path = filePath;
    this.name = path.posix.basename(filePath);
    this.extension = this.name.includes(".") ? this.name.split(".").pop() : "";
    this.basename = this.name.replace(/\.[^.]*$/, "");
  }
}

class FileSystemAdapter {
  constructor(base) { this.base = base; }
  getBasePath() { return this.base; }
}

class View extends Component {
  constructor(leaf) {
    super();
    this.leaf = leaf;
    this.app = leaf.app;
    const doc = globalThis.document;
    this.containerEl = doc.createElement("div");
    this.containerEl.appendChild(doc.createElement("div")).className = "view-header";
    this.containerEl.appendChild(doc.createElement("div")).className = "view-content";
  }
  getState() { return {}; }
  async setState() {}
}
class ItemView extends View {}

class WorkspaceLeaf {
  constructor(app, side) { this.app = app; this.side = side; this.view = null; }
  async setViewState({ type, state }) {
    if (this.view) { await this.view.onClose?.(); this.view.unload(); }
    const factory = this.app._viewFactories.get(type);
    if (!factory) throw new Error(`no view registered for ${type}`);
    this.view = factory(this);
    this.view.load();
    await this.view.onOpen?.();
    if (state) await this.view.setState(state, {});
  }
  async openFile(file, openState) {
    this.app.workspace.opened.push({ path: file.path, line: openState?.eState?.line });
    this.app.workspace.setActive(file);
  }
  async detach() {
    if (this.view) { await this.view.onClose?.(); this.view.unload(); }
    this.app.workspace.leaves = this.app.workspace.leaves.filter((l) => l !== this);
  }
}

class Workspace extends Events {
  constructor(app) {
    super();
    this.app = app;
    this.leaves = [];
    this.activeFile = null;
    this.opened = [];
    this.links = [];
    this._ready = [];
    this.layoutReady = false;
  }
  onLayoutReady(cb) { if (this.layoutReady) cb(); else this._ready.push(cb); }
  getActiveFile() { return this.activeFile; }
  setActive(file) { this.activeFile = file; this.trigger("file-open", file); }
  getLeavesOfType(type) { return this.leaves.filter((l) => l.view?.getViewType() === type); }
  getRightLeaf() { const leaf = new WorkspaceLeaf(this.app, "right"); this.leaves.push(leaf); return leaf; }
  getLeaf(newLeaf) {
    if (newLeaf) {
      const leaf = new WorkspaceLeaf(this.app, "main");
      this.leaves.push(leaf);
      return leaf;
    }
    if (!this._editor) {
      this._editor = new WorkspaceLeaf(this.app, "main");
      this.leaves.push(this._editor);
    }
    return this._editor;
  }
  async revealLeaf() {}
  async openLinkText(target, source) { this.links.push({ target, source }); }
  detachLeavesOfType(type) { for (const l of this.getLeavesOfType(type)) void l.detach(); }
}

class Vault extends Events {
  constructor(base) { super(); this.adapter = new FileSystemAdapter(base); }
  getName() { return path.basename(this.adapter.base); }
  getAbstractFileByPath(p) {
    return fs.existsSync(path.join(this.adapter.base, p)) ? new TFile(p) : null;
  }
}

class App {
  constructor(base) {
    this.vault = new Vault(base);
    this.workspace = new Workspace(this);
    this._viewFactories = new Map();
    this.commands = new Map();
    this.settingTabs = [];
    this.statusBar = globalThis.document.createElement("div");
    this.ribbon = [];
    this.data = null;
  }
  layoutReady() {
    this.workspace.layoutReady = true;
    for (const cb of this.workspace._ready.splice(0)) cb();
  }
}

class Plugin extends Component {
  constructor(app, manifest) { super(); this.app = app; this.manifest = manifest; }
  async loadData() { return this.app.data; }
  async saveData(data) { this.app.data = JSON.parse(JSON.stringify(data)); }
  addCommand(command) { this.app.commands.set(`${this.manifest.id}:${command.id}`, command); return command; }
  registerView(type, factory) {
    this.app._viewFactories.set(type, factory);
    this.register(() => { this.app.workspace.detachLeavesOfType(type); this.app._viewFactories.delete(type); });
  }
  addStatusBarItem() {
    const item = globalThis.document.createElement("div");
    this.app.statusBar.appendChild(item);
    this.register(() => item.remove());
    return item;
  }
  addRibbonIcon(icon, title, callback) {
    const item = globalThis.document.createElement("div");
    this.app.ribbon.push({ icon, title, callback });
    return item;
  }
  addSettingTab(tab) { this.app.settingTabs.push(tab); }
}

class PluginSettingTab {
  constructor(app, plugin) { this.app = app; this.plugin = plugin; this.containerEl = globalThis.document.createElement("div"); }
}

class Setting {
  constructor(containerEl) { this.settingEl = containerEl.appendChild(globalThis.document.createElement("div")); }
  setName(name) { this.name = name; return this; }
  setDesc(desc) { this.desc = desc; return this; }
  addText(cb) { const c = chainable(); cb(c); return this; }
  addToggle(cb) { const c = chainable(); cb(c); return this; }
}
function chainable() {
  const c = { setValue: () => c, onChange: () => c, setPlaceholder: () => c };
  return c;
}

class Notice {
  constructor(message) { Notice.shown.push(message); }
}
Notice.shown = [];

module.exports = {
  App, Component, Events, FileSystemAdapter, ItemView, Notice, Plugin, PluginSettingTab,
  Setting, TAbstractFile, TFile, View, Workspace, WorkspaceLeaf,
  setIcon() {},
};
