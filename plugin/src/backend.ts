// Finding, starting and talking to the `vaultsync serve` of the open vault.
//
// `vaultsync where VAULT --json` names the files a running server of that vault writes:
// its address ({"url", "pid"}) and its token, both mode 0600 in the user's data folder,
// never in the vault. When no live server is found the plugin may start one it owns
// (`vaultsync serve VAULT --watch --port 0`) and stops it on unload.
import { spawn, execFile, type ChildProcess } from "child_process";
import { promises as fs } from "fs";
import { createParser } from "eventsource-parser";
import type { components } from "./api-types";

export type Page = components["schemas"]["Page"];
export type ReportRow = components["schemas"]["ReportRow"];
export type Graph = components["schemas"]["Graph"];
export type GraphNode = components["schemas"]["Node"];

export interface Located {
  vault: string;
  db: string;
  address_file: string;
  token_file: string;
}

export interface Address {
  url: string;
  token: string;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Runs `vaultsync where VAULT --json`; rejects with a sentence a user can act on. */
export function locate(executable: string, vault: string): Promise<Located> {
  return new Promise((resolve, reject) => {
    execFile(executable, ["where", vault, "--json"], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "EACCES") {
          reject(new Error(`vaultsync was not found at "${executable}". Install it ` +
            `(pip install vaultsync) or set its path in this plugin's settings.`));
        } else {
          reject(new Error(String(stderr || err.message).trim().split("\n").pop() ?? ""));
        }
        return;
      }
      try {
        resolve(JSON.parse(stdout) as Located);
      } catch {
        reject(new Error(`"${executable} where --json" did not print JSON; is it vaultsync?`));
      }
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The address and token of a live server of this mirror, or null. */
export async function readAddress(where: Located): Promise<Address | null> {
  let record: { url?: unknown; pid?: unknown };
  let token: string;
  try {
    record = JSON.parse(await fs.readFile(where.address_file, "utf8"));
    token = (await fs.readFile(where.token_file, "utf8")).trim();
  } catch {
    return null;
  }
  if (typeof record.url !== "string" || typeof record.pid !== "number" || !pidAlive(record.pid)) {
    return null;
  }
  return { url: record.url.replace(/\/$/, ""), token };
}

/** Starts `vaultsync serve VAULT --watch` on a free port, owned by the plugin. */
export function startServer(executable: string, vault: string): ChildProcess {
  return spawn(executable, ["serve", vault, "--watch", "--port", "0"], {
    stdio: ["ignore", "ignore", "pipe"],
    windowsHide: true,
  });
}

export class Client {
  constructor(readonly address: Address) {}

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    const request = () => fetch(this.address.url + path, {
      headers: { Authorization: `Bearer ${this.address.token}` },
      signal,
    });
    let response: Response;
    try {
      response = await request();
    } catch (err) {
      // A kept-alive connection the server closed as it was reused: GETs are safe to
      // send once more (browsers do the same).
      if (signal?.aborted) throw err;
      response = await request();
    }
    if (!response.ok) {
      let message = response.statusText;
      try {
        message = ((await response.json()) as { error?: string }).error ?? message;
      } catch {
        // not JSON: keep the status text
      }
      throw new HttpError(response.status, message);
    }
    return (await response.json()) as T;
  }

  page(path: string, signal?: AbortSignal): Promise<Page> {
    return this.get<Page>(`/api/pages/${path.split("/").map(encodeURIComponent).join("/")}`, signal);
  }

  report(name: string, signal?: AbortSignal): Promise<ReportRow[]> {
    return this.get<ReportRow[]>(`/api/reports/${encodeURIComponent(name)}`, signal);
  }

  localGraph(path: string, signal?: AbortSignal): Promise<Graph> {
    return this.get<Graph>(`/api/graph/local?depth=1&path=${encodeURIComponent(path)}`, signal);
  }

  /** Reads the event stream until it ends or `signal` aborts; calls `onEvent(type)`
   * for each event. Resolves when the stream ends (the server stopped). */
  async events(onOpen: () => void, onEvent: (type: string) => void, signal: AbortSignal): Promise<void> {
    const response = await fetch(this.address.url + "/api/events", {
      headers: { Authorization: `Bearer ${this.address.token}`, Accept: "text/event-stream" },
      signal,
    });
    if (!response.ok || !response.body) {
      throw new HttpError(response.status, response.statusText);
    }
    onOpen();
    const parser = createParser({ onEvent: (event) => onEvent(event.event ?? "message") });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  }
}
