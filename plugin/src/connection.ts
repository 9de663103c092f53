// One state object for the backend connection; the panes render whatever it says.
import type { ChildProcess } from "child_process";
import { Client, HttpError, locate, readAddress, startServer, type Located } from "./backend";

export type Phase = "locating" | "none" | "starting" | "syncing" | "ready" | "refused" | "stopped";

export interface ConnectionState {
  phase: Phase;
  /** One sentence for the pane: what is going on and what to do. */
  message: string;
  client: Client | null;
}

export interface Settings {
  executable: string;
  startBackend: boolean;
}

export const DEFAULT_SETTINGS: Settings = { executable: "vaultsync", startBackend: true };

const RETRY_MS = 1000;
const START_TIMEOUT_MS = 120_000;

export class Connection {
  state: ConnectionState = { phase: "locating", message: "Looking for the vaultsync backend…", client: null };
  private listeners = new Set<() => void>();
  private changeListeners = new Set<(type: string) => void>();
  private where: Located | null = null;
  private child: ChildProcess | null = null;
  private childError = "";
  private startedAt = 0;
  private stream: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private attempt: Promise<void> | null = null;

  constructor(private vault: string, private settings: () => Settings) {}

  /** Called on every state change. */
  onState(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when the mirror changed (a sync batch or new metrics). */
  onChange(listener: (type: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops everything this connection runs: the stream, the retry timer, its own server. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.stream?.abort();
    this.stream = null;
    if (this.child && this.child.exitCode === null) this.child.kill("SIGTERM");
    this.child = null;
    this.listeners.clear();
    this.changeListeners.clear();
  }

  private set(phase: Phase, message: string, client: Client | null = null): void {
    const changed = phase !== this.state.phase || message !== this.state.message ||
      client !== this.state.client;
    this.state = { phase, message, client };
    if (changed) for (const listener of this.listeners) listener();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempt ??= this.connect().finally(() => (this.attempt = null));
    }, ms);
  }

  private async connect(): Promise<void> {
    const settings = this.settings();
    try {
      this.where ??= await locate(settings.executable, this.vault);
    } catch (err) {
      this.set("none", (err as Error).message);
      return; // the settings tab calls reconnect() when the path changes
    }
    if (this.closed) return;
    const address = await readAddress(this.where);
    if (address === null) {
      this.noServer(settings);
      return;
    }
    const client = new Client(address);
    try {
      const status = await client.get<{ mirror: unknown; alive: boolean; last_batch: unknown }>("/api/status");
      if (this.closed) return;
      if (status.mirror === null) {
        this.set("syncing", "vaultsync is still syncing this vault; the panes fill in when it is done.", client);
        this.schedule(RETRY_MS);
        return;
      }
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) {
        this.set("refused", "The vaultsync backend refused the token. If its token was rotated " +
          "(vaultsync token --rotate), restart the backend.");
      } else {
        this.noServer(settings);
        return;
      }
      this.schedule(RETRY_MS * 5);
      return;
    }
    this.listen(client);
  }

  private noServer(settings: Settings): void {
    const command = `vaultsync serve "${this.vault}" --watch`;
    const wasUp = ["ready", "stopped"].includes(this.state.phase);
    if (this.child && this.child.exitCode === null) {
      this.set("starting", "Starting the vaultsync backend (the first sync of a large vault takes a while)…");
      if (Date.now() - this.startedAt > START_TIMEOUT_MS) {
        this.set("none", `The vaultsync backend did not start within ${START_TIMEOUT_MS / 1000} s. ` +
          `Try running ${command} in a terminal to see why.`);
        return;
      }
    } else if (settings.startBackend && (this.child === null || wasUp)) {
      this.child = startServer(settings.executable, this.vault);
      this.startedAt = Date.now();
      this.childError = "";
      this.child.stderr?.on("data", (chunk: Buffer) => {
        this.childError = (this.childError + chunk.toString()).slice(-2000);
      });
      this.child.on("error", () => undefined); // reported through the exit below
      this.set("starting", "Starting the vaultsync backend (the first sync of a large vault takes a while)…");
    } else if (wasUp) {
      this.set("stopped", `The vaultsync backend stopped. Start it again with ${command}; ` +
        "this pane reconnects by itself.");
    } else if (this.child) {
      const last = this.childError.trim().split("\n").pop() ?? "";
      this.set("none", `The vaultsync backend this plugin started has exited${last ? `: ${last}` : ""}. ` +
        `Run ${command} in a terminal to see why.`);
    } else {
      this.set("none", `No vaultsync backend is running for this vault. Start one with ${command}, ` +
        "or turn on \"Start the backend\" in this plugin's settings.");
    }
    this.schedule(this.state.phase === "starting" ? 250 : RETRY_MS);
  }

  private listen(client: Client): void {
    const stream = new AbortController();
    this.stream = stream;
    const opened = () => {
      this.set("ready", "", client);
    };
    client.events(opened, (type) => {
      for (const listener of this.changeListeners) listener(type);
    }, stream.signal).catch(() => undefined).finally(() => {
      if (this.closed || stream.signal.aborted) return;
      this.stream = null;
      const command = `vaultsync serve "${this.vault}" --watch`;
      this.set("stopped", `The vaultsync backend stopped. Start it again with ${command}; ` +
        "this pane reconnects by itself.");
      this.schedule(RETRY_MS);
    });
  }

  /** Forget what was found and look again (after a settings change). */
  reconnect(): void {
    this.where = null;
    this.stream?.abort();
    this.stream = null;
    this.schedule(0);
  }
}
