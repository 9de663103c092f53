// The vaultsync Obsidian plugin: what vaultsync's graph knows, beside the note.
import { FileSystemAdapter, Plugin, PluginSettingTab, Setting, TFile, type App, type WorkspaceLeaf } from "obsidian";
import { Connection, DEFAULT_SETTINGS, type Settings } from "./connection";
import { summarize } from "./summary";
import { GRAPH_VIEW, GraphView, NOTE_VIEW, NoteView, REPORT_VIEW, REPORTS, ReportView, isMarkdown, type Host } from "./views";

export default class VaultsyncPlugin extends Plugin implements Host {
  settings: Settings = { ...DEFAULT_SETTINGS };
  connection!: Connection;
  private statusBar!: HTMLElement;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private statusRequest: AbortController | null = null;

  async onload(): Promise<void> {
    this.settings = { ...DEFAULT_SETTINGS, ...((await this.loadData()) as Partial<Settings> | null) };
    const adapter = this.app.vault.adapter;
    const vault = adapter instanceof FileSystemAdapter ? adapter.getBasePath() : "";
    this.connection = new Connection(vault, () => this.settings);
    this.register(() => this.connection.close());
    // Quitting Obsidian may not unload plugins: the backend it started stops either way.
    this.registerDomEvent(window, "beforeunload", () => this.connection.close());
    this.register(() => {
      if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
      this.statusRequest?.abort();
    });

    this.registerView(NOTE_VIEW, (leaf) => new NoteView(leaf, this));
    this.registerView(REPORT_VIEW, (leaf) => new ReportView(leaf, this));
    this.registerView(GRAPH_VIEW, (leaf) => new GraphView(leaf, this));
    this.statusBar = this.addStatusBarItem();
    this.statusBar.addClass("vaultsync-status");

    this.addRibbonIcon("network", "vaultsync: open the note pane", () => void this.openSide(NOTE_VIEW));
    this.addCommand({ id: "open-note-pane", name: "Open the note pane", callback: () => void this.openSide(NOTE_VIEW) });
    this.addCommand({ id: "open-graph-pane", name: "Open the local graph", callback: () => void this.openSide(GRAPH_VIEW) });
    for (const [report, name] of Object.entries(REPORTS)) {
      this.addCommand({ id: `report-${report}`, name: `Report: ${name}`, callback: () => void this.openReport(report) });
    }
    this.addCommand({ id: "reconnect", name: "Reconnect to the backend", callback: () => this.connection.reconnect() });
    this.addSettingTab(new VaultsyncSettings(this.app, this));

    this.connection.onState(() => this.refreshAll());
    this.connection.onChange(() => this.scheduleRefresh());
    this.registerEvent(this.app.workspace.on("file-open", () => this.refreshFollowing()));
    this.app.workspace.onLayoutReady(() => {
      this.connection.start();
      if (!this.app.workspace.getLeavesOfType(NOTE_VIEW).length) void this.openSide(NOTE_VIEW, false);
      this.refreshAll();
    });
  }

  activePath(): string | null {
    const file = this.app.workspace.getActiveFile();
    return isMarkdown(file) ? file.path : null;
  }

  openPath(path: string, line?: number): void {
    const file = this.app.vault.getAbstractFileByPath(path);
    if (!(file instanceof TFile)) return;
    const leaf = this.app.workspace.getLeaf(false);
    void leaf.openFile(file, line === undefined ? undefined : { eState: { line: line - 1 } });
  }

  openLink(target: string): void {
    void this.app.workspace.openLinkText(target, "", false);
  }

  private async openSide(type: string, reveal = true): Promise<void> {
    const existing = this.app.workspace.getLeavesOfType(type)[0];
    const leaf = existing ?? this.app.workspace.getRightLeaf(false);
    if (!leaf) return;
    if (!existing) await leaf.setViewState({ type, active: reveal });
    if (reveal) void this.app.workspace.revealLeaf(leaf);
  }

  private async openReport(report: string): Promise<void> {
    const leaf: WorkspaceLeaf = this.app.workspace.getLeaf("tab");
    await leaf.setViewState({ type: REPORT_VIEW, active: true, state: { report } });
  }

  /** Many changes in a burst refresh once. */
  private scheduleRefresh(): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refreshAll();
    }, 100);
  }

  private refreshFollowing(): void {
    for (const type of [NOTE_VIEW, GRAPH_VIEW]) {
      for (const leaf of this.app.workspace.getLeavesOfType(type)) (leaf.view as NoteView | GraphView).refresh();
    }
    this.refreshStatusBar();
  }

  private refreshAll(): void {
    for (const leaf of this.app.workspace.getLeavesOfType(REPORT_VIEW)) (leaf.view as ReportView).refresh();
    this.refreshFollowing();
  }

  /** The badge line in the status bar: kind and citations, or the connection's phase. */
  private refreshStatusBar(): void {
    this.statusRequest?.abort();
    const { client, phase } = this.connection.state;
    const path = this.activePath();
    if (client === null) {
      this.statusBar.setText(phase === "starting" ? "vaultsync: starting" : phase === "syncing" ? "vaultsync: syncing" : "vaultsync: offline");
      return;
    }
    if (path === null) {
      this.statusBar.setText("");
      return;
    }
    const request = new AbortController();
    this.statusRequest = request;
    client.page(path, request.signal).then((page) => {
      const s = summarize(page);
      this.statusBar.setText(`${s.kind} · ${s.citation}`);
    }, () => {
      if (!request.signal.aborted) this.statusBar.setText("");
    });
  }

  async saveSettings(): Promise<void> {
    await this.saveData(this.settings);
    this.connection.reconnect();
  }
}

class VaultsyncSettings extends PluginSettingTab {
  constructor(app: App, private plugin: VaultsyncPlugin) {
    super(app, plugin);
  }

  display(): void {
    const { containerEl } = this;
    containerEl.empty();
    new Setting(containerEl)
      .setName("vaultsync executable")
      .setDesc("The vaultsync command, or its full path (e.g. ~/.local/bin/vaultsync).")
      .addText((text) => text.setValue(this.plugin.settings.executable).onChange(async (value) => {
        this.plugin.settings.executable = value.trim() || DEFAULT_SETTINGS.executable;
        await this.plugin.saveSettings();
      }));
    new Setting(containerEl)
      .setName("Start the backend")
      .setDesc("When no `vaultsync serve` of this vault is running, start one (stopped when Obsidian closes).")
      .addToggle((toggle) => toggle.setValue(this.plugin.settings.startBackend).onChange(async (value) => {
        this.plugin.settings.startBackend = value;
        await this.plugin.saveSettings();
      }));
  }
}
